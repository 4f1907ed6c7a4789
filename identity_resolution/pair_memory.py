"""Scores of candidate pairs remembered between incremental runs, keyed by the records' cache ids.

With the model fixed, a pair of two records that did not change scores exactly as it did last time,
so an incremental run needs to compare only the pairs that touch a changed record. The memory keeps
every pair that scored at least `min_probability` (the pairs a resolution returns); a candidate pair
of two unchanged records that is not in it scored below that, and can neither link records, nor
sit in the review band, nor be returned — so it is skipped without being compared.

That inference holds only while the memory is `complete`: seeded from a resolution's full list of
pairs, and given every pair an incremental run scores afterwards. Pairs of records that were
removed stay behind unused (their cache ids are never reused).
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def pair_keys(sid_l: np.ndarray, sid_r: np.ndarray) -> np.ndarray:
    """One int64 per unordered pair of cache ids (ids stay below 2**31)."""
    lo, hi = np.minimum(sid_l, sid_r).astype(np.int64), np.maximum(sid_l, sid_r).astype(np.int64)
    return (lo << 32) | hi


class PairMemory:
    def __init__(self, min_probability: float = 0.0, complete: bool = False) -> None:
        self.min_probability = min_probability
        self.complete = complete
        self.keys = np.zeros(0, dtype=np.int64)  # sorted
        self.gamma_columns: list[str] = []
        self.gammas = np.zeros((0, 0), dtype=np.int8)
        self.weight = np.zeros(0)
        self.prob = np.zeros(0)

    def __len__(self) -> int:
        return len(self.keys)

    def remember(self, sid_l: np.ndarray, sid_r: np.ndarray, gammas: pd.DataFrame, weight: np.ndarray,
                 prob: np.ndarray) -> None:
        """Add scored pairs (those under min_probability are not kept; a pair seen again replaces its old entry)."""
        keep = np.asarray(prob) >= self.min_probability
        columns = [c for c in gammas.columns if c.startswith("gamma_")]
        if not self.gamma_columns:
            self.gamma_columns = columns
            self.gammas = np.zeros((0, len(columns)), dtype=np.int8)
        elif columns != self.gamma_columns:
            raise ValueError(f"pair memory holds {self.gamma_columns}, got {columns}")
        keys, first = np.unique(pair_keys(sid_l[keep], sid_r[keep]), return_index=True)  # sorted
        new_g = gammas.loc[keep, columns].to_numpy(dtype=np.int8)[first]
        new_w = np.asarray(weight, dtype=np.float64)[keep][first]
        new_p = np.asarray(prob, dtype=np.float64)[keep][first]
        # both sides sorted: update pairs seen before in place, insert the others (no re-sort)
        pos = np.searchsorted(self.keys, keys)
        seen = pos < len(self.keys)
        seen[seen] = self.keys[pos[seen]] == keys[seen]
        self.gammas[pos[seen]], self.weight[pos[seen]], self.prob[pos[seen]] = new_g[seen], new_w[seen], new_p[seen]
        at = pos[~seen]
        self.keys = np.insert(self.keys, at, keys[~seen])
        self.gammas = np.insert(self.gammas, at, new_g[~seen], axis=0)
        self.weight = np.insert(self.weight, at, new_w[~seen])
        self.prob = np.insert(self.prob, at, new_p[~seen])

    def recall(self, sid_l: np.ndarray, sid_r: np.ndarray) -> np.ndarray:
        """Row of each pair in the memory, -1 where it is not remembered."""
        keys = pair_keys(sid_l, sid_r)
        if not len(self.keys):
            return np.full(len(keys), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[pos] == keys, pos, -1)

    def gamma_frame(self, rows: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(self.gammas[rows], columns=self.gamma_columns)

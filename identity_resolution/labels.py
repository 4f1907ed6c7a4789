"""Labelled pairs: check a model against pairs a person judged, and let them train it.

Labels are record pairs with a verdict: `silo_l, source_record_id_l, silo_r, source_record_id_r`
and either `is_match` (true/false, 1/0, yes/no) or `decision` (match / non_match, as clerical
review stores them; skips are ignored).

Training. EM estimates m from the unlabelled candidate pairs. Labelled matches are direct
evidence of m: each field's m becomes the posterior mean of a Dirichlet whose prior is the EM
estimate worth `prior_pairs` pairs, updated with the levels the labelled matches show on that field
(`fit_m_with_labels`), so a handful of labels nudges the model and thousands dominate it.
Labelled non-matches do not move u: u is P(level | two random non-matching records), and the
non-matches people label are look-alikes picked for review, not a random sample; they are used
to check the model (and, in the pipeline, as cannot-link constraints).

Checking. `check_labels` scores the labelled pairs with the model and reports precision, recall
and F1 at the match threshold, plus the mean probability per class — in-sample when the same
labels trained the model.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd

from identity_resolution.scoring import MISSING, FellegiSunterModel

PAIR_KEY = ["silo_l", "source_record_id_l", "silo_r", "source_record_id_r"]
_TRUE = {"true", "t", "1", "yes", "y", "match", "1.0"}
_FALSE = {"false", "f", "0", "no", "n", "non_match", "0.0"}


@dataclass(frozen=True)
class LabelledPairs:
    """Labels located in a record frame: positions of both records and the verdict."""

    left: np.ndarray
    right: np.ndarray
    is_match: np.ndarray
    unknown: int  # labels naming a record that is not in the frame (ignored)


def read_labels(frame: pd.DataFrame, source: str = "labels") -> pd.DataFrame:
    """PAIR_KEY + boolean `is_match`; a clear error naming the file, column and row otherwise."""
    missing = [c for c in PAIR_KEY if c not in frame.columns]
    verdict = "is_match" if "is_match" in frame.columns else "decision" if "decision" in frame.columns else None
    if missing or verdict is None:
        need = missing + ([] if verdict else ["is_match (or decision)"])
        raise ValueError(f"{source}: missing column(s) {need}; expected {PAIR_KEY} and is_match")
    text = frame[verdict].astype("string").str.strip().str.lower()
    if verdict == "decision":
        frame, text = frame[text != "skip"], text[text != "skip"]
    bad = ~(text.isin(_TRUE) | text.isin(_FALSE)).fillna(False)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{source}: row {row + 1}: {verdict}={frame[verdict].iloc[row]!r} is neither a match nor a "
                         "non-match (use true/false, 1/0, match/non_match)")
    out = frame[PAIR_KEY].astype(str).reset_index(drop=True)
    out["is_match"] = text.isin(_TRUE).to_numpy()
    return out


def locate(records: pd.DataFrame, labels: pd.DataFrame) -> LabelledPairs:
    """Positions in `records` of both records of every label (labels with an absent record dropped)."""
    index = pd.Series(np.arange(len(records)),
                      index=records["silo"].astype(str) + "|" + records["source_record_id"].astype(str))
    index = index[~index.index.duplicated()]
    left = (labels["silo_l"] + "|" + labels["source_record_id_l"]).map(index)
    right = (labels["silo_r"] + "|" + labels["source_record_id_r"]).map(index)
    known = (left.notna() & right.notna() & (left != right)).to_numpy()
    return LabelledPairs(left[known].to_numpy(dtype=np.int64), right[known].to_numpy(dtype=np.int64),
                         labels["is_match"].to_numpy(dtype=bool)[known], int((~known).sum()))


def fit_m_with_labels(model: FellegiSunterModel, gammas: pd.DataFrame, is_match: np.ndarray,
                      prior_pairs: float = 200.0) -> FellegiSunterModel:
    """A copy of `model` whose m per field is the EM estimate updated with the labelled matches."""
    fitted = copy.deepcopy(model)
    matches = gammas[np.asarray(is_match, dtype=bool)]
    for spec in model.fields:
        levels = matches[f"gamma_{spec.name}"].to_numpy()
        levels = levels[levels != MISSING]
        counts = np.bincount(levels.astype(np.int64), minlength=len(spec.levels))[: len(spec.levels)]
        fitted.m[spec.name] = (prior_pairs * np.asarray(model.m[spec.name], dtype=np.float64) + counts) / (
            prior_pairs + counts.sum())
    return fitted


def check_labels(probability: np.ndarray, is_match: np.ndarray, threshold: float) -> dict[str, float | int]:
    """Precision, recall and F1 at `threshold` of the model's probabilities on labelled pairs."""
    predicted = np.asarray(probability) >= threshold
    truth = np.asarray(is_match, dtype=bool)
    tp = int((predicted & truth).sum())
    precision = tp / max(int(predicted.sum()), 1)
    recall = tp / max(int(truth.sum()), 1)
    return {
        "labelled_pairs": int(len(truth)),
        "labelled_matches": int(truth.sum()),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(2 * precision * recall / max(precision + recall, 1e-12), 4),
        "mean_p_matches": round(float(np.mean(probability[truth])), 4) if truth.any() else float("nan"),
        "mean_p_non_matches": round(float(np.mean(probability[~truth])), 4) if (~truth).any() else float("nan"),
    }

"""How each silo writes names: whole names surname first ('TODD ASHLEY' for Ashley Todd), given and
family boxes holding each other's names (a mapping or an export that swapped the two columns).

One name cannot tell its order when both words are given names (Todd, Ashley) or a word is misspelt,
but a department's system writes every name the same way. So each silo's names vote: a name whose
first word (or given-name box) is a given name we know and whose last word (or family box) is not
says "in order", the reverse says "the other way round", the rest abstain. A silo whose decisive
votes say "the other way round" clearly enough has all its names read that way. Whole names written
with a comma ('SMITH, JOHN') state their order and do not vote.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from identity_resolution.names import name_tokens, plausible_given_names
from identity_resolution.text import as_str_series, map_distinct

# a silo's names are read the other way round when at least this many decisive votes say so ...
MIN_VOTES = 20
# ... and they are at least this share of its decisive votes (a silo in order has a few
# reversed-looking names of its own, a rare given name before a surname that is also a given name,
# ~1% on the populations measured; well below)
MIN_SHARE = 0.8


@dataclass(frozen=True)
class SiloNameOrder:
    """The silos whose whole names are written surname first, and those whose boxes are swapped."""

    surname_first: frozenset[str] = frozenset()
    swapped_boxes: frozenset[str] = frozenset()

    def of(self, silo: str) -> str:
        """A short description of one silo's order (part of the staging fingerprints' salt)."""
        return f"{'surname-first' if silo in self.surname_first else '-'}|{'swapped' if silo in self.swapped_boxes else '-'}"


def read_name_order(records: pd.DataFrame) -> SiloNameOrder:
    """Each silo's name order from all its canonical records (columns silo, full_name, given_name,
    family_name; any may be absent)."""
    if "silo" not in records.columns:
        return SiloNameOrder()
    silo = as_str_series(records["silo"])
    column = {c: as_str_series(records[c]) if c in records.columns else None for c in ("full_name", "given_name", "family_name")}
    surname_first = _reversed_silos(silo, map_distinct(column["full_name"], order_vote)) \
        if column["full_name"] is not None else frozenset()
    swapped = frozenset()
    if column["given_name"] is not None and column["family_name"] is not None:
        boxes = column["given_name"].fillna("") + "\x1f" + column["family_name"].fillna("")
        swapped = _reversed_silos(silo, map_distinct(boxes, _boxes_vote))
    return SiloNameOrder(surname_first, swapped)


def order_vote(full: str) -> int:
    """+1 when a whole name reads surname first ('Smith John', 'SMITH J'), -1 when given name first
    ('John Smith', 'J Smith'), 0 when it cannot tell (a comma, one word, both or neither words known)."""
    if "," in full:
        return 0
    tokens = name_tokens(full)
    if len(tokens) < 2:
        return 0
    return _vote(tokens[0], tokens[-1])


def _boxes_vote(boxes: str) -> int:
    """+1 when the given-name box holds a family name and the family box a given name, -1 the reverse."""
    given, _, family = boxes.partition("\x1f")
    given_tokens, family_tokens = name_tokens(given), name_tokens(family)
    if not given_tokens or not family_tokens:
        return 0
    return _vote(given_tokens[0], family_tokens[-1])


def _vote(first: str, last: str) -> int:
    """+1 when only `last` looks like a given name, -1 when only `first` does (an initial counts)."""
    given = plausible_given_names()
    first_given = len(first) == 1 or first.lower() in given
    last_given = len(last) == 1 or last.lower() in given
    if first_given == last_given:
        return 0
    return 1 if last_given else -1


def _reversed_silos(silo: pd.Series, votes: pd.Series) -> frozenset[str]:
    """The silos whose decisive votes say "the other way round" (see MIN_VOTES and MIN_SHARE)."""
    vote = votes.astype("float64").fillna(0).to_numpy(dtype=np.int64)
    decisive = vote != 0
    if not decisive.any():
        return frozenset()
    tally = pd.DataFrame({"silo": silo.to_numpy()[decisive], "reversed": vote[decisive] > 0})
    per_silo = tally.groupby("silo")["reversed"].agg(["sum", "count"])
    chosen = per_silo[(per_silo["sum"] >= MIN_VOTES) & (per_silo["sum"] >= MIN_SHARE * per_silo["count"])]
    return frozenset(str(s) for s in chosen.index)

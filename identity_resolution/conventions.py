"""How each silo writes what one value cannot tell: whole names surname first ('TODD ASHLEY' for
Ashley Todd), given and family boxes holding each other's names (a mapping or an export that swapped
the two columns), dates day first or month first ('03/07/1984').

One value cannot tell its order when both words are given names (Todd, Ashley) or both date parts
are 12 or less, but a department's system writes every value the same way. So each silo's values
vote: a name whose first word (or given-name box) is a given name we know and whose last word (or
family box) is not says "in order", the reverse says "the other way round"; '25/03/1984' says day
first, '03/25/1984' month first; the rest abstain. A silo whose decisive votes are clear enough has
all its values read that way. Whole names written with a comma ('SMITH, JOHN') state their order
and do not vote.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from identity_resolution.names import name_tokens, plausible_given_names
from identity_resolution.text import as_str_series, map_distinct

# a silo's values are read one way when at least this many decisive votes say so ...
MIN_VOTES = 20
# ... and they are at least this share of its decisive votes (a silo in order has a few
# reversed-looking names of its own, a rare given name before a surname that is also a given name,
# ~1% on the populations measured; well below)
MIN_SHARE = 0.8
# the first records of each silo that vote: a habit shows in thousands of values, and reading a
# million names for it would cost seconds
VOTERS_PER_SILO = 20_000
_NUMERIC_DATE = re.compile(r"\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})\s*")


@dataclass(frozen=True)
class SiloConventions:
    """The silos whose whole names are written surname first, those whose name boxes are swapped,
    and those that write numeric dates day first or month first (silos in neither follow the
    record's country)."""

    surname_first: frozenset[str] = frozenset()
    swapped_boxes: frozenset[str] = frozenset()
    day_first: frozenset[str] = frozenset()
    month_first: frozenset[str] = frozenset()

    def habits_of(self, silo: str) -> list[str]:
        """How one silo's values are read, in words ([] for a silo without a clear habit)."""
        return [words for attr, words in _HABITS if silo in getattr(self, attr)]

    def silos(self) -> list[str]:
        """The silos with at least one habit, sorted."""
        return sorted(set().union(*(getattr(self, attr) for attr, _ in _HABITS)))

    def of(self, silo: str) -> str:
        """One silo's conventions in a few words (part of the staging fingerprints' salt)."""
        return "|".join(self.habits_of(silo)) or "-"


_HABITS = (("surname_first", "whole names surname first"), ("swapped_boxes", "given and family boxes swapped"),
           ("day_first", "dates day first"), ("month_first", "dates month first"))


def read_conventions(records: pd.DataFrame) -> SiloConventions:
    """Each silo's conventions from its canonical records (columns silo, full_name, given_name,
    family_name, birth_date; any may be absent): the first VOTERS_PER_SILO of each silo vote."""
    if "silo" not in records.columns:
        return SiloConventions()
    voters = records.groupby(as_str_series(records["silo"]).fillna(""), sort=False).head(VOTERS_PER_SILO)
    silo = as_str_series(voters["silo"])
    column = {c: as_str_series(voters[c]) if c in voters.columns else None
              for c in ("full_name", "given_name", "family_name", "birth_date")}
    found: dict[str, frozenset[str]] = {}
    if column["full_name"] is not None:
        found["surname_first"] = _silos_voting(silo, map_distinct(column["full_name"], order_vote), 1)
    if column["given_name"] is not None and column["family_name"] is not None:
        boxes = column["given_name"].fillna("") + "\x1f" + column["family_name"].fillna("")
        found["swapped_boxes"] = _silos_voting(silo, map_distinct(boxes, _boxes_vote), 1)
    if column["birth_date"] is not None:
        votes = map_distinct(column["birth_date"], date_order_vote)
        found["day_first"] = _silos_voting(silo, votes, 1)
        found["month_first"] = _silos_voting(silo, votes, -1)
    return SiloConventions(**found)


def order_vote(full: str) -> int:
    """+1 when a whole name reads surname first ('Smith John', 'SMITH J'), -1 when given name first
    ('John Smith', 'J Smith'), 0 when it cannot tell (a comma, one word, both or neither words known)."""
    if "," in full:
        return 0
    tokens = name_tokens(full)
    if len(tokens) < 2:
        return 0
    return _name_vote(tokens[0], tokens[-1])


def date_order_vote(text: str) -> int:
    """+1 for a numeric date only day-first can read ('25/03/1984'), -1 for one only month-first can
    ('03/25/1984'), 0 otherwise (both parts 12 or less, or not a dd/mm/yyyy shape)."""
    m = _NUMERIC_DATE.fullmatch(text)
    if not m:
        return 0
    first, second = int(m.group(1)), int(m.group(2))
    if first > 12 >= second >= 1:
        return 1
    if second > 12 >= first >= 1:
        return -1
    return 0


def _boxes_vote(boxes: str) -> int:
    """+1 when the given-name box holds a family name and the family box a given name, -1 the reverse."""
    given, _, family = boxes.partition("\x1f")
    given_tokens, family_tokens = name_tokens(given), name_tokens(family)
    if not given_tokens or not family_tokens:
        return 0
    return _name_vote(given_tokens[0], family_tokens[-1])


def _name_vote(first: str, last: str) -> int:
    """+1 when only `last` looks like a given name, -1 when only `first` does (an initial counts)."""
    given = plausible_given_names()
    first_given = len(first) == 1 or first.lower() in given
    last_given = len(last) == 1 or last.lower() in given
    if first_given == last_given:
        return 0
    return 1 if last_given else -1


def _silos_voting(silo: pd.Series, votes: pd.Series, side: int) -> frozenset[str]:
    """The silos whose decisive votes (non-zero) are `side` clearly enough (MIN_VOTES, MIN_SHARE)."""
    vote = votes.astype("float64").fillna(0).to_numpy(dtype=np.int64)
    decisive = vote != 0
    if not decisive.any():
        return frozenset()
    tally = pd.DataFrame({"silo": silo.to_numpy()[decisive], "side": vote[decisive] == side})
    per_silo = tally.groupby("silo")["side"].agg(["sum", "count"])
    chosen = per_silo[(per_silo["sum"] >= MIN_VOTES) & (per_silo["sum"] >= MIN_SHARE * per_silo["count"])]
    return frozenset(str(s) for s in chosen.index)

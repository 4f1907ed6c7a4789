"""Which silos write whole names surname first ('TODD ASHLEY' for Ashley Todd).

One name cannot tell its order when both words are given names (Todd, Ashley) or a word is misspelt,
but a department's system writes every name the same way. So each silo's whole names vote: a name
whose first word is a given name we know and whose last is not says "given name first", the reverse
says "surname first", the rest abstain. A silo whose decisive votes say "surname first" clearly
enough has its ambiguous names read that way too (names.parse_full_name's `surname_first`).
Names written with a comma ('SMITH, JOHN') state their order and do not vote.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from identity_resolution.names import name_tokens, plausible_given_names
from identity_resolution.text import map_distinct

# a silo is read surname first when at least this many decisive names say so ...
MIN_VOTES = 20
# ... and they are at least this share of its decisive names (a given-name-first silo's own
# reversed-looking names, a rare given name before a surname that is also a given name, stay well below)
MIN_SHARE = 0.8


def order_vote(full: str) -> int:
    """+1 when a whole name reads surname first ('Smith John', 'SMITH J'), -1 when given name first
    ('John Smith', 'J Smith'), 0 when it cannot tell (a comma, one word, both or neither words known)."""
    if "," in full:
        return 0
    tokens = name_tokens(full)
    if len(tokens) < 2:
        return 0
    first, last = tokens[0].lower(), tokens[-1].lower()
    given = plausible_given_names()
    first_given = len(first) == 1 or first in given
    last_given = len(last) == 1 or last in given
    if first_given == last_given:
        return 0
    return 1 if last_given else -1


def surname_first_silos(silo: pd.Series, full_name: pd.Series) -> frozenset[str]:
    """The silos whose whole names vote clearly for surname first (see the module docs)."""
    votes = map_distinct(full_name, order_vote).astype("float64").fillna(0).to_numpy(dtype=np.int64)
    decisive = votes != 0
    if not decisive.any():
        return frozenset()
    tally = pd.DataFrame({"silo": silo.to_numpy()[decisive], "surname_first": votes[decisive] > 0})
    per_silo = tally.groupby("silo")["surname_first"].agg(["sum", "count"])
    chosen = per_silo[(per_silo["sum"] >= MIN_VOTES) & (per_silo["sum"] >= MIN_SHARE * per_silo["count"])]
    return frozenset(str(s) for s in chosen.index)

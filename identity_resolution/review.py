"""Clerical review: order uncertain pairs for a person, and turn their decisions into constraints.

The queue is self-contained: each row carries both records' display values (`<field>_l`,
`<field>_r`) and the matcher's per-field evidence (`gamma_<field>` level, `bf_<field>` log2 Bayes
factor), so `hub review` can show a pair and explain it without re-running the matcher.

Priority: a person's time is best spent where the matcher is least sure and a mistake costs most.
    uncertainty = 1 - 2 * |p - 0.5|            (1 at p = 0.5, 0 at p = 0 or 1)
    value       = sum of |balance|, |lifetime_value|, |credit_limit| facts of both records
    priority    = uncertainty * (1 + log10(1 + value))
so a coin-flip pair comes first among equals, and money at stake lifts a pair up the queue without
letting a sure pair with a large balance outrank every uncertain one.
"""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np
import pandas as pd

PAIR_KEY = ["silo_l", "source_record_id_l", "silo_r", "source_record_id_r"]
CONSTRAINT_COLUMNS = [*PAIR_KEY, "decision"]
DECISIONS = ("match", "non_match", "skip")
BINDING_DECISIONS = ("match", "non_match")
DISPLAY_FIELDS = [
    "full_name", "given_name", "family_name", "email", "phone", "address_line", "city", "region",
    "postcode", "country", "birth_date", "national_id_last4", "company", "source_updated_at",
]
DEFAULT_VALUE_FACTS = ("balance", "lifetime_value", "credit_limit")
QUEUE_BASE_COLUMNS = [
    "queue_rank", "pair_id", *PAIR_KEY, "match_probability", "match_weight", "reason",
    "uncertainty", "value", "priority",
]


def pair_id(silo_l: str, rid_l: str, silo_r: str, rid_r: str) -> str:
    """Stable id of an unordered record pair (same id whichever record is on the left)."""
    a, b = sorted([f"{silo_l}\x1f{rid_l}", f"{silo_r}\x1f{rid_r}"])
    return "P" + hashlib.sha1(f"{a}\x1e{b}".encode()).hexdigest()[:15].upper()


def normalise_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """Put the smaller (silo, source_record_id) on the left, swapping `_l`/`_r` columns together."""
    out = frame.copy()
    for c in PAIR_KEY:
        out[c] = out[c].astype(str)
    swap = (out["silo_l"] > out["silo_r"]) | (
        (out["silo_l"] == out["silo_r"]) & (out["source_record_id_l"] > out["source_record_id_r"])
    )
    if swap.any():
        lefts = [c for c in out.columns if c.endswith("_l") and c[:-2] + "_r" in out.columns]
        for left in lefts:
            right = left[:-2] + "_r"
            out.loc[swap, [left, right]] = out.loc[swap, [right, left]].to_numpy()
    out["pair_id"] = [pair_id(*row) for row in out[PAIR_KEY].itertuples(index=False, name=None)]
    return out


def build_review_queue(
    review_pairs: pd.DataFrame,
    records: pd.DataFrame,
    facts: pd.DataFrame | None,
    scores: pd.DataFrame | None = None,
    value_facts: Sequence[str] = DEFAULT_VALUE_FACTS,
) -> pd.DataFrame:
    """Review pairs with display values, evidence, value at stake and priority, best first.

    `scores` (the resolver's scored pairs) supplies `gamma_*`/`bf_*`/`match_weight` columns when
    `review_pairs` lacks them.
    """
    missing = [c for c in [*PAIR_KEY, "match_probability"] if c not in review_pairs.columns]
    if missing and review_pairs.empty:  # nothing to review (a resolver may hand over a bare frame)
        review_pairs = pd.DataFrame({c: pd.Series(dtype="object") for c in PAIR_KEY}).assign(
            match_probability=pd.Series(dtype="float64"))
    elif missing:
        raise ValueError(f"review_pairs is missing column(s) {missing}; it has {list(review_pairs.columns)}")
    queue = normalise_pairs(review_pairs)
    queue = _add_evidence(queue, scores)
    queue = _add_display_values(queue, records)
    queue = _add_value(queue, facts, value_facts)
    p = queue["match_probability"].astype(float).clip(0.0, 1.0)
    queue["uncertainty"] = 1.0 - 2.0 * (p - 0.5).abs()
    queue["priority"] = queue["uncertainty"] * (1.0 + np.log10(1.0 + queue["value"]))
    queue = queue.sort_values(["priority", "uncertainty", "pair_id"], ascending=[False, False, True], kind="stable")
    # The same pair can arrive twice (in the review band and as a refused merge): review it once.
    queue = queue.drop_duplicates("pair_id").reset_index(drop=True)
    queue["queue_rank"] = np.arange(1, len(queue) + 1)
    for optional in ("match_weight", "reason"):
        if optional not in queue.columns:
            queue[optional] = None
    evidence = sorted(c for c in queue.columns if c.startswith(("gamma_", "bf_")))
    display = [c for f in DISPLAY_FIELDS for c in (f"{f}_l", f"{f}_r")]
    return queue[QUEUE_BASE_COLUMNS + evidence + display]


def decisions_to_constraints(decisions: pd.DataFrame) -> pd.DataFrame:
    """Latest binding decision per pair -> must-link ("match") / cannot-link ("non_match") rows.

    Skips are not decisions about the pair, so they never undo an earlier match or non-match.
    """
    missing = [c for c in CONSTRAINT_COLUMNS if c not in decisions.columns]
    if missing:
        raise ValueError(f"decisions are missing column(s) {missing}; expected {CONSTRAINT_COLUMNS}")
    unknown = sorted(set(decisions["decision"].dropna().astype(str)) - set(DECISIONS))
    if unknown or decisions["decision"].isna().any():
        raise ValueError(f"decisions.decision must be one of {list(DECISIONS)}; found {unknown or ['null']}")
    binding = decisions[decisions["decision"].isin(BINDING_DECISIONS)]
    if binding.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in CONSTRAINT_COLUMNS})
    binding = normalise_pairs(binding)
    if "decided_at" in binding.columns:
        binding = binding.sort_values("decided_at", kind="stable")
    latest = binding.drop_duplicates("pair_id", keep="last")
    return latest[CONSTRAINT_COLUMNS].reset_index(drop=True)


# --- queue enrichment ---------------------------------------------------------------------------

def _add_evidence(queue: pd.DataFrame, scores: pd.DataFrame | None) -> pd.DataFrame:
    has_evidence = any(c.startswith("bf_") for c in queue.columns)
    if has_evidence or scores is None or scores.empty:
        return queue
    wanted = [c for c in scores.columns if c.startswith(("gamma_", "bf_")) or c == "match_weight"]
    # only the scored pairs that are queued (the scores hold every candidate pair)
    queued = set(_side_keys(queue, "l") + "\x1e" + _side_keys(queue, "r"))
    left, right = _side_keys(scores, "l"), _side_keys(scores, "r")
    scores = scores[((left + "\x1e" + right).isin(queued) | (right + "\x1e" + left).isin(queued)).to_numpy()]
    evidence = normalise_pairs(scores[PAIR_KEY + wanted]).drop(columns=PAIR_KEY)
    evidence = evidence.drop_duplicates("pair_id")
    queue = queue.drop(columns=[c for c in wanted if c in queue.columns])
    return queue.merge(evidence, on="pair_id", how="left")


def _side_keys(frame: pd.DataFrame, side: str) -> pd.Series:
    return frame[f"silo_{side}"].astype(str) + "\x1f" + frame[f"source_record_id_{side}"].astype(str)


def _add_display_values(queue: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """Both records' display values as text, so the queue can be shown without the staging table."""
    fields = [f for f in DISPLAY_FIELDS if f in records.columns]
    # narrow a million staged records to the few under review by record id first (cheap), then by silo
    queued_ids = pd.concat([queue["source_record_id_l"], queue["source_record_id_r"]]).astype(str).unique()
    records = records[records["source_record_id"].astype(str).isin(queued_ids).to_numpy()]
    shown = records[["silo", "source_record_id", *fields]].copy()
    shown["silo"] = shown["silo"].astype(str)
    shown["source_record_id"] = shown["source_record_id"].astype(str)
    # Only the records under review: text conversion of every staged record would be wasted work.
    in_queue = pd.MultiIndex.from_arrays([shown["silo"], shown["source_record_id"]]).isin(
        pd.MultiIndex.from_arrays([pd.concat([queue["silo_l"], queue["silo_r"]]),
                                   pd.concat([queue["source_record_id_l"], queue["source_record_id_r"]])]))
    shown = shown[in_queue]
    for f in fields:
        shown[f] = shown[f].map(_as_text, na_action="ignore")
    for side in ("l", "r"):
        renamed = shown.rename(columns={"silo": f"silo_{side}", "source_record_id": f"source_record_id_{side}",
                                        **{f: f"{f}_{side}" for f in fields}})
        queue = queue.merge(renamed, on=[f"silo_{side}", f"source_record_id_{side}"], how="left")
    for f in DISPLAY_FIELDS:
        for side in ("l", "r"):
            if f"{f}_{side}" not in queue.columns:
                queue[f"{f}_{side}"] = None
    return queue


def _as_text(value) -> str:
    if isinstance(value, pd.Timestamp):
        return value.isoformat(sep=" ", timespec="seconds") if (value.hour or value.minute or value.second) else value.date().isoformat()
    return str(value)


def _add_value(queue: pd.DataFrame, facts: pd.DataFrame | None, value_facts: Sequence[str]) -> pd.DataFrame:
    """Money at stake: sum of |value| of the chosen facts over both records of the pair."""
    queue = queue.copy()
    if facts is None or facts.empty:
        queue["value"] = 0.0
        return queue
    missing = [c for c in ("silo", "source_record_id", "fact", "value_num") if c not in facts.columns]
    if missing:
        raise ValueError(f"facts are missing column(s) {missing}")
    chosen = facts[facts["fact"].isin(value_facts)]
    per_record = chosen.assign(value_num=chosen["value_num"].astype(float).abs()).groupby(
        [chosen["silo"].astype(str), chosen["source_record_id"].astype(str)])["value_num"].sum()
    left = pd.MultiIndex.from_arrays([queue["silo_l"], queue["source_record_id_l"]])
    right = pd.MultiIndex.from_arrays([queue["silo_r"], queue["source_record_id_r"]])
    queue["value"] = (per_record.reindex(left).fillna(0.0).to_numpy()
                      + per_record.reindex(right).fillna(0.0).to_numpy())
    return queue


__all__ = [
    "build_review_queue", "decisions_to_constraints", "normalise_pairs", "pair_id",
    "PAIR_KEY", "CONSTRAINT_COLUMNS", "DECISIONS", "DISPLAY_FIELDS", "QUEUE_BASE_COLUMNS",
]

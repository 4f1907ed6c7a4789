"""Review queue ordering, evidence and display values; decisions become constraints."""
from __future__ import annotations

import pandas as pd
import pytest

from identity_resolution.review import (
    CONSTRAINT_COLUMNS,
    build_review_queue,
    decisions_to_constraints,
    pair_id,
)


def records() -> pd.DataFrame:
    return pd.DataFrame([
        {"silo": "sales", "source_record_id": "s1", "full_name": "Ann Lee", "email": "ann@x.example",
         "birth_date": pd.Timestamp("1980-01-02"), "source_updated_at": pd.Timestamp("2025-01-01 10:00")},
        {"silo": "support", "source_record_id": "t1", "full_name": "Anne Lee", "email": None,
         "birth_date": None, "source_updated_at": pd.Timestamp("2025-02-01")},
        {"silo": "accounting", "source_record_id": "a1", "full_name": "LEE, Ann", "email": None,
         "birth_date": None, "source_updated_at": None},
        {"silo": "credit", "source_record_id": "c1", "full_name": "Bo Ng", "email": "bo@x.example",
         "birth_date": None, "source_updated_at": None},
        {"silo": "sales", "source_record_id": "s2", "full_name": "Bo Ng", "email": "bo@x.example",
         "birth_date": None, "source_updated_at": None},
    ])


def pair(l, r, p, **extra) -> dict:
    return {"silo_l": l[0], "source_record_id_l": l[1], "silo_r": r[0], "source_record_id_r": r[1],
            "match_probability": p, **extra}


def facts() -> pd.DataFrame:
    return pd.DataFrame([
        {"silo": "accounting", "source_record_id": "a1", "fact": "balance", "value_num": -25000.0},
        {"silo": "credit", "source_record_id": "c1", "fact": "credit_limit", "value_num": 100.0},
        {"silo": "support", "source_record_id": "t1", "fact": "open_tickets", "value_num": 900.0},
    ])


def test_most_uncertain_first_when_value_is_equal():
    pairs = pd.DataFrame([pair(("sales", "s1"), ("support", "t1"), 0.9),
                          pair(("sales", "s2"), ("credit", "c1"), 0.52),
                          pair(("support", "t1"), ("sales", "s2"), 0.7)])
    queue = build_review_queue(pairs, records(), None)
    assert queue["match_probability"].tolist() == [0.52, 0.7, 0.9]
    assert queue["queue_rank"].tolist() == [1, 2, 3]


def test_value_at_stake_lifts_a_pair():
    pairs = pd.DataFrame([pair(("sales", "s1"), ("support", "t1"), 0.5),   # as unsure as can be, no money
                          pair(("sales", "s1"), ("accounting", "a1"), 0.8),  # less unsure, $25k balance
                          pair(("credit", "c1"), ("sales", "s2"), 0.8)])  # same p, $100 limit
    queue = build_review_queue(pairs, records(), facts())
    order = list(zip(queue["silo_l"], queue["source_record_id_l"], queue["silo_r"], queue["source_record_id_r"]))
    assert order[0] == ("accounting", "a1", "sales", "s1")  # normalised: smaller record on the left
    assert order.index(("credit", "c1", "sales", "s2")) < order.index(("sales", "s1", "support", "t1"))
    # open_tickets is not money: it does not count as value.
    assert queue.set_index("source_record_id_r").loc["t1", "value"] == 0.0
    assert queue.set_index("source_record_id_l").loc["a1", "value"] == 25000.0


def test_queue_carries_display_values_and_evidence_oriented_with_the_pair():
    pairs = pd.DataFrame([pair(("support", "t1"), ("sales", "s1"), 0.6, reason="review_band",
                               gamma_email=0, bf_email=-1.5, gamma_family_name=3, bf_family_name=4.25,
                               match_weight=0.4)])
    queue = build_review_queue(pairs, records(), facts())
    row = queue.iloc[0]
    assert (row["silo_l"], row["silo_r"]) == ("sales", "support")
    assert (row["full_name_l"], row["full_name_r"]) == ("Ann Lee", "Anne Lee")
    assert row["birth_date_l"] == "1980-01-02" and pd.isna(row["birth_date_r"])
    assert row["source_updated_at_l"] == "2025-01-01 10:00:00"
    assert (row["bf_email"], row["bf_family_name"], row["reason"]) == (-1.5, 4.25, "review_band")
    assert row["pair_id"] == pair_id("support", "t1", "sales", "s1") == pair_id("sales", "s1", "support", "t1")


def test_evidence_joined_from_scores_when_review_pairs_lack_it():
    pairs = pd.DataFrame([pair(("support", "t1"), ("sales", "s1"), 0.6)])
    scores = pd.DataFrame([pair(("sales", "s1"), ("support", "t1"), 0.6, match_weight=0.5,
                                gamma_email=1, bf_email=2.0)])
    row = build_review_queue(pairs, records(), None, scores=scores).iloc[0]
    assert (row["gamma_email"], row["bf_email"], row["match_weight"]) == (1, 2.0, 0.5)


def test_duplicate_pairs_are_reviewed_once():
    pairs = pd.DataFrame([pair(("sales", "s1"), ("support", "t1"), 0.6, reason="review_band"),
                          pair(("support", "t1"), ("sales", "s1"), 0.95, reason="refused_merge")])
    queue = build_review_queue(pairs, records(), None)
    assert len(queue) == 1 and queue["reason"].iloc[0] == "review_band"


def test_latest_binding_decision_wins_and_skips_never_undo():
    decisions = pd.DataFrame([
        {**pair(("sales", "s1"), ("support", "t1"), None), "decision": "match", "decided_at": pd.Timestamp("2026-01-01")},
        {**pair(("support", "t1"), ("sales", "s1"), None), "decision": "non_match", "decided_at": pd.Timestamp("2026-01-03")},
        {**pair(("sales", "s1"), ("support", "t1"), None), "decision": "skip", "decided_at": pd.Timestamp("2026-01-04")},
        {**pair(("credit", "c1"), ("sales", "s2"), None), "decision": "match", "decided_at": pd.Timestamp("2026-01-02")},
        {**pair(("accounting", "a1"), ("sales", "s1"), None), "decision": "skip", "decided_at": pd.Timestamp("2026-01-02")},
    ])
    constraints = decisions_to_constraints(decisions)
    assert list(constraints.columns) == CONSTRAINT_COLUMNS
    got = {tuple(r[:4]): r[4] for r in constraints.itertuples(index=False, name=None)}
    assert got == {("sales", "s1", "support", "t1"): "non_match", ("credit", "c1", "sales", "s2"): "match"}


def test_bad_decisions_are_rejected():
    with pytest.raises(ValueError, match="must be one of"):
        decisions_to_constraints(pd.DataFrame([{**pair(("a", "1"), ("b", "2"), None), "decision": "maybe"}]))
    with pytest.raises(ValueError, match="missing column"):
        decisions_to_constraints(pd.DataFrame([{"decision": "match"}]))
    assert decisions_to_constraints(pd.DataFrame(columns=CONSTRAINT_COLUMNS)).empty


# --- end to end: decisions stored in DuckDB are honoured by the next run, after new data arrives --

def _people(ids) -> pd.DataFrame:
    """Clean raw records for fictitious people: a sales and a support record each, credit for evens."""
    first = ["Ann", "Bob", "Cara", "Dan", "Eve", "Finn", "Gail", "Hugo", "Ida", "Jon"]
    last = ["Lee", "Okafor", "Kowalski", "Nakamura", "Dubois", "Haddad", "Ivanova", "Jensen"]
    rows = []
    for i in ids:
        g, f = first[i % 10], last[i // 10 % 8]
        email, phone = f"{g.lower()}.{f.lower()}{i}@example.com", f"+1217555{i:04d}"
        dob = f"19{60 + i % 40}-{1 + i % 12:02d}-{10 + i % 18}"
        rows.append(dict(silo="sales", source_record_id=f"s{i}", given_name=g, family_name=f, email=email,
                         phone=phone, birth_date=dob, postcode=f"{62700 + i}"))
        rows.append(dict(silo="support", source_record_id=f"t{i}", full_name=f"{g} {f}", email=email,
                         phone=phone, postcode=f"{62700 + i}"))
        if i % 2 == 0:
            rows.append(dict(silo="credit", source_record_id=f"c{i}", given_name=g, family_name=f,
                             birth_date=dob, national_id=f"123-45-{i:04d}"))
    return pd.DataFrame(rows)


def test_decisions_are_honoured_after_new_data_arrives(tmp_path):
    import duckdb
    from identity_resolution import resolve, standardise_records
    from identity_resolution.ids import assign_stable_ids
    from warehouse.review_store import load_decisions, record_decision

    def customer(xref, rid):
        return xref.loc[xref["source_record_id"] == rid, "customer_id"].iloc[0]

    staged = standardise_records(_people(range(40)), hash_key=b"test-key")
    run1 = assign_stable_ids(resolve(staged).xref, None, None)
    assert customer(run1.xref, "s3") == customer(run1.xref, "t3")  # the matcher links them
    assert customer(run1.xref, "s5") != customer(run1.xref, "t6")

    con = duckdb.connect(str(tmp_path / "hub.duckdb"))
    pair = lambda l, r: {"silo_l": l[0], "source_record_id_l": l[1], "silo_r": r[0], "source_record_id_r": r[1]}
    record_decision(con, pair(("sales", "s3"), ("support", "t3")), "non_match", "alice")
    record_decision(con, pair(("support", "t6"), ("sales", "s5")), "match", "alice")
    constraints = decisions_to_constraints(load_decisions(con))
    con.close()

    # New people arrive, and a third record for person 7; then the next automatic run.
    more = _people(range(40, 50))
    extra = _people([7]).query("silo == 'sales'").assign(silo="web", source_record_id="w7")
    staged2 = standardise_records(pd.concat([_people(range(40)), more, extra], ignore_index=True), hash_key=b"test-key")
    run2 = assign_stable_ids(resolve(staged2, constraints=constraints).xref, run1.xref, run1.history)
    x2 = run2.xref
    assert customer(x2, "s3") != customer(x2, "t3")  # cannot-link honoured
    assert customer(x2, "s5") == customer(x2, "t6")  # must-link honoured
    assert customer(x2, "w7") == customer(run1.xref, "s7")  # a new record joins and keeps the id
    # People nobody decided about keep their ids.
    for rid in ["s1", "t2", "c4", "s20", "t39"]:
        assert customer(x2, rid) == customer(run1.xref, rid)
    # Both corrections are recorded as splits: one of s3/t3 left its customer, t6 left its own.
    split = run2.history[run2.history["event"] == "split"]
    moved = set(split["source_record_id"])
    assert "t6" in moved and len(moved & {"s3", "t3"}) == 1
    # The clusterer may also move a record that conflicts with the forced link; the corrected
    # customers are always among the recorded splits.
    assert {customer(run1.xref, "t3"), customer(run1.xref, "t6")} <= set(split["customer_id"])


def test_nothing_to_review_gives_an_empty_queue_with_its_columns():
    for empty in (pd.DataFrame(), pd.DataFrame(columns=["silo_l", "source_record_id_l", "silo_r",
                                                        "source_record_id_r", "match_probability"])):
        queue = build_review_queue(empty, records(), facts())
        assert queue.empty and {"pair_id", "priority", "full_name_l"} <= set(queue.columns)
    with pytest.raises(ValueError, match="missing column"):
        build_review_queue(pd.DataFrame([{"silo_l": "a"}]), records(), None)

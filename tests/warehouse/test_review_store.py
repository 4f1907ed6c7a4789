"""Review queue and decisions round-trip through a real DuckDB file."""
from __future__ import annotations

from datetime import datetime

import duckdb
import pandas as pd
import pytest

from identity_resolution.review import build_review_queue, decisions_to_constraints
from warehouse.review_store import (
    load_decisions,
    load_review_queue,
    record_decision,
    save_review_queue,
)


def sample_queue() -> pd.DataFrame:
    records = pd.DataFrame([
        {"silo": s, "source_record_id": r, "full_name": n, "email": None}
        for s, r, n in [("sales", "1", "Ann Lee"), ("support", "9", "Anne Lee"), ("credit", "4", "Bo Ng"),
                        ("sales", "2", "Bo Ng"), ("accounting", "7", "NG, Bo")]
    ])
    pairs = pd.DataFrame([
        {"silo_l": "sales", "source_record_id_l": "1", "silo_r": "support", "source_record_id_r": "9",
         "match_probability": 0.5, "gamma_family_name": 3, "bf_family_name": 4.0},
        {"silo_l": "credit", "source_record_id_l": "4", "silo_r": "sales", "source_record_id_r": "2",
         "match_probability": 0.7, "gamma_family_name": 3, "bf_family_name": 2.5},
        {"silo_l": "accounting", "source_record_id_l": "7", "silo_r": "sales", "source_record_id_r": "2",
         "match_probability": 0.85, "gamma_family_name": 2, "bf_family_name": 1.0},
    ])
    return build_review_queue(pairs, records, None)


@pytest.fixture()
def con(tmp_path):
    connection = duckdb.connect(str(tmp_path / "hub.duckdb"))
    yield connection
    connection.close()


def test_queue_round_trip_keeps_order_and_evidence(con):
    queue = sample_queue()
    assert save_review_queue(con, queue) == 3
    loaded = load_review_queue(con)
    assert loaded["pair_id"].tolist() == queue["pair_id"].tolist()
    assert loaded["bf_family_name"].tolist() == queue["bf_family_name"].tolist()
    assert loaded["full_name_l"].tolist() == queue["full_name_l"].tolist()
    assert len(load_review_queue(con, limit=2)) == 2


def test_decisions_round_trip_and_leave_the_queue(con, tmp_path):
    queue = sample_queue()
    save_review_queue(con, queue)
    first, second, third = (queue.iloc[i] for i in range(3))
    record_decision(con, first, "match", "alice", note="same phone on the call")
    record_decision(con, second, "skip", "alice")
    pending = load_review_queue(con)
    # Decided pairs leave the queue; skipped ones go to the back.
    assert pending["pair_id"].tolist() == [third["pair_id"], second["pair_id"]]

    # Recorded with the reversed orientation: still the same pair.
    reversed_pair = {"silo_l": third["silo_r"], "source_record_id_l": third["source_record_id_r"],
                     "silo_r": third["silo_l"], "source_record_id_r": third["source_record_id_l"]}
    record_decision(con, reversed_pair, "non_match", "bob", decided_at=datetime(2030, 1, 1))
    con.close()

    # A fresh read-only connection sees what was written, with who and when.
    reader = duckdb.connect(str(tmp_path / "hub.duckdb"), read_only=True)
    decisions = load_decisions(reader)
    assert decisions["reviewer"].tolist() == ["alice", "alice", "bob"]
    assert decisions["decision"].tolist() == ["match", "skip", "non_match"]
    assert decisions["note"].iloc[0] == "same phone on the call"
    assert decisions["decided_at"].notna().all()
    assert decisions["pair_id"].iloc[2] == third["pair_id"]
    assert load_review_queue(reader)["pair_id"].tolist() == [second["pair_id"]]

    constraints = decisions_to_constraints(decisions)
    got = {(r.silo_l, r.source_record_id_l, r.silo_r, r.source_record_id_r): r.decision
           for r in constraints.itertuples()}
    assert got == {("sales", "1", "support", "9"): "match", ("accounting", "7", "sales", "2"): "non_match"}
    reader.close()


def test_a_new_queue_keeps_past_decisions(con):
    queue = sample_queue()
    save_review_queue(con, queue)
    record_decision(con, queue.iloc[0], "non_match", "alice")
    save_review_queue(con, queue)  # the next resolution run rebuilds the queue
    assert queue.iloc[0]["pair_id"] not in set(load_review_queue(con)["pair_id"])
    assert len(load_decisions(con)) == 1


def test_empty_warehouse_and_empty_queue(con):
    assert load_review_queue(con).empty
    assert load_decisions(con).empty
    empty = sample_queue().iloc[0:0]
    assert save_review_queue(con, empty) == 0
    assert load_review_queue(con).empty


def test_bad_decisions_are_refused(con):
    pair = sample_queue().iloc[0]
    with pytest.raises(ValueError, match="must be one of"):
        record_decision(con, pair, "probably", "alice")
    with pytest.raises(ValueError, match="reviewer"):
        record_decision(con, pair, "match", "  ")
    with pytest.raises(ValueError, match="both records"):
        record_decision(con, {"silo_l": "sales"}, "match", "alice")
    assert load_decisions(con).empty


def test_queue_without_evidence_borrows_it_from_match_scores(con):
    queue = sample_queue()
    bare = queue.drop(columns=[c for c in queue.columns if c.startswith(("gamma_", "bf_"))])
    save_review_queue(con, bare)
    first, second = queue.iloc[0], queue.iloc[1]
    scores = pd.DataFrame([
        # stored the other way round from the queue's orientation
        {"silo_l": first["silo_r"], "source_record_id_l": first["source_record_id_r"], "silo_r": first["silo_l"],
         "source_record_id_r": first["source_record_id_l"], "match_weight": 0.1, "gamma_email": 2, "bf_email": 3.5},
        {"silo_l": second["silo_l"], "source_record_id_l": second["source_record_id_l"], "silo_r": second["silo_r"],
         "source_record_id_r": second["source_record_id_r"], "match_weight": 1.2, "gamma_email": 0, "bf_email": -2.0},
    ])
    con.execute("CREATE SCHEMA IF NOT EXISTS identity")
    con.execute("CREATE TABLE identity.match_scores AS SELECT * FROM scores")
    loaded = load_review_queue(con).set_index("pair_id")
    assert loaded.loc[first["pair_id"], "bf_email"] == 3.5
    assert loaded.loc[second["pair_id"], "match_weight"] == 1.2
    assert pd.isna(loaded.loc[queue.iloc[2]["pair_id"], "bf_email"])
    assert load_review_queue(con)["pair_id"].tolist() == queue["pair_id"].tolist()  # order kept


def test_all_null_display_columns_are_stored_as_text(con):
    save_review_queue(con, sample_queue())  # nobody in the sample has a company
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_schema = 'identity' AND table_name = 'review_queue'").fetchall())
    assert types["company_l"] == "VARCHAR" and types["email_r"] == "VARCHAR"
    assert types["priority"] == "DOUBLE" and types["queued_at"].startswith("TIMESTAMP")

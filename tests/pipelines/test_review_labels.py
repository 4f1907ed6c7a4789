"""Review decisions feed the model as labels when it is (re)trained, and never silently otherwise."""
from __future__ import annotations

import json
import shutil

import duckdb

from pipelines.resolution import RETRAIN_ENV, resolve_warehouse
from warehouse.publish import append_rows
from warehouse.review_store import record_decision

from pipeline_population import staged_population  # noqa: F401  (fixture)


def _m(con: duckdb.DuckDBPyConnection) -> dict:
    model = json.loads(con.execute("SELECT model_json FROM identity.model").fetchone()[0])
    return {f["name"]: [level["m"] for level in f["levels"]] for f in model["fields"]}


def test_decisions_train_m_on_retraining_only(con, tmp_path, staged_population, monkeypatch):
    append_rows(con, "staging.customer_records", staged_population)
    resolve_warehouse(con)
    # decisions on scored pairs (a review queue this small holds only a couple)
    pairs = con.execute("SELECT * FROM identity.match_scores ORDER BY match_probability DESC, silo_l, source_record_id_l, silo_r, source_record_id_r LIMIT 40").df()
    for i, pair in pairs.iterrows():
        record_decision(con, pair, "match" if i % 3 else "non_match", "tester")
    stored = _m(con)
    resolve_warehouse(con)
    assert _m(con) == stored  # a stored model is kept: decisions are constraints, not retraining
    con.execute("CHECKPOINT")
    shutil.copy(tmp_path / "wh.duckdb", tmp_path / "no_labels.duckdb")
    monkeypatch.setenv(RETRAIN_ENV, "1")
    resolve_warehouse(con)
    with duckdb.connect(str(tmp_path / "no_labels.duckdb")) as plain:
        plain.execute("DELETE FROM identity.review_decisions")
        resolve_warehouse(plain)
        without = _m(plain)
    with_labels = _m(con)
    assert with_labels != without, "labelled matches did not move m"
    assert con.execute("SELECT mode FROM ops.resolver_state").fetchone()[0] == "full"

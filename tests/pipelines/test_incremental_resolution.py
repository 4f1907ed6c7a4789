"""The pipeline's resolution step resolves only what changed, and publishes what a full run would:
the same customer ids, id history, scored pairs and review queue, over random batches of inserts,
updates, deletes and review decisions written straight into staging."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipelines.resolution import resolve_warehouse
from pipelines.resolve_plan import MODE_ENV
from warehouse.publish import append_rows
from warehouse.review_store import record_decision
from warehouse.schema import STAGING_COLUMNS, conform, ensure_schema

from pipeline_population import staged_population  # noqa: F401  (fixture)

KEY = ["silo", "source_record_id"]


def _warehouse(path, staged: pd.DataFrame) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    ensure_schema(con)
    append_rows(con, "staging.customer_records", staged)
    return con


def _mutate(con: duckdb.DuckDBPyConnection, rng: np.random.Generator, step: int) -> None:
    """Copy a field between records, flag or drop a record, insert near-copies under new ids."""
    keys = con.execute("SELECT silo, source_record_id FROM staging.customer_records "
                       "WHERE NOT is_deleted ORDER BY ALL").fetchall()
    pick = lambda k: [keys[i] for i in rng.choice(len(keys), size=k, replace=False)]  # noqa: E731
    for (silo, rid), (dsilo, drid) in zip(pick(3), pick(3)):
        column = str(rng.choice(["email", "phone", "family_name", "postcode", "birth_date", "national_id_last4"]))
        con.execute(f"UPDATE staging.customer_records SET {column} = (SELECT {column} FROM staging.customer_records "
                    "WHERE silo = ? AND source_record_id = ?) WHERE silo = ? AND source_record_id = ?",
                    [dsilo, drid, silo, rid])
    (silo, rid), (dsilo, drid) = pick(2)
    con.execute("UPDATE staging.customer_records SET is_deleted = TRUE WHERE silo = ? AND source_record_id = ?", [silo, rid])
    con.execute("DELETE FROM staging.customer_records WHERE silo = ? AND source_record_id = ?", [dsilo, drid])
    for i, (silo, rid) in enumerate(pick(3)):
        con.execute("INSERT INTO staging.customer_records SELECT * REPLACE (? AS source_record_id) "
                    "FROM staging.customer_records WHERE silo = ? AND source_record_id = ?", [f"new-{step}-{i}", silo, rid])


def _decide_first_in_queue(con: duckdb.DuckDBPyConnection, decision: str, at: datetime) -> None:
    pair = con.execute("SELECT * FROM identity.review_queue ORDER BY queue_rank LIMIT 1").df()
    if len(pair):
        record_decision(con, pair.iloc[0], decision, "tester", decided_at=at)


def _published(con: duckdb.DuckDBPyConnection) -> dict[str, set]:
    pairs = "SELECT silo_l, source_record_id_l, silo_r, source_record_id_r, round(match_probability, 9) FROM"
    return {
        "xref": set(con.execute("SELECT silo, source_record_id, customer_id, round(match_probability, 9) "
                                "FROM identity.customer_xref").fetchall()),
        "history": set(con.execute("SELECT customer_id, event, successor_id, silo, source_record_id "
                                   "FROM identity.customer_id_history").fetchall()),
        "scores": set(con.execute(f"{pairs} identity.match_scores").fetchall()),
        "review": set(con.execute(f"{pairs} identity.review_queue").fetchall()),
    }


def _state(con: duckdb.DuckDBPyConnection) -> tuple:
    return con.execute("SELECT mode, reason, changed_records, reclustered_records, records "
                       "FROM ops.resolver_state").fetchone()


def test_incremental_runs_publish_what_full_runs_publish(tmp_path, monkeypatch, staged_population):
    inc = _warehouse(tmp_path / "inc.duckdb", staged_population)
    first = resolve_warehouse(inc)
    assert first.mode == "full"  # nothing stored yet: train and resolve everything
    again = resolve_warehouse(inc)
    assert (again.mode, again.reclustered) == ("incremental", 0)
    inc.close()
    shutil.copy(tmp_path / "inc.duckdb", tmp_path / "full.duckdb")
    inc, full = duckdb.connect(str(tmp_path / "inc.duckdb")), duckdb.connect(str(tmp_path / "full.duckdb"))
    rng = np.random.default_rng(7)
    for step in range(4):
        now = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=step)
        seed = int(rng.integers(1 << 30))
        for con in (inc, full):
            _mutate(con, np.random.default_rng(seed), step)
            if step % 2:
                _decide_first_in_queue(con, "non_match" if step == 1 else "match", now)
        monkeypatch.setenv(MODE_ENV, "auto")
        counts = resolve_warehouse(inc)
        monkeypatch.setenv(MODE_ENV, "full")
        resolve_warehouse(full)
        mode, reason, changed, reclustered, records = _state(inc)
        assert mode == "incremental", reason
        assert 0 < changed <= reclustered < records, (changed, reclustered, records)
        assert counts.reclustered == reclustered
        assert counts.pairs_recalled > 0  # pairs of unchanged records came from the last run's scores
        assert _published(inc) == _published(full), f"step {step}: incremental and full runs differ"
        assert inc.execute("SELECT count(*) FROM identity.record_features").fetchone()[0] == records


def test_erasure_style_edits_fall_back_to_a_full_run(con, staged_population, monkeypatch):
    append_rows(con, "staging.customer_records", staged_population)
    resolve_warehouse(con)
    con.execute("DELETE FROM identity.record_features WHERE source_record_id IN "
                "(SELECT source_record_id FROM identity.record_features LIMIT 1)")
    assert resolve_warehouse(con).mode == "full"
    assert "stored features" in _state(con)[1]
    assert resolve_warehouse(con).mode == "incremental"  # the full run stored a consistent state again


def test_mode_setting_is_checked(con, staged_population, monkeypatch):
    append_rows(con, "staging.customer_records", staged_population)
    monkeypatch.setenv(MODE_ENV, "incremental")
    with pytest.raises(RuntimeError, match="no stored model"):
        resolve_warehouse(con)
    monkeypatch.setenv(MODE_ENV, "sometimes")
    with pytest.raises(ValueError, match="HUB_RESOLVE_MODE='sometimes'"):
        resolve_warehouse(con)


def test_leaves_the_connection_free_for_the_next_step(con, staged_population):
    append_rows(con, "staging.customer_records", staged_population)
    for _ in range(2):  # a full run, then an incremental one
        resolve_warehouse(con)
        con.register("_next_step", staged_population.head(1))  # fails while a result is left unfinished
        con.unregister("_next_step")

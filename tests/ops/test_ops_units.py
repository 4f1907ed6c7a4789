"""Fast checks of the operations building blocks: checksums, schedule arithmetic, fault points,
reconciliation, and the re-run stamps that keep unchanged rows unchanged."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from croniter import croniter

from pipelines.freshness import build_freshness_checks
from pipelines.resolution import reconcile_xref
from pipelines.staging import keep_loaded_at, keep_rejected_at
from sources import load_silos
from warehouse.faults import EXIT_CODE
from warehouse.ops import changed_tables, due_by, schedule_interval, table_checksum, table_checksums
from warehouse.schema import ensure_schema

REPO = Path(__file__).resolve().parents[2]


def test_checksum_ignores_row_order_but_sees_any_change(con):
    con.execute("CREATE TABLE marts.t AS SELECT * FROM (VALUES (1, 'a', NULL), (2, 'b', 3.5)) v(id, name, x)")
    first = table_checksum(con, "marts.t")
    con.execute("CREATE OR REPLACE TABLE marts.t AS SELECT * FROM (VALUES (2, 'b', 3.5), (1, 'a', NULL)) v(id, name, x)")
    assert table_checksum(con, "marts.t") == first
    con.execute("UPDATE marts.t SET x = 3.6 WHERE id = 2")
    assert table_checksum(con, "marts.t") != first
    con.execute("UPDATE marts.t SET x = 3.5 WHERE id = 2")
    con.execute("INSERT INTO marts.t VALUES (2, 'b', 3.5)")  # a duplicate row is a change too
    assert table_checksum(con, "marts.t") != first


def test_checksums_cover_contract_schemas_and_skip_run_logs(con):
    sums = table_checksums(con)
    assert "staging.customer_records" in sums and "identity.customer_xref" in sums
    assert not any(t.startswith("ops.") for t in sums)
    before = dict(sums)
    con.execute("INSERT INTO identity.customer_xref VALUES ('s', '1', 'C1', 1.0, NULL)")
    assert changed_tables(before, table_checksums(con)) == ["identity.customer_xref"]


@pytest.mark.parametrize("cron, interval", [("0 * * * *", timedelta(hours=1)), ("*/30 * * * *", timedelta(minutes=30)),
                                            ("30 */6 * * *", timedelta(hours=6)), ("0 3 * * *", timedelta(days=1))])
def test_schedule_interval(cron, interval):
    assert schedule_interval(cron) == interval


def test_due_by_gives_the_next_sync_one_interval_to_land():
    last = datetime(2026, 3, 2, 10, 2)
    assert due_by("0 * * * *", last) == datetime(2026, 3, 2, 12, 0)
    assert due_by("0 3 * * *", last) == datetime(2026, 3, 4, 3, 0)
    assert due_by("0 * * * *", None) is None
    # Same rule as Dagster's check: at each tick D a sync must exist after D - interval.
    tick = croniter("0 * * * *", due_by("0 * * * *", last) - timedelta(seconds=1)).get_next(datetime)
    assert last < tick - schedule_interval("0 * * * *")


def test_one_freshness_check_per_scheduled_silo():
    silos = load_silos(REPO / "silos")
    checks = build_freshness_checks(silos)
    keys = {key.asset_key for check in checks for key in check.check_keys}
    assert keys == {dg.AssetKey(["staging", s.name]) for s in silos if s.schedule}


@pytest.mark.parametrize("env, code", [("after:stage:x", EXIT_CODE), ("after:stage:y", 0), ("", 0)])
def test_fault_point_kills_only_at_its_point(env, code):
    script = "from warehouse.faults import fault_point; fault_point('after:stage:x'); print('survived')"
    result = subprocess.run([sys.executable, "-c", script], env={"HUB_FAULT_INJECT": env, "PATH": ""},
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == code, result.stderr
    assert ("survived" in result.stdout) == (code == 0)


def test_reconcile_xref_finds_unmapped_and_doubly_mapped_records():
    records = pd.DataFrame({"silo": ["a", "a", "b"], "source_record_id": ["1", "2", "1"]})
    good = records.assign(customer_id=["C1", "C2", "C1"])
    assert reconcile_xref(records, good)["not_mapped_once"].sum() == 0
    bad = pd.concat([good.iloc[[0, 0]], good.iloc[[2]]])  # a:1 twice, a:2 missing
    per_silo = reconcile_xref(records, bad)
    assert per_silo.loc["a", "not_mapped_once"] == 2 and per_silo.loc["b", "not_mapped_once"] == 0
    assert per_silo.loc["a", "staged_rows"] == 2 and per_silo.loc["a", "xref_rows"] == 2


def _staged(ids, names, loaded):
    return pd.DataFrame({"silo": "s", "source_record_id": ids, "given_name": names,
                         "birth_date": ["1980-01-02"] * len(ids), "is_deleted": False,
                         "loaded_at": pd.Timestamp(loaded)})


def test_unchanged_records_keep_loaded_at_changed_ones_get_the_new_one(con):
    con.register("f", _staged(["1", "2"], ["Ann", "Bob"], "2026-01-01"))
    con.execute("INSERT INTO staging.customer_records BY NAME SELECT * FROM f")
    fresh = _staged(["1", "2", "3"], ["Ann", "Rob", "Cy"], "2026-02-01")
    kept = keep_loaded_at(con, "s", fresh)
    assert list(kept) == [pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01"), pd.Timestamp("2026-02-01")]


def test_rejected_again_keeps_first_rejected_at(con):
    first = pd.Timestamp("2026-01-01")
    con.execute("INSERT INTO staging.rejected_records VALUES ('s', NULL, '{\"a\":1}', 'empty id', ?), "
                "('s', '7', '{\"d\":\"x\"}', 'bad date', ?)", [first, first])
    again = pd.DataFrame({"silo": "s", "source_record_id": [None, "7", "8"],
                          "raw_row": ['{"a":1}', '{"d":"y"}', '{"d":"z"}'], "reason": ["empty id", "bad date", "bad date"]})
    now = datetime(2026, 2, 1)
    assert list(keep_rejected_at(con, "s", again, now)) == [first, pd.Timestamp(now), pd.Timestamp(now)]


KILL_MID_PUBLISH = """
import sys, duckdb, pandas as pd
from warehouse.publish import replace_tables
con = duckdb.connect(sys.argv[1])
xref = pd.DataFrame({"silo": "s", "source_record_id": ["9"], "customer_id": ["C9"], "match_probability": 1.0})
replace_tables(con, {"identity.customer_xref": xref, "marts.customers": pd.DataFrame({"customer_id": ["C9"]})})
"""


def test_process_killed_inside_the_publishing_transaction_leaves_the_previous_tables(tmp_path):
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        ensure_schema(con)
        con.execute("INSERT INTO identity.customer_xref VALUES ('s', '1', 'C1', 1.0, NULL)")
        con.execute("CREATE TABLE marts.customers AS SELECT 'C1' AS customer_id")
    result = subprocess.run([sys.executable, "-c", KILL_MID_PUBLISH, str(path)], cwd=REPO, capture_output=True, text=True,
                            env={"HUB_FAULT_INJECT": "during:publish:identity.customer_xref", "PATH": ""})
    assert result.returncode == EXIT_CODE, result.stderr
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT customer_id FROM identity.customer_xref").fetchall() == [("C1",)]
        assert con.execute("SELECT customer_id FROM marts.customers").fetchall() == [("C1",)]
    # without the fault the same write lands whole
    ok = subprocess.run([sys.executable, "-c", KILL_MID_PUBLISH, str(path)], cwd=REPO, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT customer_id FROM identity.customer_xref").fetchall() == [("C9",)]
        assert con.execute("SELECT customer_id FROM marts.customers").fetchall() == [("C9",)]


def test_the_stored_model_is_reused_unless_retraining_is_asked_for(con, monkeypatch):
    from identity_resolution.resolver import _untrained_model
    from pipelines.resolution import RETRAIN_ENV, stored_model

    monkeypatch.delenv(RETRAIN_ENV, raising=False)
    assert stored_model(con) is None  # first run: nothing stored, train
    model = _untrained_model()
    con.execute("INSERT INTO identity.model VALUES (?, now()::TIMESTAMP)", [model.to_json()])
    reused = stored_model(con)
    assert reused is not None and reused.to_json() == model.to_json()
    monkeypatch.setenv(RETRAIN_ENV, "1")
    assert stored_model(con) is None
    monkeypatch.delenv(RETRAIN_ENV)
    con.execute("UPDATE identity.model SET model_json = '{\"fields\": [{\"name\": \"shoe_size\", \"levels\": []}]}'")
    assert stored_model(con) is None  # comparisons changed since: retrain

"""Operations on a real hub: `hub status`, rejected rows listed and re-processed after a fix, and
an unreachable silo failing only its own assets (with retries from its silo file)."""
from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

from pipelines.build import MAIN_JOB, build_definitions

from ops_process import clean_env, ok

pytestmark = pytest.mark.slow


def test_status_shows_every_silo_on_time_and_reconciled(base_hub):
    result = ok(base_hub.hub("status", "--strict", extra_env={"COLUMNS": "200"}))
    for silo in ("accounting", "sales", "credit", "support", "marketing"):
        line = next(l for l in result.stdout.splitlines() if l.startswith(f"│ {silo} "))
        assert "on time" in line and "yes" in line, line
    assert "staging_quality" in result.stdout and "golden_records_valid" in result.stdout
    assert "All silos on time" in result.stdout


def test_status_flags_late_silos_and_failed_checks(hub_copy):
    with duckdb.connect(str(hub_copy.warehouse)) as con:
        con.execute("UPDATE ops.sync_runs SET finished_at = finished_at - INTERVAL 3 DAY WHERE silo = 'sales'")
        con.execute("UPDATE raw_sales._dlt_loads SET inserted_at = inserted_at - INTERVAL 3 DAY")
        con.execute("INSERT INTO ops.check_results (asset, check_name, silo, passed, failing_count, rows_checked, details, checked_at) "
                    "VALUES ('staging/credit', 'staging_quality', 'credit', FALSE, 2, 40, "
                    "'[{\"expectation\": \"expect_column_values_to_match_regex\", \"column\": \"email\", \"examples\": [\"x@\"]}]', now()::TIMESTAMP)")
    relaxed = ok(hub_copy.hub("status", extra_env={"COLUMNS": "200"}))
    sales = next(l for l in relaxed.stdout.splitlines() if l.startswith("│ sales "))
    assert "LATE" in sales
    accounting = next(l for l in relaxed.stdout.splitlines() if l.startswith("│ accounting "))
    assert "on time" in accounting
    assert "FAIL" in relaxed.stdout and "sales: late" in relaxed.stdout and "staging_quality failed" in relaxed.stdout
    strict = hub_copy.hub("status", "--strict")
    assert strict.returncode == 1


def append_sales_file(hub, rows: list[dict]) -> None:
    template = pd.read_csv(next((hub.demo / "sales").glob("customers_*.csv")), dtype=str, nrows=1)
    frame = pd.DataFrame([{**template.iloc[0].to_dict(), **row} for row in rows])
    frame.to_csv(hub.demo / "sales" / "customers_2099.csv", index=False)


def test_rejected_rows_are_listed_and_retried_after_a_fix(hub_copy):
    append_sales_file(hub_copy, [
        {"customer_id": "990001", "first_name": "Ottilie", "last_name": "Brandvold", "email": "ottilie.b@example.org",
         "last_purchase_date": "31/12/2025", "updated_at": "2099-01-01T00:00:00Z"},
        {"customer_id": "990002", "first_name": "Paavo", "last_name": "Kettunen", "email": "paavo.k@example.org",
         "last_purchase_date": "2025-12-30", "updated_at": "2099-01-01T00:00:00Z"},
    ])
    ok(hub_copy.hub("sync", "sales"))
    rejected = hub_copy.sql("SELECT source_record_id, reason, raw_row FROM staging.rejected_records WHERE silo = 'sales'")
    assert [r[0] for r in rejected] == ["990001"]
    assert "last_purchase_date" in rejected[0][1] and "31/12/2025" in rejected[0][1]
    assert "Ottilie" in rejected[0][2]  # the raw row is kept as the silo had it

    listed = ok(hub_copy.hub("rejected", "list", "sales", extra_env={"COLUMNS": "250"}))
    assert "990001" in listed.stdout and "31/12/2025" in listed.stdout and "Ottilie" in listed.stdout
    status = ok(hub_copy.hub("status", extra_env={"COLUMNS": "200"}))
    sales = next(l for l in status.stdout.splitlines() if l.startswith("│ sales "))
    assert re.search(r"│\s+1 │", sales) and "yes" in sales  # one rejected, counts still reconcile

    # The fix: the silo file learns the day-first format. Retry maps the raw rows again.
    path = hub_copy.silos / "sales.yaml"
    text = path.read_text().replace('formats: ["%Y-%m-%d"]', 'formats: ["%Y-%m-%d", "%d/%m/%Y"]')
    assert text != path.read_text()
    path.write_text(text)
    retried = ok(hub_copy.hub("rejected", "retry", "sales"))
    assert "staging__sales" in retried.stderr + retried.stdout
    assert hub_copy.sql("SELECT count(*) FROM staging.rejected_records WHERE silo = 'sales'")[0][0] == 0
    assert hub_copy.sql("SELECT count(*) FROM identity.customer_xref WHERE silo = 'sales' "
                        "AND source_record_id IN ('990001', '990002')")[0][0] == 2
    fact = hub_copy.sql("SELECT value_num FROM staging.customer_facts WHERE silo = 'sales' "
                        "AND source_record_id = '990001' AND fact = 'last_purchase_date'")
    assert len(fact) == 1
    # raw sync was not re-run by the retry: only staging and downstream
    loads = hub_copy.sql("SELECT count(*) FROM raw_sales._dlt_loads")[0][0]
    assert loads == hub_copy.sql("SELECT count(*) FROM ops.sync_runs WHERE silo = 'sales' AND step = 'stage'")[0][0] - 1


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(defs: dg.Definitions, job: str) -> dg.ExecuteInProcessResult:
    with dg.DagsterInstance.ephemeral() as instance:
        return defs.resolve_job_def(job).execute_in_process(instance=instance, raise_on_error=False)


def test_unreachable_silo_fails_only_its_own_assets(hub_copy, monkeypatch):
    path = hub_copy.silos / "support.yaml"
    config = yaml.safe_load(path.read_text())
    config["retries"] = {"max_retries": 2, "backoff_seconds": 1}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    for key, value in hub_copy.env.items():
        if key.startswith(("HUB_", "SUPPORT_API")):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("SUPPORT_API_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "1")  # dlt's own HTTP retries: keep the test short
    defs = build_definitions(warehouse=hub_copy.warehouse, silos=hub_copy.silos)

    # The silo's own job retries with the backoff from its file, then fails naming the silo.
    result = run(defs, "sync_support")
    assert not result.success
    retries = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert [e.step_key for e in retries] == ["raw_support", "raw_support"]
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert failure.step_key == "raw_support"
    assert "silo support" in failure.step_failure_data.error.to_string()

    # In the all-silo job the other silos still load and stage; only support's chain is skipped.
    everything = run(defs, MAIN_JOB)
    by_step = {}
    for event in everything.all_events:
        if event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            by_step[event.step_key] = event
    failed = {k for k, e in by_step.items() if e.event_type_value == "STEP_FAILURE"}
    assert failed == {"raw_support"}
    for silo in ("accounting", "sales", "credit", "marketing"):
        assert by_step[f"staging__{silo}"].event_type_value == "STEP_SUCCESS"
    message = by_step["raw_support"].step_failure_data.error.to_string()
    assert "silo support" in message


def test_a_first_sync_that_fails_names_its_cause_and_prints_no_traceback(tmp_path):
    """The retry policy's 'Exceeded max_retries of 1' said nothing of what failed, and the summary
    after it raised a traceback on a warehouse that was never created."""
    silos = tmp_path / "silos"
    silos.mkdir()
    (silos / "shop.yaml").write_text(
        "name: shop\nkind: files\nschedule: '0 * * * *'\nretries: {max_retries: 1, backoff_seconds: 1}\n"
        f"files:\n  tables:\n    - {{name: customers, path: {tmp_path / 'not_mounted'}, glob: '*.csv', primary_key: id}}\n"
        "mapping:\n  source_record_id: id\n  email: email\n")
    result = subprocess.run([sys.executable, "-m", "hub.cli", "sync", "shop", "--warehouse", str(tmp_path / "hub.duckdb")],
                            cwd=tmp_path, env={**clean_env(), "HUB_SILOS_DIR": str(silos), "HUB_HASH_KEY": "k",
                                               "COLUMNS": "400"},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert f"folder {tmp_path / 'not_mounted'} does not exist" in result.stdout
    assert "(after every retry)" in result.stdout and "Exceeded max_retries" not in result.stdout
    assert "nothing to summarise" in result.stdout and "Traceback" not in result.stdout + result.stderr

"""Erasure across a real re-sync: `hub demo`, `hub erase`, `hub demo` again — the person stays gone."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow


def hub(*args: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "hub.cli", *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def read(warehouse: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def raw_rows_of(warehouse: Path, records: list[tuple[str, str]]) -> int:
    """Raw rows (by each silo file's record id) of the given source records."""
    from hub.cli_serving import raw_tables_from_silos

    found = 0
    for silo, specs in raw_tables_from_silos().items():
        ids = [r for s, r in records if s == silo]
        for spec in specs:
            exists = read(warehouse, "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND "
                                     "table_name = ?", [f"raw_{silo}", spec.table])
            if ids and exists:
                found += read(warehouse, f'SELECT count(*) FROM "raw_{silo}"."{spec.table}" WHERE '
                                         f"{spec.key_sql()} IN (SELECT unnest(?))", [ids])[0][0]
    return found


def test_erased_customer_does_not_come_back_after_resync(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "SUPPORT_API", "DAGSTER_HOME"))}
    env["HUB_HASH_KEY"] = "resync-test-key"
    warehouse = tmp_path / "hub.duckdb"
    hub("demo", "--warehouse", str(warehouse), cwd=tmp_path, env=env)

    customer_id, emails = read(warehouse, "SELECT customer_id, emails FROM marts.customers WHERE len(silos) >= 3 "
                                          "AND len(emails) >= 1 ORDER BY customer_id LIMIT 1")[0]
    records = read(warehouse, "SELECT silo, source_record_id FROM identity.customer_xref WHERE customer_id = ?",
                   [customer_id])
    assert len(records) >= 3 and raw_rows_of(warehouse, records) >= 3

    hub("erase", "--customer", customer_id, "--yes", "--reason", "resync test", "--warehouse", str(warehouse),
        cwd=tmp_path, env=env)
    assert raw_rows_of(warehouse, records) == 0

    hub("demo", "--warehouse", str(warehouse), cwd=tmp_path, env=env)  # the silos still hold the person
    keys = [f"{s}|{r}" for s, r in records]
    for table in ("staging.customer_records", "identity.customer_xref", "staging.customer_facts"):
        back = read(warehouse, f"SELECT count(*) FROM {table} WHERE silo || '|' || source_record_id IN "
                               "(SELECT unnest(?))", [keys])[0][0]
        assert back == 0, table
    assert raw_rows_of(warehouse, records) == 0
    assert read(warehouse, "SELECT count(*) FROM marts.customers WHERE customer_id = ? OR "
                           "list_has_any(emails, ?)", [customer_id, list(emails)])[0][0] == 0
    audit = read(warehouse, "SELECT action, detail FROM ops.audit_log WHERE customer_id = ?", [customer_id])
    assert [a for a, _ in audit] == ["erase"] and "resync test" in audit[0][1]
    assert read(warehouse, "SELECT count(*) FROM ops.suppression")[0][0] >= len(records)

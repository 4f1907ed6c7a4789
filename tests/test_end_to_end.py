"""`hub demo` end to end: real silos (SQLite, CSV, Parquet, REST, CSV), dlt, Dagster, DuckDB."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from identity_resolution.evaluate import evaluate
from warehouse.schema import TABLES

pytestmark = pytest.mark.slow

SILOS = ("accounting", "sales", "credit", "support", "marketing")
MART_COLUMNS = {
    "marts.customers": ["customer_id", "given_name", "family_name", "full_name", "email", "phone", "emails",
                        "phones", "address_line", "city", "region", "postcode", "country", "birth_date",
                        "national_id_last4", "company", "silos", "record_count", "lineage"],
    "marts.customer_360": ["customer_id", "full_name", "email", "phone", "balance", "total_purchases",
                           "lifetime_value", "last_purchase_date", "credit_limit", "payment_terms",
                           "open_tickets", "subscribed"],
    "identity.match_scores": ["match_weight", "match_probability"],
}


def run_demo(warehouse: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "SUPPORT_API", "DAGSTER_HOME"))}
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "demo", "--warehouse", str(warehouse)],
        cwd=warehouse.parent, env=env, capture_output=True, text=True, timeout=900,
    )


def read(warehouse: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).df()


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("demo") / "hub.duckdb"
    first = run_demo(warehouse)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    xref_first = read(warehouse, "SELECT silo, source_record_id, customer_id FROM identity.customer_xref")
    second = run_demo(warehouse)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    return warehouse, first, xref_first


def columns_of(warehouse: Path, table: str) -> list[str]:
    schema, name = table.split(".")
    return read(warehouse, f"SELECT column_name FROM information_schema.columns "
                           f"WHERE table_schema = '{schema}' AND table_name = '{name}'")["column_name"].tolist()


def test_summary_is_printed(demo_runs):
    _, first, _ = demo_runs
    for text in ("Records per silo", *SILOS, "customers in 2plus silos", "pairwise f1", "bcubed f1"):
        assert text in first.stdout


def test_every_contract_table_exists_with_its_columns(demo_runs):
    warehouse, _, _ = demo_runs
    for table, columns in TABLES.items():
        assert set(columns) <= set(columns_of(warehouse, table)), table
    for table, columns in MART_COLUMNS.items():
        assert set(columns) <= set(columns_of(warehouse, table)), table
    assert len(read(warehouse, "SELECT * FROM marts.customer_360")) == len(read(warehouse, "SELECT * FROM marts.customers"))


def test_raw_rows_equal_staged_plus_rejected_per_silo(demo_runs):
    warehouse, _, _ = demo_runs
    tables = read(warehouse, "SELECT table_schema, table_name FROM information_schema.tables "
                             "WHERE table_schema LIKE 'raw_%' AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\'")
    for silo in SILOS:
        raw_tables = tables[tables.table_schema == f"raw_{silo}"]
        assert len(raw_tables), f"no raw tables for {silo}"
        raw = sum(int(read(warehouse, f'SELECT count(*) AS n FROM "raw_{silo}"."{t}"')["n"][0]) for t in raw_tables.table_name)
        staged = int(read(warehouse, f"SELECT count(*) AS n FROM staging.customer_records WHERE silo = '{silo}'")["n"][0])
        rejected = int(read(warehouse, f"SELECT count(*) AS n FROM staging.rejected_records WHERE silo = '{silo}'")["n"][0])
        assert raw > 0 and raw == staged + rejected, silo


def test_every_staged_record_maps_to_exactly_one_customer(demo_runs):
    warehouse, _, _ = demo_runs
    counts = read(warehouse, """
        SELECT s.silo, s.source_record_id, count(x.customer_id) AS n
        FROM staging.customer_records s LEFT JOIN identity.customer_xref x USING (silo, source_record_id)
        WHERE NOT coalesce(s.is_deleted, FALSE) GROUP BY ALL""")
    assert len(counts) > 1000
    assert (counts["n"] == 1).all()


def test_matching_quality_on_demo_ground_truth(demo_runs):
    warehouse, _, _ = demo_runs
    truth = pd.read_csv(warehouse.parent / "demo" / "truth.csv", dtype=str)
    predicted = read(warehouse, "SELECT silo, source_record_id, customer_id FROM identity.customer_xref")
    scores = evaluate(predicted, truth)
    assert scores["pairwise_f1"] >= 0.9, scores


def test_second_run_keeps_every_customer_id(demo_runs):
    warehouse, _, xref_first = demo_runs
    xref_second = read(warehouse, "SELECT silo, source_record_id, customer_id FROM identity.customer_xref")
    merged = xref_first.merge(xref_second, on=["silo", "source_record_id"], suffixes=("_1", "_2"))
    assert len(merged) == len(xref_first) == len(xref_second)
    assert (merged.customer_id_1 == merged.customer_id_2).all()


def test_golden_lineage_points_at_staged_records(demo_runs):
    warehouse, _, _ = demo_runs
    dangling = read(warehouse, """
        WITH chosen AS (
            SELECT json_extract_string(value, '$.silo') AS silo,
                   json_extract_string(value, '$.source_record_id') AS source_record_id
            FROM marts.customers, json_each(lineage::JSON))
        SELECT count(*) AS n FROM chosen LEFT JOIN staging.customer_records s USING (silo, source_record_id)
        WHERE s.silo IS NULL""")
    assert int(dangling["n"][0]) == 0

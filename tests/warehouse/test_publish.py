"""Atomic publishing: a failed write leaves the previous tables in place."""
from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from warehouse.publish import replace_silo_rows, replace_tables
from warehouse.schema import STAGING_COLUMNS


def _xref(ids):
    return pd.DataFrame({"silo": "s", "source_record_id": [str(i) for i in ids], "customer_id": [f"C{i}" for i in ids],
                         "match_probability": 1.0, "resolved_at": pd.Timestamp("2026-01-01")})


def test_replace_tables_swaps_contract_and_free_tables(con):
    replace_tables(con, {"identity.customer_xref": _xref([1, 2]), "marts.customers": pd.DataFrame({"customer_id": ["C1"]})})
    replace_tables(con, {"identity.customer_xref": _xref([3]), "marts.customers": pd.DataFrame({"customer_id": ["C3", "C4"]})})
    assert con.execute("SELECT list(source_record_id) FROM identity.customer_xref").fetchall()[0][0] == ["3"]
    assert con.execute("SELECT count(*) FROM marts.customers").fetchall()[0][0] == 2


def test_failed_publish_keeps_previous_tables(con):
    replace_tables(con, {"identity.customer_xref": _xref([1, 2]), "marts.customers": pd.DataFrame({"customer_id": ["C1"]})})
    broken = _xref([9]).assign(customer_id=None)  # violates NOT NULL on customer_id
    with pytest.raises(duckdb.Error):
        replace_tables(con, {"marts.customers": pd.DataFrame({"customer_id": ["C9"]}), "identity.customer_xref": broken})
    assert con.execute("SELECT count(*) FROM identity.customer_xref").fetchall()[0][0] == 2
    assert con.execute("SELECT list(customer_id) FROM marts.customers").fetchall()[0][0] == ["C1"]


def test_replace_silo_rows_touches_only_that_silo(con):
    def staged(silo, ids):
        return pd.DataFrame({"silo": silo, "source_record_id": ids, "given_name": "Ann"})

    replace_silo_rows(con, "a", {"staging.customer_records": staged("a", ["1", "2"])})
    replace_silo_rows(con, "b", {"staging.customer_records": staged("b", ["1"])})
    replace_silo_rows(con, "a", {"staging.customer_records": staged("a", ["3"])})
    rows = con.execute("SELECT silo, source_record_id FROM staging.customer_records ORDER BY ALL").fetchall()
    assert rows == [("a", "3"), ("b", "1")]
    columns = [r[0] for r in con.execute("DESCRIBE staging.customer_records").fetchall()]
    assert columns == list(STAGING_COLUMNS)

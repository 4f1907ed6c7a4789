"""customer_360 facts follow their declared aggregation; GX suites catch what they promise."""
from __future__ import annotations

import pandas as pd
import pytest

from warehouse import quality
from warehouse.models import customer_360_frame
from warehouse.publish import replace_silo_rows, replace_tables


@pytest.fixture()
def con(con):
    """The shared empty warehouse, filled with a small staged / resolved / golden example."""
    connection = con
    records = pd.DataFrame({
        "silo": ["acc", "acc", "sales", "crm"],
        "source_record_id": ["1", "2", "9", "4"],
        "given_name": ["Ann", "Ann", "Ann", "Bob"],
        "email": ["ann@x.com", None, "ann@x.com", "bob@x.com"],
        "phone": ["+12175550134", None, None, "+12175550199"],
        "birth_date": pd.to_datetime(["1980-01-02", None, None, "1975-05-05"]),
        "national_id_hash": ["h1", None, "h1", "h2"],
        "national_id_last4": ["1234", None, "1234", "9876"],
        "source_updated_at": pd.to_datetime(["2024-01-01", "2025-01-01", "2023-01-01", "2024-01-01"]),
        "is_deleted": False,
    })
    for silo, part in records.groupby("silo"):
        replace_silo_rows(connection, silo, {"staging.customer_records": part})
    facts = pd.DataFrame({
        "silo": ["acc", "acc", "sales", "sales", "acc", "acc"],
        "source_record_id": ["1", "2", "9", "9", "1", "2"],
        "fact": ["balance", "balance", "last_purchase_date", "subscribed", "terms", "terms"],
        "value_num": [10.5, 4.5, None, 1.0, None, None],
        "value_text": [None, None, "2024-05-01", None, "NET30", "NET60"],
        "agg": ["sum", "sum", "max", "any", "latest", "latest"],
    })
    replace_silo_rows(connection, "acc", {"staging.customer_facts": facts[facts.silo == "acc"]})
    replace_silo_rows(connection, "sales", {"staging.customer_facts": facts[facts.silo == "sales"]})
    xref = pd.DataFrame({"silo": ["acc", "acc", "sales", "crm"], "source_record_id": ["1", "2", "9", "4"],
                         "customer_id": ["CA", "CA", "CA", "CB"], "match_probability": 0.99})
    replace_tables(connection, {"identity.customer_xref": xref})
    golden = pd.DataFrame({"customer_id": ["CA", "CB"], "full_name": ["Ann", "Bob"],
                           "lineage": ['{"email": {"silo": "acc", "source_record_id": "1"}}',
                                       '{"email": {"silo": "crm", "source_record_id": "4"}}']})
    for column in ("given_name", "family_name", "email", "phone", "address_line", "city", "region", "postcode",
                   "country", "silos", "record_count", "last_updated_at"):
        golden[column] = None
    replace_tables(connection, {"marts.customers": golden})
    return connection


def test_customer_360_aggregates_each_fact_as_declared(con):
    view = customer_360_frame(con).set_index("customer_id")
    assert view.loc["CA", "balance"] == pytest.approx(15.0)
    assert view.loc["CA", "last_purchase_date"] == "2024-05-01"
    assert bool(view.loc["CA", "subscribed"]) is True
    assert view.loc["CA", "terms"] == "NET60"  # the most recently updated record wins
    assert pd.isna(view.loc["CB", "balance"])


def test_staging_suite_passes_clean_rows_and_names_bad_ones(con):
    assert quality.staging_suite(con).passed
    con.execute("INSERT INTO staging.customer_records (silo, source_record_id, email, phone) VALUES ('crm', '5', 'not-an-email', '555')")
    outcome = quality.staging_suite(con)
    assert not outcome.passed
    failing = {f["column"]: f for f in outcome.failures}
    assert failing["email"]["examples"] == ["not-an-email"]
    assert failing["phone"]["failing_count"] == 1
    assert quality.staging_suite(con, silo="acc").passed


def test_xref_suite_flags_unmapped_records(con):
    assert quality.xref_suite(con).passed
    con.execute("INSERT INTO staging.customer_records (silo, source_record_id) VALUES ('crm', '77')")
    outcome = quality.xref_suite(con)
    assert not outcome.passed and outcome.failures[0]["failing_count"] == 1


def test_customers_suite_rejects_duplicates_conflicts_and_fake_lineage(con):
    golden = con.execute("SELECT * FROM marts.customers").df()
    assert quality.customers_suite(con, golden).passed
    bad = pd.concat([golden, golden.iloc[[0]]], ignore_index=True)
    bad.loc[1, "lineage"] = '{"email": {"silo": "crm", "source_record_id": "does-not-exist"}}'
    outcome = quality.customers_suite(con, bad)
    assert not outcome.passed
    expectations = {f["expectation"] for f in outcome.failures}
    assert "expect_column_values_to_be_unique" in expectations
    assert "expect_column_values_to_be_in_set" in expectations
    con.execute("UPDATE staging.customer_records SET national_id_last4 = '1235' WHERE silo = 'crm'")
    con.execute("UPDATE identity.customer_xref SET customer_id = 'CA' WHERE silo = 'crm'")
    assert quality.customers_suite(con, golden).passed  # one digit apart: a typo, not two people
    con.execute("UPDATE staging.customer_records SET national_id_last4 = '9876' WHERE silo = 'crm'")
    conflict = quality.customers_suite(con, golden)
    assert any(f["column"] == "conflicting_national_ids" for f in conflict.failures)

"""Right to be forgotten: erase from every layer, keep only keyed hashes, stay erased across a re-sync."""
from __future__ import annotations

import hashlib
import hmac

import duckdb
import pandas as pd
import pytest

from warehouse.security import (
    CustomerNotFound, ErasureConfigError, HashKeyMissing, erase_customer, keyed_hash, keyed_hash_sql,
    purge_suppressed_raw, suppressed, warehouse_session, write_transaction,
)

from serving_warehouse import PEOPLE, RECORDS, raw_frames, staged_frame


def all_tables(con):
    return con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                       "WHERE table_type = 'BASE TABLE' ORDER BY 1, 2").fetchall()


def rows_mentioning(con, needles):
    """(table, count) of rows whose text contains any needle, across every table in the file."""
    found = {}
    for schema, table in all_tables(con):
        cond = " OR ".join(f"contains(CAST(t AS VARCHAR), '{n}')" for n in needles)
        n = con.execute(f'SELECT count(*) FROM "{schema}"."{table}" AS t WHERE {cond}').fetchall()[0][0]
        if n:
            found[f"{schema}.{table}"] = n
    return found


def test_sql_hmac_equals_python_hmac(hash_key):
    con = duckdb.connect()
    for key in (b"short", b"k" * 64, b"a-very-long-key-" * 10):
        values = ["alice@gmail.com", "+13125550199", "sales|S-1", "ünïcode"]
        got = [r[0] for r in con.execute(f"SELECT {keyed_hash_sql('email', 'v', key)} FROM unnest(?) WITH ORDINALITY "
                                         "AS t(v, i) ORDER BY i", [values]).fetchall()]
        assert got == [hmac.new(key, f"email:{v}".encode(), hashlib.sha256).hexdigest() for v in values]
        assert got == [keyed_hash("email", v, key) for v in values]


def test_erase_removes_person_everywhere_and_keeps_only_hashes(warehouse, hash_key):
    alice = warehouse.ids["alice"]
    needles = [alice, "Johnson", "JOHNSON", "alice.johnson", "2175550101", "A-100", "S-1", "CR-9", "nidhash-alice"]
    with warehouse_session(warehouse.path) as con:
        before = rows_mentioning(con, needles)
        others_before = rows_mentioning(con, [warehouse.ids["bob"], "Núñez"])
    assert {"raw_accounting.ledger_customers", "raw_sales.customers", "raw_credit.applications",
            "staging.customer_records", "identity.customer_xref", "marts.customers", "marts.customer_360",
            "identity.match_scores", "staging.customer_facts", "staging.rejected_records"} <= set(before)
    with write_transaction(warehouse.path) as con:
        report = erase_customer(con, alice, warehouse.raw_tables)
    assert report.source_records == 3 and report.customer_ids == [alice]
    assert report.deleted["raw_sales.customers__tags"] == 1  # dlt child rows of the erased sales record
    with warehouse_session(warehouse.path) as con:
        assert rows_mentioning(con, needles) == {}
        assert rows_mentioning(con, [warehouse.ids["bob"], "Núñez"]) == others_before
        tokens = con.execute("SELECT kind, token FROM ops.suppression").fetchall()
    kinds = {k for k, _ in tokens}
    assert kinds == {"email", "phone", "national_id", "source"}
    assert all(len(t) == 64 and set(t) <= set("0123456789abcdef") for _, t in tokens)
    expected = {keyed_hash("source", "sales|S-1"), keyed_hash("email", "alicejohnson@gmail.com"),
                keyed_hash("phone", "+12175550101"), keyed_hash("national_id", "nidhash-alice")}
    assert expected <= {t for _, t in tokens}


def test_erased_person_stays_out_after_a_resync(warehouse, hash_key):
    alice = warehouse.ids["alice"]
    with write_transaction(warehouse.path) as con:
        erase_customer(con, alice, warehouse.raw_tables)
    # the next sync loads every silo again (as a full refresh would) ...
    with write_transaction(warehouse.path) as con:
        for silo, frame in raw_frames().items():
            table, _ = warehouse.raw_tables[silo]
            con.register("_reload", frame)
            con.execute(f"INSERT INTO raw_{silo}.{table} BY NAME SELECT * FROM _reload "
                        f"WHERE _dlt_id NOT IN (SELECT _dlt_id FROM raw_{silo}.{table})")
            con.unregister("_reload")
        purged = purge_suppressed_raw(con, warehouse.raw_tables)
    assert purged["raw_accounting.ledger_customers"] == 1 and purged["raw_sales.customers"] == 1
    assert purged["raw_credit.applications"] == 1 and purged["raw_support.requesters"] == 0
    # ... and staging drops what matches the suppression list, including a new record of hers
    staged = staged_frame()
    new_record = staged[staged.source_record_id == "S-1"].assign(silo="marketing", source_record_id="M-77",
                                                                 email="Alice.Johnson+news@googlemail.com")
    stranger = staged[staged.source_record_id == "S-2"].assign(source_record_id="S-99", email="other@example.com",
                                                               phone="+19999999999")
    batch = pd.concat([staged, new_record, stranger], ignore_index=True).set_axis(range(100, 100 + len(staged) + 2))
    with warehouse_session(warehouse.path) as con:
        flags = suppressed(con, batch)
    assert flags.index.equals(batch.index)
    erased_keys = {("accounting", "A-100"), ("sales", "S-1"), ("credit", "CR-9"), ("marketing", "M-77")}
    expected = [(s, r) in erased_keys for s, r in zip(batch.silo, batch.source_record_id)]
    assert flags.tolist() == expected


def test_suppressed_is_all_false_without_erasures(warehouse, monkeypatch):
    monkeypatch.delenv("HUB_HASH_KEY", raising=False)
    with warehouse_session(warehouse.path) as con:
        flags = suppressed(con, staged_frame())
    assert not flags.any() and len(flags) == len(RECORDS)


def test_erasing_a_retired_id_erases_the_whole_person(warehouse, hash_key):
    (retired, bob), = warehouse.retired.items()
    with write_transaction(warehouse.path) as con:
        report = erase_customer(con, retired, warehouse.raw_tables)
    assert sorted(report.customer_ids) == sorted([retired, bob])
    with warehouse_session(warehouse.path) as con:
        assert rows_mentioning(con, [retired, bob, "Bob Smith"]) == {}
        assert con.execute("SELECT count(*) FROM raw_support.requesters").fetchall()[0][0] == 0


def test_erasure_refuses_without_key_or_mapping_and_changes_nothing(warehouse, monkeypatch):
    alice = warehouse.ids["alice"]
    monkeypatch.delenv("HUB_HASH_KEY", raising=False)
    with pytest.raises(HashKeyMissing):
        with write_transaction(warehouse.path) as con:
            erase_customer(con, alice, warehouse.raw_tables)
    monkeypatch.setenv("HUB_HASH_KEY", "k")
    partial = {k: v for k, v in warehouse.raw_tables.items() if k != "credit"}
    with pytest.raises(ErasureConfigError, match="credit"):
        with write_transaction(warehouse.path) as con:
            erase_customer(con, alice, partial)
    with pytest.raises(CustomerNotFound):
        with write_transaction(warehouse.path) as con:
            erase_customer(con, "Cdoesnotexist0000", warehouse.raw_tables)
    with warehouse_session(warehouse.path) as con:
        assert con.execute("SELECT count(*) FROM marts.customers WHERE customer_id = ?", [alice]).fetchall()[0][0] == 1
        assert con.execute("SELECT count(*) FROM raw_sales.customers").fetchall()[0][0] == 3

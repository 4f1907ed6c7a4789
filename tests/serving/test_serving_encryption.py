"""Encryption at rest with DuckDB's own database encryption; key from HUB_WAREHOUSE_KEY."""
from __future__ import annotations

import duckdb
import pytest

from warehouse.lookup import load_snapshot
from warehouse.query import run_query
from warehouse.security import (
    AuditLog, EncryptionSetupError, Principal, encrypt_warehouse, erase_customer, open_warehouse, read_audit,
    warehouse_session, write_transaction,
)


@pytest.fixture
def encrypted(warehouse, monkeypatch, tmp_path):
    monkeypatch.setenv("HUB_WAREHOUSE_KEY", "correct horse battery staple")
    monkeypatch.setenv("HUB_ALLOW_MBEDTLS_ENCRYPTION", "1")  # no httpfs extension on this machine
    target = encrypt_warehouse(warehouse.path, tmp_path / "secret.duckdb")
    return target


def test_encrypted_file_holds_no_readable_personal_data(warehouse, encrypted):
    plain, secret = warehouse.path.read_bytes(), encrypted.read_bytes()
    assert b"Johnson" in plain or b"JOHNSON" in plain  # the needle is findable in a plain file ...
    for needle in (b"Johnson", b"JOHNSON", b"alice.johnson", b"2175550101"):
        assert needle not in secret  # ... and not in the encrypted one


def test_encrypted_warehouse_serves_lookups_queries_and_writes(warehouse, encrypted, hash_key):
    with warehouse_session(encrypted) as con:
        snapshot = load_snapshot(con)
    assert [m.customer_id for m in snapshot.by_phone("217-555-0101")] == [warehouse.ids["alice"]]
    rows = run_query(encrypted, "SELECT email FROM marts.customers WHERE customer_id = "
                                f"'{warehouse.ids['alice']}'", Principal("ana", "analyst")).to_pylist()
    assert rows == [{"email": "a***@gmail.com"}]
    log = AuditLog(encrypted)
    log.record(Principal("desk", "agent"), "lookup", [warehouse.ids["alice"]])
    assert log.flush().written == 1
    with write_transaction(encrypted) as con:
        erase_customer(con, warehouse.ids["carol"], warehouse.raw_tables)
    with warehouse_session(encrypted) as con:
        assert len(read_audit(con)) == 1
        assert con.execute("SELECT count(*) FROM marts.customers").fetchall()[0][0] == 3


def test_audit_spool_of_an_encrypted_warehouse_is_encrypted_too(warehouse, encrypted):
    log = AuditLog(encrypted)
    detail = "SELECT * FROM marts.customers WHERE email = 'alice.johnson@gmail.com'"
    log.record(Principal("ana", "analyst"), "query", [warehouse.ids["alice"]], detail=detail)
    spooled = b"".join(p.read_bytes() for p in log.spool_dir.glob("*.jsonl"))
    assert spooled and b"alice.johnson" not in spooled and warehouse.ids["alice"].encode() not in spooled
    # a torn line left by a process that has exited (no such pid)
    (log.spool_dir / "spool-4999999-torn.jsonl").write_bytes(b"not a token\n")
    assert log.flush().written == 2  # the event, and a note that one line was unreadable
    with warehouse_session(encrypted) as con:
        rows = read_audit(con).set_index("action")["detail"].to_dict()
    assert rows == {"query": detail, "spool_damaged": "1 unreadable spool line(s) in 2 file(s)"}
    assert not list(log.spool_dir.glob("*.jsonl"))


def test_missing_or_wrong_key_is_a_clear_error(encrypted, monkeypatch):
    monkeypatch.delenv("HUB_WAREHOUSE_KEY")
    with pytest.raises(EncryptionSetupError, match="HUB_WAREHOUSE_KEY"):
        open_warehouse(encrypted, read_only=True)
    monkeypatch.setenv("HUB_WAREHOUSE_KEY", "wrong key")
    with pytest.raises(EncryptionSetupError, match="does not match"):
        open_warehouse(encrypted, read_only=True)


def test_writing_encrypted_without_secure_crypto_needs_explicit_opt_in(encrypted, monkeypatch):
    probe = duckdb.connect()
    try:
        probe.execute("LOAD httpfs")
        pytest.skip("httpfs is installed here, so encrypted writes use OpenSSL and need no opt-in")
    except duckdb.Error:
        pass
    finally:
        probe.close()
    monkeypatch.delenv("HUB_ALLOW_MBEDTLS_ENCRYPTION")
    with pytest.raises(EncryptionSetupError, match="httpfs"):
        open_warehouse(encrypted, read_only=False)
    con = open_warehouse(encrypted, read_only=True)  # reading never needs it
    con.close()

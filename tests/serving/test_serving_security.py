"""API keys, roles, masking of analyst queries, the audit log, and lock handling."""
from __future__ import annotations

import duckdb
import pytest

from warehouse.query import run_query
from warehouse.security import (
    AuditLog, PermissionDenied, Principal, QueryRejected, WarehouseBusy, authenticate, create_api_key,
    install_mask_macros, load_active_keys, mask_email, mask_national_id, mask_phone, mask_record, open_warehouse,
    read_audit, revoke_api_key, warehouse_session, write_transaction,
)

from serving_locks import writer_lock_held

ANALYST = Principal("ana", "analyst")
ADMIN = Principal("root", "admin")


def test_api_keys_are_stored_hashed_and_can_be_revoked(warehouse):
    with write_transaction(warehouse.path) as con:
        key_id, token = create_api_key(con, "desk-1", "agent")
    with warehouse_session(warehouse.path) as con:
        keys = load_active_keys(con)
        stored = con.execute("SELECT * FROM ops.api_keys").fetchall()
    who = authenticate(keys, token)
    assert who is not None and (who.name, who.role, who.key_id) == ("desk-1", "agent", key_id)
    assert authenticate(keys, token + "x") is None and authenticate(keys, None) is None
    assert token not in repr(stored)
    assert token.encode() not in warehouse.path.read_bytes()
    with write_transaction(warehouse.path) as con:
        assert revoke_api_key(con, key_id) is True
        assert revoke_api_key(con, key_id) is False
    with warehouse_session(warehouse.path) as con:
        assert authenticate(load_active_keys(con), token) is None


def test_unknown_role_is_refused(warehouse):
    with write_transaction(warehouse.path) as con, pytest.raises(ValueError, match="unknown role"):
        create_api_key(con, "x", "superuser")


def test_roles_limit_actions():
    Principal("a", "agent").require("lookup")
    with pytest.raises(PermissionDenied):
        Principal("a", "agent").require("query")
    with pytest.raises(PermissionDenied):
        ANALYST.require("erase")
    ADMIN.require("erase")


def test_python_and_sql_masks_agree():
    con = duckdb.connect()
    install_mask_macros(con)
    values = ["alice.johnson@gmail.com", "x@y.org", "no-at", "+13125550199", "(312) 555-0199", "123-45-6789", None]
    for sql_mask, py_mask in (("mask_email", mask_email), ("mask_phone", mask_phone),
                              ("mask_national_id", mask_national_id)):
        got = [r[0] for r in con.execute(f"SELECT {sql_mask}(v) FROM unnest(?) WITH ORDINALITY AS t(v, i) ORDER BY i",
                                         [values]).fetchall()]
        assert got == [py_mask(v) for v in values]
    assert mask_record({"email": "bob@example.com", "phones": ["+13125550199"], "national_id_last4": "6789",
                        "city": "Chicago", "national_id_is_partial": True}) == {
        "email": "b***@example.com", "phones": ["***99"], "national_id_last4": "***", "city": "Chicago",
        "national_id_is_partial": True}


def test_analyst_sql_sees_masked_identifiers(warehouse):
    masked = run_query(warehouse.path, "SELECT email, emails, phone, phones, national_id_last4 FROM marts.customers "
                                       "ORDER BY customer_id", ANALYST).to_pylist()
    plain = run_query(warehouse.path, "SELECT email, emails, phone, phones, national_id_last4 FROM marts.customers "
                                      "ORDER BY customer_id", ADMIN).to_pylist()
    assert len(masked) == len(plain) == 4
    for m, p in zip(masked, plain):
        assert m["email"] == mask_email(p["email"]) and m["email"] != p["email"]
        assert m["phones"] == [mask_phone(x) for x in p["phones"]]
        assert m["national_id_last4"] == mask_national_id(p["national_id_last4"])
    staged = run_query(warehouse.path, "SELECT national_id_hash, email FROM staging.customer_records "
                                       "WHERE national_id_hash IS NOT NULL OR email IS NOT NULL", ANALYST)
    text = repr(staged.to_pylist())
    assert "nidhash" not in text and "example.com" in text and "bob@" not in text
    # joins and aggregates work as usual over the masked views
    counts = run_query(warehouse.path, "SELECT count(*) AS n FROM identity.customer_xref x JOIN marts.customers c "
                                       "USING (customer_id)", ANALYST).to_pylist()
    assert counts == [{"n": 8}]


@pytest.mark.parametrize("sql", [
    "DROP TABLE marts.customers",
    "INSERT INTO marts.customers (customer_id) VALUES ('x')",
    "SELECT * FROM _warehouse.marts.customers",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM query('SELECT * FROM _warehouse.marts.customers')",
    "SELECT 1; SELECT 2",
    "ATTACH '/tmp/x.duckdb' AS x",
    "COPY marts.customers TO '/tmp/leak.csv'",
])
def test_analyst_cannot_escape_the_masked_views(warehouse, sql):
    with pytest.raises((QueryRejected, duckdb.Error)):
        run_query(warehouse.path, sql, ANALYST)


def test_analyst_cannot_see_raw_or_rejected_rows(warehouse):
    for table in ("raw_sales.customers", "staging.rejected_records", "ops.api_keys"):
        with pytest.raises(duckdb.CatalogException):
            run_query(warehouse.path, f"SELECT * FROM {table}", ANALYST)


def test_agent_may_not_run_sql(warehouse):
    with pytest.raises(PermissionDenied):
        run_query(warehouse.path, "SELECT 1", Principal("desk", "agent"))


def test_audit_events_are_flushed_once(warehouse):
    log = AuditLog(warehouse.path)
    agent = Principal("desk-7", "agent")
    log.record(agent, "lookup", [warehouse.ids["alice"], warehouse.ids["bob"]], detail="by name")
    log.record(ADMIN, "erase", [warehouse.ids["carol"]])
    assert log.flush().written == 3
    assert log.flush().written == 0
    with warehouse_session(warehouse.path) as con:
        rows = read_audit(con, actor="desk-7")
        assert sorted(rows["customer_id"]) == sorted([warehouse.ids["alice"], warehouse.ids["bob"]])
        assert set(rows["action"]) == {"lookup"} and set(rows["detail"]) == {"by name"}
        assert len(read_audit(con, customer_id=warehouse.ids["carol"])) == 1


def test_audit_waits_in_spool_while_a_sync_holds_the_file(warehouse):
    log = AuditLog(warehouse.path)
    log.record(ADMIN, "read_customer", [warehouse.ids["alice"]])
    with writer_lock_held(warehouse.path):
        result = log.flush(wait_seconds=0.2)
        assert result.written == 0 and result.pending_files == 1
        with pytest.raises(WarehouseBusy):
            open_warehouse(warehouse.path, read_only=True, wait_seconds=0.2)
    # a different process (e.g. the next CLI command) flushes what this one left behind
    assert AuditLog(warehouse.path).flush().written == 1
    with warehouse_session(warehouse.path) as con:
        assert len(read_audit(con, customer_id=warehouse.ids["alice"])) == 1


def test_reader_retries_until_the_writer_is_gone(warehouse):
    import threading

    with writer_lock_held(warehouse.path) as holder:
        releaser = threading.Timer(0.4, lambda: (holder.stdin.write("\n"), holder.stdin.flush()))
        releaser.start()
        con = open_warehouse(warehouse.path, read_only=True, wait_seconds=10)
        con.close()


def test_long_queries_are_interrupted(warehouse):
    import time

    from warehouse.query import QueryTimeout

    started = time.monotonic()
    with pytest.raises(QueryTimeout):
        run_query(warehouse.path, "SELECT sum(hash(i)) FROM range(100000000000) t(i)", ANALYST, timeout_seconds=0.5)
    assert time.monotonic() - started < 10


def test_torn_spool_lines_are_reported_not_silently_dropped(warehouse):
    log = AuditLog(warehouse.path)
    log.record(ADMIN, "read_customer", [warehouse.ids["bob"]])
    log.close()
    torn = log.spool_dir / "flushing-torn.jsonl"
    torn.write_text('{"event_id": "ok1", "occurred_at": "2026-01-01T00:00:00", "actor": "x", "role": "agent", '
                    '"action": "lookup", "customer_id": null, "detail": null}\n{"event_id": "half-writ\n')
    assert log.flush().written == 3
    with warehouse_session(warehouse.path) as con:
        actions = sorted(read_audit(con)["action"])
    assert actions == ["lookup", "read_customer", "spool_damaged"]

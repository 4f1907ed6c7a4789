"""The HTTP service on a real uvicorn on 127.0.0.1: keys, roles, lookups, redirects, erasure, audit, 503s."""
from __future__ import annotations

import time

import httpx
import pytest

from warehouse.security import read_audit, warehouse_session

from serving_locks import writer_lock_held


def client(server, role=None) -> httpx.Client:
    headers = {"X-API-Key": server.keys[role]} if role else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=10)


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_every_api_call_needs_a_valid_key(live_server):
    with client(live_server) as anonymous:
        assert anonymous.get("/health").json()["customers"] == 4
        assert anonymous.get("/lookup", params={"phone": "2175550101"}).status_code == 401
        bad = anonymous.get("/lookup", params={"phone": "2175550101"}, headers={"X-API-Key": "hub_nope_nope"})
        assert bad.status_code == 401 and "unknown" in bad.json()["detail"]


def test_agent_screen_pop_by_phone_email_and_name(live_server):
    ids = live_server.warehouse.ids
    with client(live_server, "agent") as agent:
        by_phone = agent.get("/lookup", params={"phone": "(217) 555-0101"}).json()
        assert by_phone["count"] == 1
        card = by_phone["matches"][0]["card"]
        assert card["customer_id"] == ids["alice"] and card["email"] == "alice.johnson@gmail.com"
        assert card["balance"] == 120.5 and card["payment_terms"] == "NET30"
        by_email = agent.get("/lookup", params={"email": "AliceJohnson+x@googlemail.com"}).json()
        assert [m["customer_id"] for m in by_email["matches"]] == [ids["alice"]]
        by_name = agent.get("/lookup", params={"name": "carol nunez"}).json()
        assert by_name["matches"][0]["customer_id"] == ids["carol"]
        assert agent.post("/query", json={"sql": "SELECT 1"}).status_code == 403
        assert agent.post("/erasure", json={"customer_id": ids["bob"]}).status_code == 403


def test_analyst_sees_masked_cards_and_sql(live_server):
    ids = live_server.warehouse.ids
    with client(live_server, "analyst") as analyst:
        card = analyst.get(f"/customers/{ids['alice']}").json()
        assert card["email"] == "a***@gmail.com" and card["phones"] == ["***01"] and card["national_id_last4"] == "***"
        result = analyst.post("/query", json={"sql": "SELECT email FROM marts.customers ORDER BY customer_id"}).json()
        assert result["columns"] == ["email"] and all("***@" in r["email"] for r in result["rows"])
        assert analyst.post("/query", json={"sql": "DROP TABLE marts.customers"}).status_code == 400
        assert analyst.post("/query", json={"sql": "SELECT nope FROM marts.customers"}).status_code == 400
        records = analyst.get(f"/customers/{ids['carol']}/records").json()
        assert all(r["national_id_hash"] in (None, "***") for r in records["records"])


def test_retired_ids_redirect_to_their_successor(live_server):
    (retired, successor), = live_server.warehouse.retired.items()
    with client(live_server, "agent") as agent:
        moved = agent.get(f"/customers/{retired}")
        assert moved.status_code == 308 and moved.headers["location"] == f"/customers/{successor}"
        followed = agent.get(f"/customers/{retired}", follow_redirects=True)
        assert followed.status_code == 200 and followed.json()["customer_id"] == successor
        records = agent.get(f"/customers/{retired}/records", follow_redirects=True).json()
        assert {(r["silo"], r["source_record_id"]) for r in records["records"]} == {("sales", "S-2"), ("support", "17")}
        assert records["lineage"]["email"]["silo"] == "sales"


BAD_REQUESTS = [
    ("/customers/Cunknown0000000", None, 404),
    ("/customers/bad%20id!", None, 422),
    ("/lookup", {"phone": "12", }, 400),
    ("/lookup", {"email": "not-an-email"}, 400),
    ("/lookup", {"phone": "2175550101", "email": "a@b.c"}, 400),
    ("/lookup", {}, 400),
    ("/lookup", {"name": "!!!"}, 400),
    ("/lookup", {"name": "alice", "limit": 0}, 422),
]


def test_bad_requests_get_clear_4xx(live_server):
    with client(live_server, "agent") as agent:
        for path, params, status in BAD_REQUESTS:
            response = agent.get(path, params=params)
            assert response.status_code == status, (path, params, response.text)
            assert response.json()["detail"]


def test_reads_are_audited_with_who_and_which_customer(live_server):
    ids = live_server.warehouse.ids
    with client(live_server, "agent") as agent:
        agent.get("/lookup", params={"phone": "3125550199"})
        agent.get(f"/customers/{ids['carol']}")
    with client(live_server, "admin") as admin:
        events = admin.get("/audit", params={"actor": "test-agent"}).json()["events"]
    seen = {(e["action"], e["customer_id"]) for e in events}
    assert ("lookup", ids["bob"]) in seen and ("read_customer", ids["carol"]) in seen
    assert all(e["role"] == "agent" and e["occurred_at"] for e in events)
    assert not any("555" in (e["detail"] or "") for e in events)  # the searched phone itself is not logged


def test_erasure_over_the_api(live_server):
    ids = live_server.warehouse.ids
    with client(live_server, "admin") as admin:
        response = admin.post("/erasure", json={"customer_id": ids["alice"], "reason": "ticket 42"})
        assert response.status_code == 200, response.text
        report = response.json()
        assert report["source_records"] == 3 and report["rows_deleted"] > 10
        assert admin.get(f"/customers/{ids['alice']}").status_code == 404
        assert admin.get("/lookup", params={"phone": "2175550101"}).json()["count"] == 0
        assert admin.post("/erasure", json={"customer_id": ids["alice"]}).status_code == 404
        events = admin.get("/audit", params={"customer_id": ids["alice"]}).json()["events"]
        assert any(e["action"] == "erase" and "ticket 42" in e["detail"] for e in events)


def test_busy_warehouse_gives_503_while_lookups_keep_working(live_server):
    ids = live_server.warehouse.ids
    with client(live_server, "agent") as agent, writer_lock_held(live_server.warehouse.path):
        busy = agent.get(f"/customers/{ids['bob']}/records")
        assert busy.status_code == 503 and busy.headers["retry-after"] == "2"
        assert "locked" in busy.json()["detail"]
        assert agent.get("/lookup", params={"phone": "3125550199"}).json()["count"] == 1
    # the audit events spooled meanwhile reach the warehouse once the lock is gone
    def audited():
        with warehouse_session(live_server.warehouse.path) as con:
            return len(read_audit(con, actor="test-agent", action="lookup")) >= 1
    assert wait_for(audited)


def test_new_keys_and_revocations_apply_without_restart(live_server):
    from warehouse.security import create_api_key, revoke_api_key, write_transaction

    with write_transaction(live_server.warehouse.path) as con:
        key_id, token = create_api_key(con, "late-desk", "agent")
    headers = {"X-API-Key": token}
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=10) as late:
        assert wait_for(lambda: late.get("/lookup", params={"name": "bob"}).status_code == 200)
        with write_transaction(live_server.warehouse.path) as con:
            revoke_api_key(con, key_id)
        assert wait_for(lambda: late.get("/lookup", params={"name": "bob"}).status_code == 401)


def test_review_queue_and_decisions(live_server):
    with client(live_server, "agent") as agent:
        assert agent.get("/review/queue").status_code == 403
    with client(live_server, "admin") as admin:
        queue = admin.get("/review/queue").json()
        assert queue["count"] == 1
        pair = queue["pairs"][0]
        assert pair["full_name_l"] == "Robert Smyth" and pair["full_name_r"] == "Bob Smith"
        assert admin.post("/review/decisions", json={"pair_id": "Pnope", "decision": "match"}).status_code == 404
        assert admin.post("/review/decisions", json={"pair_id": pair["pair_id"], "decision": "maybe"}).status_code == 422
        done = admin.post("/review/decisions", json={"pair_id": pair["pair_id"], "decision": "non_match",
                                                     "note": "different birth dates"})
        assert done.status_code == 200 and done.json()["reviewer"] == "test-admin"
        assert admin.get("/review/queue").json()["count"] == 0


def test_own_audit_writes_do_not_reload_but_others_writes_do(warehouse):
    from hub.serve.state import ServeSettings, ServingState
    from warehouse.security import Principal, create_api_key, write_transaction

    state = ServingState(ServeSettings(warehouse.path))
    assert state.refresh() and state.snapshot.size == 4
    first = state.snapshot
    state.audit.record(Principal("desk", "agent"), "lookup", [warehouse.ids["bob"]])
    assert state.flush_audit() == 1
    assert state.refresh() is False and state.snapshot is first  # our own write: no reload
    with write_transaction(warehouse.path) as con:
        create_api_key(con, "someone-else", "agent")
    assert state.refresh() is True and state.snapshot is not first
    assert any(p.name == "someone-else" for p in state.keys.values())
    state.audit.close()


def test_pages_and_openapi_are_served(live_server):
    with client(live_server) as anonymous:
        root = anonymous.get("/")
        assert root.status_code == 307 and root.headers["location"] == "/ui/"
        page = anonymous.get("/ui/")
        assert page.status_code == 200 and "screen pop" in page.text and "X-API-Key" not in page.text
        assert anonymous.get("/ui/review.html").status_code == 200
        spec = anonymous.get("/openapi.json").json()
    assert {"/lookup", "/customers/{customer_id}", "/customers/{customer_id}/records", "/erasure"} <= set(spec["paths"])
    assert "X-API-Key" in str(spec["components"]["securitySchemes"])

"""REST silos end to end against real HTTP servers on 127.0.0.1 that paginate and require a token."""
from __future__ import annotations

import json
import textwrap

import duckdb
import pandas as pd
import pytest
from silo_fixtures import REQUESTERS, TOKEN, SupportApi, demo_silo

from sources import SiloSyncError, check_silo, load_silo, map_records, read_raw, sync_silo


def raw_of(silo, warehouse) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return read_raw(silo, con)


def test_demo_support_silo_against_the_demo_server(demo_dir, hub_paths, monkeypatch):
    from hub.demo.rest_server import start_support_api

    warehouse, pipes = hub_paths
    data = demo_dir / "support" / "requesters.json"
    data.parent.mkdir()
    records = [dict(r) for r in REQUESTERS] * 1
    records += [{**r, "id": r["id"] + 100, "updated_at": r["updated_at"].replace("2024-04", "2024-05")}
                for r in REQUESTERS] * 30  # 217 records: three pages of 100
    records = list({r["id"]: r for r in records}.values())
    data.write_text(json.dumps(records))
    with start_support_api(data, TOKEN) as api:
        monkeypatch.setenv("SUPPORT_API_URL", api.url)
        monkeypatch.setenv("SUPPORT_API_TOKEN", TOKEN)
        silo = demo_silo("support")
        assert sync_silo(silo, warehouse, pipes).rows_loaded == {"requesters": len(records)}
        assert sync_silo(silo, warehouse, pipes).total_rows == 0  # updated_since: nothing new
        records[0] = {**records[0], "email": "changed@example.com", "updated_at": "2024-06-01T00:00:00Z"}
        data.write_text(json.dumps(records))
        assert sync_silo(silo, warehouse, pipes).rows_loaded == {"requesters": 1}
    raw = raw_of(silo, warehouse)
    assert len(raw) == len(records)
    mapped = map_records(silo, raw)
    rec = mapped.records.set_index("source_record_id")
    assert rec.loc[str(records[0]["id"]), "email"] == "changed@example.com"
    assert rec.loc["2", "full_name"] == "SMITH JOHN"  # free form: passed through for the resolver
    assert mapped.facts["fact"].unique().tolist() == ["open_tickets"]


def rest_silo(tmp_path, url: str, auth: str, paginator: str) -> object:
    params = "{}" if "offset" in paginator else "{per_page: 3}"
    path = tmp_path / "desk.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: desk
        kind: rest
        rest:
          base_url: {url}
          auth: {auth}
          paginator: {paginator}
          endpoints:
            - name: people
              path: /api/v1/requesters
              params: {params}
              data_selector: data
              primary_key: id
              incremental: {{param: updated_since, cursor_path: updated_at}}
        mapping: {{email: email, name: {{column: name, form: free}}}}
        facts: [{{name: open_tickets, column: open_tickets, agg: sum}}]
        """))
    return load_silo(path)


@pytest.mark.parametrize("auth, paginator", [
    ("{type: bearer, token: '${DESK_TOKEN}'}",
     "{type: page_number, page_param: page, base_page: 1, total_path: meta.total_pages}"),
    ("{type: api_key, name: X-Api-Key, api_key: '${DESK_TOKEN}'}",
     "{type: json_link, next_url_path: links.next}"),
    ("{type: http_basic, username: hub, password: '${DESK_TOKEN}'}",
     "{type: offset, limit: 3, offset_param: offset, limit_param: limit, total_path: meta.total}"),
    ("{type: bearer, token: '${DESK_TOKEN}'}",
     "{type: cursor, cursor_path: meta.next_cursor, cursor_param: cursor}"),
])
def test_auth_kinds_pagination_and_incremental_param(tmp_path, hub_paths, monkeypatch, auth, paginator):
    warehouse, pipes = hub_paths
    monkeypatch.setenv("DESK_TOKEN", TOKEN)
    with SupportApi([dict(r) for r in REQUESTERS]) as api:
        silo = rest_silo(tmp_path, api.url, auth, paginator)
        assert sync_silo(silo, warehouse, pipes).rows_loaded == {"people": 7}
        assert len(api.requests) == 3  # 7 records, 3 per page
        api.requests.clear()
        api.records.append({**REQUESTERS[0], "id": 99, "updated_at": "2024-05-01T00:00:00Z"})
        assert sync_silo(silo, warehouse, pipes).rows_loaded == {"people": 1}
        assert "updated_since=2024-04-07T12%3A00%3A00Z" in api.requests[0] or \
            "updated_since=2024-04-07T12:00:00Z" in api.requests[0]
    assert len(raw_of(silo, warehouse)) == 8
    # the token is in neither the warehouse nor dlt's state, schemas or traces
    leaks = [p for p in warehouse.parent.parent.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]
    assert leaks == []


def test_a_payments_api_shape_nested_address_lines_and_unix_times(tmp_path, hub_paths, monkeypatch):
    # the way payment and CRM APIs send a customer: the address an object with two street lines,
    # times as seconds since 1970, the birth date in milliseconds
    warehouse, pipes = hub_paths
    monkeypatch.setenv("DESK_TOKEN", TOKEN)
    people = [{"id": f"cus_{i}", "name": name, "email": f"p{i}@x.com", "updated_at": 1680000000 + i,
               "dob_ms": -315619200000,
               "address": {"line1": "12 Oak St", "line2": line2, "city": "Springfield", "postal_code": "62704"}}
              for i, (name, line2) in enumerate([("Ann Lee", "Apt 4"), ("Bo Ray", None)], start=1)]
    with SupportApi(people) as api:
        path = tmp_path / "pay.yaml"
        path.write_text(textwrap.dedent(f"""\
            name: pay
            kind: rest
            rest:
              base_url: {api.url}
              auth: {{type: bearer, token: '${{DESK_TOKEN}}'}}
              paginator: {{type: json_link, next_url_path: links.next}}
              endpoints:
                - name: customers
                  path: /api/v1/requesters
                  data_selector: data
                  primary_key: id
                  incremental: {{param: updated_since, cursor_path: updated_at, initial_value: 0}}
            mapping:
              name: {{column: name, form: first_last}}
              email: email
              address_line: {{columns: [address__line1, address__line2]}}
              city: address__city
              postcode: address__postal_code
              birth_date: dob_ms
              source_updated_at: updated_at
            """))
        silo = load_silo(path)
        assert sync_silo(silo, warehouse, pipes).rows_loaded == {"customers": 2}
        api.records.append({**people[0], "id": "cus_3", "updated_at": 1690000000})
        api.requests.clear()
        assert sync_silo(silo, warehouse, pipes).rows_loaded == {"customers": 1}  # only what changed since
        assert "updated_since=1680000002" in api.requests[0]
    mapped = map_records(silo, raw_of(silo, warehouse))
    assert mapped.rejected.empty
    rec = mapped.records.set_index("source_record_id")
    assert rec.loc["cus_1", ["address_line", "city", "postcode"]].tolist() == ["12 Oak St Apt 4", "Springfield", "62704"]
    assert rec.loc["cus_2", "address_line"] == "12 Oak St"
    assert rec.loc["cus_1", "birth_date"] == "1960-01-01"
    assert str(rec.loc["cus_2", "source_updated_at"]) == "2023-03-28 10:40:02"


@pytest.mark.parametrize("secret, works", [(TOKEN, True), ("wrong-client-secret", False)])
def test_oauth2_client_credentials(tmp_path, hub_paths, monkeypatch, secret, works):
    # a CRM's machine-to-machine login: the client id and secret buy a token, the token reads the pages
    warehouse, pipes = hub_paths
    monkeypatch.setenv("DESK_CLIENT_SECRET", secret)
    with SupportApi([dict(r) for r in REQUESTERS]) as api:
        silo = rest_silo(tmp_path, api.url, f"{{type: oauth2_client_credentials, access_token_url: '{api.url}/oauth/token', "
                         "client_id: hub, client_secret: '${DESK_CLIENT_SECRET}', "
                         "access_token_request_data: {scope: requesters.read}}",
                         "{type: json_link, next_url_path: links.next}")
        if works:
            assert sync_silo(silo, warehouse, pipes).rows_loaded == {"people": 7}
            assert len(api.token_requests) == 1 and api.token_requests[0]["scope"] == ["requesters.read"]
        else:
            with pytest.raises(SiloSyncError) as err:
                sync_silo(silo, warehouse, pipes)
            assert "401" in str(err.value) and "refused the credentials" in str(err.value)
            assert secret not in str(err.value), str(err.value)
    if works:  # the client secret is in neither the warehouse nor dlt's state, schemas or traces
        leaks = [p for p in warehouse.parent.parent.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
        assert leaks == []


def test_a_rate_limited_api_is_waited_for(tmp_path, hub_paths, monkeypatch):
    warehouse, pipes = hub_paths
    monkeypatch.setenv("DESK_TOKEN", TOKEN)
    with SupportApi([dict(r) for r in REQUESTERS]) as api:
        api.throttled = 2  # '429 Too Many Requests, Retry-After: 1' twice
        silo = rest_silo(tmp_path, api.url, "{type: bearer, token: '${DESK_TOKEN}'}",
                         "{type: json_link, next_url_path: links.next}")
        assert sync_silo(silo, warehouse, pipes).rows_loaded == {"people": 7}
        assert len(api.requests) == 5  # three pages, two of the asks turned away


def test_wrong_token_fails_clearly_without_printing_it(tmp_path, hub_paths, monkeypatch):
    warehouse, pipes = hub_paths
    monkeypatch.setenv("DESK_TOKEN", "wrong-secret-token")
    with SupportApi([dict(r) for r in REQUESTERS]) as api:
        silo = rest_silo(tmp_path, api.url, "{type: bearer, token: '${DESK_TOKEN}'}",
                         "{type: json_link, next_url_path: links.next}")
        with pytest.raises(SiloSyncError) as err:
            sync_silo(silo, warehouse, pipes)
        problems = check_silo(silo).problems
    msg = str(err.value)
    assert msg.startswith("silo desk: extract failed table people: HTTPError: 401")
    assert "refused the credentials" in msg and "wrong-secret-token" not in msg
    assert err.value.table == "people"
    assert "cannot read table people" in problems[0] and "wrong-secret-token" not in problems[0]


def test_unreachable_api_fails_only_its_own_silo(tmp_path, hub_paths, monkeypatch, demo_dir):
    warehouse, pipes = hub_paths
    monkeypatch.setenv("DESK_TOKEN", TOKEN)
    with SupportApi([]) as api:
        url = api.url  # a port that was just closed
    silo = rest_silo(tmp_path, url, "{type: bearer, token: '${DESK_TOKEN}'}", "{type: json_link, next_url_path: links.next}")
    silo.retries.max_retries = 0
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "1")  # dlt's own HTTP retries, kept short here
    with pytest.raises(SiloSyncError, match=r"silo desk: extract failed table people: Connection\w*Error.*reachable"):
        sync_silo(silo, warehouse, pipes)
    # another silo in the same warehouse still syncs
    assert sync_silo(demo_silo("marketing"), warehouse, pipes).rows_loaded == {"subscribers": 2}


def test_check_shows_sample_rows(tmp_path, monkeypatch):
    monkeypatch.setenv("DESK_TOKEN", TOKEN)
    with SupportApi([dict(r) for r in REQUESTERS]) as api:
        report = check_silo(rest_silo(tmp_path, api.url, "{type: bearer, token: '${DESK_TOKEN}'}",
                                      "{type: json_link, next_url_path: links.next}"))
    assert report.ok, report.problems
    assert report.columns["people"] == ["id", "name", "email", "phone", "open_tickets", "updated_at"]
    assert 3 <= len(report.sample) <= 7

"""The support API serves requesters.json over real HTTP with paging, filtering and a bearer token."""
from __future__ import annotations

import json

import pytest
import requests

from hub.demo.rest_server import start_support_api

TOKEN = "s3cret-test-token"


def requester(i: int, updated_at: str) -> dict:
    return {"id": i, "name": f"Person {i}", "email": f"p{i}@example.com", "phone": None, "open_tickets": i % 3,
            "updated_at": updated_at}


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "requesters.json"
    rows = [requester(i, f"2024-01-{(i % 28) + 1:02d}T10:00:00Z") for i in range(1, 251)]
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


@pytest.fixture
def api(data_file):
    with start_support_api(data_file, TOKEN) as server:
        yield server


def get(api, token=TOKEN, **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(api.url + "/api/v1/requesters", params=params, headers=headers, timeout=10)


def test_url_is_a_local_http_base(api):
    assert api.url.startswith("http://127.0.0.1:") and not api.url.endswith("/")


def test_follows_next_links_through_every_page(api):
    seen, url, pages = [], api.url + "/api/v1/requesters?per_page=40", 0
    while url:
        body = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).json()
        pages += 1
        assert body["meta"]["page"] == pages and body["meta"]["total_pages"] == 7
        seen += [r["id"] for r in body["data"]]
        url = body["links"]["next"]
    assert pages == 7
    assert sorted(seen) == list(range(1, 251))


def test_default_page_size_is_100(api):
    body = get(api).json()
    assert len(body["data"]) == 100 and body["meta"]["page"] == 1


def test_updated_since_filters_and_survives_paging(api):
    body = get(api, updated_since="2024-01-20T00:00:00Z", per_page=10).json()
    expected = sum(1 for i in range(1, 251) if (i % 28) + 1 >= 20)
    assert body["meta"]["total"] == expected
    nxt = requests.get(body["links"]["next"], headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).json()
    assert nxt["meta"]["total"] == expected
    assert all(r["updated_at"] >= "2024-01-20" for r in body["data"] + nxt["data"])


def test_rejects_missing_or_wrong_token(api):
    for token in (None, "wrong"):
        response = get(api, token=token)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"


@pytest.mark.parametrize("params", [{"page": "0"}, {"per_page": "abc"}, {"per_page": "5000"},
                                    {"updated_since": "yesterday"}])
def test_bad_parameters_get_400_naming_the_parameter(api, params):
    response = get(api, **params)
    assert response.status_code == 400
    assert next(iter(params)) in response.json()["message"]


def test_rereads_the_file_on_each_request(api, data_file):
    assert get(api).json()["meta"]["total"] == 250
    data_file.write_text(json.dumps([requester(1, "2025-05-05T00:00:00Z")]), encoding="utf-8")
    body = get(api).json()
    assert body["meta"]["total"] == 1 and body["links"]["next"] is None


def test_stop_closes_the_port(data_file):
    server = start_support_api(data_file, TOKEN)
    url = server.url
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/api/v1/requesters", timeout=2)


def test_refuses_to_start_without_token_or_file(tmp_path, data_file):
    with pytest.raises(ValueError, match="token"):
        start_support_api(data_file, "")
    with pytest.raises(FileNotFoundError, match="missing.json"):
        start_support_api(tmp_path / "missing.json", TOKEN)

"""`hub silos new rest`: one page of a real API on 127.0.0.1, shaped as the APIs departments use
page (Django REST framework, OData, GitHub's Link header, Slack's and Google's cursors, HubSpot,
offsets, page counts, one page), read into a silo file that then syncs every page unedited."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from silo_fixtures import TOKEN
from typer.testing import CliRunner

from hub.cli_silos import app
from sources import load_silo, sync_silo
from sources.rest_starter import rest_starter

PEOPLE = [
    {"id": f"C{n}", "first_name": first, "last_name": last, "email": f"{first.lower()}@example.org",
     "mobile": f"+1415555{n:04d}", "updated_at": f"2024-04-0{n}T10:00:00Z"}
    for n, (first, last) in enumerate([("Ann", "Lee"), ("Bob", "Stone"), ("Cy", "Park"), ("Di", "Ross"),
                                       ("Ed", "Wu"), ("Flo", "Diaz"), ("Gus", "Kim")], start=1)
]
PER_PAGE = 3


def page_of(style: str, query: dict, base: str, people: list[dict] = PEOPLE) -> tuple[object, dict]:
    """(body, headers) of one page of `people` in the API style."""
    if "updated_since" in query and style != "one_page":  # the API's changed-since filter (one_page has none)
        return page_of(style, {k: v for k, v in query.items() if k != "updated_since"}, base,
                       [p for p in people if p["updated_at"] >= query["updated_since"]])
    number = int(query.get("page") or query.get("$skiptoken") or query.get("cursor") or query.get("pageToken")
                 or query.get("after") or 1)
    offset = int(query.get("offset", (number - 1) * PER_PAGE))
    rows = people[offset: offset + PER_PAGE]
    more = offset + PER_PAGE < len(people)
    following = number + 1 if more else None
    link = f"{base}?{{}}={following}" if more else None
    if style == "drf":
        return {"count": len(people), "next": link and link.format("page"), "previous": None, "results": rows}, {}
    if style == "odata":
        return {"@odata.context": f"{base}/$metadata#contacts", "value": rows,
                **({"@odata.nextLink": link.format("$skiptoken")} if more else {})}, {}
    if style == "github":
        return rows, ({"Link": f'<{link.format("page")}>; rel="next", <{base}?page=3>; rel="last"'} if more else {})
    if style == "slack":
        return {"ok": True, "members": rows, "response_metadata": {"next_cursor": str(following or "")}}, {}
    if style == "google":
        return {"customers": rows, **({"nextPageToken": str(following)} if more else {})}, {}
    if style == "hubspot":
        return {"results": [{"id": r["id"], "properties": {k: v for k, v in r.items() if k != "id"}} for r in rows],
                **({"paging": {"next": {"after": str(following), "link": link.format("after")}}} if more else {})}, {}
    if style == "offset":
        return {"total": len(people), "offset": offset, "limit": PER_PAGE, "customers": rows}, {}
    if style == "pages":
        return {"data": rows, "meta": {"page": number, "total_pages": -(-len(people) // PER_PAGE)}}, {}
    return people, {}  # one page


class ShapedApi:
    """GET /v1/customers in one API style, bearer TOKEN; every path requested is kept."""

    def __init__(self, style: str):
        self.requests: list[str] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                api.requests.append(self.path)
                url = urlparse(self.path)
                if self.headers.get("Authorization") != f"Bearer {TOKEN}" and self.headers.get("X-Api-Key") != TOKEN:
                    return self._send(401, {"error": "unauthorized"}, {})
                if url.path == "/v1/text":
                    return self._send(200, "<html>login</html>", {"Content-Type": "text/html"})
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                self._send(200, *page_of(style, query, f"{api.url}/v1/customers"))

            def _send(self, code, body, headers):
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(code)
                headers = {"Content-Type": "application/json", **headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("style, paginator", [
    ("drf", {"type": "json_link", "next_url_path": "next"}),
    ("odata", {"type": "json_link", "next_url_path": "'@odata.nextLink'"}),
    ("github", {"type": "header_link"}),
    ("slack", {"type": "cursor", "cursor_path": "response_metadata.next_cursor", "cursor_param": "cursor"}),
    ("google", {"type": "cursor", "cursor_path": "nextPageToken", "cursor_param": "pageToken"}),
    ("hubspot", {"type": "json_link", "next_url_path": "paging.next.link"}),
    ("offset", {"type": "offset", "limit": 3, "offset_param": "offset", "limit_param": "limit", "total_path": "total"}),
    ("pages", {"type": "page_number", "page_param": "page", "base_page": 1, "total_path": "meta.total_pages"}),
    ("one_page", {"type": "single_page"}),
])
def test_the_starter_reads_how_an_api_pages_and_its_file_syncs_every_page(style, paginator, tmp_path, hub_paths,
                                                                          monkeypatch):
    monkeypatch.setenv("DESK_TOKEN", TOKEN)
    endpoint = "v1/customers?limit=3" if style == "offset" else "v1/customers"
    with ShapedApi(style) as api:
        text = rest_starter("desk", api.url, endpoint, "DESK_TOKEN")
        (tmp_path / "desk.yaml").write_text(text)
        silo = load_silo(tmp_path / "desk.yaml")  # valid as written, no edit
        spec, table = silo.rest, silo.rest.endpoints[0]
        assert spec.paginator == paginator, text
        assert table.primary_key == ["id"]
        if style == "one_page":  # an API that filters by no parameter the starter tries
            assert table.incremental is None and "# incremental:" in text
        else:
            cursor = "properties.updated_at" if style == "hubspot" else "updated_at"
            assert (table.incremental.param, table.incremental.cursor_path) == ("updated_since", cursor), text
        names = ("properties__first_name", "properties__last_name") if style == "hubspot" else ("first_name", "last_name")
        assert (silo.mapping.given_name.column, silo.mapping.family_name.column) == names
        assert silo.mapping.email is not None and silo.mapping.phone is not None
        api.requests.clear()
        assert sync_silo(silo, *hub_paths).rows_loaded == {"customers": len(PEOPLE)}
        assert len(api.requests) == (1 if style == "one_page" else 3)


def test_an_api_key_header_is_probed_with_and_written_for_the_sync(tmp_path, hub_paths, monkeypatch):
    monkeypatch.setenv("DESK_KEY", TOKEN)
    with ShapedApi("drf") as api:
        (tmp_path / "desk.yaml").write_text(rest_starter("desk", api.url, "v1/customers", "DESK_KEY", "X-Api-Key"))
        silo = load_silo(tmp_path / "desk.yaml")
        assert silo.rest.auth.type == "api_key" and silo.rest.auth.name == "X-Api-Key"
        assert sync_silo(silo, *hub_paths).rows_loaded == {"customers": len(PEOPLE)}


def test_what_the_starter_cannot_read_is_named_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("DESK_TOKEN", TOKEN)
    with ShapedApi("drf") as api:
        with pytest.raises(ValueError, match=r"401 — the API refused the probe; give its token with --token-env"):
            rest_starter("desk", api.url, "v1/customers")
        with pytest.raises(ValueError, match=r"v1/text: the answer is not JSON \(text/html\)"):
            rest_starter("desk", api.url, "v1/text", "DESK_TOKEN")
        url = api.url
    with pytest.raises(OSError, match=rf"{url}/v1/customers: no answer .*is the API reachable"):
        rest_starter("desk", url, "v1/customers", "DESK_TOKEN")
    monkeypatch.delenv("DESK_TOKEN")
    with pytest.raises(ValueError, match="environment variable DESK_TOKEN is not set"):
        rest_starter("desk", url, "v1/customers", "DESK_TOKEN")


def test_hub_silos_new_rest_writes_the_file_read_from_the_api(tmp_path, monkeypatch):
    monkeypatch.setenv("DESK_TOKEN", TOKEN)
    with ShapedApi("odata") as api:
        result = CliRunner().invoke(app, ["new", "rest", "desk", "--base-url", api.url, "--endpoint", "v1/customers",
                                          "--token-env", "DESK_TOKEN", "--silos", str(tmp_path)])
        assert result.exit_code == 0, result.output
        text = (tmp_path / "desk.yaml").read_text()
        assert "data_selector: value" in text and "@odata.nextLink" in text and TOKEN not in text
        failed = CliRunner().invoke(app, ["new", "rest", "other", "--base-url", api.url, "--endpoint", "v1/text",
                                          "--token-env", "DESK_TOKEN", "--silos", str(tmp_path)])
    assert failed.exit_code == 2 and "the answer is not JSON" in failed.output
    assert not (tmp_path / "other.yaml").exists()

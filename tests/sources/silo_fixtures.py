"""Helpers and fixtures: small demo silos in tmp dirs, a real paginating HTTP API on 127.0.0.1, fresh dlt state."""
from __future__ import annotations

import base64
import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
TOKEN = "test-token-7f3a"

LEDGER = [
    ("A-001", "SMITH, John", "12 Oak St Apt 4, Springfield, IL 62704", "(217) 555-0101", 120.50, "2024-01-01T10:00:00"),
    ("A-002", "Doe, Jane", "99 Elm Ave, Chicago, IL 60601", "312.555.0199", 0.0, "2024-01-02T10:00:00"),
    ("A-003", "O'Brien, Mary Ann", "7 Pine Rd, Peoria, IL 61602-1234", "309-555-0123", -15.25, "2024-01-03T10:00:00"),
]


def write_ledger(path: Path, rows=LEDGER) -> None:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE IF NOT EXISTS ledger_customers (account_no TEXT PRIMARY KEY, customer_name TEXT, "
                "billing_address TEXT, phone TEXT, balance NUMERIC, updated_at TEXT)")
    con.executemany("INSERT OR REPLACE INTO ledger_customers VALUES (?,?,?,?,?,?)", rows)
    con.commit()
    con.close()


def write_sales(folder: Path, name: str = "customers_1.csv", rows=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = rows or [
        dict(customer_id="S1", first_name="John", last_name="Smith", email="john.smith@example.com",
             phone="217-555-0101", ship_street="12 Oak St", ship_city="Springfield", ship_state="IL",
             ship_zip="02704", total_purchases="3", lifetime_value="150.25", last_purchase_date="2024-02-01",
             updated_at="2024-02-01T09:00:00"),
        dict(customer_id="S2", first_name="Ann", last_name="Lee", email="ann@example.com", phone="",
             ship_street="1 Main St", ship_city="Austin", ship_state="TX", ship_zip="73301",
             total_purchases="1", lifetime_value="20", last_purchase_date="2024-03-05",
             updated_at="2024-03-05T09:00:00"),
    ]
    path = folder / name
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def write_credit(folder: Path, rows=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(rows or [
        dict(application_id="C1", applicant_name="John Q Smith", dob="1984-03-07", ssn="123-45-6789",
             credit_limit=5000.0, payment_terms="NET30", updated_at="2024-01-05T00:00:00"),
        dict(application_id="C2", applicant_name="Jane Doe", dob="03/07/1990", ssn="XXX-XX-4321",
             credit_limit=2500.0, payment_terms="NET60", updated_at="2024-01-06T00:00:00"),
        dict(application_id="C3", applicant_name="Bob Stone Jr.", dob="7 Mar 1975", ssn=None,
             credit_limit=1000.0, payment_terms="NET30", updated_at="2024-01-07T00:00:00"),
        dict(application_id="C4", applicant_name="Eve Adams", dob="19991231", ssn="987-65-4321",
             credit_limit=750.0, payment_terms="NET15", updated_at="2024-01-08T00:00:00"),
    ])
    frame = frame.assign(home_address="2 Oxford Dr, Dallas, TX 75233", phone="469.772.8233",
                         email=None, employer="Wells Fargo")
    path = folder / "applications.parquet"
    frame.to_parquet(path, index=False)
    return path


def write_marketing(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "subscribers.csv"
    pd.DataFrame([
        dict(subscriber_id="M1", email="JOHN.SMITH@example.com", first_name="Johnny", postcode="62704",
             subscribed="true", signup_date="2023-05-01"),
        dict(subscriber_id="M2", email="ann@example.com", first_name="Ann", postcode="73301",
             subscribed="false", signup_date="2023-06-01"),
    ]).to_csv(path, index=False)
    return path


REQUESTERS = [
    {"id": i, "name": n, "email": f"user{i}@example.com", "phone": "555-010" + str(i % 10),
     "open_tickets": i % 3, "updated_at": f"2024-04-{i:02d}T12:00:00Z"}
    for i, n in enumerate(["john smith", "SMITH JOHN", "Jane Doe", "Mary O'Brien", "Bob Stone",
                           "Eve Adams", "Ann Lee"], start=1)
]


class SupportApi:
    """A real HTTP server: bearer / X-Api-Key / basic (hub:TOKEN) auth, page/per_page,
    offset/limit or cursor pagination, next links, updated_since filtering; it records each request path."""

    def __init__(self, records: list[dict]):
        self.records = records
        self.requests: list[str] = []
        self.token_requests: list[dict] = []
        self.throttled = 0  # answer this many next GETs with 429 Too Many Requests
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):  # noqa: N802
                api.requests.append(self.path)
                if api.throttled > 0:  # a rate limit: come back in a second
                    api.throttled -= 1
                    return self._send(429, {"error": "too many requests"}, {"Retry-After": "1"})
                url = urlparse(self.path)
                basic = "Basic " + base64.b64encode(f"hub:{TOKEN}".encode()).decode()
                if self.headers.get("Authorization") not in (f"Bearer {TOKEN}", basic) and \
                        self.headers.get("X-Api-Key") != TOKEN:
                    return self._send(401, {"error": "unauthorized"})
                if url.path != "/api/v1/requesters":
                    return self._send(404, {"error": "not found"})
                q = {k: v[0] for k, v in parse_qs(url.query).items()}
                page = int(q.get("page", q.get("cursor", 1)))  # an opaque cursor is the page number here
                per_page = int(q.get("per_page", q.get("limit", 3)))
                since = q.get("updated_since", "")
                rows = [r for r in api.records if (r["updated_at"] >= float(since or 0) if isinstance(r["updated_at"], int)
                                                   else r["updated_at"] >= since)]
                pages = max(1, -(-len(rows) // per_page))
                start = int(q["offset"]) if "offset" in q else (page - 1) * per_page
                chunk = rows[start: start + per_page]
                nxt = None
                if page < pages:
                    nxt = f"http://127.0.0.1:{api.port}/api/v1/requesters?page={page + 1}&per_page={per_page}"
                    if "updated_since" in q:
                        nxt += f"&updated_since={q['updated_since']}"
                self._send(200, {"data": chunk, "meta": {"page": page, "total_pages": pages, "total": len(rows),
                                                          "next_cursor": str(page + 1) if page < pages else None},
                                 "links": {"next": nxt}})

            def do_POST(self):  # noqa: N802 - an OAuth 2 token endpoint: client 'hub' with secret TOKEN
                form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
                if urlparse(self.path).path != "/oauth/token" or form.get("grant_type") != ["client_credentials"]:
                    return self._send(400, {"error": "unsupported_grant_type"})
                if form.get("client_id") != ["hub"] or form.get("client_secret") != [TOKEN]:
                    return self._send(401, {"error": "invalid_client"})
                api.token_requests.append(form)
                self._send(200, {"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600})

            def _send(self, code, body, headers=None):
                data = json.dumps(body).encode()
                self.send_response(code)
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def support_api(monkeypatch):
    with SupportApi([dict(r) for r in REQUESTERS]) as api:
        monkeypatch.setenv("SUPPORT_API_URL", api.url)
        monkeypatch.setenv("SUPPORT_API_TOKEN", TOKEN)
        yield api


@pytest.fixture
def demo_dir(tmp_path, monkeypatch) -> Path:
    demo = tmp_path / "demo"
    demo.mkdir()
    write_ledger(demo / "accounting.sqlite")
    write_sales(demo / "sales")
    write_credit(demo / "credit")
    write_marketing(demo / "marketing")
    monkeypatch.setenv("HUB_DEMO_DIR", str(demo))
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    return demo


@pytest.fixture
def hub_paths(tmp_path, monkeypatch):
    """Warehouse file and dlt pipelines dir private to one test."""
    monkeypatch.chdir(tmp_path)
    return tmp_path / "wh" / "hub.duckdb", tmp_path / "dlt_pipelines"


def demo_silo(name: str):
    from sources import load_silo

    return load_silo(REPO / "silos" / f"{name}.yaml")


def one_file_drop_silo(tmp_path: Path, file_name: str, content: bytes, table: str, mapping: str, silo: str = "shop"):
    """A files silo (country FR) over a drop folder holding one file, written with `content`: its
    one table `table` (YAML flow keys beside path and glob: 'name: people, primary_key: id'), its
    `mapping` (a YAML flow mapping); the glob is the file's extensions ('*.csv.gz')."""
    from sources import load_silo

    drop = tmp_path / "drop"
    drop.mkdir(exist_ok=True)
    (drop / file_name).write_bytes(content)
    path = tmp_path / f"{silo}.yaml"
    path.write_text(f"name: {silo}\nkind: files\ncountry: FR\nfiles:\n  tables:\n"
                    f"    - {{{table}, path: {drop}, glob: \"*.{file_name.split('.', 1)[1]}\"}}\nmapping: {mapping}\n")
    return load_silo(path)

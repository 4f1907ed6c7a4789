"""The support desk's REST API, served from `support/requesters.json` on 127.0.0.1.

GET /api/v1/requesters?page=N&per_page=M&updated_since=ISO with `Authorization: Bearer <token>`
returns {"data": [...], "meta": {"page", "per_page", "total", "total_pages"}, "links": {"next"}}.
The JSON file is re-read on every request, so a changed file shows up at the next sync.
Run standalone: `python -m hub.demo.rest_server support/requesters.json --port 8765`
(token from $SUPPORT_API_TOKEN).
"""
from __future__ import annotations

import argparse
import hmac
import json
import math
import os
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ENDPOINT = "/api/v1/requesters"
MAX_PER_PAGE = 1000


class BadRequest(ValueError):
    """A query parameter the API cannot accept; the message names it."""


class SupportApi:
    """A running support API server; `.url` is its base URL. Stop with `.stop()` or a `with` block."""

    def __init__(self, server: ThreadingHTTPServer, thread: threading.Thread):
        self._server = server
        self._thread = thread
        host, port = server.server_address[:2]
        self.url = f"http://{host}:{port}"

    @property
    def requesters_url(self) -> str:
        return self.url + ENDPOINT

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "SupportApi":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_support_api(json_path: Path, token: str, host: str = "127.0.0.1", port: int = 0) -> SupportApi:
    """Serve `json_path` (a JSON array of requesters, or {"data": [...]}) in a daemon thread."""
    if not token:
        raise ValueError("start_support_api needs a non-empty token (set SUPPORT_API_TOKEN)")
    json_path = Path(json_path)
    if not json_path.is_file():
        raise FileNotFoundError(f"support API data file not found: {json_path}")
    handler = type("BoundSupportHandler", (_SupportHandler,), {"json_path": json_path, "token": token})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="support-api",
                              daemon=True)
    thread.start()
    return SupportApi(server, thread)


class _SupportHandler(BaseHTTPRequestHandler):
    json_path: Path
    token: str

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        url = urlsplit(self.path)
        if url.path.rstrip("/") != ENDPOINT:
            return self._send(404, {"error": "not_found", "message": f"no such endpoint: {url.path}"})
        if not self._authorised():
            return self._send(401, {"error": "unauthorized", "message": "missing or invalid bearer token"},
                              {"WWW-Authenticate": "Bearer"})
        try:
            page, per_page, since = _parse_query(parse_qs(url.query, keep_blank_values=True))
        except BadRequest as exc:
            return self._send(400, {"error": "bad_request", "message": str(exc)})
        try:
            records = _load(self.json_path)
        except (OSError, ValueError) as exc:
            return self._send(500, {"error": "server_error", "message": f"cannot read {self.json_path}: {exc}"})
        self._send(200, _page_body(records, page, per_page, since, self._base_url()))

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode())

    def _base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{ENDPOINT}"

    def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:  # keep test and CLI output quiet
        pass


def _parse_query(query: dict[str, list[str]]) -> tuple[int, int, datetime | None]:
    page = _positive_int(query, "page", 1)
    per_page = _positive_int(query, "per_page", 100)
    if per_page > MAX_PER_PAGE:
        raise BadRequest(f"per_page must be at most {MAX_PER_PAGE}, got {per_page}")
    since = None
    if query.get("updated_since", [""])[0]:
        since = _parse_time(query["updated_since"][0], "updated_since")
    return page, per_page, since


def _positive_int(query: dict[str, list[str]], name: str, default: int) -> int:
    raw = query.get(name, [None])[0]
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a positive integer, got {raw!r}") from None
    if value < 1:
        raise BadRequest(f"{name} must be a positive integer, got {raw!r}")
    return value


def _parse_time(raw: str, name: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.strip().replace(" ", "+"))  # '+' in a URL may arrive as space
    except ValueError:
        raise BadRequest(f"{name} must be an ISO-8601 timestamp like 2024-01-31T00:00:00Z, got {raw!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _load(json_path: Path) -> list[dict]:
    data = json.loads(json_path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("data", [])
    if not isinstance(data, list):
        raise ValueError("expected a JSON array of requester objects")
    return data


def _page_body(records: list[dict], page: int, per_page: int, since: datetime | None, base: str) -> dict:
    if since is not None:
        records = [r for r in records if r.get("updated_at") and _parse_time(r["updated_at"], "updated_at") >= since]
    records = sorted(records, key=lambda r: (str(r.get("updated_at") or ""), str(r.get("id"))))
    total = len(records)
    total_pages = max(1, math.ceil(total / per_page))
    chunk = records[(page - 1) * per_page: page * per_page]
    next_url = None
    if page < total_pages:
        params = {"page": page + 1, "per_page": per_page}
        if since is not None:
            params["updated_since"] = since.isoformat()
        next_url = f"{base}?{urlencode(params)}"
    return {"data": chunk, "meta": {"page": page, "per_page": per_page, "total": total, "total_pages": total_pages},
            "links": {"next": next_url}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the demo support API until Ctrl-C.")
    parser.add_argument("json_path", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    token = os.environ.get("SUPPORT_API_TOKEN", "")
    api = start_support_api(args.json_path, token, args.host, args.port)
    print(f"support API on {api.requesters_url} (Ctrl-C to stop)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        api.stop()


if __name__ == "__main__":
    main()

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from serving_warehouse import BuiltWarehouse, add_review_queue, build_warehouse


@pytest.fixture
def hash_key(monkeypatch):
    monkeypatch.setenv("HUB_HASH_KEY", "test-hash-key-for-suppression")
    return "test-hash-key-for-suppression"


@pytest.fixture
def warehouse(tmp_path, monkeypatch) -> BuiltWarehouse:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUB_WAREHOUSE_KEY", raising=False)
    monkeypatch.delenv("HUB_API_KEY", raising=False)
    built = build_warehouse(tmp_path / "hub.duckdb")
    monkeypatch.setenv("HUB_WAREHOUSE", str(built.path))
    return built


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    keys: dict[str, str]  # role -> token
    warehouse: BuiltWarehouse
    app: object


@pytest.fixture
def live_server(warehouse, hash_key):
    """`hub serve`'s app under a real uvicorn on 127.0.0.1, with one API key per role."""
    import uvicorn

    from hub.serve.app import create_app
    from hub.serve.state import ServeSettings
    from warehouse.security import create_api_key, write_transaction

    add_review_queue(warehouse.path)
    keys = {}
    with write_transaction(warehouse.path) as con:
        for role in ("agent", "analyst", "admin"):
            keys[role] = create_api_key(con, f"test-{role}", role)[1]
    settings = ServeSettings(warehouse=warehouse.path, reload_interval=0.2, audit_flush_interval=0.2,
                             busy_wait_seconds=0.5, raw_tables=lambda: warehouse.raw_tables)
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", keys, warehouse, app)
    finally:
        server.should_exit = True
        thread.join(timeout=10)

"""Opening the DuckDB warehouse.

DuckDB lets one process write a database file, or many processes read it read-only. Writers are
serialised by Dagster's `warehouse` pool; readers (`hub query`, lookups, the API) open read-only and
retry briefly while a writer holds the file. With HUB_WAREHOUSE_KEY set every connection, the
pipeline's and dlt's included, works on the file through DuckDB's encryption (warehouse.security.connect).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb
from filelock import FileLock, Timeout

from warehouse.security.connect import connect_file, encryption_key, explain_encryption_error

LOCK_RETRY_SECONDS = 30.0
WRITER_WAIT_SECONDS = 3600.0


class WarehouseLockedError(RuntimeError):
    """Another process holds the warehouse file for writing."""


def connect(path: Path | str, read_only: bool = False, wait_seconds: float = LOCK_RETRY_SECONDS) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (encrypted when HUB_WAREHOUSE_KEY is set), retrying while another process holds it."""
    path = Path(path)
    if read_only and not path.exists():
        raise FileNotFoundError(f"No warehouse at {path}: run `hub demo` or `hub sync` first, or pass --warehouse.")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = encryption_key()
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            return connect_file(path, read_only, key)
        except duckdb.Error as exc:
            if "lock" not in str(exc).lower():
                explain_encryption_error(exc, path, key)
                raise
            if time.monotonic() >= deadline:
                raise WarehouseLockedError(f"Warehouse {path} is locked by another writer: {exc}") from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def destination_connection(path: Path | str) -> duckdb.DuckDBPyConnection | None:
    """The connection dlt's DuckDB destination should load through, or None to let dlt open the file.

    An encrypted warehouse can only be attached, so dlt gets an open connection to it (dlt accepts a
    DuckDBPyConnection as credentials and works on its cursors); a plain one dlt opens by path itself.
    """
    return connect(path) if encryption_key() else None


@contextmanager
def open_warehouse(path: Path | str, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Context-managed connection that is always closed, so the file lock is released."""
    con = connect(path, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    rows = con.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, table]
    ).fetchall()
    return bool(rows)


@contextmanager
def writer_lock(path: Path | str, wait_seconds: float = WRITER_WAIT_SECONDS) -> Iterator[None]:
    """Hold the warehouse's writer lock (a `<file>.lock` beside it) for one write step.

    Dagster's `warehouse` pool serialises writers inside one Dagster instance; this lock also
    serialises writers that start outside it (two `hub sync` commands, dlt loads, erasure), so a second
    writer waits its turn instead of failing on DuckDB's file lock.
    """
    lock = FileLock(f"{Path(path)}.lock")
    try:
        lock.acquire(timeout=wait_seconds)
    except Timeout as exc:
        raise WarehouseLockedError(f"Waited {wait_seconds:.0f}s for the writer lock on {path}") from exc
    try:
        yield
    finally:
        lock.release()

"""The audit log: who read or changed which customer's personal data, when, and how.

Events are first appended to a spool file beside the warehouse (one JSON line each, cheap enough for
the lookup hot path and safe across a crash), then flushed into ops.audit_log in one short write
transaction. A flush that finds the warehouse locked by a running sync leaves the spool in place for
the next flush, so no event is lost. Each row has an event id, so a flush repeated after a partial
failure inserts nothing twice. Searched values (the phone or email typed) are not logged, only which
customers were shown. With an encrypted warehouse (HUB_WAREHOUSE_KEY) each spool line is a Fernet
token under a key derived from the warehouse key, so nothing on disk is readable without it.
"""
from __future__ import annotations

import os
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import base64
import hashlib

import duckdb
import orjson
import pandas as pd
from cryptography.fernet import Fernet, InvalidToken

from warehouse.security.connect import WarehouseBusy, encryption_key, table_exists, warehouse_session
from warehouse.security.roles import Principal

AUDIT_DDL = """
CREATE TABLE IF NOT EXISTS ops.audit_log (
    event_id VARCHAR NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    actor VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    customer_id VARCHAR,
    detail VARCHAR
)"""
COLUMNS = ["event_id", "occurred_at", "actor", "role", "action", "customer_id", "detail"]


def ensure_audit_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    con.execute(AUDIT_DDL)


def spool_dir_for(warehouse: Path) -> Path:
    return Path(str(warehouse) + ".audit-spool")


@dataclass
class FlushResult:
    written: int
    pending_files: int


class AuditLog:
    """Append-then-flush audit writer for one warehouse, shared by the threads of one process."""

    def __init__(self, warehouse: str | os.PathLike, spool_dir: str | os.PathLike | None = None):
        self.warehouse = Path(warehouse)
        self.spool_dir = Path(spool_dir) if spool_dir else spool_dir_for(self.warehouse)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._own = self.spool_dir / f"spool-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"
        self._handle = None  # kept open between events: one write + flush per lookup, no open/close
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._cipher = _spool_cipher()

    def record(self, who: Principal, action: str, customer_ids: Iterable[str | None] = (None,),
               detail: str | None = None) -> str:
        """Spool one event (one row per customer shown); returns the event id."""
        event_id = uuid.uuid4().hex
        at = datetime.now(timezone.utc).replace(tzinfo=None).isoformat()
        lines = b"".join(
            orjson.dumps({"event_id": event_id, "occurred_at": at, "actor": who.name, "role": who.role,
                          "action": action, "customer_id": cid, "detail": detail}, option=orjson.OPT_APPEND_NEWLINE)
            for cid in (list(customer_ids) or [None]))
        if self._cipher is not None:
            lines = b"".join(self._cipher.encrypt(line[:-1]) + b"\n" for line in lines.splitlines(keepends=True))
        with self._lock:
            if self._handle is None:
                self._handle = open(self._own, "ab")
            self._handle.write(lines)
            self._handle.flush()  # in the OS's hands now: survives a crash of this process
        return event_id

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None

    def pending(self) -> bool:
        with self._lock:
            if self._handle is not None and self._handle.tell() > 0:
                return True
        return any(_size(p) for p in self.spool_dir.glob("*.jsonl"))

    def flush(self, wait_seconds: float = 2.0, witness: Callable[[str], None] | None = None) -> FlushResult:
        """Move spooled events into ops.audit_log; raises nothing when the warehouse is busy.

        `witness("before")` and `witness("after")` are called while this process holds the writer (right
        after opening, and after commit + checkpoint), so a caller can tell its own write from others'.
        """
        with self._flush_lock:
            self._seal_own_spool()
            self._seal_orphan_spools()
            files = sorted(self.spool_dir.glob("flushing-*.jsonl"))
            if not files:
                return FlushResult(0, 0)
            try:
                written = self._insert(files, wait_seconds, witness)
            except WarehouseBusy:
                return FlushResult(0, len(files))
            for path in files:
                path.unlink(missing_ok=True)
            return FlushResult(written, 0)

    def _seal_own_spool(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
            if self._own.exists() and self._own.stat().st_size:
                self._own.rename(self.spool_dir / f"flushing-{uuid.uuid4().hex}.jsonl")

    def _seal_orphan_spools(self) -> None:
        """Spools left by processes that have exited are flushed by whoever flushes next."""
        for path in self.spool_dir.glob("spool-*.jsonl"):
            if path == self._own:
                continue
            pid = int(path.name.split("-")[1])
            if not _alive(pid):
                path.rename(self.spool_dir / f"flushing-{uuid.uuid4().hex}.jsonl")

    def _insert(self, files: list[Path], wait_seconds: float, witness: Callable[[str], None] | None) -> int:
        """Load the spool files with DuckDB's JSON reader (bulk, outside Python) in one transaction."""
        lines = sum(path.read_bytes().count(b"\n") for path in files)
        with warehouse_session(self.warehouse, read_only=False, wait_seconds=wait_seconds) as con:
            if witness:
                witness("before")
            con.execute("BEGIN TRANSACTION")
            try:
                ensure_audit_table(con)
                before = con.execute("SELECT count(*) FROM ops.audit_log").fetchall()[0][0]
                self._stage_events(con, files)
                parsed = con.execute("SELECT count(*) FROM _audit_events").fetchall()[0][0]
                if parsed < lines:  # lines torn by a crash mid-write: say so in the log itself
                    con.execute("INSERT INTO _audit_events VALUES (?, CAST(now() AS VARCHAR), 'audit', 'system', "
                                "'spool_damaged', NULL, ?)", [uuid.uuid4().hex, f"{lines - parsed} unreadable "
                                                              f"spool line(s) in {len(files)} file(s)"])
                con.execute(
                    "INSERT INTO ops.audit_log SELECT e.event_id, CAST(e.occurred_at AS TIMESTAMP), e.actor, e.role, "
                    "e.action, e.customer_id, e.detail FROM _audit_events e WHERE NOT EXISTS (SELECT 1 FROM "
                    "ops.audit_log a WHERE a.event_id = e.event_id AND a.customer_id IS NOT DISTINCT FROM "
                    "e.customer_id)")
                con.execute("DROP TABLE _audit_events")
                after = con.execute("SELECT count(*) FROM ops.audit_log").fetchall()[0][0]
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            if witness:
                con.execute("CHECKPOINT")  # the file is final now; closing does not change it again
                witness("after")
        return after - before


    def _stage_events(self, con: duckdb.DuckDBPyConnection, files: list[Path]) -> None:
        """The spooled events as TEMP TABLE _audit_events (torn or undecryptable lines left out)."""
        if self._cipher is None:
            con.execute(
                "CREATE TEMP TABLE _audit_events AS SELECT * FROM read_json(?, format = 'newline_delimited', "
                f"columns = {_JSON_COLUMNS}, ignore_errors = true) WHERE event_id IS NOT NULL",
                [[str(p) for p in files]])
            return
        events = pd.DataFrame([e for p in files for e in _decrypted_events(self._cipher, p)], columns=COLUMNS)
        con.register("_audit_decrypted", events.astype(object).where(events.notna(), None))
        try:
            con.execute("CREATE TEMP TABLE _audit_events AS SELECT " + ", ".join(
                f"CAST({c} AS VARCHAR) AS {c}" for c in COLUMNS) + " FROM _audit_decrypted")
        finally:
            con.unregister("_audit_decrypted")


def _spool_cipher() -> Fernet | None:
    """A Fernet key derived from HUB_WAREHOUSE_KEY (None: the warehouse is plain, so is the spool)."""
    key = encryption_key()
    if key is None:
        return None
    derived = hashlib.sha256(b"customer-hub audit spool\x00" + key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def _decrypted_events(cipher: Fernet, path: Path) -> list[dict]:
    events = []
    for line in path.read_bytes().splitlines():
        try:
            event = orjson.loads(cipher.decrypt(line))
        except (InvalidToken, orjson.JSONDecodeError, ValueError):
            continue  # counted as unreadable by the caller
        if event.get("event_id"):
            events.append(event)
    return events


_JSON_COLUMNS = ("{event_id: 'VARCHAR', occurred_at: 'VARCHAR', actor: 'VARCHAR', role: 'VARCHAR', "
                 "action: 'VARCHAR', customer_id: 'VARCHAR', detail: 'VARCHAR'}")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:  # sealed or flushed by another thread or process meanwhile
        return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_audit(con: duckdb.DuckDBPyConnection, customer_id: str | None = None, actor: str | None = None,
               action: str | None = None, limit: int = 100) -> pd.DataFrame:
    """Newest audit rows first, optionally for one customer, actor or action."""
    if not table_exists(con, "ops", "audit_log"):
        return pd.DataFrame(columns=COLUMNS)
    clauses, params = [], []
    for column, value in (("customer_id", customer_id), ("actor", actor), ("action", action)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return con.execute(f"SELECT * FROM ops.audit_log {where} ORDER BY occurred_at DESC, event_id LIMIT ?",
                       params + [int(limit)]).df()

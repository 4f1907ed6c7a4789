"""What the service keeps in memory, and how it stays fresh without holding the warehouse.

The service answers lookups from a `CustomerSnapshot` and authenticates from the active API keys,
both loaded in one short read-only session. A background thread notices when the warehouse file
changes (a sync, an erasure, a new key) and loads a fresh snapshot, keeping the old one in service
until the new one is ready; when a sync holds the file, it simply tries again later. Another thread
flushes the audit spool into ops.audit_log.
"""
from __future__ import annotations

import gc
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from warehouse.lookup import CustomerSnapshot, build_snapshot, fetch_snapshot_inputs
from warehouse.security import (
    AuditLog, Principal, RawTables, WarehouseBusy, WarehouseMissing, load_active_keys, warehouse_session,
)

log = logging.getLogger("hub.serve")
FORCED_RELOAD_SECONDS = 300.0  # safety net for a change the file signature missed


@dataclass
class ServeSettings:
    warehouse: Path
    reload_interval: float = 1.0
    audit_flush_interval: float = 5.0
    busy_wait_seconds: float = 2.0
    query_timeout_seconds: float = 30.0
    raw_tables: Callable[[], RawTables] | None = None


class ServingState:
    def __init__(self, settings: ServeSettings):
        self.settings = settings
        self.warehouse = settings.warehouse
        self.audit = AuditLog(self.warehouse)
        self.snapshot: CustomerSnapshot | None = None
        self.keys: dict[str, Principal] = {}
        self.last_error: str | None = None
        self._signature: tuple | None = None
        self._loaded_monotonic = 0.0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._reload_lock = threading.Lock()

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        self.refresh()
        for target, name in ((self._reload_loop, "snapshot-reload"), (self._flush_loop, "audit-flush")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self.flush_audit()
        self.audit.close()

    # --- snapshot --------------------------------------------------------------------------------
    def file_signature(self) -> tuple | None:
        parts = []
        for path in (self.warehouse, Path(str(self.warehouse) + ".wal")):
            try:
                stat = path.stat()
                parts.append((stat.st_mtime_ns, stat.st_size))
            except FileNotFoundError:
                parts.append(None)
        return tuple(parts) if parts[0] is not None else None

    def refresh(self, force: bool = False) -> bool:
        """Load a new snapshot if the file changed; True if one was loaded."""
        with self._reload_lock:
            signature = self.file_signature()
            stale = time.monotonic() - self._loaded_monotonic > FORCED_RELOAD_SECONDS
            if signature is None:
                self.last_error = f"no warehouse at {self.warehouse}"
                return False
            if not force and not stale and signature == self._signature and self.snapshot is not None:
                return False
            try:
                # Only the reads hold the file; the indexes are built after it is closed again.
                with warehouse_session(self.warehouse, read_only=True,
                                       wait_seconds=self.settings.busy_wait_seconds) as con:
                    keys = load_active_keys(con)
                    cards, redirects = fetch_snapshot_inputs(con)
                snapshot = build_snapshot(cards, redirects)
            except (WarehouseBusy, WarehouseMissing) as exc:
                self.last_error = str(exc)
                log.warning("snapshot not refreshed: %s", exc)
                return False
            except Exception as exc:  # a half-built warehouse must not take the service down
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("snapshot load failed")
                return False
            self.keys, self.snapshot = keys, snapshot
            # Millions of long-lived objects would make every full garbage collection a latency spike:
            # collect the old snapshot now and move the new one out of the collector's sight.
            gc.collect()
            gc.freeze()
            self._signature = signature
            self._loaded_monotonic = time.monotonic()
            self.last_error = None
            log.info("snapshot loaded: %d customers", snapshot.size)
            return True


    def _reload_loop(self) -> None:
        while not self._stop.wait(self.settings.reload_interval):
            self.refresh()

    # --- audit -----------------------------------------------------------------------------------
    def flush_audit(self) -> int:
        """Write spooled audit events. Our own write changes the file but not the customers: if the
        snapshot was current when we took the writer, accept the file as it is after our commit instead
        of reloading a million cards. Both looks at the file happen while we hold the writer, so nobody
        else's write can slip between them."""
        if not self.audit.pending():
            return 0
        seen: dict[str, tuple | None] = {}
        with self._reload_lock:
            result = self.audit.flush(wait_seconds=self.settings.busy_wait_seconds,
                                      witness=lambda stage: seen.__setitem__(stage, self.file_signature()))
            if result.written and seen.get("before") == self._signature and "after" in seen:
                self._signature = seen["after"]
        return result.written

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.settings.audit_flush_interval):
            try:
                self.flush_audit()
            except Exception:  # keep flushing later; events stay in the spool
                log.exception("audit flush failed")

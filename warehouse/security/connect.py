"""Opening the warehouse for serving and security work: lock-aware, optionally encrypted.

DuckDB allows one writing process or many read-only processes per file. Readers here never keep a
connection open for long, and writers (audit log, erasure, API keys) use short transactions that retry
while another process (the pipeline) holds the file.

Encryption at rest uses DuckDB's own database encryption: when HUB_WAREHOUSE_KEY is set, the file is
attached with `ENCRYPTION_KEY` instead of being opened directly, and the connection's own in-memory
database is detached so that every cursor of it (dlt's loader works on cursors) defaults to the
warehouse. DuckDB writes encrypted files securely only with its httpfs extension (OpenSSL) loaded;
without it DuckDB refuses to write unless HUB_ALLOW_MBEDTLS_ENCRYPTION=1 opts into its built-in
(read-secure, write-weaker) mbedtls module. Spill files of an encrypted warehouse are encrypted too,
or, where no crypto module may write, spilling is off, so no plaintext copy reaches the disk.
"""
from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

KEY_ENV = "HUB_WAREHOUSE_KEY"
UNSAFE_WRITE_ENV = "HUB_ALLOW_MBEDTLS_ENCRYPTION"
CATALOG = "hub"  # name the warehouse is attached under when encrypted
DEFAULT_WAIT_SECONDS = 5.0

# One DuckDB file may not be open read-only and read-write at once inside one process, so every
# connection made through `warehouse_session` for a path is serialised by this per-path lock.
_PATH_LOCKS: dict[str, threading.RLock] = {}
_PATH_LOCKS_GUARD = threading.Lock()


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse file (a pipeline run is writing); try again shortly."""


class WarehouseMissing(FileNotFoundError):
    """No warehouse file at the resolved path."""


class EncryptionSetupError(RuntimeError):
    """The warehouse is (or should be) encrypted but the key or crypto module is not usable."""


def is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, duckdb.Error) and ("lock" in text and ("conflicting" in text or "could not set" in text))


def encryption_key() -> str | None:
    return os.environ.get(KEY_ENV) or None


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect_file(path: Path, read_only: bool, key: str | None) -> duckdb.DuckDBPyConnection:
    """One attempt at opening the warehouse file: directly, or attached with `key` as the default database."""
    if key is None:
        return duckdb.connect(str(path), read_only=read_only)
    con = duckdb.connect()
    try:
        if not read_only:
            _enable_encrypted_writes(con)
        _protect_spills(con)
        options = f"ENCRYPTION_KEY {_sql_literal(key)}" + (", READ_ONLY" if read_only else "")
        con.execute(f"ATTACH {_sql_literal(str(path))} AS {CATALOG} ({options})")
        con.execute(f"USE {CATALOG}")
        # `USE` holds for this connection only; without the in-memory catalog, cursors default to the warehouse
        con.execute("DETACH memory")
        return con
    except BaseException:
        con.close()
        raise


def _enable_encrypted_writes(con: duckdb.DuckDBPyConnection, required: bool = True) -> bool:
    """Load OpenSSL-backed crypto (httpfs) if available, else opt into mbedtls only when allowed.

    Returns whether encrypted writes are possible; raises EncryptionSetupError when not and `required`.
    """
    try:
        con.execute("LOAD httpfs")
        return True
    except duckdb.Error:
        pass
    if os.environ.get(UNSAFE_WRITE_ENV) == "1":
        con.execute("SET force_mbedtls_unsafe = 'true'")
        return True
    if not required:
        return False
    raise EncryptionSetupError(
        f"{KEY_ENV} is set, so the warehouse is written encrypted, but DuckDB's httpfs extension "
        "(OpenSSL crypto) is not installed. Install it (`INSTALL httpfs` on a machine with access to "
        f"DuckDB's extension repository) or set {UNSAFE_WRITE_ENV}=1 to accept DuckDB's built-in mbedtls "
        "module for writing."
    )


def _protect_spills(con: duckdb.DuckDBPyConnection) -> None:
    """Encrypt the files a large query spills to disk; where no crypto module may write, do not spill."""
    if _enable_encrypted_writes(con, required=False):
        con.execute("SET temp_file_encryption = true")
    else:
        con.execute("SET temp_directory = ''")


def open_warehouse(path: str | os.PathLike, read_only: bool = False,
                   wait_seconds: float = DEFAULT_WAIT_SECONDS) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (encrypted when HUB_WAREHOUSE_KEY is set), retrying while it is locked.

    Raises WarehouseMissing for a read of a file that does not exist, WarehouseBusy when the lock is
    still held after `wait_seconds`, EncryptionSetupError for a wrong or missing key.
    """
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseMissing(f"No warehouse at {path}: run `hub demo` or `hub sync` first, or pass --warehouse.")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    key = encryption_key()
    deadline = time.monotonic() + wait_seconds
    delay = 0.02
    while True:
        try:
            return connect_file(path, read_only, key)
        except duckdb.Error as exc:
            if is_lock_error(exc):
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(f"Warehouse {path} is locked by another process (a sync is writing); "
                                        "try again shortly.") from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            explain_encryption_error(exc, path, key)
            raise


def explain_encryption_error(exc: duckdb.Error, path: Path, key: str | None) -> None:
    """Raise EncryptionSetupError naming the fix when `exc` is about the key; return otherwise."""
    text = str(exc)
    if "without a key" in text:
        raise EncryptionSetupError(f"Warehouse {path} is encrypted: set {KEY_ENV} to its key.") from exc
    if "Wrong encryption key" in text:
        raise EncryptionSetupError(f"{KEY_ENV} does not match the key warehouse {path} was encrypted with.") from exc
    if "is not encrypted" in text:
        raise EncryptionSetupError(
            f"{KEY_ENV} is set but warehouse {path} is not encrypted: convert it with `hub encrypt {path} "
            f"NEW_FILE` and point HUB_WAREHOUSE at the new file, or unset {KEY_ENV}.") from exc
    if key is not None and "not a valid DuckDB database" in text.lower():
        raise EncryptionSetupError(f"Could not open {path} as an encrypted warehouse: {text}") from exc


def _path_lock(path: Path) -> threading.RLock:
    with _PATH_LOCKS_GUARD:
        return _PATH_LOCKS.setdefault(str(Path(path).resolve()), threading.RLock())


@contextmanager
def path_guard(path: str | os.PathLike) -> Iterator[None]:
    """Hold this process's lock for the warehouse file (for connections not made by warehouse_session)."""
    with _path_lock(Path(path)):
        yield


@contextmanager
def warehouse_session(path: str | os.PathLike, read_only: bool = True,
                      wait_seconds: float = DEFAULT_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection, closed on exit so the file lock is released at once."""
    with _path_lock(Path(path)):
        con = open_warehouse(path, read_only=read_only, wait_seconds=wait_seconds)
        try:
            yield con
        finally:
            con.close()


@contextmanager
def write_transaction(path: str | os.PathLike,
                      wait_seconds: float = DEFAULT_WAIT_SECONDS) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the writer, run one transaction, commit (or roll back on error) and close."""
    with warehouse_session(path, read_only=False, wait_seconds=wait_seconds) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")


def encrypt_warehouse(source: str | os.PathLike, target: str | os.PathLike, key: str | None = None) -> Path:
    """Copy a plain warehouse into a new DuckDB file encrypted with `key` (default HUB_WAREHOUSE_KEY)."""
    key = key or encryption_key()
    if not key:
        raise EncryptionSetupError(f"Set {KEY_ENV} (or pass a key) to encrypt the warehouse.")
    source, target = Path(source), Path(target)
    if not source.exists():
        raise WarehouseMissing(f"No warehouse at {source}.")
    if target.exists():
        raise FileExistsError(f"{target} already exists; choose a new file for the encrypted copy.")
    con = duckdb.connect()
    try:
        _enable_encrypted_writes(con)
        con.execute(f"ATTACH {_sql_literal(str(source))} AS plain_src (READ_ONLY)")
        con.execute(f"ATTACH {_sql_literal(str(target))} AS enc_dst (ENCRYPTION_KEY {_sql_literal(key)})")
        con.execute("COPY FROM DATABASE plain_src TO enc_dst")
    finally:
        con.close()
    return target


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """True if schema.table exists in the warehouse catalog (the current database)."""
    return bool(con.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = ? AND table_name = ?", [schema, table]).fetchall())


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    """{column: data type} of schema.table in the current database, in table order."""
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog = current_database() "
        "AND table_schema = ? AND table_name = ? ORDER BY ordinal_position", [schema, table]).fetchall()
    return dict(rows)


def attach_read_only(con: duckdb.DuckDBPyConnection, path: str | os.PathLike, alias: str,
                     wait_seconds: float = DEFAULT_WAIT_SECONDS) -> None:
    """ATTACH the warehouse read-only under `alias` (with the key when encrypted), retrying while locked."""
    path = Path(path)
    if not path.exists():
        raise WarehouseMissing(f"No warehouse at {path}: run `hub demo` or `hub sync` first, or pass --warehouse.")
    key = encryption_key()
    options = "READ_ONLY" + (f", ENCRYPTION_KEY {_sql_literal(key)}" if key else "")
    if key:
        _protect_spills(con)
    deadline = time.monotonic() + wait_seconds
    delay = 0.02
    while True:
        try:
            con.execute(f"ATTACH {_sql_literal(str(path))} AS {alias} ({options})")
            return
        except duckdb.Error as exc:
            if is_lock_error(exc) and time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            if is_lock_error(exc):
                raise WarehouseBusy(f"Warehouse {path} is locked by another process; try again shortly.") from exc
            explain_encryption_error(exc, path, key)
            raise

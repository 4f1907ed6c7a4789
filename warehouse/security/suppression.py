"""Suppression list: keyed hashes of an erased person's identifiers, so a re-sync does not bring them back.

Each entry is HMAC-SHA256(HUB_HASH_KEY, "<kind>:<value>") of one identifier: the canonical email,
the E.164 phone, the national id hash, or the source record ("<silo>|<source_record_id>"). Without
the key the entries cannot be reversed or even tested against a guessed value. The HMAC is computed
inside DuckDB (sha256 over blobs), so checking a whole staged batch is one SQL join, not a Python loop.
"""
from __future__ import annotations

import hashlib
import hmac
import os

import duckdb
import numpy as np
import pandas as pd

from warehouse.lookup import email_key_sql
from warehouse.security.connect import table_exists

HASH_KEY_ENV = "HUB_HASH_KEY"
SUPPRESSION_DDL = """
CREATE TABLE IF NOT EXISTS ops.suppression (
    kind VARCHAR NOT NULL,
    token VARCHAR NOT NULL,
    erasure_id VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
)"""
_BLOCK = 64  # SHA-256 block size in bytes


class HashKeyMissing(RuntimeError):
    """HUB_HASH_KEY is needed to write or check the suppression list."""


def hash_key_bytes() -> bytes:
    key = os.environ.get(HASH_KEY_ENV)
    if not key:
        raise HashKeyMissing(f"Set {HASH_KEY_ENV} (a long random secret) to erase customers or check the "
                             "suppression list; without it erased people could not be kept out of the next sync.")
    return key.encode("utf-8")


def keyed_hash(kind: str, value: str, key: bytes | None = None) -> str:
    """HMAC-SHA256 of "<kind>:<value>" in Python (reference implementation of keyed_hash_sql)."""
    key = key if key is not None else hash_key_bytes()
    return hmac.new(key, f"{kind}:{value}".encode("utf-8"), hashlib.sha256).hexdigest()


def keyed_hash_sql(kind: str, value_sql: str, key: bytes | None = None) -> str:
    """SQL expression computing keyed_hash(kind, value) for each row (NULL value -> NULL)."""
    key = key if key is not None else hash_key_bytes()
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    ipad = bytes(b ^ 0x36 for b in key).hex()
    opad = bytes(b ^ 0x5C for b in key).hex()
    message = f"encode('{kind}:' || CAST(({value_sql}) AS VARCHAR))"
    inner = f"unhex(sha256(unhex('{ipad}') || {message}))"
    return f"CASE WHEN ({value_sql}) IS NULL THEN NULL ELSE sha256(unhex('{opad}') || {inner}) END"


def ensure_suppression_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    con.execute(SUPPRESSION_DDL)


def staged_tokens_sql(alias: str, key: bytes) -> dict[str, str]:
    """Keyed-hash SQL per identifier kind over a relation with the staging columns."""
    return {
        "email": keyed_hash_sql("email", email_key_sql(f"{alias}.email"), key),
        "phone": keyed_hash_sql("phone", f"NULLIF(trim({alias}.phone), '')", key),
        "national_id": keyed_hash_sql("national_id", f"NULLIF(trim({alias}.national_id_hash), '')", key),
        "source": keyed_hash_sql("source", f"{alias}.silo || '|' || {alias}.source_record_id", key),
    }


def suppressed(con: duckdb.DuckDBPyConnection, staged: pd.DataFrame) -> pd.Series:
    """True for each staged row whose email, phone, national id or source record was erased.

    `staged` needs `silo` and `source_record_id`; `email`, `phone`, `national_id_hash` are used when
    present. The result is aligned to `staged.index`.
    """
    if staged.empty or not table_exists(con, "ops", "suppression") or not _has_entries(con):
        return pd.Series(False, index=staged.index, dtype=bool)
    missing = {"silo", "source_record_id"} - set(staged.columns)
    if missing:
        raise ValueError(f"suppressed(): staged frame lacks column(s) {sorted(missing)}")
    frame = pd.DataFrame({
        "_row": np.arange(len(staged)),
        "silo": staged["silo"].astype("string"),
        "source_record_id": staged["source_record_id"].astype("string"),
        **{c: (staged[c].astype("string") if c in staged.columns else pd.Series(pd.NA, index=staged.index,
                                                                              dtype="string"))
           for c in ("email", "phone", "national_id_hash")},
    })
    tokens = staged_tokens_sql("s", hash_key_bytes())
    token_list = ", ".join(tokens.values())
    con.register("_staged_check", frame)
    try:
        hits = con.execute(
            f"SELECT DISTINCT s._row FROM _staged_check s, unnest([{token_list}]) AS t(token) "
            "WHERE t.token IN (SELECT token FROM ops.suppression)").fetchall()
    finally:
        con.unregister("_staged_check")
    flags = np.zeros(len(staged), dtype=bool)
    if hits:
        flags[np.fromiter((h[0] for h in hits), dtype=np.int64, count=len(hits))] = True
    return pd.Series(flags, index=staged.index, dtype=bool)


def _has_entries(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM ops.suppression").fetchall()[0][0])

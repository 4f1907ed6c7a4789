"""API keys: issued once in clear, stored only as SHA-256 hashes in ops.api_keys.

A key looks like `hub_<key_id>_<secret>`; the key id lets an admin list and revoke keys without the
secret ever being stored. Keys are 256-bit random tokens, so a plain (unsalted) SHA-256 is enough to
make the stored table useless to a reader.
"""
from __future__ import annotations

import hashlib
import secrets

import duckdb
import pandas as pd

from warehouse.security.connect import table_exists
from warehouse.security.roles import Principal, check_role

API_KEYS_DDL = """
CREATE TABLE IF NOT EXISTS ops.api_keys (
    key_id VARCHAR PRIMARY KEY,
    key_hash VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
)"""


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def ensure_keys_table(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    con.execute(API_KEYS_DDL)


def create_api_key(con: duckdb.DuckDBPyConnection, name: str, role: str) -> tuple[str, str]:
    """Issue a key for `name` with `role`; returns (key_id, token). The token is shown only now."""
    check_role(role)
    if not name.strip():
        raise ValueError("an API key needs a name (who or what uses it)")
    ensure_keys_table(con)
    key_id = secrets.token_hex(4)
    token = f"hub_{key_id}_{secrets.token_urlsafe(32)}"
    con.execute("INSERT INTO ops.api_keys VALUES (?, ?, ?, ?, now()::TIMESTAMP, NULL)",
                [key_id, hash_key(token), name.strip(), role])
    return key_id, token


def revoke_api_key(con: duckdb.DuckDBPyConnection, key_id: str) -> bool:
    """Revoke a key by id; False if there is no such active key."""
    ensure_keys_table(con)
    found = con.execute("SELECT count(*) FROM ops.api_keys WHERE key_id = ? AND revoked_at IS NULL",
                        [key_id]).fetchall()[0][0]
    con.execute("UPDATE ops.api_keys SET revoked_at = now()::TIMESTAMP WHERE key_id = ? AND revoked_at IS NULL",
                [key_id])
    return bool(found)


def list_api_keys(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    if not _has_keys_table(con):
        return pd.DataFrame(columns=["key_id", "name", "role", "created_at", "revoked_at"])
    return con.execute("SELECT key_id, name, role, created_at, revoked_at FROM ops.api_keys "
                       "ORDER BY created_at").df()


def load_active_keys(con: duckdb.DuckDBPyConnection) -> dict[str, Principal]:
    """Active keys as {sha256 hash: Principal}, for authenticating requests without a database hit."""
    if not _has_keys_table(con):
        return {}
    rows = con.execute("SELECT key_hash, name, role, key_id FROM ops.api_keys WHERE revoked_at IS NULL").fetchall()
    return {key_hash: Principal(name=name, role=role, key_id=key_id) for key_hash, name, role, key_id in rows}


def authenticate(active_keys: dict[str, Principal], token: str | None) -> Principal | None:
    if not token:
        return None
    return active_keys.get(hash_key(token))


def _has_keys_table(con: duckdb.DuckDBPyConnection) -> bool:
    return table_exists(con, "ops", "api_keys")

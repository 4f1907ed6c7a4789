"""Masking of emails, phones and national ids for roles that must not see them (analysts).

One rule decides which columns are sensitive (by name: *email*, *phone*, *national_id*, *ssn*), and the
same masks exist twice: as DuckDB macros for SQL over whole tables, and as Python functions for the
handful of values in one customer card. tests/serving/test_masking.py checks both agree.

Analyst SQL runs in an in-memory DuckDB whose `marts`, `staging` and `identity` schemas are views
over the attached warehouse with the sensitive columns masked, so analysts write ordinary SQL
(`SELECT * FROM marts.customers`). Their statement is parsed by DuckDB itself (json_serialize_sql):
only one SELECT, no table functions, no reference to the attached warehouse by name, and external
file access is switched off and locked before it runs.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterable

import duckdb

MASKED_SCHEMAS = ("marts", "staging", "identity")
HIDDEN_TABLES = frozenset({("staging", "rejected_records")})  # raw rows as JSON: nothing to mask by column
ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})

_SENSITIVE = (("email", "mask_email"), ("phone", "mask_phone"), ("national_id", "mask_national_id"),
              ("ssn", "mask_national_id"))

MASK_MACROS_SQL = r"""
CREATE OR REPLACE TEMP MACRO mask_email(v) AS
    CASE WHEN v IS NULL THEN NULL ELSE regexp_replace(CAST(v AS VARCHAR), '^(.)[^@]*', '\1***') END;
CREATE OR REPLACE TEMP MACRO mask_phone(v) AS
    CASE WHEN v IS NULL THEN NULL
         ELSE '***' || right(regexp_replace(CAST(v AS VARCHAR), '[^0-9]', '', 'g'), 2) END;
CREATE OR REPLACE TEMP MACRO mask_national_id(v) AS
    CASE WHEN v IS NULL THEN NULL ELSE '***' END;
"""


class QueryRejected(ValueError):
    """An analyst's SQL is not a single read-only SELECT over the published tables."""


# --- Python masks (for single cards and records) ---------------------------------------------

def mask_email(value: Any) -> Any:
    if value is None:
        return None
    return re.sub(r"^(.)[^@]*", r"\g<1>***", str(value), count=1)


def mask_phone(value: Any) -> Any:
    if value is None:
        return None
    return "***" + re.sub(r"[^0-9]", "", str(value))[-2:]


def mask_national_id(value: Any) -> Any:
    return None if value is None else "***"


_PY_MASKS = {"mask_email": mask_email, "mask_phone": mask_phone, "mask_national_id": mask_national_id}


def mask_for_column(column: str) -> str | None:
    """Name of the mask that applies to a column, or None if the column is not sensitive."""
    lowered = column.lower()
    if lowered.endswith("_is_partial"):
        return None
    for fragment, mask in _SENSITIVE:
        if fragment in lowered:
            return mask
    return None


def mask_record(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of one record/card with sensitive values masked (lists masked element by element)."""
    out = dict(record)
    for column, value in record.items():
        mask = mask_for_column(column)
        if mask is None or value is None:
            continue
        fn = _PY_MASKS[mask]
        out[column] = [fn(v) for v in value] if isinstance(value, (list, tuple)) else fn(value)
    return out


# --- SQL masks (for whole tables) -------------------------------------------------------------

def install_mask_macros(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(MASK_MACROS_SQL)


def masked_select_sql(source: str, columns: dict[str, str]) -> str:
    """SELECT over `source` with every sensitive VARCHAR (or VARCHAR[]) column masked."""
    replacements = []
    for column, dtype in columns.items():
        mask = mask_for_column(column)
        if mask is None:
            continue
        quoted = '"' + column.replace('"', '""') + '"'
        if dtype.endswith("[]"):
            replacements.append(f"list_transform({quoted}, lambda x: {mask}(x)) AS {quoted}")
        elif dtype.upper().startswith(("VARCHAR", "BIGINT", "INTEGER", "HUGEINT", "DECIMAL")):
            replacements.append(f"{mask}({quoted}) AS {quoted}")
        # other types (BOOLEAN flags, JSON structs) carry no raw identifier
    replace = f" REPLACE ({', '.join(replacements)})" if replacements else ""
    return f"SELECT *{replace} FROM {source}"


def create_masked_catalog(con: duckdb.DuckDBPyConnection, source_catalog: str) -> list[str]:
    """Create masked views `<schema>.<table>` in the connection's default catalog over `source_catalog`."""
    install_mask_macros(con)
    rows = con.execute(
        "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_catalog = ? AND table_schema IN (SELECT unnest(?)) ORDER BY table_schema, table_name, "
        "ordinal_position", [source_catalog, list(MASKED_SCHEMAS)]).fetchall()
    tables: dict[tuple[str, str], dict[str, str]] = {}
    for schema, table, column, dtype in rows:
        tables.setdefault((schema, table), {})[column] = dtype
    created = []
    for (schema, table), columns in tables.items():
        if (schema, table) in HIDDEN_TABLES:
            continue
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        source = f'"{source_catalog}"."{schema}"."{table}"'
        con.execute(f'CREATE OR REPLACE VIEW "{schema}"."{table}" AS {masked_select_sql(source, columns)}')
        created.append(f"{schema}.{table}")
    return created


def check_select_only(con: duckdb.DuckDBPyConnection, sql: str, forbidden_catalogs: Iterable[str]) -> None:
    """Reject anything but one SELECT over plain tables/views of the default catalog."""
    raw = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()[0][0]
    parsed = json.loads(raw)
    if parsed.get("error"):
        message = parsed.get("error_message", "not a SELECT statement")
        raise QueryRejected(f"only a single SELECT query is allowed: {message}")
    if len(parsed.get("statements", [])) != 1:
        raise QueryRejected("send exactly one SELECT statement")
    forbidden = {c.lower() for c in forbidden_catalogs}
    for node in _walk(parsed["statements"][0]):
        kind = node.get("type")
        if kind == "BASE_TABLE":
            names = {str(node.get("catalog_name", "")).lower(), str(node.get("schema_name", "")).lower()}
            if names & forbidden:
                raise QueryRejected("query the published schemas (marts, staging, identity) by their plain names")
        elif kind == "TABLE_FUNCTION":
            name = str(node.get("function", {}).get("function_name", "")).lower()
            if name not in ALLOWED_TABLE_FUNCTIONS:
                raise QueryRejected(f"table function {name}() is not allowed in analyst queries")


def _walk(node: Any) -> Iterable[dict]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """No file access and no way to change settings back for the rest of this connection."""
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")

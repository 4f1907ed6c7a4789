"""The warehouse contract: schemas and the tables analysts and tools rely on.

Tables whose columns are fixed are created here up front, so a reader always finds them (empty
before the first sync). Tables whose columns follow configuration (identity.match_scores with one
column per compared field, marts.customer_360 with one column per declared fact) are created when
first published.
"""
from __future__ import annotations

import duckdb

SCHEMAS = ("staging", "identity", "marts", "ops")

STAGING_COLUMNS: dict[str, str] = {
    "silo": "VARCHAR NOT NULL",
    "source_record_id": "VARCHAR NOT NULL",
    "given_name": "VARCHAR",
    "family_name": "VARCHAR",
    "full_name": "VARCHAR",
    "email": "VARCHAR",
    "phone": "VARCHAR",
    "address_line": "VARCHAR",
    "city": "VARCHAR",
    "region": "VARCHAR",
    "postcode": "VARCHAR",
    "country": "VARCHAR",
    "birth_date": "DATE",
    "national_id_hash": "VARCHAR",
    "national_id_last4": "VARCHAR",
    "company": "VARCHAR",
    "source_updated_at": "TIMESTAMP",
    "loaded_at": "TIMESTAMP",
    "is_deleted": "BOOLEAN",
    "name_raw": "VARCHAR",
    "email_raw": "VARCHAR",
    "phone_raw": "VARCHAR",
    "address_raw": "VARCHAR",
    "birth_date_raw": "VARCHAR",
    "national_id_is_partial": "BOOLEAN",
}

TABLES: dict[str, dict[str, str]] = {
    "staging.customer_records": STAGING_COLUMNS,
    "staging.rejected_records": {
        "silo": "VARCHAR NOT NULL",
        "source_record_id": "VARCHAR",
        "raw_row": "VARCHAR",
        "reason": "VARCHAR NOT NULL",
        "rejected_at": "TIMESTAMP",
    },
    # per staged record: a hash of its mapped values (and the standardiser's salt), so a sync
    # standardises only the records that changed (pipelines/standardise_changed.py)
    "staging.record_fingerprints": {
        "silo": "VARCHAR NOT NULL",
        "source_record_id": "VARCHAR NOT NULL",
        "fingerprint": "UBIGINT",
    },
    "staging.customer_facts": {
        "silo": "VARCHAR NOT NULL",
        "source_record_id": "VARCHAR NOT NULL",
        "fact": "VARCHAR NOT NULL",
        "value_num": "DOUBLE",
        "value_text": "VARCHAR",
        "agg": "VARCHAR",
    },
    "identity.customer_xref": {
        "silo": "VARCHAR NOT NULL",
        "source_record_id": "VARCHAR NOT NULL",
        "customer_id": "VARCHAR NOT NULL",
        "match_probability": "DOUBLE",
        "resolved_at": "TIMESTAMP",
    },
    "identity.customer_id_history": {
        "customer_id": "VARCHAR NOT NULL",
        "event": "VARCHAR NOT NULL",
        "successor_id": "VARCHAR",
        "silo": "VARCHAR",
        "source_record_id": "VARCHAR",
        "changed_at": "TIMESTAMP",
    },
    "identity.model": {
        "model_json": "VARCHAR",
        "trained_at": "TIMESTAMP",
    },
    "ops.sync_runs": {
        "run_id": "VARCHAR",
        "silo": "VARCHAR NOT NULL",
        "step": "VARCHAR NOT NULL",
        "started_at": "TIMESTAMP",
        "finished_at": "TIMESTAMP",
        "status": "VARCHAR",
        "raw_rows": "BIGINT",
        "staged_rows": "BIGINT",
        "rejected_rows": "BIGINT",
        "deleted_rows": "BIGINT",
        "suppressed_rows": "BIGINT",
        "xref_rows": "BIGINT",
        "message": "VARCHAR",
    },
    # What the last resolution run saw, so the next one can tell whether resolving only the changed
    # records is exact (one row; identity.record_features holds the per-record side).
    "ops.resolver_state": {
        "resolved_at": "TIMESTAMP",
        "mode": "VARCHAR",
        "reason": "VARCHAR",
        "records": "BIGINT",
        "changed_records": "BIGINT",
        "reclustered_records": "BIGINT",
        "decisions": "BIGINT",
        "settings": "VARCHAR",
    },
    # One row per asset check outcome (GX suites), so `hub status` can show failing checks.
    "ops.check_results": {
        "run_id": "VARCHAR",
        "asset": "VARCHAR NOT NULL",
        "check_name": "VARCHAR NOT NULL",
        "silo": "VARCHAR",
        "passed": "BOOLEAN NOT NULL",
        "failing_count": "BIGINT",
        "rows_checked": "BIGINT",
        "details": "VARCHAR",
        "checked_at": "TIMESTAMP",
    },
}


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the contract schemas and fixed-column tables if they are missing (idempotent)."""
    for schema in SCHEMAS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for table, columns in TABLES.items():
        body = ", ".join(f"{name} {ddl}" for name, ddl in columns.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({body})")


def row_fingerprint_sql(columns) -> str:
    """SQL for an md5 over the given columns of a row (NULL and '' stay distinct), to spot changed rows."""
    parts = ", ".join(f"coalesce(CAST(\"{c}\" AS VARCHAR), chr(0))" for c in columns)
    return f"md5(concat_ws(chr(31), {parts}))"


def typed_columns_sql(columns: dict[str, str], names=None) -> str:
    """`CAST("c" AS type) AS "c", ...` for the given contract columns (all of them by default)."""
    return ", ".join(f'CAST("{c}" AS {columns[c].split()[0]}) AS "{c}"' for c in (names or columns))


def conform(frame, columns: dict[str, str]):
    """Return `frame` with exactly the contract columns, in order (missing ones as nulls)."""
    import pandas as pd

    out = pd.DataFrame(index=frame.index)
    for name in columns:
        out[name] = frame[name] if name in frame.columns else None
    return out

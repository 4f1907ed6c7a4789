"""Read-only SQL over the warehouse (`hub query`, `POST /query`) and Parquet export of the marts.

Admins query the warehouse file directly (read-only, so no write and no writer lock). Analysts query
an in-memory DuckDB holding masked views of marts, staging and identity (see security.masking), with
their statement checked to be one SELECT and file access switched off.
"""
from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from warehouse.lookup import plain_record
from warehouse.security import (
    Principal, attach_read_only, check_select_only, create_masked_catalog, lock_down, open_warehouse, path_guard,
)

SOURCE_ALIAS = "_warehouse"
FORMATS = ("table", "csv", "json", "parquet")
MARTS = ("customers", "customer_360")


def _to_table(result) -> pa.Table:
    return result.read_all() if isinstance(result, pa.RecordBatchReader) else result


def masked_connection(path: str | os.PathLike) -> duckdb.DuckDBPyConnection:
    """In-memory connection whose marts/staging/identity schemas are masked views of the warehouse."""
    con = duckdb.connect()
    try:
        attach_read_only(con, path, SOURCE_ALIAS)
        create_masked_catalog(con, SOURCE_ALIAS)
    except BaseException:
        con.close()
        raise
    return con


class QueryTimeout(RuntimeError):
    """The query ran longer than allowed and was interrupted."""


def run_query(path: str | os.PathLike, sql: str, who: Principal, max_rows: int | None = None,
              timeout_seconds: float | None = None) -> pa.Table:
    """Run one read-only query as `who` (masked for analysts); returns an Arrow table.

    With `timeout_seconds` the query is interrupted when it runs longer (the HTTP service sets one, so
    one heavy query cannot hold a reader open on the warehouse indefinitely).
    """
    who.require("query")
    if not sql or not sql.strip():
        raise ValueError("empty SQL: pass a SELECT statement")
    with path_guard(path):
        return _run_query(path, sql, who, max_rows, timeout_seconds)


def _run_query(path: str | os.PathLike, sql: str, who: Principal, max_rows: int | None,
               timeout_seconds: float | None) -> pa.Table:
    if who.masked:
        con = masked_connection(path)
        try:
            lock_down(con)
            check_select_only(con, sql, forbidden_catalogs=[SOURCE_ALIAS])
            return _fetch(con, sql, max_rows, timeout_seconds)
        finally:
            con.close()
    con = open_warehouse(path, read_only=True)
    try:
        return _fetch(con, sql, max_rows, timeout_seconds)
    finally:
        con.close()


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, max_rows: int | None,
           timeout_seconds: float | None = None) -> pa.Table:
    timer = threading.Timer(timeout_seconds, con.interrupt) if timeout_seconds else None
    if timer:
        timer.start()
    try:
        relation = con.sql(sql)
        if relation is None:
            raise ValueError("the statement returned no rows to show (use a SELECT)")
        if max_rows is not None:
            relation = relation.limit(max_rows)
        return _to_table(relation.to_arrow_table())
    except duckdb.InterruptException as exc:
        raise QueryTimeout(f"query interrupted after {timeout_seconds:g} s; narrow it down") from exc
    finally:
        if timer:
            timer.cancel()


def export_marts(path: str | os.PathLike, out_dir: str | os.PathLike, who: Principal) -> dict[str, Path]:
    """Write marts.customers and marts.customer_360 (masked for analysts) as Parquet files."""
    who.require("export")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with path_guard(path):
        return _export(path, out, who)


def _export(path: str | os.PathLike, out: Path, who: Principal) -> dict[str, Path]:
    con = masked_connection(path) if who.masked else open_warehouse(path, read_only=True)
    written = {}
    try:
        present = {r[0] for r in con.execute(
            "SELECT DISTINCT table_name FROM information_schema.tables WHERE table_schema = 'marts' "
            "AND table_catalog = current_database()").fetchall()}
        for table in MARTS:
            if table not in present:
                continue
            target = out / f"{table}.parquet"
            con.execute(f"COPY (SELECT * FROM marts.{table}) TO '{_quote(str(target))}' (FORMAT parquet)")
            written[table] = target
    finally:
        con.close()
    if not written:
        raise FileNotFoundError("the warehouse has no marts tables yet: run a sync first")
    return written


def _quote(text: str) -> str:
    return text.replace("'", "''")


def write_result(table: pa.Table, fmt: str, output: str | os.PathLike | None = None) -> None:
    """Write a query result as csv/json/parquet to `output` (stdout when None, except parquet)."""
    if fmt == "parquet":
        if output is None:
            raise ValueError("--format parquet needs --output FILE")
        pq.write_table(table, str(output))
        return
    if fmt == "csv":
        if output is None:
            sink = pa.BufferOutputStream()
            pa_csv.write_csv(table, sink)
            sys.stdout.write(sink.getvalue().to_pybytes().decode("utf-8"))
        else:
            pa_csv.write_csv(table, str(output))
        return
    if fmt == "json":
        text = json.dumps([plain_record(r) for r in table.to_pylist()], indent=2, default=str)
        if output is None:
            sys.stdout.write(text + "\n")
        else:
            Path(output).write_text(text + "\n", encoding="utf-8")
        return
    raise ValueError(f"unknown format '{fmt}': choose one of {', '.join(FORMATS)}")

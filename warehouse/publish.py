"""Writing to the warehouse so that readers never see a half-built table.

Every write here is one DuckDB transaction: either all of it lands or none of it does, so a failed
or killed run leaves the last good tables in place.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Mapping

import duckdb
import pandas as pd

from warehouse.faults import fault_point
from warehouse.schema import TABLES, conform


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, frames: Mapping[str, pd.DataFrame]) -> Iterator[dict[str, str]]:
    """Expose frames to SQL as views (contract tables conformed to their columns) for one block."""
    views = {}
    try:
        for table, frame in frames.items():
            views[table] = f"_frame_{len(views)}_{id(frame)}"
            con.register(views[table], conform(frame, TABLES[table]) if table in TABLES else frame)
        yield views
    finally:
        for view in views.values():
            con.unregister(view)


def replace_tables(con: duckdb.DuckDBPyConnection, frames: Mapping[str, pd.DataFrame],
                   also: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> None:
    """Atomically replace whole tables (identity, marts) with the given frames; `also` makes
    further writes that must land (or not) together with them."""
    with registered(con, frames) as views, transaction(con):
        if also is not None:
            also(con)
        for table, view in views.items():
            if table in TABLES:
                con.execute(f"DELETE FROM {table}")
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {view}")
            else:
                con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {view}")
            # tests kill the process here (HUB_FAULT_INJECT): nothing may be half-published
            fault_point(f"during:publish:{table}")


def replace_silo_rows(con: duckdb.DuckDBPyConnection, silo: str, frames: Mapping[str, pd.DataFrame]) -> None:
    """Atomically replace one silo's rows in the shared staging tables."""
    with registered(con, frames) as views, transaction(con):
        for table, view in views.items():
            con.execute(f"DELETE FROM {table} WHERE silo = ?", [silo])
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {view}")


def append_rows(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    with registered(con, {table: frame}) as views:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {views[table]}")


def replace_pair_rows(con: duckdb.DuckDBPyConnection, table: str, rows: pd.DataFrame, records: pd.DataFrame) -> None:
    """Within the caller's transaction: delete the pair rows (silo_l, source_record_id_l, silo_r,
    source_record_id_r) touching any of `records` (silo, source_record_id), then insert `rows`."""
    with registered(con, {"_touched": records[["silo", "source_record_id"]].astype(str), "_pairs": rows}) as views:
        touched = f"(SELECT (silo, source_record_id) FROM {views['_touched']})"
        con.execute(f"DELETE FROM {table} WHERE (silo_l, source_record_id_l) IN {touched} "
                    f"OR (silo_r, source_record_id_r) IN {touched}")
        if len(rows):
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {views['_pairs']}")
        fault_point(f"during:publish:{table}")

"""Writing to the warehouse so that readers never see a half-built table.

Every write here is one DuckDB transaction: either all of it lands or none of it does, so a failed
or killed run leaves the last good tables in place.
"""
from __future__ import annotations

from typing import Mapping

import duckdb
import pandas as pd

from warehouse.faults import fault_point
from warehouse.schema import TABLES, conform


def _register(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> str:
    name = f"_frame_{id(frame)}"
    con.register(name, frame)
    return name


def replace_tables(con: duckdb.DuckDBPyConnection, frames: Mapping[str, pd.DataFrame]) -> None:
    """Atomically replace whole tables (identity, marts) with the given frames."""
    registered = {
        table: _register(con, conform(frame, TABLES[table]) if table in TABLES else frame)
        for table, frame in frames.items()
    }
    con.execute("BEGIN TRANSACTION")
    try:
        for table, view in registered.items():
            if table in TABLES:
                con.execute(f"DELETE FROM {table}")
                con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {view}")
            else:
                con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM {view}")
            fault_point(f"during:publish:{table}")  # tests kill the process here: nothing may be half-published
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for view in registered.values():
            con.unregister(view)


def replace_silo_rows(con: duckdb.DuckDBPyConnection, silo: str, frames: Mapping[str, pd.DataFrame]) -> None:
    """Atomically replace one silo's rows in the shared staging tables."""
    registered = {
        table: _register(con, conform(frame, TABLES[table])) for table, frame in frames.items()
    }
    con.execute("BEGIN TRANSACTION")
    try:
        for table, view in registered.items():
            con.execute(f"DELETE FROM {table} WHERE silo = ?", [silo])
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {view}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        for view in registered.values():
            con.unregister(view)


def append_rows(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    view = _register(con, conform(frame, TABLES[table]))
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {view}")
    finally:
        con.unregister(view)

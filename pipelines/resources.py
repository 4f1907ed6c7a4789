"""Dagster resources: where the warehouse is, and how assets open it."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import dagster as dg
import duckdb

from warehouse.connection import open_warehouse, writer_lock
from warehouse.schema import ensure_schema


class HubWarehouse(dg.ConfigurableResource):
    """The DuckDB warehouse file and the working state kept beside it."""

    path: str
    silos_dir: str
    survivorship_file: str = ""

    @property
    def warehouse(self) -> Path:
        return Path(self.path)

    @property
    def pipelines_dir(self) -> Path:
        # dlt keeps its pipeline state beside the warehouse it loads, so two warehouses never share
        # incremental cursors and deleting a warehouse starts its sources from scratch.
        return self.warehouse.parent / ".dlt_pipelines"

    @contextmanager
    def writer(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with writer_lock(self.warehouse), open_warehouse(self.warehouse) as con:
            ensure_schema(con)
            yield con

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """The writer lock alone, for writers that open the file themselves (dlt loads)."""
        with writer_lock(self.warehouse):
            yield

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with open_warehouse(self.warehouse, read_only=True) as con:
            yield con

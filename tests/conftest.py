"""Fixtures shared across the test packages."""
from __future__ import annotations

import duckdb
import pytest

from warehouse.schema import ensure_schema


@pytest.fixture()
def con(tmp_path):
    """An empty warehouse file with the contract schema, closed after the test."""
    connection = duckdb.connect(str(tmp_path / "wh.duckdb"))
    ensure_schema(connection)
    yield connection
    connection.close()

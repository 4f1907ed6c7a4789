from __future__ import annotations

import pytest

from tests.serving.warehouse_builder import BuiltWarehouse, build_warehouse


@pytest.fixture
def hash_key(monkeypatch):
    monkeypatch.setenv("HUB_HASH_KEY", "test-hash-key-for-suppression")
    return "test-hash-key-for-suppression"


@pytest.fixture
def warehouse(tmp_path, monkeypatch) -> BuiltWarehouse:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUB_WAREHOUSE_KEY", raising=False)
    built = build_warehouse(tmp_path / "hub.duckdb")
    monkeypatch.setenv("HUB_WAREHOUSE", str(built.path))
    return built

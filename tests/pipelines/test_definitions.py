"""The Dagster code location loads, validates, and has the promised shape."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from hub.settings import REPO_ROOT, silos_dir
from pipelines.build import MAIN_JOB, build_definitions
from sources import load_silos


def test_dagster_definitions_validate_from_repo_root(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(REPO_ROOT), "HUB_WAREHOUSE": str(tmp_path / "hub.duckdb")}
    result = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate"], cwd=REPO_ROOT,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Validation successful" in result.stderr + result.stdout


def test_asset_graph_has_a_group_per_silo_then_identity_and_marts(tmp_path):
    defs = build_definitions(warehouse=tmp_path / "hub.duckdb")
    silos = [s.name for s in load_silos(silos_dir())]
    graph = defs.resolve_asset_graph()
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert set(silos) | {"identity", "marts"} <= groups
    xref = dg.AssetKey(["identity", "customer_xref"])
    upstream = graph.get(xref).parent_keys
    assert {dg.AssetKey(["staging", s]) for s in silos} <= set(upstream)
    assert dg.AssetKey(["marts", "customers"]) in graph.get(xref).child_keys


def test_one_schedule_per_silo_from_its_file_and_sync_jobs(tmp_path):
    defs = build_definitions(warehouse=tmp_path / "hub.duckdb")
    configs = load_silos(silos_dir())
    for silo in configs:
        assert defs.resolve_schedule_def(f"{silo.name}_schedule").cron_schedule == silo.schedule
        assert defs.resolve_job_def(f"sync_{silo.name}") is not None
    assert defs.resolve_job_def(MAIN_JOB) is not None


def test_file_silos_get_a_sensor(tmp_path):
    defs = build_definitions(warehouse=tmp_path / "hub.duckdb")
    file_silos = [s.name for s in load_silos(silos_dir()) if s.kind == "files" and s.sensor and s.sensor.enabled]
    sensors = {s.name for s in defs.sensors}
    assert file_silos and {f"{name}_file_drop" for name in file_silos} <= sensors


def test_dagster_yaml_pools_the_warehouse_writer():
    import yaml

    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert "QueuedRunCoordinator" in config["run_coordinator"]["class"]


def test_a_broken_silo_file_leaves_the_other_silos_defined(tmp_path, caplog):
    folder = tmp_path / "silos"
    folder.mkdir()
    for good in silos_dir().glob("*.yaml"):
        (folder / good.name).write_text(good.read_text())
    (folder / "broken.yaml").write_text("name: broken\nkind: sql\nsql: [not, a, mapping\n")
    defs = build_definitions(warehouse=tmp_path / "hub.duckdb", silos=folder)
    assert defs.resolve_job_def("sync_accounting") is not None
    assert "broken.yaml" in caplog.text

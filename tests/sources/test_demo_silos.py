"""The five demo silo files against the demo generator's real output: every row maps, nothing rejected."""
from __future__ import annotations

import duckdb
import pytest

from sources import load_silos, map_records, read_raw, sync_silo
from silo_fixtures import REPO


@pytest.mark.slow
def test_demo_generator_output_syncs_and_maps_cleanly(tmp_path, monkeypatch, hub_paths):
    from hub.demo.generator import generate_demo
    from hub.demo.rest_server import start_support_api

    warehouse, pipes = hub_paths
    demo = tmp_path / "demo"
    manifest = generate_demo(demo, n_people=150, seed=3)
    monkeypatch.setenv("HUB_DEMO_DIR", str(demo))
    monkeypatch.setenv("SUPPORT_API_TOKEN", "demo-token-for-tests")
    with start_support_api(demo / "support" / "requesters.json", "demo-token-for-tests") as api:
        monkeypatch.setenv("SUPPORT_API_URL", api.url)
        silos = load_silos(REPO / "silos")
        reports = {s.name: sync_silo(s, warehouse, pipes) for s in silos}
        again = {s.name: sync_silo(s, warehouse, pipes).total_rows for s in silos}
    assert {name: r.total_rows for name, r in reports.items()} == manifest.row_counts
    assert again == {name: 0 for name in manifest.row_counts}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for silo in silos:
            raw = read_raw(silo, con)
            mapped = map_records(silo, raw)
            assert mapped.rejected.empty, (silo.name, mapped.rejected.head().to_dict("records"))
            assert len(mapped.records) == len(raw) == manifest.row_counts[silo.name]
            assert mapped.records["source_record_id"].is_unique
            assert set(mapped.facts["fact"]) == {f.name for f in silo.facts}, silo.name

"""Dagster entry point: assembles the per-silo and cross-silo definitions (no logic here).

`dagster dev` / `dagster definitions validate` load `defs` from this module (see pyproject's
[tool.dagster]). The warehouse path follows the hub rule (HUB_WAREHOUSE, else data/hub.duckdb).
"""
from __future__ import annotations

import dagster as dg

from pipelines.build import build_definitions

defs: dg.Definitions = build_definitions()

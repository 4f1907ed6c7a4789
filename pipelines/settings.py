"""Where things live: one rule for every `hub` command and every asset.

The warehouse path comes from `--warehouse PATH`, else `HUB_WAREHOUSE`, else `data/hub.duckdb`.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WAREHOUSE = Path("data") / "hub.duckdb"


def warehouse_path(explicit: str | os.PathLike | None = None) -> Path:
    """Resolve the warehouse file: explicit argument, then HUB_WAREHOUSE, then data/hub.duckdb."""
    chosen = explicit or os.environ.get("HUB_WAREHOUSE") or DEFAULT_WAREHOUSE
    return Path(chosen).expanduser().resolve()


def silos_dir() -> Path:
    """Folder of silo YAML files: HUB_SILOS_DIR, else the repo's `silos/`."""
    return Path(os.environ.get("HUB_SILOS_DIR") or REPO_ROOT / "silos").resolve()


def state_dir(warehouse: Path) -> Path:
    """Working state kept beside the warehouse (dlt pipeline state, demo data)."""
    return warehouse.parent


def survivorship_file() -> Path:
    """Survivorship rules for golden records: HUB_SURVIVORSHIP_FILE, else the repo's config file."""
    return Path(os.environ.get("HUB_SURVIVORSHIP_FILE") or REPO_ROOT / "config" / "survivorship.yaml").resolve()

"""A small real hub for the operations tests: demo silos on disk, the support API on 127.0.0.1,
and one warehouse built by `hub sync` that each test copies before changing anything."""
from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from warehouse.ops import table_checksums

from ops_process import clean_env, ok

REPO = Path(__file__).resolve().parents[2]
PEOPLE = 150
HASH_KEY = "ops-tests-hash-key"


@dataclass
class Hub:
    """One hub folder: warehouse + dlt state + demo silo data + silo files, and the env to run it."""
    root: Path
    env: dict[str, str]

    @property
    def warehouse(self) -> Path:
        return self.root / "hub.duckdb"

    @property
    def demo(self) -> Path:
        return self.root / "demo"

    @property
    def silos(self) -> Path:
        return Path(self.env["HUB_SILOS_DIR"])

    def hub(self, *args: str, extra_env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
        """Run the `hub` CLI in a fresh process against this hub."""
        return subprocess.run([sys.executable, "-m", "hub.cli", *args, "--warehouse", str(self.warehouse)],
                              cwd=self.root, env={**self.env, **(extra_env or {})}, capture_output=True,
                              text=True, timeout=timeout)

    def popen(self, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "hub.cli", *args, "--warehouse", str(self.warehouse)],
                                cwd=self.root, env={**self.env, **(extra_env or {})},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def sql(self, query: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(query, params or []).fetchall()

    def checksums(self) -> dict[str, str]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return table_checksums(con)

    def copy(self, dest: Path) -> "Hub":
        """An independent copy (warehouse, dlt state, demo data, silo files)."""
        shutil.copytree(self.root, dest, ignore=shutil.ignore_patterns("*.lock"))
        silos = dest / "silos"
        env = {**self.env, "HUB_DEMO_DIR": str(dest / "demo"), "HUB_SILOS_DIR": str(silos)}
        return Hub(dest, env)


@pytest.fixture(scope="session")
def support_token() -> str:
    return secrets.token_urlsafe(16)


@pytest.fixture(scope="session")
def base_hub(tmp_path_factory, support_token) -> Hub:
    """Demo silos for PEOPLE people, synced once with `hub sync` (every silo, identity, marts)."""
    from hub.demo.generator import generate_demo
    from hub.demo.rest_server import start_support_api

    root = tmp_path_factory.mktemp("ops_hub")
    generate_demo(root / "demo", n_people=PEOPLE, seed=11)
    shutil.copytree(REPO / "silos", root / "silos")
    api = start_support_api(root / "demo" / "support" / "requesters.json", token=support_token)
    env = {**clean_env(), "HUB_DEMO_DIR": str(root / "demo"), "HUB_SILOS_DIR": str(root / "silos"),
           "SUPPORT_API_URL": api.url, "SUPPORT_API_TOKEN": support_token, "HUB_HASH_KEY": HASH_KEY}
    hub = Hub(root, env)
    ok(hub.hub("sync"))
    yield hub
    api.stop()


@pytest.fixture()
def hub_copy(base_hub, tmp_path) -> Hub:
    return base_hub.copy(tmp_path / "hub")

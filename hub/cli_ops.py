"""Operational commands: `hub demo`, `hub run`, `hub status`."""
from __future__ import annotations

import json
import os
import secrets
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console

from hub.settings import silos_dir, warehouse_path

app = typer.Typer()
console = Console()

WarehouseOption = typer.Option(None, "--warehouse", help="Warehouse file (default: $HUB_WAREHOUSE, else data/hub.duckdb).")
# Only for the fictitious demo data: a real deployment sets HUB_HASH_KEY from its secret store.
DEMO_HASH_KEY = "customer-hub-demo-key-not-secret"


def _ensure_demo_data(demo_dir: Path, people: int, seed: int) -> None:
    """Generate the demo silos once per (people, seed): unchanged files mean an unchanged re-sync."""
    from hub.demo.generator import generate_demo

    stamp = demo_dir / "generated.json"
    wanted = {"people": people, "seed": seed}
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        console.print(f"Demo silos already in {demo_dir} (people={people}, seed={seed}).")
        return
    with console.status(f"Generating demo silos for {people:,} people in {demo_dir} …"):
        generate_demo(demo_dir, n_people=people, seed=seed)
    stamp.write_text(json.dumps(wanted))


@contextmanager
def demo_environment(demo_dir: Path) -> Iterator[None]:
    """Serve the demo support API and point the demo silo files at the demo data."""
    from hub.demo.rest_server import start_support_api

    os.environ["HUB_DEMO_DIR"] = str(demo_dir)
    if not os.environ.get("HUB_HASH_KEY"):
        console.print("[yellow]HUB_HASH_KEY is not set: using the demo key (fine for fictitious data only).[/]")
        os.environ["HUB_HASH_KEY"] = DEMO_HASH_KEY
    os.environ.setdefault("SUPPORT_API_TOKEN", secrets.token_urlsafe(24))
    api = start_support_api(demo_dir / "support" / "requesters.json", token=os.environ["SUPPORT_API_TOKEN"])
    os.environ["SUPPORT_API_URL"] = api.url
    try:
        yield
    finally:
        api.stop()


def print_summary(warehouse: Path, truth_csv: Path | None) -> None:
    from hub.summary import customer_counts, metrics_table, quality_against_truth, silo_counts, silo_table
    from warehouse.connection import open_warehouse

    with open_warehouse(warehouse, read_only=True) as con:
        console.print(silo_table(silo_counts(con)))
        console.print(metrics_table("Customers", customer_counts(con)))
        if truth_csv is not None and truth_csv.exists():
            console.print(metrics_table("Matching vs. demo ground truth", quality_against_truth(con, truth_csv)))


def _run_and_report(warehouse: Path, silos: Path | None) -> bool:
    from hub.runner import run_job

    console.print(f"Running the hub job into [b]{warehouse}[/]")
    outcome = run_job(warehouse, silos)
    for error in outcome.errors:
        console.print(f"[red]failed[/] {error}")
    return outcome.success


@app.command()
def demo(
    warehouse: Optional[Path] = WarehouseOption,
    people: int = typer.Option(3000, help="How many fictitious people the demo silos describe."),
    seed: int = typer.Option(7, help="Generator seed (same seed, same data)."),
) -> None:
    """Create the demo silos, run the whole hub job on them, and print a summary."""
    target = warehouse_path(warehouse)
    demo_dir = target.parent / "demo"
    _ensure_demo_data(demo_dir, people, seed)
    with demo_environment(demo_dir):
        ok = _run_and_report(target, silos_dir())
    print_summary(target, demo_dir / "truth.csv")
    if not ok:
        raise typer.Exit(1)


@app.command()
def run(warehouse: Optional[Path] = WarehouseOption) -> None:
    """Run the main job (sync every silo, resolve, publish) on the configured silos."""
    target = warehouse_path(warehouse)
    ok = _run_and_report(target, silos_dir())
    print_summary(target, None)
    if not ok:
        raise typer.Exit(1)

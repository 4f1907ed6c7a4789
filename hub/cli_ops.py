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
    from warehouse.security.connect import table_exists

    if not warehouse.exists():
        console.print(f"[yellow]{warehouse}: no warehouse yet (no sync has loaded anything): nothing to summarise.[/]")
        return
    with open_warehouse(warehouse, read_only=True) as con:
        if not (table_exists(con, "ops", "sync_runs") and table_exists(con, "marts", "customers")):
            console.print("[yellow]No silo has been staged and resolved yet (see the failures above): nothing to "
                          "summarise.[/]")
            return
        console.print(silo_table(silo_counts(con)))
        console.print(metrics_table("Customers", customer_counts(con)))
        scores = quality_against_truth(con, truth_csv) if truth_csv is not None and truth_csv.exists() else None
        if scores:
            console.print(metrics_table("Matching vs. demo ground truth", scores))


def _run_and_report(warehouse: Path, silos: Path | None, job_name: str | None = None) -> bool:
    from hub.runner import run_job
    from pipelines.build import MAIN_JOB

    job_name = job_name or MAIN_JOB
    console.print(f"Running [b]{job_name}[/] into [b]{warehouse}[/]")
    outcome = run_job(warehouse, silos, job_name=job_name)
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
def sync(
    name: Optional[str] = typer.Argument(None, help="Silo to sync (default: every silo)."),
    warehouse: Optional[Path] = WarehouseOption,
) -> None:
    """Sync one silo (or all) through its Dagster job, then refresh identity and the marts.

    `hub silos sync` only loads raw tables; this runs the job a schedule or sensor would run.
    """
    target = warehouse_path(warehouse)
    ok = _run_and_report(target, silos_dir(), f"sync_{name}" if name else None)
    print_summary(target, None)
    if not ok:
        raise typer.Exit(1)


def _record_key(text: str) -> tuple[str, str]:
    silo, sep, record_id = text.partition(":")
    if not sep or not silo or not record_id:
        raise typer.BadParameter(f"{text!r}: give a record as SILO:ID, e.g. accounting:A-1001")
    return silo, record_id


@app.command()
def explain(
    left: str = typer.Argument(..., help="First record, SILO:ID"),
    right: str = typer.Argument(..., help="Second record, SILO:ID"),
    warehouse: Optional[Path] = WarehouseOption,
) -> None:
    """Why two records do or do not match: each field's contribution to the pair's score."""
    from rich.table import Table

    from identity_resolution import FellegiSunterModel, explain_pair
    from warehouse.connection import open_warehouse

    keys = [_record_key(left), _record_key(right)]
    with open_warehouse(warehouse_path(warehouse), read_only=True) as con:
        models = con.execute("SELECT model_json FROM identity.model").fetchall()
        records = [
            con.execute("SELECT * FROM staging.customer_records WHERE silo = ? AND source_record_id = ?", list(key)).df()
            for key in keys
        ]
        ids = con.execute(
            "SELECT silo, source_record_id, customer_id FROM identity.customer_xref "
            "WHERE (silo, source_record_id) IN (SELECT * FROM (VALUES (?, ?), (?, ?)))", [*keys[0], *keys[1]]
        ).fetchall()
    if not models:
        console.print("[red]No trained model in this warehouse yet: run `hub demo` or `hub sync` first.[/]")
        raise typer.Exit(1)
    for key, frame in zip((left, right), records):
        if frame.empty:
            console.print(f"[red]No staged record {key}.[/] List some with `hub query \"SELECT silo, source_record_id FROM staging.customer_records LIMIT 5\"`.")
            raise typer.Exit(1)
    model = FellegiSunterModel.from_json(models[0][0])
    rows = explain_pair(model, records[0].iloc[0].to_dict(), records[1].iloc[0].to_dict())
    table = Table(title=f"{left}  vs  {right}")
    for column in ("field", left, right, "level", "bits", "running total"):
        table.add_column(column, justify="right" if column in ("bits", "running total") else "left")
    for row in rows.itertuples():
        table.add_row(row.field, _cell(row.value_l), _cell(row.value_r), row.label or "",
                      f"{row.bf:+.2f}", f"{row.cumulative:+.2f}")
    console.print(table)
    console.print(f"match weight {rows.cumulative.iloc[-1]:+.2f} bits -> probability {rows.match_probability.iloc[-1]:.4f}")
    for silo, record_id, customer_id in ids:
        console.print(f"{silo}:{record_id} is customer {customer_id}")


def _cell(value) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)

"""Operations commands: `hub status` and `hub rejected list|retry`.

`status` reads the warehouse read-only: per silo the last sync, freshness against the silo's cron
schedule, row counts that must reconcile, and the latest outcome of every quality check.
`rejected retry` re-runs the staging asset(s) and everything downstream through Dagster, so rows
rejected before a fix to the silo file are mapped again from the raw rows already loaded.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from hub.settings import silos_dir, warehouse_path

app = typer.Typer(help="Operations: status of every silo, rejected rows.")
rejected_app = typer.Typer(help="Rows that could not be mapped: list them, re-process them after a fix.",
                           no_args_is_help=True)
console = Console()

WarehouseOption = typer.Option(None, "--warehouse", help="Warehouse file (default: $HUB_WAREHOUSE, else data/hub.duckdb).")


def _silo_specs():
    """Specs of the valid silo files, and the errors of broken ones (shown, not fatal)."""
    from sources import normalise
    from sources.config import load_valid_silos
    from warehouse.ops import SiloSpec

    silos, errors = load_valid_silos(silos_dir())
    specs = [SiloSpec(name=s.name, schedule=s.schedule, raw_tables=[normalise(t) for t in s.tables()]) for s in silos]
    return specs, errors


def _when(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "never"
    minutes = (now - value).total_seconds() / 60
    ago = f"{minutes:.0f}m ago" if minutes < 90 else f"{minutes / 60:.1f}h ago"
    return f"{value:%m-%d %H:%M} ({ago})"


def _freshness(s) -> str:
    if s.last_sync is None:
        return "[red]never synced[/]"
    if s.schedule is None:
        return "unscheduled"
    return "[red]LATE[/]" if s.late else "[green]on time[/]"


def silo_table(statuses, now: datetime) -> Table:
    table = Table(title=f"Silos at {now:%Y-%m-%d %H:%M} UTC")
    counts = ("raw", "staged", "rejected", "live", "xref")
    for column in ("silo", "schedule", "last sync", "due by", "fresh", "last step", *counts, "reconciled"):
        table.add_column(column, justify="right" if column in counts else "left",
                         no_wrap=column in ("silo", "schedule", "last sync", "due by"))
    for s in statuses:
        step = {"success": "[green]ok[/]", None: "-"}.get(s.last_status, f"[red]{s.last_status}[/]")
        table.add_row(s.silo, s.schedule or "-", _when(s.last_sync, now),
                      f"{s.due_by:%m-%d %H:%M}" if s.due_by else "-", _freshness(s), step,
                      f"{s.raw_rows:,}", f"{s.staged_rows:,}", f"{s.rejected_rows:,}", f"{s.live_rows:,}",
                      f"{s.xref_rows:,}", "[green]yes[/]" if s.reconciled else "[red]NO[/]")
    return table


def check_table(checks) -> Table:
    table = Table(title="Quality checks (latest outcome)")
    for column in ("asset", "check", "result", "failing", "rows", "when (UTC)", "first failure"):
        table.add_column(column, no_wrap=column in ("asset", "when (UTC)"))
    for row in checks.itertuples():
        failures = json.loads(row.details or "[]")
        first = failures[0] if failures else {}
        detail = f"{first.get('expectation', '')} {first.get('column') or ''} e.g. {first.get('examples', [])[:2]}" if first else ""
        table.add_row(row.asset, row.check_name, "[green]pass[/]" if row.passed else "[red]FAIL[/]",
                      f"{int(row.failing_count or 0):,}", f"{int(row.rows_checked or 0):,}",
                      f"{row.checked_at:%m-%d %H:%M}", detail[:80])
    return table


@app.command()
def status(
    warehouse: Optional[Path] = WarehouseOption,
    strict: bool = typer.Option(False, "--strict", help="Exit 1 if a silo is late, a check fails, a step failed or counts do not reconcile."),
) -> None:
    """Per silo: last sync, freshness against its schedule, row counts; plus failing quality checks."""
    from warehouse.connection import open_warehouse
    from warehouse.ops import latest_checks, silo_status

    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with open_warehouse(warehouse_path(warehouse), read_only=True) as con:
        specs, file_errors = _silo_specs()
        statuses = silo_status(con, specs, now=now)
        checks = latest_checks(con)
    console.print(silo_table(statuses, now))
    console.print(check_table(checks))
    for error in file_errors:
        console.print(f"[red]broken silo file:[/] {error}")
    problems = [f"broken silo file ({len(file_errors)})"] if file_errors else []
    problems += [f"{s.silo}: late" for s in statuses if s.late]
    problems += [f"{s.silo}: last step {s.last_status}" for s in statuses if s.last_status not in (None, "success")]
    problems += [f"{s.silo}: counts do not reconcile" for s in statuses if not s.reconciled]
    problems += [f"{r.asset}: check {r.check_name} failed" for r in checks.itertuples() if not r.passed]
    if problems:
        console.print("[red]Needs attention:[/] " + "; ".join(problems))
    else:
        console.print("[green]All silos on time, all counts reconcile, all checks pass.[/]")
    if strict and problems:
        raise typer.Exit(1)


@rejected_app.command("list")
def list_rejected(
    silo: Optional[str] = typer.Argument(None, help="Only this silo."),
    limit: int = typer.Option(20, "--limit", help="Rows to show (0 = all)."),
    warehouse: Optional[Path] = WarehouseOption,
) -> None:
    """Rejected rows with the reason and the raw row as the silo had it."""
    from warehouse.connection import open_warehouse
    from warehouse.ops import rejected_counts, rejected_rows

    with open_warehouse(warehouse_path(warehouse), read_only=True) as con:
        rows = rejected_rows(con, silo, limit or None)
        counts = rejected_counts(con)
    total = counts.get(silo, 0) if silo else sum(counts.values())
    table = Table(title=f"Rejected rows ({len(rows):,} of {total:,} shown)")
    for column in ("silo", "record", "reason", "raw row", "rejected at (UTC)"):
        table.add_column(column, overflow="fold")
    for row in rows.itertuples():
        table.add_row(row.silo, str(row.source_record_id or "-"), row.reason, row.raw_row,
                      f"{row.rejected_at:%Y-%m-%d %H:%M}" if row.rejected_at is not None else "")
    console.print(table)
    if total:
        console.print("Fix the silo file (or the source), then `hub rejected retry"
                      + (f" {silo}" if silo else "") + "` to map these rows again.")


def retry_selection(silos: list[str]):
    """The silos' staging assets and everything downstream (identity, marts); raw loads are not re-run."""
    import dagster as dg

    return dg.AssetSelection.assets(*[dg.AssetKey(["staging", s]) for s in silos]).downstream()


@rejected_app.command("retry")
def retry_rejected(
    silo: Optional[str] = typer.Argument(None, help="Only this silo (default: every silo with rejected rows)."),
    warehouse: Optional[Path] = WarehouseOption,
) -> None:
    """Map the silo's raw rows again (after a fix to its silo file), then refresh identity and marts."""
    from hub.runner import run_job
    from sources import load_silos
    from warehouse.connection import open_warehouse
    from warehouse.ops import rejected_counts

    target = warehouse_path(warehouse)
    known = [s.name for s in load_silos(silos_dir())]
    if silo is not None and silo not in known:
        raise typer.BadParameter(f"no silo {silo!r} in {silos_dir()}; known silos: {', '.join(known)}")
    with open_warehouse(target, read_only=True) as con:
        before = rejected_counts(con)
    chosen = [silo] if silo else [s for s in known if before.get(s)]
    if not chosen:
        console.print("No rejected rows: nothing to retry.")
        return
    console.print(f"Re-staging {', '.join(chosen)} and refreshing identity and marts in [b]{target}[/]")
    outcome = run_job(target, silos_dir(), job_name="retry_rejected", selection=retry_selection(chosen))
    for error in outcome.errors:
        console.print(f"[red]failed[/] {error}")
    with open_warehouse(target, read_only=True) as con:
        after = rejected_counts(con)
    table = Table(title="Rejected rows")
    for column in ("silo", "before", "after"):
        table.add_column(column, justify="left" if column == "silo" else "right")
    for name in chosen:
        table.add_row(name, f"{before.get(name, 0):,}", f"{after.get(name, 0):,}")
    console.print(table)
    if not outcome.success:
        raise typer.Exit(1)


"""`hub silos list | check | new | sync`: what IT teams use to plug in and watch department silos."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from hub.settings import silos_dir, warehouse_path

app = typer.Typer(no_args_is_help=True)
console = Console()
err = Console(stderr=True)

WarehouseOption = typer.Option(None, "--warehouse", help="Warehouse file (default: $HUB_WAREHOUSE, else data/hub.duckdb).")
FolderOption = typer.Option(None, "--silos", help="Folder of silo files (default: $HUB_SILOS_DIR, else silos/).")


def pipelines_dir(warehouse: Path) -> Path:
    # the same place the Dagster resource keeps dlt state: beside the warehouse it loads
    return warehouse.parent / ".dlt_pipelines"


def _load(folder: Optional[Path], name: Optional[str] = None) -> list:
    from sources import SiloConfigError, load_silos

    try:
        silos = load_silos(folder or silos_dir())
    except SiloConfigError as exc:
        err.print(f"[red]Invalid silo files:[/red]\n{exc}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if name is not None:
        silos = [s for s in silos if s.name == name]
        if not silos:
            err.print(f"No silo named {name!r} in {folder or silos_dir()}")
            raise typer.Exit(2)
    return silos


def _warehouse_status(warehouse: Path, silos: list) -> dict[str, dict]:
    """Per silo: raw rows per table, last successful load time, staged and rejected counts."""
    import duckdb

    from sources.dlt_sources import normalise
    from warehouse.connection import connect

    status: dict[str, dict] = {s.name: {} for s in silos}
    if not warehouse.exists():
        return status
    try:
        con = connect(warehouse, read_only=True)  # encrypted too, when HUB_WAREHOUSE_KEY is set
    except duckdb.Error as exc:  # e.g. a sync holds the write lock right now
        err.print(f"Cannot read {warehouse}: {exc}")
        return status
    with con:
        tables = {(r[0], r[1]) for r in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables").fetchall()}
        for silo in silos:
            dataset, info = f"raw_{silo.name}", status[silo.name]
            info["rows"] = {normalise(t): con.execute(f'SELECT count(*) FROM "{dataset}"."{normalise(t)}"').fetchall()[0][0]
                            for t in silo.tables() if (dataset, normalise(t)) in tables}
            if (dataset, "_dlt_loads") in tables:
                info["last_sync"] = con.execute(
                    f'SELECT max(inserted_at) FROM "{dataset}"._dlt_loads WHERE status = 0').fetchall()[0][0]
            for key, table in (("staged", "customer_records"), ("rejected", "rejected_records")):
                if ("staging", table) in tables:
                    info[key] = con.execute(f"SELECT count(*) FROM staging.{table} WHERE silo = ?",
                                            [silo.name]).fetchall()[0][0]
    return status


@app.command("list")
def list_silos(warehouse: Optional[Path] = WarehouseOption, silos: Optional[Path] = FolderOption) -> None:
    """Each silo: kind, schedule, last sync and row counts."""
    configs = _load(silos)
    path = warehouse_path(warehouse)
    status = _warehouse_status(path, configs)
    table = Table(title=f"Silos in {silos or silos_dir()}  (warehouse {path})", box=box.SIMPLE_HEAD)
    rows = []
    for silo in configs:
        info = status.get(silo.name, {})
        last = info.get("last_sync")
        rows.append([
            silo.name, silo.kind, silo.schedule,
            last.strftime("%Y-%m-%d %H:%M") if last else "never",
            f"{sum(info.get('rows', {}).values()):,}" if info.get("rows") else "-",
            f"{info['staged']:,}" if "staged" in info else "-",
            f"{info['rejected']:,}" if "rejected" in info else "-",
        ])
    headers = ["silo", "kind", "schedule", "last sync UTC", "raw", "staged", "rejected"]
    for i, header in enumerate(headers):
        # every column but the schedule keeps its full width; the schedule folds on narrow terminals
        width = max([len(header)] + [len(r[i]) for r in rows])
        table.add_column(header, justify="right" if header in ("raw", "staged", "rejected") else "left",
                         min_width=None if header == "schedule" else width, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    for silo in configs:
        for problem in silo.missing_env:
            console.print(f"[red]{silo.name}[/red]: {problem}", soft_wrap=True, highlight=False)


@app.command("check")
def check(name: Optional[str] = typer.Argument(None, help="Silo to check (default: all)"),
          silos: Optional[Path] = FolderOption,
          rows: int = typer.Option(5, help="Sample rows to show per silo")) -> None:
    """Validate files, environment, connectivity and mapped columns; show what would be loaded."""
    from sources import check_silo

    configs = _load(silos, name)
    failed = 0
    for silo in configs:
        with console.status(f"Checking {silo.name} …"):
            report = check_silo(silo)
        if report.ok:
            console.print(f"[green]✓ {silo.name}[/green] ({silo.kind}, {report.path})")
        else:
            failed += 1
            console.print(f"[red]✗ {silo.name}[/red] ({silo.kind}, {report.path})")
            for problem in report.problems:
                console.print(f"   • {problem}", highlight=False, markup=False, soft_wrap=True)
            continue
        for note in report.notes:
            console.print(f"   [yellow]note:[/yellow] {note}", highlight=False, soft_wrap=True)
        for table_name, columns in report.columns.items():
            console.print(f"   table {table_name}: {len(columns)} columns: {', '.join(columns)}", highlight=False)
        _print_sample(report.sample, rows)
        if report.rejected is not None and len(report.rejected):
            console.print(f"   [yellow]{len(report.rejected)} sample rows would be rejected:[/yellow]")
            for _, rej in report.rejected.head(rows).iterrows():
                console.print(f"   • {rej['source_record_id']}: {rej['reason']}", markup=False)
    if failed:
        raise typer.Exit(1)


def _print_sample(sample, rows: int) -> None:
    if sample is None or sample.empty:
        console.print("   (no rows yet)")
        return
    shown = [c for c in sample.columns if c not in ("silo", "is_deleted") and sample[c].notna().any()]
    table = Table(title="what the first rows become", title_justify="left")
    for col in shown:
        table.add_column(col, overflow="fold")
    for _, record in sample.head(rows).iterrows():
        table.add_row(*["" if record[c] is None or record[c] != record[c] else str(record[c]) for c in shown])
    console.print(table)


@app.command("new")
def new(kind: str = typer.Argument(..., help="sql, files or rest"),
        name: str = typer.Argument(..., help="Silo name: lower case letters, digits, _"),
        url_env: Optional[str] = typer.Option(None, help="SQL: environment variable holding the SQLAlchemy URL"),
        table: Optional[str] = typer.Option(None, help="SQL: table to introspect for columns and keys"),
        schema: Optional[str] = typer.Option(None, help="SQL: database schema of the table"),
        path: Optional[str] = typer.Option(None, help="files: folder or fsspec URL of the drops"),
        glob: str = typer.Option("*.csv", help="files: which files to read"),
        base_url: Optional[str] = typer.Option(None, help="rest: API base URL"),
        endpoint: Optional[str] = typer.Option(None, help="rest: path of the customers endpoint (with any query "
                                               "parameters): one page of it is read to fill the file in"),
        token_env: Optional[str] = typer.Option(None, help="rest: environment variable holding the API's token"),
        key_header: Optional[str] = typer.Option(None, help="rest: send the token as an API key in this header "
                                                 "(X-API-Key) instead of as a bearer token"),
        silos: Optional[Path] = FolderOption,
        force: bool = typer.Option(False, help="Overwrite an existing file")) -> None:
    """Write a commented starter file silos/NAME.yaml, read from the table, the first file or one page of the API."""
    import re

    from sources.rest_starter import rest_starter
    from sources.starter import files_starter, sql_starter

    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        err.print(f"Silo name {name!r}: use lower case letters, digits and _ (starting with a letter)")
        raise typer.Exit(2)
    target = (silos or silos_dir()) / f"{name}.yaml"
    if target.exists() and not force:
        err.print(f"{target} exists; pass --force to overwrite it")
        raise typer.Exit(2)
    starters = {"sql": lambda: sql_starter(name, url_env or f"{name.upper()}_DB_URL", table, schema),
                "files": lambda: files_starter(name, path, glob), "rest": lambda: rest_starter(name, base_url, endpoint, token_env, key_header)}
    if kind not in starters:
        err.print(f"Unknown kind {kind!r}: use sql, files or rest")
        raise typer.Exit(2)
    try:
        text = starters[kind]()
    except (ValueError, OSError) as exc:  # a file it cannot read (its encoding, its format), a folder it cannot list
        err.print(f"hub silos new {kind} {name}: {exc}")
        raise typer.Exit(2) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    console.print(f"Wrote {target}. Review it, then run `hub silos check {name}`.")


@app.command("sync")
def sync(name: Optional[str] = typer.Argument(None, help="Silo to sync (default: all)"),
         warehouse: Optional[Path] = WarehouseOption, silos: Optional[Path] = FolderOption,
         full_refresh: bool = typer.Option(False, help="Read everything, not only what changed")) -> None:
    """Load what changed in one silo or all into raw_<silo>.* (one failing silo does not stop the others)."""
    from sources import SiloConfigError, SiloSyncError, sync_silo
    from warehouse.connection import destination_connection, writer_lock

    configs = _load(silos, name)
    path = warehouse_path(warehouse)
    results = Table(title=f"Sync into {path}")
    for col in ("silo", "result", "rows loaded", "new columns", "seconds"):
        results.add_column(col)
    failures = 0
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("syncing", total=len(configs))
        for silo in configs:
            progress.update(task, description=f"syncing {silo.name}")
            try:
                with writer_lock(path):
                    report = sync_silo(silo, path, pipelines_dir(path), full_refresh=full_refresh,
                                       open_destination=destination_connection)
            except (SiloSyncError, SiloConfigError) as exc:
                failures += 1
                results.add_row(silo.name, "[red]failed[/red]", "", "", "", end_section=False)
                err.print(f"[red]{silo.name}[/red]: {exc}", highlight=False, soft_wrap=True)
            else:
                rows = ", ".join(f"{t} {n:,}" for t, n in report.rows_loaded.items())
                new_cols = "; ".join(f"{t}: {', '.join(c)}" for t, c in report.new_columns.items())
                results.add_row(silo.name, "[green]ok[/green]", rows, new_cols or "-", f"{report.seconds:.1f}")
            progress.advance(task)
    console.print(results)
    if failures:
        raise typer.Exit(1)

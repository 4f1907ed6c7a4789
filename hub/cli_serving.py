"""`hub query`, `hub export`, `hub lookup`, `hub serve`, `hub erase`, `hub audit`, `hub keys`, `hub encrypt`.

Who is acting: with `--api-key` (or HUB_API_KEY) the key's name and role; otherwise the local
operator `local:<user>`, who has file access to the warehouse anyway, with the role given by
`--role` (query/export default to the masked analyst view). Every read of personal data is audited.
"""
from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from hub.settings import silos_dir, warehouse_path

app = typer.Typer(no_args_is_help=True)
console = Console()
err = Console(stderr=True)

WAREHOUSE_OPT = typer.Option(None, "--warehouse", "-w",
                             help="Warehouse file (default $HUB_WAREHOUSE or data/hub.duckdb)")
API_KEY_OPT = typer.Option(None, "--api-key", envvar="HUB_API_KEY", help="Act as this API key's holder and role")


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _principal(path: Path, api_key: str | None, role: str):
    from warehouse.security import Principal, authenticate, check_role, load_active_keys, warehouse_session

    if api_key:
        with warehouse_session(path, read_only=True) as con:
            who = authenticate(load_active_keys(con), api_key)
        if who is None:
            _fail("unknown or revoked API key")
        return who
    try:
        check_role(role)
    except ValueError as exc:
        _fail(str(exc))
    return Principal(name=f"local:{getpass.getuser()}", role=role)


def _audit(path: Path, who, action: str, customer_ids, detail: str | None = None) -> None:
    """Record and flush at once; if a sync holds the file, the event waits in the spool."""
    from warehouse.security import AuditLog

    log = AuditLog(path)
    log.record(who, action, customer_ids, detail)
    result = log.flush(wait_seconds=5.0)
    if result.pending_files:
        err.print("[yellow]note:[/yellow] the warehouse is busy; the audit entry is spooled and will be written "
                  "by the next flush")


def _guarded(fn):
    """Turn the known failures into one clear line and exit code 1 instead of a traceback."""
    from warehouse.lookup import LookupInputError
    from warehouse.security import (
        CustomerNotFound, EncryptionSetupError, ErasureConfigError, HashKeyMissing, PermissionDenied, QueryRejected,
        WarehouseBusy, WarehouseMissing,
    )

    import duckdb

    known = (LookupInputError, CustomerNotFound, EncryptionSetupError, ErasureConfigError, HashKeyMissing,
             PermissionDenied, QueryRejected, WarehouseBusy, WarehouseMissing, duckdb.Error, ValueError,
             FileNotFoundError, FileExistsError)
    try:
        return fn()
    except known as exc:
        _fail(str(exc))


def _print_table(table, title: str | None = None) -> None:
    from warehouse.lookup import plain_record

    view = Table(title=title, show_lines=False)
    for name in table.column_names:
        view.add_column(name, overflow="fold")
    for row in table.to_pylist():
        view.add_row(*("" if v is None else json.dumps(v) if isinstance(v, (list, dict)) else str(v)
                       for v in plain_record(row).values()))
    console.print(view)


@app.command("query")
def query_command(
    sql: str = typer.Argument(..., help="One SELECT statement"),
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv, json or parquet"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to this file (needed for parquet)"),
    role: str = typer.Option("analyst", help="Role when no API key is given: analyst (masked) or admin"),
    warehouse: Optional[Path] = WAREHOUSE_OPT,
    api_key: Optional[str] = API_KEY_OPT,
):
    """Read-only SQL over the warehouse; never takes the writer's lock."""
    from warehouse.query import FORMATS, run_query, write_result

    if fmt not in FORMATS:
        _fail(f"unknown format '{fmt}': choose one of {', '.join(FORMATS)}")
    path = warehouse_path(warehouse)

    def run():
        who = _principal(path, api_key, role)
        table = run_query(path, sql, who)
        if fmt == "table" and output is None:
            _print_table(table)
        else:
            write_result(table, "csv" if fmt == "table" else fmt, output)
        _audit(path, who, "query", [None], detail=sql[:2000])
        if output is not None:
            err.print(f"wrote {table.num_rows} rows to {output}")

    _guarded(run)


@app.command("export")
def export_command(
    out: Path = typer.Option(Path("export"), "--out", "-o", help="Folder for the Parquet files"),
    role: str = typer.Option("analyst", help="Role when no API key is given: analyst (masked) or admin"),
    warehouse: Optional[Path] = WAREHOUSE_OPT,
    api_key: Optional[str] = API_KEY_OPT,
):
    """Write marts.customers and marts.customer_360 to Parquet."""
    from warehouse.query import export_marts

    path = warehouse_path(warehouse)

    def run():
        who = _principal(path, api_key, role)
        written = export_marts(path, out, who)
        _audit(path, who, "export", [None], detail=", ".join(str(p) for p in written.values()))
        for table, file in written.items():
            console.print(f"marts.{table} -> {file}")

    _guarded(run)


@app.command("lookup")
def lookup_command(
    phone: Optional[str] = typer.Option(None, "--phone", help="Phone number in any common format"),
    email: Optional[str] = typer.Option(None, "--email", help="Email address"),
    name: Optional[str] = typer.Option(None, "--name", help="Name, fuzzy"),
    limit: int = typer.Option(5, min=1, max=50),
    as_json: bool = typer.Option(False, "--json", help="Print the cards as JSON"),
    role: str = typer.Option("agent", help="Role when no API key is given"),
    warehouse: Optional[Path] = WAREHOUSE_OPT,
    api_key: Optional[str] = API_KEY_OPT,
):
    """The customer-360 card of the best matches by phone, email or name."""
    from warehouse.lookup import cards_in_warehouse, lookup_in_warehouse
    from warehouse.security import mask_record, warehouse_session

    path = warehouse_path(warehouse)

    def run():
        who = _principal(path, api_key, role)
        who.require("lookup")
        with warehouse_session(path, read_only=True) as con:
            matches = lookup_in_warehouse(con, phone=phone, email=email, name=name, limit=limit)
            cards = cards_in_warehouse(con, [m.customer_id for m in matches])
        kind = "phone" if phone else "email" if email else "name"
        _audit(path, who, "lookup", [m.customer_id for m in matches] or [None], detail=f"by {kind}")
        shown = [{"score": m.score, **(mask_record(cards[m.customer_id]) if who.masked else cards[m.customer_id])}
                 for m in matches if m.customer_id in cards]
        if as_json:
            console.print_json(json.dumps(shown, default=str))
            return
        if not shown:
            console.print("No customer found.")
            return
        for card in shown:
            _print_card(card)

    _guarded(run)


def _print_card(card: dict) -> None:
    view = Table(title=f"{card.get('full_name') or card['customer_id']}  (score {card['score']})", show_header=False)
    view.add_column("field", style="bold")
    view.add_column("value", overflow="fold")
    for key, value in card.items():
        if key != "score":
            text = ", ".join(map(str, value)) if isinstance(value, list) else "" if value is None else str(value)
            view.add_row(key, text)
    console.print(view)


@app.command("serve")
def serve_command(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on"),
    port: int = typer.Option(8000, min=1, max=65535),
    warehouse: Optional[Path] = WAREHOUSE_OPT,
    reload_interval: float = typer.Option(1.0, help="Seconds between checks for a changed warehouse"),
    audit_flush_interval: float = typer.Option(
        5.0, help="Seconds between writes of spooled audit events (they are safe in the spool meanwhile)"),
    log_level: str = typer.Option("warning", help="uvicorn log level"),
):
    """Run the HTTP API and the screen-pop / review pages (http://HOST:PORT/ui/)."""
    import uvicorn

    from hub.serve.app import create_app
    from hub.serve.state import ServeSettings

    path = warehouse_path(warehouse)
    settings = ServeSettings(warehouse=path, reload_interval=reload_interval, audit_flush_interval=audit_flush_interval,
                             raw_tables=raw_tables_from_silos)
    err.print(f"serving {path} on http://{host}:{port}/ui/  (API docs at /docs)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, access_log=False)


def raw_tables_from_silos():
    """{silo: [RawTable]} from the silo files: where raw rows live and how their record id is built."""
    from pipelines.staging import raw_tables
    from sources import load_silos

    return {name: specs for silo in load_silos(silos_dir()) for name, specs in raw_tables(silo).items()}


@app.command("erase")
def erase_command(
    customer: str = typer.Option(..., "--customer", help="Customer id to erase (a retired id erases its successor)"),
    reason: Optional[str] = typer.Option(None, help="Why (e.g. the request reference); kept in the audit log"),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation"),
    role: str = typer.Option("admin", help="Role when no API key is given"),
    warehouse: Optional[Path] = WAREHOUSE_OPT,
    api_key: Optional[str] = API_KEY_OPT,
):
    """Right to be forgotten: remove a person from raw, staging, identity and marts; keep a suppression entry."""
    from warehouse.security import erase_customer, write_transaction

    path = warehouse_path(warehouse)

    def run():
        who = _principal(path, api_key, role)
        who.require("erase")
        if not yes:
            typer.confirm(f"Erase customer {customer} and all their source records?", abort=True)
        raw_tables = raw_tables_from_silos()
        with write_transaction(path, wait_seconds=30.0) as con:
            report = erase_customer(con, customer, raw_tables)
        _audit(path, who, "erase", report.customer_ids,
               detail=json.dumps({"erasure_id": report.erasure_id, "rows_deleted": report.rows_deleted,
                                  "reason": reason}))
        view = Table(title=f"Erased {customer} (erasure {report.erasure_id})")
        view.add_column("table")
        view.add_column("rows deleted", justify="right")
        for table, count in sorted(report.deleted.items()):
            view.add_row(table, str(count))
        console.print(view)
        console.print(f"{report.source_records} source records, {report.suppression_entries} suppression entries "
                      "(keyed hashes, no personal data)")

    _guarded(run)


@app.command("audit")
def audit_command(
    customer: Optional[str] = typer.Option(None, "--customer", help="Only events about this customer"),
    actor: Optional[str] = typer.Option(None, help="Only events by this key name / local user"),
    action: Optional[str] = typer.Option(None, help="lookup, read_customer, read_records, query, export, erase ..."),
    limit: int = typer.Option(50, min=1, max=100_000),
    as_json: bool = typer.Option(False, "--json"),
    role: str = typer.Option("admin", help="Role when no API key is given"),
    warehouse: Optional[Path] = WAREHOUSE_OPT,
    api_key: Optional[str] = API_KEY_OPT,
):
    """Show the audit log: who read or changed which customer, when."""
    from warehouse.security import AuditLog, read_audit, warehouse_session

    path = warehouse_path(warehouse)

    def run():
        _principal(path, api_key, role).require("audit")
        AuditLog(path).flush(wait_seconds=5.0)
        with warehouse_session(path, read_only=True) as con:
            frame = read_audit(con, customer_id=customer, actor=actor, action=action, limit=limit)
        if as_json:
            console.print_json(frame.to_json(orient="records", date_format="iso"))
            return
        view = Table(title=f"Audit log ({len(frame)} newest events)")
        for column in ("occurred_at", "actor", "role", "action", "customer_id", "detail"):
            view.add_column(column, overflow="fold")
        for row in frame.itertuples(index=False):
            view.add_row(str(row.occurred_at), row.actor, row.role, row.action, row.customer_id or "", row.detail or "")
        console.print(view)

    _guarded(run)


@app.command("keys")
def keys_command(
    action: str = typer.Argument(..., help="create, list or revoke"),
    name: Optional[str] = typer.Option(None, help="create: who or what uses the key"),
    role: Optional[str] = typer.Option(None, help="create: agent, analyst or admin"),
    key_id: Optional[str] = typer.Option(None, "--key-id", help="revoke: the key's id (see `hub keys list`)"),
    warehouse: Optional[Path] = WAREHOUSE_OPT,
):
    """Manage API keys: `hub keys create --name NAME --role ROLE`, `hub keys list`, `hub keys revoke --key-id ID`."""
    from warehouse.security import create_api_key, list_api_keys, revoke_api_key, warehouse_session, write_transaction

    path = warehouse_path(warehouse)

    def run():
        if action == "create":
            if not name or not role:
                _fail("hub keys create needs --name and --role")
            with write_transaction(path, wait_seconds=30.0) as con:
                key_id_new, token = create_api_key(con, name, role)
            console.print(f"key id {key_id_new} for {name} ({role}). The key, shown only now:")
            console.print(token, soft_wrap=True, highlight=False)
        elif action == "list":
            if not path.exists():
                _fail(f"No warehouse at {path}")
            with warehouse_session(path, read_only=True) as con:
                frame = list_api_keys(con)
            view = Table(title="API keys")
            for column in frame.columns:
                view.add_column(column)
            for row in frame.itertuples(index=False):
                view.add_row(*("" if v is None or str(v) in ("NaT", "None") else str(v) for v in row))
            console.print(view)
        elif action == "revoke":
            if not key_id:
                _fail("hub keys revoke needs --key-id")
            with write_transaction(path, wait_seconds=30.0) as con:
                found = revoke_api_key(con, key_id)
            if not found:
                _fail(f"no active key with id {key_id}")
            console.print(f"revoked key {key_id}")
        else:
            _fail(f"unknown action '{action}': use create, list or revoke")

    _guarded(run)


@app.command("encrypt")
def encrypt_command(
    source: Path = typer.Argument(..., help="Plain warehouse file"),
    target: Path = typer.Argument(..., help="New encrypted file (then point HUB_WAREHOUSE at it)"),
):
    """Copy the warehouse into a DuckDB-encrypted file using the key in HUB_WAREHOUSE_KEY."""
    from warehouse.security import encrypt_warehouse

    def run():
        encrypt_warehouse(source, target)
        console.print(f"encrypted copy written to {target}; set HUB_WAREHOUSE={target} and keep HUB_WAREHOUSE_KEY set")

    _guarded(run)

"""Operational queries over the warehouse: what ran, how fresh it is, what failed, what reconciles.

Everything here reads the contract tables and `ops.*` (run log and check outcomes); writes are only
the small appends the pipeline steps make to `ops.check_results`. Table checksums let tests and the
soak benchmark prove that a re-run with unchanged input changes nothing.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import duckdb
import pandas as pd
from croniter import croniter


# The tables a re-run must leave byte-for-byte unchanged when no input changed.
CHECKSUM_SCHEMAS = ("staging", "identity", "marts")
# Run logs and review working state legitimately change on every run.
CHECKSUM_EXCLUDE = {"ops.sync_runs", "ops.check_results"}


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# --- checksums --------------------------------------------------------------------------------

def _tables_in(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> list[str]:
    rows = con.execute(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema IN (SELECT unnest(?::VARCHAR[])) AND table_type = 'BASE TABLE' ORDER BY 1",
        [list(schemas)],
    ).fetchall()
    return [r[0] for r in rows if r[0] not in CHECKSUM_EXCLUDE]


def table_checksum(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """Order-independent checksum of a table's rows: row count plus md5 over sorted row hashes.

    Rows are hashed by their text form (`md5(row::VARCHAR)`), then the sorted hashes are hashed
    again, so the result depends on contents only, not on physical order.
    """
    count, digest = con.execute(
        f"SELECT count(*), md5(coalesce(string_agg(h, '' ORDER BY h), '')) "
        f"FROM (SELECT md5(CAST(t AS VARCHAR)) AS h FROM {table} AS t)"
    ).fetchall()[0]
    return f"{count}:{digest}"


def table_checksums(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...] = CHECKSUM_SCHEMAS) -> dict[str, str]:
    """`{schema.table: "rows:md5"}` for every table in the staging, identity and marts schemas."""
    return {table: table_checksum(con, table) for table in _tables_in(con, schemas)}


def changed_tables(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))


# --- check outcomes ---------------------------------------------------------------------------

def record_check(con: duckdb.DuckDBPyConnection, asset: str, check: str, passed: bool, metadata: dict,
                 run_id: str | None = None, silo: str | None = None) -> None:
    """Append one asset check outcome to ops.check_results (shown by `hub status`)."""
    failures = metadata.get("failures") or []
    failing = sum(int(f.get("failing_count") or 0) for f in failures if isinstance(f.get("failing_count"), (int, float)))
    row = pd.DataFrame([{
        "run_id": run_id, "asset": asset, "check_name": check, "silo": silo, "passed": bool(passed),
        "failing_count": failing, "rows_checked": metadata.get("rows_checked"),
        "details": json.dumps(failures, default=str)[:20000], "checked_at": _now(),
    }])
    from warehouse.publish import append_rows

    append_rows(con, "ops.check_results", row)


def latest_checks(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The most recent outcome of every (asset, check)."""
    return con.execute(
        """
        SELECT asset, check_name, silo, passed, failing_count, rows_checked, details, checked_at
        FROM ops.check_results
        QUALIFY row_number() OVER (PARTITION BY asset, check_name ORDER BY checked_at DESC) = 1
        ORDER BY asset, check_name
        """
    ).df()


# --- status -----------------------------------------------------------------------------------

@dataclass
class SiloStatus:
    silo: str
    schedule: str | None
    last_sync: datetime | None          # last successful stage step
    last_load: datetime | None          # last completed dlt load into raw_<silo>
    last_status: str | None             # status of the silo's latest recorded step
    last_message: str | None
    due_by: datetime | None             # when the next scheduled sync should have finished
    late: bool
    raw_rows: int
    staged_rows: int
    rejected_rows: int
    xref_rows: int
    live_rows: int
    suppressed_rows: int = 0            # rows of erased people, left out of staging on purpose

    @property
    def reconciled(self) -> bool:
        """raw = staged + rejected (+ suppressed), and every live staged record is in the xref."""
        return (self.raw_rows == self.staged_rows + self.rejected_rows + self.suppressed_rows
                and self.live_rows == self.xref_rows)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def _schema_tables(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    return [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [schema]).fetchall()]


def raw_row_count(con: duckdb.DuckDBPyConnection, silo: str, tables: list[str]) -> int:
    present = set(_schema_tables(con, f"raw_{silo}"))
    return sum(int(_scalar(con, f'SELECT count(*) FROM "raw_{silo}"."{t}"')) for t in tables if t in present)


def last_dlt_load(con: duckdb.DuckDBPyConnection, silo: str) -> datetime | None:
    if "_dlt_loads" not in _schema_tables(con, f"raw_{silo}"):
        return None
    value = _scalar(con, f'SELECT max(inserted_at) FROM "raw_{silo}"._dlt_loads WHERE status = 0')
    if value is None:
        return None
    value = pd.Timestamp(value)
    return (value.tz_convert("UTC").tz_localize(None) if value.tzinfo else value).to_pydatetime()


def silo_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per silo: staged, live, rejected and xref rows as the warehouse holds them now."""
    return con.execute(
        """
        WITH staged AS (
            SELECT silo, count(*) AS staged_rows,
                   count(*) FILTER (WHERE NOT coalesce(is_deleted, FALSE)) AS live_rows
            FROM staging.customer_records GROUP BY silo),
        rejected AS (SELECT silo, count(*) AS rejected_rows FROM staging.rejected_records GROUP BY silo),
        xref AS (SELECT silo, count(*) AS xref_rows FROM identity.customer_xref GROUP BY silo)
        SELECT silo, coalesce(staged_rows, 0) AS staged_rows, coalesce(live_rows, 0) AS live_rows,
               coalesce(rejected_rows, 0) AS rejected_rows, coalesce(xref_rows, 0) AS xref_rows
        FROM staged FULL JOIN rejected USING (silo) FULL JOIN xref USING (silo)
        """
    ).df().set_index("silo")


def _last_steps(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        """
        SELECT silo,
               max(finished_at) FILTER (WHERE step = 'stage' AND status = 'success') AS last_stage,
               arg_max(suppressed_rows, finished_at) FILTER (WHERE step = 'stage') AS suppressed_rows,
               arg_max(status, finished_at) AS last_status,
               arg_max(message, finished_at) AS last_message
        FROM ops.sync_runs GROUP BY silo
        """
    ).df().set_index("silo")


@dataclass
class SiloSpec:
    """What status needs to know of a silo file: its name, cron schedule and raw table names."""
    name: str
    schedule: str | None
    raw_tables: list[str]


def schedule_interval(cron: str) -> timedelta:
    """The shortest gap between two ticks of a cron schedule (over the next few ticks)."""
    start = datetime(2026, 1, 5)
    it = croniter(cron, start)
    ticks = [it.get_next(datetime) for _ in range(8)]
    return min(b - a for a, b in zip(ticks, ticks[1:]))


def due_by(cron: str, last_sync: datetime | None) -> datetime | None:
    """When the sync after `last_sync` must have landed: the schedule's next tick plus one interval.

    The same rule as the Dagster freshness checks (pipelines/freshness.py): at every tick D, a sync
    must have landed after D minus one interval. Schedules run in UTC; times here are naive UTC.
    """
    if last_sync is None:
        return None
    return croniter(cron, last_sync).get_next(datetime) + schedule_interval(cron)


def silo_status(con: duckdb.DuckDBPyConnection, silos: list[SiloSpec], now: datetime | None = None) -> list[SiloStatus]:
    """Status of each configured silo: last sync, freshness against its schedule, row counts."""
    now = now or _now()
    counts = silo_counts(con)
    steps = _last_steps(con)
    out = []
    for silo in silos:
        name = silo.name
        c = counts.loc[name] if name in counts.index else None
        s = steps.loc[name] if name in steps.index else None
        last_stage = _to_dt(s["last_stage"]) if s is not None else None
        last_load = last_dlt_load(con, name)
        # Freshness follows staging (as the Dagster check does): a raw load alone is not a sync.
        last_sync = last_stage
        deadline = due_by(silo.schedule, last_sync) if silo.schedule else None
        out.append(SiloStatus(
            silo=name, schedule=silo.schedule, last_sync=last_sync, last_load=last_load,
            last_status=None if s is None else s["last_status"],
            last_message=None if s is None or pd.isna(s["last_message"]) else s["last_message"],
            due_by=deadline, late=last_sync is None or (deadline is not None and now > deadline),
            raw_rows=raw_row_count(con, name, silo.raw_tables),
            staged_rows=_int(c, "staged_rows"), rejected_rows=_int(c, "rejected_rows"),
            xref_rows=_int(c, "xref_rows"), live_rows=_int(c, "live_rows"),
            suppressed_rows=_int(s, "suppressed_rows"),
        ))
    return out


def _int(row, column: str) -> int:
    return 0 if row is None or pd.isna(row[column]) else int(row[column])


def _to_dt(value) -> datetime | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


# --- rejected rows ----------------------------------------------------------------------------

def rejected_rows(con: duckdb.DuckDBPyConnection, silo: str | None = None, limit: int | None = 20) -> pd.DataFrame:
    sql = ("SELECT silo, source_record_id, reason, raw_row, rejected_at FROM staging.rejected_records "
           "WHERE ? IS NULL OR silo = ? ORDER BY silo, source_record_id")
    params: list = [silo, silo]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return con.execute(sql, params).df()


def rejected_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(con.execute("SELECT silo, count(*) FROM staging.rejected_records GROUP BY silo").fetchall())

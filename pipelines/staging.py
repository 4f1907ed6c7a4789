"""Building block: turn one silo's raw tables into its rows of the staging tables.

raw -> `sources.map_records` (silo columns onto the canonical record, rejects with reasons)
    -> `identity_resolution.standardise_records` (clean values, hash national ids; only records whose
       mapped values changed since the last sync, see pipelines/standardise_changed.py)
    -> staging.customer_records / staging.rejected_records / staging.customer_facts.
Counts must reconcile (raw = staged + rejected) or the step fails before publishing anything.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb
import pandas as pd

from pipelines.logs import get_logger, log_event
from pipelines.standardise_changed import standardise_changed
from sources import map_records, read_raw
from sources.dlt_sources import normalise
from warehouse.faults import fault_point
from warehouse.publish import append_rows, replace_silo_rows
from warehouse.schema import STAGING_COLUMNS, conform, row_fingerprint_sql, typed_columns_sql
from warehouse.security import RawTable
from warehouse.security.erasure import purge_suppressed_raw
from warehouse.security.suppression import suppressed

log = get_logger("staging")


class ReconciliationError(RuntimeError):
    """Rows went missing between raw and staging."""


@dataclass
class StageCounts:
    silo: str
    raw_rows: int
    staged_rows: int
    rejected_rows: int
    deleted_rows: int
    suppressed_rows: int = 0

    def as_metadata(self) -> dict[str, int]:
        return {
            "raw_rows": self.raw_rows,
            "staged_rows": self.staged_rows,
            "rejected_rows": self.rejected_rows,
            "deleted_rows": self.deleted_rows,
            "suppressed_rows": self.suppressed_rows,
        }


def _load_times(raw: pd.DataFrame) -> pd.Series:
    """dlt load ids are the load's UNIX start time; they date each row's arrival in the hub."""
    if "_dlt_load_id" not in raw.columns:
        return pd.Series(pd.Timestamp.now(tz="UTC").tz_localize(None), index=raw.index)
    seconds = pd.to_numeric(raw["_dlt_load_id"], errors="coerce")
    return pd.to_datetime(seconds, unit="s")


def staged_frame(con: duckdb.DuckDBPyConnection, silo, raw: pd.DataFrame, mapped) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Standardised staging rows for the mapped records (only changed ones standardised afresh),
    with arrival time and delete flag; and their fingerprints."""
    records = mapped.records
    staged, fingerprints = standardise_changed(con, silo.name, records, getattr(silo, "country", None) or "US")
    staged["is_deleted"] = records["is_deleted"].fillna(False).astype(bool).to_numpy() if "is_deleted" in records else False
    if "_dlt_load_id" in records.columns:
        staged["loaded_at"] = _load_times(records).to_numpy()
    else:
        staged["loaded_at"] = _load_times(raw).max() if len(raw) else pd.NaT
    return staged, fingerprints


def raw_tables(silo) -> dict[str, list[RawTable]]:
    """Where the silo's raw rows live and how their source_record_id is built (for erasure purges)."""
    tables = silo.tables()
    id_columns = tuple(normalise(c) for c in silo.record_id_columns())
    return {silo.name: [RawTable(normalise(t), id_columns, table_prefix=len(tables) > 1) for t in tables]}


def drop_suppressed(con: duckdb.DuckDBPyConnection, staged: pd.DataFrame, facts: pd.DataFrame):
    """Erased people stay erased: rows matching a suppression entry are not staged (their facts neither)."""
    mask = suppressed(con, staged)
    if not mask.any():
        return staged, facts, 0
    keys = ["silo", "source_record_id"]
    gone = pd.MultiIndex.from_frame(staged.loc[mask, keys])
    keep_facts = ~pd.MultiIndex.from_frame(facts[keys]).isin(gone)
    return staged.loc[~mask], facts.loc[keep_facts], int(mask.sum())


def stage_silo(con: duckdb.DuckDBPyConnection, silo, run_id: str | None = None) -> StageCounts:
    """Map, standardise and publish one silo's staging rows in one transaction."""
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    # A re-sync may have brought back raw rows of erased source records: purge them before mapping.
    purge_suppressed_raw(con, raw_tables(silo))
    raw = read_raw(silo, con)
    mapped = map_records(silo, raw)
    staged, fingerprints = staged_frame(con, silo, raw, mapped)
    staged, facts, suppressed_rows = drop_suppressed(con, staged, mapped.facts)
    counts = StageCounts(
        silo=silo.name,
        raw_rows=len(raw),
        staged_rows=len(staged),
        rejected_rows=len(mapped.rejected),
        deleted_rows=int(staged["is_deleted"].sum()),
        suppressed_rows=suppressed_rows,
    )
    if counts.raw_rows != counts.staged_rows + counts.rejected_rows + counts.suppressed_rows:
        message = (f"silo {silo.name}: {counts.raw_rows} raw rows but {counts.staged_rows} staged + "
                   f"{counts.rejected_rows} rejected + {counts.suppressed_rows} suppressed; "
                   "refusing to publish staging for this silo")
        record_step(con, silo.name, "stage", started, run_id, status="failed", message=message,
                    **counts.as_metadata())
        log.error(message, extra={"event_name": "silo_reconciliation_failed", "silo": silo.name, **counts.as_metadata()})
        raise ReconciliationError(message)
    staged["loaded_at"] = keep_loaded_at(con, silo.name, staged)
    rejected = mapped.rejected.copy()
    rejected["rejected_at"] = keep_rejected_at(con, silo.name, rejected, started)
    replace_silo_rows(
        con,
        silo.name,
        {
            "staging.customer_records": staged,
            "staging.rejected_records": rejected,
            "staging.customer_facts": facts,
            "staging.record_fingerprints": fingerprints,
        },
    )
    record_step(con, silo.name, "stage", started, run_id, **counts.as_metadata())
    log_event(log, "silo_staged", silo=silo.name, run_id=run_id, **counts.as_metadata())
    fault_point(f"after:stage:{silo.name}")
    return counts


def keep_loaded_at(con: duckdb.DuckDBPyConnection, silo: str, staged: pd.DataFrame) -> pd.Series:
    """Unchanged records keep the loaded_at of the version already staged.

    dlt re-merges unchanged file and table rows with a new load id on every sync; without this a
    re-run over the same data would restamp every record (and the marts' first_seen/last_updated).
    """
    compared = [c for c in STAGING_COLUMNS if c != "loaded_at"]
    typed = typed_columns_sql(STAGING_COLUMNS, compared)
    candidate = conform(staged, STAGING_COLUMNS).drop(columns="loaded_at").assign(_row=range(len(staged)))
    con.register("_staged_candidate", candidate)
    try:
        kept = con.execute(
            f"""
            WITH n AS (SELECT _row, {row_fingerprint_sql(compared)} AS fp
                       FROM (SELECT _row, {typed} FROM _staged_candidate)),
                 p AS (SELECT {row_fingerprint_sql(compared)} AS fp, max(loaded_at) AS loaded_at
                       FROM staging.customer_records WHERE silo = ? GROUP BY fp)
            SELECT n._row, p.loaded_at FROM n LEFT JOIN p USING (fp) ORDER BY n._row
            """,
            [silo],
        ).df()
    finally:
        con.unregister("_staged_candidate")
    previous = pd.Series(kept["loaded_at"].to_numpy(), index=staged.index)
    return previous.where(previous.notna(), staged["loaded_at"])


def keep_rejected_at(con: duckdb.DuckDBPyConnection, silo: str, rejected: pd.DataFrame, now: datetime) -> pd.Series:
    """A row rejected again for the same reason with the same content keeps its first rejected_at."""
    if rejected.empty:
        return pd.Series([], index=rejected.index, dtype="datetime64[ns]")
    keys = ["source_record_id", "raw_row", "reason"]
    previous = con.execute(
        "SELECT source_record_id, raw_row, reason, min(rejected_at) AS rejected_at "
        "FROM staging.rejected_records WHERE silo = ? GROUP BY ALL", [silo]).df()
    # merge on object columns matches None with None, which a rejected row without an id needs
    merged = rejected[keys].astype(object).merge(previous.astype({k: object for k in keys}), on=keys, how="left")
    return pd.Series(pd.to_datetime(merged["rejected_at"]).fillna(pd.Timestamp(now)).to_numpy(), index=rejected.index)


def record_step(con: duckdb.DuckDBPyConnection, silo: str, step: str, started: datetime, run_id: str | None,
                status: str = "success", message: str | None = None, **counts: int) -> None:
    row = {"run_id": run_id, "silo": silo, "step": step, "started_at": started,
           "finished_at": datetime.now(timezone.utc).replace(tzinfo=None), "status": status, "message": message,
           **counts}
    append_rows(con, "ops.sync_runs", pd.DataFrame([row]))

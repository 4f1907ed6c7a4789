"""Building block: resolve identities over the staging table and publish the identity tables.

Fresh clusters from the resolver are mapped onto persistent customer ids (previous xref and id
history), human review decisions are passed in as must-link / cannot-link constraints, and the
identity tables are replaced in one transaction.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb
import pandas as pd

from identity_resolution import FellegiSunterModel, ResolverConfig, resolve
from identity_resolution.ids import assign_stable_ids
from identity_resolution.review import build_review_queue, decisions_to_constraints
from pipelines.logs import get_logger, log_event
from pipelines.staging import ReconciliationError, record_step
from warehouse.faults import fault_point
from warehouse.publish import replace_tables
from warehouse.review_store import load_decisions, save_review_queue
log = get_logger("resolution")

RETRAIN_ENV = "HUB_RETRAIN_MODEL"
# Ordered: the resolver's output depends on input row order (EM sampling, block caps), and the
# table's physical order changes whenever one silo is re-staged; a fixed order keeps re-runs identical.
LIVE_RECORDS_SQL = ("SELECT * FROM staging.customer_records WHERE NOT coalesce(is_deleted, FALSE) "
                    "ORDER BY silo, source_record_id")


@dataclass
class ResolveCounts:
    records: int
    customers: int
    multi_silo_customers: int
    candidate_pairs: int
    review_pairs: int
    timings: dict[str, float]

    def as_metadata(self) -> dict:
        return {
            "records": self.records,
            "customers": self.customers,
            "multi_silo_customers": self.multi_silo_customers,
            "candidate_pairs": self.candidate_pairs,
            "review_pairs": self.review_pairs,
            **{f"seconds_{stage}": round(seconds, 3) for stage, seconds in self.timings.items()},
        }


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _keep_resolved_at(xref: pd.DataFrame, previous: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """Unchanged mappings keep their resolved_at, so a re-run over the same data changes nothing."""
    keys = ["silo", "source_record_id", "customer_id"]
    previous = previous.astype({key: "object" for key in keys})
    merged = xref.astype({key: "object" for key in keys}).merge(previous[keys + ["resolved_at"]], on=keys, how="left")
    merged["resolved_at"] = merged["resolved_at"].fillna(pd.Timestamp(now))
    return merged


def _facts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute("SELECT * FROM staging.customer_facts").df()


def _model_rows(con: duckdb.DuckDBPyConnection, model_json: str, now: datetime) -> pd.DataFrame:
    previous = con.execute("SELECT model_json, trained_at FROM identity.model").df()
    if len(previous) and previous["model_json"].iloc[0] == model_json:
        return previous
    return pd.DataFrame({"model_json": [model_json], "trained_at": [now]})


def reconcile_xref(records: pd.DataFrame, xref: pd.DataFrame) -> pd.DataFrame:
    """Per silo: live staged records, xref rows, and staged records not mapped exactly once."""
    keys = ["silo", "source_record_id"]
    mapped = xref.groupby(keys).size().rename("mappings").reset_index()
    joined = records[keys].merge(mapped, on=keys, how="left").fillna({"mappings": 0})
    per_silo = pd.DataFrame({
        "staged_rows": records.groupby("silo").size(),
        "xref_rows": xref.groupby("silo").size(),
        "not_mapped_once": joined[joined["mappings"] != 1].groupby("silo").size(),
    }).fillna(0).astype(int)
    return per_silo


def _check_reconciled(con: duckdb.DuckDBPyConnection, per_silo: pd.DataFrame, started: datetime,
                      run_id: str | None) -> None:
    """Every live staged record is mapped exactly once, per silo, or nothing is published."""
    bad = per_silo[(per_silo["staged_rows"] != per_silo["xref_rows"]) | (per_silo["not_mapped_once"] > 0)]
    if bad.empty:
        return
    lines = [f"silo {silo}: {r.staged_rows} live staged records but {r.xref_rows} xref rows "
             f"({r.not_mapped_once} not mapped exactly once)" for silo, r in bad.iterrows()]
    message = "; ".join(lines) + "; refusing to publish the identity tables"
    for silo, r in bad.iterrows():
        record_step(con, str(silo), "resolve", started, run_id, status="failed", message=message,
                    staged_rows=int(r.staged_rows), xref_rows=int(r.xref_rows))
    raise ReconciliationError(message)


def stored_model(con: duckdb.DuckDBPyConnection, config: ResolverConfig | None = None) -> FellegiSunterModel | None:
    """The model the previous run trained, reused so that match decisions between records nobody
    changed do not drift with unrelated data (re-estimating m/u on every sync merged and split
    untouched customers in the soak benchmark). Set HUB_RETRAIN_MODEL=1 to train afresh; a model
    whose comparisons no longer match the resolver is retrained automatically."""
    if os.environ.get(RETRAIN_ENV, "").lower() in ("1", "true", "yes") or (config is not None and config.model_path):
        return None
    rows = con.execute("SELECT model_json FROM identity.model ORDER BY trained_at DESC LIMIT 1").fetchall()
    if not rows or not rows[0][0]:
        return None
    try:
        return FellegiSunterModel.from_json(rows[0][0])
    except (ValueError, KeyError):
        return None


def resolve_warehouse(con: duckdb.DuckDBPyConnection, config: ResolverConfig | None = None,
                      run_id: str | None = None) -> ResolveCounts:
    now = _now()
    records = con.execute(LIVE_RECORDS_SQL).df()
    previous_xref = con.execute("SELECT * FROM identity.customer_xref").df()
    previous_history = con.execute("SELECT * FROM identity.customer_id_history").df()
    constraints = decisions_to_constraints(load_decisions(con))
    model = stored_model(con, config)
    if model is not None:
        # A reused model keeps its term-frequency tables too: recounting them as unrelated records come
        # and go would move borderline pairs of untouched customers across the threshold.
        config = dataclasses.replace(config or ResolverConfig(), freeze_tf_tables=True)
    resolution = resolve(records, config, constraints=constraints if len(constraints) else None, model=model)
    stable = assign_stable_ids(resolution.xref, previous_xref, previous_history, now=now)
    xref = _keep_resolved_at(stable.xref, previous_xref, now)
    history = pd.concat([previous_history, stable.history], ignore_index=True)
    per_silo = reconcile_xref(records, xref)
    _check_reconciled(con, per_silo, now, run_id)
    fault_point("before:publish:identity")
    replace_tables(
        con,
        {
            "identity.customer_xref": xref,
            "identity.match_scores": resolution.pairs,
            "identity.customer_id_history": history,
            "identity.model": _model_rows(con, resolution.model.to_json(), now),
        },
    )
    save_review_queue(con, build_review_queue(resolution.review, records, _facts(con), scores=resolution.pairs))
    for silo, r in per_silo.iterrows():
        record_step(con, str(silo), "resolve", now, run_id, staged_rows=int(r.staged_rows), xref_rows=int(r.xref_rows))
    silos_per_customer = xref.groupby("customer_id")["silo"].nunique()
    counts = ResolveCounts(
        records=len(records),
        customers=int(silos_per_customer.size),
        multi_silo_customers=int((silos_per_customer >= 2).sum()),
        candidate_pairs=len(resolution.pairs),
        review_pairs=len(resolution.review),
        timings=dict(resolution.timings),
    )
    log_event(log, "identities_resolved", run_id=run_id, **counts.as_metadata())
    return counts

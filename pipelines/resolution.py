"""Building block: resolve identities over the staging table and publish the identity tables.

Fresh clusters from the resolver are mapped onto persistent customer ids (previous xref and id
history), human review decisions are passed in as must-link / cannot-link constraints, and the
identity tables are replaced in one transaction. When resolve_plan says it is exact, only the
changed records and the customers they touch are resolved (identity_resolution.incremental) and
everything else is carried over from the last run.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb
import pandas as pd

from identity_resolution import FellegiSunterModel, ResolverConfig, resolve
from identity_resolution.ids import StableIds, assign_stable_ids, update_stable_ids
from identity_resolution.incremental import carry_over_pairs, resolve_incremental
from identity_resolution.labels import read_labels
from identity_resolution.review import PAIR_KEY, build_review_queue, decisions_to_constraints
from pipelines.feature_store import FINGERPRINT_SQL, feature_rows, load_feature_cache, write_features
from pipelines.resolve_plan import ResolvePlan, decisions_before, matcher_settings, plan_resolution
from pipelines.logs import get_logger, log_event
from pipelines.staging import ReconciliationError, record_step
from warehouse.faults import fault_point
from warehouse.publish import replace_pair_rows, replace_tables
from warehouse.review_store import QUEUE_TABLE, SCORES_TABLE, load_decisions, save_review_queue
from warehouse.security.connect import table_exists
log = get_logger("resolution")

RETRAIN_ENV = "HUB_RETRAIN_MODEL"
# Ordered: the resolver's output depends on input row order (EM sampling, block caps), and the
# table's physical order changes whenever one silo is re-staged; a fixed order keeps re-runs identical.
LIVE_RECORDS_SQL = ("SELECT * FROM staging.customer_records WHERE NOT coalesce(is_deleted, FALSE) "
                    "ORDER BY silo, source_record_id")
FINGERPRINT = "_resolver_fingerprint"
RESOLVER_RECORDS_SQL = LIVE_RECORDS_SQL.replace("SELECT *", f"SELECT *, {FINGERPRINT_SQL} AS {FINGERPRINT}")
KEY = ["silo", "source_record_id"]


@dataclass
class ResolveCounts:
    records: int
    customers: int
    multi_silo_customers: int
    candidate_pairs: int
    review_pairs: int
    timings: dict[str, float]
    mode: str = "full"
    reclustered: int = 0
    pairs_recalled: int = 0

    def as_metadata(self) -> dict:
        return {
            "mode": self.mode,
            "reclustered_records": self.reclustered,
            "pairs_recalled": self.pairs_recalled,
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
    xref = xref.drop(columns=["resolved_at"], errors="ignore")  # rows an incremental run carried over
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


@dataclass
class _Outcome:
    """What a full or an incremental run hands to publishing."""

    stable: StableIds
    pairs: pd.DataFrame
    review: pd.DataFrame
    model: FellegiSunterModel
    features: pd.DataFrame  # rows for identity.record_features
    features_removed: pd.DataFrame | None  # keys to delete first (None: replace the table)
    reclustered: int
    timings: dict[str, float]
    pairs_recalled: int = 0
    # incremental runs patch identity.match_scores: rows touching these records go, `pairs` come in
    pairs_removed: pd.DataFrame | None = None


def _resolve_full(records, previous_xref, previous_history, model, config, constraints, labels, now) -> _Outcome:
    resolution = resolve(records, config, constraints=constraints, model=model, labels=labels)
    if resolution.label_check:
        log_event(log, "model_checked_on_review_decisions", **resolution.label_check)
    stable = assign_stable_ids(resolution.xref, previous_xref, previous_history, now=now)
    rows = feature_rows(records[KEY + [FINGERPRINT]].rename(columns={FINGERPRINT: "fingerprint"}), resolution.features)
    return _Outcome(stable, resolution.pairs, resolution.review, resolution.model, rows, None, len(records),
                    dict(resolution.timings))


def _resolve_changed(con, records, changed, previous_xref, previous_history, model, config, constraints, now) -> _Outcome:
    """Re-cluster only what `changed` can affect; carry every other row over from the last run."""
    cache = load_feature_cache(con, SCORES_TABLE, config.pairs_min_probability)
    result = resolve_incremental(records, changed, previous_xref, model, config, constraints=constraints, cache=cache)
    stable = update_stable_ids(result.changed_xref, previous_xref, previous_history, now=now)
    # a customer whose only records were deleted is not re-clustered; its rows just leave (as in a full run)
    stable = StableIds(stable.xref[_key_text(stable.xref).isin(_key_text(records))], stable.history)
    affected = result.affected_keys(changed)
    review = carry_over_pairs(_previous_review(con), result.review, affected)
    live_changed = records.merge(changed[KEY].astype(str), on=KEY)
    rows = feature_rows(live_changed[KEY + [FINGERPRINT]].rename(columns={FINGERPRINT: "fingerprint"}),
                        cache.features_of(live_changed))
    return _Outcome(stable, result.pairs, review, model, rows, changed, len(result.changed_xref), dict(result.timings),
                    result.pairs_recalled, pairs_removed=affected)


def _scores_of(con: duckdb.DuckDBPyConnection, review: pd.DataFrame) -> pd.DataFrame:
    """The published scores of the review pairs (either way round), for the queue's evidence."""
    con.register("_review_pairs", review[PAIR_KEY].astype(str))
    try:
        same = " AND ".join(f"s.{c} = q.{c}" for c in PAIR_KEY)
        swapped = " AND ".join(f"s.{c} = q.{c[:-1] + ('r' if c.endswith('l') else 'l')}" for c in PAIR_KEY)
        return con.execute(f"SELECT s.* FROM {SCORES_TABLE} s SEMI JOIN _review_pairs q ON {same} UNION ALL "
                           f"SELECT s.* FROM {SCORES_TABLE} s SEMI JOIN _review_pairs q ON {swapped}").df()
    finally:
        con.unregister("_review_pairs")


def _key_text(frame: pd.DataFrame) -> pd.Series:
    return frame["silo"].astype(str) + "|" + frame["source_record_id"].astype(str)


def _table(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    return con.execute(f"SELECT * FROM {table}").df()


def _previous_review(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The last run's review pairs (the queue keeps them with display values and evidence)."""
    if not table_exists(con, *QUEUE_TABLE.split(".")):
        return pd.DataFrame(columns=[*PAIR_KEY, "match_probability", "reason"])
    return con.execute(f"SELECT {', '.join(PAIR_KEY)}, match_probability, reason FROM {QUEUE_TABLE}").df()


def _state_row(plan: ResolvePlan, outcome: _Outcome, records: int, decisions: pd.DataFrame, settings: str,
               now: datetime) -> pd.DataFrame:
    return pd.DataFrame([{
        "resolved_at": now, "mode": plan.mode, "reason": plan.reason, "records": records,
        "changed_records": len(plan.changed) if plan.incremental else None,
        "reclustered_records": outcome.reclustered, "decisions": decisions_before(decisions, now), "settings": settings,
    }])


def _patch_tables(con: duckdb.DuckDBPyConnection, outcome: _Outcome) -> None:
    """Inside the publishing transaction: the changed records' features and, for an incremental
    run, the scored pairs touching re-clustered or changed records (the rest stay as they are)."""
    write_features(con, outcome.features, outcome.features_removed)
    if outcome.pairs_removed is not None:
        replace_pair_rows(con, SCORES_TABLE, outcome.pairs, outcome.pairs_removed)


def resolve_warehouse(con: duckdb.DuckDBPyConnection, config: ResolverConfig | None = None,
                      run_id: str | None = None) -> ResolveCounts:
    """Resolve the live staged records (incrementally when that is exact, see resolve_plan) and
    publish the identity tables in one transaction."""
    now = _now()
    records = con.execute(RESOLVER_RECORDS_SQL).df()
    previous_xref = _table(con, "identity.customer_xref")
    previous_history = _table(con, "identity.customer_id_history")
    decisions = load_decisions(con)
    constraints = decisions_to_constraints(decisions)
    constraints = constraints if len(constraints) else None
    model = stored_model(con, config)
    config = config or ResolverConfig()
    if model is not None:
        # A reused model keeps its term-frequency tables too: recounting them as unrelated records come
        # and go would move borderline pairs of untouched customers across the threshold.
        config = dataclasses.replace(config, freeze_tf_tables=True)
    settings = matcher_settings(config)
    plan = plan_resolution(con, model is not None, settings, decisions)
    log_event(log, "resolution_planned", run_id=run_id, mode=plan.mode, reason=plan.reason, records=len(records))
    if plan.incremental:
        outcome = _resolve_changed(con, records, plan.changed, previous_xref, previous_history, model, config,
                                   constraints, now)
    else:
        # review decisions are labels: they train m when the model is (re)trained, else check it
        labels = read_labels(decisions, "identity.review_decisions") if len(decisions) else None
        outcome = _resolve_full(records, previous_xref, previous_history, model, config, constraints, labels, now)
    xref = _keep_resolved_at(outcome.stable.xref, previous_xref, now)
    history = pd.concat([previous_history, outcome.stable.history], ignore_index=True)
    per_silo = reconcile_xref(records, xref)
    _check_reconciled(con, per_silo, now, run_id)
    fault_point("before:publish:identity")
    replace_tables(
        con,
        {
            "identity.customer_xref": xref,
            **({SCORES_TABLE: outcome.pairs} if outcome.pairs_removed is None else {}),
            "identity.customer_id_history": history,
            "identity.model": _model_rows(con, outcome.model.to_json(), now),
            "ops.resolver_state": _state_row(plan, outcome, len(records), decisions, settings, now),
        },
        also=lambda c: _patch_tables(c, outcome),
    )
    save_review_queue(con, build_review_queue(outcome.review, records, _facts(con), scores=_scores_of(con, outcome.review)))
    for silo, r in per_silo.iterrows():
        record_step(con, str(silo), "resolve", now, run_id, staged_rows=int(r.staged_rows), xref_rows=int(r.xref_rows),
                    message=f"{plan.mode}: {plan.reason}")
    silos_per_customer = xref.groupby("customer_id")["silo"].nunique()
    counts = ResolveCounts(
        records=len(records),
        customers=int(silos_per_customer.size),
        multi_silo_customers=int((silos_per_customer >= 2).sum()),
        candidate_pairs=con.execute(f"SELECT count(*) FROM {SCORES_TABLE}").fetchall()[0][0],
        review_pairs=len(outcome.review),
        timings=outcome.timings,
        mode=plan.mode,
        reclustered=outcome.reclustered,
        pairs_recalled=outcome.pairs_recalled,
    )
    log_event(log, "identities_resolved", run_id=run_id, **counts.as_metadata())
    return counts

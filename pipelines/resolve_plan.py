"""Building block: decide whether a resolution run may resolve only what changed.

An incremental run equals a full one only when the model, the matcher's code and settings, the
stored features and the review decisions are those the last run used (identity_resolution/
incremental.py states the method). Anything else, or more than a quarter of the records changed
(a full run is then about as fast), gives a full run; the reason is logged and kept in
ops.resolver_state. HUB_RESOLVE_MODE=full|incremental|auto (default auto) overrides.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

import identity_resolution
from identity_resolution import ResolverConfig
from pipelines import feature_store

MODE_ENV = "HUB_RESOLVE_MODE"
MODES = ("auto", "full", "incremental")
FULL_RUN_FRACTION = 0.25
KEY = ["silo", "source_record_id"]
_DATA_SUFFIXES = {".py", ".csv", ".json", ".txt", ".tsv", ".yaml"}


@dataclass(frozen=True)
class ResolvePlan:
    mode: str  # "full" or "incremental"
    reason: str
    changed: pd.DataFrame  # silo, source_record_id of changed records (incremental runs)

    @property
    def incremental(self) -> bool:
        return self.mode == "incremental"


def requested_mode() -> str:
    mode = os.environ.get(MODE_ENV, "auto").strip().lower() or "auto"
    if mode not in MODES:
        raise ValueError(f"{MODE_ENV}={mode!r}: expected one of {', '.join(MODES)}")
    return mode


def matcher_code_digest() -> str:
    """A hash of the identity_resolution package's code and data files: when it moves, what was
    standardised, featurised or clustered with the old code cannot be reused."""
    digest = hashlib.sha1()
    root = Path(identity_resolution.__file__).parent
    for path in sorted(p for p in root.rglob("*") if p.suffix in _DATA_SUFFIXES and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def matcher_settings(config: ResolverConfig) -> str:
    """The settings and the matcher's code as JSON: if either moved since the stored features and
    clusters were made, they cannot be reused."""
    # frozen or not, the stored model's tables are what the next run reuses
    settings = dataclasses.asdict(dataclasses.replace(config, freeze_tf_tables=True))
    return json.dumps({"config": settings, "matcher": matcher_code_digest()}, sort_keys=True)


def plan_resolution(con: duckdb.DuckDBPyConnection, model_reused: bool, settings: str,
                    decisions: pd.DataFrame) -> ResolvePlan:
    """Full or incremental, with the reason and (incremental) the changed records."""
    mode = requested_mode()
    if mode == "full":
        return _full(f"{MODE_ENV}=full")
    state = _state(con)
    blocker = _why_not_incremental(con, state, model_reused, settings, decisions)
    if blocker:
        if mode == "incremental":
            raise RuntimeError(f"{MODE_ENV}=incremental, but an incremental run would not be exact: {blocker}")
        return _full(blocker)
    changed = pd.concat([feature_store.changed_records(con), _decided_since(decisions, state["resolved_at"])],
                        ignore_index=True).drop_duplicates(KEY)
    if mode == "auto" and len(changed) > FULL_RUN_FRACTION * max(int(state["records"]), 1):
        return _full(f"{len(changed)} of {state['records']} records changed")
    return ResolvePlan("incremental", f"{len(changed)} changed record(s)", changed.reset_index(drop=True))


def _full(reason: str) -> ResolvePlan:
    return ResolvePlan("full", reason, pd.DataFrame(columns=KEY))


def _state(con: duckdb.DuckDBPyConnection) -> pd.Series | None:
    rows = con.execute("SELECT * FROM ops.resolver_state ORDER BY resolved_at DESC LIMIT 1").df()
    return rows.iloc[0] if len(rows) else None


def _why_not_incremental(con, state: pd.Series | None, model_reused: bool, settings: str,
                         decisions: pd.DataFrame) -> str | None:
    if not model_reused:
        return "no stored model to keep fixed (first run, retraining, or a model file)"
    if state is None:
        return "no previous incremental-ready run"
    if state["settings"] != settings:
        return "the matcher's code or settings changed since the last run"
    stored = feature_store.stored_records(con)
    mapped = con.execute("SELECT count(*) FROM identity.customer_xref").fetchall()[0][0]
    if stored != state["records"] or mapped != state["records"]:
        return (f"stored features ({stored}) or xref rows ({mapped}) differ from the {state['records']} records "
                "the last run resolved (an erasure or a manual edit since)")
    if decisions_before(decisions, state["resolved_at"]) != state["decisions"]:
        return "review decisions dated before the last run were added or removed since"
    return None


def decisions_before(decisions: pd.DataFrame, started: datetime) -> int:
    return int((pd.to_datetime(decisions["decided_at"]) < started).sum()) if len(decisions) else 0


def _decided_since(decisions: pd.DataFrame, since: datetime) -> pd.DataFrame:
    """Both records of every review decision taken since the last run."""
    if decisions.empty:
        return pd.DataFrame(columns=KEY)
    new = decisions[pd.to_datetime(decisions["decided_at"]) >= since]
    sides = [new[[f"silo_{s}", f"source_record_id_{s}"]].set_axis(KEY, axis=1) for s in ("l", "r")]
    return pd.concat(sides, ignore_index=True).astype(str)



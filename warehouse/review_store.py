"""Clerical review tables in the DuckDB warehouse.

- `identity.review_queue`: replaced on every resolution run (columns follow the matcher's fields:
  pair keys, probability, priority, `gamma_*`/`bf_*` evidence, `<field>_l`/`<field>_r` values).
- `identity.review_decisions`: append-only log of what people decided, with who and when. It is
  never rewritten by an automatic run; later runs read it as must-link / cannot-link constraints.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

import duckdb
import pandas as pd

from identity_resolution.review import DECISIONS, PAIR_KEY, QUEUE_BASE_COLUMNS, normalise_pairs

QUEUE_TABLE = "identity.review_queue"
DECISIONS_TABLE = "identity.review_decisions"
SCORES_TABLE = "identity.match_scores"
DECISION_COLUMNS: dict[str, str] = {
    "pair_id": "VARCHAR NOT NULL",
    "silo_l": "VARCHAR NOT NULL",
    "source_record_id_l": "VARCHAR NOT NULL",
    "silo_r": "VARCHAR NOT NULL",
    "source_record_id_r": "VARCHAR NOT NULL",
    "decision": "VARCHAR NOT NULL",
    "reviewer": "VARCHAR NOT NULL",
    "decided_at": "TIMESTAMP NOT NULL",
    "note": "VARCHAR",
}
# Stands in for the decisions table on a warehouse where nobody has decided anything yet.
_EMPTY_DECISIONS_SQL = "(SELECT {} WHERE FALSE)".format(
    ", ".join(f"NULL::{ddl.split()[0]} AS {name}" for name, ddl in DECISION_COLUMNS.items())
)


def ensure_review_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the identity schema and the decisions log if missing (idempotent)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS identity")
    body = ", ".join(f"{name} {ddl}" for name, ddl in DECISION_COLUMNS.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS {DECISIONS_TABLE} ({body})")


def save_review_queue(con: duckdb.DuckDBPyConnection, queue: pd.DataFrame) -> int:
    """Replace the review queue with `queue` (one statement, so readers never see half a queue)."""
    ensure_review_tables(con)
    missing = [c for c in QUEUE_BASE_COLUMNS if c not in queue.columns]
    if missing:
        raise ValueError(f"review queue is missing column(s) {missing}; build it with build_review_queue()")
    frame = queue.copy()
    frame["queued_at"] = _first_queued_at(con, frame, datetime.now(timezone.utc).replace(tzinfo=None))
    # Typed, so an empty queue still yields a table with the right column types.
    for c in ("pair_id", *PAIR_KEY, "reason"):
        frame[c] = frame[c].astype("object")
    for c in ("match_probability", "match_weight", "uncertainty", "value", "priority"):
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
    # Text columns that happen to be all null would otherwise get DuckDB's NULL type.
    text = [c for c in frame.columns if c in ("pair_id", *PAIR_KEY, "reason")
            or (c.endswith(("_l", "_r")) and c not in PAIR_KEY)]
    replace = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in text)
    con.register("_review_queue_in", frame)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {QUEUE_TABLE} AS SELECT * REPLACE ({replace}) FROM _review_queue_in")
    finally:
        con.unregister("_review_queue_in")
    return len(frame)


def _first_queued_at(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, now: datetime) -> pd.Series:
    """A pair still queued keeps its first queued_at, so a re-run over the same data changes nothing."""
    if frame.empty or not _table_exists(con, QUEUE_TABLE):
        return pd.Series(now, index=frame.index)
    before = dict(con.execute(f"SELECT pair_id, min(queued_at) FROM {QUEUE_TABLE} GROUP BY pair_id").fetchall())
    return frame["pair_id"].map(before).fillna(now)


def load_review_queue(con: duckdb.DuckDBPyConnection, limit: int | None = None) -> pd.DataFrame:
    """Pairs nobody has decided yet, best first; pairs skipped before come after unseen ones."""
    if not _table_exists(con, QUEUE_TABLE):
        return pd.DataFrame({c: pd.Series(dtype="object") for c in QUEUE_BASE_COLUMNS})
    # Reads only: works on a read-only connection even before anyone has decided anything.
    decisions = DECISIONS_TABLE if _table_exists(con, DECISIONS_TABLE) else _EMPTY_DECISIONS_SQL
    limit_sql = f"LIMIT {int(limit)}" if limit else ""
    queue = con.execute(
        f"""
        WITH decided AS (
            SELECT pair_id,
                   count(*) FILTER (WHERE decision IN ('match', 'non_match')) AS binding,
                   count(*) FILTER (WHERE decision = 'skip') AS skips
            FROM {decisions} GROUP BY pair_id
        )
        SELECT q.* FROM {QUEUE_TABLE} AS q LEFT JOIN decided AS d USING (pair_id)
        WHERE coalesce(d.binding, 0) = 0
        ORDER BY coalesce(d.skips, 0), q.priority DESC, q.uncertainty DESC, q.pair_id
        {limit_sql}
        """
    ).df()
    return _with_evidence(con, queue)


def _with_evidence(con: duckdb.DuckDBPyConnection, queue: pd.DataFrame) -> pd.DataFrame:
    """A queue saved without per-field evidence borrows it from identity.match_scores."""
    if queue.empty or any(c.startswith("bf_") for c in queue.columns) or not _table_exists(con, SCORES_TABLE):
        return queue
    schema, table = SCORES_TABLE.split(".")
    columns = [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position", [schema, table]).fetchall()]
    evidence = [c for c in columns if c.startswith(("gamma_", "bf_")) or c == "match_weight"]
    if not evidence or not set(PAIR_KEY) <= set(columns):
        return queue
    picked = ", ".join(f'"{c}"' for c in evidence)
    con.register("_review_pairs_in", queue[PAIR_KEY])
    try:
        # Scores may hold the pair either way round: look both up with equality joins.
        found = con.execute(
            f"""
            SELECT p.silo_l, p.source_record_id_l, p.silo_r, p.source_record_id_r, {picked}
            FROM _review_pairs_in AS p JOIN {SCORES_TABLE} AS s USING (silo_l, source_record_id_l, silo_r, source_record_id_r)
            UNION ALL
            SELECT p.silo_l, p.source_record_id_l, p.silo_r, p.source_record_id_r, {picked}
            FROM _review_pairs_in AS p JOIN {SCORES_TABLE} AS s
              ON s.silo_l = p.silo_r AND s.source_record_id_l = p.source_record_id_r
             AND s.silo_r = p.silo_l AND s.source_record_id_r = p.source_record_id_l
            """
        ).df()
    finally:
        con.unregister("_review_pairs_in")
    found = found.drop_duplicates(PAIR_KEY)
    return queue.drop(columns=[c for c in evidence if c in queue.columns]).merge(found, on=PAIR_KEY, how="left")


def record_decision(
    con: duckdb.DuckDBPyConnection,
    pair: Mapping[str, Any] | pd.Series,
    decision: str,
    reviewer: str,
    note: str | None = None,
    decided_at: datetime | None = None,
) -> dict[str, Any]:
    """Append one decision about `pair` (needs silo_l, source_record_id_l, silo_r, source_record_id_r)."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {list(DECISIONS)}, got {decision!r}")
    if not reviewer or not str(reviewer).strip():
        raise ValueError("a decision needs a reviewer name (pass --reviewer or set HUB_REVIEWER)")
    missing = [c for c in PAIR_KEY if c not in pair or pd.isna(pair[c])]
    if missing:
        raise ValueError(f"pair is missing {missing}; a decision must name both records")
    ensure_review_tables(con)
    keyed = normalise_pairs(pd.DataFrame([{c: pair[c] for c in PAIR_KEY}])).iloc[0]
    row = {
        "pair_id": keyed["pair_id"], **{c: keyed[c] for c in PAIR_KEY}, "decision": decision,
        "reviewer": str(reviewer).strip(), "note": note,
        "decided_at": decided_at or datetime.now(timezone.utc).replace(tzinfo=None),
    }
    columns = list(DECISION_COLUMNS)
    con.execute(
        f"INSERT INTO {DECISIONS_TABLE} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
        [row[c] for c in columns],
    )
    return row


def load_decisions(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every recorded decision, oldest first (the last one per pair is the one in force)."""
    source = DECISIONS_TABLE if _table_exists(con, DECISIONS_TABLE) else _EMPTY_DECISIONS_SQL
    return con.execute(f"SELECT * FROM {source} ORDER BY decided_at, pair_id").df()


def _table_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    rows = con.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, table]
    ).fetchall()
    return bool(rows)


__all__ = [
    "save_review_queue", "load_review_queue", "record_decision", "load_decisions", "ensure_review_tables",
    "QUEUE_TABLE", "DECISIONS_TABLE", "DECISION_COLUMNS",
]

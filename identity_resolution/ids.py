"""Persistent customer ids: carry ids over from the last run onto this run's clusters.

The resolver's cluster ids are deterministic from cluster content, so they change whenever a
cluster gains a smaller record. Analysts key on `customer_id`, so this module maps each fresh
cluster onto the persisted id it overlaps most, and records every id that is minted, retired by a
merge, or split off, in the id history.

Rules (all set operations over frames, no per-record Python):
- Each old id prefers the fresh cluster holding most of its records (a split: the larger part keeps
  the id; ties go to the smaller fresh cluster id so the outcome is deterministic).
- When several old ids prefer one cluster (a merge) the one with more history survives: more
  records, then minted earlier, then the smaller id.
- Losers try their next-best cluster in a further round; an old id left without a cluster is
  retired ("merged") with the id of the cluster that got most of its records as successor.
- Clusters left without an old id get a new id (the resolver's fresh id, re-salted if that id was
  ever used before) and a "minted" event.
- Records whose customer changed other than by following a merge get a "split" event
  (customer_id = the id they left, successor_id = the id they joined).
A re-run over unchanged data therefore returns identical ids and no events. A customer whose
records are all deleted simply leaves the xref (its id stays reserved and is never re-issued).

Everything is local to the customers a change touches, so `update_stable_ids` (incremental syncs)
looks only at those and gives the same ids and events as a full `assign_stable_ids`.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb
import pandas as pd

KEY = ["silo", "source_record_id"]
HISTORY_COLUMNS = ["customer_id", "event", "successor_id", "silo", "source_record_id", "changed_at"]
EVENTS = ("minted", "merged", "split")
_SMALL = 50_000  # rows below which pandas beats a DuckDB round trip


@dataclass(frozen=True)
class StableIds:
    """Clusters with persistent ids (`xref`) and the id events this run produced (`history`)."""

    xref: pd.DataFrame
    history: pd.DataFrame


def assign_stable_ids(
    clusters: pd.DataFrame,
    previous_xref: pd.DataFrame | None,
    previous_history: pd.DataFrame | None = None,
    now: datetime | None = None,
) -> StableIds:
    """Give this run's clusters the persisted customer ids they continue (see module doc)."""
    _check_clusters(clusters)
    prev = _checked_previous(previous_xref)
    history = _checked_history(previous_history)
    return _assign(clusters, prev, history, _id_columns(prev, history), now)


def update_stable_ids(
    changed_clusters: pd.DataFrame,
    previous_xref: pd.DataFrame,
    previous_history: pd.DataFrame | None = None,
    now: datetime | None = None,
) -> StableIds:
    """Incremental assign_stable_ids: only the customers a sync touched are looked at.

    `changed_clusters` must hold every live record of every re-clustered customer (the whole
    component, as an incremental resolver recomputes it). Previous customers that share a record with
    it are re-assigned; records of theirs missing from it count as deleted. Every other row of
    `previous_xref` is carried over untouched. Ids and events equal a full assign_stable_ids run.
    """
    _check_clusters(changed_clusters)
    prev = _checked_previous(previous_xref)
    history = _checked_history(previous_history)
    touched = prev["customer_id"].isin(_customers_of(changed_clusters, prev))
    result = _assign(changed_clusters, prev[touched], history, _id_columns(prev, history), now)
    xref = pd.concat([prev[~touched], result.xref], ignore_index=True)
    return StableIds(xref=xref, history=result.history)


def _customers_of(changed: pd.DataFrame, prev: pd.DataFrame) -> pd.Series:
    """Previous customer ids of the changed records. Scans the big xref once against a hash of the
    few changed ids, then confirms the silo on the handful of candidates."""
    changed = _text_keys(changed[KEY])
    candidates = _text_keys(prev.loc[prev["source_record_id"].astype(str).isin(changed["source_record_id"]),
                                     [*KEY, "customer_id"]])
    wanted = changed["silo"] + "\x1f" + changed["source_record_id"]
    found = (candidates["silo"] + "\x1f" + candidates["source_record_id"]).isin(wanted)
    return candidates.loc[found, "customer_id"].drop_duplicates()


def _assign(clusters: pd.DataFrame, prev: pd.DataFrame, history: pd.DataFrame, used: list[pd.Series],
            now: datetime | None) -> StableIds:
    now = pd.Timestamp(now or datetime.now(timezone.utc))
    records = _join_old_ids(clusters, prev)
    edges = _overlap_edges(records)
    assigned = _match_old_ids_to_clusters(edges, prev, history)
    final = _final_ids(records, assigned, used=[*used, assigned["old"]])

    xref = _apply_final_ids(clusters, records, final)
    events = pd.concat(
        [
            _minted_events(final, records),
            _merged_events(edges, assigned, final),
            _split_events(records, xref, edges, assigned, final),
        ],
        ignore_index=True,
    )
    events["changed_at"] = now
    return StableIds(xref=xref, history=events[HISTORY_COLUMNS].reset_index(drop=True))


def resolve_current_id(history: pd.DataFrame, customer_id: str) -> str:
    """Follow "merged" events from a (possibly retired) id to the id that holds it today."""
    return resolve_current_ids(history, pd.Series([customer_id])).iloc[0]


def resolve_current_ids(history: pd.DataFrame, customer_ids: pd.Series) -> pd.Series:
    """Vectorised resolve_current_id: one hop per round through the merge map until nothing moves."""
    successor = _merge_successors(history)
    current = customer_ids.astype(object).copy()
    for _ in range(len(successor) + 1):  # a chain cannot be longer than the number of merges
        step = current.map(successor)
        moved = step.notna()
        if not moved.any():
            return current
        current = current.where(~moved, step)
    raise ValueError("customer_id_history has a merge cycle; ids involved: "
                     f"{sorted(set(current[current.map(successor).notna()]))[:5]}")


def _merge_successors(history: pd.DataFrame) -> pd.Series:
    """Retired id -> the id it was merged into (the latest merge, should an id ever have two)."""
    merged = history.loc[(history["event"] == "merged") & history["successor_id"].notna(),
                         ["customer_id", "successor_id", "changed_at"]]
    merged = merged.sort_values("changed_at", kind="stable").drop_duplicates("customer_id", keep="last")
    return pd.Series(merged["successor_id"].to_numpy(), index=merged["customer_id"].to_numpy())


# --- input checks -----------------------------------------------------------------------------

def _check_clusters(clusters: pd.DataFrame) -> None:
    _require_columns(clusters, [*KEY, "customer_id"], "clusters")
    _require_unique_records(clusters, "clusters")
    if clusters["customer_id"].isna().any():
        raise ValueError(f"clusters has {int(clusters['customer_id'].isna().sum())} record(s) without a customer_id")


def _checked_previous(previous_xref: pd.DataFrame | None) -> pd.DataFrame:
    prev = _empty_xref() if previous_xref is None else previous_xref
    _require_columns(prev, [*KEY, "customer_id"], "previous_xref")
    _require_unique_records(prev, "previous_xref")
    return prev


def _checked_history(previous_history: pd.DataFrame | None) -> pd.DataFrame:
    history = _empty_history() if previous_history is None else previous_history
    _require_columns(history, HISTORY_COLUMNS, "previous_history")
    return history


def _require_columns(frame: pd.DataFrame, columns: list[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing column(s) {missing}; it has {list(frame.columns)}")


def _require_unique_records(frame: pd.DataFrame, name: str) -> None:
    dup = frame.duplicated(KEY, keep=False)
    if dup.any():
        examples = frame.loc[dup, KEY].head(3).to_dict("records")
        raise ValueError(f"{name} has {int(dup.sum())} rows sharing a (silo, source_record_id), e.g. {examples}")


def _empty_xref() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in [*KEY, "customer_id"]})


def _empty_history() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in HISTORY_COLUMNS})
    frame["changed_at"] = pd.Series(dtype="datetime64[ns, UTC]")
    return frame


# --- matching old ids to fresh clusters -------------------------------------------------------

def _join_old_ids(clusters: pd.DataFrame, prev: pd.DataFrame) -> pd.DataFrame:
    """One row per current record: its fresh cluster id (`fresh`) and previous id (`old`, or NaN)."""
    left = _text_keys(clusters[KEY + ["customer_id"]].rename(columns={"customer_id": "fresh"}))
    right = _text_keys(prev[KEY + ["customer_id"]].rename(columns={"customer_id": "old"}))
    return left.merge(right, on=KEY, how="left", sort=False)


def _text_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """Record keys compare as text (an empty frame or numeric ids would otherwise not join)."""
    for column in KEY:
        if frame[column].dtype != object:
            frame = frame.assign(**{column: frame[column].astype(str).astype(object)})
    return frame


def _overlap_edges(records: pd.DataFrame) -> pd.DataFrame:
    """(fresh, old, overlap): how many of an old id's records sit in each fresh cluster."""
    known = records.dropna(subset=["old"])
    return known.groupby(["fresh", "old"], sort=False).size().rename("overlap").reset_index()


def _old_id_rank(prev: pd.DataFrame, history: pd.DataFrame, ids: pd.Series) -> pd.DataFrame:
    """Per contested old id: its record count and when it was minted (merge survivorship keys)."""
    wanted = set(ids)
    size = prev.loc[prev["customer_id"].isin(wanted), "customer_id"].value_counts().rename("size")
    minted = history.loc[(history["event"] == "minted") & history["customer_id"].isin(wanted)]
    minted = minted.groupby("customer_id")["changed_at"].min().rename("minted_at")
    rank = size.to_frame().join(minted, how="left")
    rank.index.name = "old"
    return rank.reset_index()


def _match_old_ids_to_clusters(edges: pd.DataFrame, prev: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Greedy rounds: old ids pick their best cluster, clusters keep the old id with most history."""
    # Fast path: an edge that is the only one of both its cluster and its old id is a plain carry-over
    # (the vast majority on any run); only the contested rest needs the sorted rounds.
    fresh_degree = edges["fresh"].map(edges["fresh"].value_counts())
    old_degree = edges["old"].map(edges["old"].value_counts())
    simple = (fresh_degree == 1) & (old_degree == 1)
    chosen: list[pd.DataFrame] = [edges.loc[simple, ["fresh", "old"]]]
    pending = edges[~simple]
    pending = pending.merge(_old_id_rank(prev, history, pending["old"]), on="old", how="left")
    # Every round fixes at least one (cluster, old id) pair, so the loop ends.
    while not pending.empty:
        # Each old id's preferred cluster: most of its records, then the smaller fresh id.
        pick = pending.sort_values(["old", "overlap", "fresh"], ascending=[True, False, True], kind="stable")
        pick = pick.drop_duplicates("old")
        # Each cluster keeps the contender with more history: size, then older, then smaller id.
        pick = pick.sort_values(["fresh", "size", "minted_at", "old"], ascending=[True, False, True, True],
                                na_position="last", kind="stable")
        winners = pick.drop_duplicates("fresh")[["fresh", "old"]]
        chosen.append(winners)
        pending = pending[~pending["fresh"].isin(winners["fresh"]) & ~pending["old"].isin(winners["old"])]
    return pd.concat(chosen, ignore_index=True)


def _id_columns(prev: pd.DataFrame, history: pd.DataFrame) -> list[pd.Series]:
    """Where every id ever handed out is found: a new id must never reuse one (retired ids redirect)."""
    return [prev["customer_id"], history["customer_id"], history["successor_id"]]


def _final_ids(records: pd.DataFrame, assigned: pd.DataFrame, used: list[pd.Series]) -> pd.DataFrame:
    """(fresh, customer_id, is_new) for every fresh cluster."""
    clusters = pd.DataFrame({"fresh": records["fresh"].unique()})
    final = clusters.merge(assigned, on="fresh", how="left")
    final["is_new"] = final["old"].isna()
    final["customer_id"] = final["old"].where(~final["is_new"], final["fresh"])
    final.loc[final["is_new"], "customer_id"] = _unused_ids(final.loc[final["is_new"], "fresh"], used)
    return final[["fresh", "customer_id", "is_new"]]


def _unused_ids(fresh: pd.Series, used: list[pd.Series]) -> pd.Series:
    """The resolver's id where it was never used; else a deterministic re-salted variant."""
    ids = fresh.copy()
    clash = _is_used(ids, used)
    salt = 0
    while clash.any():  # rare: only ids that existed before; loops over the clashing few
        salt += 1
        ids[clash] = [_salted_id(f, salt) for f in fresh[clash]]
        clash = (_is_used(ids, used) | ids.duplicated(keep=False)) & clash
    return ids


def _is_used(candidates: pd.Series, used: list[pd.Series]) -> pd.Series:
    """Which candidates appear in any of the (large) id columns: scan each against a hash of the few."""
    wanted = set(candidates)
    seen: set = set()
    for column in used:
        seen.update(column[column.isin(wanted)].unique())
    return candidates.isin(seen)


def _salted_id(fresh: str, salt: int) -> str:
    return "C" + hashlib.sha1(f"{fresh}#{salt}".encode()).hexdigest()[:15]


def _apply_final_ids(clusters: pd.DataFrame, records: pd.DataFrame, final: pd.DataFrame) -> pd.DataFrame:
    mapping = pd.Series(final["customer_id"].to_numpy(), index=final["fresh"].to_numpy())
    xref = clusters.copy()
    xref["customer_id"] = records["fresh"].map(mapping).to_numpy()
    return xref


# --- history events ---------------------------------------------------------------------------

def _minted_events(final: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """One "minted" row per new id, naming the cluster's smallest record as its founding record."""
    new = final.loc[final["is_new"], ["fresh", "customer_id"]]
    members = records.loc[records["fresh"].isin(new["fresh"]), ["fresh", *KEY]]
    events = new.merge(_founders(members), on="fresh", how="left").drop(columns="fresh")
    events["event"] = "minted"
    events["successor_id"] = None
    return events


def _founders(members: pd.DataFrame) -> pd.DataFrame:
    """Each cluster's smallest (silo, source_record_id); DuckDB's hash aggregate beats a 1M-row sort,
    a plain sort beats DuckDB's start-up on small frames."""
    if len(members) < _SMALL:
        ordered = members.sort_values(["fresh", *KEY], kind="stable")
        return ordered.drop_duplicates("fresh")[["fresh", *KEY]]
    con = duckdb.connect()
    try:
        con.register("members", members)
        return con.execute(
            """SELECT fresh, arg_min(silo, silo || chr(31) || source_record_id) AS silo,
                      arg_min(source_record_id, silo || chr(31) || source_record_id) AS source_record_id
               FROM members GROUP BY fresh"""
        ).df()
    finally:
        con.close()


def _retired(edges: pd.DataFrame, assigned: pd.DataFrame, final: pd.DataFrame) -> pd.DataFrame:
    """(old, successor_id) for old ids that lost every cluster: successor holds most of their records."""
    lost = edges[~edges["old"].isin(assigned["old"])]
    best = lost.sort_values(["old", "overlap", "fresh"], ascending=[True, False, True], kind="stable")
    best = best.drop_duplicates("old")
    return best.merge(final, on="fresh")[["old", "customer_id"]].rename(columns={"customer_id": "successor_id"})


def _merged_events(edges: pd.DataFrame, assigned: pd.DataFrame, final: pd.DataFrame) -> pd.DataFrame:
    retired = _retired(edges, assigned, final)
    events = retired.rename(columns={"old": "customer_id"})
    events["event"] = "merged"
    events["silo"] = None
    events["source_record_id"] = None
    return events


def _split_events(records: pd.DataFrame, xref: pd.DataFrame, edges: pd.DataFrame,
                  assigned: pd.DataFrame, final: pd.DataFrame) -> pd.DataFrame:
    """Records that moved other than by following their old id's merge."""
    moved = records[KEY + ["old"]].copy()
    moved["new"] = xref["customer_id"].to_numpy()
    moved = moved.dropna(subset=["old"])
    retired = _retired(edges, assigned, final)
    follow = pd.Series(retired["successor_id"].to_numpy(), index=retired["old"].to_numpy())
    expected = moved["old"].map(follow)
    expected = expected.where(expected.notna(), moved["old"])
    moved = moved[moved["new"].to_numpy() != expected.to_numpy()]
    events = moved.rename(columns={"old": "customer_id", "new": "successor_id"})
    events["event"] = "split"
    return events


__all__ = ["StableIds", "assign_stable_ids", "update_stable_ids", "resolve_current_id", "resolve_current_ids", "HISTORY_COLUMNS", "EVENTS"]

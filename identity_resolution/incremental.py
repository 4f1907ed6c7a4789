"""Incremental resolution: re-cluster only the customers a sync touched, with a fixed model.

Why it can equal a full `resolve(records, model=model)`: with the model fixed (m, u, prior and the
term-frequency tables frozen in it), a pair's score depends only on its two records, and the
clusterer works one tentative component (records joined by above-threshold pairs) at a time. So
the records to re-cluster are the smallest set S that
  * holds every inserted/updated record, and every record of a previous customer that lost or
    changed a record;
  * holds every record whose candidate pairs changed because a blocking key's block crossed
    `max_block_size` (a block skipped before and kept now, or the other way round);
  * is closed under above-threshold pairs and review 'match' decisions, and under previous
    customers (a record drawn in brings its previous cluster mates).
S is found by rounds: the new members are blocked against all records (only pairs touching them),
compared and scored; what they link to joins S. Then S is clustered exactly as `resolve` does
(cluster closure, conflict checks, constraints) using every candidate pair among its records.
Everything outside S keeps its previous customer and probability.

Limits (stated, not hidden):
  * the model must stay fixed: pass `ResolverConfig(freeze_tf_tables=True)` to the full runs
    that produce the reference, or term-frequency tables are recounted there;
  * a previous customer whose tentative component was joined to a changed record only through
    that record and was kept apart by a conflict is not re-clustered; when the component shrinks
    from more than 40 records to 40 or fewer, a full run would score its "cluster closure" pairs
    and could split it differently. Rare (components over 40 records), not seen in the tests;
  * ties between exactly equal pair weights inside one conflicting component are broken by
    record order, so reordering the staging table between runs may in principle differ;
  * review decisions added since the last run: put their records in `changed_keys`.

Features of unchanged records come from a `FeatureCache` (kept in memory, or saved as Parquet
between runs); without one every record is featurised, which is correct but slower, and removed
blocking keys are unknown, so keys near `max_block_size` are re-examined conservatively.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from identity_resolution.blocking import BLOCKING_RULES
from identity_resolution.clustering import closure_pairs, cluster, customer_ids
from identity_resolution.comparison import compare
from identity_resolution.config import ResolverConfig
from identity_resolution.features import FEATURE_COLUMNS, as_objects, build_features
from identity_resolution.resolver import (
    RESOLVER_COLUMNS, Resolution, _active, _constraint_positions, _pairs_frame, _review_frame, _score,
)
from identity_resolution.scoring import FellegiSunterModel

log = logging.getLogger(__name__)
KEY = ["silo", "source_record_id"]
# feature columns the blocking rules read
_BLOCK_COLUMNS = ["given", "given_initial", "given_canon", "family", "family_sdx", "email_key", "phone", "nid_hash",
                  "nid_last4", "dob", "dob_year", "addr_key", "postcode", "city"]


def _keys(frame: pd.DataFrame) -> pd.Index:
    return pd.Index(frame["silo"].astype(str) + "|" + frame["source_record_id"].astype(str))


def _fingerprints(records: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per record over the columns the resolver reads (detects unreported changes)."""
    cols = [c for c in RESOLVER_COLUMNS if c in records.columns]
    return pd.util.hash_pandas_object(records[cols].astype(str), index=False).to_numpy()


@dataclass
class FeatureCache:
    """Match features of the records seen by the last run, keyed 'silo|source_record_id'."""

    features: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FEATURE_COLUMNS))
    fingerprint: pd.Series = field(default_factory=lambda: pd.Series(dtype=np.uint64))

    @classmethod
    def build(cls, records: pd.DataFrame) -> "FeatureCache":
        """Featurise every live record (what a first incremental run would do anyway)."""
        live = _active(records)
        keys = _keys(live)
        features = build_features(live)
        for name in FEATURE_COLUMNS:
            if name != "nid_partial":
                features[name] = features[name].astype(object).where(features[name].notna(), None)
        return cls(features=features.set_axis(keys, axis=0), fingerprint=pd.Series(_fingerprints(live), index=keys))

    def __len__(self) -> int:
        return len(self.features)

    def save(self, path: str | Path) -> None:
        frame = self.features.astype(object).where(self.features.notna(), None).copy()
        frame["nid_partial"] = frame["nid_partial"].astype(bool)
        frame.insert(0, "_key", self.features.index.to_numpy(dtype=object))
        frame["_fingerprint"] = self.fingerprint.reindex(self.features.index).to_numpy(dtype=np.uint64)
        frame.to_parquet(path, index=False)

    @classmethod
    def load(cls, path: str | Path) -> "FeatureCache":
        frame = pd.read_parquet(path)
        index = pd.Index(frame.pop("_key"))
        fingerprint = pd.Series(frame.pop("_fingerprint").to_numpy(dtype=np.uint64), index=index)
        frame.index = index
        for name in FEATURE_COLUMNS:
            if name != "nid_partial":
                frame[name] = frame[name].astype(object).where(frame[name].notna(), None)
        return cls(features=frame[FEATURE_COLUMNS], fingerprint=fingerprint)


@dataclass
class IncrementalResolution(Resolution):
    # xref rows of the re-clustered records only (what ids.update_stable_ids takes as changed_clusters)
    changed_xref: pd.DataFrame = field(default_factory=pd.DataFrame)
    rounds: int = 0


def resolve_incremental(
    records: pd.DataFrame,
    changed_keys: pd.DataFrame,
    previous_xref: pd.DataFrame,
    model: FellegiSunterModel,
    config: ResolverConfig | None = None,
    constraints: pd.DataFrame | None = None,
    cache: FeatureCache | None = None,
) -> IncrementalResolution:
    """Resolution of all live `records` that re-clusters only what `changed_keys` (silo,
    source_record_id of records inserted, updated or deleted since `previous_xref`) can affect.
    `model` is used as is (no training, tf tables frozen). `cache`, when given, supplies the
    features of unchanged records and is updated in place to the current records."""
    config = config or ResolverConfig()
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    _check_inputs(changed_keys, previous_xref)
    live = _active(records)
    n = len(live)
    keys = _keys(live)
    cache = cache if cache is not None else FeatureCache()
    had_history = len(cache) > 0
    changed = _keys(changed_keys)
    features, stale, old_features = _features(live, keys, changed, cache)
    lap("features")

    prev = previous_xref.set_index(_keys(previous_xref))["customer_id"]
    prev_cid = prev.reindex(keys).to_numpy(dtype=object)
    seeds = stale | pd.isna(prev_cid)  # changed records, and any record the previous run did not see
    touched_customers = set(prev.reindex(changed.intersection(prev.index)).dropna().tolist())
    seeds |= pd.Series(prev_cid).isin(touched_customers).to_numpy()
    must, cannot = _constraint_positions(live, constraints)

    con = duckdb.connect()
    try:
        n_removed = int(changed.isin(prev.index).sum())
        cap_seeds = _prepare_blocks(con, features, live["silo"], stale, old_features, config, had_history, n_removed)
        seeds[cap_seeds] = True
        lap("blocking_setup")
        in_s, pl, pr, prule, gammas, weight, prob, rounds = _grow(con, features, seeds, prev_cid, must, model, config)
    finally:
        con.close()
    lap("rounds")

    members = np.flatnonzero(in_s)
    result, sub, sub_pairs = _recluster(live, features, members, pl, pr, prule, gammas, weight, prob, model,
                                        config, constraints)
    lap("clustering")
    xref = _merge_xref(live, keys, members, result, sub, previous_xref)
    changed_xref = xref.iloc[members].reset_index(drop=True)
    sl, sr, sg, sw, sp, srule, rule_names = sub_pairs
    keep = sp >= config.pairs_min_probability
    pairs = _pairs_frame(sub, model, features.iloc[members].reset_index(drop=True), sg, config, sl, sr, sw, sp, keep,
                         rule_names, srule)
    review = _review_frame(sub, sl, sr, sp, config, result.rejected)
    lap("output")
    cache.features = features.set_axis(keys, axis=0)
    cache.fingerprint = pd.Series(_fingerprints(live), index=keys)
    log.info("incremental resolve: %d of %d records re-clustered in %d round(s)", len(members), n, rounds)
    return IncrementalResolution(xref=xref, pairs=pairs, model=model, timings=timings, review=review,
                                 changed_xref=changed_xref, rounds=rounds)


def _check_inputs(changed_keys: pd.DataFrame, previous_xref: pd.DataFrame) -> None:
    for name, frame, cols in (("changed_keys", changed_keys, KEY), ("previous_xref", previous_xref, KEY + ["customer_id"])):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"resolve_incremental(): {name} lacks column(s) {missing}; expected {cols}")


def _features(live: pd.DataFrame, keys: pd.Index, changed: pd.Index, cache: FeatureCache):
    """Features of every live record: cached for unchanged ones, computed for the rest.
    Returns (features in live order, stale mask, previous features of changed records)."""
    fp = _fingerprints(live)
    cached_fp = cache.fingerprint.reindex(keys).to_numpy()
    same = pd.notna(cached_fp) & (cached_fp == fp) if len(cache) else np.zeros(len(live), dtype=bool)
    stale = ~same | keys.isin(changed)
    old_keys = cache.features.index.intersection(changed.union(keys[stale]))
    old_features = cache.features.loc[old_keys].reset_index(drop=True)
    if stale.all():
        features = build_features(live)
    else:
        features = cache.features.reindex(keys).reset_index(drop=True)
        pos = np.flatnonzero(stale)
        if len(pos):
            fresh = build_features(live.iloc[pos])
            for name in FEATURE_COLUMNS:
                features[name] = features[name].astype(object)
                features.loc[pos, name] = fresh[name].astype(object).to_numpy()
    for name in FEATURE_COLUMNS:
        if name == "nid_partial":
            features[name] = features[name].astype(bool)
        else:
            features[name] = features[name].astype(object).where(features[name].notna(), None)
    return features, stale, old_features


def _rule_exprs():
    for idx, (name, expr) in enumerate(BLOCKING_RULES.items()):
        left, right = expr if isinstance(expr, tuple) else (expr, expr)
        yield idx, name, left, right, isinstance(expr, tuple)


def _prepare_blocks(con, features, silo, stale, old_features, config, had_history, n_removed) -> np.ndarray:
    """One key table per blocking rule (big blocks removed, as `block` does) and the positions of
    records whose pairs changed because their block crossed `max_block_size`."""
    table = pa.Table.from_pandas(features[_BLOCK_COLUMNS], preserve_index=False)
    table = table.append_column("rid", pa.array(np.arange(len(features), dtype=np.int64)))
    table = table.append_column("silo_code", pa.array(pd.factorize(pd.Series(silo))[0].astype(np.int32)))
    table = table.append_column("chg", pa.array(np.asarray(stale, dtype=bool)))
    con.register("feats", table)
    old = old_features[_BLOCK_COLUMNS] if len(old_features) else pd.DataFrame({c: pd.Series(dtype=object) for c in _BLOCK_COLUMNS})
    con.register("oldf", pa.Table.from_pandas(old.astype(object).where(old.notna(), None).astype("string"),
                                              preserve_index=False))
    cap = config.max_block_size
    seeds: list[np.ndarray] = []
    for idx, _, lexpr, rexpr, _ in _rule_exprs():
        con.execute(f"CREATE OR REPLACE TEMP TABLE bk{idx} AS SELECT rid, silo_code, chg, {lexpr} AS k, {rexpr} AS k2 "
                    f"FROM feats WHERE ({lexpr}) IS NOT NULL")
        if had_history:
            # exact: old block size = new size - changed records now in it + their previous versions in it
            crossing = f"""
                WITH interest AS (SELECT k FROM bk{idx} WHERE chg UNION SELECT {lexpr} FROM oldf WHERE ({lexpr}) IS NOT NULL),
                     now AS (SELECT k, count(*) AS n, count(*) FILTER (WHERE chg) AS c FROM bk{idx}
                             WHERE k IN (SELECT k FROM interest) GROUP BY k),
                     before AS (SELECT {lexpr} AS k, count(*) AS o FROM oldf WHERE ({lexpr}) IS NOT NULL GROUP BY 1)
                SELECT i.k FROM interest i LEFT JOIN now USING (k) LEFT JOIN before USING (k)
                WHERE (coalesce(n, 0) - coalesce(c, 0) + coalesce(o, 0) > {cap}) <> (coalesce(n, 0) > {cap})"""
        else:
            # removed records' keys are unknown: any key that a removal could have pushed under the cap
            crossing = f"""
                SELECT k FROM (SELECT k, count(*) AS n, count(*) FILTER (WHERE chg) AS c FROM bk{idx} GROUP BY k)
                WHERE (n > {cap} AND n - c <= {cap}) OR (n <= {cap} AND n > {cap} - {n_removed})"""
        rows = con.execute(f"SELECT rid FROM bk{idx} WHERE k IN ({crossing}) OR k2 IN ({crossing})").fetchnumpy()
        seeds.append(np.asarray(rows["rid"], dtype=np.int64))
        con.execute(f"DELETE FROM bk{idx} WHERE k IN (SELECT k FROM bk{idx} GROUP BY k HAVING count(*) > {cap}) "
                    f"OR k2 IN (SELECT k FROM bk{idx} GROUP BY k HAVING count(*) > {cap})")
    return np.unique(np.concatenate(seeds)) if seeds else np.zeros(0, np.int64)


def _pairs_touching(con, frontier: np.ndarray, link_only: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs (l < r, first rule) with at least one record in `frontier`."""
    con.register("front", pa.table({"rid": pa.array(frontier, type=pa.int64())}))
    silo_filter = "AND a.silo_code <> b.silo_code" if link_only else ""
    parts = []
    for idx, _, _, _, swapped in _rule_exprs():
        fa = f"(SELECT * FROM bk{idx} WHERE rid IN (SELECT rid FROM front))"
        parts.append(f"SELECT least(a.rid, b.rid) AS l, greatest(a.rid, b.rid) AS r, {idx} AS rule FROM {fa} a "
                     f"JOIN bk{idx} b ON a.k = b.k2 AND a.rid <> b.rid {silo_filter}")
        if swapped:  # a.k = b.k2 is not symmetric: also the pairs whose right side is in the frontier
            parts.append(f"SELECT least(a.rid, b.rid), greatest(a.rid, b.rid), {idx} FROM bk{idx} a "
                         f"JOIN {fa} b ON a.k = b.k2 AND a.rid <> b.rid {silo_filter}")
    out = con.execute(f"SELECT l, r, min(rule) AS rule FROM ({' UNION ALL '.join(parts)}) GROUP BY l, r").fetchnumpy()
    con.unregister("front")
    return (np.asarray(out["l"], dtype=np.int64), np.asarray(out["r"], dtype=np.int64),
            np.asarray(out["rule"], dtype=np.int8))


def _score_pairs(features, left, right, model, config):
    """Comparison levels, weights and probabilities of pairs, computed on the records involved only."""
    involved = np.unique(np.concatenate([left, right]))
    sub = features.iloc[involved].reset_index(drop=True)
    sl, sr = np.searchsorted(involved, left), np.searchsorted(involved, right)
    gammas = compare(sub, sl, sr)
    weight, prob = _score(model, sub, sl, sr, gammas, config)
    return gammas, weight, prob


def _grow(con, features, seeds, prev_cid, must, model, config):
    """Rounds of block -> compare -> score from the newest members of S until S is closed."""
    n = len(features)
    in_s = np.zeros(n, dtype=bool)
    must_arr = np.asarray(must, dtype=np.int64).reshape(-1, 2)
    prev_series = pd.Series(prev_cid)
    frontier = np.flatnonzero(seeds)
    ls, rs, rules, gs, ws, ps = [], [], [], [], [], []
    rounds = 0
    while len(frontier):
        rounds += 1
        # a record drawn in brings its previous cluster mates
        cids = set(prev_series.iloc[frontier].dropna().tolist())
        if cids:
            frontier = np.union1d(frontier, np.flatnonzero(prev_series.isin(cids).to_numpy()))
        frontier = frontier[~in_s[frontier]]
        if not len(frontier):
            break
        before = in_s.copy()
        in_s[frontier] = True
        left, right, rule = _pairs_touching(con, frontier, config.link_only)
        new = ~(before[left] | before[right])  # pairs touching an earlier member were scored in its round
        left, right, rule = left[new], right[new], rule[new]
        linked = [must_arr[in_s[must_arr[:, 0]], 1], must_arr[in_s[must_arr[:, 1]], 0]]
        if len(left):
            gammas, weight, prob = _score_pairs(features, left, right, model, config)
            ls.append(left); rs.append(right); rules.append(rule); gs.append(gammas); ws.append(weight); ps.append(prob)
            strong = prob >= config.match_threshold
            linked += [left[strong], right[strong]]
        reached = np.unique(np.concatenate(linked)) if linked else np.zeros(0, np.int64)
        frontier = reached[~in_s[reached]]
    if not ls:
        empty = np.zeros(0, np.int64)
        return in_s, empty, empty, np.zeros(0, np.int8), compare(features.iloc[:0], empty, empty), np.zeros(0), np.zeros(0), rounds
    return (in_s, np.concatenate(ls), np.concatenate(rs), np.concatenate(rules), pd.concat(gs, ignore_index=True),
            np.concatenate(ws), np.concatenate(ps), rounds)


def _recluster(live, features, members, pl, pr, prule, gammas, weight, prob, model, config, constraints):
    """Cluster the records of S from every candidate pair among them, as `resolve` does."""
    inside = np.isin(pl, members) & np.isin(pr, members)
    # the same pair order as `block` (sorted by position), so ties between equal weights break alike
    sl, sr = np.searchsorted(members, pl[inside]), np.searchsorted(members, pr[inside])
    order = np.lexsort((sr, sl))
    sl, sr = sl[order], sr[order]
    srule = prule[inside][order]
    sg = gammas[inside].iloc[order].reset_index(drop=True)
    sw, sp = weight[inside][order], prob[inside][order]
    sub = live.iloc[members].reset_index(drop=True)
    feats = features.iloc[members].reset_index(drop=True)
    nid4, dob = as_objects(feats["nid_last4"]), as_objects(feats["dob"])
    rule_names = list(BLOCKING_RULES)
    extra_l, extra_r = closure_pairs(len(sub), sl, sr, sp, config.match_threshold, nid4, dob)
    if len(extra_l):
        extra_g = compare(feats, extra_l, extra_r)
        extra_w, extra_p = _score(model, feats, extra_l, extra_r, extra_g, config)
        sl, sr = np.concatenate([sl, extra_l]), np.concatenate([sr, extra_r])
        sg = pd.concat([sg, extra_g], ignore_index=True)
        sw, sp = np.concatenate([sw, extra_w]), np.concatenate([sp, extra_p])
        rule_names = rule_names + ["cluster_closure"]
        srule = np.concatenate([srule, np.full(len(extra_l), len(rule_names) - 1, dtype=np.int8)])
    must, cannot = _constraint_positions(sub, constraints)
    result = cluster(len(sub), sl, sr, sw, sp, config.match_threshold, nid4, dob, must_link=must, cannot_link=cannot,
                     override_probability=config.conflict_override_probability,
                     given=as_objects(feats["given"]) if model.household_cap_bits is not None else None)
    return result, sub, (sl, sr, sg, sw, sp, srule, rule_names)


def _merge_xref(live, keys, members, result, sub, previous_xref) -> pd.DataFrame:
    """Re-clustered records get fresh resolver ids; every other record keeps its previous row."""
    prev = previous_xref.set_index(_keys(previous_xref))
    cid = prev["customer_id"].reindex(keys).to_numpy(dtype=object)
    prob = (prev["match_probability"].reindex(keys).to_numpy(dtype=np.float64)
            if "match_probability" in prev.columns else np.full(len(keys), np.nan))
    cid[members] = customer_ids(result.labels, sub["silo"], sub["source_record_id"])
    prob[members] = result.record_probability
    return pd.DataFrame({"silo": live["silo"].to_numpy(), "source_record_id": live["source_record_id"].to_numpy(),
                         "customer_id": cid, "match_probability": prob})

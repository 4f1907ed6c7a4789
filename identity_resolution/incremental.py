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
  * review decisions added since the last run: put their records in `changed_keys`;
  * `changed_keys` must list every changed record (a record the cache has never seen is found
    on its own; an edited record that is not listed is not);
  * one cache belongs to one `max_block_size` and to the records behind `previous_xref`.

Features and blocking keys of unchanged records come from a `FeatureCache` (kept in memory by a
long-running process, or saved as Parquet between runs and reloaded); without one every record
is featurised, which is correct but slower, and the blocking keys of removed records are unknown,
so every block a removal could have brought under `max_block_size` is re-examined (conservative).
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
from identity_resolution.clustering import cluster, customer_ids
from identity_resolution.comparison import compare
from identity_resolution.config import ResolverConfig
from identity_resolution.features import FEATURE_COLUMNS, as_objects, build_features
from identity_resolution.pair_memory import PairMemory
from identity_resolution.resolver import (Resolution, _constraint_positions, _pairs_frame, _review_frame, _score,
                                          add_closure_pairs, as_bool, strong_evidence)
from identity_resolution.scoring import FellegiSunterModel, given_name_counts

log = logging.getLogger(__name__)
KEY = ["silo", "source_record_id"]
# feature columns the blocking rules read
_BLOCK_COLUMNS = ["given", "given_initial", "given_canon", "given_mp", "family", "family_sdx", "email_key", "email_letters",
                  "phone", "nid_hash", "nid_last4", "dob", "dob_year", "addr_key", "postcode", "city", "company_key"]


def _hashed(frame: pd.DataFrame, columns: list[str] = KEY) -> pd.Index:
    """A 64-bit hash per (silo, source_record_id): lookups over millions of integers are several
    times faster than over joined strings. Two keys would have to collide in 64 bits (about 3e-8
    at a million records) to be taken for one record; live keys are checked unique anyway."""
    silo, rid = (frame[name].astype(str).to_numpy(dtype=object) for name in columns)
    # silos repeat (hash each distinct one once); record ids do not
    mixed = pd.util.hash_array(silo, categorize=True) * np.uint64(0x9E3779B97F4A7C15)
    return pd.Index(mixed ^ pd.util.hash_array(rid, categorize=False))


def _first_duplicate(frame: pd.DataFrame, hashed: pd.Index) -> str:
    row = frame.iloc[int(np.flatnonzero(hashed.duplicated())[0])]
    return f"{row['silo']}|{row['source_record_id']}"


def _live(records: pd.DataFrame) -> pd.DataFrame:
    """Records not flagged deleted (cheaper than resolver._active: no narrow copy of every row)."""
    missing = [c for c in KEY if c not in records.columns]
    if missing:
        raise ValueError(f"resolve_incremental(): records lack column(s) {missing}")
    if "is_deleted" in records.columns:
        deleted = as_bool(records["is_deleted"]).to_numpy()
        if deleted.any():
            return records[~deleted]
    return records  # positions (iloc) are used throughout, the index is never read


def _rule_exprs():
    for idx, (name, expr) in enumerate(BLOCKING_RULES.items()):
        left, right = expr if isinstance(expr, tuple) else (expr, expr)
        yield idx, name, left, right, isinstance(expr, tuple)


def _clean(features: pd.DataFrame) -> pd.DataFrame:
    """Object columns with None for missing (categorical columns from build_features at scale)."""
    out = features.copy()
    for name in FEATURE_COLUMNS:
        if name == "nid_partial":
            out[name] = out[name].astype(bool)
        else:
            out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out[FEATURE_COLUMNS]


def _grown(values: np.ndarray, size: int, used: int) -> np.ndarray:
    out = np.zeros(size, dtype=values.dtype) if values.dtype == bool else np.full(size, None, dtype=object)
    out[:used] = values[:used]
    return out


class FeatureCache:
    """What the last run knew about every record, kept between runs so a sync featurises only the
    records it changed: match features (one row per stable record number, `sid`) and, in an
    in-memory DuckDB database, the blocking keys of every rule (`bk`: rule, sid, silo_code, k, k2)
    with the block sizes (`cnt`: rule, k, n), maintained by deltas. Keys are stored as 64-bit
    hashes of (rule, key text): joins over millions of integers are several times faster than over
    text; two different keys would have to collide in 64 bits to pair records wrongly."""

    def __init__(self) -> None:
        # one array per feature column, by sid: taking a few thousand rows from plain arrays is
        # cheap, where a million-row object DataFrame would first consolidate its blocks
        self.columns = {c: np.zeros(0, dtype=bool if c == "nid_partial" else object) for c in FEATURE_COLUMNS}
        self.rid = np.zeros(0, dtype=object)  # source_record_id per sid
        self.silo = np.zeros(0, dtype=object)
        self.sids = 0  # sids in use; the arrays above keep room for more, so that adding a sync's
        # records does not copy a million rows every time
        self.index = pd.Index(np.zeros(0, dtype=np.uint64))  # live hashed keys ...
        self.index_sid = np.zeros(0, dtype=np.int64)  # ... and their sids
        self.silo_codes: dict[str, int] = {}
        self.pairs = PairMemory()  # scores of pairs, so unchanged pairs are not compared again
        self.con = duckdb.connect()
        self.con.execute("CREATE TABLE bk (rule TINYINT, sid BIGINT, silo_code INTEGER, k UBIGINT, k2 UBIGINT)")
        self.con.execute("CREATE TABLE cnt (rule TINYINT, k UBIGINT, n BIGINT)")

    def __len__(self) -> int:
        return len(self.index)

    @classmethod
    def build(cls, records: pd.DataFrame, features: pd.DataFrame | None = None, pairs: pd.DataFrame | None = None,
              min_probability: float = 0.01, default_region: str = "US") -> "FeatureCache":
        """Featurise every live record (what a first incremental run would do anyway); `features`
        (build_features of the live records, same order, e.g. `Resolution.features`) skips that;
        `pairs` (that resolution's `pairs`: every pair scoring at least `min_probability` under the
        model the incremental runs keep) spares them comparing pairs of unchanged records."""
        live = _live(records)
        features = build_features(live, default_region) if features is None else features
        cache = cls.from_frame(pd.concat([live[KEY].reset_index(drop=True), features[FEATURE_COLUMNS].reset_index(drop=True)], axis=1))
        if pairs is not None:
            cache.seed_pairs(pairs, min_probability)
        return cache

    def seed_pairs(self, pairs: pd.DataFrame, min_probability: float) -> None:
        """Remember a resolution's scored pairs (silo_l, source_record_id_l, silo_r, source_record_id_r,
        gamma_*, match_weight, match_probability) as the complete list of pairs above `min_probability`."""
        sid_l = self.sids_of(_hashed(pairs, ["silo_l", "source_record_id_l"]))
        sid_r = self.sids_of(_hashed(pairs, ["silo_r", "source_record_id_r"]))
        known = (sid_l >= 0) & (sid_r >= 0)
        self.pairs = PairMemory(min_probability, complete=True)
        self.pairs.remember(sid_l[known], sid_r[known], pairs[known].reset_index(drop=True),
                            pairs["match_weight"].to_numpy()[known], pairs["match_probability"].to_numpy()[known])

    def to_frame(self) -> pd.DataFrame:
        """The live records' silo, source_record_id and features (what a warehouse table keeps)."""
        frame = self.feats_at(self.index_sid)
        frame.insert(1, "source_record_id", self.rid[self.index_sid])
        return frame[["silo", "source_record_id", *FEATURE_COLUMNS]]

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> "FeatureCache":
        """A cache from `to_frame()` output (block-key tables are rebuilt from the features)."""
        missing = [c for c in KEY + FEATURE_COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"FeatureCache.from_frame(): stored features lack column(s) {missing}")
        cache = cls()
        cache._append(_hashed(frame), frame["silo"].astype(str).to_numpy(dtype=object),
                      frame["source_record_id"].astype(str).to_numpy(dtype=object), _clean(frame))
        cache._index_first_blocks()
        return cache

    @classmethod
    def from_arrow(cls, table: pa.Table) -> "FeatureCache":
        """A cache from an Arrow table shaped like `to_frame()` (as a warehouse query returns it):
        no pandas frame in between, which at a million records is most of the load time."""
        missing = [c for c in KEY + FEATURE_COLUMNS if c not in table.column_names]
        if missing:
            raise ValueError(f"FeatureCache.from_arrow(): stored features lack column(s) {missing}")
        silo, rid = (table.column(c).cast(pa.string()).to_numpy(zero_copy_only=False) for c in KEY)
        columns = {c: (table.column(c).fill_null(False).to_numpy(zero_copy_only=False).astype(bool) if c == "nid_partial"
                       else table.column(c).cast(pa.string()).to_numpy(zero_copy_only=False)) for c in FEATURE_COLUMNS}
        cache = cls()
        blocks = table.select(_BLOCK_COLUMNS).cast(pa.schema([(c, pa.string()) for c in _BLOCK_COLUMNS]))
        cache._append(_hashed(pd.DataFrame({"silo": silo, "source_record_id": rid})), silo, rid, columns, blocks)
        cache._index_first_blocks()
        return cache

    def _index_first_blocks(self) -> None:
        """Block keys and block sizes of the records just appended to an empty cache."""
        self.con.execute(f"INSERT INTO bk {self._new_keys_sql()}")
        self.con.execute("INSERT INTO cnt SELECT rule, k, count(*) FROM bk GROUP BY rule, k")
        self.con.unregister("addf")

    def save(self, path: str | Path) -> None:
        self.to_frame().to_parquet(path, index=False)

    @classmethod
    def load(cls, path: str | Path) -> "FeatureCache":
        return cls.from_frame(pd.read_parquet(path))

    def features_of(self, records: pd.DataFrame) -> pd.DataFrame:
        """Features of these (silo, source_record_id) records, same order; raises on one the cache does not hold."""
        sids = self.sids_of(_hashed(records))
        if (sids < 0).any():
            row = records.iloc[int(np.flatnonzero(sids < 0)[0])]
            raise KeyError(f"feature cache holds no record {row['silo']}|{row['source_record_id']}")
        return self.feats_at(sids)

    # ---- maintenance -----------------------------------------------------------------
    def sids_of(self, keys: pd.Index) -> np.ndarray:
        """sid per hashed key, -1 for keys the cache does not hold."""
        pos = self.index.get_indexer(keys)
        return np.where(pos >= 0, self.index_sid[np.maximum(pos, 0)], -1)

    def _append(self, keys: pd.Index, silo: np.ndarray, rid: np.ndarray, features, blocks: pa.Table | None = None) -> np.ndarray:
        """New sids for these records (hashed keys, silos, record ids, features as a frame or arrays by
        column); their block-key columns (`blocks`, else taken from the features) registered as `addf`."""
        sids = np.arange(self.sids, self.sids + len(keys), dtype=np.int64)
        self._reserve(self.sids + len(keys))
        self.rid[sids], self.silo[sids] = rid, silo
        if isinstance(features, pd.DataFrame):
            features = features.reset_index(drop=True)
        for c in FEATURE_COLUMNS:
            self.columns[c][sids] = np.asarray(features[c])
        self.sids += len(keys)
        self.index = keys if not len(self.index) else self.index.append(keys)
        self.index_sid = np.concatenate([self.index_sid, sids])
        for s in pd.unique(silo):
            self.silo_codes.setdefault(s, len(self.silo_codes))
        self.register_keys(sids, silo, features, blocks)
        return sids

    def _reserve(self, size: int) -> None:
        if size <= len(self.rid):
            return
        room = max(size + size // 8, len(self.rid) + len(self.rid) // 4)  # room for several syncs
        for name in ("rid", "silo"):
            setattr(self, name, _grown(getattr(self, name), room, self.sids))
        self.columns = {c: _grown(values, room, self.sids) for c, values in self.columns.items()}

    def register_keys(self, sids: np.ndarray, silo: np.ndarray, features, blocks: pa.Table | None = None) -> None:
        """The block-key columns of these records as the DuckDB view `addf`."""
        table = blocks if blocks is not None else pa.Table.from_pandas(
            features[_BLOCK_COLUMNS].reset_index(drop=True).astype("string"), preserve_index=False)
        table = table.append_column("sid", pa.array(sids, type=pa.int64()))
        codes = pd.Series(silo).map(self.silo_codes).to_numpy(dtype=np.int32)
        self.con.register("addf", table.append_column("silo_code", pa.array(codes)))

    @staticmethod
    def _new_keys_sql() -> str:
        return " UNION ALL ".join(f"SELECT {idx}::TINYINT AS rule, sid, silo_code, hash({idx}, {lexpr}) AS k, "
                                  f"CASE WHEN ({rexpr}) IS NOT NULL THEN hash({idx}, {rexpr}) END AS k2 FROM addf WHERE ({lexpr}) IS NOT NULL"
                                  for idx, _, lexpr, rexpr, _ in _rule_exprs())

    def replace(self, removed_keys: pd.Index, keys: pd.Index, silo: np.ndarray, rid: np.ndarray,
                features: pd.DataFrame, cap: int) -> np.ndarray:
        """Drop the records of `removed_keys` (deleted or updated), add the given (new versions of)
        records, and return the sids of records whose blocks crossed `cap` either way."""
        old = self.sids_of(removed_keys)
        old = old[old >= 0]
        keep = ~np.isin(self.index_sid, old)
        self.index, self.index_sid = self.index[keep], self.index_sid[keep]
        sids = self._append(keys, silo, rid, features)
        con = self.con
        con.register("rm", pa.table({"sid": pa.array(old, type=pa.int64())}))
        con.execute("CREATE OR REPLACE TEMP TABLE gone AS SELECT * FROM bk WHERE sid IN (SELECT sid FROM rm)")
        con.execute(f"CREATE OR REPLACE TEMP TABLE added AS {self._new_keys_sql()}")
        con.execute("""CREATE OR REPLACE TEMP TABLE delta AS SELECT rule, k, sum(d) AS dn FROM (
            SELECT rule, k, -1 AS d FROM gone UNION ALL SELECT rule, k, 1 FROM added) GROUP BY rule, k""")
        con.execute(f"""CREATE OR REPLACE TEMP TABLE crossing AS SELECT d.rule, d.k FROM delta d LEFT JOIN cnt c
            ON c.rule = d.rule AND c.k = d.k WHERE (coalesce(c.n, 0) > {cap}) <> (coalesce(c.n, 0) + d.dn > {cap})""")
        con.execute("DELETE FROM bk WHERE sid IN (SELECT sid FROM rm)")
        con.execute("INSERT INTO bk SELECT * FROM added")
        con.execute("UPDATE cnt SET n = cnt.n + d.dn FROM delta d WHERE cnt.rule = d.rule AND cnt.k = d.k")
        con.execute("INSERT INTO cnt SELECT d.rule, d.k, d.dn FROM delta d ANTI JOIN cnt c ON c.rule = d.rule AND c.k = d.k")
        seeds = np.zeros(0, dtype=np.int64)
        if con.execute("SELECT count(*) FROM crossing").fetchall()[0][0]:
            seeds = con.execute("""SELECT sid FROM bk b SEMI JOIN crossing c ON b.rule = c.rule AND b.k = c.k
                UNION SELECT sid FROM bk b SEMI JOIN crossing c ON b.rule = c.rule AND b.k2 = c.k""").fetchnumpy()["sid"]
        con.unregister("rm")
        con.unregister("addf")
        return np.asarray(seeds, dtype=np.int64), sids

    def near_cap(self, changed_sids: np.ndarray, n_removed: int, cap: int) -> np.ndarray:
        """Without history (removed records' keys unknown): every record in a block that the
        changed records could have pushed over the cap, or removals could have brought under it."""
        self.con.register("chg", pa.table({"sid": pa.array(changed_sids, type=pa.int64())}))
        crossing = f"""SELECT rule, k FROM (SELECT rule, k, count(*) AS n, count(*) FILTER (WHERE sid IN (SELECT sid FROM chg)) AS c
            FROM bk GROUP BY rule, k) WHERE (n > {cap} AND n - c <= {cap}) OR (n <= {cap} AND n > {cap} - {n_removed})"""
        seeds = self.con.execute(f"""WITH crossing AS ({crossing})
            SELECT sid FROM bk b SEMI JOIN crossing c ON b.rule = c.rule AND b.k = c.k
            UNION SELECT sid FROM bk b SEMI JOIN crossing c ON b.rule = c.rule AND b.k2 = c.k""").fetchnumpy()["sid"]
        self.con.unregister("chg")
        return np.asarray(seeds, dtype=np.int64)

    def feats_at(self, sids: np.ndarray) -> pd.DataFrame:
        """Features of these records, with their silo (as build_features gives them)."""
        return pd.DataFrame({**{c: values[sids] for c, values in self.columns.items()}, "silo": self.silo[sids]})


@dataclass
class IncrementalResolution(Resolution):
    # xref rows of the re-clustered records only (what ids.update_stable_ids takes as changed_clusters)
    changed_xref: pd.DataFrame = field(default_factory=pd.DataFrame)
    rounds: int = 0
    pairs_compared: int = 0  # candidate pairs compared this run
    pairs_recalled: int = 0  # pairs of unchanged records whose remembered score was reused
    reblocked: int = 0  # unchanged records drawn in because a block they sit in crossed max_block_size
    # `pairs` and `review` hold every pair touching a re-clustered record; `carry_over_pairs`
    # merges them with the previous run's to give what a full run returns

    def affected_keys(self, changed_keys: pd.DataFrame) -> pd.DataFrame:
        """Records whose pairs this run recomputed: the re-clustered ones and the changed (incl. deleted)."""
        return pd.concat([self.changed_xref[KEY], changed_keys[KEY]], ignore_index=True).drop_duplicates()


def carry_over_pairs(previous: pd.DataFrame, recomputed: pd.DataFrame, affected: pd.DataFrame) -> pd.DataFrame:
    """Pair rows (silo_l, source_record_id_l, silo_r, source_record_id_r, ...) of the previous run
    that touch no affected record, plus the recomputed rows: a full run's pairs (or review pairs)."""
    gone = _hashed(affected)
    left = _hashed(previous, ["silo_l", "source_record_id_l"]).isin(gone)
    right = _hashed(previous, ["silo_r", "source_record_id_r"]).isin(gone)
    kept = previous[~(left | right)]
    frames = [f for f in (kept, recomputed) if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else recomputed.iloc[:0]


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
    `model` is used as is (no training, tf tables frozen). `cache` (the previous records'
    features and block keys) is updated in place to the current records; without one, every
    record is featurised."""
    config = config or ResolverConfig()
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now

    _check_inputs(changed_keys, previous_xref)
    live = _live(records)
    keys = _hashed(live)
    if not keys.is_unique:
        raise ValueError(f"resolve_incremental(): duplicate (silo, source_record_id) keys, e.g. {_first_duplicate(live, keys)!r}")
    changed = _hashed(changed_keys).unique()
    prev_keys = _hashed(previous_xref)
    if not prev_keys.is_unique:
        raise ValueError(f"resolve_incremental(): previous_xref maps {_first_duplicate(previous_xref, prev_keys)!r} more than once")
    cap = config.max_block_size
    if cache is None or len(cache) == 0:
        built = FeatureCache.build(live, default_region=config.default_region)
        cache = cache if cache is not None else built
        cache.__dict__.update(built.__dict__)
        sid_of_pos = cache.sids_of(keys)
        changed_pos = np.flatnonzero(keys.isin(changed) | ~keys.isin(prev_keys))
        cap_seeds = cache.near_cap(sid_of_pos[changed_pos], int(changed.isin(prev_keys).sum()), cap)
    else:
        # records to (re)featurise: the changed ones, and any the cache has never seen
        sid_of_pos = cache.sids_of(keys)
        changed_pos = np.flatnonzero(keys.isin(changed) | (sid_of_pos < 0))
        fresh = live.iloc[changed_pos]
        cap_seeds, sid_of_pos[changed_pos] = cache.replace(
            changed.union(keys[changed_pos]), keys[changed_pos], fresh["silo"].astype(str).to_numpy(dtype=object),
            fresh["source_record_id"].astype(str).to_numpy(dtype=object), _clean(build_features(fresh, config.default_region)), cap)
    pos_of_sid = np.full(cache.sids, -1, dtype=np.int64)
    pos_of_sid[sid_of_pos] = np.arange(len(keys))
    lap("features")

    # each record's previous customer as an integer code (-1: the previous run did not see it)
    prev_pos = prev_keys.get_indexer(keys)
    # (a 63-bit hash, no factorising a million ids; two customers sharing one would only draw in more records)
    prev_codes_all = (pd.util.hash_array(previous_xref["customer_id"].astype(str).to_numpy(dtype=object),
                                         categorize=False) >> np.uint64(1)).astype(np.int64)
    prev_code = np.where(prev_pos >= 0, prev_codes_all[np.maximum(prev_pos, 0)], -1)
    seeds = np.zeros(len(keys), dtype=bool)
    seeds[changed_pos] = True
    seeds |= prev_code < 0
    cap_pos = pos_of_sid[cap_seeds]
    seeds[cap_pos[cap_pos >= 0]] = True
    touched = np.unique(prev_codes_all[prev_keys.isin(changed)])
    if len(touched):
        seeds |= np.isin(prev_code, touched)
    must, cannot = _constraint_positions(live, constraints)
    lap("seeds")

    cache.con.execute(f"CREATE OR REPLACE TEMP TABLE big AS SELECT rule, k FROM cnt WHERE n > {cap}")
    feats_at = lambda pos: cache.feats_at(sid_of_pos[pos])  # noqa: E731
    touching = lambda pos: _pairs_touching(cache, sid_of_pos[pos], pos_of_sid, config.link_only)  # noqa: E731
    fresh = seeds & (prev_code < 0)
    fresh[changed_pos] = True
    fresh[cap_pos[cap_pos >= 0]] = True  # their candidate pairs changed: nothing remembered applies
    scorer = _Scorer(cache, sid_of_pos, fresh, feats_at, model, config)
    in_s, pl, pr, prule, gammas, weight, prob, rounds = _grow(touching, feats_at, len(keys), seeds, prev_code, must,
                                                              scorer, config)
    scorer.remember()
    lap("rounds")

    members = np.flatnonzero(in_s)
    sub_feats = feats_at(members)
    result, sub, sub_pairs = _recluster(live, sub_feats, members, pl, pr, prule, gammas, weight, prob, model,
                                        config, constraints)
    lap("clustering")
    xref = _merge_xref(live, members, result, sub, previous_xref, prev_pos)
    changed_xref = xref.iloc[members].reset_index(drop=True)
    sl, sr, sg, sw, sp, srule, rule_names = sub_pairs
    keep = sp >= config.pairs_min_probability
    pairs = _pairs_frame(sub, model, sub_feats, sg, config, sl, sr, sw, sp, keep, rule_names, srule)
    review = _review_frame(sub, sl, sr, sp, config, result.rejected)
    cross_pairs, cross_review = _cross_outputs(live, feats_at, in_s, pl, pr, prule, gammas, weight, prob, model, config)
    pairs = pd.concat([pairs, cross_pairs], ignore_index=True)
    review = pd.concat([review, cross_review], ignore_index=True)
    lap("output")
    log.info("incremental resolve: %d of %d records re-clustered in %d round(s)", len(members), len(keys), rounds)
    return IncrementalResolution(xref=xref, pairs=pairs, model=model, timings=timings, review=review,
                                 changed_xref=changed_xref, rounds=rounds, pairs_recalled=scorer.recalled,
                                 pairs_compared=sum(len(s[0]) for s in scorer.scored),
                                 reblocked=int((cap_pos >= 0).sum()))


def _check_inputs(changed_keys: pd.DataFrame, previous_xref: pd.DataFrame) -> None:
    for name, frame, cols in (("changed_keys", changed_keys, KEY), ("previous_xref", previous_xref, KEY + ["customer_id"])):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"resolve_incremental(): {name} lacks column(s) {missing}; expected {cols}")


def _pairs_touching(cache: FeatureCache, frontier_sids: np.ndarray, pos_of_sid: np.ndarray,
                    link_only: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs (positions l < r, first rule) with at least one record in the frontier;
    blocks over `cap` records are skipped as `block` skips them (a record whose key or swapped key
    is an oversized block takes no part in that rule)."""
    con = cache.con
    # the frontier's keys of every rule (from its features: no scan of bk), minus oversized blocks
    cache.register_keys(frontier_sids, cache.silo[frontier_sids], cache.feats_at(frontier_sids))
    con.execute(f"""CREATE OR REPLACE TEMP TABLE fa AS SELECT b.* FROM ({cache._new_keys_sql()}) b
        ANTI JOIN big g ON g.k = b.k ANTI JOIN big h ON h.k = b.k2""")
    silo_filter = "AND a.silo_code <> b.silo_code" if link_only else ""
    pair = "SELECT least(a.sid, b.sid) AS l, greatest(a.sid, b.sid) AS r, a.rule AS rule"
    swapped = ", ".join(str(idx) for idx, *_, is_swapped in _rule_exprs() if is_swapped) or "-1"
    # a.k = b.k2: for rules with one key k2 = k; for swapped names the frontier may sit on either side
    sql = f"""SELECT l, r, min(rule) AS rule FROM (
        {pair} FROM fa a JOIN bk b ON a.k = b.k2 AND a.sid <> b.sid {silo_filter}
            ANTI JOIN big g ON g.k = b.k
        UNION ALL
        {pair} FROM bk a JOIN fa b ON a.k = b.k2 AND a.sid <> b.sid {silo_filter}
            ANTI JOIN big g ON g.k = a.k2
            WHERE a.rule IN ({swapped})
        ) GROUP BY l, r"""
    out = con.execute(sql).fetchnumpy()
    con.unregister("addf")
    left = pos_of_sid[np.asarray(out["l"], dtype=np.int64)]
    right = pos_of_sid[np.asarray(out["r"], dtype=np.int64)]
    return np.minimum(left, right), np.maximum(left, right), np.asarray(out["rule"], dtype=np.int8)


def _score_pairs(feats_at, left, right, model, config):
    """Comparison levels, weights and probabilities of pairs, computed on the records involved only."""
    involved = np.unique(np.concatenate([left, right]))
    sub = feats_at(involved)
    sl, sr = np.searchsorted(involved, left), np.searchsorted(involved, right)
    gammas = compare(sub, sl, sr, given_name_counts(model.tf_tables))
    weight, prob = _score(model, sub, sl, sr, gammas, config)
    return gammas, weight, prob


class _Scorer:
    """Scores candidate pairs: those touching a fresh (changed, new or re-blocked) record are
    compared; pairs of two unchanged records come from the cache's pair memory when it is complete
    (see pair_memory.py), and are dropped when it does not hold them (they scored below every
    threshold that matters). Newly scored pairs are remembered afterwards."""

    def __init__(self, cache: FeatureCache, sid_of_pos, fresh, feats_at, model, config):
        memory = cache.pairs
        floor = min(config.pairs_min_probability, config.review_threshold, config.match_threshold,
                    config.conflict_override_probability if config.conflict_override_probability is not None else 1.0)
        self.memory = memory if memory.complete and memory.min_probability <= floor else None
        self.sid_of_pos, self.fresh, self.feats_at, self.model, self.config = sid_of_pos, fresh, feats_at, model, config
        self.scored: list[tuple] = []
        self.recalled = 0

    def __call__(self, left, right, rule):
        if self.memory is None:
            gammas, weight, prob = _score_pairs(self.feats_at, left, right, self.model, self.config)
            self.scored.append((left, right, gammas, weight, prob))
            return left, right, rule, gammas, weight, prob
        old = ~(self.fresh[left] | self.fresh[right])
        rows = self.memory.recall(self.sid_of_pos[left[old]], self.sid_of_pos[right[old]])
        new, known = np.flatnonzero(~old), np.flatnonzero(old)[rows >= 0]
        rows = rows[rows >= 0]
        self.recalled += len(rows)
        gammas, weight, prob = _score_pairs(self.feats_at, left[new], right[new], self.model, self.config)
        self.scored.append((left[new], right[new], gammas, weight, prob))
        order = np.concatenate([new, known])
        return (left[order], right[order], rule[order],
                pd.concat([gammas, self.memory.gamma_frame(rows).astype(gammas.dtypes.to_dict())], ignore_index=True),
                np.concatenate([weight, self.memory.weight[rows]]), np.concatenate([prob, self.memory.prob[rows]]))

    def remember(self) -> None:
        if self.memory is None or not self.scored:
            return
        left, right = (np.concatenate([s[i] for s in self.scored]) for i in (0, 1))
        self.memory.remember(self.sid_of_pos[left], self.sid_of_pos[right],
                             pd.concat([s[2] for s in self.scored], ignore_index=True),
                             np.concatenate([s[3] for s in self.scored]), np.concatenate([s[4] for s in self.scored]))


def _grow(touching, feats_at, n, seeds, prev_codes, must, score, config):
    """Rounds of block -> compare -> score from the newest members of S until S is closed.
    `prev_codes`: each record's previous customer as an integer, -1 for records without one."""
    in_s = np.zeros(n, dtype=bool)
    must_arr = np.asarray(must, dtype=np.int64).reshape(-1, 2)
    frontier = np.flatnonzero(seeds)
    ls, rs, rules, gs, ws, ps = [], [], [], [], [], []
    rounds = 0
    while len(frontier):
        rounds += 1
        # a record drawn in brings its previous cluster mates
        codes = np.unique(prev_codes[frontier])
        codes = codes[codes >= 0]
        if len(codes):
            frontier = np.union1d(frontier, np.flatnonzero(np.isin(prev_codes, codes)))
        frontier = frontier[~in_s[frontier]]
        if not len(frontier):
            break
        before = in_s.copy()
        in_s[frontier] = True
        left, right, rule = touching(frontier)
        new = ~(before[left] | before[right])  # pairs touching an earlier member were scored in its round
        left, right, rule = left[new], right[new], rule[new]
        linked = [must_arr[in_s[must_arr[:, 0]], 1], must_arr[in_s[must_arr[:, 1]], 0]]
        if len(left):
            left, right, rule, gammas, weight, prob = score(left, right, rule)
            ls.append(left); rs.append(right); rules.append(rule); gs.append(gammas); ws.append(weight); ps.append(prob)
            strong = prob >= config.match_threshold
            linked += [left[strong], right[strong]]
        reached = np.unique(np.concatenate(linked)) if linked else np.zeros(0, np.int64)
        frontier = reached[~in_s[reached]]
    if not ls:
        empty = np.zeros(0, np.int64)
        return (in_s, empty, empty, np.zeros(0, np.int8), compare(feats_at(empty), empty, empty), np.zeros(0),
                np.zeros(0), rounds)
    return (in_s, np.concatenate(ls), np.concatenate(rs), np.concatenate(rules), pd.concat(gs, ignore_index=True),
            np.concatenate(ws), np.concatenate(ps), rounds)


def _recluster(live, feats, members, pl, pr, prule, gammas, weight, prob, model, config, constraints):
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
    nid4, born, generation = evidence = strong_evidence(feats, model)
    sl, sr, sg, sw, sp, srule, rule_names = add_closure_pairs(
        model, feats, config, len(sub), (sl, sr, sg, sw, sp, srule), BLOCKING_RULES, evidence)
    must, cannot = _constraint_positions(sub, constraints)
    result = cluster(len(sub), sl, sr, sw, sp, config.match_threshold, nid4, born, must_link=must, cannot_link=cannot,
                     override_probability=config.conflict_override_probability,
                     given=as_objects(feats["given"]) if model.household_cap_bits is not None else None,
                     family=as_objects(feats["family"]), generation=generation)
    return result, sub, (sl, sr, sg, sw, sp, srule, rule_names)


def _cross_outputs(live, feats_at, in_s, pl, pr, prule, gammas, weight, prob, model, config):
    """Scored pairs between a re-clustered record and one left as it was: below the match threshold
    (or the other record would have joined S), but a full run lists them in `pairs` and, in the
    review band, in `review`; without them a caller merging old and new outputs would lose them."""
    # review pairs sit above pairs_min_probability too, so nothing below it is needed
    cross = np.flatnonzero(~(in_s[pl] & in_s[pr]) & (prob >= min(config.pairs_min_probability, config.review_threshold)))
    left, right = pl[cross], pr[cross]
    involved = np.unique(np.concatenate([left, right]))
    records = live.iloc[involved].reset_index(drop=True)
    cl, cr = np.searchsorted(involved, left), np.searchsorted(involved, right)
    g, w, p = gammas.iloc[cross].reset_index(drop=True), weight[cross], prob[cross]
    pairs = _pairs_frame(records, model, feats_at(involved), g, config, cl, cr, w, p,
                         p >= config.pairs_min_probability, list(BLOCKING_RULES), prule[cross])
    no_refusals = pd.DataFrame({"l": np.zeros(0, np.int64), "r": np.zeros(0, np.int64),
                                "match_probability": np.zeros(0), "reason": np.zeros(0, dtype=object)})
    return pairs, _review_frame(records, cl, cr, p, config, no_refusals)


def _merge_xref(live, members, result, sub, previous_xref, prev_pos) -> pd.DataFrame:
    """Re-clustered records get fresh resolver ids; every other record keeps its previous row
    (`prev_pos`: each record's row in previous_xref)."""
    known = prev_pos >= 0
    cid = np.full(len(prev_pos), None, dtype=object)
    cid[known] = previous_xref["customer_id"].to_numpy(dtype=object)[prev_pos[known]]
    prob = np.full(len(prev_pos), np.nan)
    if "match_probability" in previous_xref.columns:
        prob[known] = previous_xref["match_probability"].to_numpy(dtype=np.float64)[prev_pos[known]]
    cid[members] = customer_ids(result.labels, sub["silo"], sub["source_record_id"])
    prob[members] = result.record_probability
    return pd.DataFrame({"silo": live["silo"].to_numpy(), "source_record_id": live["source_record_id"].to_numpy(),
                         "customer_id": cid, "match_probability": prob})

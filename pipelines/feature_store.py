"""Building block: every resolved record's match features, kept in the warehouse between runs.

An incremental run featurises only the records a sync changed; everyone else's features and
blocking keys come from `identity.record_features`. Each row carries a fingerprint of the
resolver's input columns, so the next run finds the changed records by comparing fingerprints in
SQL. The table lives in the `identity` schema, so erasure scrubs it like the other identity tables.
"""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from identity_resolution.features import FEATURE_COLUMNS
from identity_resolution.incremental import FeatureCache
from identity_resolution.pair_memory import PairMemory
from identity_resolution.resolver import RESOLVER_COLUMNS
from warehouse.schema import row_fingerprint_sql
from warehouse.security.connect import table_columns

FEATURES_TABLE = "identity.record_features"
KEY = ["silo", "source_record_id"]
# what the features are computed from: a record whose fingerprint is unchanged keeps its features
FINGERPRINT_SQL = row_fingerprint_sql([c for c in RESOLVER_COLUMNS if c not in KEY])
LIVE = "NOT coalesce(is_deleted, FALSE)"


def _columns() -> dict[str, str]:
    features = {c: "BOOLEAN" if c == "nid_partial" else "VARCHAR" for c in FEATURE_COLUMNS}
    return {"silo": "VARCHAR NOT NULL", "source_record_id": "VARCHAR NOT NULL", "fingerprint": "VARCHAR NOT NULL",
            **features}


def table_exists(con: duckdb.DuckDBPyConnection) -> bool:
    """The table exists with today's feature columns (a matcher that computes other features
    makes the stored ones useless; the next full run recreates the table)."""
    return list(table_columns(con, *FEATURES_TABLE.split("."))) == list(_columns())


def ensure_table(con: duckdb.DuckDBPyConnection) -> None:
    if not table_exists(con):
        body = ", ".join(f'"{name}" {ddl}' for name, ddl in _columns().items())
        con.execute(f"CREATE OR REPLACE TABLE {FEATURES_TABLE} ({body})")


def stored_records(con: duckdb.DuckDBPyConnection) -> int | None:
    """How many records the table holds (None when there is no usable table)."""
    return con.execute(f"SELECT count(*) FROM {FEATURES_TABLE}").fetchall()[0][0] if table_exists(con) else None


def changed_records(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """silo, source_record_id of records inserted, updated or deleted (or flagged deleted) in
    staging since the features were stored."""
    return con.execute(f"""
        SELECT coalesce(c.silo, f.silo) AS silo, coalesce(c.source_record_id, f.source_record_id) AS source_record_id
        FROM (SELECT silo, source_record_id, {FINGERPRINT_SQL} AS fp FROM staging.customer_records WHERE {LIVE}) c
        FULL OUTER JOIN {FEATURES_TABLE} f ON c.silo = f.silo AND c.source_record_id = f.source_record_id
        WHERE c.fp IS DISTINCT FROM f.fingerprint
        ORDER BY 1, 2""").df()


def load_feature_cache(con: duckdb.DuckDBPyConnection, scores_table: str, min_probability: float) -> FeatureCache:
    """The stored features as a cache, with the last run's scored pairs as its pair memory (pairs of
    two unchanged records are then recalled, not compared again)."""
    cache = FeatureCache.from_arrow(con.sql(f"SELECT * EXCLUDE (fingerprint) FROM {FEATURES_TABLE}").to_arrow_table())
    _remember_scores(con, cache, scores_table, min_probability)
    return cache


def _remember_scores(con: duckdb.DuckDBPyConnection, cache: FeatureCache, scores_table: str,
                     min_probability: float) -> None:
    """Scored pairs joined to the cache's record ids in DuckDB (no pandas pass over millions of keys)."""
    gammas = [c for c in table_columns(con, *scores_table.split(".")) if c.startswith("gamma_")]
    sids = cache.index_sid
    con.register("_cache_ids", pa.table({"silo": pa.array(cache.silo[sids], pa.string()),
                                        "source_record_id": pa.array(cache.rid[sids], pa.string()), "sid": sids}))
    try:
        found = con.execute(
            f"SELECT a.sid AS sid_l, b.sid AS sid_r, s.match_weight, s.match_probability, "
            f"{', '.join(f's.{c}' for c in gammas)} FROM {scores_table} s "
            "JOIN _cache_ids a ON a.silo = s.silo_l AND a.source_record_id = s.source_record_id_l "
            "JOIN _cache_ids b ON b.silo = s.silo_r AND b.source_record_id = s.source_record_id_r").fetchnumpy()
    finally:
        con.unregister("_cache_ids")
    cache.pairs = PairMemory(min_probability, complete=True)
    cache.pairs.remember(np.asarray(found["sid_l"]), np.asarray(found["sid_r"]),
                         pd.DataFrame({c: np.asarray(found[c]) for c in gammas}),
                         np.asarray(found["match_weight"]), np.asarray(found["match_probability"]))


def feature_rows(fingerprints: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Rows for the table: `fingerprints` (silo, source_record_id, fingerprint) beside their features."""
    if len(fingerprints) != len(features):
        raise ValueError(f"{len(fingerprints)} fingerprints for {len(features)} feature rows")
    return pd.concat([fingerprints[[*KEY, "fingerprint"]].reset_index(drop=True),
                      features[FEATURE_COLUMNS].reset_index(drop=True)], axis=1)


def write_features(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame, remove: pd.DataFrame | None = None) -> None:
    """Replace the table with `rows` (remove=None), or delete the `remove` keys and insert `rows`.
    Call inside the caller's transaction, with the identity tables it belongs to."""
    ensure_table(con)
    con.register("_feature_rows", rows)
    try:
        if remove is None:
            con.execute(f"DELETE FROM {FEATURES_TABLE}")
        else:
            con.register("_feature_removed", remove[KEY].astype(str))
            con.execute(f"DELETE FROM {FEATURES_TABLE} f USING _feature_removed r "
                        "WHERE f.silo = r.silo AND f.source_record_id = r.source_record_id")
            con.unregister("_feature_removed")
        con.execute(f"INSERT INTO {FEATURES_TABLE} BY NAME SELECT * FROM _feature_rows")
    finally:
        con.unregister("_feature_rows")

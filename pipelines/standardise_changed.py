"""Building block: standardise only the records a sync changed.

`standardise_records` parses names, phones, addresses and dates in Python, tens of microseconds a
record; a sync that changes k of a silo's n records should pay for k. Each staged record keeps a
fingerprint in `staging.record_fingerprints`: a hash of its mapped (raw canonical) values, salted
with what else decides the output — the default phone region, the national-id hash key, the
standardiser's code and how the silo writes names and dates (conventions.py, read from all its records). A
record whose fingerprint is unchanged takes its previous staging row as it is; the others are
standardised. The staging rows come out typed as the staging table types them,
whichever way they were made.
"""
from __future__ import annotations

import hashlib
import hmac
import os

import duckdb
import numpy as np
import pandas as pd

from identity_resolution import standardise_records
from identity_resolution.conventions import read_conventions
from identity_resolution.national_ids import HASH_KEY_ENV
from pipelines.resolve_plan import matcher_code_digest
from warehouse.schema import STAGING_COLUMNS, conform, typed_columns_sql

FINGERPRINTS = "staging.record_fingerprints"
_NOT_INPUT = ("_dlt_load_id", "_dlt_id", "is_deleted", "loaded_at")


def fingerprints(records: pd.DataFrame, region: str, conventions: str = "") -> np.ndarray:
    """uint64 per record over its mapped values and the standardiser's salt."""
    columns = sorted(c for c in records.columns if c not in _NOT_INPUT)
    rows = pd.util.hash_pandas_object(records[columns].astype(str), index=False).to_numpy()
    return rows ^ np.uint64(int(_salt(region, conventions), 16) & 0xFFFFFFFFFFFFFFFF)


def _salt(region: str, conventions: str) -> str:
    key = os.environ.get(HASH_KEY_ENV, "")
    keyed = hmac.new(key.encode(), b"customer-hub staging fingerprint", hashlib.sha256).hexdigest() if key else "-"
    return hashlib.sha256(f"{matcher_code_digest()}|{region}|{keyed}|{conventions}".encode()).hexdigest()[:16]


def standardise_changed(con: duckdb.DuckDBPyConnection, silo: str, records: pd.DataFrame,
                        region: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(staging rows aligned with `records`, fingerprint rows to keep with them)."""
    # the silo's conventions are read from all its records, so the few that changed are read the same way
    habits = read_conventions(records.assign(silo=silo))
    fp = fingerprints(records, region, habits.of(silo))
    keys = records["source_record_id"].astype(str).reset_index(drop=True)
    # only records still staged can be reused (a suppressed record was dropped from staging)
    stored = con.execute(
        f"SELECT f.source_record_id, f.fingerprint FROM {FINGERPRINTS} f WHERE f.silo = ? AND EXISTS (SELECT 1 FROM "
        "staging.customer_records r WHERE r.silo = f.silo AND r.source_record_id = f.source_record_id)", [silo]).df()
    previous = pd.Index(stored["source_record_id"].astype(str))
    reuse = np.zeros(len(records), dtype=bool)
    if keys.is_unique and previous.is_unique and len(previous):
        pos = previous.get_indexer(keys)
        stored_fp = stored["fingerprint"].to_numpy(dtype=np.uint64)
        reuse = (pos >= 0) & (stored_fp[np.maximum(pos, 0)] == fp)
    fresh = standardise_records(records[~reuse], default_region=region, conventions=habits)
    staged = _typed_union(con, silo, keys[reuse], fresh)
    if len(staged) != len(records):
        raise RuntimeError(f"silo {silo}: {len(staged)} staging rows for {len(records)} records after reusing "
                           f"{int(reuse.sum())} unchanged ones")
    staged = staged.set_index(staged["source_record_id"].astype(str)).loc[keys].reset_index(drop=True) \
        if keys.is_unique else staged
    fingerprint_rows = pd.DataFrame({"silo": silo, "source_record_id": keys.to_numpy(), "fingerprint": fp})
    return staged.set_axis(records.index), fingerprint_rows


def _typed_union(con: duckdb.DuckDBPyConnection, silo: str, reused: pd.Series, fresh: pd.DataFrame) -> pd.DataFrame:
    """Reused staging rows and freshly standardised ones, as the staging table's column types."""
    typed = typed_columns_sql(STAGING_COLUMNS)
    columns = ", ".join(f'"{c}"' for c in STAGING_COLUMNS)
    con.register("_fresh_staged", conform(fresh, STAGING_COLUMNS))
    con.register("_reused_keys", pd.DataFrame({"source_record_id": reused.to_numpy(dtype=object)}))
    try:
        return con.execute(
            f"SELECT {columns} FROM staging.customer_records WHERE silo = ? AND source_record_id IN "
            f"(SELECT source_record_id FROM _reused_keys) UNION ALL SELECT {typed} FROM _fresh_staged", [silo]).df()
    finally:
        con.unregister("_fresh_staged")
        con.unregister("_reused_keys")

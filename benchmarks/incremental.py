"""Full vs incremental resolution after a 1% change, with the same fixed model.

Run: /work/venv/bin/python benchmarks/incremental.py [--records 200000] [--change 0.01] [--seed 7]
The generator population (~1.43 records per person) is standardised once and cached under
benchmarks/out/. A model is trained once and frozen (tf tables included); then one random batch
of deletes, updates and inserts touching `--change` of the records is applied and both paths run:
  full        resolve(records, model=model)            (no training: the same fixed model)
  incremental resolve_incremental(records, changed, previous_xref, model, cache=cache)
The feature cache (features and the previous run's scored pairs, as the pipeline keeps them) is
built before the change, not timed.
The two partitions are compared record by record.

--pipeline times the pipeline's resolution step instead (read staging, plan, resolve, stable ids,
publish the identity tables and review queue) on a DuckDB warehouse: the same change written into
staging.customer_records, then pipelines.resolution.resolve_warehouse with HUB_RESOLVE_MODE=full on
one copy and auto (incremental) on another; the published xref of both is compared.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from identity_resolution import ResolverConfig, resolve, standardise_records
from identity_resolution.incremental import FeatureCache, resolve_incremental

OUT = Path(__file__).resolve().parent / "out"
KEY = ["silo", "source_record_id"]
console = Console()


def staged_population(records: int, seed: int) -> pd.DataFrame:
    path = OUT / f"incremental_{records}_{seed}_staged.parquet"
    if path.exists():
        return pd.read_parquet(path)
    from hub.demo.generator import generate_canonical

    OUT.mkdir(parents=True, exist_ok=True)
    raw, _ = generate_canonical(int(records / 1.43), seed)
    staged = standardise_records(raw, hash_key=b"bench").reset_index(drop=True)
    staged.to_parquet(path, index=False)
    return staged


def change_batch(staged: pd.DataFrame, share: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Delete a quarter, update half (fields copied from a random other record), insert a quarter
    (near-copies of existing records under new ids) of `share` of the records."""
    rng = np.random.default_rng(seed)
    n, k = len(staged), max(int(len(staged) * share), 4)
    chosen = rng.choice(n, size=k, replace=False)
    delete, update, copy = chosen[: k // 4], chosen[k // 4: 3 * k // 4], chosen[3 * k // 4:]
    out = staged.copy()
    donors = rng.integers(0, n, size=len(update))
    for col in ("email", "phone", "family_name", "address_line", "postcode"):
        pick = rng.random(len(update)) < 0.4
        out.iloc[update[pick], out.columns.get_loc(col)] = staged[col].to_numpy()[donors[pick]]
    inserts = staged.iloc[copy].copy()
    inserts["source_record_id"] = [f"inc-{i}" for i in range(len(inserts))]
    inserts["phone"] = None
    changed = pd.concat([staged.iloc[np.concatenate([delete, update])][KEY], inserts[KEY]], ignore_index=True)
    return pd.concat([out.drop(out.index[delete]), inserts], ignore_index=True), changed


def partition_equal(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Same clusters: the customer of each record, canonicalised by its smallest record key."""
    def canon(x):
        key = x["silo"].astype(str) + "|" + x["source_record_id"].astype(str)
        return pd.Series(key.groupby(x["customer_id"].to_numpy()).transform("min").to_numpy(), index=key.to_numpy())
    ca, cb = canon(a), canon(b)
    return len(ca) == len(cb) and bool((ca.sort_index() == cb.reindex(ca.index).sort_index()).all())


def pipeline_run(staged: pd.DataFrame, args) -> None:
    import duckdb

    from pipelines.resolution import resolve_warehouse
    from warehouse.publish import append_rows, replace_tables
    from warehouse.schema import STAGING_COLUMNS, conform, ensure_schema

    def rows(frame: pd.DataFrame) -> pd.DataFrame:
        return conform(frame.assign(is_deleted=False, loaded_at=pd.Timestamp("2026-01-01")), STAGING_COLUMNS)

    work = Path(tempfile.mkdtemp(prefix="hub_incremental_"))
    base, full_path, inc_path = work / "base.duckdb", work / "full.duckdb", work / "inc.duckdb"
    with duckdb.connect(str(base)) as con, console.status(f"first run (training) on {len(staged):,} records"):
        ensure_schema(con)
        append_rows(con, "staging.customer_records", rows(staged))
        resolve_warehouse(con)
    current, changed = change_batch(staged, args.change, args.seed)
    timings = {}
    for path, mode in ((full_path, "full"), (inc_path, "auto")):
        shutil.copy(base, path)
        with duckdb.connect(str(path)) as con, console.status(f"{mode} resolution step after the change"):
            replace_tables(con, {"staging.customer_records": rows(current)})
            os.environ["HUB_RESOLVE_MODE"] = mode
            start = time.perf_counter()
            counts = resolve_warehouse(con)
            reason = con.execute("SELECT reason FROM ops.resolver_state").fetchall()[0][0]
            timings[mode] = (time.perf_counter() - start, counts, reason)
    table = Table(title=f"pipeline resolution step: {len(current):,} records, {len(changed):,} changed ({args.change:.1%})")
    for col in ("HUB_RESOLVE_MODE", "mode", "why", "seconds", "records re-clustered"):
        table.add_column(col)
    for mode, (seconds, counts, reason) in timings.items():
        table.add_row(mode, counts.mode, reason, f"{seconds:.2f}", f"{counts.reclustered:,}")
    console.print(table)
    console.print(f"incremental / full = {timings['auto'][0] / timings['full'][0]:.1%}")
    xrefs = [duckdb.connect(str(p), read_only=True).execute("SELECT silo, source_record_id, customer_id FROM "
                                                             "identity.customer_xref").df() for p in (full_path, inc_path)]
    merged = xrefs[0].merge(xrefs[1], on=KEY)
    same = len(merged) == len(xrefs[0]) == len(xrefs[1]) and bool((merged["customer_id_x"] == merged["customer_id_y"]).all())
    console.print(f"published customer ids identical: {same}")
    shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--change", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pipeline", action="store_true", help="time the pipeline's resolution step instead")
    args = parser.parse_args()
    config = ResolverConfig(freeze_tf_tables=True)
    with console.status("generating and standardising the population"):
        staged = staged_population(args.records, args.seed)
    if args.pipeline:
        return pipeline_run(staged, args)
    with console.status(f"training the model once on {len(staged):,} records"):
        model = resolve(staged, config).model
    with console.status("previous run (full) and feature cache"):
        first = resolve(staged, config, model=model)
        previous = first.xref
        # as the pipeline keeps them: features and the scored pairs of the previous run
        cache = FeatureCache.build(staged, first.features, pairs=first.pairs, min_probability=config.pairs_min_probability)
    current, changed = change_batch(staged, args.change, args.seed)
    with console.status(f"full resolve of {len(current):,} records"):
        start = time.perf_counter()
        full = resolve(current, config, model=model)
        full_s = time.perf_counter() - start
    with console.status(f"incremental resolve, {len(changed):,} changed keys"):
        start = time.perf_counter()
        inc = resolve_incremental(current, changed, previous, model, config, cache=cache)
        inc_s = time.perf_counter() - start
    table = Table(title=f"full vs incremental: {len(current):,} records, {len(changed):,} changed ({args.change:.1%})")
    for col in ("path", "seconds", "records re-clustered", "stages (s)"):
        table.add_column(col)
    table.add_row("full", f"{full_s:.2f}", f"{len(current):,}", ", ".join(f"{k} {v:.2f}" for k, v in full.timings.items()))
    table.add_row("incremental", f"{inc_s:.2f}", f"{len(inc.changed_xref):,} ({inc.rounds} rounds; {inc.pairs_compared:,} "
                  f"pairs compared, {inc.pairs_recalled:,} recalled; {inc.reblocked:,} re-blocked)",
                  ", ".join(f"{k} {v:.2f}" for k, v in inc.timings.items()))
    console.print(table)
    console.print(f"incremental / full = {inc_s / full_s:.1%}  (target < 10%)")
    console.print(f"partitions identical: {partition_equal(inc.xref, full.xref)}")


if __name__ == "__main__":
    main()

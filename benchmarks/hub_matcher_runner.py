"""The hub's matcher alone (identity_resolution.resolve) on a standardised staging Parquet.

Run: /work/venv/bin/python benchmarks/hub_matcher_runner.py STAGED.parquet OUT.parquet [--timings T.json]
The matcher-vs-matcher half of splink_compare.py: the same staged input Splink reads, no
standardising, default ResolverConfig (trains its model from the data like `hub resolve`).
"""
from __future__ import annotations

import argparse
import json
import time

import pandas as pd

from identity_resolution import ResolverConfig, resolve
from identity_resolution.resolver import RESOLVER_COLUMNS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("staged")
    ap.add_argument("out")
    ap.add_argument("--timings")
    args = ap.parse_args()
    start = time.perf_counter()
    staged = pd.read_parquet(args.staged, columns=RESOLVER_COLUMNS + ["is_deleted"])
    timings = {"read": round(time.perf_counter() - start, 2)}
    result = resolve(staged, ResolverConfig())
    timings.update(result.timings)
    t = time.perf_counter()
    result.xref.to_parquet(args.out, index=False)
    timings["write"] = round(time.perf_counter() - t, 2)
    if args.timings:
        with open(args.timings, "w") as f:
            json.dump(timings, f)


if __name__ == "__main__":
    main()

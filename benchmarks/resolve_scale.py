"""`hub resolve` end to end on the project's generator: time per stage, peak memory, quality.

Run: /work/venv/bin/python benchmarks/resolve_scale.py [--people 700000] [--seed 7]
About 1.43 records per person, so 700,000 people give ~1,000,000 records across five silos.
The input is generated once into benchmarks/out/ (reused on later runs); `hub resolve` runs in a
child process so its peak resident memory is measured on its own (resource.getrusage).
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

OUT = Path(__file__).resolve().parent / "out"
console = Console()


def generate(people: int, seed: int) -> tuple[Path, Path]:
    records_path = OUT / f"scale_{people}_{seed}_records.parquet"
    truth_path = OUT / f"scale_{people}_{seed}_truth.parquet"
    if records_path.exists() and truth_path.exists():
        return records_path, truth_path
    from hub.demo.generator import generate_canonical

    OUT.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    records, truth = generate_canonical(people, seed)
    for column in records.columns:  # canonical raw values are text; keep Parquet types simple
        if records[column].dtype == object:
            records[column] = records[column].astype("string")
    records.to_parquet(records_path, index=False)
    truth.astype("string").to_parquet(truth_path, index=False)
    console.print(f"generated {len(records):,} records for {people:,} people in {time.perf_counter() - start:.1f}s")
    return records_path, truth_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--people", type=int, default=700_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threshold", type=float, default=None)
    args = ap.parse_args()
    records_path, truth_path = generate(args.people, args.seed)
    out = OUT / f"scale_{args.people}_{args.seed}_xref.parquet"
    cmd = [sys.executable, "-m", "hub.cli", "resolve", str(records_path), "--out", str(out),
           "--save-model", str(OUT / f"scale_{args.people}_{args.seed}_model.json")]
    if args.threshold is not None:
        cmd += ["--threshold", str(args.threshold)]
    env = {**os.environ, "HUB_HASH_KEY": os.environ.get("HUB_HASH_KEY", "benchmark-key"), "COLUMNS": "120"}
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"hub resolve failed with exit code {proc.returncode}")
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2  # KiB on Linux
    from identity_resolution import evaluate

    metrics = evaluate(pd.read_parquet(out), pd.read_parquet(truth_path))
    table = Table(title=f"hub resolve on {metrics['records']:,} generated records ({args.people:,} people)")
    for col in ["seconds", "peak GiB", "pair P", "pair R", "pair F1", "B3 P", "B3 R", "B3 F1"]:
        table.add_column(col, justify="right")
    table.add_row(f"{elapsed:.1f}", f"{peak_gib:.2f}", f"{metrics['pairwise_precision']:.4f}",
                  f"{metrics['pairwise_recall']:.4f}", f"{metrics['pairwise_f1']:.4f}", f"{metrics['bcubed_precision']:.4f}",
                  f"{metrics['bcubed_recall']:.4f}", f"{metrics['bcubed_f1']:.4f}")
    console.print(table)


if __name__ == "__main__":
    main()

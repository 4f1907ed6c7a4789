"""The hub's matcher against Splink 5 (DuckDB backend) on the same generated input, same run.

Run: /work/venv/bin/python benchmarks/splink_compare.py [--people 100000] [--seed 7] [--timeout 1800]
         [--splink-configs baseline tuned]
Needs a separate venv with Splink (a benchmark comparison only, never a hub dependency):
    python3 -m venv /work/splinkvenv && /work/splinkvenv/bin/pip install splink

Steps, each timed:
1. input: `hub.demo.generator.generate_canonical(people)` (reused from benchmarks/out/ when present);
2. standardise once with `identity_resolution.standardise_records` into a staging Parquet that both
   matchers read, so the comparison is matcher against matcher;
3. child processes, one after another, each with its own wall time and peak memory: the sampled sum
   over the child and the workers it forks (tree_memory.py, PSS), or the child's own peak resident
   memory (os.wait4 rusage) where that is larger (a peak shorter than the sampling interval):
   - `hub resolve` end to end on the raw input (standardising included),
   - the hub matcher alone on the staged Parquet (benchmarks/hub_matcher_runner.py),
   - Splink on the staged Parquet (benchmarks/splink_runner.py in the Splink venv), once per
     configuration in --splink-configs (default both: "baseline", stock comparisons; "tuned", tuned
     at 100k people; see splink_runner.py), each killed past --timeout;
4. every output is scored with `identity_resolution.evaluate` against the generator's truth. A
   "<config> / this" column is that Splink run's seconds over the row's (above 1.00x: the row is faster).
The 1-minute load average is printed before and after each child (other jobs share the machine).
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from resolve_scale import OUT, generate  # same input files as the scale benchmark
from tree_memory import PeakTreeMemory

HERE = Path(__file__).resolve().parent
SPLINK_PYTHON = Path(os.environ.get("SPLINK_PYTHON", "/work/splinkvenv/bin/python"))
SPLINK_CONFIGS = ("baseline", "tuned")  # splink_runner.CONFIGS (that module imports Splink: not importable here)
console = Console(width=240)  # the figures table is pasted into docs; never wrap it


@dataclass
class Run:
    tool: str
    seconds: float | None = None
    peak_gib: float | None = None
    status: str = "ok"
    load_before: float = 0.0
    load_after: float = 0.0
    metrics: dict = field(default_factory=dict)
    stages: dict = field(default_factory=dict)
    splink_config: str | None = None  # the splink_runner.py --config of a Splink run


def load1() -> float:
    return os.getloadavg()[0]


def run_child(tool: str, cmd: list[str], timeout: float | None, env: dict | None = None) -> Run:
    """Start `cmd`, wait for it (killing it past `timeout`); its peak memory with its forked workers."""
    run = Run(tool, load_before=load1())
    console.print(f"[bold]{tool}[/]: {' '.join(cmd)}")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    memory = PeakTreeMemory(proc.pid)
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if timeout is not None and time.perf_counter() - start > timeout:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: the child and anything it started
            pid, status, usage = os.wait4(proc.pid, 0)
            run.status = f"did not finish in {timeout:.0f}s"
            break
        time.sleep(0.2)
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped; keep Popen from waiting again
    run.seconds = time.perf_counter() - start
    run.peak_gib = max(memory.stop(), usage.ru_maxrss / 1024**2)  # ru_maxrss in KiB on Linux
    run.load_after = load1()
    if run.status == "ok" and proc.returncode != 0:
        run.status = f"failed (exit {proc.returncode})"
    return run


def standardise(records_path: Path, staged_path: Path) -> float:
    """One staging Parquet for both matchers; returns the seconds standardising took."""
    from identity_resolution import standardise_records

    raw = pd.read_parquet(records_path)
    start = time.perf_counter()
    staged = standardise_records(raw)
    seconds = time.perf_counter() - start
    staged.to_parquet(staged_path, index=False)
    console.print(f"standardised {len(staged):,} records in {seconds:.1f}s -> {staged_path.name}")
    return seconds


def score(run: Run, predicted_path: Path, id_column: str, truth: pd.DataFrame) -> None:
    from identity_resolution import evaluate

    if run.status != "ok":
        return
    predicted = pd.read_parquet(predicted_path).rename(columns={id_column: "customer_id"})
    run.metrics = evaluate(predicted, truth)


def read_stages(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def ratio(splink: Run, run: Run) -> float | None:
    """Splink's seconds over the run's: above 1 the run is faster than that Splink configuration."""
    if splink.status == "ok" and run.status == "ok" and run.seconds:
        return splink.seconds / run.seconds
    return None


def print_table(runs: list[Run], people: int, records: int, standardise_seconds: float) -> None:
    table = Table(title=f"Hub vs Splink on {records:,} generated records ({people:,} people, 5 silos)")
    splinks = [r for r in runs if r.splink_config]
    for col in ["tool", "records", "seconds", "peak GiB", "pair P", "pair R", "pair F1", "B3 F1",
                *(f"{r.splink_config} / this" for r in splinks), "load 1m before/after", "status"]:
        table.add_column(col, justify="left" if col in ("tool", "status") else "right")
    for run in runs:
        m = run.metrics
        ratios = [ratio(splink, run) for splink in splinks]
        table.add_row(run.tool, f"{m.get('records', records):,}", fmt(run.seconds, ".1f"), fmt(run.peak_gib, ".2f"),
                      fmt(m.get("pairwise_precision"), ".4f"), fmt(m.get("pairwise_recall"), ".4f"),
                      fmt(m.get("pairwise_f1"), ".4f"), fmt(m.get("bcubed_f1"), ".4f"),
                      *("-" if r is None else f"{r:.2f}x" for r in ratios),
                      f"{run.load_before:.2f}/{run.load_after:.2f}", run.status)
    console.print(table)
    console.print(f"standardise_records (shared input, in this process): {standardise_seconds:.1f}s")
    for run in runs:
        if run.stages:
            console.print(f"{run.tool} stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in run.stages.items()))


def run_splink(config: str, staged_path: Path, stem: str, timeout: float, env: dict, truth: pd.DataFrame) -> Run:
    """One Splink configuration on the staged input, as its own child process, scored."""
    out, stages = OUT / f"{stem}_splink_{config}_clusters.parquet", OUT / f"{stem}_splink_{config}_stages.json"
    stages.unlink(missing_ok=True)
    run = run_child(f"splink 5 duckdb ({config})",
                    [str(SPLINK_PYTHON), str(HERE / "splink_runner.py"), str(staged_path), str(out),
                     "--config", config, "--timings", str(stages)], timeout, env)
    run.splink_config = config
    score(run, out, "cluster_id", truth)
    run.stages = read_stages(stages)
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds before Splink is killed")
    ap.add_argument("--skip-end-to-end", action="store_true", help="skip `hub resolve` on the raw input")
    ap.add_argument("--splink-configs", nargs="+", choices=SPLINK_CONFIGS, default=list(SPLINK_CONFIGS),
                    help="splink_runner.py configurations to run, each its own row (default: both)")
    args = ap.parse_args()
    if not SPLINK_PYTHON.exists():
        raise SystemExit(f"{SPLINK_PYTHON}: no Splink venv; create it as the module docstring says (or set SPLINK_PYTHON)")
    os.environ.setdefault("HUB_HASH_KEY", "benchmark-key")  # national ids are hashed while standardising
    records_path, truth_path = generate(args.people, args.seed)
    stem = f"splink_{args.people}_{args.seed}"
    staged_path = OUT / f"{stem}_staged.parquet"
    standardise_seconds = standardise(records_path, staged_path)
    truth = pd.read_parquet(truth_path)
    runs: list[Run] = []
    env = {**os.environ, "COLUMNS": "120"}

    if not args.skip_end_to_end:
        out = OUT / f"{stem}_hub_resolve_xref.parquet"
        run = run_child("hub resolve (raw, end to end)",
                        [sys.executable, "-m", "hub.cli", "resolve", str(records_path), "--out", str(out)], None, env)
        score(run, out, "customer_id", truth)
        runs.append(run)

    out, stages = OUT / f"{stem}_hub_matcher_xref.parquet", OUT / f"{stem}_hub_matcher_stages.json"
    stages.unlink(missing_ok=True)
    run = run_child("hub matcher (staged)", [sys.executable, str(HERE / "hub_matcher_runner.py"), str(staged_path),
                                             str(out), "--timings", str(stages)], None, env)
    score(run, out, "customer_id", truth)
    run.stages = read_stages(stages)
    runs.append(run)

    for config in args.splink_configs:
        runs.append(run_splink(config, staged_path, stem, args.timeout, env, truth))

    print_table(runs, args.people, len(truth), standardise_seconds)


if __name__ == "__main__":
    main()

"""Time `generate_canonical` (the demo population as canonical raw records) at benchmark sizes.

Usage: python benchmarks/generate.py [N_PEOPLE ...]   (default: 100000 1000000)
Prints people, records, wall and CPU seconds (wall grows on a busy machine; CPU does not) and
peak resident memory for each size.
"""
from __future__ import annotations

import resource
import sys
import time

from rich.console import Console
from rich.table import Table

from hub.demo.generator import generate_canonical


def main(sizes: list[int]) -> None:
    table = Table(title="generate_canonical")
    for col in ("people", "records", "records/person", "wall s", "CPU s", "peak RSS (MiB)"):
        table.add_column(col, justify="right")
    for n in sizes:
        start, cpu_start = time.perf_counter(), time.process_time()
        records, truth = generate_canonical(n, seed=7)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        table.add_row(f"{n:,}", f"{len(records):,}", f"{len(records) / n:.2f}", f"{elapsed:.1f}", f"{cpu:.1f}", f"{peak_mib:,.0f}")
        del records, truth
    Console().print(table)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100_000, 1_000_000])

"""Parallel work for the stages that hold the GIL (standardising a million records, comparing
sixteen million candidate pairs).

The standardisers spend most of their time in Python (regexes, name parsing, pandas string methods
over objects) and the comparison in numpy and pandas calls that each hold the GIL between short
rapidfuzz runs: threads do not help, processes do. The work is split into contiguous spans (rows,
or candidate pairs); this process works on the first while forked workers take the others (fork:
they inherit the frame and the pair arrays, so only results travel back, pickled). Where fork is
unavailable, or the work is small, everything runs here.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

import numpy as np
import pandas as pd

PARALLEL_FROM = 200_000  # rows; below this a fork and a pickled result cost more than they save
PAIRS_PARALLEL_FROM = 1_000_000  # candidate pairs: comparing one costs far less than standardising a record
_JOB: Callable[[int, int], pd.DataFrame] | None = None  # what forked workers see


def worker_count(rows: int, workers: int | None = None, parallel_from: int | None = None) -> int:
    """Processes for `rows` rows (or pairs): HUB_WORKERS (default: the CPU count), one below
    `parallel_from` (default PARALLEL_FROM)."""
    parallel_from = PARALLEL_FROM if parallel_from is None else parallel_from
    if workers is None:
        setting = os.environ.get("HUB_WORKERS", "").strip()
        if setting and not setting.isdigit():
            raise ValueError(f"HUB_WORKERS must be a whole number of processes, got {setting!r}")
        workers = int(setting) if setting else (os.cpu_count() or 1)
    if rows < parallel_from or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(workers, rows // (parallel_from // 2)))


def in_row_chunks(df: pd.DataFrame, fn: Callable[..., pd.DataFrame], workers: int, **kwargs) -> pd.DataFrame:
    """fn(chunk, **kwargs) over `workers` contiguous row chunks, concatenated in order (fresh index).
    fn must return one frame per chunk with the same columns whatever the chunk holds."""
    return in_spans(len(df), lambda start, stop: fn(df.iloc[start:stop], **kwargs), workers)


def in_spans(n: int, fn: Callable[[int, int], pd.DataFrame], workers: int) -> pd.DataFrame:
    """fn(start, stop) over `workers` contiguous spans of range(n), concatenated in order (fresh index).
    fn must return one frame per span with the same columns whatever the span holds."""
    if workers <= 1:
        return fn(0, n).reset_index(drop=True)
    global _JOB
    bounds = np.linspace(0, n, workers + 1).astype(int)
    spans = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
    _JOB = fn
    try:
        with ProcessPoolExecutor(max_workers=workers - 1, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(_run_span, span) for span in spans[1:]]
            parts = [_run_span(spans[0])] + [f.result() for f in futures]
    finally:
        _JOB = None
    return pd.concat(parts, ignore_index=True)


def _run_span(span: tuple[int, int]) -> pd.DataFrame:
    return _JOB(*span).reset_index(drop=True)

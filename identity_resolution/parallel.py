"""Row-parallel work for the per-value Python stages (standardising a million records).

The standardisers spend most of their time in Python (regexes, name parsing, pandas string methods
over objects), which holds the GIL: threads do not help, processes do. The frame is split into
contiguous row chunks; this process works on the first while forked workers take the others (fork:
they inherit the frame, so only results travel back, pickled). Where fork is unavailable, or the
frame is small, everything runs here.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

import numpy as np
import pandas as pd

PARALLEL_FROM = 200_000  # rows; below this a fork and a pickled result cost more than they save
_JOB: tuple[pd.DataFrame, Callable[..., pd.DataFrame], dict] | None = None  # what forked workers see


def worker_count(rows: int, workers: int | None = None) -> int:
    """Processes for `rows` rows: HUB_WORKERS (default: the CPU count), one for small frames."""
    if workers is None:
        setting = os.environ.get("HUB_WORKERS", "").strip()
        if setting and not setting.isdigit():
            raise ValueError(f"HUB_WORKERS must be a whole number of processes, got {setting!r}")
        workers = int(setting) if setting else (os.cpu_count() or 1)
    if rows < PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(workers, rows // (PARALLEL_FROM // 2)))


def in_row_chunks(df: pd.DataFrame, fn: Callable[..., pd.DataFrame], workers: int, **kwargs) -> pd.DataFrame:
    """fn(chunk, **kwargs) over `workers` contiguous row chunks, concatenated in order (fresh index).
    fn must return one frame per chunk with the same columns whatever the chunk holds."""
    if workers <= 1:
        return fn(df, **kwargs).reset_index(drop=True)
    global _JOB
    bounds = np.linspace(0, len(df), workers + 1).astype(int)
    spans = list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))
    _JOB = (df, fn, kwargs)
    try:
        with ProcessPoolExecutor(max_workers=workers - 1, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = [pool.submit(_run_span, span) for span in spans[1:]]
            parts = [_run_span(spans[0])] + [f.result() for f in futures]
    finally:
        _JOB = None
    return pd.concat(parts, ignore_index=True)


def _run_span(span: tuple[int, int]) -> pd.DataFrame:
    df, fn, kwargs = _JOB
    start, stop = span
    return fn(df.iloc[start:stop], **kwargs).reset_index(drop=True)

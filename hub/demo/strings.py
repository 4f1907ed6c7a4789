"""Fast string building for millions of rows.

Numbers become text through cached lookup tables (an array take, not a Python loop), and
string functions of names run once per distinct value, not once per row.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

MONTH_ABBR = np.array(["", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
                      dtype=object)


@lru_cache(maxsize=None)
def _table(width: int) -> np.ndarray:
    """All numbers 0 .. 10**width - 1 as zero-padded strings (width 0: unpadded 0..9999)."""
    if width == 0:
        return np.arange(10_000).astype(str).astype(object)
    return np.char.zfill(np.arange(10 ** width).astype(str), width).astype(object)


def padded(numbers: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers below 10**width as zero-padded text (width 0: no padding, < 10,000)."""
    return _table(width)[np.asarray(numbers, dtype=np.int64)]


def zero_padded(numbers: np.ndarray, width: int) -> np.ndarray:
    """Non-negative integers as zero-padded text of any width, built from 4-digit table chunks."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if width <= 4:
        return padded(numbers, width)
    return zero_padded(numbers // 10_000, width - 4) + padded(numbers % 10_000, 4)


def occurrence(values: np.ndarray) -> np.ndarray:
    """0 for the first occurrence of each value, 1 for the second, ... (order of appearance)."""
    codes, _ = pd.factorize(np.asarray(values, dtype=object))
    if len(codes) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.concatenate([[True], sorted_codes[1:] != sorted_codes[:-1]])
    first_pos = np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))
    nth = np.empty(len(order), dtype=np.int64)
    nth[order] = np.arange(len(order)) - first_pos
    return nth


def number_text(numbers: np.ndarray) -> np.ndarray:
    """Non-negative integers as unpadded text, through the lookup table when they fit."""
    numbers = np.asarray(numbers, dtype=np.int64)
    if len(numbers) and numbers.max() >= 10_000:
        return numbers.astype(str).astype(object)
    return padded(numbers, 0)


def per_unique(values: np.ndarray, fn) -> np.ndarray:
    """Apply a vectorised `fn(array) -> array` to the distinct values only, then broadcast back.

    Missing values stay missing. Names repeat a lot (a few thousand distinct among millions),
    so this turns row work into pool work.
    """
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
    mapped = np.asarray(fn(np.asarray(uniques, dtype=object)), dtype=object)
    out = np.append(mapped, None)[codes]  # code -1 (missing) picks the trailing None
    return out


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) integer arrays from datetime64 values."""
    d = np.asarray(days).astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (d - months.astype("datetime64[D]")).astype(np.int64) + 1
    return year, month, day


def iso_dates(days: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(np.asarray(days).astype("datetime64[D]")).astype(object)

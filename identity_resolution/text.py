"""Small text helpers shared by the standardisers: accent folding, junk detection, per-distinct mapping."""
from __future__ import annotations

import re
from typing import Callable

import numpy as np
import pandas as pd
from unidecode import unidecode

# Placeholder words people type when a field is required but unknown.
JUNK_WORDS = frozenset(
    {
        "", "null", "none", "nil", "n/a", "na", "n.a.", "nan", "unknown", "unk", "test", "testing",
        "xxx", "xx", "x", "-", "--", "?", "??", ".", "tbd", "tba", "not available", "not known",
        "no name", "noname", "no", "blank", "empty", "missing", "default", "dummy", "refused",
        "declined", "asdf", "qwerty",
    }
)

_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Accents folded to ASCII, whitespace collapsed, trimmed (case kept)."""
    if not text.isascii():  # unidecode walks every character in Python; most text is plain ASCII
        text = unidecode(text)
    return _SPACES.sub(" ", text).strip()


def is_junk_text(text: str | None) -> bool:
    """True when a value carries no information (placeholder words, only punctuation)."""
    if text is None:
        return True
    lowered = text.strip().lower()
    if lowered in JUNK_WORDS:
        return True
    return not any(ch.isalnum() for ch in lowered)


def is_repeated_digits(digits: str) -> bool:
    """'0000000', '1111111111', '123456789': digit strings nobody really owns."""
    if not digits:
        return True
    if len(set(digits)) == 1:
        return True
    return digits in "01234567890123456789" or digits in "98765432109876543210"


def as_str_series(series: pd.Series) -> pd.Series:
    """Object series of stripped strings, with NaN/None/empty as None (dates and numbers made text)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        out = series.dt.strftime("%Y-%m-%d").astype("object")
    elif pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
        return _stripped_strings(series)
    else:
        s = series.astype("object")
        mask = s.notna()
        out = pd.Series(None, index=s.index, dtype="object")
        if mask.any():
            out[mask] = s[mask].map(_to_text)
    out = out.where(out.notna() & (out != ""), None)
    return out


def _stripped_strings(series: pd.Series) -> pd.Series:
    """Every string stripped, missing and empty as None: a plain loop, several times faster than
    .str.strip() and the where() calls around it over a million-row object column."""
    present = series.notna().to_numpy()
    values = series.to_numpy(dtype=object)
    out = np.full(len(values), None, dtype=object)
    out[present] = [v.strip() or None for v in values[present]]
    return pd.Series(out, index=series.index, name=series.name, dtype="object")


def _to_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "strftime") and not isinstance(value, str):
        try:
            return value.strftime("%Y-%m-%d")
        except ValueError:
            return str(value)
    return str(value).strip()


def without_float_tail(text: pd.Series) -> pd.Series:
    """'4158291234.0' -> '4158291234': a number a spreadsheet stored as a float, then exported as text
    (typed float columns are handled by as_str_series)."""
    if not isinstance(text.dtype, pd.StringDtype):
        return text.str.replace(r"^(\+?\d+)\.0+$", r"\1", regex=True)
    # a replacement with a group reference runs in Python per value: only values holding '.0' can
    # change, and a plain substring test (in C++ for arrow strings) finds those few
    maybe = text.str.contains(".0", regex=False).fillna(False).to_numpy(dtype=bool)
    out = text.copy()
    if maybe.any():
        out[maybe] = text[maybe].str.replace(r"^(\+?\d+)\.0+$", r"\1", regex=True).to_numpy()
    return out


def map_distinct(series: pd.Series, fn: Callable[[str], object]) -> pd.Series:
    """Apply `fn` once per distinct non-null value and broadcast back (the hot paths repeat a lot)."""
    mask = series.notna()
    out = pd.Series(None, index=series.index, dtype="object")
    if not mask.any():
        return out
    codes, uniques = pd.factorize(series[mask], sort=False)
    mapped = np.empty(len(uniques), dtype="object")
    for i, value in enumerate(uniques):
        mapped[i] = fn(value)
    out[mask] = mapped[codes]
    return out

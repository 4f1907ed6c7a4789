"""Vectorised string noise: keyboard typos and accent stripping over whole arrays.

Strings are laid out as a fixed-width code-point matrix (NumPy `<U` view as uint32), so one
insert/delete/substitute/transpose per string is a handful of array operations, not a Python loop.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from unidecode import unidecode

# Neighbouring keys on a QWERTY keyboard: real typos hit the key next door.
_QWERTY_ROWS = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]


def _neighbour_table() -> np.ndarray:
    """For each lower-case letter a-z, a 4-slot array of neighbouring letters (repeated to fill)."""
    pos = {c: (r, i) for r, row in enumerate(_QWERTY_ROWS) for i, c in enumerate(row)}
    table = np.zeros((26, 4), dtype=np.uint32)
    for c, (r, i) in pos.items():
        near = [row[j] for rr, row in enumerate(_QWERTY_ROWS) if abs(rr - r) <= 1
                for j in (i - 1, i, i + 1) if 0 <= j < len(row) and row[j] != c and (rr == r or j == i)]
        near = (near * 4)[:4]
        table[ord(c) - 97] = [ord(x) for x in near]
    return table


_NEIGHBOURS = _neighbour_table()


def _near_key(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A neighbouring key for each code point (keeps case); non-letters get a random letter."""
    lower = np.where((codes >= 65) & (codes <= 90), codes + 32, codes)
    is_letter = (lower >= 97) & (lower <= 122)
    slot = rng.integers(0, 4, len(codes))
    near = np.where(is_letter, _NEIGHBOURS[np.clip(lower - 97, 0, 25), slot],
                    rng.integers(97, 123, len(codes)))
    was_upper = (codes >= 65) & (codes <= 90)
    return np.where(was_upper, near - 32, near).astype(np.uint32)


def typo(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random keyboard edit (insert, delete, substitute, transpose) in each string.

    Strings shorter than 3 characters are returned unchanged (a typo would erase them).
    """
    values = np.asarray(values, dtype=object)
    n = len(values)
    if n == 0:
        return values.copy()
    text = values.astype(str)
    width = max(int(np.char.str_len(text).max()), 1) + 1
    fixed = text.astype(f"<U{width}")
    m = fixed.view(np.uint32).reshape(n, width).copy()
    lens = np.char.str_len(fixed)
    op = rng.integers(0, 4, n)
    pos = np.minimum((rng.random(n) * np.maximum(lens - 1, 1)).astype(int), np.maximum(lens - 2, 0))
    rows = np.arange(n)
    cols = np.arange(width)[None, :]
    new_char = _near_key(m[rows, pos], rng)
    padded = np.concatenate([m, np.zeros((n, 1), dtype=np.uint32)], axis=1)

    out = m.copy()
    sub = op == 0
    out[rows[sub], pos[sub]] = new_char[sub]
    dele = op == 1
    src = np.where(cols >= pos[:, None], cols + 1, cols)
    out[dele] = np.take_along_axis(padded, src, axis=1)[dele]
    ins = op == 2
    src = np.where(cols > pos[:, None], cols - 1, cols)
    shifted = np.take_along_axis(m, src, axis=1)
    shifted[rows, np.minimum(pos + 1, width - 1)] = new_char
    out[ins] = shifted[ins]
    tra = op == 3
    a, b = m[rows, pos], m[rows, np.minimum(pos + 1, width - 1)]
    out[rows[tra], pos[tra]] = b[tra]
    out[rows[tra], np.minimum(pos + 1, width - 1)[tra]] = a[tra]

    result = out.view(f"<U{width}").ravel().astype(object)
    keep = (lens < 3) | pd.isna(values)
    result[keep] = values[keep]
    return result


def strip_accents(values: np.ndarray) -> np.ndarray:
    """ASCII-fold each string (García -> Garcia); unidecode runs once per distinct value."""
    s = pd.Series(values, dtype=object)
    uniques = s.dropna().unique()
    folded = {u: unidecode(u) for u in uniques}
    out = s.map(folded).to_numpy(dtype=object)
    out[s.isna().to_numpy()] = None
    return out


def apply_where(values: np.ndarray, mask: np.ndarray, fn, *args) -> np.ndarray:
    """Return a copy of `values` with `fn` applied to the masked subset only."""
    out = np.asarray(values, dtype=object).copy()
    if mask.any():
        out[mask] = fn(out[mask], *args)
    return out


def digit_slip(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Change one digit in each string ('217-555-0134' -> '217-555-0184'); other characters kept."""
    values = np.asarray(values, dtype=object)
    n = len(values)
    if n == 0:
        return values.copy()
    text = values.astype(str)
    width = max(int(np.char.str_len(text).max()), 1)
    m = text.astype(f"<U{width}").view(np.uint32).reshape(n, width).copy()
    is_digit = (m >= 48) & (m <= 57)
    # Pick a random digit position per row: random scores, non-digits scored below any digit.
    pos = np.argmax(np.where(is_digit, rng.random((n, width)), -1.0), axis=1)
    rows = np.arange(n)
    m[rows, pos] = 48 + (m[rows, pos] - 48 + rng.integers(1, 10, n)) % 10
    result = m.view(f"<U{width}").ravel().astype(object)
    keep = ~is_digit.any(axis=1) | pd.isna(values)
    result[keep] = values[keep]
    return result

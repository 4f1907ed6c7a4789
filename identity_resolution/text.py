"""Small text helpers shared by the standardisers: accent folding, junk detection, per-distinct mapping."""
from __future__ import annotations

import re
import unicodedata
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
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
    """'4158291234.0' -> '4158291234', '4.155552671E+09' -> '4155552671': a number a spreadsheet
    stored as a float, then exported as text (typed float columns are handled by as_str_series)."""
    if not isinstance(text.dtype, pd.StringDtype):
        text = text.astype("string")
    # only values holding '.0' or an exponent can change, and a substring test (in C++ for arrow
    # strings) finds those few; each of them is then read in Python
    maybe = (text.str.contains(".0", regex=False) | text.str.contains("E+", case=False, regex=False)).fillna(False)
    maybe = maybe.to_numpy(dtype=bool)
    out = text.copy()
    if maybe.any():
        out[maybe] = np.array([spreadsheet_number(v) for v in text[maybe].tolist()], dtype=object)
    return out


_FLOAT_TAIL = re.compile(r"(\+?\d+)\.0+")
_SCIENTIFIC = re.compile(r"(\d)(?:\.(\d+))?[eE]\+(\d{1,2})")


def spreadsheet_number(value: str) -> str:
    """The whole number a spreadsheet wrote as a float ('4158291234.0', '4.155552671E+09'), else the
    value as it is: '4.16E+09' too, whose last digits the spreadsheet dropped (no number is made up)."""
    tail = _FLOAT_TAIL.fullmatch(value)
    if tail:
        return tail.group(1)
    sci = _SCIENTIFIC.fullmatch(value)
    if sci:
        digits, exponent = sci.group(1) + (sci.group(2) or ""), int(sci.group(3))
        if len(digits) >= exponent + 1 and not digits[exponent + 1:].strip("0"):
            return digits[:exponent + 1]
    return value


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


_LETTER_RUN = re.compile(r"[^\W\d_]+")  # a word's letters, any script
_ASCII_LETTER_RUN = re.compile(r"[A-Za-z]+")


def without_marks(text: str) -> str:
    """Accent marks taken off their letters ('García' -> 'Garcia'); letters that are no ASCII letter
    with a mark stay ('Straße', 'Łódź'). DuckDB's strip_accents does the same."""
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


def with_accents_of(clean: str, raw: str) -> str:
    """`clean`, a value the standardiser folded to ASCII, with each word as `raw` wrote it where only
    accent marks tell the two apart ('Jose Garcia' from 'GARCÍA, José' is 'José García'): the letters
    as typed, the case as cleaned. Words folded otherwise ('ß' to 'ss', Cyrillic to Latin) stay
    folded, so taking the marks off the result always gives `clean` back: the match keys do that."""
    accented: dict[str, str] = {}
    for word in _LETTER_RUN.findall(unicodedata.normalize("NFC", raw)):
        if not word.isascii():
            plain, written = without_marks(word), word.lower()
            if plain.isascii() and len(written) == len(plain):  # 'İ' lower-cases to two characters
                accented.setdefault(plain.lower(), written)
    if not accented:
        return clean
    return _ASCII_LETTER_RUN.sub(lambda m: _cased_like(accented.get(m.group().lower()), m.group()), clean)


def _cased_like(written: str | None, like: str) -> str:
    if written is None:
        return like
    return "".join(w.upper() if c.isupper() else w for w, c in zip(written, like))


def accents_restored(cleans: list[pd.Series], *raw: pd.Series) -> list[pd.Series]:
    """`with_accents_of` for each of the `cleans` columns, per record with its raw values joined as
    `raw`; only records whose raw values hold a letter outside ASCII are read (once per distinct
    pair), every other value is returned as is."""
    rows = _any_non_ascii(*raw)
    if not rows.any():
        return cleans
    raw_text = np.array([" ".join(v for v in values if isinstance(v, str))
                         for values in zip(*(part.to_numpy(dtype=object)[rows] for part in raw))], dtype=object)
    return [_restored(clean, rows, raw_text) for clean in cleans]


def _restored(clean: pd.Series, rows: np.ndarray, raw_text: np.ndarray) -> pd.Series:
    values = clean.to_numpy(dtype=object)[rows]
    present = pd.notna(values)
    keys = pd.Series([v + "\x1f" + r for v, r in zip(values[present], raw_text[present])], dtype=object)
    out = clean.astype(object).copy()
    out.iloc[np.flatnonzero(rows)[present]] = map_distinct(keys, lambda k: with_accents_of(*k.split("\x1f", 1))).to_numpy()
    return out


def _any_non_ascii(*columns: pd.Series) -> np.ndarray:
    """Per row: does any of the columns (text or None) hold a character outside ASCII? Tested by
    Arrow's kernel: a Python test per value cost a second per million names."""
    found = np.zeros(len(columns[0]), dtype=bool)
    for column in columns:
        text = pa.array(column.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        found |= ~pc.fill_null(pc.string_is_ascii(text), True).to_numpy(zero_copy_only=False)
    return found

"""Birth dates from mixed formats: vectorised for the common shapes, dateutil for the rest (with the
month names of the usual European languages)."""
from __future__ import annotations

import datetime as dt
from functools import partial

import numpy as np
import pandas as pd
from dateutil import parser as dateutil_parser

from identity_resolution.text import map_distinct

# Shapes tried in order; the first that parses a value wins. US month-first before day-first.
_FORMATS = [
    (r"^\d{4}-\d{1,2}-\d{1,2}$", "%Y-%m-%d"),
    (r"^\d{4}-\d{1,2}-\d{1,2}[ T]", None),
    (r"^\d{8}$", "%Y%m%d"),
    (r"^\d{1,2}/\d{1,2}/\d{4}$", "%m/%d/%Y"),
    (r"^\d{1,2}/\d{1,2}/\d{4}$", "%d/%m/%Y"),
    (r"^\d{1,2}-\d{1,2}-\d{4}$", "%m-%d-%Y"),
    (r"^\d{1,2}\.\d{1,2}\.\d{4}$", "%d.%m.%Y"),
    (r"^\d{1,2}\.\d{1,2}\.\d{2}$", "%d.%m.%y"),  # dots are written day first wherever they are used
    (r"^\d{4}/\d{1,2}/\d{1,2}$", "%Y/%m/%d"),
    (r"^\d{1,2} [A-Za-z]{3,} \d{4}$", "%d %b %Y"),
    (r"^\d{1,2} [A-Za-z]{3,} \d{4}$", "%d %B %Y"),
    (r"^[A-Za-z]{3,} \d{1,2},? \d{4}$", "%b %d %Y"),
    (r"^[A-Za-z]{3,} \d{1,2},? \d{4}$", "%B %d %Y"),
]
_MIN = pd.Timestamp("1900-01-02")
_SPREADSHEET_EPOCH = pd.Timestamp("1899-12-30")  # day 0 of Excel's and LibreOffice's date numbers
_PLACEHOLDERS = {pd.Timestamp("1900-01-01"), pd.Timestamp("1901-01-01"), pd.Timestamp("1970-01-01"), pd.Timestamp("9999-12-31")}


# Where 03/05/1980 is the 3rd of May; elsewhere (the US and its territories, the Philippines,
# Canada by habit) month-first is read first.
MONTH_FIRST_REGIONS = frozenset({"US", "PR", "GU", "VI", "AS", "MP", "UM", "PH", "CA", "FM", "MH", "PW"})
_DAY_FIRST_FORMATS = [(p, {"%m/%d/%Y": "%d/%m/%Y", "%d/%m/%Y": "%m/%d/%Y", "%m-%d-%Y": "%d-%m-%Y"}.get(f, f))
                      for p, f in _FORMATS]


def reads_day_first(regions: pd.Series) -> np.ndarray:
    """Per record: does its country (or the default region) read '03/07/1984' day first?"""
    return ~regions.isin(MONTH_FIRST_REGIONS).to_numpy()


_TIME_OF_DAY = r"\s+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*[AaPp]\.?[Mm]\.?)?$"


def _without_time(text: pd.Series) -> pd.Series:
    """A birth date exported from a date-time column keeps its time ('3/7/1984 0:00:00', '07.03.1984
    00:00', 'March 7 1984 12:00 AM'): the time says nothing of the date and hid its shape."""
    timed = text.str.contains(":", regex=False).fillna(False).to_numpy(dtype=bool)
    if not timed.any():
        return text
    out = text.copy()
    out[timed] = text[timed].str.replace(_TIME_OF_DAY, "", regex=True)
    return out


def parse_birth_dates(raw: pd.Series, today: dt.date | None = None, regions: pd.Series | None = None,
                      day_first: np.ndarray | None = None) -> pd.Series:
    """datetime64 series of plausible birth dates (NaT for junk, future or pre-1900 values).
    `regions` (ISO country per record, e.g. the record's country or the default region): ambiguous
    dd/mm vs mm/dd dates are read day-first outside `MONTH_FIRST_REGIONS` (month-first without it).
    `day_first` (per record, e.g. from its silo's habit, conventions.py) overrides `regions`."""
    text = _without_time(raw.astype("string").str.strip().str.replace(",", "", regex=False))
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if day_first is None:
        day_first = reads_day_first(regions) if regions is not None else np.zeros(len(raw), dtype=bool)
    groups = ((~day_first, _FORMATS, False), (day_first, _DAY_FIRST_FORMATS, True))
    for group, formats, _ in groups:
        if group.any():
            _parse_shapes(text, out, text.notna() & group, formats)
    # a date column a spreadsheet saved as numbers: days since 1899-12-30 ('30748' is 7 March 1984)
    serial = (text.str.fullmatch(r"\d{5}(?:\.0+)?").fillna(False) & out.isna()).to_numpy(dtype=bool)
    if serial.any():
        out[serial] = _SPREADSHEET_EPOCH + pd.to_timedelta(text[serial].astype(float), unit="D")
    for group, _, dayfirst in groups:  # the rest ('3/7/84', '7th March 1984') by dateutil, in the group's order
        todo = (text.notna() & out.isna()).to_numpy() & group
        if todo.any():
            reader = partial(_parse_any, dayfirst=dayfirst)
            out[todo] = pd.to_datetime(map_distinct(text[todo].astype("object"), reader), errors="coerce")
    limit = pd.Timestamp(today or dt.date.today())
    # a two-digit year read into the future ('01/02/65' -> 2065) is a birth year of the last century;
    # a four-digit one ('2030-01-01') is no birth date at all
    two_digit = (text.str.contains(r"(?:^|\D)\d{2}$", regex=True) & ~text.str.contains(r"\d{4}", regex=True)) \
        .fillna(False).to_numpy(dtype=bool)
    ahead = (out > limit).to_numpy(dtype=bool) & two_digit
    if ahead.any():
        out[ahead] = out[ahead] - pd.DateOffset(years=100)
    bad = (out < _MIN) | (out > limit) | out.isin(list(_PLACEHOLDERS))
    return out.where(~bad, pd.NaT)


def _parse_shapes(text: pd.Series, out: pd.Series, todo: pd.Series, formats: list) -> None:
    """Fill `out` for the `todo` values matching one of the shapes (first that parses wins)."""
    for pattern, fmt in formats:
        sel = todo & text.str.match(pattern).fillna(False)
        if not sel.any():
            continue
        if fmt is None:
            parsed = pd.to_datetime(text[sel].str[:10], format="%Y-%m-%d", errors="coerce")
        else:
            parsed = pd.to_datetime(text[sel], format=fmt, errors="coerce")
        ok = parsed.notna()
        out[ok[ok].index] = parsed[ok]
        todo &= out.isna()


# month names as German, French, Spanish, Italian, Dutch and Portuguese records write them, beside
# dateutil's English ones ('7. März 1984', '7 mars 1984', '7 de marzo de 1984'), with and without accents
_MONTH_NAMES = (
    "januar jänner janv janvier enero ene gennaio gen januari janeiro",
    "februar feb févr fevr février fevrier febrero febbraio februari fevereiro fev",
    "märz maerz marz mär mrz mars marzo mrt maart março marco",
    "avr avril abr abril aprile",
    "mai mayo maggio mag mei maio",
    "juni juin junio giugno giu junho",
    "juli juil juillet julio luglio lug julho",
    "aug août aout agosto ago augustus",
    "sept septembre septiembre setiembre settembre set setembro",
    "okt oktober octobre octubre ottobre ott outubro out",
    "novembre noviembre novembro",
    "dez dezember déc décembre decembre diciembre dic dicembre dezembro",
)


class _ParserInfo(dateutil_parser.parserinfo):
    MONTHS = [(*english, *more.split()) for english, more in zip(dateutil_parser.parserinfo.MONTHS, _MONTH_NAMES)]
    JUMP = [*dateutil_parser.parserinfo.JUMP, "de", "del", "le", "der", "den"]  # '7 de marzo de 1984'


_PARSER_INFO = _ParserInfo()

# two defaults that differ in year, month and day: a text read the same with either names a whole
# date; one that takes a default's part ('1984', 'March 1984', 'March 7') is no birth date to compare
_DEFAULTS = (dt.datetime(1900, 1, 1), dt.datetime(1904, 2, 2))


def _parse_any(text: str, dayfirst: bool = False):
    try:
        first, second = (dateutil_parser.parse(text, _PARSER_INFO, default=d, dayfirst=dayfirst) for d in _DEFAULTS)
    except (ValueError, OverflowError, TypeError):
        return None
    return first if first.date() == second.date() else None

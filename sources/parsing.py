"""Vectorised parsers for what a silo file declares structurally: name forms, one-line addresses,
dates in listed formats, numbers and booleans. Each takes and returns pandas Series (no row loops);
parsers that can fail also return a mask of the values they could not read."""
from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NAME_SUFFIX = r"(?i)(?:,?\s+(?:jr|sr|ii|iii|iv|v|md|phd|esq)\.?)$"
# "12 Oak St Apt 4, Springfield, IL 62704"; also "…, Springfield IL 62704", ZIP+4, a trailing ", USA"
ONE_LINE_ADDRESS = (
    r"^\s*(?P<street>[^,]+?)\s*,\s*(?P<city>[^,]+?)\s*(?:,\s*|\s+)(?P<region>[A-Za-z]{2})\.?\s*,?\s*"
    r"(?P<postcode>\d{5}(?:-\d{4})?)?\s*(?:,\s*(?:USA?|United States(?: of America)?)\s*)?$"
)
TRUE_WORDS = {"true", "t", "yes", "y", "1", "1.0"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "0.0"}


def as_text(series: pd.Series) -> pd.Series:
    """Values as trimmed strings (object dtype, None for missing or blank); whole floats lose '.0'."""
    if pd.api.types.is_float_dtype(series) and series.dropna().mod(1).eq(0).all():
        series = series.astype("Int64")
    if pd.api.types.is_datetime64_any_dtype(series):
        series = series.dt.strftime("%Y-%m-%dT%H:%M:%S")
    try:  # text columns go straight to Arrow (fast trim); mixed or numeric ones are cast first
        arr = pa.array(series, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arr = pa.array(series.astype("string"), type=pa.string(), from_pandas=True)
    trimmed = pc.utf8_trim_whitespace(arr)
    trimmed = pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)
    out = pd.Series(trimmed.to_numpy(zero_copy_only=False), index=series.index, dtype=object)
    return out.where(out.notna(), None)


def _arrow(text: pd.Series) -> pa.Array:
    return pa.array(text, type=pa.string(), from_pandas=True)


def extract(text: pd.Series, pattern: str) -> pd.DataFrame:
    """Named groups of `pattern` (RE2 syntax) per value, None where it does not match; Arrow-fast.
    A group that did not take part in the match (an optional part) is None too."""
    found = pc.extract_regex(_arrow(text), pattern)
    names = [found.type.field(i).name for i in range(found.type.num_fields)]
    frame = pd.DataFrame({n: col.to_numpy(zero_copy_only=False) for n, col in zip(names, found.flatten())},
                         index=text.index)
    return frame.astype(object).where(frame.notna() & (frame != ""), None)


def replace(text: pd.Series, pattern: str, replacement: str) -> pd.Series:
    """Regex replace (RE2 syntax) keeping None for missing values."""
    out = pc.replace_substring_regex(_arrow(text), pattern=pattern, replacement=replacement)
    out = pd.Series(out.to_numpy(zero_copy_only=False), index=text.index, dtype=object)
    return out.where(out.notna(), None)


def split_name(text: pd.Series, form: str) -> pd.DataFrame:
    """given_name / family_name / full_name from a name column of the declared form.

    A value that does not fit the form (e.g. no comma in a "LAST, First" column) keeps only
    full_name: the resolver still parses it, nothing is lost.
    """
    if text.isna().all():
        return pd.DataFrame({"given_name": None, "family_name": None, "full_name": text}, index=text.index)
    text = replace(replace(text, r"\s+", " "), r"^ | $", "")
    out = pd.DataFrame({"given_name": None, "family_name": None, "full_name": text}, index=text.index)
    if form == "free":
        return out
    core = replace(replace(text, NAME_SUFFIX, ""), r"^\s+|\s+$", "")
    # a comma always means "Last, First", whatever the column's usual form (silos mix them)
    parts = extract(core, r"^\s*(?P<family>[^,]+?)\s*,\s*(?P<given>[^,]+?)\s*$")
    comma = parts["given"].notna()
    if form != "last_first_comma":
        pattern = (r"^(?P<given>\S+)(?:\s+\S+)*\s+(?P<family>\S+)$" if form == "first_last"
                   else r"^(?P<family>\S+)\s+(?P<given>\S+)(?:\s+\S+)*$")
        plain = extract(core, pattern)
        parts = parts.where(comma, plain[["family", "given"]])
    ok = parts["given"].notna() & parts["family"].notna()
    out.loc[ok, "given_name"] = parts.loc[ok, "given"]
    out.loc[ok, "family_name"] = parts.loc[ok, "family"]
    # comma and last-first forms become natural order so golden records read "First Last"
    natural = ok & (comma | (form == "last_first"))
    out.loc[natural, "full_name"] = parts.loc[natural, "given"] + " " + parts.loc[natural, "family"]
    return out


def split_address(text: pd.Series, form: str) -> pd.DataFrame:
    """address_line / city / region / postcode from a one-line address; unparsed lines pass whole."""
    out = pd.DataFrame({"address_line": text, "city": None, "region": None, "postcode": None}, index=text.index)
    if form != "one_line" or text.isna().all():
        return out
    parts = extract(text, ONE_LINE_ADDRESS)
    ok = parts["street"].notna()
    out.loc[ok, "address_line"] = parts.loc[ok, "street"]
    out.loc[ok, "city"] = parts.loc[ok, "city"]
    out.loc[ok, "region"] = parts.loc[ok, "region"].str.upper()
    out.loc[ok, "postcode"] = parts.loc[ok, "postcode"]
    return out.astype(object).where(out.notna(), None)


def parse_dates(values: pd.Series, formats: list[str] | None) -> tuple[pd.Series, pd.Series]:
    """Datetimes (naive UTC) from listed strftime formats, else ISO 8601 / free forms / Unix time.
    A format may also be `epoch` (seconds since 1970) or `epoch_ms` (milliseconds).

    Returns (parsed, unreadable) where unreadable marks non-blank values no format matched.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values.dt.tz_convert("UTC").dt.tz_localize(None) if values.dt.tz is not None else values
        return parsed, pd.Series(False, index=values.index)
    text = as_text(values)
    return _parsed_text(text, formats, formats is None and reads_day_first(text.dropna()))


def birth_dates(values: pd.Series, formats: list[str] | None) -> tuple[pd.Series, pd.Series]:
    """(birth dates as 'YYYY-MM-DD' text, unreadable), parsed as `parse_dates` does; without formats, a
    '03/07/1984' that no value of the column settles is passed on as written, for the resolver to read
    by the silo's country and its habit across syncs (conventions.py)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed, unreadable = parse_dates(values, formats)
        return _iso(parsed), unreadable
    text = as_text(values)
    day, month = date_order_votes(text)
    parsed, unreadable = _parsed_text(text, formats, formats is None and day > month)
    out = _iso(parsed)
    if not formats and (day, month) == (0, 0):
        out = out.where(~(is_ambiguous_date(text) & parsed.notna()), text)
    return out, unreadable


def _iso(parsed: pd.Series) -> pd.Series:
    return parsed.dt.strftime("%Y-%m-%d").astype(object).where(parsed.notna(), None)


def _parsed_text(text: pd.Series, formats: list[str] | None, day_first: bool) -> tuple[pd.Series, pd.Series]:
    """parse_dates over values already made text."""
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    present = text.notna()
    if not present.any():
        return parsed, pd.Series(False, index=text.index)
    candidates = formats or ["ISO8601", "mixed", *EPOCHS]
    for fmt in candidates:
        todo = present & parsed.isna()
        if not todo.any():
            break
        if fmt in EPOCHS:
            got = _from_epoch(text[todo], fmt)
        else:
            got = pd.to_datetime(text[todo], format=fmt, errors="coerce", utc=True, dayfirst=day_first)
        parsed.loc[todo] = got.dt.tz_localize(None)
    return parsed, present & parsed.isna()


# a numeric date whose day and month order the value alone may not tell: 03/07/1984, 07.03.1984
NUMERIC_DATE = r"^(\d{1,2})([./-])(\d{1,2})[./-]\d{2,4}\b"


def date_order_votes(text: pd.Series) -> tuple[int, int]:
    """(day-first votes, month-first votes) of a column's numeric dates: values only one order can
    read ('25/03/1984' day first, '03/25/1984' month first); dots ('07.03.1984') are written day
    first across continental Europe."""
    parts = text.astype("string").str.extract(NUMERIC_DATE).dropna()
    if parts.empty:
        return 0, 0
    first, second = parts[0].astype(int), parts[2].astype(int)
    day = int(((first > 12) & (second <= 12)).sum() + (parts[1] == ".").sum())
    return day, int(((second > 12) & (first <= 12)).sum())


def reads_day_first(text: pd.Series) -> bool:
    day, month = date_order_votes(text)
    return day > month


def is_ambiguous_date(text: pd.Series) -> pd.Series:
    """Numeric dates with a four-digit year whose day and month could be either way round
    ('03/07/1984'; not '25/03/1984', not '07.03.1984')."""
    parts = text.astype("string").str.extract(r"^(\d{1,2})[/-](\d{1,2})[/-]\d{4}$")
    first, second = pd.to_numeric(parts[0]), pd.to_numeric(parts[1])
    return ((first <= 12) & (second <= 12) & (first != second)).fillna(False).astype(bool)


# Unix time as APIs send it (Stripe's `created: 1680000000`, JavaScript's milliseconds): the format
# name, its unit, and the digits it takes, so a spreadsheet's day number (45000) is never read as one
EPOCHS = {"epoch": ("s", r"-?\d{9,10}(?:\.\d+)?"), "epoch_ms": ("ms", r"-?\d{12,13}")}


def _from_epoch(text: pd.Series, fmt: str) -> pd.Series:
    unit, digits = EPOCHS[fmt]
    number = pd.to_numeric(text.where(text.str.fullmatch(digits).fillna(False).astype(bool)), errors="coerce")
    return pd.to_datetime(number, unit=unit, errors="coerce", utc=True)


def parse_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Floats; text like "$1,234.50" is read; other non-blank text is unreadable."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype(float), pd.Series(False, index=values.index)
    text = as_text(values)
    cleaned = pd.Series(text, dtype="string").str.replace(r"[$,\s]", "", regex=True)
    number = pd.to_numeric(cleaned, errors="coerce").astype(float)
    return number, text.notna() & number.isna()


def parse_bools(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """1.0/0.0 from true/false, yes/no, 1/0 (any case); other non-blank text is unreadable."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype(float), pd.Series(False, index=values.index)
    text = pd.Series(as_text(values), dtype="string").str.lower()
    result = pd.Series(float("nan"), index=values.index)
    result[text.isin(TRUE_WORDS).fillna(False).astype(bool)] = 1.0
    result[text.isin(FALSE_WORDS).fillna(False).astype(bool)] = 0.0
    return result, text.notna().fillna(False).astype(bool) & result.isna()

"""Map a silo's raw rows onto canonical records and departmental facts, as its file declares.

Every raw row ends in `records` or in `rejected` (with the reason): raw = records + rejected.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sources.config import DATE_FIELDS, Fact, FieldMap, SiloConfig
from sources.dlt_sources import FILE_COLUMN, NAMING, normalise
from sources.parsing import (as_text, birth_dates, parse_bools, parse_dates, parse_numbers, split_address,
                             split_name)
from sources.sync import REFRESH_DELETED

RECORD_COLUMNS = [
    "silo", "source_record_id", "given_name", "family_name", "full_name", "email", "phone",
    "address_line", "city", "region", "postcode", "country", "birth_date", "national_id", "company",
    "source_updated_at", "is_deleted",
]
FACT_COLUMNS = ["silo", "source_record_id", "fact", "value_num", "value_text", "agg"]
REJECT_COLUMNS = ["silo", "source_record_id", "raw_row", "reason"]
TEXT_FIELDS = ["given_name", "family_name", "full_name", "email", "phone", "address_line", "city", "region",
               "postcode", "country", "national_id", "company"]


@dataclass
class MappedRecords:
    records: pd.DataFrame
    facts: pd.DataFrame
    rejected: pd.DataFrame


class _Problems:
    """Collects per-row rejection reasons without a Python loop over rows."""

    def __init__(self, index: pd.Index):
        self.reasons = pd.Series("", index=index, dtype=object)

    def add(self, mask: pd.Series, reason: str | pd.Series) -> None:
        mask = mask.fillna(False).astype(bool)
        if mask.any():
            text = reason[mask] if isinstance(reason, pd.Series) else reason
            self.reasons[mask] = self.reasons[mask].where(self.reasons[mask] == "", self.reasons[mask] + "; ") + text

    @property
    def bad(self) -> pd.Series:
        return self.reasons != ""


def _column(raw: pd.DataFrame, column: str) -> pd.Series:
    """A silo column by its source name (dlt normalised it); absent (never non-null) reads as empty."""
    name = normalise(column)
    if name not in raw.columns:  # a flat column whose own name holds '__' ('ship__zip') is one identifier
        name = NAMING.normalize_identifier(column)
    values = raw[name] if name in raw.columns else pd.Series(None, index=raw.index, dtype=object)
    # when a column's type changes in the silo, dlt keeps the odd values in a variant column
    # (`balance__v_text`); read them too, so they are mapped or rejected, never silently lost
    for variant in [c for c in raw.columns if c.startswith(f"{name}__v_")]:
        values = values.astype(object).where(values.notna(), raw[variant].astype(object))
    return values


def _field_values(raw: pd.DataFrame, spec: FieldMap, field: str) -> pd.Series:
    """One canonical field's source values: its column, its several columns joined with spaces or the
    first filled of them (`combine`), or its constant."""
    if spec.value is not None:
        return pd.Series(spec.value, index=raw.index)
    if spec.column is not None:
        return _column(raw, spec.column)
    parts = [as_text(_column(raw, c)) for c in spec.columns]
    if spec.combine_for(field) == "first":
        return pd.concat(parts, axis=1).bfill(axis=1).iloc[:, 0].astype(object)
    joined = parts[0]
    for part in parts[1:]:
        glued = joined.fillna("") + " " + part.fillna("")
        joined = glued.where(joined.notna() & part.notna(), joined.where(joined.notna(), part))
    return joined


def _quoted(values: pd.Series, mask: pd.Series) -> pd.Series:
    """'value' for the rows in mask (shown in rejection reasons), "" elsewhere; only masked rows are formatted."""
    out = pd.Series("", index=values.index, dtype=object)
    if mask.any():
        out[mask] = "'" + as_text(values[mask]).astype(str).str.slice(0, 60) + "'"
    return out


def map_records(silo: SiloConfig, raw: pd.DataFrame) -> MappedRecords:
    """Canonical records, long-form facts and rejected rows for the silo's current raw rows."""
    raw = raw.reset_index(drop=True)
    problems = _Problems(raw.index)
    out = pd.DataFrame(index=raw.index)
    out["silo"] = silo.name
    out["source_record_id"] = _record_ids(silo, raw)
    problems.add(out["source_record_id"].isna(),
                 f"empty source_record_id ({', '.join(silo.record_id_columns())})")
    for field in TEXT_FIELDS + list(DATE_FIELDS):
        out[field] = None
    _map_plain_fields(silo, raw, out, problems)
    _map_name_and_address(silo, raw, out)
    if out["country"].isna().all() and silo.country and silo.mapping.country is None:
        out["country"] = silo.country
    out["is_deleted"] = _deleted(silo, raw)
    lone, reason = _report_lines(raw)
    problems.add(lone & ~out["is_deleted"], reason)  # a deletion may name nothing but the record
    facts = _facts(silo, raw, out["source_record_id"], problems)

    bad = problems.bad
    records = out.loc[~bad, RECORD_COLUMNS].reset_index(drop=True)
    facts = facts[~bad.reindex(facts["_row"]).to_numpy(dtype=bool)]
    facts = facts.drop(columns="_row").reset_index(drop=True)
    rejected = _rejected(silo, raw, out["source_record_id"], problems)
    return MappedRecords(records=records, facts=facts, rejected=rejected)


# columns the loader adds beside the silo's own
_LOADER_COLUMNS = ("_dlt_", "_table", FILE_COLUMN, REFRESH_DELETED)
_LONE_CELL_MIN_COLUMNS = 3
# how a report's closing or subtotal line starts, in the languages departments export in. A total's
# word is one only before a number, a sign, the end or what is totalled: 'Total Wine & More' and
# Mr Sum are customers, 'Total: 3', 'Total customers 3' and 'Summe 1 250,00' are not; a count is the
# whole cell ('(3 rows)', '3 rows selected.'), so '12 Row St' is an address
_TOTALLED = (r"(?:\s*$|\s*[:;=#(\d]|\s+(?:customers?|clients?|records?|rows?|accounts?|amount|balance|count|for|of|"
             r"g[ée]n[ée]ral|kunden)\b)")  # consumed, not looked ahead: Arrow's RE2 has no lookahead
_FOOTER_WORDS = (
    rf"^\s*(?:(?:(?:grand\s+|sub-?)?totals?|sum|summe|summary|gesamt|insgesamt|totaal){_TOTALLED}|"
    r"end\s+of\s+(?:report|file|data|list)|fin\s+du\s+rapport|ende\s+des\s+berichts|page\s+\d|seite\s+\d|"
    r"\(?\d[\d,.]*\s+(?:rows?|records?|customers?|entries|lines?)(?:\s+(?:selected|affected|returned|exported|"
    r"found|listed|in\s+set\b.*))?\)?\.?\s*$|(?:record|row|line)s?\s+count|count\s*:|"
    r"(?:report\s+)?(?:generated|printed|exported)\s+(?:on|at|by)\b)"
)


def _report_lines(raw: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Rows of a table of three or more columns that are a report's title, footer or subtotal line
    exported with the data, not a customer: one cell filled ('Total: 2 customers', 'Page 3 of 7'), or
    at most half the cells with the first reading as a footer's ('Total;3 customers', psql's '(3
    rows)', 'Subtotal;;;1 250,00'). Rejected with the reason (and kept), not staged as a customer."""
    data = [c for c in raw.columns if not c.startswith(_LOADER_COLUMNS)]
    none = pd.Series(False, index=raw.index)
    if len(data) < _LONE_CELL_MIN_COLUMNS:
        return none, ""
    present = {column: raw[column].notna().to_numpy() for column in data}  # column by column: no copy
    cells = np.sum(list(present.values()), axis=0, dtype=np.int32)
    lone = np.zeros(len(raw), dtype=bool)
    few = np.flatnonzero(cells <= 2)  # a cell of blanks counts as empty: looked at only on such rows
    lone[few] = (_filled(raw.loc[raw.index[few], data]).sum(axis=1) == 1).to_numpy(dtype=bool)
    half = np.flatnonzero(cells <= len(data) // 2)
    first = np.full(len(half), None, dtype=object)  # each sparse row's first filled cell
    for column in reversed(data):
        first = np.where(present[column][half], raw[column].to_numpy(dtype=object)[half], first)
    opening = pd.Series(first, dtype="string[pyarrow]").str.contains(_FOOTER_WORDS, case=False, regex=True)
    lone[half] |= opening.fillna(False).to_numpy(dtype=bool)
    if not lone.any():
        return none, ""
    rows = _filled(raw.loc[lone, data])
    column = rows.idxmax(axis=1)
    value = pd.Series([raw.at[i, c] for i, c in column.items()], index=column.index)
    what = np.where(rows.sum(axis=1) == 1, "only one cell filled (", "a footer's words (")
    reason = (what + value.map(lambda v: repr(str(v)[:60])) + " in column " + column
              + "): a report's title or footer line, not a customer")
    return pd.Series(lone, index=raw.index), reason.reindex(raw.index)


def _filled(cells: pd.DataFrame) -> pd.DataFrame:
    """Which cells hold more than blanks."""
    return cells.notna() & cells.astype(str).apply(lambda c: c.str.strip() != "")


def _record_ids(silo: SiloConfig, raw: pd.DataFrame) -> pd.Series:
    parts = [as_text(_column(raw, c)) for c in silo.record_id_columns()]
    ids = parts[0]
    for part in parts[1:]:
        ids = (ids.astype(str) + "|" + part.astype(str)).where(ids.notna() & part.notna(), None)
    if len(silo.tables()) > 1 and "_table" in raw.columns:
        # ids are only unique within a table; several tables share one silo namespace
        ids = (raw["_table"].astype(str) + ":" + ids.astype(str)).where(ids.notna(), None)
    return ids


def _map_plain_fields(silo: SiloConfig, raw: pd.DataFrame, out: pd.DataFrame, problems: _Problems) -> None:
    for field, spec in silo.mapping.items():
        if field in ("name", "address", "source_record_id"):
            continue
        values = _field_values(raw, spec, field)
        if field in DATE_FIELDS:
            parse = birth_dates if field == "birth_date" else parse_dates
            out[field], unreadable = parse(values, spec.formats)
            shown = f" (formats {', '.join(spec.formats)})" if spec.formats else ""
            source = "/".join(spec.source_columns()) or "value"
            problems.add(unreadable, f"column {source}: value " + _quoted(values, unreadable) + f" is not a date{shown}")
        else:
            out[field] = as_text(values)
    if silo.mapping.source_updated_at is None and silo.default_cursor():
        out["source_updated_at"], _ = parse_dates(_column(raw, silo.default_cursor()), None)
    out["source_updated_at"] = pd.to_datetime(out["source_updated_at"])


def _map_name_and_address(silo: SiloConfig, raw: pd.DataFrame, out: pd.DataFrame) -> None:
    name, address = silo.mapping.name, silo.mapping.address
    if name is not None:
        parts = split_name(as_text(_field_values(raw, name, "name")), name.form)
        for col in parts.columns:
            # explicit given_name/family_name mappings win over the split
            if silo.mapping.__dict__.get(col) is None:
                out[col] = parts[col]
    if address is not None:
        parts = split_address(as_text(_field_values(raw, address, "address")), address.form)
        for col in parts.columns:
            if silo.mapping.__dict__.get(col) is None:
                out[col] = parts[col]


def _deleted(silo: SiloConfig, raw: pd.DataFrame) -> pd.Series:
    flag = pd.Series(False, index=raw.index)
    if silo.deletes is None:
        return flag
    if silo.deletes.mode == "full_refresh":
        return raw[REFRESH_DELETED].fillna(False).astype(bool) if REFRESH_DELETED in raw.columns else flag
    values = _column(raw, silo.deletes.column)
    if silo.deletes.filled:
        return pd.Series(as_text(values).notna().to_numpy(), index=raw.index)
    if isinstance(silo.deletes.value, bool):
        parsed, _ = parse_bools(values)
        return parsed.eq(1.0 if silo.deletes.value else 0.0)
    wanted = [str(v).lower() for v in (silo.deletes.value if isinstance(silo.deletes.value, list) else [silo.deletes.value])]
    return pd.Series(as_text(values), dtype="string").str.lower().isin(wanted).fillna(False).astype(bool)


def _facts(silo: SiloConfig, raw: pd.DataFrame, ids: pd.Series, problems: _Problems) -> pd.DataFrame:
    frames = []
    for fact in silo.facts:
        num, text = _fact_values(fact, _column(raw, fact.column), problems)
        frame = pd.DataFrame({"silo": silo.name, "source_record_id": ids, "fact": fact.name,
                              "value_num": num, "value_text": text, "agg": fact.agg, "_row": raw.index})
        frames.append(frame[frame["value_num"].notna() | frame["value_text"].notna()])
    if not frames:
        return pd.DataFrame(columns=FACT_COLUMNS + ["_row"])
    facts = pd.concat(frames, ignore_index=True)
    facts["value_text"] = facts["value_text"].astype(object).where(facts["value_text"].notna(), None)
    return facts


def _fact_values(fact: Fact, values: pd.Series, problems: _Problems) -> tuple[pd.Series, pd.Series]:
    none = pd.Series(None, index=values.index, dtype=object)
    if fact.type == "number":
        num, bad = parse_numbers(values)
        problems.add(bad, f"fact {fact.name}: column {fact.column} value " + _quoted(values, bad) + " is not a number")
        return num, none
    if fact.type == "bool":
        num, bad = parse_bools(values)
        problems.add(bad, f"fact {fact.name}: column {fact.column} value " + _quoted(values, bad) + " is not true/false")
        text = pd.Series(np.where(num == 1.0, "true", "false"), index=values.index).where(num.notna(), None)
        return num, text.astype(object)
    if fact.type == "date":
        parsed, bad = parse_dates(values, fact.formats)
        problems.add(bad, f"fact {fact.name}: column {fact.column} value " + _quoted(values, bad) + " is not a date")
        return pd.Series(np.nan, index=values.index), parsed.dt.strftime("%Y-%m-%d").astype(object).where(parsed.notna(), None)
    return pd.Series(np.nan, index=values.index), as_text(values)


def _rejected(silo: SiloConfig, raw: pd.DataFrame, ids: pd.Series, problems: _Problems) -> pd.DataFrame:
    bad = problems.bad
    if not bad.any():
        return pd.DataFrame(columns=REJECT_COLUMNS)
    rows = raw.loc[bad, [c for c in raw.columns if not c.startswith("_dlt") and c != REFRESH_DELETED]]
    as_json = rows.to_json(orient="records", lines=True, date_format="iso", default_handler=str).splitlines()
    return pd.DataFrame({"silo": silo.name, "source_record_id": ids[bad].to_numpy(), "raw_row": as_json,
                         "reason": problems.reasons[bad].to_numpy()})

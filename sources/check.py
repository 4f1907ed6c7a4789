"""`hub silos check`: is the file valid, the environment set, the silo reachable, every mapped column
there — and what would a sync load? Reads one page/chunk per table, loads nothing."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa

from sources.config import SiloConfig
from sources.dlt_sources import build_source, normalise
from sources.mapping import MappedRecords, map_records
from sources.errors import SiloSyncError, root_cause
from sources.sync import _hint, check_file_roots, redact

SAMPLE_ROWS = 5


@dataclass
class CheckReport:
    silo: str
    path: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # worth knowing, not failing (e.g. no rows yet)
    columns: dict[str, list[str]] = field(default_factory=dict)  # table -> columns as dlt names them
    sample: pd.DataFrame | None = None  # canonical records the first rows would become
    rejected: pd.DataFrame | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def check_silo(silo: SiloConfig, sample_rows: int = SAMPLE_ROWS) -> CheckReport:
    """Validate environment, connectivity and mapped columns of one (already loaded) silo file."""
    report = CheckReport(silo=silo.name, path=silo.display_path())
    if silo.missing_env:
        report.problems.extend(silo.missing_env)
        return report
    try:
        check_file_roots(silo)
    except SiloSyncError as exc:
        report.problems.append(str(exc))
        return report
    frames = []
    source = build_source(silo, full_refresh=True, sample=True)  # no incremental state: from the start
    for name, resource in source.resources.items():
        try:
            frame = _to_frame(list(resource))
        except Exception as exc:  # the silo is unreachable, refuses us, or its data cannot be read
            root = root_cause(exc)
            report.problems.append(redact(silo, f"silo {silo.name}: cannot read table {name}: "
                                                f"{type(root).__name__}: {str(root).strip()[:300]}") + _hint(root))
            continue
        if frame.empty:
            where = f" (no files match {_file_pattern(silo, name)})" if silo.kind == "files" else ""
            report.notes.append(f"table {name} has no rows yet{where}; its mapped columns cannot be checked")
            continue
        report.columns[name] = list(frame.columns)
        frames.append(frame.head(sample_rows).assign(_table=normalise(name)))
    if report.problems:
        return report
    report.problems.extend(_missing_columns(silo, report.columns))
    if frames:
        mapped: MappedRecords = map_records(silo, pd.concat(frames, ignore_index=True, sort=False))
        report.sample, report.rejected = mapped.records, mapped.rejected
        report.notes.extend(_country_notes(silo, mapped.records))
    return report


def _country_notes(silo: SiloConfig, records: pd.DataFrame) -> list[str]:
    """A note when the first rows' email domains and phone prefixes show another country than the
    file's `country:` (which decides how national phone numbers, numeric dates and addresses are read)."""
    from sources.starter import guess_country

    if silo.mapping.country is not None or records.empty:
        return []  # each record names its country
    shown, declared = guess_country(records, {"email": "email", "phone": "phone"}), silo.country or "US"
    if shown is None or shown == declared:
        return []
    return [f"the first rows' email domains and phone prefixes are {shown}'s, but {silo.display_path()} says "
            f"country: {declared} (national phone numbers, numeric dates and addresses are read as {declared}'s); "
            f"set country: {shown} if they are"]


def _file_pattern(silo: SiloConfig, table: str) -> str:
    spec = next(t for t in silo.files.tables if t.name == table)
    return f"{spec.path.rstrip('/')}/{spec.glob}"


def _missing_columns(silo: SiloConfig, columns: dict[str, list[str]]) -> list[str]:
    if not columns:
        return []
    every = {c for cols in columns.values() for c in cols}
    return [
        f"silo {silo.name}: mapped column {col!r} not found in {', '.join(columns) or 'any table'}; "
        f"columns are: {', '.join(sorted(every))}. Fix the column name in {silo.display_path()}"
        for col in silo.mapped_columns() if normalise(col) not in every
    ]


def _to_frame(items: list[Any]) -> pd.DataFrame:
    """Items one resource yielded (Arrow tables, DataFrames or dicts) as one frame, dlt column names."""
    parts = []
    dicts = [i for i in items if isinstance(i, dict)]
    if dicts:
        parts.append(pd.json_normalize(dicts, sep="__", max_level=1))
    parts += [i.to_pandas() if isinstance(i, pa.Table) else i for i in items if isinstance(i, (pa.Table, pd.DataFrame))]
    frame = pd.concat(parts, ignore_index=True, sort=False) if parts else pd.DataFrame()
    return frame.rename(columns=lambda c: normalise(str(c)))



"""Canonical raw records -> staging records: cleaned display values plus the raw values that differed."""
from __future__ import annotations

import numpy as np
import pandas as pd

from identity_resolution.addresses import normalise_country, standardise_addresses
from identity_resolution.emails import clean_emails
from identity_resolution.conventions import SiloConventions, read_conventions
from identity_resolution.dates import parse_birth_dates, reads_day_first
from identity_resolution.names import organisation_name, standardise_names
from identity_resolution.national_ids import resolve_hash_key, standardise_national_ids
from identity_resolution.parallel import in_row_chunks, worker_count
from identity_resolution.phones import standardise_phones
from identity_resolution.text import as_str_series, map_distinct

CANONICAL_COLUMNS = [
    "silo", "source_record_id", "given_name", "family_name", "full_name", "email", "phone", "address_line",
    "city", "region", "postcode", "country", "birth_date", "national_id", "company", "source_updated_at",
    "is_deleted",
]
STAGING_COLUMNS = [
    "silo", "source_record_id", "given_name", "family_name", "full_name", "email", "phone", "address_line",
    "city", "region", "postcode", "country", "birth_date", "national_id_hash", "national_id_last4", "company",
    "source_updated_at", "name_raw", "email_raw", "phone_raw", "address_raw", "birth_date_raw",
    "national_id_is_partial",
]
_PASS_THROUGH = ["is_deleted", "loaded_at"]
_NOT_AS_TEXT = set(_PASS_THROUGH) | {"source_updated_at"}  # read from `df` directly, never as text


def standardise_records(df: pd.DataFrame, default_region: str = "US", hash_key: bytes | None = None,
                        workers: int | None = None, conventions: SiloConventions | None = None) -> pd.DataFrame:
    """Clean every canonical column of `df` (see the staging-record contract); missing columns count as empty.

    Safe to run on an already-standardised frame: cleaned values parse to themselves, existing
    national_id_hash / raw columns are kept when there is nothing new to replace them. Large frames
    are split by rows over `workers` processes (default HUB_WORKERS, else the CPU count; see parallel.py).
    `conventions`: how each silo writes names and dates (conventions.py); by default read from `df`'s
    own records. Pass it when `df` holds only part of a silo.
    """
    key = resolve_hash_key(hash_key)
    habits = read_conventions(df) if conventions is None else conventions
    return in_row_chunks(df, _standardise, worker_count(len(df), workers), default_region=default_region, hash_key=key,
                         conventions=habits)


def _standardise(df: pd.DataFrame, default_region: str, hash_key: bytes | None,
                 conventions: SiloConventions = SiloConventions()) -> pd.DataFrame:
    n = len(df)
    col = {c: (as_str_series(df[c]) if c in df.columns else pd.Series([None] * n, index=df.index, dtype="object"))
           for c in CANONICAL_COLUMNS + ["national_id_hash", "national_id_last4"] if c not in _NOT_AS_TEXT}
    out = pd.DataFrame(index=df.index)
    out["silo"] = col["silo"]
    out["source_record_id"] = col["source_record_id"]
    country = map_distinct(col["country"], normalise_country)
    regions = country.fillna(default_region.upper())
    given, family = _boxes_in_order(col, conventions.swapped_boxes)
    backwards = col["silo"].isin(conventions.surname_first).to_numpy()
    names = standardise_names(given, family, col["full_name"], regions, backwards)
    out[["given_name", "family_name", "full_name"]] = names
    out["email"] = clean_emails(col["email"])
    out["phone"] = standardise_phones(col["phone"], regions)
    addr = standardise_addresses(col["address_line"], col["city"], col["region"], col["postcode"], regions)
    out[["address_line", "city", "region", "postcode"]] = addr
    out["country"] = country
    born = parse_birth_dates(col["birth_date"], day_first=_reads_day_first(col["silo"], regions, conventions))
    out["birth_date"] = born.dt.date.astype("object").where(lambda s: s.notna(), None)
    ids = standardise_national_ids(col["national_id"], hash_key)
    out["national_id_hash"] = ids["national_id_hash"].where(ids["national_id_hash"].notna(), col["national_id_hash"])
    out["national_id_last4"] = ids["national_id_last4"].where(ids["national_id_last4"].notna(), col["national_id_last4"])
    previous_partial = df["national_id_is_partial"].fillna(False).astype(bool) if "national_id_is_partial" in df.columns else False
    out["national_id_is_partial"] = ids["national_id_is_partial"] | (previous_partial & col["national_id"].isna())
    out["company"] = map_distinct(_company_or_organisation(col, out), _clean_company)
    if "source_updated_at" in df.columns:
        out["source_updated_at"] = pd.to_datetime(df["source_updated_at"], errors="coerce", utc=True)
    else:
        out["source_updated_at"] = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns, UTC]")
    _keep_raw(out, df, col)
    for extra in _PASS_THROUGH:
        if extra in df.columns:
            out[extra] = df[extra]
    out = out[STAGING_COLUMNS + [c for c in _PASS_THROUGH if c in out.columns]].reset_index(drop=True)
    for name in out.columns:
        if out[name].dtype == object:
            out[name] = out[name].where(out[name].notna(), None)
    return out


def _company_or_organisation(col: dict[str, pd.Series], out: pd.DataFrame) -> pd.Series:
    """The company box, else an organisation named in the whole-name box (a customer that is a
    company: 'ACME Corp.' gave no person's names)."""
    nameless = (col["company"].isna() & col["full_name"].notna() & out["given_name"].isna()
                & out["family_name"].isna()).to_numpy()
    if not nameless.any():
        return col["company"]
    return col["company"].where(~nameless, map_distinct(col["full_name"].where(nameless, None), organisation_name))


def _reads_day_first(silo: pd.Series, regions: pd.Series, conventions: SiloConventions) -> np.ndarray:
    """Per record: read '03/07/1984' day first? Its silo's habit where the silo has a clear one, else
    the custom of the record's country (or the default region)."""
    by_region = reads_day_first(regions)
    return (by_region & ~silo.isin(conventions.month_first).to_numpy()) | silo.isin(conventions.day_first).to_numpy()


def _boxes_in_order(col: dict[str, pd.Series], swapped_silos: frozenset[str]) -> tuple[pd.Series, pd.Series]:
    """The given and family boxes, swapped back for the silos whose boxes hold each other's names."""
    given, family = col["given_name"], col["family_name"]
    swapped = col["silo"].isin(swapped_silos).to_numpy()
    if not swapped.any():
        return given, family
    return given.where(~swapped, family), family.where(~swapped, given)


def _keep_raw(out: pd.DataFrame, df: pd.DataFrame, col: dict[str, pd.Series]) -> None:
    """Raw values beside cleaned ones, only where they differ (earlier raw columns survive a re-run)."""
    name_raw = col["full_name"].where(col["full_name"].notna(), _join(col["given_name"], col["family_name"]))
    address_raw = col["address_line"].where(col["city"].isna() & col["postcode"].isna(), _join(
        col["address_line"], col["city"], col["region"], col["postcode"], sep=", "))
    pairs = {
        "name_raw": (name_raw, out["full_name"]),
        "email_raw": (col["email"], out["email"]),
        "phone_raw": (col["phone"], out["phone"]),
        "address_raw": (address_raw, _join(out["address_line"], out["city"], out["region"], out["postcode"], sep=", ")),
        "birth_date_raw": (col["birth_date"], out["birth_date"].astype("string")),
    }
    for name, (raw, clean) in pairs.items():
        fresh = raw.where(_differs(raw, clean), None)
        if name in df.columns:
            fresh = fresh.where(fresh.notna(), df[name].astype("object").where(df[name].notna(), None).values)
        out[name] = fresh


def _differs(raw: pd.Series, clean: pd.Series) -> np.ndarray:
    """Where a raw value is present and its text is not the cleaned value's (or nothing was kept)."""
    raw_text = _texts(raw)
    clean_text = _texts(clean)
    return raw.notna().to_numpy() & (clean.isna().to_numpy() | (raw_text != clean_text))


def _join(*parts: pd.Series, sep: str = " ") -> pd.Series:
    """Non-empty parts joined with `sep` (None when every part is empty). A plain loop over rows:
    several times faster than building the result with pandas string arithmetic."""
    rows = zip(*(_texts(part) for part in parts))
    joined = np.array([sep.join([text for text in row if text]) or None for row in rows], dtype=object)
    return pd.Series(joined, index=parts[0].index, dtype="object")


def _texts(values: pd.Series) -> np.ndarray:
    """Each value as text (a date as '1984-03-07'), missing ones as ''."""
    out = np.full(len(values), "", dtype=object)
    present = values.notna().to_numpy()
    out[present] = [v if type(v) is str else str(v) for v in values.to_numpy(dtype=object)[present]]
    return out


def _clean_company(text: str) -> str | None:
    from identity_resolution.text import fold, is_junk_text

    return None if is_junk_text(text) else fold(text)

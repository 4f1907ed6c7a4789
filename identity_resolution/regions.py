"""Where a record lives, to the state or province: its region box, else its US ZIP code, else the
area code of its North American phone number.

A support desk that keeps a phone number and a mailing list that keeps a ZIP code share no field,
yet '(757) 253-5233' and '23457' both say Virginia. Namesakes are spread over the country, one
person mostly stays in one state, so the area tells two Joseph Simmonses apart where nothing else
can. Values are 'COUNTRY:REGION' ('US:VA', 'CA:ON'): a region code means nothing without its country.
The two lookup tables are built from the `zipcodes` package and phonenumbers' geocoder by
`data/build_region_tables.py`; loaded whole, those cost ~130 MB each in every matching process.
"""
from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from identity_resolution.addresses import CA_PROVINCES

_TEXT = np.dtypes.StringDType()

_PROVINCE_CODES = frozenset(CA_PROVINCES.values())


def record_areas(region: pd.Series, postcode: pd.Series, phone: pd.Series, country: pd.Series) -> pd.Series:
    """'COUNTRY:REGION' per record (None where nothing tells): the region box first, then a US ZIP
    code, then a +1 phone's area code. `country` is the record's country with the default filled in;
    the inputs are the feature columns (upper-cased region and postcode, E.164 phone). Each distinct
    value is read once."""
    out = np.full(len(region), None, dtype=object)
    country_code, countries = pd.factorize(country)
    region_code, regions = pd.factorize(region)
    boxed = (country_code >= 0) & (region_code >= 0)
    if boxed.any():  # each distinct (country, region) once, keyed as one integer
        key = country_code[boxed].astype(np.int64) * len(regions) + region_code[boxed]
        distinct, inverse = np.unique(key, return_inverse=True)
        named = [_province_code(countries[k // len(regions)], regions[k % len(regions)]) for k in distinct.tolist()]
        out[boxed] = np.array(named, dtype=object)[inverse.ravel()]
    need = pd.isna(out) & np.asarray(country == "US")
    out[need] = _per_distinct(postcode[need], _areas_of_zips)
    need = pd.isna(out)
    out[need] = _per_distinct(phone[need], _areas_of_phones)
    return pd.Series(out, index=region.index)


def _per_distinct(column: pd.Series, read) -> np.ndarray:
    """read(the distinct values) spread back over the records; None where a record has none."""
    codes, uniques = pd.factorize(column)
    found = np.append(read(np.asarray(uniques, dtype=object)), None)
    return found[codes]  # code -1 takes the None appended last


def _province_code(country: str, region: str) -> str:
    """'CA', 'ONTARIO' -> 'CA:ON', as the phone's area code says it (US state names are coded already).
    A Canadian province in a record whose country is the US (most often only the hub's default) is
    in Canada: no US state shares a province's name or code."""
    province = CA_PROVINCES.get(region.lower(), region if region in _PROVINCE_CODES else None)
    if country == "CA" or (country == "US" and province is not None):
        return f"CA:{province or region}"
    return f"{country}:{region}"


def _areas_of_zips(postcodes: np.ndarray) -> np.ndarray:
    """'23457' -> 'US:VA' (the state most ZIP codes of its first three digits lie in)."""
    text = postcodes.astype(_TEXT)
    zips = (np.strings.str_len(text) == 5) & np.strings.isdigit(text)
    return _looked_up(np.strings.slice(text, 3), zips, "us_zip3_states.csv", lambda row: f"US:{row[0]}")


def _areas_of_phones(phones: np.ndarray) -> np.ndarray:
    """'+17572535233' -> 'US:VA'. Area codes keep within one state or province; toll-free and
    non-geographic ones, and numbers outside North America, say nothing."""
    text = phones.astype(_TEXT)
    nanp = np.strings.startswith(text, "+1") & (np.strings.str_len(text) == 12)
    return _looked_up(np.strings.slice(text, 2, 5), nanp, "nanp_area_codes.csv", lambda row: f"{row[0]}:{row[1]}")


def _looked_up(keys: np.ndarray, wanted: np.ndarray, table: str, area) -> np.ndarray:
    """area(row of `table` whose first column is the key) for the wanted keys, each distinct key once."""
    rows = _table(table)
    codes, distinct = pd.factorize(np.where(wanted, keys.astype(object), None))
    found = np.array([area(rows[k]) if k in rows else None for k in distinct] + [None], dtype=object)
    return found[codes]


@lru_cache(maxsize=None)
def _table(name: str) -> dict[str, tuple[str, ...]]:
    """A shipped CSV as first column -> the other columns."""
    text = resources.files("identity_resolution").joinpath(f"data/{name}").read_text("utf-8")
    rows = list(csv.reader(text.splitlines()))[1:]
    return {row[0]: tuple(row[1:]) for row in rows}

"""Match features derived from staging records: the keys blocking joins on and comparison scores."""
from __future__ import annotations

import jellyfish
import numpy as np
import pandas as pd

from identity_resolution.addresses import normalise_street
from identity_resolution.emails import match_key
from identity_resolution.names import nickname_table
from identity_resolution.text import map_distinct

FEATURE_COLUMNS = [
    "given", "given_canon", "given_initial", "given_mp", "family", "family_sdx", "family_mp", "email_key",
    "email_user", "phone", "nid_hash", "nid_last4", "nid_partial", "dob", "dob_year", "addr", "addr_num",
    "addr_key", "postcode", "city", "region",
]


def _letters(series: pd.Series) -> pd.Series:
    """Lower-case ASCII letters only ('Lillie-Hinrichs' -> 'lilliehinrichs'); empty -> None."""
    s = series.astype("string").str.lower().str.replace(r"[^a-z]", "", regex=True)
    return s.where(s.str.len() > 0).astype("object").where(lambda x: x.notna(), None)


def _first_token(series: pd.Series) -> pd.Series:
    return series.astype("string").str.strip().str.split(r"[\s\-]+", regex=True).str[0]


def build_features(records: pd.DataFrame) -> pd.DataFrame:
    """One row per record (same order) with the FEATURE_COLUMNS; every value a string or None."""
    f = pd.DataFrame(index=pd.RangeIndex(len(records)))
    r = records.reset_index(drop=True)
    f["given"] = _letters(_first_token(r["given_name"]))
    nick = nickname_table()
    f["given_canon"] = map_distinct(f["given"], lambda g: nick.get(g, g))
    f["given_initial"] = f["given"].str[0]
    f["given_mp"] = map_distinct(f["given"], jellyfish.metaphone)
    f["family"] = _letters(r["family_name"])
    f["family_sdx"] = map_distinct(f["family"], jellyfish.soundex)
    f["family_mp"] = map_distinct(f["family"], jellyfish.metaphone)
    f["email_key"] = match_key(r["email"])
    f["email_user"] = f["email_key"].astype("string").str.split("@").str[0].astype("object")
    f["phone"] = r["phone"].astype("object")
    f["nid_hash"] = r["national_id_hash"].astype("object")
    f["nid_last4"] = r["national_id_last4"].astype("object")
    f["nid_partial"] = r["national_id_is_partial"].fillna(False).astype(bool)
    dob = pd.to_datetime(r["birth_date"], errors="coerce")
    f["dob"] = dob.dt.strftime("%Y%m%d").astype("object")
    f["dob_year"] = f["dob"].str[:4]
    f["addr"] = map_distinct(r["address_line"], normalise_street)
    f["addr_num"] = f["addr"].astype("string").str.extract(r"^(\d+\w?)\b", expand=False).astype("object")
    street_word = f["addr"].astype("string").str.extract(r"^\d+\w?\s+(?:[nsew]\s+)?([a-z]+)", expand=False)
    f["addr_key"] = (f["addr_num"].astype("string") + " " + street_word).astype("object")
    f["postcode"] = r["postcode"].astype("string").str.replace(" ", "", regex=False).str.upper().astype("object")
    f["city"] = _letters(r["city"])
    f["region"] = r["region"].astype("string").str.upper().astype("object")
    for name in FEATURE_COLUMNS:
        if f[name].dtype == object:
            f[name] = f[name].where(f[name].notna(), None)
    return f[FEATURE_COLUMNS]


def random_pairs(n: int, size: int, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """`size` random distinct-record pairs (l < r) among n records, for estimating u probabilities."""
    rng = np.random.default_rng(seed)
    left = rng.integers(0, n, size=size)
    right = rng.integers(0, n, size=size)
    keep = left != right
    left, right = left[keep], right[keep]
    return np.minimum(left, right).astype(np.int64), np.maximum(left, right).astype(np.int64)

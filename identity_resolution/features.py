"""Match features derived from staging records: the keys blocking joins on and comparison scores."""
from __future__ import annotations

import duckdb
import jellyfish
import numpy as np
import pandas as pd
import pyarrow as pa

from identity_resolution.names import ORGANISATION_ENDINGS, family_from_email, given_from_email, nickname_table
from identity_resolution.regions import record_areas
from identity_resolution.text import map_distinct

CATEGORICAL_FROM = 50_000  # records
FEATURE_COLUMNS = [
    "given", "given_canon", "given_initial", "given_mp", "family", "family_parts", "family_sdx", "family_mp", "email_key",
    "email_user", "email_domain", "email_digits", "email_letters", "phone", "nid_hash", "nid_last4", "nid_partial", "dob", "dob_year", "addr", "addr_num",
    "addr_key", "postcode", "city", "region", "area", "company_key", "generation", "email_year",
]
# legal forms and filler words dropped from a company's name before comparing ('ACME Corp.' is
# 'Acme Corporation'); names.py uses the same list to tell an organisation from a person
COMPANY_FILLER_WORDS = frozenset(ORGANISATION_ENDINGS | {"the", "co", "and", "sa", "se", "kg", "ab", "oy", "as"})
_COMPANY_FILLER = "|".join(sorted(COMPANY_FILLER_WORDS))
# what an employer box holds for people without an employer: a status shared by millions, no evidence
_NO_EMPLOYER = ", ".join(f"'{k}'" for k in sorted({
    "self employed", "selfemployed", "retired", "unemployed", "not employed", "student", "homemaker", "housewife",
    "house wife", "disabled", "none", "n a", "na", "unknown", "freelance",
}))


_FEATURE_SQL = r"""
WITH base AS (
    SELECT
        nullif(regexp_replace(lower(regexp_extract(trim(given_name), '^[^\s\-]+')), '[^a-z]', '', 'g'), '') AS given,
        nullif(regexp_replace(lower(family_name), '[^a-z]', '', 'g'), '') AS family,
        -- the words of a family name of several ('smith jones', 'garcia lopez', 'van beethoven'); else NULL
        CASE WHEN regexp_matches(family_name, '[A-Za-z][\s-]+[A-Za-z]') THEN nullif(trim(regexp_replace(
            regexp_replace(lower(family_name), '[^a-z\s-]', '', 'g'), '[\s-]+', ' ', 'g')), '') END AS family_parts,
        -- accents folded: 'josé.garcía@' typed in one department is jose.garcia@ in another
        strip_accents(lower(trim(email))) AS email,
        phone,
        national_id_hash AS nid_hash,
        national_id_last4 AS nid_last4,
        coalesce(national_id_is_partial, false) AS nid_partial,
        strftime(birth_date, '%Y%m%d') AS dob,
        nullif(trim(regexp_replace(regexp_replace(lower(address_line), '[.,;#]', ' ', 'g'), '\s+', ' ', 'g')), '') AS addr,
        nullif(upper(replace(postcode, ' ', '')), '') AS postcode,
        nullif(regexp_replace(lower(city), '[^a-z]', '', 'g'), '') AS city,
        nullif(upper(trim(region)), '') AS region,
        nullif(trim(regexp_replace(regexp_replace(regexp_replace(replace(strip_accents(lower(company)), '.', ''), '[^a-z0-9\s]', ' ', 'g'),
            '\b(?:{filler})\b', ' ', 'g'), '\s+', ' ', 'g')), '') AS company_key,
        -- a generational suffix the raw name carries after a word ('John Smith Jr.', 'SMITH JR, JOHN';
        -- not Spanish 'Sr. García', a title): father and son share every other part of a name
        regexp_extract(lower(name_raw), '[^\s,][\s,]+(jr|sr|ii|iii|iv|junior|senior|2nd|3rd|4th)\.?(?:[\s,]|$)', 1)
            AS suffix_word,
        rid
    -- staging shows names and places with their accents ('García', 'München'); the keys are without
    FROM (SELECT * REPLACE (strip_accents(given_name) AS given_name, strip_accents(family_name) AS family_name,
                            strip_accents(address_line) AS address_line, strip_accents(city) AS city) FROM recs)
), mail AS (
    SELECT *,
        regexp_replace(split_part(email, '@', 1), '\+.*$', '') AS local_part,
        CASE WHEN split_part(email, '@', 2) IN ('gmail.com', 'googlemail.com') THEN 'gmail.com'
             ELSE split_part(email, '@', 2) END AS domain
    FROM base
)
SELECT
    given, left(given, 1) AS given_initial, family, family_parts,
    CASE WHEN email IS NULL THEN NULL
         WHEN domain = 'gmail.com' THEN replace(local_part, '.', '') || '@' || domain
         ELSE local_part || '@' || domain END AS email_key,
    CASE WHEN email IS NULL THEN NULL WHEN domain = 'gmail.com' THEN replace(local_part, '.', '')
         ELSE local_part END AS email_user,
    CASE WHEN email IS NULL THEN NULL ELSE domain END AS email_domain,
    nullif(regexp_replace(local_part, '[^0-9]', '', 'g'), '') AS email_digits,
    -- the user name's letters ('j.smith84' -> 'jsmith'), a blocking key read by several rules
    nullif(regexp_replace(local_part, '[^a-z]', '', 'g'), '') AS email_letters,
    phone, nid_hash, nid_last4, nid_partial, dob, left(dob, 4) AS dob_year, addr,
    coalesce(nullif(regexp_extract(addr, '^(\d+[a-z]?)\b', 1), ''), nullif(num_last.num, '')) AS addr_num,
    -- house number and first street word: '12 Oak St' and '12 Oak Street Apt 4' share '12 oak'
    coalesce(nullif(regexp_extract(addr, '^(\d+[a-z]?)\s+(?:[nsew]\s+)?([a-z]+)', ['num', 'word']).num || ' '
                    || regexp_extract(addr, '^(\d+[a-z]?)\s+(?:[nsew]\s+)?([a-z]+)', ['num', 'word']).word, ' '),
             nullif(num_last.num || ' ' || num_last.word, ' ')) AS addr_key,
    postcode, city, region, CASE WHEN company_key NOT IN ({no_employer}) THEN company_key END AS company_key,
    CASE suffix_word WHEN '' THEN NULL WHEN 'junior' THEN 'jr' WHEN 'senior' THEN 'sr' WHEN '2nd' THEN 'ii'
        WHEN '3rd' THEN 'iii' WHEN '4th' THEN 'iv' ELSE suffix_word END AS generation,
    -- a year of birth a user name may carry ('johnsmith1984'): four digits alone, 1920-2019
    nullif(regexp_extract(local_part, '(?:^|[^0-9])((?:19[2-9]|20[01])[0-9])(?:[^0-9]|$)', 1), '') AS email_year
FROM (
    -- the number after the street name, as continental Europe writes it ('hauptstrasse 5', 'via
    -- roma 10 apt 3'): the house number of a line that starts with a letter and holds no other
    SELECT *, regexp_extract(addr, '^([a-z]+)[^\d]*\s(\d+[a-z]?)(?:\s+(?:apt|ste|rm|fl)\b.*)?$', ['word', 'num']) AS num_last
    FROM mail
)
ORDER BY rid
""".replace("{filler}", _COMPANY_FILLER).replace("{no_employer}", _NO_EMPLOYER)


def build_features(records: pd.DataFrame, default_region: str = "US") -> pd.DataFrame:
    """One row per record (same order) with the FEATURE_COLUMNS and the record's silo; every value
    a string or None. `default_region` is the country of records that name none (the state a ZIP
    code or phone number gives, `regions.py`, is read for US and Canadian records only).

    String clean-up runs as one DuckDB query (vectorised, multi-threaded); phonetic codes and
    nickname mapping run once per distinct name.
    """
    r = records.reset_index(drop=True)
    cols = {}
    for name in ("given_name", "family_name", "name_raw", "email", "phone", "national_id_hash",
                 "national_id_last4", "address_line", "postcode", "city", "region", "company"):
        cols[name] = r[name].astype("object").where(r[name].notna(), None) if name in r.columns else pd.Series([None] * len(r), dtype="object")
    frame = pd.DataFrame(cols)
    frame["national_id_is_partial"] = (r["national_id_is_partial"].astype("boolean").fillna(False).astype(bool)
                                       if "national_id_is_partial" in r.columns else False)
    frame["birth_date"] = pd.to_datetime(r["birth_date"], errors="coerce") if "birth_date" in r.columns else pd.NaT
    frame["rid"] = np.arange(len(r), dtype=np.int64)
    con = duckdb.connect()
    try:
        # Arrow in and out: strings cross without a Python object per value; at scale each text
        # column comes back dictionary-encoded (a categorical: repeated strings stored once)
        con.register("recs", _typed(pa.Table.from_pandas(frame, preserve_index=False)))
        table = con.sql(_FEATURE_SQL).to_arrow_table()
    finally:
        con.close()
    categorical = len(r) >= CATEGORICAL_FROM
    f = pd.DataFrame({name: _column(table.column(name), categorical) for name in table.column_names})
    f["family"] = _with_family_from_email(f, categorical)
    _add_given_from_email(f, categorical)
    nick = nickname_table()
    derived = {
        "given_canon": map_distinct(f["given"], lambda g: nick.get(g, g)),
        "given_mp": map_distinct(f["given"], jellyfish.metaphone),
        "family_sdx": map_distinct(f["family"], jellyfish.soundex),
        "family_mp": map_distinct(f["family"], jellyfish.metaphone),
        "area": record_areas(f["region"], f["postcode"], f["phone"], _countries(r, default_region)),
    }
    for name, values in derived.items():
        f[name] = values.astype("category") if categorical else values
    f["nid_partial"] = f["nid_partial"].astype(bool)
    # not a match feature: scoring weighs a pair with the prior of its two silos
    f["silo"] = r["silo"].astype("category" if categorical else object) if "silo" in r.columns else None
    return f[FEATURE_COLUMNS + ["silo"]]


def _countries(records: pd.DataFrame, default_region: str) -> pd.Series:
    """Each record's country (standardised records carry it normalised), the default where none."""
    if "country" not in records.columns:
        return pd.Series(default_region.upper(), index=records.index, dtype=object)
    return records["country"].astype(object).where(records["country"].notna(), default_region.upper())


def _with_family_from_email(f: pd.DataFrame, categorical: bool) -> pd.Series:
    """A record without a family name takes the one its email spells after its given name
    ('Jenna' with jennanguyen@ is Jenna Nguyen): compared, blocked and weighed like a typed one."""
    family = f["family"].astype(object)
    asked = family.isna() & f["given"].notna() & f["email_user"].notna()
    if asked.any():
        pairs = f["given"].astype(object)[asked] + "|" + f["email_user"].astype(object)[asked]
        family = family.copy()
        family[asked] = map_distinct(pairs, lambda p: family_from_email(*p.split("|", 1)))
    return family.astype("category") if categorical else family


def _add_given_from_email(f: pd.DataFrame, categorical: bool) -> None:
    """A record with a family name and no given name ('Mrs Fry') takes the given name its email
    spells beside the family name (jayne.fry@ is Jayne), in place: compared and blocked like a typed one."""
    asked = (f["given"].isna() & f["family"].notna() & f["email_user"].notna()).to_numpy()
    if not asked.any():
        return
    pairs = f["family"].astype(object)[asked] + "|" + f["email_user"].astype(object)[asked]
    found = map_distinct(pairs, lambda p: given_from_email(*p.split("|", 1)))
    if not found.notna().any():
        return
    for name, values in (("given", found), ("given_initial", found.str[0])):
        column = f[name].astype(object)
        column[asked] = column[asked].where(values.isna(), values)
        f[name] = column.astype("category") if categorical else column


def _typed(table: pa.Table) -> pa.Table:
    """A column no record fills (every email a placeholder, no company anywhere) arrives as Arrow's
    null type; as text, the feature query and the categoricals treat it like any other."""
    for i, column in enumerate(table.columns):
        if pa.types.is_null(column.type):
            table = table.set_column(i, table.field(i).name, column.cast(pa.string()))
    return table


def _column(values: pa.ChunkedArray, categorical: bool) -> pd.Series:
    """A feature column as pandas: bools as bool; text as a categorical or as objects with None."""
    if pa.types.is_boolean(values.type):
        return pd.Series(values.to_numpy(zero_copy_only=False))
    if categorical:
        return pd.Series(values.combine_chunks().dictionary_encode().to_pandas())
    return pd.Series(values.to_pandas(), dtype="object").where(lambda s: s.notna(), None)


def as_objects(series: pd.Series) -> np.ndarray:
    """Values as a NumPy object array with None for missing (categorical columns give NaN otherwise)."""
    return series.astype(object).where(series.notna(), None).to_numpy(dtype=object)


def random_pairs(n: int, size: int, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """`size` random distinct-record pairs (l < r) among n records, for estimating u probabilities."""
    rng = np.random.default_rng(seed)
    left = rng.integers(0, n, size=size)
    right = rng.integers(0, n, size=size)
    keep = left != right
    left, right = left[keep], right[keep]
    return np.minimum(left, right).astype(np.int64), np.maximum(left, right).astype(np.int64)

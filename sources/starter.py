"""Commented starter silo files for `hub silos new KIND NAME`; a SQL starter is introspected from
the table (columns, primary key, a likely cursor, and a guessed mapping to review)."""
from __future__ import annotations

import json
import os
import re
import unicodedata
from collections import Counter

from sources.encoding import detect_encoding
from sources.fixed_width import infer_columns, looks_fixed_width

# canonical field -> column names that usually hold it (compared after lower-casing, no separators)
GUESSES = {
    "email": ("email", "emailaddress", "mail", "courriel", "correo", "correoelectronico", "smtpaddress"),
    "phone": ("phone", "phonenumber", "telephone", "tel", "mobile", "cell", "telefon", "telefono", "handy",
              "mobil", "portable", "telefonnummer", "telf"),
    "given_name": ("firstname", "givenname", "forename", "fname", "vorname", "prenom", "nombre", "voornaam"),
    "family_name": ("lastname", "familyname", "surname", "lname", "nachname", "familienname", "nom", "apellido",
                    "apellidos", "cognome", "achternaam"),
    "full_name": ("name", "fullname", "customername", "contactname", "kundenname", "nomcomplet"),
    "address_line": ("address", "street", "addressline", "address1", "streetaddress", "strasse", "adresse",
                     "direccion", "indirizzo", "adres", "stras"),
    "city": ("city", "town", "ort", "stadt", "wohnort", "ville", "ciudad", "citta", "localite", "plaats"),
    "region": ("state", "region", "province", "county", "bundesland", "provincia", "st", "regio"),
    "postcode": ("zip", "zipcode", "postcode", "postalcode", "plz", "postleitzahl", "codepostal", "pstlz"),
    "country": ("country", "countrycode", "countryregion", "land", "pays", "pais"),  # HubSpot: Country/Region
    "birth_date": ("dob", "birthdate", "dateofbirth", "born", "birthday", "geburtsdatum", "datedenaissance",
                   "fechadenacimiento"),
    "national_id": ("ssn", "nationalid", "taxid", "sin"),
    "company": ("company", "companyname", "organisation", "organization", "employer", "firma", "societe",
                "empresa", "unternehmen"),
}
_SPELLINGS = frozenset(name for names in GUESSES.values() for name in names)
# those read at a column name's end too ('ship_city', 'home_zip'); shorter ones only whole, but 'zip'
_LONG_SPELLINGS = tuple(sorted(name for name in _SPELLINGS if len(name) >= 4 or name == "zip"))
NOT_TEXT = ("parquet", "xlsx", "xls")
# words YAML 1.1 reads as booleans or null: a column named 'No' is written quoted
YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "none"})
CURSOR_NAMES = ("updated_at", "modified_at", "last_modified", "last_updated", "updated", "modified", "changed_at",
                "last_changed", "modified_on", "modifiedon", "updatedon", "date_updated", "date_modified", "SystemModstamp")
_TIME_WORDS = ("at", "on", "ts", "timestamp", "date", "time", "datetime", "dttm")  # 'LAST_UPD_TS', 'LastModifiedDate'


def column_key(column: str) -> str:
    """A column name compared without case, accents or separators: 'Prénom' -> 'prenom', 'E-Mail' -> 'email'."""
    return re.sub(r"[^a-z0-9]", "", _folded(column))


def _folded(text: str) -> str:
    """Lower case in ASCII letters, accents and 'ß' written out ('Straße-Nr.' -> 'strasse-nr.')."""
    return unicodedata.normalize("NFKD", text.replace("ß", "ss")).encode("ascii", "ignore").decode().lower()


# the short forms database columns are named with ('CUST_FIRST_NM', 'ZIP_CD', 'BIRTH_DT', 'EMAIL_ADDR')
ABBREVIATIONS = {
    "nm": "name", "nme": "name", "fst": "first", "frst": "first", "lst": "last", "addr": "address", "adr": "address",
    "ln": "line", "cd": "code", "nbr": "number", "num": "number", "no": "number", "dt": "date", "brth": "birth",
    "ph": "phone", "phn": "phone", "eml": "email", "mob": "mobile", "cntry": "country", "ctry": "country",
    "pstl": "postal", "post": "postal", "cust": "customer", "clnt": "client", "str": "street",
    "upd": "updated", "mod": "modified", "chg": "changed",
}
# a word that ends a column's name without saying more than the rest ('City Name', 'State Code')
_GENERIC_ENDINGS = ("name", "code", "number", "text", "txt", "value", "desc", "date")  # 'dob date' is 'dob'
_WORD_BREAKS = re.compile(r"[^a-z0-9]+|(?<=[a-z])(?=[0-9])|(?<=[0-9])(?=[a-z])")


def field_key(column: str) -> str:
    """A column name as the field guesses read it: `column_key` with camel case and digits split off,
    database short forms written out, a first '1' dropped ('address1_line1', 'ADDR_LINE_1' and
    'Address Line 1' are 'addressline'; a '2' stays: the starter lists it after the first) and a
    generic last word dropped where the rest names a field ('CITY_NM' is 'city', 'STATE_CD' 'state')."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", column)  # 'MailingPostalCode', 'emailAddress'
    words = [ABBREVIATIONS.get(w, w) for w in _WORD_BREAKS.split(_folded(spaced)) if w and w not in ("1", "01")]
    key = "".join(words)
    if len(words) > 1 and words[-1] in _GENERIC_ENDINGS and _names_field(key[: -len(words[-1])]):
        return key[: -len(words[-1])]  # 'Default Address Province Code'
    plural = next((key[: -len(end)] for end in ("es", "s") if key.endswith(end) and _names_field(key[: -len(end)])), None)
    return plural if plural and not _names_field(key) else key  # 'phones', 'emails', 'addresses' (a list of them)


def _names_field(key: str) -> bool:
    return key in _SPELLINGS or key.endswith(_LONG_SPELLINGS)


def _nested_key(column: str) -> str:
    """`field_key`, or for an object's key read the other way round where that names a field: an API's
    `name {first, last}` spreads into name__first, which says 'first name'."""
    parent, _, child = column.rpartition("__")
    key = field_key(column)
    if not parent or _names_field(key):
        return key
    turned = field_key(f"{child} {parent}")
    return turned if _names_field(turned) else key


def guess_mapping(columns: list[str]) -> dict[str, str]:
    """canonical field -> column, for columns whose name says what they hold."""
    by_key: dict[str, str] = {}
    for column in columns:  # 'Phone' and 'Phone 1' read alike: the first in the file is the field's column
        by_key.setdefault(_nested_key(column), column)
    found: dict[str, str] = {}
    # whole names first, for every field: 'full_name' is the whole name before it is a '…lname'
    for field, names in GUESSES.items():
        exact = [by_key[n] for n in names if n in by_key and by_key[n] not in found.values()]
        if exact:
            found[field] = exact[0]
    for field, names in GUESSES.items():
        # "ship_city", "home_zip": a known name at the end
        suffix = [c for n in names if n in _LONG_SPELLINGS for k, c in by_key.items() if k.endswith(n)]
        chosen = [c for c in suffix if c not in found.values()]
        if chosen and field not in found:
            found[field] = chosen[0]
    if "given_name" in found and "family_name" in found:
        found.pop("full_name", None)
    elif "given_name" in found and "full_name" in found:
        found["family_name"] = found.pop("full_name")  # 'Vorname' beside 'Name': the name is the family's
    return found


# more columns a field may be spread over: a second address line, other phone numbers and emails
# ('Mobile', 'Home Phone'; 'Email 2'); the starter maps them with `columns:` (docs/silos.md)
MORE_COLUMNS = {
    # a second line, or the house number a German or Dutch export keeps in a box of its own
    "address_line": lambda key: (key.endswith(("address2", "addressline2", "street2", "streetline2", "addr2"))
                                 and not _names_a(key, "email"))  # 'emailaddress2' is an email
    or key in ("hausnummer", "hausnr", "housenumber", "streetnumber", "huisnummer", "numerocivico"),
    "phone": lambda key: _names_a(key, "phone"),
    "email": lambda key: _names_a(key, "email"),
}


def _names_a(key: str, field: str) -> bool:
    """Does a column key, numbered or not ('Phone 2', 'Home Phone', 'Handy'), name one of `field`'s spellings?"""
    stem = re.sub(r"\d+$", "", key)
    return stem in GUESSES[field] or stem.endswith(tuple(n for n in GUESSES[field] if len(n) >= 4))


def guess_starter_mapping(columns: list[str]) -> dict[str, str | list[str]]:
    """guess_mapping, plus the further columns of a field spread over several (listed after the first)."""
    mapping: dict[str, str | list[str]] = dict(guess_mapping(columns))
    for field, more in MORE_COLUMNS.items():
        first = mapping.get(field)
        extra = [c for c in columns if first and c not in mapping.values() and more(field_key(c))]
        if extra:
            mapping[field] = [first, *extra]
    if isinstance(mapping.get("address_line"), list):  # joined as the file orders them: 'Hauptstraße' '5', '12' 'Oak St'
        mapping["address_line"] = sorted(mapping["address_line"], key=columns.index)
    return mapping


# country domains sold worldwide for their look ('.io', '.co', '.me', '.tv', '.ai'): no country's customers
VANITY_DOMAINS = frozenset({"io", "co", "me", "tv", "ai", "ly", "fm", "gg", "to", "ws", "cc", "sh", "la"})


def guess_country(sample, mapping: dict[str, str | list[str]]) -> str | None:
    """The country most of a sample's customers show, by their email domains' country codes ('.de',
    '.co.uk') and their phones' international prefixes ('+49', '0033'): one that half the votes and
    three at least agree on, else None (a '.com' and a national number say nothing)."""
    import phonenumbers
    import pycountry

    votes: Counter[str] = Counter()
    for column in _as_list(mapping.get("email")):
        for tld in sample[column].dropna().astype(str).str.extract(r"\.([A-Za-z]{2})\s*$")[0].dropna():
            code = "GB" if tld.upper() == "UK" else tld.upper()
            if tld.lower() not in VANITY_DOMAINS and pycountry.countries.get(alpha_2=code) is not None:
                votes[code] += 1
    for column in _as_list(mapping.get("phone")):
        for phone in sample[column].dropna().astype(str).str.strip():
            if phone.startswith(("+", "00")):
                try:
                    region = phonenumbers.region_code_for_number(phonenumbers.parse(re.sub(r"^00", "+", phone)))
                except phonenumbers.NumberParseException:
                    continue
                if region and region != "ZZ":
                    votes[region] += 1
    code, count = votes.most_common(1)[0] if votes else (None, 0)
    return code if count >= 3 and count >= sum(votes.values()) / 2 else None


def _as_list(columns: str | list[str] | None) -> list[str]:
    return [] if columns is None else [columns] if isinstance(columns, str) else columns


def guess_cursor(columns: list[str]) -> str | None:
    """A column that grows when a row changes ('updated_at', 'LastModifiedDate', 'LAST_UPD_TS'; an API's
    spread 'properties__updated_at' after any such field at the top), or None."""
    keys: dict[str, str] = {}
    for column in columns:
        keys.setdefault(_cursor_key(column), column)
    for column in columns:
        if "__" in column:
            keys.setdefault(_cursor_key(column.rsplit("__", 1)[-1]), column)
    return next((keys[k] for k in map(_cursor_key, CURSOR_NAMES) if k in keys), None)


def _cursor_key(column: str) -> str:
    """`field_key` without a last word that says only 'a time' ('at', 'ts', 'date')."""
    key = field_key(column)
    ending = next((w for w in _TIME_WORDS if key.endswith(w) and len(key) > len(w)), None)
    return key[: -len(ending)] if ending and key[: -len(ending)].endswith(("updated", "modified", "changed")) else key


def introspect_sql(url: str, table: str, schema: str | None = None):
    """(primary key columns, the first 200 rows) of a table, read with SQLAlchemy; the rows' JSON
    objects spread into parent__child columns, as the sync loads them (its columns are the sample's)."""
    from sources.dlt_sources import flattened_frame, mark_json_columns

    import pandas as pd
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        pk = sa.inspect(engine).get_pk_constraint(table, schema=schema).get("constrained_columns") or []
        with engine.connect() as conn:
            reflected = sa.Table(table, sa.MetaData(), schema=schema, autoload_with=conn)
            if engine.dialect.name in ("mysql", "mariadb"):
                mark_json_columns(reflected, conn)
            sample = pd.read_sql(sa.select(reflected).limit(200), conn)
    finally:
        engine.dispose()
    return list(pk), flattened_frame(sample)


def _yaml_text(text: str) -> str:
    """A column name as YAML reads it back: quoted unless plain ('No', 'On' and '#' would not be)."""
    plain = re.fullmatch(r"[A-Za-z_][\w \-]*", text) and text.lower() not in YAML_WORDS and text == text.strip()
    return text if plain else json.dumps(text, ensure_ascii=False)  # 'N° client' as written, not 'N\u00b0 client'


def _yaml_columns(columns: str | list[str]) -> str:
    if isinstance(columns, str):
        return _yaml_text(columns)
    return "[" + ", ".join(_yaml_text(c) for c in columns) + "]"


def _mapping_lines(mapping: dict[str, str | list[str]], indent: str = "  ") -> str:
    if not mapping:
        return f"{indent}email: email   # TODO: the column holding e-mail\n{indent}# name: {{column: name_column, form: first_last}}\n"
    return "".join(f"{indent}{field}: {_yaml_source(column)}\n" for field, column in mapping.items())


def _yaml_source(column: str | list[str]) -> str:
    """One column as its name; several as {columns: [...]}."""
    return _yaml_columns(column) if isinstance(column, str) else "{columns: " + _yaml_columns(column) + "}"


def sql_starter(name: str, url_env: str, table: str | None = None, schema: str | None = None) -> str:
    columns, pk, cursor, country = [], [], None, None
    if table and os.environ.get(url_env):
        pk, sample = introspect_sql(os.environ[url_env], table, schema)
        columns = [str(c) for c in sample.columns]  # a JSON column's keys as the sync spreads them: address__city
        cursor = guess_cursor(columns)
        country = guess_country(sample, guess_starter_mapping(columns))
    table = table or "customers"
    listed = f"\n# columns found: {', '.join(columns)}" if columns else ""
    return f"""\
# Silo {name}: a SQL database (PostgreSQL, MySQL/MariaDB, SQLite or any SQLAlchemy URL).{listed}
# Review every line, then run `hub silos check {name}`.
{silo_header(name, "sql")}
{_country_line(country)}
sql:
  url: ${{{url_env}}}              # secret: set {url_env} in the environment, never here
{f"  schema: {schema}" + chr(10) if schema else ""}  tables:
    - name: {table}
      primary_key: {_yaml_columns(pk if len(pk) > 1 else pk[0]) if pk else "id   # TODO: the column that identifies a row"}
      {f"cursor: {_yaml_text(cursor)}            # incremental: only rows changed since the last sync" if cursor else "# cursor: updated_at   # a column that grows when a row changes (incremental loads)"}
    # - name: active_customers     # or a custom SELECT, loaded as table `active_customers`
    #   query: SELECT * FROM customers WHERE active
    #   primary_key: id
mapping:                         # canonical field: source column (see docs/silos.md)
{_mapping_lines(guess_starter_mapping(columns))}facts: []                        # e.g. - {{name: balance, column: balance, type: number, agg: sum}}
# deletes: {{column: is_deleted, value: true}}   # or {{mode: full_refresh}}
"""


def guess_primary_key(sample) -> list[str]:
    """An id-like column ('ID', 'Customer No', 'Kunden-Nr', 'Kundennummer', 'N° client', 'Client #')
    whose sample values are all present and distinct, and that holds no customer field ('Phone No')."""
    spellings = {name for names in GUESSES.values() for name in names}
    for column in sample.columns:
        stem = _id_stem(str(column))
        if stem is not None and stem not in spellings and sample[column].notna().all() and sample[column].is_unique:
            return [str(column)]
    return []


_NUMBER_SIGNS = str.maketrans({"°": "o", "º": "o", "#": " no "})  # 'N° client', 'Client #'
_ID_SUFFIX = re.compile(r"(id|no|nr|num|number|nummer|numero)$")
# 'No. client', 'Nr. Kunde', 'Numéro de téléphone': a word after, past a linking word
_ID_PREFIX = re.compile(r"^(?:no|nr|num|numero|number)[^a-z0-9]+(?:(?:de|du|des|of|del|di)[^a-z0-9]+)?(?=[a-z])")


def _id_stem(column: str) -> str | None:
    """What an id-like column name numbers ('customer' of 'Customer No', 'client' of 'N° client'),
    compared like `column_key`; None for a name that is not id-like."""
    spaced = _folded(column.translate(_NUMBER_SIGNS))
    key = column_key(spaced)
    stem = _ID_SUFFIX.sub("", key)
    if stem != key:
        return stem
    stripped = _ID_PREFIX.sub("", spaced.strip())
    return column_key(stripped) if stripped != spaced.strip() else None


def introspect_files(path: str, glob: str):
    """(the first rows of the first file matching glob under path (any fsspec URL), the format it was
    read in, its fixed-width layout where it is such a file, else None), or Nones where no file matches."""
    import fsspec
    import pandas as pd

    from sources.compressed import decompressed
    from sources.config import FILE_SUFFIXES, FileTable, file_suffix
    from sources.csv_layout import head_lines
    from sources.dlt_sources import read_frames

    fs, root = fsspec.core.url_to_fs(path)
    matches = sorted(fs.glob(f"{root.rstrip('/')}/{glob}"))
    if not matches:
        return None, None, None

    def opened():  # decompressed, as the sync reads it ('customers.csv.gz', 'export.csv.zip')
        return decompressed(lambda: fs.open(matches[0], "rb"), matches[0])

    suffix = file_suffix(matches[0])
    encoding = detect_encoding(opened, matches[0]) if suffix not in NOT_TEXT else None
    file_format, layout = FILE_SUFFIXES.get(suffix, "csv"), None
    with opened() as handle:
        if file_format in ("csv", "fixed_width"):  # a '.txt' or '.dat' drop may be a mainframe's fixed-width records
            lines = head_lines(handle, encoding)  # read without moving the handle
            if file_format == "fixed_width" or looks_fixed_width(lines):
                file_format, layout = "fixed_width", infer_columns(lines)
        table = FileTable(name="sample", path=path, glob=glob, format=file_format,
                          fixed_width={"columns": layout} if layout else {})
        first = next(read_frames(handle, table, encoding, matches[0]), None)
    if first is None:
        return pd.DataFrame(), file_format, layout
    return (first if isinstance(first, pd.DataFrame) else first.to_pandas()).head(200), file_format, layout


# kind -> (schedule, max_retries, backoff_seconds) a starter proposes: an API is asked more often, with
# more and shorter retries (rate limits pass quickly)
_STARTER_SCHEDULES = {"sql": ("0 * * * *", 3, 30), "files": ("0 * * * *", 3, 30), "rest": ("*/30 * * * *", 4, 15)}


def silo_header(name: str, kind: str) -> str:
    """The first keys of a starter file: name, kind, description, schedule and retries."""
    schedule, retries, backoff = _STARTER_SCHEDULES[kind]
    return (f'name: {name}\nkind: {kind}\ndescription: ""\nschedule: "{schedule}"            # cron: when Dagster '
            f"syncs this silo\nretries: {{max_retries: {retries}, backoff_seconds: {backoff}}}")


def _country_line(country: str | None) -> str:
    if country:
        return f"country: {country}                      # read from the sample's email domains and phone prefixes"
    return "country: US                      # TODO: the country of this silo's customers (ISO-2): phones, dates, addresses"


def files_starter(name: str, path: str | None = None, glob: str = "*.csv") -> str:
    sample, file_format, layout = introspect_files(path, glob) if path and "${" not in path else (None, None, None)
    columns = [str(c) for c in sample.columns] if sample is not None else []
    pk = guess_primary_key(sample) if sample is not None else []
    mapping = guess_starter_mapping(columns)
    country = guess_country(sample, mapping) if sample is not None else None
    cursor = guess_cursor(columns)
    if cursor and "source_updated_at" not in mapping:
        mapping["source_updated_at"] = cursor
    listed = f"\n# columns found in the first file: {', '.join(columns)}" if columns else ""
    return f"""\
# Silo {name}: file drops (CSV, fixed-width text, JSON, JSON Lines, XML, Parquet or Excel) in a folder or any fsspec URL.{listed}
# Only new or changed files are read on each sync; a Dagster sensor notices new files.
# Review every line, then run `hub silos check {name}`.
{silo_header(name, "files")}
{_country_line(country)}
files:
  tables:
    - name: customers
      path: {path or "${" + name.upper() + "_DIR}"}
      glob: "{glob}"                # the format follows the extension; else add `format:`
      primary_key: {_yaml_columns(pk if len(pk) > 1 else pk[0]) if pk else "id              # TODO: the column that identifies a row"}
      csv: {{encoding: auto, header: true}}   # {"encoding and header line" if layout else "delimiter, encoding and title lines above the header"}: read from each file
{_format_lines(glob, file_format, layout)}sensor: {{enabled: true, minimum_interval_seconds: 60}}
mapping:                           # canonical field: source column (see docs/silos.md)
{_mapping_lines(mapping)}  # name: {{column: customer_name, form: last_first_comma}}   # or first_last, last_first, free
  # address: {{column: address, form: one_line}}              # "12 Oak St, Springfield, IL 62704"
  # birth_date: {{column: dob, formats: ["%Y-%m-%d", "%m/%d/%Y"]}}
facts: []                          # e.g. - {{name: balance, column: balance, type: number, agg: sum}}
"""


def _format_lines(glob: str, file_format: str | None, layout: list[dict] | None) -> str:
    """`format:` where the glob does not say it ('*.gz', '*.dat'), and a fixed-width layout read from
    the header, written out for the person who knows the record layout."""
    from sources.config import FILE_SUFFIXES, file_suffix

    if not layout:
        return f"      format: {file_format}\n" if file_format and file_suffix(glob) not in FILE_SUFFIXES else ""
    fields = "".join(f"          - {{name: {_yaml_text(c['name'])}, start: {c['start']}, width: {c['width']}}}\n"
                     for c in layout)
    return ("      format: fixed_width            # no delimiter: each field at a fixed position\n"
            "      fixed_width:                   # read from the header line: check it against the record layout\n"
            f"        columns:\n{fields}")

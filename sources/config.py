"""Silo config files: the pydantic model of one `silos/*.yaml` file and its loader.

A silo file is the only thing an IT team writes to plug a department in. Errors name the file, the
line, the field and the fix. `${VAR}` / `${VAR:-default}` are taken from the environment when the file
is loaded; a missing variable does not fail loading (Dagster loads every file at import) but is kept in
`missing_env` and fails `check` and `sync` of that silo only.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from sources.compressed import COMPRESSIONS  # opened decompressed: the format is the suffix before
from sources.errors import SiloConfigError
from sources.yaml_lines import line_of, load_with_lines

CANONICAL_FIELDS = (
    "source_record_id", "given_name", "family_name", "full_name", "email", "phone", "address_line",
    "city", "region", "postcode", "country", "birth_date", "national_id", "company", "source_updated_at",
)
# Composite inputs that expand into several canonical fields according to their declared form.
COMPOSITE_FIELDS = {"name": ("last_first_comma", "first_last", "last_first", "free"), "address": ("one_line", "street")}
DATE_FIELDS = ("birth_date", "source_updated_at")
ENV_PATTERN = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class Retries(_Strict):
    max_retries: int = Field(3, ge=0, le=20)
    backoff_seconds: float = Field(30.0, ge=0)


# Fields whose parts are read together when a silo splits them over several columns ('street_1',
# 'street_2'; 'first', 'middle'); the other fields take the first filled column ('mobile', 'home_phone').
JOINED_FIELDS = frozenset({"name", "given_name", "family_name", "full_name", "address", "address_line", "company"})


class FieldMap(_Strict):
    """Where one canonical field comes from: a source column, several columns, or a constant `value`."""
    column: str | None = None
    columns: list[str] | None = Field(None, min_length=1)
    value: Any = None
    form: str | None = None
    formats: list[str] | None = None
    combine: Literal["join", "first"] | None = None  # for `columns`; the default depends on the field

    @model_validator(mode="after")
    def _one_source(self) -> "FieldMap":
        if sum(x is not None for x in (self.column, self.columns, self.value)) != 1:
            raise ValueError("give exactly one of `column:` (a source column), `columns:` (several) or "
                             "`value:` (a constant)")
        if self.combine is not None and self.columns is None:
            raise ValueError("`combine:` goes with `columns:`")
        return self

    def source_columns(self) -> list[str]:
        """The source columns this field reads ([] for a constant)."""
        return self.columns or ([self.column] if self.column is not None else [])

    def combine_for(self, field: str) -> str:
        """How several columns make one value: 'join' (with spaces) or 'first' (the first filled)."""
        return self.combine or ("join" if field in JOINED_FIELDS else "first")


class Mapping(_Strict):
    """Canonical field -> source column (a plain string) or a FieldMap."""
    source_record_id: FieldMap | None = None
    name: FieldMap | None = None
    given_name: FieldMap | None = None
    family_name: FieldMap | None = None
    full_name: FieldMap | None = None
    email: FieldMap | None = None
    phone: FieldMap | None = None
    address: FieldMap | None = None
    address_line: FieldMap | None = None
    city: FieldMap | None = None
    region: FieldMap | None = None
    postcode: FieldMap | None = None
    country: FieldMap | None = None
    birth_date: FieldMap | None = None
    national_id: FieldMap | None = None
    company: FieldMap | None = None
    source_updated_at: FieldMap | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _column_shorthand(cls, value: Any) -> Any:
        return {"column": value} if isinstance(value, str) else value

    @field_validator("name", "address")
    @classmethod
    def _declared_form(cls, spec: FieldMap | None, info: Any) -> FieldMap | None:
        forms = COMPOSITE_FIELDS[info.field_name]
        if spec is not None and spec.form not in forms:
            raise ValueError(f"add `form:` with one of {', '.join(forms)} (got {spec.form!r})")
        return spec

    def items(self) -> list[tuple[str, FieldMap]]:
        return [(k, v) for k, v in self if v is not None]

    def columns(self) -> dict[str, list[str]]:
        """Mapped field -> its source columns, for the fields read from columns."""
        return {k: v.source_columns() for k, v in self.items() if v.source_columns()}


class Fact(_Strict):
    """A departmental fact for the customer-360 view (balance, credit limit ...)."""
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    column: str
    type: Literal["number", "text", "date", "bool"] = "number"
    agg: Literal["sum", "max", "min", "latest", "any"] = "latest"
    formats: list[str] | None = None


class Deletes(_Strict):
    """How the silo tells a deleted row: a flag column, or absence on a full refresh."""
    mode: Literal["flag", "full_refresh"] = "flag"
    column: str | None = None
    value: Any = True  # the flag's value for a deleted row, or a list of them (status: [closed, deleted])
    filled: bool = False  # deleted when the column holds anything at all (a soft delete's deleted_at)

    @model_validator(mode="after")
    def _flag_needs_column(self) -> "Deletes":
        if self.mode == "flag" and not self.column:
            raise ValueError("mode flag needs `column:` (the delete flag column) and `value:`")
        return self


class Sensor(_Strict):
    enabled: bool = True
    minimum_interval_seconds: int = Field(60, ge=5)


class SqlTable(_Strict):
    name: str
    query: str | None = None  # a custom SELECT; `name` then names the raw table
    primary_key: list[str] | None = None
    cursor: str | None = None

    @field_validator("primary_key", mode="before")
    @classmethod
    def _pk_as_list(cls, value: Any) -> Any:
        return _as_list(value)


class SqlSpec(_Strict):
    url: SecretStr  # a SQLAlchemy URL; may hold a password, so it is never printed
    schema_: str | None = Field(None, alias="schema")
    tables: list[SqlTable] = Field(min_length=1)
    chunk_size: int = Field(10_000, ge=1)

    @field_validator("url")
    @classmethod
    def _sqlalchemy_url(cls, url: SecretStr) -> SecretStr:
        from sqlalchemy.engine import make_url

        value = url.get_secret_value()
        if value:  # empty: its environment variable is missing, reported as such
            try:
                make_url(value)
            except Exception:
                raise ValueError("not a SQLAlchemy URL; write e.g. postgresql+psycopg2://user:${DB_PASSWORD}"
                                 "@host:5432/db, mysql+pymysql://..., sqlite:////path/file.db") from None
        return url


class CsvOptions(_Strict):
    delimiter: str | None = None  # None: read from the file (comma, semicolon, tab or pipe; csv_layout.py)
    encoding: str = "auto"  # UTF-8 when the file is, else what its bytes show (sources/encoding.py)
    header: bool = True
    column_names: list[str] | None = None
    quotechar: str = '"'
    skip_rows: int | None = Field(None, ge=0)  # None: a report's title lines above the header are skipped


class FixedWidthColumn(_Strict):
    """One field of a fixed-width record, as record layouts document it: 1-based start and width."""
    name: str = Field(min_length=1)
    start: int = Field(ge=1)
    width: int = Field(ge=1)


class FixedWidthOptions(_Strict):
    columns: list[FixedWidthColumn] | None = Field(None, min_length=1)  # None: read from each file's header

    @field_validator("columns")
    @classmethod
    def _apart(cls, columns: list[FixedWidthColumn] | None) -> list[FixedWidthColumn] | None:
        """Fields neither share a name nor overlap ('last_name' 9-28 and 'first_name' 20-29 would)."""
        names = [c.name for c in columns or []]
        if len(set(names)) != len(names):
            raise ValueError(f"field names repeat: {sorted({n for n in names if names.count(n) > 1})}")
        ordered = sorted(columns or [], key=lambda c: c.start)
        for a, b in zip(ordered, ordered[1:]):
            if a.start + a.width > b.start:
                raise ValueError(f"fields {a.name!r} (characters {a.start}-{a.start + a.width - 1}) and {b.name!r} "
                                 f"(from {b.start}) overlap")
        return columns


FILE_SUFFIXES = {"csv": "csv", "tsv": "csv", "txt": "csv", "jsonl": "jsonl", "ndjson": "jsonl", "json": "json",
                 "xml": "xml", "parquet": "parquet", "xlsx": "excel", "xls": "excel", "fwf": "fixed_width"}
FILE_FORMATS = ("csv", "jsonl", "json", "xml", "parquet", "excel", "fixed_width")


class FileTable(_Strict):
    name: str
    path: str  # a local folder or any fsspec URL (s3://, gs://, file://)
    format: Literal["csv", "jsonl", "json", "xml", "parquet", "excel", "fixed_width"] | None = None  # before glob: glob checks it
    glob: str = "*"
    csv: CsvOptions = CsvOptions()  # encoding, header and skip_rows apply to fixed-width text too
    fixed_width: FixedWidthOptions = FixedWidthOptions()
    sheet: str | int = 0
    # a JSON or XML document's records: dotted path to their list ('data', 'export.customers'); by
    # default the document itself when it is a list, else its one list of objects
    data_selector: str | None = None
    primary_key: list[str] | None = None

    @field_validator("primary_key", mode="before")
    @classmethod
    def _pk_as_list(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("glob")
    @classmethod
    def _format_known(cls, glob: str, info: Any) -> str:
        if info.data.get("format") is None and file_suffix(glob) not in FILE_SUFFIXES:
            raise ValueError(f"cannot tell the file format from glob {glob!r}; add `format:` "
                             f"({', '.join(FILE_FORMATS)})")
        return glob

    @model_validator(mode="after")
    def _infer_format(self) -> "FileTable":
        if self.format is None:
            self.format = FILE_SUFFIXES[file_suffix(self.glob)]  # type: ignore[assignment]
        return self


def file_suffix(glob: str) -> str:
    """The suffix that names a file's format: 'csv' for '*.csv' and for 'customers.csv.gz'."""
    parts = glob.lower().rsplit(".", 2)
    if len(parts) == 3 and parts[-1] in COMPRESSIONS:
        return parts[-2]
    return parts[-1] if len(parts) > 1 else ""


class FilesSpec(_Strict):
    tables: list[FileTable] = Field(min_length=1)


class RestAuth(_Strict):
    type: Literal["bearer", "api_key", "http_basic", "oauth2_client_credentials"]
    token: SecretStr | None = None
    api_key: SecretStr | None = None
    name: str = "X-API-Key"
    location: Literal["header", "query"] = "header"
    username: str | None = None
    password: SecretStr | None = None
    # OAuth 2 client credentials (machine-to-machine: CRMs, ERPs): a token is fetched from
    # access_token_url with the client id and secret, and fetched again when it expires
    access_token_url: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    access_token_request_data: dict[str, Any] = {}  # e.g. {scope: contacts.read} or {audience: ...}

    @model_validator(mode="after")
    def _secret_given(self) -> "RestAuth":
        needed = {"bearer": ("token",), "api_key": ("api_key",), "http_basic": ("username", "password"),
                  "oauth2_client_credentials": ("access_token_url", "client_id", "client_secret")}[self.type]
        missing = [f for f in needed if getattr(self, f) is None]
        if missing:
            raise ValueError(f"auth type {self.type} needs {', '.join(missing)} (from an environment "
                             "variable, e.g. token: ${MY_API_TOKEN})")
        return self


class RestIncremental(_Strict):
    param: str  # query parameter sent with the last seen value, e.g. updated_since
    cursor_path: str  # field of each record holding its update time
    # the first sync's lower bound, typed as the cursor is: a timestamp, or 0 for Unix time
    initial_value: str | int | float = "1970-01-01T00:00:00Z"


class RestEndpoint(_Strict):
    name: str
    path: str
    params: dict[str, Any] = {}
    data_selector: str | None = None
    paginator: dict[str, Any] | str | None = None
    primary_key: list[str] | None = None
    incremental: RestIncremental | None = None

    @field_validator("primary_key", mode="before")
    @classmethod
    def _pk_as_list(cls, value: Any) -> Any:
        return _as_list(value)


class RestSpec(_Strict):
    base_url: str
    auth: RestAuth | None = None
    headers: dict[str, str] = {}
    paginator: dict[str, Any] | str | None = None  # dlt rest_api paginator config (page_number, offset ...)
    endpoints: list[RestEndpoint] = Field(min_length=1)


class SiloConfig(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["sql", "files", "rest"]
    description: str = ""
    schedule: str = "0 * * * *"
    retries: Retries = Retries()
    primary_key: list[str] | None = None
    cursor: str | None = None
    country: str | None = None
    sql: SqlSpec | None = None
    files: FilesSpec | None = None
    rest: RestSpec | None = None
    sensor: Sensor | None = None
    mapping: Mapping
    facts: list[Fact] = []
    deletes: Deletes | None = None
    # Filled by the loader, not by the file.
    path: Path | None = None
    missing_env: list[str] = []

    @field_validator("primary_key", mode="before")
    @classmethod
    def _pk_as_list(cls, value: Any) -> Any:
        return _as_list(value)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a cron expression; write e.g. \"0 * * * *\" (hourly)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> "SiloConfig":
        if getattr(self, self.kind) is None:
            raise ValueError(f"kind {self.kind} needs a `{self.kind}:` section")
        for other in {"sql", "files", "rest"} - {self.kind}:
            if getattr(self, other) is not None:
                raise ValueError(f"kind is {self.kind} but the file has a `{other}:` section; remove it")
        for table in self.tables():
            if not self.table_primary_key(table):
                raise ValueError(f"table {table} has no primary key; add `primary_key:` to the silo or the table")
        if self.mapping.source_record_id is None and not self.primary_key:
            keys = {tuple(self.table_primary_key(t)) for t in self.tables()}
            if len(keys) > 1:
                raise ValueError("tables have different primary keys; map `source_record_id:` explicitly")
        names = [f.name for f in self.facts]
        if len(names) != len(set(names)):
            raise ValueError(f"fact names must be unique (got {names})")
        if self.kind == "files" and self.sensor is None:
            self.sensor = Sensor()
        return self

    # --- helpers used by the builders ---------------------------------------------------------
    def _specs(self) -> list[Any]:
        spec = getattr(self, self.kind)
        return spec.endpoints if self.kind == "rest" else spec.tables

    def tables(self) -> list[str]:
        """Names of the raw tables this silo loads (one dlt resource each)."""
        return [t.name for t in self._specs()]

    def table_primary_key(self, table: str) -> list[str]:
        spec = next(t for t in self._specs() if t.name == table)
        return list(spec.primary_key or self.primary_key or [])

    def record_id_columns(self) -> list[str]:
        if self.mapping.source_record_id is not None and self.mapping.source_record_id.source_columns():
            return self.mapping.source_record_id.source_columns()
        return self.primary_key or self.table_primary_key(self.tables()[0])

    def default_cursor(self) -> str | None:
        """The column `source_updated_at` defaults to: the silo's cursor, else the one its tables share."""
        if self.cursor:
            return self.cursor
        if self.kind == "sql":
            found = {t.cursor for t in self.sql.tables if t.cursor}
        elif self.kind == "rest":
            found = {e.incremental.cursor_path for e in self.rest.endpoints if e.incremental}
        else:
            found = set()
        return found.pop() if len(found) == 1 else None

    def mapped_columns(self) -> list[str]:
        """Every source column the mapping, facts and delete flag read (the drift check's list)."""
        cols = [c for used in self.mapping.columns().values() for c in used] + [f.column for f in self.facts]
        if self.deletes is not None and self.deletes.mode == "flag" and self.deletes.column:
            cols.append(self.deletes.column)
        cols += [c for c in self.record_id_columns() if c not in cols]
        return list(dict.fromkeys(cols))

    def display_path(self) -> str:
        return str(self.path) if self.path else f"<silo {self.name}>"


# --- loading ---------------------------------------------------------------------------------

def _interpolate(data: Any, path: tuple, missing: list[tuple[tuple, str]]) -> Any:
    """Replace ${VAR} / ${VAR:-default} in every string; record variables that are not set."""
    if isinstance(data, dict):
        return {k: _interpolate(v, path + (k,), missing) for k, v in data.items()}
    if isinstance(data, list):
        return [_interpolate(v, path + (i,), missing) for i, v in enumerate(data)]
    if not isinstance(data, str):
        return data

    def substitute(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if value is None or (value == "" and default is not None):
            if default is not None:
                return default
            missing.append((path, name))
            return ""
        return value

    return ENV_PATTERN.sub(substitute, data)


def _format_validation(exc: ValidationError, where: str, lines: dict) -> str:
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # pydantic puts union member names (e.g. "FieldMap") into loc; they are not YAML keys
        loc = tuple(p for p in loc if not (isinstance(p, str) and p[:1].isupper()))
        line = line_of(loc, lines)
        field = ".".join(str(p) for p in loc) or "(top level)"
        problems.append(f"{where}, line {line}, field {field}: {_explain(err, loc)}")
    return "\n".join(problems)


def _explain(err: dict, loc: tuple) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "missing":
        return f"required field is missing; add `{loc[-1]}:`"
    if kind == "extra_forbidden":
        if len(loc) >= 2 and loc[-2] == "mapping":
            allowed = ", ".join(("name", "address") + CANONICAL_FIELDS)
            return f"unknown canonical field {loc[-1]!r}; map one of: {allowed}"
        return f"unknown field {loc[-1]!r}; remove it or fix its spelling"
    if kind == "string_type" and isinstance(err.get("input"), bool):
        # YAML 1.1 reads a bare no, yes, on, off, true or false as a boolean
        return f"{msg}; YAML read a bare word as {err['input']} (a column named No, Yes, On or Off): quote it, 'No'"
    return msg.removeprefix("Value error, ")


def load_silo(path: Path | str) -> SiloConfig:
    """Read and validate one silo file; raise SiloConfigError naming file, line, field and fix."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SiloConfigError(f"{path}: cannot read the silo file ({exc.strerror})") from exc
    try:
        data, lines = load_with_lines(text)
    except Exception as exc:  # yaml.YAMLError carries the mark
        mark = getattr(exc, "problem_mark", None)
        line = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SiloConfigError(f"{path}{line}: malformed YAML: {problem}; fix the indentation/quoting there") from exc
    if not isinstance(data, dict):
        raise SiloConfigError(f"{path}, line 1: a silo file must be a mapping of keys (name:, kind:, ...)")
    for reserved in ("path", "missing_env"):
        if reserved in data:
            raise SiloConfigError(f"{path}, line {line_of((reserved,), lines)}, field {reserved}: unknown field "
                                  f"{reserved!r}; remove it (the hub fills it in)")
    missing: list[tuple[tuple, str]] = []
    data = _interpolate(data, (), missing)
    try:
        silo = SiloConfig.model_validate({**data, "path": path})
    except ValidationError as exc:
        raise SiloConfigError(_format_validation(exc, str(path), lines)) from None
    silo.missing_env = [
        f"{path}, line {line_of(p, lines)}, field {'.'.join(map(str, p))}: environment variable {name} is not set; "
        f"export {name}=... (or give a default: ${{{name}:-value}})"
        for p, name in missing
    ]
    return silo


def load_silos(folder: Path | str) -> list[SiloConfig]:
    """Load every `*.yaml`/`*.yml` file in folder (sorted); errors of all files are reported together."""
    silos, errors = load_valid_silos(folder)
    if errors:
        raise SiloConfigError("\n".join(errors))
    return silos


def load_valid_silos(folder: Path | str) -> tuple[list[SiloConfig], list[str]]:
    """The valid silo files of a folder and the errors of the others, so one broken file need not
    stop the other silos (e.g. in a Dagster code location); a duplicated name drops every copy."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SiloConfigError(f"{folder}: silo folder not found; create it or set HUB_SILOS_DIR")
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    silos, errors = [], []
    for file in files:
        try:
            silos.append(load_silo(file))
        except SiloConfigError as exc:
            errors.append(str(exc))
    names = [s.name for s in silos]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        errors.append(f"{folder}: silo names must be unique; {', '.join(dupes)} used more than once "
                      f"({', '.join(str(s.path.name) for s in silos if s.name in dupes)})")
        silos = [s for s in silos if s.name not in dupes]
    return silos, errors


def require_env(silo: SiloConfig) -> None:
    """Raise if the silo file refers to environment variables that are not set."""
    if silo.missing_env:
        raise SiloConfigError("\n".join(silo.missing_env))

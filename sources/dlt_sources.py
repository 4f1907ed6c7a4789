"""Build one dlt source per silo from its config, on top of dlt's own sql_database, filesystem and
rest_api sources. Building touches neither the network nor the files: Dagster builds every silo's
source when it imports the code location, and a silo that is down must not break the others."""
from __future__ import annotations

import json
import logging
import os
import re
from collections import defaultdict
from typing import Any, Callable, Iterator

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")

import dlt  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
from dlt.common.normalizers.naming.snake_case import NamingConvention  # noqa: E402
from dlt.sources import DltResource, DltSource  # noqa: E402

from sources.compressed import decompressed  # noqa: E402
from sources.config import FileTable, SiloConfig, SqlTable  # noqa: E402
from sources.csv_layout import csv_layout, head_lines, sheet_title_rows  # noqa: E402
from sources.encoding import AUTO, UndecodableFileError, describe_decode_error, detect_encoding  # noqa: E402
from sources.errors import MalformedFileError, SiloConfigError  # noqa: E402
from sources.fixed_width import read_fixed_width  # noqa: E402

NAMING = NamingConvention()


class _QuietArrowHints(logging.Filter):
    """dlt warns whenever a primary key's NOT NULL hint differs from Arrow's nullable flag, on every
    file and SQL batch; the difference is expected and harmless here, so keep it out of the logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "when merging arrow schema with dlt schema" not in record.getMessage()


logging.getLogger("dlt").addFilter(_QuietArrowHints())
SAMPLE_ROWS = 5  # rows per table read by `hub silos check`
FILE_COLUMN = "_source_file"  # added to file rows so lineage can name the file a row came from


def normalise(name: str) -> str:
    """A source column name as dlt stores it (snake_case naming convention); a nested field's path
    keeps its `__` ('address__line1' is the column dlt flattens {"address": {"line1": ...}} into)."""
    return NAMING.normalize_path(name)


class ColumnObserver:
    """Records, per table, the columns and row count actually seen during extraction (drift check)."""

    def __init__(self) -> None:
        self.columns: dict[str, set[str]] = defaultdict(set)
        self.rows: dict[str, int] = defaultdict(int)

    def watch(self, table: str) -> Callable[[Any], Any]:
        def observe(item: Any) -> Any:
            if isinstance(item, pa.Table):
                self.columns[table].update(item.column_names)
                self.rows[table] += item.num_rows
            elif isinstance(item, pd.DataFrame):
                self.columns[table].update(map(str, item.columns))
                self.rows[table] += len(item)
            elif isinstance(item, dict):
                self.columns[table].update(_flat_keys(item))
                self.rows[table] += 1
            return item

        return observe

    def seen(self, table: str) -> set[str]:
        return {normalise(c) for c in self.columns.get(table, set())}


def _flat_keys(row: dict) -> Iterator[str]:
    # dlt flattens nested objects into parent__child columns; report those names too
    for key, value in row.items():
        yield key
        if isinstance(value, dict):
            yield from (f"{key}__{sub}" for sub in value)


def build_source(silo: SiloConfig, observer: ColumnObserver | None = None,
                 full_refresh: bool = False, sample: bool = False) -> DltSource:
    """The dlt source of one silo: one resource per table/endpoint, merged on its primary key.

    `full_refresh` (or `deletes: {mode: full_refresh}` in the file) reads everything instead of only
    what changed, so rows missing from the silo can be detected as deleted. `sample` reads only the
    first page/chunk/file of each table (for `hub silos check`).
    """
    full = full_refresh or (silo.deletes is not None and silo.deletes.mode == "full_refresh")
    if silo.missing_env:
        resources = [_failing_resource(silo, table, "\n".join(silo.missing_env)) for table in silo.tables()]
    else:
        builder = {"sql": _sql_resources, "files": _file_resources, "rest": _rest_resources}[silo.kind]
        try:
            resources = list(builder(silo, full, sample))
        except Exception as exc:  # e.g. a database driver that is not installed: fail this silo only
            message = f"silo {silo.name}: cannot build its source: {type(exc).__name__}: {exc}"
            resources = [_failing_resource(silo, table, message) for table in silo.tables()]
    if silo.kind in ("sql", "files"):
        for resource in resources:
            resource.add_map(as_text)
    updated = _updated_column(silo)
    if updated and not silo.missing_env:
        for resource in resources:
            # two versions of a row in one load (e.g. in two dropped files): the newest one is kept
            resource.apply_hints(columns={updated: {"name": updated, "dedup_sort": "desc"}})
    if observer is not None:
        for resource in resources:
            resource.add_map(observer.watch(resource.name))

    def silo_resources() -> list[DltResource]:
        return resources

    return dlt.source(silo_resources, name=silo.name, max_table_nesting=1)()


def _updated_column(silo: SiloConfig) -> str | None:
    spec = silo.mapping.source_updated_at
    return spec.source_columns()[0] if spec is not None and spec.source_columns() else silo.default_cursor()


def as_text(item: Any) -> Any:
    """Raw tables keep every value as text, as the silo wrote it.

    Types are applied by the mapping, where a value that cannot be read sends its row to the
    rejected records with the reason. Typed raw columns would instead make a later batch with a
    stray value ("lots" in a number column) fail the whole load at the destination.
    """
    if isinstance(item, pa.Table):
        return pa.table(dict(_text_columns(item)))
    if isinstance(item, pd.DataFrame):
        return item.astype(object).where(item.notna(), None).astype("string")
    return item


def _text_columns(table: pa.Table) -> Iterator[tuple[str, pa.ChunkedArray]]:
    """(name, text column) pairs; a database's JSON object column (PostgreSQL jsonb read as a struct:
    `address {street, city, zip}`) spread one level into parent__child columns, as for files and APIs."""
    for name, column in zip(table.column_names, table.columns):
        if pa.types.is_struct(column.type):
            for child in column.type:
                yield f"{name}__{child.name}", _text_column(pc.struct_field(column, child.name))
        else:
            yield name, _text_column(column)


def _text_column(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    try:
        return column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a list or a nested object: its JSON text
        return pa.chunked_array([pa.array([None if v is None else json.dumps(v, default=str, ensure_ascii=False)
                                           for v in column.to_pylist()], type=pa.string())])


def _failing_resource(silo: SiloConfig, table: str, message: str) -> DltResource:
    """A resource that fails when run, so a silo that cannot be built fails only its own assets."""

    def rows() -> Iterator[dict]:
        raise SiloConfigError(message)
        yield {}  # pragma: no cover - makes this a generator

    return dlt.resource(rows, name=table, primary_key=silo.table_primary_key(table), write_disposition="merge")


# --- SQL --------------------------------------------------------------------------------------

def _sql_resources(silo: SiloConfig, full: bool, sample: bool) -> Iterator[DltResource]:
    from dlt.sources.sql_database import sql_table

    spec = silo.sql
    url = spec.url.get_secret_value()
    for table in spec.tables:
        cursor = None if full else (table.cursor or silo.cursor)
        pk = silo.table_primary_key(table.name)
        if table.query:
            resource = _query_resource(url, table, pk, cursor, spec.chunk_size)
        else:
            resource = sql_table(
                credentials=url, table=table.name, schema=spec.schema_, defer_table_reflect=True,
                incremental=dlt.sources.incremental(cursor_path(cursor)) if cursor else None,
                write_disposition="merge", primary_key=pk, chunk_size=spec.chunk_size,
                # SQLite columns may mix types; pandas keeps them as objects until they become text.
                backend="pandas" if url.startswith("sqlite") else "pyarrow", reflection_level="minimal",
                table_adapter_callback=_table_adapter(url),
            )
        yield resource.add_limit(SAMPLE_ROWS, count_rows=True) if sample else resource


def cursor_path(column: str) -> str:
    """A cursor column as dlt's incremental takes it: a JSONPath, so 'Last Changed' is quoted."""
    return column if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", column) else json.dumps(column)


def _table_adapter(url: str) -> Callable[[Any], None] | None:
    """How a reflected table's column types are adjusted before it is read, per database."""
    if url.startswith("sqlite"):
        return _read_sqlite_values_as_text
    if url.startswith(("mysql", "mariadb")):
        def read_json_as_objects(table: Any) -> None:
            import sqlalchemy as sa

            engine = sa.create_engine(url)
            try:
                with engine.connect() as conn:
                    mark_json_columns(table, conn)
            finally:
                engine.dispose()
        return read_json_as_objects
    return None


def mark_json_columns(table: Any, conn: Any) -> None:
    """MariaDB keeps a JSON column as LONGTEXT with a `json_valid()` check, so it arrives as text and
    `address` would be mapped whole ('{"street": ...}'). Typed as JSON it arrives as objects, spread
    into address__street, address__city as PostgreSQL's jsonb and MySQL's JSON are."""
    import sqlalchemy as sa

    try:
        clauses = conn.execute(sa.text(
            "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = coalesce(:schema, DATABASE()) AND TABLE_NAME = :table"),
            {"schema": table.schema, "table": table.name}).scalars().all()
    except sa.exc.DBAPIError:  # MySQL keeps JSON typed and its CHECK_CONSTRAINTS has no TABLE_NAME
        return
    checked = {m.group(1).replace("``", "`") for clause in clauses if (m := _JSON_VALID.fullmatch(clause.strip()))}
    for column in table.columns:
        if column.name in checked:
            column.type = sa.JSON()


_JSON_VALID = re.compile(r"json_valid\(`((?:[^`]|``)+)`\)", re.IGNORECASE)


def _read_sqlite_values_as_text(table: Any) -> None:
    """SQLite stores whatever a program wrote, whatever the declared type ("lots" in a DECIMAL
    column); SQLAlchemy's typed result processing would then fail the whole extraction. Reading
    such columns as text lets the mapping reject just that row with its reason."""
    import sqlalchemy as sa

    for column in table.columns:
        if isinstance(column.type, (sa.Numeric, sa.Date, sa.DateTime, sa.Time, sa.Boolean)):
            column.type = sa.Text()


def _query_resource(url: str, table: SqlTable, pk: list[str], cursor: str | None, chunk_size: int) -> DltResource:
    """A custom SELECT as a resource; incremental by wrapping it in `WHERE cursor >= last value`."""
    import sqlalchemy as sa

    def run(last_value: Any) -> Iterator[list[dict]]:
        engine = sa.create_engine(url)
        try:
            sql, params = f"SELECT * FROM ({table.query}) AS q", {}
            if cursor and last_value is not None:
                sql += f" WHERE q.{engine.dialect.identifier_preparer.quote(cursor)} >= :last"
                params["last"] = last_value
            with engine.connect() as conn:
                result = conn.execution_options(stream_results=True).execute(sa.text(sql), params)
                while batch := result.mappings().fetchmany(chunk_size):
                    yield [dict(row) for row in batch]
        finally:
            engine.dispose()

    if cursor:
        def rows(updated=dlt.sources.incremental(cursor_path(cursor))) -> Iterator[list[dict]]:  # noqa: B008
            yield from run(updated.last_value)
    else:
        def rows() -> Iterator[list[dict]]:
            yield from run(None)

    return dlt.resource(rows, name=table.name, primary_key=pk, write_disposition="merge")


# --- files ------------------------------------------------------------------------------------

def _file_resources(silo: SiloConfig, full: bool, sample: bool) -> Iterator[DltResource]:
    from dlt.sources.filesystem import filesystem

    for table in silo.files.tables:
        listing = filesystem(
            bucket_url=_bucket_url(table.path), file_glob=table.glob,
            # only files new or modified since the last run are read again
            incremental=None if full else dlt.sources.incremental("modification_date"),
            files_per_page=1 if sample else 100,
        )
        if sample:
            listing.add_limit(1)
        reader = dlt.transformer(name=table.name)(_file_reader(table, silo.country))
        resource = (listing | reader).with_name(table.name)
        resource.apply_hints(primary_key=silo.table_primary_key(table.name), write_disposition="merge")
        yield resource


def _bucket_url(path: str) -> str:
    return path if "://" in path else os.path.abspath(os.path.expanduser(path))


def _file_reader(table: FileTable, country: str | None) -> Callable[[Any], Iterator[Any]]:
    def read_files(items: list) -> Iterator[Any]:
        for item in items:
            encoding = _csv_encoding(item, table, country)
            with _opened(item) as handle:
                for frame in read_frames(handle, table, encoding, item["file_name"]):
                    yield _with_file_name(frame, item["file_name"])

    return read_files


def _opened(item: Any) -> Any:
    """A dropped file's bytes, decompressed ('.gz', '.bz2', '.xz', a '.zip' of one file)."""
    return decompressed(lambda: item.open(compression="disable"), item["file_name"])


def _csv_encoding(item: Any, table: FileTable, country: str | None) -> str | None:
    """The silo file's csv.encoding, or for `auto` the one the file's bytes show."""
    if table.format not in ("csv", "fixed_width"):
        return None
    if table.csv.encoding != AUTO:
        return table.csv.encoding
    encoding = detect_encoding(lambda: _opened(item), item["file_name"], country)
    if encoding != "utf-8-sig":
        logging.getLogger(__name__).warning("%s/%s: not UTF-8, read as %s (csv.encoding in the silo file fixes it)",
                                            table.name, item["file_name"], encoding)
    return encoding


def read_frames(handle: Any, table: FileTable, encoding: str | None, file_name: str) -> Iterator[Any]:
    """Read one file in chunks; CSV, fixed-width and Excel values are read as text (zip codes, phones
    keep leading zeros); every other format is made text by `as_text`."""
    if table.format == "csv":
        opts = table.csv
        delimiter, skip = csv_layout(head_lines(handle, encoding), opts.delimiter, opts.quotechar, opts.header,
                                     opts.skip_rows)
        try:
            yield from pd.read_csv(
                handle, sep=delimiter, encoding=encoding, quotechar=opts.quotechar,
                header=0 if opts.header else None, names=opts.column_names, skiprows=skip,
                dtype=str, keep_default_na=False, na_values=[""], chunksize=50_000,
            )
        except UnicodeDecodeError as exc:
            raise UndecodableFileError(describe_decode_error(exc, f"{table.name}/{file_name}", encoding)) from None
        except pd.errors.ParserError as exc:
            detail = str(exc).strip().replace("Error tokenizing data. C error: ", "")
            raise MalformedFileError(f"{table.name}/{file_name}: {detail} (a field holding the delimiter needs "
                                     "quotes; check csv.delimiter and csv.quotechar)") from None
    elif table.format == "fixed_width":
        yield from read_fixed_width(handle, table.fixed_width.columns, encoding, table.csv.header,
                                    table.csv.skip_rows or 0, f"{table.name}/{file_name}")
    elif table.format == "jsonl":
        for chunk in pd.read_json(handle, lines=True, dtype=False, chunksize=50_000):
            yield flattened_frame(chunk)
    elif table.format in ("json", "xml"):
        where = f"{table.name}/{file_name}"
        document = json_document(handle, where) if table.format == "json" else xml_document(handle, where)
        rows = json_records(document, table.data_selector, where)
        for start in range(0, len(rows), 50_000):
            yield flattened_frame(pd.DataFrame.from_records(rows[start:start + 50_000]))
    elif table.format == "parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(handle).iter_batches(batch_size=50_000):
            yield pa.Table.from_batches([batch])
    else:
        book = pd.ExcelFile(handle)  # the workbook is read once; its first rows are looked at twice
        skip = table.csv.skip_rows
        if skip is None:
            skip = sheet_title_rows(book, table.sheet)
        yield book.parse(table.sheet, dtype=str, skiprows=skip)


def flattened_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Records with nested objects flattened one level into parent__child columns, as dlt does for
    APIs: only the columns holding objects are spread out, and text in the same field stays."""
    nested = [c for c in frame.columns if frame[c].dtype == object and frame[c].map(type).eq(dict).any()]
    if not nested:
        return frame
    parts = [frame.drop(columns=nested)]
    for column in nested:
        is_object = frame[column].map(lambda v: isinstance(v, dict))
        objects = frame[column].where(is_object, None).map(lambda v: v or {}).tolist()
        parts.append(pd.json_normalize(objects, max_level=0).add_prefix(f"{column}__").set_axis(frame.index))
        plain = frame[column].where(~is_object)
        if plain.notna().any():  # the same field as plain text in other records: kept as it was
            parts.append(plain.to_frame(column))
    return pd.concat(parts, axis=1)


def json_document(handle: Any, where: str) -> Any:
    try:
        return json.load(handle)
    except ValueError as exc:  # JSONDecodeError, or bytes in no Unicode encoding
        raise MalformedFileError(f"{where}: not a JSON document: {exc}") from None


def xml_document(handle: Any, where: str) -> Any:
    """An XML export as nested dicts: elements by name, attributes as plain keys ('<customer id="7">'
    gives id), an element's text beside attributes as 'text'; a repeated element is a list."""
    import xml.parsers.expat

    import xmltodict

    try:
        return xmltodict.parse(handle.read(), attr_prefix="", cdata_key="text")
    except xml.parsers.expat.ExpatError as exc:
        raise MalformedFileError(f"{where}: not an XML document: {exc}") from None


def json_records(document: Any, selector: str | None, where: str) -> list[dict]:
    """The records of a JSON or XML document: at the dotted `selector`, else the document itself when
    it is a list, else its one list of objects ({"customers": [...], "count": 2}), looked for through
    wrappers that hold one element and no more than one value of their own (<export date="...">
    <customers><customer>...); a lone object where the list would be is one record."""
    found = document
    for key in selector.split(".") if selector else []:
        if not isinstance(found, dict) or key not in found:
            raise MalformedFileError(f"{where}: no {selector!r} in the document (data_selector in the silo file)")
        found = found[key]
    if selector is None:
        found = _records_in(document, where)
    if isinstance(found, dict):
        found = [found]
    if not isinstance(found, list) or not all(isinstance(r, dict) for r in found):
        raise MalformedFileError(f"{where}: the records are not a list of objects; check data_selector in the silo file")
    return found


def _records_in(node: Any, where: str, depth: int = 0) -> Any:
    if not isinstance(node, dict):
        return node
    lists = [k for k, v in node.items() if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)]
    if len(lists) == 1:
        return node[lists[0]]
    nested = [v for v in node.values() if isinstance(v, dict)]
    scalars = sum(1 for v in node.values() if not isinstance(v, (dict, list)))
    if not lists and len(nested) == 1 and scalars < 2:
        return _records_in(nested[0], where, depth + 1)
    if not lists and depth > 0:
        return node  # '<customers><customer id="1">...</customer></customers>': one record
    raise MalformedFileError(f"{where}: cannot tell which list holds the records (lists of objects: "
                             f"{', '.join(lists) or 'none'}); set data_selector in the silo file")


def _with_file_name(frame: Any, name: str) -> Any:
    if isinstance(frame, pa.Table):
        return frame.append_column(FILE_COLUMN, pa.array([name] * frame.num_rows, pa.string()))
    return frame.assign(**{FILE_COLUMN: name})


# --- REST -------------------------------------------------------------------------------------

def _rest_resources(silo: SiloConfig, full: bool, sample: bool) -> list[DltResource]:
    from dlt.sources.rest_api import rest_api_resources

    spec = silo.rest
    client: dict[str, Any] = {"base_url": spec.base_url.rstrip("/") + "/", "headers": dict(spec.headers)}
    if spec.paginator is not None:
        client["paginator"] = spec.paginator
    if spec.auth is not None:
        client["auth"] = _rest_auth(spec.auth)
    resources = []
    for ep in spec.endpoints:
        params = dict(ep.params)
        if ep.incremental is not None and not full:
            params[ep.incremental.param] = {
                "type": "incremental", "cursor_path": ep.incremental.cursor_path,
                "initial_value": ep.incremental.initial_value,
            }
        endpoint: dict[str, Any] = {"path": ep.path, "params": params}
        if ep.data_selector:
            endpoint["data_selector"] = ep.data_selector
        if ep.paginator is not None:
            endpoint["paginator"] = ep.paginator
        resources.append({"name": ep.name, "primary_key": silo.table_primary_key(ep.name),
                          "write_disposition": "merge", "endpoint": endpoint})
    built = rest_api_resources({"client": client, "resources": resources})
    return [r.add_limit(SAMPLE_ROWS, count_rows=True) for r in built] if sample else built


def _rest_auth(auth: Any) -> dict[str, Any]:
    secret = lambda s: s.get_secret_value() if s is not None else None  # noqa: E731
    if auth.type == "bearer":
        return {"type": "bearer", "token": secret(auth.token)}
    if auth.type == "api_key":
        return {"type": "api_key", "name": auth.name, "api_key": secret(auth.api_key), "location": auth.location}
    if auth.type == "oauth2_client_credentials":
        return {"type": "oauth2_client_credentials", "access_token_url": auth.access_token_url,
                "client_id": auth.client_id, "client_secret": secret(auth.client_secret),
                "access_token_request_data": dict(auth.access_token_request_data)}
    return {"type": "http_basic", "username": auth.username, "password": secret(auth.password)}

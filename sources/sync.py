"""Run one silo's dlt pipeline into the warehouse, guard it against schema drift, read its raw rows."""
from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")
# dlt keeps every loaded file (silo rows, personal data) under .dlt_pipelines/ unless told not to: the
# warehouse is the only copy we keep, so an encrypted warehouse and an erasure leave nothing behind.
os.environ.setdefault("LOAD__DELETE_COMPLETED_JOBS", "true")

import dlt  # noqa: E402
import duckdb  # noqa: E402
import pandas as pd  # noqa: E402
from dlt.pipeline.exceptions import PipelineStepFailed  # noqa: E402

from sources.config import SiloConfig, require_env  # noqa: E402
from sources.dlt_sources import ColumnObserver, build_source, normalise  # noqa: E402
from sources.errors import SchemaDriftError, SiloConfigError, SiloSyncError, root_cause  # noqa: E402

REFRESH_DELETED = "_deleted_by_refresh"  # read_raw flag: row absent from the latest full refresh


@dataclass
class SyncReport:
    silo: str
    rows_loaded: dict[str, int] = field(default_factory=dict)  # raw table -> rows written this run
    new_columns: dict[str, list[str]] = field(default_factory=dict)  # drift report
    load_id: str | None = None
    full_refresh: bool = False
    seconds: float = 0.0
    resources: dict[str, str] = field(default_factory=dict)  # dlt resource name -> raw table name

    @property
    def total_rows(self) -> int:
        return sum(self.rows_loaded.values())

    @property
    def rows_by_table(self) -> dict[str, int]:
        """Rows loaded keyed by both the dlt resource name (as in the silo file) and the raw table name."""
        by_resource = {r: self.rows_loaded.get(t, 0) for r, t in self.resources.items()}
        return {**self.rows_loaded, **by_resource}


def pipeline_name(silo: SiloConfig) -> str:
    return f"hub_{silo.name}"


def dataset_name(silo: SiloConfig) -> str:
    return f"raw_{silo.name}"


DestinationOpener = Callable[[Path], "duckdb.DuckDBPyConnection | None"]


def make_pipeline(silo: SiloConfig, warehouse: Path, pipelines_dir: Path,
                  connection: duckdb.DuckDBPyConnection | None = None) -> dlt.Pipeline:
    """The silo's own dlt pipeline: DuckDB at `warehouse` (or through the open `connection` to it, for
    an encrypted warehouse, which dlt cannot open by path), dataset raw_<silo>, state in pipelines_dir."""
    Path(warehouse).parent.mkdir(parents=True, exist_ok=True)
    return dlt.pipeline(
        pipeline_name=pipeline_name(silo),
        destination=dlt.destinations.duckdb(connection if connection is not None else str(warehouse)),
        dataset_name=dataset_name(silo),
        pipelines_dir=str(pipelines_dir),
    )


@contextmanager
def _loading_pipeline(silo: SiloConfig, warehouse: Path, pipelines_dir: Path,
                      open_destination: DestinationOpener | None) -> Iterator[dlt.Pipeline]:
    """The pipeline for one step that touches the warehouse; a connection opened for it is closed after,
    so the file is held only while dlt reads or writes it (not during a slow extraction)."""
    connection = open_destination(Path(warehouse)) if open_destination is not None else None
    try:
        yield make_pipeline(silo, warehouse, pipelines_dir, connection)
    finally:
        if connection is not None:
            connection.close()


def sync_silo(silo: SiloConfig, warehouse: Path, pipelines_dir: Path, full_refresh: bool = False,
              open_destination: DestinationOpener | None = None) -> SyncReport:
    """Load what changed in the silo into raw_<silo>.*; raise SiloSyncError/SchemaDriftError on failure.

    Extraction is checked before anything is loaded: when a mapped column has disappeared the
    extracted package is aborted (dlt restores the incremental state), so the raw tables and
    everything built from them stay as they were. `open_destination(warehouse)` may return an open
    DuckDB connection for dlt to load through (an encrypted warehouse), or None for dlt to open the file.
    """
    require_env(silo)
    check_file_roots(silo)
    started = time.monotonic()
    # `run` would do this itself; extract/normalize/load separately must ask. It restores a newer state
    # from the warehouse, and wipes local state whose dataset is gone (a deleted or new warehouse),
    # so incremental cursors never skip rows the warehouse does not have.
    with _loading_pipeline(silo, warehouse, pipelines_dir, open_destination) as pipeline:
        _waiting_for_readers(pipeline.sync_destination)
    pipeline = make_pipeline(silo, warehouse, pipelines_dir)  # extract and normalize work on local files only
    known = _known_columns(silo, pipeline, pipelines_dir)
    observer = ColumnObserver()
    source = build_source(silo, observer, full_refresh=full_refresh)
    try:
        pipeline.extract(source)
    except PipelineStepFailed as exc:
        raise SiloSyncError(_failure_message(silo, exc), silo.name, failed_table(exc)) from exc
    try:
        _check_mapped_columns(silo, observer, known)
    except SchemaDriftError:
        pipeline.abort_packages()
        raise
    try:
        pipeline.normalize()
    except PipelineStepFailed as exc:
        raise _aborted(silo, pipeline, exc) from exc
    counts = pipeline.last_trace.last_normalize_info.row_counts if pipeline.last_trace else {}
    with _loading_pipeline(silo, warehouse, pipelines_dir, open_destination) as loader:
        try:
            info = _waiting_for_readers(loader.load)
        except PipelineStepFailed as exc:
            raise _aborted(silo, loader, exc) from exc  # aborting a package being loaded needs the warehouse
    report = SyncReport(
        silo=silo.name,
        rows_loaded={normalise(t): counts.get(normalise(t), 0) for t in silo.tables()},
        new_columns=_new_columns(silo, observer, known),
        load_id=info.loads_ids[-1] if info.loads_ids else None,
        full_refresh=full_refresh or (silo.deletes is not None and silo.deletes.mode == "full_refresh"),
        resources={t: normalise(t) for t in silo.tables()},
    )
    _remember_columns(silo, observer, known, pipelines_dir)
    report.seconds = round(time.monotonic() - started, 3)
    return report


def check_file_roots(silo: SiloConfig) -> None:
    """A files silo whose folder is missing is unreachable, not empty: fail instead of loading nothing."""
    if silo.kind != "files":
        return
    import fsspec

    for table in silo.files.tables:
        try:
            fs, root = fsspec.core.url_to_fs(table.path)
            exists = fs.isdir(root)
        except Exception as exc:  # unknown protocol, missing fsspec driver, credentials ...
            raise SiloSyncError(f"silo {silo.name}: table {table.name}: cannot open {table.path}: "
                                f"{type(exc).__name__}: {exc}", silo.name, table.name) from exc
        if not exists:
            raise SiloSyncError(
                f"silo {silo.name}: table {table.name}: folder {table.path} does not exist (is the drop "
                f"mounted? check `path:` in {silo.display_path()})", silo.name, table.name)


def _aborted(silo: SiloConfig, pipeline: dlt.Pipeline, exc: PipelineStepFailed) -> SiloSyncError:
    """Drop the failed package and restore the incremental state, so the next run extracts these rows
    again instead of retrying a package that cannot load; the error to raise."""
    try:
        pipeline.abort_packages()
    except Exception:  # the sync already failed; its own error is the one to report
        pass
    return SiloSyncError(_failure_message(silo, exc), silo.name, failed_table(exc))


READER_WAIT_SECONDS = 60.0


def _is_lock_conflict(exc: BaseException | None) -> bool:
    while exc is not None:
        if "could not set lock" in str(exc).lower():
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _waiting_for_readers(step: Callable[[], Any]) -> Any:
    """Run a dlt step that opens the DuckDB warehouse, waiting while read-only readers hold the file.

    DuckDB refuses a writer while any other process has the file open, even read-only; readers
    (`hub query`, lookups, the API) hold it for milliseconds, so the step retries briefly instead of
    failing the sync (a load package stays pending between attempts: nothing is loaded twice).
    """
    deadline = time.monotonic() + READER_WAIT_SECONDS
    delay = 0.02
    while True:
        try:
            return step()
        except Exception as exc:
            if not _is_lock_conflict(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


# --- drift ------------------------------------------------------------------------------------

def _columns_file(silo: SiloConfig, pipelines_dir: Path) -> Path:
    return Path(pipelines_dir) / f"{pipeline_name(silo)}.columns.json"


def _known_columns(silo: SiloConfig, pipeline: dlt.Pipeline, pipelines_dir: Path) -> dict[str, set[str]]:
    """Columns each table had before this run: dlt's schema plus what earlier runs saw."""
    known: dict[str, set[str]] = {}
    try:
        tables = pipeline.default_schema.tables if pipeline.default_schema_name else {}
    except Exception:  # no schema yet: first run
        tables = {}
    for table, spec in tables.items():
        if not table.startswith("_dlt"):
            known[table] = {c for c in spec.get("columns", {}) if not c.startswith("_dlt")}
    path = _columns_file(silo, pipelines_dir)
    if path.exists():
        for table, cols in json.loads(path.read_text()).items():
            known.setdefault(table, set()).update(cols)
    return known


def _remember_columns(silo: SiloConfig, observer: ColumnObserver, known: dict[str, set[str]],
                      pipelines_dir: Path) -> None:
    merged = {t: sorted(known.get(normalise(t), set()) | observer.seen(t)) for t in silo.tables()}
    _columns_file(silo, pipelines_dir).write_text(json.dumps(merged, indent=1))


def _check_mapped_columns(silo: SiloConfig, observer: ColumnObserver, known: dict[str, set[str]]) -> None:
    """Every mapped column must arrive: a column the table had before and lost is drift; a mapped
    column no table has ever had is a bad mapping. Tables that sent no rows this run prove nothing."""
    active = [t for t in silo.tables() if observer.rows.get(t, 0) > 0]
    for column in silo.mapped_columns():
        name = normalise(column)
        for table in active:
            if name in known.get(normalise(table), set()) and name not in observer.seen(table):
                raise SchemaDriftError(
                    f"silo {silo.name}: table {table} no longer has column {column!r}, which the mapping "
                    f"uses ({_used_by(silo, column)}); restore the column in the source or change "
                    f"{silo.display_path()}", silo.name, table, column)
        ever = any(name in known.get(normalise(t), set()) | observer.seen(t) for t in silo.tables())
        if active and not ever:
            table = active[0]
            raise SchemaDriftError(
                f"silo {silo.name}: table {table} has no column {column!r}, which the mapping uses "
                f"({_used_by(silo, column)}); columns are: {', '.join(sorted(observer.seen(table)))}. "
                f"Fix the column name in {silo.display_path()}", silo.name, table, column)


def _used_by(silo: SiloConfig, column: str) -> str:
    uses = [f"mapping.{k}" for k, used in silo.mapping.columns().items() if column in used]
    uses += [f"facts.{f.name}" for f in silo.facts if f.column == column]
    if silo.deletes is not None and silo.deletes.column == column:
        uses.append("deletes.column")
    if column in silo.record_id_columns() and not uses:
        uses.append("primary_key")
    return ", ".join(uses)


def _new_columns(silo: SiloConfig, observer: ColumnObserver, known: dict[str, set[str]]) -> dict[str, list[str]]:
    """Columns seen this run that a table did not have before (first loads report nothing)."""
    report = {}
    for table in silo.tables():
        before = known.get(normalise(table))
        if before:
            added = sorted(c for c in observer.seen(table) - before if not c.startswith("_dlt"))
            if added:
                report[normalise(table)] = added
    return report


# --- failures ---------------------------------------------------------------------------------

def _failure_message(silo: SiloConfig, exc: Exception) -> str:
    """Name the silo, the step, the table and the root cause; never include a secret from the file."""
    root = root_cause(exc)
    if isinstance(root, SiloConfigError):
        return str(root)
    table = failed_table(exc)
    step = getattr(exc, "step", "sync")
    where = f" table {table}" if table else ""
    detail = str(root).strip().splitlines()[0][:400] if str(root).strip() else ""
    return redact(silo, f"silo {silo.name}: {step} failed{where}: {type(root).__name__}: {detail}") + _hint(root)


def failed_table(exc: BaseException) -> str | None:
    """The dlt resource (= raw table) an extraction error came from, if dlt says."""
    while exc is not None:
        if getattr(exc, "pipe_name", None):
            return exc.pipe_name
        exc = exc.__cause__ or exc.__context__
    return None


def _hint(root: Exception) -> str:
    name = type(root).__name__
    if "Connect" in name or "OperationalError" in name or "Timeout" in name:
        return " (is the silo reachable? check host, port, file path and network; the sync is retried per the silo's retries)"
    if "HTTPError" in name and ("401" in str(root) or "403" in str(root)):
        return " (the API refused the credentials; check the token/key environment variable)"
    return ""


def secrets_of(silo: SiloConfig) -> list[str]:
    """Secret values the silo file pulled from the environment (for redaction)."""
    from sqlalchemy.engine import make_url

    found: list[str] = []
    if silo.sql is not None:
        url = silo.sql.url.get_secret_value()
        found.append(url)
        try:
            password = make_url(url).password
            if password:
                found.append(str(password))
        except Exception:
            pass
    if silo.rest is not None and silo.rest.auth is not None:
        auth = silo.rest.auth
        for secret in (auth.token, auth.api_key, auth.password, auth.client_secret):
            if secret is not None and secret.get_secret_value():
                found.append(secret.get_secret_value())
    return [s for s in found if len(s) >= 4]


def redact(silo: SiloConfig, text: str) -> str:
    for secret in sorted(secrets_of(silo), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# --- reading raw ------------------------------------------------------------------------------

def read_raw(silo: SiloConfig, con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Current raw rows of the silo, all tables in one frame with a `_table` column.

    Columns are named as dlt normalised them. With `deletes: {mode: full_refresh}` the frame has a
    `_deleted_by_refresh` flag: rows whose last load is older than the latest completed load.
    """
    dataset = dataset_name(silo)
    present = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [dataset]).fetchall()}
    frames = []
    for table in silo.tables():
        name = normalise(table)
        if name in present:
            frame = con.execute(f'SELECT * FROM "{dataset}"."{name}"').df()
            frames.append(frame.assign(_table=name))
    if not frames:
        return pd.DataFrame({"_table": pd.Series(dtype="object"), "_dlt_load_id": pd.Series(dtype="object")})
    raw = pd.concat(frames, ignore_index=True, sort=False)
    if silo.deletes is not None and silo.deletes.mode == "full_refresh" and "_dlt_loads" in present:
        latest = con.execute(
            f'SELECT max(load_id) FROM "{dataset}"._dlt_loads WHERE status = 0').fetchall()[0][0]
        raw[REFRESH_DELETED] = raw["_dlt_load_id"] != latest
    return raw

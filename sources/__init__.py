"""Silos by config: load `silos/*.yaml`, build dlt sources, sync them, map rows onto canonical records.

This package does not import `hub`, `identity_resolution` or `warehouse`; callers pass folders and
paths in.
"""
import os

# dlt telemetry stays off in every code path of the hub
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
# Arrow batches (SQL, files) get dlt's `_dlt_load_id` like JSON rows do: staging dates each row's
# arrival by it, and full-refresh delete detection compares it with the latest load.
os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")

from sources.config import SiloConfig, load_silo, load_silos, load_valid_silos, require_env  # noqa: E402
from sources.errors import SchemaDriftError, SiloConfigError, SiloSyncError  # noqa: E402
from sources.dlt_sources import build_source, normalise  # noqa: E402
from sources.sync import SyncReport, make_pipeline, read_raw, sync_silo  # noqa: E402
from sources.mapping import MappedRecords, map_records  # noqa: E402
from sources.check import CheckReport, check_silo  # noqa: E402

__all__ = [
    "SiloConfig", "load_silo", "load_silos", "load_valid_silos", "require_env",
    "SiloConfigError", "SiloSyncError", "SchemaDriftError",
    "build_source", "normalise", "make_pipeline", "sync_silo", "read_raw", "SyncReport",
    "map_records", "MappedRecords", "check_silo", "CheckReport",
]

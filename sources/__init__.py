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

# Imported on first use (PEP 562): `hub resolve` reads a file's encoding and its column names from
# here, and must not pay for dlt (its import, ~60 MB, landing after a million records are read, also
# pinned memory those records' strings would have returned).
_EXPORTS = {
    "sources.config": ("SiloConfig", "load_silo", "load_silos", "load_valid_silos", "require_env"),
    "sources.errors": ("SchemaDriftError", "SiloConfigError", "SiloSyncError"),
    "sources.dlt_sources": ("build_source", "normalise"),
    "sources.sync": ("SyncReport", "make_pipeline", "read_raw", "sync_silo"),
    "sources.mapping": ("MappedRecords", "map_records"),
    "sources.check": ("CheckReport", "check_silo"),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = list(_HOME)


def __getattr__(name: str):
    import importlib

    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'sources' has no attribute {name!r}")

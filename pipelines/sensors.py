"""File-drop sensors: a new or changed file in a files silo triggers that silo's sync job."""
from __future__ import annotations

import hashlib
import json

import dagster as dg
import fsspec


def _snapshot(silo) -> dict[str, str]:
    """Each matching file's identity (path -> size and modification time), across the silo's tables."""
    seen: dict[str, str] = {}
    for table in silo.files.tables:
        fs, root = fsspec.core.url_to_fs(table.path)
        for path, info in fs.glob(f"{root.rstrip('/')}/{table.glob}", detail=True).items():
            seen[path] = f"{info.get('size')}:{info.get('mtime') or info.get('LastModified') or info.get('updated')}"
    return seen


def file_drop_sensor(silo, job) -> dg.SensorDefinition | None:
    sensor_cfg = getattr(silo, "sensor", None)
    if silo.kind != "files" or sensor_cfg is None or not sensor_cfg.enabled:
        return None

    @dg.sensor(
        name=f"{silo.name}_file_drop",
        job=job,
        minimum_interval_seconds=sensor_cfg.minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description=f"Runs sync_{silo.name} when files matching the silo's globs appear or change.",
    )
    def _sensor(context: dg.SensorEvaluationContext):
        try:
            snapshot = _snapshot(silo)
        except (OSError, ValueError) as exc:
            return dg.SkipReason(f"cannot list files for silo {silo.name}: {exc}")
        previous = json.loads(context.cursor) if context.cursor else {}
        changed = sorted(path for path, stamp in snapshot.items() if previous.get(path) != stamp)
        context.update_cursor(json.dumps(snapshot, sort_keys=True))
        if not changed:
            return dg.SkipReason("no new or changed files")
        run_key = hashlib.sha256(json.dumps(snapshot, sort_keys=True).encode()).hexdigest()[:16]
        return dg.RunRequest(run_key=run_key, tags={"hub/changed_files": ", ".join(changed)[:500]})

    return _sensor

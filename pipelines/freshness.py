"""Freshness checks per silo, derived from the silo file's cron schedule.

At every tick of the silo's schedule, its staging asset must have been materialised within the
last schedule interval (so the previous tick's sync landed). A sensor evaluates the checks; the
same rule drives `hub status` (warehouse.ops.due_by), so the UI and the CLI agree on "late".
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Iterator, Sequence

import dagster as dg

from warehouse.ops import schedule_interval

SENSOR_NAME = "silo_freshness_sensor"


def build_freshness_checks(silos: Sequence) -> list[dg.AssetChecksDefinition]:
    """One last-update freshness check per scheduled silo, on its `staging/<silo>` asset."""
    checks: list[dg.AssetChecksDefinition] = []
    for silo in silos:
        cron = getattr(silo, "schedule", None)
        if not cron:
            continue
        with _superseded_ok():
            checks += dg.build_last_update_freshness_checks(
                assets=[dg.AssetKey(["staging", silo.name])],
                lower_bound_delta=schedule_interval(cron),
                deadline_cron=cron,
                timezone="UTC",
            )
    return checks


def freshness_sensor(checks: Sequence[dg.AssetChecksDefinition]) -> dg.SensorDefinition | None:
    """Evaluates the freshness checks every 30 s or so while the Dagster daemon runs (stopped by default, like the schedules)."""
    if not checks:
        return None
    with _superseded_ok():
        return dg.build_sensor_for_freshness_checks(freshness_checks=checks, name=SENSOR_NAME)


@contextmanager
def _superseded_ok() -> Iterator[None]:
    # Dagster 1.13 marks these factories superseded by FreshnessPolicy, which judges staleness by
    # elapsed time only; a check tied to the silo's own cron ticks is what we want, so keep them quiet.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        yield

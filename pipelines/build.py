"""Build the Dagster definitions for a warehouse and a folder of silo files."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import dagster as dg
from dagster_dlt import DagsterDltResource

from pipelines.settings import silos_dir, survivorship_file, warehouse_path
from pipelines import hub_assets, silo_assets
from pipelines.freshness import build_freshness_checks, freshness_sensor
from pipelines.resources import HubWarehouse
from pipelines.sensors import file_drop_sensor
from sources import load_valid_silos

log = logging.getLogger(__name__)

MAIN_JOB = "hub_job"


def demo_dir_default(warehouse: Path) -> Path:
    return warehouse.parent / "demo"


def build_definitions(warehouse: Path | None = None, silos: Path | None = None) -> dg.Definitions:
    warehouse = warehouse or warehouse_path()
    silos = silos or silos_dir()
    # The demo silo files point at ${HUB_DEMO_DIR}; default it beside the warehouse like `hub demo`.
    os.environ.setdefault("HUB_DEMO_DIR", str(demo_dir_default(warehouse)))
    resource = HubWarehouse(path=str(warehouse), silos_dir=str(silos), survivorship_file=str(survivorship_file()))
    # One broken silo file must not take the other silos' schedules and jobs down with it.
    configs, errors = load_valid_silos(silos)
    for error in errors:
        log.error("silo file skipped: %s", error)

    assets: list = []
    jobs: list = []
    schedules: list = []
    sensors: list = []
    checks: list = []
    staging_keys: list[dg.AssetKey] = []
    for silo in configs:
        raw = silo_assets.raw_assets(silo, resource)
        staging = silo_assets.staging_asset(silo, raw)
        assets += [raw, staging]
        staging_keys += list(staging.keys)
        job = silo_assets.silo_job(silo)
        jobs.append(job)
        schedule = silo_assets.silo_schedule(silo, job)
        if schedule is not None:
            schedules.append(schedule)
        sensor = file_drop_sensor(silo, job)
        if sensor is not None:
            sensors.append(sensor)
    assets += [hub_assets.identity_assets(staging_keys), hub_assets.mart_assets]
    checks += build_freshness_checks(configs)
    sensors += [s for s in [freshness_sensor(checks)] if s is not None]
    jobs.append(dg.define_asset_job(MAIN_JOB, selection=dg.AssetSelection.all(),
                                    description="Sync every silo, resolve identities, publish the marts.",
                                    op_retry_policy=silo_assets.DEFAULT_RETRY))
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=jobs,
        schedules=schedules,
        sensors=sensors,
        resources={"hub_warehouse": resource, "dlt": DagsterDltResource()},
    )

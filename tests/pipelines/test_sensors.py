"""A file drop in a files silo triggers that silo's sync job; nothing new, no run."""
from __future__ import annotations

import os
import time

import dagster as dg

from pipelines.sensors import file_drop_sensor
from pipelines.silo_assets import silo_job
from sources import load_silo

SILO = """\
name: shop
kind: files
files:
  tables:
    - {{name: customers, path: "{folder}", glob: "customers_*.csv", primary_key: id}}
sensor: {{enabled: true, minimum_interval_seconds: 30}}
mapping:
  source_record_id: id
  email: email
"""


def evaluate(sensor, cursor):
    context = dg.build_sensor_context(cursor=cursor)
    result = sensor.evaluate_tick(context)
    return result, context.cursor


def test_new_and_changed_files_trigger_the_silo_job(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    (tmp_path / "shop.yaml").write_text(SILO.format(folder=drop))
    silo = load_silo(tmp_path / "shop.yaml")
    sensor = file_drop_sensor(silo, silo_job(silo))
    assert sensor.name == "shop_file_drop" and sensor.job_name == "sync_shop"

    result, cursor = evaluate(sensor, None)
    assert not result.run_requests  # empty folder

    (drop / "customers_1.csv").write_text("id,email\n1,a@x.com\n")
    (drop / "notes.txt").write_text("not matched by the glob")
    result, cursor = evaluate(sensor, cursor)
    assert len(result.run_requests) == 1
    assert "customers_1.csv" in result.run_requests[0].tags["hub/changed_files"]

    result, cursor = evaluate(sensor, cursor)
    assert not result.run_requests  # nothing changed since the last tick

    changed = drop / "customers_1.csv"
    changed.write_text("id,email\n1,a@x.com\n2,b@x.com\n")
    later = time.time() + 5
    os.utime(changed, (later, later))
    result, cursor = evaluate(sensor, cursor)
    assert len(result.run_requests) == 1


def test_only_enabled_file_silos_get_a_sensor(tmp_path):
    (tmp_path / "shop.yaml").write_text(SILO.format(folder=tmp_path).replace("enabled: true", "enabled: false"))
    silo = load_silo(tmp_path / "shop.yaml")
    assert file_drop_sensor(silo, silo_job(silo)) is None

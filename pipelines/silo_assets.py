"""Per-silo Dagster definitions, built from the silo YAML files (no per-silo Python).

For each silo: its dlt raw tables (one asset per dlt resource, `raw_<silo>/<table>`), its rows in
staging (`staging/<silo>`), a GX asset check on those rows, a job that syncs the silo and refreshes
everything downstream, a schedule from the file's cron, and a retry policy from the file.
"""

import dagster as dg
from dagster_dlt import DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from pipelines.checks import check_metadata
from pipelines.resources import HubWarehouse
from pipelines.staging import stage_silo
from sources import build_source, make_pipeline, sync_silo
from warehouse.connection import destination_connection
from warehouse.ops import record_check
from warehouse.quality import staging_suite

WAREHOUSE_POOL = "warehouse"


class RawTableTranslator(DagsterDltTranslator):
    """Raw tables are keyed `raw_<silo>/<resource>` and grouped under their silo."""

    def __init__(self, silo_name: str):
        self.silo_name = silo_name

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(
            key=dg.AssetKey([f"raw_{self.silo_name}", data.resource.name]),
            deps=[],
            group_name=self.silo_name,
        )


# For the all-silo job, which cannot take each silo file's own policy.
DEFAULT_RETRY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL)


def retry_policy(silo) -> dg.RetryPolicy:
    retries = getattr(silo, "retries", None)
    return dg.RetryPolicy(
        max_retries=getattr(retries, "max_retries", 2),
        delay=getattr(retries, "backoff_seconds", 10),
        backoff=dg.Backoff.EXPONENTIAL,
    )


def raw_assets(silo, warehouse: HubWarehouse) -> dg.AssetsDefinition:
    @dlt_assets(
        dlt_source=build_source(silo),
        dlt_pipeline=make_pipeline(silo, warehouse.warehouse, warehouse.pipelines_dir),
        name=f"raw_{silo.name}",
        dagster_dlt_translator=RawTableTranslator(silo.name),
        pool=WAREHOUSE_POOL,
    )
    def _raw(context: dg.AssetExecutionContext, hub_warehouse: HubWarehouse):
        with hub_warehouse.exclusive():
            report = sync_silo(silo, hub_warehouse.warehouse, hub_warehouse.pipelines_dir,
                               open_destination=destination_connection)
        rows = report.rows_by_table
        new_columns = report.new_columns
        for key in context.selected_asset_keys:
            table = key.path[-1]
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "rows_loaded": int(rows.get(table, 0)),
                    "new_columns": dg.MetadataValue.json(new_columns.get(table, [])),
                },
            )

    return _raw


def staging_asset(silo, raw: dg.AssetsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=["staging", silo.name],
        group_name=silo.name,
        deps=list(raw.keys),
        pool=WAREHOUSE_POOL,
        description=f"Rows of silo {silo.name} in staging.customer_records / rejected_records / customer_facts.",
        check_specs=[dg.AssetCheckSpec("staging_quality", asset=["staging", silo.name])],
    )
    def _staging(context: dg.AssetExecutionContext, hub_warehouse: HubWarehouse):
        with hub_warehouse.writer() as con:
            counts = stage_silo(con, silo, run_id=context.run.run_id)
            outcome = staging_suite(con, silo=silo.name)
            record_check(con, f"staging/{silo.name}", "staging_quality", outcome.passed, outcome.metadata(),
                         run_id=context.run.run_id, silo=silo.name)
        yield dg.MaterializeResult(metadata=counts.as_metadata())
        yield dg.AssetCheckResult(
            check_name="staging_quality",
            passed=outcome.passed,
            severity=dg.AssetCheckSeverity.WARN,
            metadata=check_metadata(outcome),
        )

    return _staging


def silo_job(silo):
    return dg.define_asset_job(
        name=f"sync_{silo.name}",
        selection=dg.AssetSelection.groups(silo.name).downstream(),
        description=f"Sync silo {silo.name}, then refresh identity and marts.",
        op_retry_policy=retry_policy(silo),
    )


def silo_schedule(silo, job) -> dg.ScheduleDefinition | None:
    if not getattr(silo, "schedule", None):
        return None
    return dg.ScheduleDefinition(
        name=f"{silo.name}_schedule",
        cron_schedule=silo.schedule,
        job=job,
        default_status=dg.DefaultScheduleStatus.STOPPED,
    )

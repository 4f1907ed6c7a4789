"""Cross-silo Dagster assets: identity resolution and the published marts."""

from typing import Sequence

import dagster as dg

from identity_resolution.survivorship import SurvivorshipRules
from pipelines.checks import check_metadata
from pipelines.marts import MartRejectedError, build_marts
from pipelines.resolution import resolve_warehouse
from pipelines.resources import HubWarehouse
from pipelines.silo_assets import WAREHOUSE_POOL
from warehouse.ops import record_check
from warehouse.quality import xref_suite

XREF = dg.AssetKey(["identity", "customer_xref"])
CUSTOMERS = dg.AssetKey(["marts", "customers"])


def identity_assets(staging_keys: Sequence[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.multi_asset(
        name="resolve_identities",
        group_name="identity",
        pool=WAREHOUSE_POOL,
        specs=[
            dg.AssetSpec(XREF, deps=staging_keys, description="Every live staged record -> one persistent customer_id."),
            dg.AssetSpec(["identity", "match_scores"], deps=staging_keys, description="Scored candidate pairs with per-field evidence."),
            dg.AssetSpec(["identity", "customer_id_history"], deps=staging_keys, description="Minted, merged and split customer ids."),
        ],
        check_specs=[dg.AssetCheckSpec("every_record_mapped_once", asset=XREF, blocking=True)],
    )
    def _resolve(context: dg.AssetExecutionContext, hub_warehouse: HubWarehouse):
        with hub_warehouse.writer() as con:
            counts = resolve_warehouse(con, run_id=context.run.run_id)
            outcome = xref_suite(con)
            record_check(con, "identity/customer_xref", "every_record_mapped_once", outcome.passed,
                         outcome.metadata(), run_id=context.run.run_id)
        context.log.info(f"resolved {counts.records} records into {counts.customers} customers")
        yield dg.MaterializeResult(asset_key=XREF, metadata=counts.as_metadata())
        yield dg.MaterializeResult(asset_key=["identity", "match_scores"], metadata={"pairs": counts.candidate_pairs})
        yield dg.MaterializeResult(asset_key=["identity", "customer_id_history"])
        yield dg.AssetCheckResult(check_name="every_record_mapped_once", asset_key=XREF,
                                  passed=outcome.passed, metadata=check_metadata(outcome))

    return _resolve


@dg.multi_asset(
    name="publish_marts",
    group_name="marts",
    pool=WAREHOUSE_POOL,
    specs=[
        dg.AssetSpec(CUSTOMERS, deps=[XREF], description="One golden row per customer_id with per-attribute lineage."),
        dg.AssetSpec(["marts", "customer_360"], deps=[XREF], description="Golden records joined with departmental facts."),
    ],
    check_specs=[dg.AssetCheckSpec("golden_records_valid", asset=CUSTOMERS, blocking=True)],
)
def mart_assets(context: dg.AssetExecutionContext, hub_warehouse: HubWarehouse):
    # The suite runs on the candidate before publishing: a failing mart is never swapped in, and
    # the previous one stays.
    with hub_warehouse.writer() as con:
        try:
            rules = SurvivorshipRules.from_file(hub_warehouse.survivorship_file) if hub_warehouse.survivorship_file else None
            result = build_marts(con, rules)
        except MartRejectedError as rejected:
            record_check(con, "marts/customers", "golden_records_valid", False, rejected.outcome.metadata(),
                         run_id=context.run.run_id)
            yield dg.AssetCheckResult(check_name="golden_records_valid", asset_key=CUSTOMERS, passed=False,
                                      metadata=check_metadata(rejected.outcome))
            raise dg.Failure(description=str(rejected)) from rejected
        record_check(con, "marts/customers", "golden_records_valid", True, result.outcome.metadata(),
                     run_id=context.run.run_id)
    yield dg.MaterializeResult(asset_key=CUSTOMERS, metadata={"customers": result.customers})
    yield dg.MaterializeResult(asset_key=["marts", "customer_360"], metadata={"customers": result.customers})
    yield dg.AssetCheckResult(check_name="golden_records_valid", asset_key=CUSTOMERS, passed=True,
                              metadata=check_metadata(result.outcome))

"""Building block: golden records and the customer-360 view, validated before they are published."""
from __future__ import annotations

from dataclasses import dataclass

import duckdb


from identity_resolution.survivorship import SurvivorshipRules, build_golden_records
from pipelines.logs import get_logger, log_event
from pipelines.resolution import LIVE_RECORDS_SQL
from warehouse.faults import fault_point
from warehouse.models import customer_360_frame
from warehouse.publish import replace_tables
from warehouse.quality import SuiteOutcome, customers_suite

log = get_logger("marts")


class MartRejectedError(RuntimeError):
    """The candidate mart failed its blocking quality suite; the previous mart stays published."""

    def __init__(self, outcome: SuiteOutcome):
        super().__init__(f"marts.customers failed {outcome.suite}: {outcome.failures}")
        self.outcome = outcome


@dataclass
class MartResult:
    customers: int
    outcome: SuiteOutcome


def build_marts(con: duckdb.DuckDBPyConnection, rules: SurvivorshipRules | None = None) -> MartResult:
    records = con.execute(LIVE_RECORDS_SQL).df()
    xref = con.execute("SELECT * FROM identity.customer_xref").df()
    golden = build_golden_records(records, xref, rules)
    outcome = customers_suite(con, golden)
    if not outcome.passed:
        log.error("marts.customers rejected by its quality suite; the previous mart stays published",
                  extra={"event_name": "marts_rejected", "failures": outcome.failures})
        raise MartRejectedError(outcome)
    con.register("_golden_candidate", golden)
    try:
        customer_360 = customer_360_frame(con, customers_table="_golden_candidate")
    finally:
        con.unregister("_golden_candidate")
    fault_point("before:publish:marts")
    replace_tables(con, {"marts.customers": golden, "marts.customer_360": customer_360})
    log_event(log, "marts_published", customers=len(golden), columns_360=len(customer_360.columns))
    return MartResult(customers=len(golden), outcome=outcome)



"""Great Expectations suites for the warehouse tables, run in code on frames read from DuckDB.

GX has no native DuckDB source and dagster-ge only supports GX < 1.0, so each suite validates a
pandas frame through an ephemeral context, and the pipeline turns the outcome into a Dagster asset
check. Cross-table rules (every staged record mapped once; golden values traceable to a source
record) are first computed as one SQL frame, then asserted by GX.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import duckdb
import pandas as pd

EMAIL_REGEX = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
E164_REGEX = r"^\+[1-9][0-9]{6,14}$"
EXAMPLES = 5


@dataclass
class SuiteOutcome:
    suite: str
    passed: bool
    rows: int
    failures: list[dict] = field(default_factory=list)

    def metadata(self) -> dict:
        return {
            "suite": self.suite,
            "rows_checked": self.rows,
            "failing_expectations": len(self.failures),
            "failures": self.failures,
        }


@lru_cache(maxsize=1)
def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def run_suite(name: str, frame: pd.DataFrame, expectations: list) -> SuiteOutcome:
    """Validate `frame` against `expectations`; return pass/fail with failing counts and examples."""
    import great_expectations as gx

    context = _context()
    source = context.data_sources.add_or_update_pandas(f"hub_{name}")
    asset = source.add_dataframe_asset(name=name)
    batch_definition = asset.add_batch_definition_whole_dataframe("whole")
    batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
    suite = gx.ExpectationSuite(name=name, expectations=expectations)
    result = batch.validate(suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES})
    failures = [
        {
            "expectation": r.expectation_config.type,
            "column": r.expectation_config.kwargs.get("column") or r.expectation_config.kwargs.get("column_list"),
            "failing_count": r.result.get("unexpected_count", r.result.get("observed_value")),
            "examples": [str(v) for v in (r.result.get("partial_unexpected_list") or [])[:EXAMPLES]],
        }
        for r in result.results
        if not r.success
    ]
    return SuiteOutcome(suite=name, passed=bool(result.success), rows=len(frame), failures=failures)


def staging_suite(con: duckdb.DuckDBPyConnection, silo: str | None = None) -> SuiteOutcome:
    import great_expectations.expectations as gxe

    frame = con.execute(
        "SELECT silo, source_record_id, email, phone, birth_date FROM staging.customer_records"
        " WHERE ? IS NULL OR silo = ?",
        [silo, silo],
    ).df()
    expectations = [
        gxe.ExpectColumnValuesToNotBeNull(column="silo"),
        gxe.ExpectColumnValuesToNotBeNull(column="source_record_id"),
        gxe.ExpectCompoundColumnsToBeUnique(column_list=["silo", "source_record_id"]),
        gxe.ExpectColumnValuesToMatchRegex(column="email", regex=EMAIL_REGEX),
        gxe.ExpectColumnValuesToMatchRegex(column="phone", regex=E164_REGEX),
        gxe.ExpectColumnValuesToBeBetween(
            column="birth_date", min_value=pd.Timestamp("1900-01-01"), max_value=pd.Timestamp(date.today())
        ),
    ]
    frame["birth_date"] = pd.to_datetime(frame["birth_date"])
    return run_suite("staging_customer_records", frame, expectations)


def xref_suite(con: duckdb.DuckDBPyConnection) -> SuiteOutcome:
    """Every live staged record maps to exactly one customer id."""
    import great_expectations.expectations as gxe

    frame = con.execute(
        """
        SELECT s.silo, s.source_record_id, count(x.customer_id) AS mappings
        FROM staging.customer_records s
        LEFT JOIN identity.customer_xref x USING (silo, source_record_id)
        WHERE NOT coalesce(s.is_deleted, FALSE)
        GROUP BY ALL
        """
    ).df()
    expectations = [
        gxe.ExpectColumnValuesToBeBetween(column="mappings", min_value=1, max_value=1),
    ]
    return run_suite("identity_customer_xref", frame, expectations)


def customers_suite(con: duckdb.DuckDBPyConnection, customers: pd.DataFrame) -> SuiteOutcome:
    """Golden records: unique ids, no conflicting national ids, values traceable to source records."""
    import great_expectations.expectations as gxe

    con.register("_candidate_customers", customers)
    try:
        # Conflicting national ids, as the clusterer defines them: last four digits that differ in two
        # or more places. One differing digit (or a typo before the last four) is a data-entry error a
        # pair's own strong evidence may outweigh, not two different people.
        conflicts = con.execute(
            """
            WITH ids AS (
                SELECT DISTINCT x.customer_id, s.national_id_last4 AS last4
                FROM identity.customer_xref x JOIN staging.customer_records s USING (silo, source_record_id)
                WHERE length(s.national_id_last4) = 4
            )
            SELECT a.customer_id, count(*) AS conflicting_national_ids
            FROM ids a JOIN ids b ON a.customer_id = b.customer_id AND a.last4 < b.last4
            WHERE hamming(a.last4, b.last4) >= 2
            GROUP BY a.customer_id
            UNION ALL SELECT NULL, 0
            """
        ).df()
        lineage = con.execute(
            """
            WITH chosen AS (
                SELECT c.customer_id, key AS attribute,
                       json_extract_string(value, '$.silo') AS silo,
                       json_extract_string(value, '$.source_record_id') AS source_record_id
                FROM _candidate_customers c, json_each(c.lineage::JSON)
            )
            SELECT chosen.customer_id, chosen.attribute,
                   (s.source_record_id IS NOT NULL) AS from_real_record
            FROM chosen LEFT JOIN staging.customer_records s USING (silo, source_record_id)
            """
        ).df()
    finally:
        con.unregister("_candidate_customers")
    frame = customers[["customer_id"]].copy()
    outcome = run_suite(
        "marts_customers",
        frame,
        [gxe.ExpectColumnValuesToNotBeNull(column="customer_id"), gxe.ExpectColumnValuesToBeUnique(column="customer_id")],
    )
    conflict_outcome = run_suite(
        "marts_customers_national_ids",
        conflicts,
        [gxe.ExpectColumnValuesToBeBetween(column="conflicting_national_ids", min_value=0, max_value=0)],
    )
    lineage_outcome = run_suite(
        "marts_customers_lineage",
        lineage,
        [gxe.ExpectColumnValuesToBeInSet(column="from_real_record", value_set=[True])],
    )
    parts = (outcome, conflict_outcome, lineage_outcome)
    return SuiteOutcome(
        suite="marts_customers",
        passed=all(p.passed for p in parts),
        rows=len(customers),
        failures=[f for p in parts for f in p.failures],
    )

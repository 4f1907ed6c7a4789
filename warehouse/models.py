"""SQL models over the published identity tables: the customer-360 view.

Departmental facts arrive long (`staging.customer_facts`: one row per record and fact, with the
aggregation its silo file declared), so new facts from a new silo file appear as new columns here
without code changes.
"""
from __future__ import annotations

import duckdb
import pandas as pd

CARD_COLUMNS = (
    "customer_id", "full_name", "given_name", "family_name", "email", "phone", "address_line",
    "city", "region", "postcode", "country", "silos", "record_count", "last_updated_at",
)

_AGGREGATES = {
    "sum": "SUM(f.value_num)",
    "max": "MAX({value})",
    "min": "MIN({value})",
    "latest": "arg_max({value}, coalesce(s.source_updated_at, TIMESTAMP '1970-01-01'))",
    "any": "bool_or(f.value_num <> 0 OR lower(f.value_text) IN ('true', 'yes', 'y', '1'))",
    "count": "COUNT(*)",
}


def _fact_expressions(con: duckdb.DuckDBPyConnection) -> list[str]:
    facts = con.execute(
        """
        SELECT fact, any_value(agg) AS agg, bool_and(value_num IS NOT NULL OR value_text IS NULL) AS numeric
        FROM staging.customer_facts GROUP BY fact ORDER BY fact
        """
    ).fetchall()
    expressions = []
    for fact, agg, numeric in facts:
        value = "f.value_num" if numeric else "f.value_text"
        template = _AGGREGATES.get((agg or "latest").lower(), _AGGREGATES["latest"])
        expr = template.format(value=value)
        expressions.append(f'{expr} FILTER (WHERE f.fact = \'{fact}\') AS "{fact}"')
    return expressions


def customer_360_frame(con: duckdb.DuckDBPyConnection, customers_table: str = "marts.customers") -> pd.DataFrame:
    """Golden records joined with each customer's departmental facts, one row per customer."""
    fact_columns = _fact_expressions(con)
    card = ", ".join(f"c.{column}" for column in CARD_COLUMNS)
    facts_sql = ", ".join(fact_columns)
    if not fact_columns:
        return con.execute(f"SELECT {card} FROM {customers_table} c ORDER BY c.customer_id").df()
    return con.execute(
        f"""
        WITH per_customer AS (
            SELECT x.customer_id, {facts_sql}
            FROM staging.customer_facts f
            JOIN identity.customer_xref x USING (silo, source_record_id)
            JOIN staging.customer_records s USING (silo, source_record_id)
            WHERE NOT coalesce(s.is_deleted, FALSE)
            GROUP BY x.customer_id
        )
        SELECT {card}, p.* EXCLUDE (customer_id)
        FROM {customers_table} c LEFT JOIN per_customer p USING (customer_id)
        ORDER BY c.customer_id
        """
    ).df()

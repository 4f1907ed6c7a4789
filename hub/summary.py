"""Readable summaries of what a run left in the warehouse."""
from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
from rich.table import Table

from identity_resolution.evaluate import evaluate


def silo_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Latest staging step per silo: raw, staged, rejected and deleted rows."""
    return con.execute(
        """
        SELECT silo, raw_rows, staged_rows, rejected_rows, deleted_rows, finished_at
        FROM ops.sync_runs WHERE step = 'stage'
        QUALIFY row_number() OVER (PARTITION BY silo ORDER BY finished_at DESC) = 1
        ORDER BY silo
        """
    ).df()


def customer_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    row = con.execute(
        """
        WITH per AS (SELECT customer_id, count(DISTINCT silo) AS silos FROM identity.customer_xref GROUP BY 1)
        SELECT count(*), count(*) FILTER (WHERE silos >= 2) FROM per
        """
    ).fetchall()[0]
    return {"customers": int(row[0]), "customers_in_2plus_silos": int(row[1])}


def silo_table(counts: pd.DataFrame) -> Table:
    table = Table(title="Records per silo")
    for column in ("silo", "raw", "staged", "rejected", "deleted"):
        table.add_column(column, justify="left" if column == "silo" else "right")
    for row in counts.itertuples():
        table.add_row(row.silo, f"{row.raw_rows:,}", f"{row.staged_rows:,}", f"{row.rejected_rows:,}", f"{row.deleted_rows:,}")
    table.add_row("[b]total[/]", *(f"[b]{counts[c].sum():,}[/]" for c in ("raw_rows", "staged_rows", "rejected_rows", "deleted_rows")))
    return table


def quality_against_truth(con: duckdb.DuckDBPyConnection, truth_csv: Path) -> dict[str, float] | None:
    """Scores of the published clustering on the records the truth file knows (None before any)."""
    truth = pd.read_csv(truth_csv, dtype=str)
    predicted = con.execute("SELECT silo, source_record_id, customer_id FROM identity.customer_xref").df()
    scored = truth.merge(predicted[["silo", "source_record_id"]], on=["silo", "source_record_id"])
    return evaluate(predicted, scored) if len(scored) else None


def metrics_table(title: str, values: dict[str, float | int]) -> Table:
    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in values.items():
        table.add_row(key.replace("_", " "), f"{value:.4f}" if isinstance(value, float) else f"{value:,}")
    return table

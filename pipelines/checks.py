"""Turning a GX suite outcome into Dagster asset-check metadata."""
from __future__ import annotations

import dagster as dg

from warehouse.quality import SuiteOutcome


def check_metadata(outcome: SuiteOutcome) -> dict:
    """Failing counts and examples as JSON metadata the Dagster UI can show."""
    return {
        key: dg.MetadataValue.json(value) if isinstance(value, (list, dict)) else value
        for key, value in outcome.metadata().items()
    }

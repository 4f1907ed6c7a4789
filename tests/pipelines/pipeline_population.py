"""A staged population for the pipeline's building blocks, imported by the tests that use it."""
from __future__ import annotations

import pandas as pd
import pytest

from hub.demo.generator import generate_canonical
from identity_resolution import standardise_records
from warehouse.schema import STAGING_COLUMNS, conform


@pytest.fixture(scope="session")
def staged_population() -> pd.DataFrame:
    raw, _ = generate_canonical(250, 5)
    staged = standardise_records(raw, hash_key=b"k").reset_index(drop=True)
    staged["is_deleted"] = False
    staged["loaded_at"] = pd.Timestamp("2026-01-01")
    return conform(staged, STAGING_COLUMNS)

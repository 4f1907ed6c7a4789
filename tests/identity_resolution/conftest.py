"""Shared fixtures: the small synthetic population, standardised once per test session."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import population  # noqa: E402

from identity_resolution import resolve, standardise_records  # noqa: E402


@pytest.fixture(scope="session")
def synthetic():
    raw, truth = population()
    staged = standardise_records(raw, hash_key=b"test-key")
    return raw, staged, truth


@pytest.fixture(scope="session")
def resolved(synthetic):
    _, staged, _ = synthetic
    return resolve(staged)

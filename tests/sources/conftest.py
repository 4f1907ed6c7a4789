"""Fixtures for the sources tests live in silo_fixtures (importable by the test modules too)."""
from silo_fixtures import demo_dir, hub_paths, support_api  # noqa: F401

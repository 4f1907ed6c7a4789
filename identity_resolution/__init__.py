"""Identity resolution: standardise canonical records and cluster them into customers.

Stages, one module each: standardise -> features -> blocking -> comparison -> scoring -> clustering,
plus explain and evaluate. No Dagster or dlt in here: tables in, tables out.
"""
from identity_resolution.config import ResolverConfig
from identity_resolution.evaluate import evaluate
from identity_resolution.explain import explain_pair
from identity_resolution.resolver import Resolution, resolve
from identity_resolution.scoring import FellegiSunterModel
from identity_resolution.standardise import standardise_records

__all__ = [
    "FellegiSunterModel",
    "Resolution",
    "ResolverConfig",
    "evaluate",
    "explain_pair",
    "resolve",
    "standardise_records",
]

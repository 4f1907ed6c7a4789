"""Resolver settings, one dataclass so the CLI, the pipeline and the benchmarks tune the same knobs."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ResolverConfig:
    match_threshold: float = 0.5  # pairs at or above this probability link records into one customer
    review_threshold: float = 0.3  # pairs in [review, match) go to human review
    # two records with conflicting national id / birth date share a cluster only if their own pair
    # scored at least this (a chain of other links is never enough)
    conflict_override_probability: float = 0.5
    max_block_size: int = 200  # a blocking key shared by more records than this is skipped (warned)
    default_region: str = "US"  # region used to read phone numbers without a country code
    em_iterations: int = 25
    em_tolerance: float = 1e-5
    em_update_u: bool = False  # u from random pairs only (default) or re-estimated by EM too
    u_sample_pairs: int = 1_000_000  # random record pairs used to estimate u
    tf_adjustment: bool = True  # rarer names/postcodes/cities count for more on exact agreement
    tf_max_bits: float = 6.0
    # keep the term-frequency tables of a given model instead of recounting them over this run's
    # records: a fixed model, so incremental and full resolution score every pair alike
    freeze_tf_tables: bool = False
    link_only: bool = False  # True: only pair records from different silos (two-file linkage)
    model_path: str | None = None  # load a trained model from this JSON file instead of running EM
    save_model_path: str | None = None  # write the (trained) model here as JSON
    pairs_min_probability: float = 0.01  # scored pairs below this are not returned in Resolution.pairs
    seed: int = 42

    def __post_init__(self) -> None:
        if not 0.0 < self.match_threshold <= 1.0:
            raise ValueError(f"match_threshold must be in (0, 1], got {self.match_threshold}")
        if not 0.0 <= self.review_threshold <= self.match_threshold:
            raise ValueError(
                f"review_threshold must be between 0 and match_threshold ({self.match_threshold}), got {self.review_threshold}"
            )
        if self.max_block_size < 2:
            raise ValueError(f"max_block_size must be at least 2, got {self.max_block_size}")

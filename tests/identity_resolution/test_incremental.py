"""Incremental resolution gives the same customers as a full resolve with the same (fixed) model,
after every step of random inserts, updates and deletes on the project's generator population."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hub.demo.generator import generate_canonical
from identity_resolution import ResolverConfig, resolve, standardise_records
from identity_resolution.incremental import FeatureCache, carry_over_pairs, resolve_incremental

KEY = ["silo", "source_record_id"]
EDITABLE = ["given_name", "family_name", "email", "phone", "address_line", "postcode", "birth_date", "national_id_last4"]


def scored(pairs: pd.DataFrame) -> dict[frozenset[str], float]:
    """Unordered record pair -> probability, rounded (the same pair scored twice agrees to 1e-9)."""
    left = pairs["silo_l"].astype(str) + "|" + pairs["source_record_id_l"].astype(str)
    right = pairs["silo_r"].astype(str) + "|" + pairs["source_record_id_r"].astype(str)
    return {frozenset(p): round(float(v), 9) for p, v in zip(zip(left, right), pairs["match_probability"])}


def partition(xref: pd.DataFrame) -> set[frozenset[str]]:
    keys = xref["silo"].astype(str) + "|" + xref["source_record_id"].astype(str)
    return {frozenset(group) for group in keys.groupby(xref["customer_id"].to_numpy()).groups.values()
            for group in [keys.loc[group]]}


@pytest.fixture(scope="module")
def population():
    raw, _ = generate_canonical(300, 11)
    staged = standardise_records(raw, hash_key=b"k").reset_index(drop=True)
    return staged


def _mutate(staged: pd.DataFrame, rng: np.random.Generator, step: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A random batch: a few deletes, updates (fields copied from another record, so links move)
    and inserts (near-copies of existing records under new ids, so they join customers)."""
    n = len(staged)
    delete = rng.choice(n, size=rng.integers(0, 4), replace=False)
    update = rng.choice(np.setdiff1d(np.arange(n), delete), size=rng.integers(1, 5), replace=False)
    out = staged.copy()
    for pos in update:
        donor = out.iloc[rng.integers(n)]
        for col in rng.choice(EDITABLE, size=rng.integers(1, 4), replace=False):
            out.iat[pos, out.columns.get_loc(col)] = donor[col]
    inserts = out.iloc[rng.choice(n, size=rng.integers(1, 5), replace=False)].copy()
    inserts["source_record_id"] = [f"new-{step}-{i}" for i in range(len(inserts))]
    inserts["email"] = np.where(rng.random(len(inserts)) < 0.5, None, inserts["email"])
    changed = pd.concat([out.iloc[np.concatenate([delete, update])][KEY], inserts[KEY]], ignore_index=True)
    out = pd.concat([out.drop(out.index[delete]), inserts], ignore_index=True)
    return out, changed


# max_block_size=4: blocks cross the cap all the time, so pairs among unchanged records appear
# and disappear with a change elsewhere in their block
# cache: primed by a first incremental call (features only), built from the full run with its pairs
# (unchanged pairs are then recalled, not compared), or none (everything featurised every time)
@pytest.mark.parametrize("seed,use_cache,max_block", [(1, "primed", 200), (2, "primed", 4), (3, None, 4),
                                                      (4, "pairs", 200), (5, "pairs", 4)])
def test_incremental_equals_full_after_every_step(population, seed, use_cache, max_block):
    config = ResolverConfig(freeze_tf_tables=True, max_block_size=max_block)
    model = resolve(population, config).model  # trained once, then fixed
    staged = population
    first = resolve(staged, config, model=model)
    previous, pairs, review = first.xref, first.pairs, first.review
    cache = FeatureCache()
    if use_cache == "primed":  # prime the cache with the records the previous run saw
        resolve_incremental(staged, staged[KEY].iloc[:0], previous, model, config, cache=cache)
    elif use_cache == "pairs":
        cache = FeatureCache.build(staged, first.features, pairs=first.pairs, min_probability=config.pairs_min_probability)
        assert cache.pairs.complete and len(cache.pairs) == len(first.pairs)
    rng = np.random.default_rng(seed)
    partial_runs = recalled = 0
    for step in range(6):
        staged, changed = _mutate(staged, rng, step)
        inc = resolve_incremental(staged, changed, previous, model, config, cache=cache if use_cache else None)
        full = resolve(staged, config, model=model)
        assert len(inc.xref) == len(staged)
        assert partition(inc.xref) == partition(full.xref), f"step {step}: partitions differ"
        merged = inc.xref.merge(full.xref, on=KEY, suffixes=("_inc", "_full"))
        assert (merged["customer_id_inc"] == merged["customer_id_full"]).all()
        assert np.allclose(merged["match_probability_inc"], merged["match_probability_full"])
        affected = inc.affected_keys(changed)
        pairs = carry_over_pairs(pairs, inc.pairs, affected)
        review = carry_over_pairs(review, inc.review, affected)
        assert scored(pairs) == scored(full.pairs), f"step {step}: scored pairs differ"
        assert scored(review) == scored(full.review), f"step {step}: review pairs differ"
        partial_runs += len(inc.changed_xref) < len(staged)
        recalled += inc.pairs_recalled
        previous = inc.xref
    assert (recalled > 0) == (use_cache == "pairs")  # unchanged pairs reused only from a complete memory
    if use_cache:
        assert partial_runs == 6  # with a cache, no step had to re-cluster everything


def test_deleting_a_linking_record_splits_its_customer(population):
    config = ResolverConfig(freeze_tf_tables=True)
    model = resolve(population, config).model
    full = resolve(population, config, model=model).xref
    sizes = full.groupby("customer_id")["customer_id"].transform("size")
    victim = full[sizes >= 2].iloc[[0]][KEY]
    cache = FeatureCache()
    resolve_incremental(population, victim.iloc[:0], full, model, config, cache=cache)
    remaining = population.merge(victim, on=KEY, how="left", indicator=True)
    remaining = remaining[remaining["_merge"] == "left_only"].drop(columns="_merge").reset_index(drop=True)
    inc = resolve_incremental(remaining, victim, full, model, config, cache=cache)
    assert len(inc.xref) == len(population) - 1
    assert not inc.xref.merge(victim, on=KEY).shape[0]
    assert partition(inc.xref) == partition(resolve(remaining, config, model=model).xref)
    assert len(inc.changed_xref) < len(remaining)


def test_cache_round_trips_through_parquet(population, tmp_path):
    config = ResolverConfig(freeze_tf_tables=True)
    model = resolve(population, config).model
    previous = resolve(population, config, model=model).xref
    cache = FeatureCache()
    resolve_incremental(population, population[KEY].iloc[:0], previous, model, config, cache=cache)
    cache.save(tmp_path / "features.parquet")
    loaded = FeatureCache.load(tmp_path / "features.parquet")
    assert len(loaded) == len(population)
    changed = population[KEY].iloc[[5]]
    inc = resolve_incremental(population, changed, previous, model, config, cache=loaded)
    assert partition(inc.xref) == partition(previous)
    assert len(inc.changed_xref) < len(population)


def test_bad_changed_keys_named():
    with pytest.raises(ValueError, match="changed_keys lacks"):
        resolve_incremental(pd.DataFrame({"silo": ["a"], "source_record_id": ["1"]}), pd.DataFrame({"silo": ["a"]}),
                            pd.DataFrame(columns=KEY + ["customer_id"]), None)

"""resolve() end to end on a small population with known truth."""
from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from identity_resolution import FellegiSunterModel, ResolverConfig, evaluate, resolve


def test_every_record_gets_one_customer(synthetic, resolved):
    _, staged, _ = synthetic
    xref = resolved.xref
    assert list(xref.columns) == ["silo", "source_record_id", "customer_id", "match_probability"]
    assert len(xref) == len(staged)
    assert not xref.duplicated(["silo", "source_record_id"]).any()
    assert xref["match_probability"].between(0, 1).all()


def test_finds_the_people_despite_formatting_nicknames_and_name_order(synthetic, resolved):
    _, _, truth = synthetic
    metrics = evaluate(resolved.xref, truth)
    assert metrics["pairwise_precision"] == 1.0
    assert metrics["pairwise_recall"] >= 0.95


def test_household_members_stay_apart(synthetic, resolved):
    _, _, truth = synthetic
    joined = resolved.xref.merge(truth, on=["silo", "source_record_id"])
    households = joined[joined["person_id"].str.startswith("H")]
    assert households.groupby("customer_id")["person_id"].nunique().max() == 1


def test_customer_id_is_derived_from_the_smallest_record():
    records = pd.DataFrame({"silo": ["b", "a"], "source_record_id": ["9", "10"],
                            "given_name": ["Ann", "Ann"], "family_name": ["Quilliam", "Quilliam"],
                            "email": ["ann.q77@example.org", "ann.q77@example.org"]})
    from identity_resolution import standardise_records

    xref = resolve(standardise_records(records)).xref
    expected = "C" + hashlib.sha1(b"a|10").hexdigest()[:15]
    assert xref["customer_id"].tolist() == [expected, expected]


def test_same_input_gives_same_ids(synthetic, resolved):
    _, staged, _ = synthetic
    again = resolve(staged.sample(frac=1.0, random_state=1))
    merged = resolved.xref.merge(again.xref, on=["silo", "source_record_id"])
    assert (merged["customer_id_x"] == merged["customer_id_y"]).all()


def test_deleted_records_are_left_out(synthetic):
    _, staged, _ = synthetic
    flagged = staged.assign(is_deleted=["true" if i == 0 else "false" for i in range(len(staged))])
    xref = resolve(flagged).xref
    assert len(xref) == len(staged) - 1
    assert staged["source_record_id"].iloc[0] not in set(xref["source_record_id"])


def test_duplicate_record_keys_are_refused(synthetic):
    _, staged, _ = synthetic
    with pytest.raises(ValueError, match="duplicate"):
        resolve(pd.concat([staged, staged.head(1)]))


def test_constraints_are_honoured(synthetic, resolved):
    _, staged, truth = synthetic
    joined = resolved.xref.merge(truth, on=["silo", "source_record_id"])
    p0 = joined[joined["person_id"] == "P000"]
    p1 = joined[joined["person_id"] == "P001"].iloc[0]
    a, b = p0.iloc[0], p0.iloc[1]
    constraints = pd.DataFrame([
        {"silo_l": a.silo, "source_record_id_l": a.source_record_id, "silo_r": b.silo,
         "source_record_id_r": b.source_record_id, "decision": "non_match"},
        {"silo_l": a.silo, "source_record_id_l": a.source_record_id, "silo_r": p1.silo,
         "source_record_id_r": p1.source_record_id, "decision": "match"},
    ])
    out = resolve(staged, constraints=constraints).xref.set_index(["silo", "source_record_id"])["customer_id"]
    assert out[(a.silo, a.source_record_id)] != out[(b.silo, b.source_record_id)]
    assert out[(a.silo, a.source_record_id)] == out[(p1.silo, p1.source_record_id)]


def test_bad_constraint_decision_is_a_clear_error(synthetic):
    _, staged, _ = synthetic
    bad = pd.DataFrame([{"silo_l": "crm", "source_record_id_l": "x", "silo_r": "shop", "source_record_id_r": "y",
                         "decision": "maybe"}])
    with pytest.raises(ValueError, match="decision"):
        resolve(staged, constraints=bad)


def test_model_round_trips_through_json_and_is_reused(synthetic, resolved, tmp_path):
    _, staged, truth = synthetic
    path = tmp_path / "model.json"
    resolved.model.to_json(path)
    loaded = FellegiSunterModel.from_json(path)
    assert loaded.prior == pytest.approx(resolved.model.prior)
    for name, m in resolved.model.m.items():
        assert loaded.m[name] == pytest.approx(m)
        assert loaded.u[name] == pytest.approx(resolved.model.u[name])
    reused = resolve(staged, ResolverConfig(model_path=str(path)))
    assert evaluate(reused.xref, truth)["pairwise_f1"] == pytest.approx(evaluate(resolved.xref, truth)["pairwise_f1"])


def test_a_trained_model_is_saved_with_the_prior_it_scored_with(synthetic, tmp_path):
    _, staged, _ = synthetic
    path = tmp_path / "model.json"
    trained = resolve(staged, ResolverConfig(save_model_path=str(path), pairs_min_probability=0.0))
    settled = trained.model.em_history[-1]
    assert settled["session"] == "scored_prior"
    # the settled prior expects as many matches as the scored candidates' probabilities add up to
    assert settled["prior"] * settled["total_pairs"] == pytest.approx(trained.pairs["match_probability"].sum(), rel=0.01)
    assert FellegiSunterModel.from_json(path).prior == pytest.approx(trained.model.prior)
    reused = resolve(staged, ResolverConfig(model_path=str(path)))
    assert reused.model.prior == pytest.approx(trained.model.prior)  # a given model is not re-settled


def test_timings_cover_every_stage(resolved):
    assert {"features", "blocking", "comparison", "training", "scoring", "clustering"} <= set(resolved.timings)


def test_pairs_carry_levels_and_contributions(resolved):
    pairs = resolved.pairs
    for field in ("given_name", "family_name", "email", "phone", "national_id", "birth_date"):
        assert f"gamma_{field}" in pairs.columns and f"bf_{field}" in pairs.columns
    bf = pairs[[c for c in pairs.columns if c.startswith("bf_")]].sum(axis=1)
    assert (bf + resolved.model.prior_bits()).to_numpy() == pytest.approx(pairs["match_weight"].to_numpy())


def test_records_without_any_name_resolve_one_row_each():
    """No name anywhere in the input (an email list): the name comparison has no values to score."""
    import pandas as pd

    from identity_resolution import resolve, standardise_records

    raw = pd.DataFrame({"silo": "s", "source_record_id": ["1", "2", "3"],
                        "email": ["ann.lee@acme.io", "ann.lee@acme.io", "bo.ek@acme.io"]})
    xref = resolve(standardise_records(raw, hash_key=b"k")).xref
    assert sorted(xref["source_record_id"]) == ["1", "2", "3"]
    assert xref["customer_id"].notna().all()

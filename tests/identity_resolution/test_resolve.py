"""resolve() end to end on a small population with known truth."""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from hub.demo.generator import generate_canonical
from identity_resolution import FellegiSunterModel, ResolverConfig, evaluate, explain_pair, resolve, standardise_records
from identity_resolution.scoring import initial_m


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
    settled = next(h for h in trained.model.em_history if h["session"] == "scored_prior")
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
    assert (bf + pair_priors(resolved.model, pairs)).to_numpy() == pytest.approx(pairs["match_weight"].to_numpy())


def pair_priors(model: FellegiSunterModel, pairs: pd.DataFrame) -> np.ndarray:
    """The prior in bits each listed pair was scored with (its two silos')."""
    n = len(pairs)
    silo = np.concatenate([pairs["silo_l"].to_numpy(dtype=object), pairs["silo_r"].to_numpy(dtype=object)])
    return np.broadcast_to(model.pair_prior_bits(silo, np.arange(n), np.arange(n) + n), (n,))


@pytest.fixture(scope="module")
def five_silos():
    raw, truth = generate_canonical(1500, 11)
    staged = standardise_records(raw, hash_key=b"test-key")
    return staged, truth, resolve(staged, ResolverConfig(pairs_min_probability=0.0))


def test_each_pair_of_silos_is_scored_with_the_prior_it_settled(five_silos):
    staged, _, res = five_silos
    priors, pairs = res.model.silo_pair_priors, res.pairs
    assert len(priors) >= 5 and max(priors.values()) > 2 * min(priors.values())
    key = pd.Series([tuple(sorted(p)) for p in zip(pairs["silo_l"], pairs["silo_r"])], index=pairs.index)
    blocked = pairs["blocking_rule"] != "cluster_closure"  # scored after the priors settled
    for entry in (h for h in res.model.em_history if h["session"] == "silo_pair_prior"):
        group = blocked & (key == tuple(entry["silos"]))
        # each pair of silos' prior expects the matches its candidates' probabilities add up to
        assert pairs.loc[group, "match_probability"].sum() == pytest.approx(entry["expected_matches"], rel=0.01)
    bf = pairs[[c for c in pairs.columns if c.startswith("bf_")]].sum(axis=1)
    assert (bf + pair_priors(res.model, pairs)).to_numpy() == pytest.approx(pairs["match_weight"].to_numpy())
    assert FellegiSunterModel.from_json(res.model.to_json()).silo_pair_priors == pytest.approx(priors)


def test_every_field_the_silos_hold_has_its_m_learned(five_silos):
    """No field keeps the starting guess of m: the family name in an email is compared only where one
    record has no family name, which no session on exact names ever sees (its own session does)."""
    start = initial_m()
    model = five_silos[2].model
    for name in ("given_name", "family_name", "email", "phone", "postcode", "family_in_email", "area"):
        assert not np.allclose(model.m[name], start[name]), name


def test_an_explanation_starts_from_the_prior_of_the_two_silos(five_silos):
    staged, _, res = five_silos
    keyed = staged.set_index(["silo", "source_record_id"])
    pair = res.pairs[res.pairs["silo_l"] != res.pairs["silo_r"]].sort_values("match_weight").iloc[-1]
    table = explain_pair(res.model, keyed.loc[(pair.silo_l, pair.source_record_id_l)].to_dict() | {"silo": pair.silo_l},
                         keyed.loc[(pair.silo_r, pair.source_record_id_r)].to_dict() | {"silo": pair.silo_r})
    prior = res.model.silo_pair_priors[tuple(sorted((pair.silo_l, pair.silo_r)))]
    assert table["bf"].iloc[0] == pytest.approx(np.log2(prior / (1 - prior)))
    assert table["cumulative"].iloc[-1] == pytest.approx(pair.match_weight)


def test_records_without_any_name_resolve_one_row_each():
    """No name anywhere in the input (an email list): the name comparison has no values to score."""
    import pandas as pd

    from identity_resolution import resolve, standardise_records

    raw = pd.DataFrame({"silo": "s", "source_record_id": ["1", "2", "3"],
                        "email": ["ann.lee@acme.io", "ann.lee@acme.io", "bo.ek@acme.io"]})
    xref = resolve(standardise_records(raw, hash_key=b"k")).xref
    assert sorted(xref["source_record_id"]) == ["1", "2", "3"]
    assert xref["customer_id"].notna().all()


def test_a_column_no_record_fills_is_no_error_at_scale(monkeypatch):
    """Every email a store's placeholder (junk, so none left): at the size where features become
    categoricals, the empty column arrived as Arrow's null type and broke them."""
    from identity_resolution import features

    monkeypatch.setattr(features, "CATEGORICAL_FROM", 4)
    raw = pd.DataFrame({"silo": "pos", "source_record_id": [str(i) for i in range(6)],
                        "full_name": ["Ann Lee", "Ann Lee", "Bo Ek", "Bo Ek", "Cy Roe", "Di Poe"],
                        "email": "test@test.com", "postcode": ["02134", "02134", "10001", "10001", "60601", "60601"]})
    staged = standardise_records(raw, hash_key=b"k")
    assert staged["email"].isna().all()
    xref = resolve(staged).xref.set_index("source_record_id")["customer_id"]
    assert xref["0"] == xref["1"] and xref["2"] == xref["3"] and len(set(xref)) == 4

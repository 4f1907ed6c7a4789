"""Fellegi–Sunter scoring: EM recovers known m from unlabelled pairs; term-frequency adjustment."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from identity_resolution.comparison import FIELDS
from identity_resolution.scoring import (
    FellegiSunterModel,
    prior_from_posteriors,
    silo_pair_priors,
    term_frequency_bits,
    train_em,
)

TRUE_M = {
    "given_name": [0.02, 0.02, 0.03, 0.13, 0.80],
    "family_name": [0.03, 0.02, 0.05, 0.90],
    "birth_date": [0.05, 0.02, 0.08, 0.85],
    "national_id": [0.04, 0.03, 0.13, 0.80],
    "email": [0.15, 0.02, 0.03, 0.80],
    "phone": [0.10, 0.05, 0.85],
    "address": [0.10, 0.05, 0.10, 0.75],
    "postcode": [0.08, 0.04, 0.88],
    "city": [0.08, 0.04, 0.88],
    "family_in_email": [0.3, 0.1, 0.6],
    "company": [0.25, 0.05, 0.70],
    "area": [0.15, 0.85],
    "generation": [0.02, 0.98],
    "email_birth_year": [0.03, 0.97],
}
TRUE_U = {
    "given_name": [0.95, 0.01, 0.01, 0.01, 0.02],
    "family_name": [0.96, 0.01, 0.01, 0.02],
    "birth_date": [0.97, 0.01, 0.01, 0.01],
    "national_id": [0.985, 0.01, 0.004, 0.001],
    "email": [0.997, 0.001, 0.001, 0.001],
    "phone": [0.99, 0.008, 0.002],
    "address": [0.97, 0.02, 0.007, 0.003],
    "postcode": [0.9, 0.05, 0.05],
    "city": [0.8, 0.05, 0.15],
    "family_in_email": [0.96, 0.03, 0.01],
    "company": [0.9, 0.02, 0.08],
    "area": [0.94, 0.06],
    "generation": [0.6, 0.4],
    "email_birth_year": [0.97, 0.03],
}


def simulate(n_match: int, n_non: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Comparison vectors drawn independently per field from the true m (matches) and u (others)."""
    rng = np.random.default_rng(seed)
    cols = {}
    for spec in FIELDS:
        k = len(spec.levels)
        m = rng.choice(k, size=n_match, p=TRUE_M[spec.name])
        u = rng.choice(k, size=n_non, p=TRUE_U[spec.name])
        cols[f"gamma_{spec.name}"] = np.concatenate([m, u]).astype(np.int8)
    labels = np.concatenate([np.ones(n_match, bool), np.zeros(n_non, bool)])
    return pd.DataFrame(cols), labels


def test_em_recovers_m_and_the_share_of_matches():
    gammas, labels = simulate(4000, 16000)
    u = {k: np.array(v) for k, v in TRUE_U.items()}
    model = train_em(gammas, u, FIELDS, iterations=50, household_guard=False)
    for spec in FIELDS:
        assert model.m[spec.name] == pytest.approx(TRUE_M[spec.name], abs=0.03), spec.name
    candidate_prior = next(h["prior"] for h in model.em_history if h["session"] == "candidate_prior")
    assert candidate_prior == pytest.approx(labels.mean(), abs=0.02)


def test_trained_model_separates_matches():
    gammas, labels = simulate(2000, 8000, seed=1)
    u = {k: np.array(v) for k, v in TRUE_U.items()}
    model = train_em(gammas, u, FIELDS, household_guard=False)
    scores = model.score(gammas)
    predicted = scores["match_weight"].to_numpy() > model.prior_bits() + np.log2(labels.mean() / (1 - labels.mean())) * 0
    assert (predicted == labels).mean() > 0.97
    bits = scores[[c for c in scores.columns if c.startswith("bf_")]].sum(axis=1) + model.prior_bits()
    assert bits.to_numpy() == pytest.approx(scores["match_weight"].to_numpy())


def test_prior_is_per_random_pair_when_total_pairs_given():
    gammas, labels = simulate(1000, 4000, seed=2)
    u = {k: np.array(v) for k, v in TRUE_U.items()}
    model = train_em(gammas, u, FIELDS, total_pairs=1_000_000, household_guard=False)
    assert model.prior == pytest.approx(1000 / 1_000_000, rel=0.1)


def test_rare_values_count_for_more_than_common_ones():
    table = {"n": 1000, "avg": 0.01, "counts": {"smith": 100, "quilliam": 2}}
    values = pd.Series(["smith", "quilliam", "unseen", "smith"])
    exact = np.array([True, True, True, False])
    bits = term_frequency_bits(values, exact, table, max_bits=6.0)
    assert bits[0] < 0 < bits[1] <= bits[2]
    assert bits[3] == 0.0
    assert np.abs(bits).max() <= 6.0


def test_a_value_counts_without_the_record_that_carries_it():
    """Of a name seen twice, one record is the one being compared: the chance a stranger carries it
    is one in n, as for a name seen once — not two in n."""
    table = {"n": 1000, "avg": 0.01, "counts": {"quilliam": 2, "quince": 3, "smith": 100}}
    bits = term_frequency_bits(pd.Series(["quilliam", "unseen", "quince", "smith"]), np.ones(4, bool), table, max_bits=20)
    assert bits[0] == pytest.approx(bits[1]) == pytest.approx(np.log2(0.01 * 1000))
    assert bits[2] == pytest.approx(np.log2(0.01 * 1000 / 2))
    assert bits[3] == pytest.approx(np.log2(0.01 * 1000 / 99))


def test_the_prior_settles_where_the_scored_probabilities_sum_to_the_matches_it_expects():
    """Two patterns with known likelihoods; 1,000 matches among 10^8 pairs. Started far off, the
    settled prior is the true match rate: the candidates' probabilities then sum to 1,000."""
    total, strong, weak = 1e8, np.log2(0.7 / 1e-6), np.log2(0.3 / 1e-4)
    # at expectation: 700 strong and 300 weak matches, 100 strong and 10,000 weak non-matches
    fields = np.concatenate([np.full(800, strong), np.full(10_300, weak)])
    start = FellegiSunterModel(prior=1e-7)
    prior, expected = prior_from_posteriors(start, fields, np.full(len(fields), np.inf), total)
    assert prior == pytest.approx(1e-5, rel=0.01)
    assert expected == pytest.approx(1000, rel=0.01)
    capped, _ = prior_from_posteriors(start, fields, np.where(np.arange(len(fields)) < 800, -60.0, np.inf), total)
    assert capped < prior  # pairs a guard holds down count for (almost) nothing


def test_each_pair_of_silos_settles_its_own_prior():
    """10,000 CRM and 10,000 billing records. Across the two silos 1,000 matches among 10^8 pairs;
    inside the CRM 50 among 5*10^7 (a department seldom holds one customer twice); inside billing
    too few candidates to say. Each pair of silos gets its own rate back; billing keeps the overall prior."""
    strong, weak = np.log2(0.7 / 1e-6), np.log2(0.3 / 1e-4)
    crm, billing = np.arange(10_000), np.arange(10_000, 20_000)
    silo = np.array(["crm"] * 10_000 + ["billing"] * 10_000, dtype=object)
    # at expectation: across, 700 + 300 matches and 100 + 10,000 non-matches (strong + weak);
    # inside the CRM 35 + 15 matches and 50 + 5,000 non-matches; inside billing 20 weak pairs
    across, inside, few = 800 + 10_300, 85 + 5_015, 20
    fields = np.concatenate([np.full(800, strong), np.full(10_300, weak), np.full(85, strong), np.full(5_015, weak),
                             np.full(few, weak)])
    left = np.concatenate([crm[np.arange(across) % 10_000], crm[np.arange(inside) % 9_999], billing[:few]])
    right = np.concatenate([billing[np.arange(across) % 10_000], crm[np.arange(inside) % 9_999 + 1], billing[1:few + 1]])
    model = FellegiSunterModel(m={k: np.array(v) for k, v in TRUE_M.items()}, u={k: np.array(v) for k, v in TRUE_U.items()},
                               prior=1e-7)
    priors, history = silo_pair_priors(model, fields, np.full(len(fields), np.inf), silo, left, right)
    assert priors[("billing", "crm")] == pytest.approx(1e-5, rel=0.02)
    assert priors[("crm", "crm")] == pytest.approx(1e-6, rel=0.1)
    assert ("billing", "billing") not in priors and len(history) == 2
    model.silo_pair_priors = priors
    bits = model.pair_prior_bits(silo, left, right)
    assert bits[0] == pytest.approx(np.log2(1e-5 / (1 - 1e-5)), abs=0.05)  # across
    assert bits[-1] == pytest.approx(model.prior_bits())  # billing with billing: the overall prior
    assert FellegiSunterModel.from_json(model.to_json()).silo_pair_priors == pytest.approx(priors)


def test_a_pair_takes_its_silos_prior_in_either_order_else_the_overall_one():
    model = FellegiSunterModel(prior=1e-5, silo_pair_priors={("billing", "crm"): 1e-3, ("crm", "gone"): 0.1})
    silo = np.array(["crm", "billing", "support", None], dtype=object)
    bits = model.pair_prior_bits(silo, np.array([0, 1, 0, 2, 3]), np.array([1, 0, 2, 3, 0]))
    across = np.log2(1e-3 / (1 - 1e-3))
    assert bits == pytest.approx([across, across] + [model.prior_bits()] * 3)


def test_model_json_is_readable_and_checked(tmp_path):
    gammas, _ = simulate(500, 2000, seed=3)
    model = train_em(gammas, {k: np.array(v) for k, v in TRUE_U.items()}, FIELDS)
    text = model.to_json()
    assert '"bayes_factor_bits"' in text and '"label": "exact"' in text
    broken = text.replace('"label": "exact"', '"label": "identical"', 1)
    with pytest.raises(ValueError, match="does not match"):
        FellegiSunterModel.from_json(broken)



def test_a_move_counts_once_not_once_per_address_field():
    model = FellegiSunterModel(m={k: np.array(v) for k, v in TRUE_M.items()},
                               u={k: np.array(v) for k, v in TRUE_U.items()})
    base = {f"gamma_{spec.name}": [len(spec.levels) - 1] * 3 for spec in FIELDS}  # agree on everything
    base["gamma_address"] = [0, 0, 3]  # moved / moved / same street address
    base["gamma_postcode"] = [0, -1, 0]  # another postcode / none / another postcode
    base["gamma_city"] = [0, -1, 0]
    gammas = pd.DataFrame(base).astype(np.int8)
    weight = model.match_weight(gammas)
    bits = model.field_bits(gammas)
    # after a move the other postcode and city add nothing: as if they were unknown
    assert weight[0] == pytest.approx(weight[1])
    assert bits.loc[0, "bf_postcode"] == 0.0 and bits.loc[0, "bf_city"] == 0.0
    # at the same street address another postcode is still evidence against
    assert bits.loc[2, "bf_postcode"] < 0 and bits.loc[2, "bf_city"] < 0
    assert model.prior_bits() + bits.sum(axis=1).to_numpy() == pytest.approx(weight)


def test_a_city_agreement_after_a_postcode_agreement_counts_by_how_often_strangers_share_both():
    from identity_resolution.scoring import u_city_given_postcode

    model = FellegiSunterModel(m={k: np.array(v) for k, v in TRUE_M.items()},
                               u={k: np.array(v) for k, v in TRUE_U.items()})
    gammas = pd.DataFrame({f"gamma_{spec.name}": [-1] * 2 for spec in FIELDS}).astype(np.int8)
    gammas["gamma_postcode"] = np.array([2, -1], dtype=np.int8)  # same postcode / postcode unknown
    gammas["gamma_city"] = np.array([2, 2], dtype=np.int8)
    plain = model.field_bits(gammas)["bf_city"].to_numpy()
    assert plain[0] == plain[1] > 0  # no estimate: the city counts on its own
    # random pairs in which every shared postcode also means a shared city: the city adds nothing
    nested = pd.DataFrame({"gamma_postcode": [2] * 60 + [0] * 40, "gamma_city": [2] * 60 + [0] * 40})
    model.u_city_given_postcode = u_city_given_postcode(nested)
    bits = model.field_bits(gammas)["bf_city"].to_numpy()
    assert abs(bits[0]) < 0.3 and bits[1] == plain[1]
    # unrelated postcode and city (FEBRL): the share equals the plain u, so the bits stay as they were
    unrelated = pd.DataFrame({"gamma_postcode": [2] * 200, "gamma_city": [2] * 30 + [0] * 170})
    model.u_city_given_postcode = u_city_given_postcode(unrelated)
    assert model.field_bits(gammas)["bf_city"].iloc[0] == pytest.approx(plain[0], abs=0.1)
    # too few random pairs sharing a postcode to estimate anything
    assert u_city_given_postcode(nested.head(10)) is None
    assert FellegiSunterModel.from_json(model.to_json()).u_city_given_postcode == model.u_city_given_postcode


def test_an_exact_email_too_rare_for_the_random_sample_gets_its_u_from_the_email_session():
    from identity_resolution.scoring import u_of_rare_agreements

    floor = 0.5 / 1000  # smoothing count over 1,000 random pairs, none of which shared an email
    u = {k: np.array(v) for k, v in TRUE_U.items()}
    u["email"] = np.array([1 - 3 * floor, floor, floor, floor])
    model = FellegiSunterModel(m={k: np.array(v) for k, v in TRUE_M.items()}, u=u,
                               em_history=[{"session": "email", "pairs": 400, "prior": 0.99},
                                           {"session": "birth_date", "pairs": 400, "prior": 0.5}])
    random_gammas = pd.DataFrame({f"gamma_{spec.name}": [0] * 1000 for spec in FIELDS}).astype(np.int8)
    random_gammas["gamma_birth_date"] = np.array([3] * 50 + [0] * 950, dtype=np.int8)  # seen 50 times: kept
    random_gammas.loc[:499, "gamma_email"] = -1  # email present in half the random pairs
    candidates = pd.DataFrame({"gamma_email": [3] * 500 + [0] * 500, "gamma_birth_date": [3] * 1000}).astype(np.int8)
    new_u = u_of_rare_agreements(model, candidates, random_gammas, total_pairs=1e8)
    # 1% of the 500 exact-email candidates are non-matches, out of 5e7 pairs with both emails
    assert new_u["email"][3] == pytest.approx(5 / 5e7)
    assert new_u["email"].sum() == pytest.approx(1.0)
    assert new_u["email"][0] / new_u["email"][1] == pytest.approx(u["email"][0] / u["email"][1])
    assert np.array_equal(new_u["birth_date"], u["birth_date"])
    assert np.array_equal(new_u["national_id"], u["national_id"])  # no session: unchanged


def test_with_a_shared_email_a_marriage_and_a_move_count_once():
    model = FellegiSunterModel(m={k: np.array(v) for k, v in TRUE_M.items()},
                               u={k: np.array(v) for k, v in TRUE_U.items()})
    gammas = pd.DataFrame({f"gamma_{spec.name}": [-1] * 2 for spec in FIELDS}).astype(np.int8)
    gammas["gamma_email"] = np.array([3, 0], dtype=np.int8)  # same email / another email
    for name in ("family_name", "phone", "address"):  # new name, number and street address on both
        gammas[f"gamma_{name}"] = np.array([0, 0], dtype=np.int8)
    bits = model.field_bits(gammas)
    against = bits.loc[0, ["bf_family_name", "bf_phone", "bf_address"]]
    assert (against < 0).sum() == 1  # only the strongest disagreement counts
    assert against.min() == bits.loc[1, ["bf_family_name", "bf_phone", "bf_address"]].min()
    assert (bits.loc[1, ["bf_family_name", "bf_phone", "bf_address"]] < 0).all()  # without it: each one
    assert model.prior_bits() + bits.drop(columns="bf_household_guard").sum(axis=1).to_numpy() + \
        bits["bf_household_guard"].to_numpy() == pytest.approx(model.match_weight(gammas))


def namesake_pairs() -> pd.DataFrame:
    """Same name, address, postcode and phone; birth dates clearly different; then the same with an
    exact email too (a personal identifier a father and son do not share)."""
    gammas = pd.DataFrame({f"gamma_{spec.name}": [-1] * 2 for spec in FIELDS}).astype(np.int8)
    for spec in FIELDS:
        if spec.name in ("given_name", "family_name", "address", "postcode", "phone"):
            gammas[f"gamma_{spec.name}"] = np.int8(len(spec.levels) - 1)
    gammas["gamma_birth_date"] = np.int8(0)
    gammas.loc[1, "gamma_email"] = np.int8(3)
    return gammas


def test_a_namesake_with_another_birth_date_is_capped_unless_a_personal_identifier_agrees():
    m = {k: np.array(v) for k, v in TRUE_M.items()}
    u = {k: np.array(v) for k, v in TRUE_U.items()}
    gammas = namesake_pairs()
    plain = FellegiSunterModel(m=m, u=u, prior=1e-5).match_weight(gammas)
    guarded = FellegiSunterModel(m=m, u=u, prior=1e-5, birth_date_cap_bits=-4.0)
    weight = guarded.match_weight(gammas)
    assert plain[0] > 10  # household fields outweigh the birth dates without the guard
    assert weight[0] == pytest.approx(-4.0)
    assert weight[1] == pytest.approx(plain[1])  # the shared email says it is one person
    assert guarded.field_bits(gammas)["bf_household_guard"].iloc[0] == pytest.approx(-4.0 - plain[0])
    assert FellegiSunterModel.from_json(guarded.to_json()).birth_date_cap_bits == -4.0


@pytest.mark.parametrize("given_level, capped", [(0, True), (1, False), (2, False)])
def test_twins_a_shared_birth_date_beside_clearly_different_given_names_is_no_personal_evidence(given_level, capped):
    """Anna and Emma Lee: one family name, address, phone and birth date. Beside an initial or a
    loosely alike name the shared birth date still says it is one person mistyped."""
    gammas = namesake_pairs().iloc[[0]].reset_index(drop=True)
    gammas["gamma_birth_date"] = np.int8(3)
    gammas["gamma_given_name"] = np.int8(given_level)
    m = {k: np.array(v) for k, v in TRUE_M.items()}
    u = {k: np.array(v) for k, v in TRUE_U.items()}
    plain = FellegiSunterModel(m=m, u=u, prior=1e-5).match_weight(gammas)[0]
    guarded = FellegiSunterModel(m=m, u=u, prior=1e-5, household_cap_bits=-4.0).match_weight(gammas)[0]
    assert plain > -4.0
    assert bool(guarded == pytest.approx(-4.0)) is capped
    assert bool(guarded == pytest.approx(plain)) is not capped


@pytest.mark.parametrize("m_dob_different, guard", [(0.002, True), (0.05, False)])
def test_the_birth_date_guard_is_on_only_where_matches_almost_never_differ_in_birth_date(m_dob_different, guard):
    m = {k: list(v) for k, v in TRUE_M.items()}
    m["birth_date"] = [m_dob_different, 0.02, 0.08, 0.9 - m_dob_different]
    rng = np.random.default_rng(3)
    cols = {}
    for spec in FIELDS:
        k = len(spec.levels)
        cols[f"gamma_{spec.name}"] = np.concatenate([rng.choice(k, size=20_000, p=m[spec.name]),
                                                     rng.choice(k, size=60_000, p=TRUE_U[spec.name])]).astype(np.int8)
    u = {k: np.array(v) for k, v in TRUE_U.items()}
    model = train_em(pd.DataFrame(cols), u, FIELDS, household_guard=True)
    assert (model.birth_date_cap_bits is not None) is guard


def test_a_small_sample_cannot_make_an_exact_email_weak():
    from identity_resolution.scoring import REFERENCE_U_EXACT, u_for_small_samples

    u = {k: np.array(v) for k, v in TRUE_U.items()}
    u["email"] = np.array([0.90, 0.02, 0.02, 0.06])  # 40 random pairs saw the file's only shared email
    small = pd.DataFrame({f"gamma_{spec.name}": np.full(40, -1, dtype=np.int8) for spec in FIELDS})
    small["gamma_email"] = np.int8(0)
    fixed = u_for_small_samples(u, small)
    assert fixed["email"][-1] == REFERENCE_U_EXACT["email"]
    assert fixed["email"].sum() == pytest.approx(1.0)
    assert np.array_equal(fixed["given_name"], u["given_name"])  # not an identifier: left alone
    big = pd.concat([small] * 300, ignore_index=True)  # 12,000 pairs with an email: the data speaks
    assert np.array_equal(u_for_small_samples(u, big)["email"], u["email"])


def test_two_records_of_a_short_mailing_list_with_one_address_are_one_customer():
    from identity_resolution import resolve, standardise_records

    emails = ["ghost@northwind.io", "Ghost@Northwind.io"] + [f"{n}@northwind.io" for n in
                                                              ("ann.lee", "bo.ek", "cy.ng", "di.ox", "ed.fu", "flo.po")]
    raw = pd.DataFrame({"silo": "list", "source_record_id": [str(i) for i in range(len(emails))], "email": emails})
    xref = resolve(standardise_records(raw, hash_key=b"k")).xref
    assert xref["customer_id"].iloc[0] == xref["customer_id"].iloc[1]
    assert xref["customer_id"].nunique() == len(emails) - 1

"""Clustering: no transitive merging across strong conflicts, constraints, deterministic ids."""
from __future__ import annotations

import numpy as np

from identity_resolution.clustering import cluster


def run(edges, n, nid=None, dob=None, threshold=0.9, **kw):
    left = np.array([e[0] for e in edges], dtype=np.int64)
    right = np.array([e[1] for e in edges], dtype=np.int64)
    prob = np.array([e[2] for e in edges], dtype=np.float64)
    weight = np.log2(prob / (1 - prob + 1e-12))
    nid = np.array(nid if nid is not None else [None] * n, dtype=object)
    dob = np.array(dob if dob is not None else [None] * n, dtype=object)
    return cluster(n, left, right, weight, prob, threshold, nid, dob, **kw)


def same(result, a, b) -> bool:
    return result.labels[a] == result.labels[b]


def test_chain_of_links_does_not_join_conflicting_national_ids():
    # 0 - 1 - 2 - 3: weak-but-passing links; 0 and 3 carry different national ids.
    res = run([(0, 1, 0.95), (1, 2, 0.93), (2, 3, 0.92)], 4, nid=["1111", None, None, "2222"])
    assert not same(res, 0, 3)
    assert same(res, 0, 1)
    assert set(res.rejected["reason"]) == {"national_id"}


def test_chain_does_not_join_clearly_different_birth_dates():
    res = run([(0, 1, 0.99), (1, 2, 0.99)], 3, dob=["19800101", None, "19551230"])
    assert not same(res, 0, 2)


def test_close_birth_dates_and_one_digit_id_typos_are_not_conflicts():
    res = run([(0, 1, 0.99), (1, 2, 0.99)], 3, nid=["1234", None, "1284"], dob=["19800112", None, "19801201"])
    assert same(res, 0, 2)


def test_a_conflicting_pair_with_its_own_strong_score_may_join():
    res = run([(0, 1, 0.99), (1, 2, 0.99), (0, 2, 0.97)], 3, nid=["1111", None, "2222"])
    assert same(res, 0, 2)


def test_strongest_links_win_when_a_conflict_splits_a_chain():
    res = run([(0, 1, 0.999), (1, 2, 0.91)], 3, nid=["1111", None, "2222"])
    assert same(res, 0, 1) and not same(res, 1, 2)


def test_cannot_link_is_never_crossed():
    res = run([(0, 1, 0.999), (1, 2, 0.999)], 3, cannot_link=[(0, 2)])
    assert not same(res, 0, 2)
    assert "cannot_link" in set(res.rejected["reason"])


def test_must_link_joins_without_any_score():
    res = run([], 3, must_link=[(0, 2)])
    assert same(res, 0, 2) and not same(res, 0, 1)
    assert res.record_probability[0] == 1.0


def test_pairs_below_threshold_do_not_link():
    res = run([(0, 1, 0.5)], 2)
    assert not same(res, 0, 1)


def _with_names(given, family):
    return {"given": np.array(given, dtype=object), "family": np.array(family, dtype=object)}


def test_clearly_different_given_names_do_not_chain_but_names_filed_swapped_do():
    # John Smith - a shared-mailbox record - Mary Smith: a household, kept apart
    res = run([(0, 1, 0.99), (1, 2, 0.95)], 3, **_with_names(["john", None, "mary"], ["smith", "smith", "smith"]))
    assert not same(res, 0, 2)
    assert set(res.rejected["reason"]) == {"given_name"}
    # Joshua Lewis - his email - 'Lewis Joshua' filed swapped; 'martineza' (a user name) for Amber Martinez
    res = run([(0, 1, 0.99), (1, 2, 0.95)], 3, **_with_names(["joshua", None, "lewis"], ["lewis", "lewis", "joshua"]))
    assert same(res, 0, 2)
    res = run([(0, 1, 0.99), (1, 2, 0.95)], 3, **_with_names(["amber", None, "martineza"], ["martinez", None, None]))
    assert same(res, 0, 2)
    # a husband filed swapped ('Smith John') still is not his wife Mary Smith
    res = run([(0, 1, 0.99), (1, 2, 0.95)], 3, **_with_names(["smith", None, "mary"], ["john", "smith", "smith"]))
    assert not same(res, 0, 2)


def test_a_bridge_between_namesakes_is_outweighed_by_the_pairs_between_them():
    # 0-1 one Christopher Smith (email and phone agree), 2-3 another; 4 has only the name and links to
    # both above the threshold; every pair between the two men scored as different people
    edges = [(0, 1, 0.999), (2, 3, 0.999), (1, 4, 0.93), (2, 4, 0.92)]
    edges += [(a, b, 0.05) for a in (0, 1) for b in (2, 3)]
    res = run(edges, 5)
    assert same(res, 0, 1) and same(res, 2, 3) and not same(res, 0, 2)
    assert same(res, 1, 4)  # the bridge joins the man it links to more strongly
    assert res.rejected.values.tolist() == [[2, 4, 0.92, "outweighed"]]
    assert res.record_probability[2] == 0.999 and res.record_probability[4] == 0.93


def test_one_disagreeing_pair_does_not_split_a_person_held_by_links():
    # a person who moved: the old and new address records disagree, both link to the email record
    res = run([(0, 1, 0.99), (1, 2, 0.99), (0, 2, 0.2)], 3)
    assert same(res, 0, 1) and same(res, 1, 2) and res.rejected.empty


def test_a_pairs_odds_against_count_at_most_as_one_in_twenty():
    # odds of a million to one against (several fields repeating one slip) do not outvote two links
    res = run([(0, 1, 0.99), (1, 2, 0.99), (0, 2, 1e-6)], 3, threshold=0.5)
    assert same(res, 0, 2)
    # ... but three pairs scored one in twenty outweigh one link
    res = run([(0, 1, 0.99), (2, 3, 0.99), (1, 2, 0.95), (0, 2, 0.05), (1, 3, 0.05), (0, 3, 0.05)], 4, threshold=0.5)
    assert not same(res, 1, 2)


def test_groups_must_clear_the_threshold_on_balance():
    # two links and one pair against: 4.6 - 3 = 1.6 in log-odds, enough for 0.5 (0), not for 0.9 (2.2)
    edges = [(0, 1, 0.99), (1, 2, 0.99), (0, 2, 1e-6)]
    assert same(run(edges, 3, threshold=0.5), 0, 2)
    strict = run(edges, 3, threshold=0.9)
    assert same(strict, 0, 1) and not same(strict, 1, 2) and strict.rejected["reason"].tolist() == ["outweighed"]


def test_a_must_link_is_never_split():
    res = run([(0, 1, 0.001), (1, 2, 0.99)], 3, must_link=[(0, 1)])
    assert same(res, 0, 1) and same(res, 1, 2)

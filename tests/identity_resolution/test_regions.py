"""Where a record lives: region box, ZIP code, phone area code; and the comparison that reads it."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from identity_resolution import standardise_records
from identity_resolution.addresses import US_STATES
from identity_resolution.comparison import FIELDS, compare
from identity_resolution.features import build_features
from identity_resolution.regions import CA_PROVINCES, _table, record_areas

AREA = next(f for f in FIELDS if f.name == "area").levels


@pytest.mark.parametrize(
    "region, postcode, phone, country, area",
    [
        ("VA", None, None, "US", "US:VA"),
        (None, "23457", None, "US", "US:VA"),  # Virginia Beach
        (None, "02108", None, "US", "US:MA"),  # a leading zero
        (None, None, "+17572535233", "US", "US:VA"),
        (None, None, "+14165550123", "CA", "CA:ON"),  # Toronto
        ("ONTARIO", None, None, "CA", "CA:ON"),  # a province written out, as the phone says it
        ("ONTARIO", None, None, "US", "CA:ON"),  # a US hub's default country: the province says Canada
        ("QC", "H2X 1Y4", None, "US", "CA:QC"),
        ("WA", None, None, "US", "US:WA"),
        ("NY", "23457", "+17572535233", "US", "US:NY"),  # the box wins
        (None, "10115", None, "DE", None),  # a Berlin postcode is no US ZIP code
        (None, None, "+4930901820", "DE", None),  # only North American area codes are read
        (None, None, "+18005550199", "US", None),  # toll-free: no place
        (None, "2345", None, "US", None),
    ],
)
def test_record_area(region, postcode, phone, country, area):
    got = record_areas(pd.Series([region], dtype=object), pd.Series([postcode], dtype=object),
                       pd.Series([phone], dtype=object), pd.Series([country], dtype=object))
    assert got.iloc[0] == area


def test_the_shipped_tables_name_real_states_and_provinces():
    states = set(US_STATES.values()) | {"PR", "GU", "VI", "MP", "AS", "AE", "AA", "AP", "FM", "MH", "PW"}
    assert {row[0] for row in _table("us_zip3_states.csv").values()} <= states
    for country, region in _table("nanp_area_codes.csv").values():
        assert region in (set(CA_PROVINCES.values()) if country == "CA" else states)
    assert _table("us_zip3_states.csv")["941"] == ("CA",) and _table("nanp_area_codes.csv")["212"] == ("US", "NY")


def area_level(left: dict, right: dict) -> str | None:
    raw = pd.DataFrame([{"silo": "s", "source_record_id": "1", **left}, {"silo": "t", "source_record_id": "2", **right}])
    gammas = compare(build_features(standardise_records(raw)), np.array([0]), np.array([1]))
    level = int(gammas["gamma_area"].iloc[0])
    return AREA[level] if level >= 0 else None


@pytest.mark.parametrize(
    "left, right, level",
    [
        # a support desk's phone against a mailing list's ZIP code
        ({"full_name": "Joseph Simmons", "phone": "757-253-5233"}, {"given_name": "Joseph", "postcode": "23457"}, "exact"),
        ({"full_name": "Joseph Simmons", "phone": "212-253-5233"}, {"given_name": "Joseph", "postcode": "23457"},
         "different"),
        # both have postcodes: those are compared, the state would count the place twice
        ({"full_name": "Joseph Simmons", "postcode": "23456"}, {"given_name": "Joseph", "postcode": "23457"}, None),
        ({"full_name": "Joseph Simmons", "phone": "757-253-5233"}, {"given_name": "Joseph"}, None),
    ],
)
def test_the_area_is_compared_where_postcodes_and_cities_cannot_be(left, right, level):
    assert area_level(left, right) == level


def test_a_postcode_is_read_as_a_us_zip_code_only_in_a_us_record():
    """A record naming no country is of the resolver's default region: '10115' is Berlin in a German
    hub, Manhattan's ZIP code in an American one. The incremental cache reads it the same way."""
    from identity_resolution.incremental import FeatureCache

    staged = standardise_records(pd.DataFrame({"silo": ["s"], "source_record_id": ["1"], "postcode": ["10115"]}))
    assert build_features(staged)["area"].tolist() == ["US:NY"]
    assert build_features(staged, default_region="DE")["area"].tolist() == [None]
    cached = FeatureCache.build(staged, default_region="DE").features_of(staged)
    assert cached["area"].tolist() == [None]

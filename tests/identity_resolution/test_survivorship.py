"""Golden records: each survivorship rule, lists of contacts, lineage that points at real records."""
from __future__ import annotations

import json
import time
from datetime import date

import numpy as np
import pandas as pd
import pytest

from identity_resolution.survivorship import (
    ATTRIBUTES,
    GOLDEN_COLUMNS,
    SurvivorshipRules,
    build_golden_records,
)

STAGING = ["silo", "source_record_id", *(c for cols in ATTRIBUTES.values() for c in cols),
           "source_updated_at", "loaded_at", "is_deleted"]


def record(silo: str, rid: str, updated: str, **values) -> dict:
    row = {c: None for c in STAGING}
    row.update(silo=silo, source_record_id=rid, source_updated_at=pd.Timestamp(updated),
               loaded_at=pd.Timestamp("2026-06-01"), is_deleted=False, **values)
    return row


def frames(rows: list[dict], customer_of: dict[tuple[str, str], str]):
    records = pd.DataFrame(rows, columns=STAGING)
    xref = pd.DataFrame([{"silo": s, "source_record_id": r, "customer_id": c, "match_probability": 0.99}
                         for (s, r), c in customer_of.items()])
    return records, xref


@pytest.fixture()
def one_customer():
    rows = [
        # credit: trusted, oldest, short name, full address
        record("credit", "c1", "2024-01-01", given_name="Jon", family_name="Smith", full_name="Jon Smith",
               birth_date=date(1984, 3, 7), national_id_last4="6789", email="jon@old.example",
               address_line="1 Oak St", city="Springfield", region="IL", postcode="62704", country="US",
               company="Acme"),
        # sales: most recent, different email/phone, address without region
        record("sales", "s1", "2025-06-01", given_name="Jonathan", family_name="Smith",
               full_name="Jonathan Q Smith", email="jon@new.example", phone="+12175550101",
               address_line="9 Elm Rd", city="Chicago", postcode="60601", country="US", company="Globex",
               birth_date=date(1984, 7, 3)),
        # support: in between, agrees with credit on company
        record("support", "t1", "2025-01-01", full_name="J Smith", email="jon@new.example",
               phone="+12175550199", company="Acme", birth_date=date(1984, 7, 3)),
        # marketing: a deleted record must not contribute anything
        record("marketing", "m1", "2026-01-01", email="deleted@example.com", given_name="Zed"),
    ]
    rows[-1]["is_deleted"] = True
    keys = {("credit", "c1"): "C1", ("sales", "s1"): "C1", ("support", "t1"): "C1"}
    return frames(rows, keys)


def golden_row(records, xref, rules=None) -> pd.Series:
    golden = build_golden_records(records, xref, rules)
    assert list(golden.columns) == GOLDEN_COLUMNS
    assert len(golden) == 1
    return golden.iloc[0]


def test_default_rules(one_customer):
    row = golden_row(*one_customer)
    assert row["full_name"] == "Jonathan Q Smith"  # most complete name
    assert row["given_name"] == "Jonathan"  # chosen together with the full name
    assert row["email"] == "jon@new.example" and row["phone"] == "+12175550101"  # most recent
    assert row["address_line"] == "9 Elm Rd" and row["city"] == "Chicago" and row["region"] is None
    assert row["birth_date"] == date(1984, 3, 7)  # credit is the most trusted silo
    assert row["national_id_last4"] == "6789"
    assert row["company"] == "Acme"  # two records agree
    assert list(row["emails"]) == ["jon@new.example", "jon@old.example"]
    assert list(row["phones"]) == ["+12175550101", "+12175550199"]
    assert list(row["silos"]) == ["credit", "sales", "support"]
    assert row["record_count"] == 3
    assert row["first_seen_at"] == pd.Timestamp("2024-01-01")
    assert row["last_updated_at"] == pd.Timestamp("2025-06-01")


def test_lineage_points_at_the_records_that_hold_each_value(one_customer):
    records, xref = one_customer
    row = golden_row(records, xref)
    lineage = json.loads(row["lineage"])
    indexed = records.set_index(["silo", "source_record_id"])
    for column, source in lineage.items():
        origin = indexed.loc[(source["silo"], source["source_record_id"])]
        assert origin[column] == row[column], column
        assert pd.Timestamp(source["updated_at"]) == origin["source_updated_at"]
    # Every non-null chosen value has lineage; null ones have none.
    chosen = [c for cols in ATTRIBUTES.values() for c in cols if row[c] is not None]
    assert sorted(lineage) == sorted(chosen)
    assert "deleted@example.com" not in row["lineage"]


@pytest.mark.parametrize(
    "rule, expected_email",
    [
        ("source_trust", "jon@old.example"),  # credit first
        ("most_recent", "jon@new.example"),
        ("most_frequent", "jon@new.example"),  # sales and support agree
    ],
)
def test_each_rule_on_email(one_customer, rule, expected_email):
    row = golden_row(*one_customer, SurvivorshipRules(attributes={"email": rule}))
    assert row["email"] == expected_email


def test_most_complete_prefers_more_fields_then_longer(one_customer):
    records, xref = one_customer
    # Most complete address: credit has all five fields; sales lacks region.
    row = golden_row(records, xref, SurvivorshipRules(attributes={"address": "most_complete"}))
    assert (row["address_line"], row["region"]) == ("1 Oak St", "IL")


def test_most_complete_prefers_the_name_written_with_its_accents():
    # the trusted ledger lost the accents; the sales record kept them: the same name, written more fully
    rows = [record("credit", "c", "2025-01-01", given_name="Jose", family_name="Garcia", full_name="Jose Garcia"),
            record("sales", "s", "2024-01-01", given_name="José", family_name="García", full_name="José García")]
    records, xref = frames(rows, {("credit", "c"): "C1", ("sales", "s"): "C1"})
    assert golden_row(records, xref)["full_name"] == "José García"


def test_trust_order_is_configurable(one_customer):
    rules = SurvivorshipRules.from_dict({"silo_trust": ["support", "credit"],
                                         "attributes": {"birth_date": "source_trust", "email": "source_trust"}})
    row = golden_row(*one_customer, rules)
    assert row["birth_date"] == date(1984, 7, 3) and row["email"] == "jon@new.example"
    assert rules.rule_for("name") == "most_complete"  # unspecified attributes keep defaults


def test_most_recent_falls_back_to_trust_on_equal_dates():
    rows = [record("sales", "s", "2025-01-01", email="a@x.example"),
            record("accounting", "a", "2025-01-01", email="b@x.example")]
    records, xref = frames(rows, {("sales", "s"): "C1", ("accounting", "a"): "C1"})
    assert golden_row(records, xref)["email"] == "b@x.example"  # accounting is trusted over sales


def test_bad_rules_name_the_field():
    with pytest.raises(ValueError, match=r"attributes\.email"):
        SurvivorshipRules.from_dict({"attributes": {"email": "loudest"}}, source="silos/_survivorship.yaml")
    with pytest.raises(ValueError, match="unknown attribute"):
        SurvivorshipRules.from_dict({"attributes": {"shoe_size": "most_recent"}})
    with pytest.raises(ValueError, match="silos/_survivorship.yaml"):
        SurvivorshipRules.from_dict({"silo_trsut": ["a"]}, source="silos/_survivorship.yaml")


def test_unmapped_or_stale_xref_is_an_error(one_customer):
    records, xref = one_customer
    with pytest.raises(ValueError, match="no customer_id"):
        build_golden_records(records, xref.iloc[:2])
    stale = pd.concat([xref, pd.DataFrame([{"silo": "gone", "source_record_id": "x", "customer_id": "C9"}])])
    with pytest.raises(ValueError, match="not live staging records"):
        build_golden_records(records, stale)
    with pytest.raises(ValueError, match="missing staging column"):
        build_golden_records(records.drop(columns=["email"]), xref)


@pytest.mark.slow
def test_one_million_records_well_under_a_minute():
    n = 1_000_000
    rng = np.random.default_rng(1)
    silos = np.array(["accounting", "sales", "credit", "support", "marketing"])
    records = pd.DataFrame({c: pd.Series([None] * n, dtype="object") for c in STAGING})
    records["silo"] = silos[rng.integers(0, 5, n)]
    records["source_record_id"] = np.arange(n).astype(str)
    records["given_name"] = np.array(["Ann", "Bob", "Cy", None], dtype=object)[rng.integers(0, 4, n)]
    records["family_name"] = np.array(["Lee", "Ng", "Smith"], dtype=object)[rng.integers(0, 3, n)]
    records["email"] = pd.Series(rng.integers(0, 600_000, n)).map("u{}@example.com".format)
    records["phone"] = pd.Series(rng.integers(0, 600_000, n)).map("+1217{:07d}".format)
    records["postcode"] = pd.Series(rng.integers(10000, 99999, n)).astype(str)
    records["source_updated_at"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), "s")
    records["loaded_at"] = pd.Timestamp("2026-01-01")
    records["is_deleted"] = False
    xref = pd.DataFrame({"silo": records["silo"], "source_record_id": records["source_record_id"],
                         "customer_id": pd.Series(rng.integers(0, 400_000, n)).map("C{:015x}".format)})
    start = time.perf_counter()
    golden = build_golden_records(records, xref)
    elapsed = time.perf_counter() - start
    assert len(golden) == xref["customer_id"].nunique()
    assert golden["record_count"].sum() == n
    assert elapsed < 45, f"golden records took {elapsed:.1f}s"
    print(f"\nbuild_golden_records, 1M records -> {len(golden):,} customers: {elapsed:.2f}s")


def test_rules_from_yaml_file(tmp_path, one_customer):
    path = tmp_path / "_survivorship.yaml"
    assert SurvivorshipRules.from_file(path) == SurvivorshipRules()  # absent file: defaults
    path.write_text("silo_trust: [support, sales]\nattributes:\n  email: source_trust\n")
    rules = SurvivorshipRules.from_file(path)
    assert golden_row(*one_customer, rules)["email"] == "jon@new.example"
    assert rules.silo_trust == ["support", "sales"] and rules.rule_for("phone") == "most_recent"
    path.write_text("attributes:\n  email: newest\n")
    with pytest.raises(ValueError, match=r"_survivorship.yaml.*attributes\.email"):
        SurvivorshipRules.from_file(path)
    path.write_text("- just\n- a list\n")
    with pytest.raises(ValueError, match="expected a mapping"):
        SurvivorshipRules.from_file(path)


def test_time_zone_aware_timestamps_become_utc(one_customer):
    records, xref = one_customer
    records = records.assign(source_updated_at=records["source_updated_at"].dt.tz_localize("America/Chicago"))
    row = golden_row(records, xref)
    assert row["last_updated_at"] == pd.Timestamp("2025-06-01 05:00")  # midnight in Chicago, in UTC
    assert json.loads(row["lineage"])["email"]["updated_at"] == "2025-06-01T05:00:00"

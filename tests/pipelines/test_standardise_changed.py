"""A sync standardises only the records whose mapped values changed; the rest keep their staging row."""
from __future__ import annotations

import pandas as pd
import pytest

import pipelines.standardise_changed as module
from hub.demo.generator import generate_canonical
from pipelines.standardise_changed import standardise_changed
from warehouse.publish import replace_silo_rows

SILO = "crm"


@pytest.fixture()
def records(monkeypatch) -> pd.DataFrame:
    monkeypatch.setenv("HUB_HASH_KEY", "test-key")
    raw, _ = generate_canonical(120, 3)
    raw = raw.drop_duplicates("source_record_id").reset_index(drop=True)
    return raw.assign(silo=SILO)


@pytest.fixture()
def standardised_rows(monkeypatch):
    seen = []
    original = module.standardise_records

    def spy(frame, **kwargs):
        seen.append(len(frame))
        return original(frame, **kwargs)

    monkeypatch.setattr(module, "standardise_records", spy)
    return seen


def _sync(con, records):
    staged, fingerprints = standardise_changed(con, SILO, records, "US")
    replace_silo_rows(con, SILO, {"staging.customer_records": staged, "staging.record_fingerprints": fingerprints})
    return staged


def test_only_changed_records_are_standardised(con, records, standardised_rows):
    first = _sync(con, records)
    assert standardised_rows == [len(records)]
    edited = records.copy()
    edited.loc[[3, 7], "email"] = ["new.address@fastmail.com", "other.one@yahoo.com"]
    again = _sync(con, edited)
    assert standardised_rows[1] == 2
    changed = again["source_record_id"].isin(records["source_record_id"].iloc[[3, 7]])
    assert again.loc[changed, "email"].tolist() == ["new.address@fastmail.com", "other.one@yahoo.com"]
    pd.testing.assert_frame_equal(again[~changed].reset_index(drop=True), first[~changed].reset_index(drop=True))
    # what was reused is what standardising everything again gives
    standardised_rows.clear()
    con.execute("DELETE FROM staging.record_fingerprints")
    full = _sync(con, edited)
    assert standardised_rows == [len(records)]
    pd.testing.assert_frame_equal(full.reset_index(drop=True), again.reset_index(drop=True))


def test_a_new_hash_key_restandardises_everything(con, records, standardised_rows, monkeypatch):
    _sync(con, records)
    monkeypatch.setenv("HUB_HASH_KEY", "another-key")
    _sync(con, records)
    assert standardised_rows == [len(records), len(records)]


def test_a_changed_name_is_read_in_the_whole_silos_order(con, standardised_rows):
    families = ["Kowalski", "Nguyen", "Okafor", "Schneider", "Castellanos"]
    givens = ["John", "Maria", "Susan", "David", "Helen", "Peter"]
    ledger = pd.DataFrame({"full_name": [f"{f} {g}".upper() for f in families for g in givens]})
    ledger = ledger.assign(source_record_id=[str(i) for i in range(len(ledger))], silo=SILO)
    _sync(con, ledger)
    edited = ledger.copy()
    edited.loc[4, "full_name"] = "TODD ASHLEY"  # alone, both words could be either
    again = _sync(con, edited)
    assert standardised_rows == [len(ledger), 1]
    assert tuple(again.loc[4, ["given_name", "family_name"]]) == ("Ashley", "Todd")


def test_a_silo_that_turns_to_surname_first_is_restandardised(con, standardised_rows):
    crm = pd.DataFrame({"full_name": ["TODD ASHLEY"] + [f"Person{i} Kowalski" for i in range(5)]})
    crm = crm.assign(source_record_id=[str(i) for i in range(len(crm))], silo=SILO)
    first = _sync(con, crm)
    assert first.loc[0, "given_name"] == "Todd"
    more = pd.concat([crm, pd.DataFrame({"full_name": [f"KOWALSKI {g}" for g in ["JOHN", "MARIA", "SUSAN", "DAVID"] * 6],
                                         "source_record_id": [f"n{i}" for i in range(24)], "silo": SILO})],
                     ignore_index=True)
    again = _sync(con, more)
    assert standardised_rows == [len(crm), len(more)]  # the old records' reading changed with the silo's order
    assert tuple(again.loc[0, ["given_name", "family_name"]]) == ("Ashley", "Todd")

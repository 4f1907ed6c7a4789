"""The true population: households, history and identifiers behave like real people's."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hub.demo.population import REFERENCE_DAY, draw_people
from hub.demo.records import SILOS, memberships, true_values


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return draw_people(20_000, np.random.default_rng(21))


def test_identifiers_are_unique_and_valid(people):
    assert people["person_id"].is_unique and people["ssn"].is_unique and people["email"].is_unique
    area = people["ssn"] // 1_000_000
    assert ((area > 0) & (area < 900) & (area != 666)).all()
    assert (people["phone"] // 10**9 >= 2).all()  # NANP area codes never start with 0 or 1
    age = (REFERENCE_DAY - people["birth_date"].to_numpy().astype("datetime64[D]")).astype(int) / 365.25
    assert age.min() >= 17.9 and age.max() < 100


def test_no_two_people_share_a_mailbox(people):
    """Gmail ignores dots in the user name: jason.clark@ and jasonclark@gmail.com are one mailbox."""
    addresses = pd.concat([people["email"], people["email_old"]]).dropna()
    user, domain = addresses.str.split("@", n=1).str[0], addresses.str.split("@", n=1).str[1]
    mailbox = user.where(domain != "gmail.com", user.str.replace(".", "", regex=False)) + "@" + domain
    assert (domain == "gmail.com").sum() > 1000 and user.str.contains(".", regex=False).sum() > 1000
    assert mailbox.is_unique


def test_surnames_are_skewed_like_real_ones(people):
    counts = people["family"].value_counts()
    assert counts.index[0] in {"Smith", "Johnson", "Williams"}
    assert counts.iloc[0] > 20 * counts.median()
    assert (counts == 1).sum() > 10  # a long tail of rare names


def test_households_share_an_address_but_are_different_people(people):
    hh = people.groupby("household_id")
    multi = hh.size() > 1
    assert multi.mean() > 0.2
    assert (hh["zip"].nunique()[multi] == 1).all()
    assert (hh["street_name"].nunique()[multi] == 1).all()
    shared_phone = hh["phone"].nunique()[multi] < hh.size()[multi]
    assert 0.3 < shared_phone.mean() < 0.95
    # Relatives differ in given name or birth date (namesake sons differ by date and suffix).
    assert not people.duplicated(["household_id", "given", "birth_date"]).any()


def test_history_is_consistent(people):
    married = people["family_prev"].notna()
    assert married.sum() > 100
    assert people.loc[married, "change_date"].notna().all()
    moved = people["house_no_prev"].notna()
    assert people.loc[moved, "change_date"].notna().all()
    assert (people.loc[married, "family_prev"] != people.loc[married, "family"]).all()


def test_older_records_carry_previous_values(people):
    rng = np.random.default_rng(5)
    rec = true_values(people, memberships(len(people), rng), rng)
    assert set(rec["silo"]) == set(SILOS)
    old = rec[rec["old"]]
    assert len(old) > 50
    prev = people.set_index("person_id").loc[old["person_id"]]
    married = prev["family_prev"].notna().to_numpy()
    assert (old["family"].to_numpy()[married] == prev["family_prev"].to_numpy()[married]).all()
    new = rec[~rec["old"]]
    now = people.set_index("person_id").loc[new["person_id"]]
    assert (new["family"].to_numpy() == now["family"].to_numpy()).all()
    assert (new["zip"].to_numpy() == now["zip"].to_numpy()).all()

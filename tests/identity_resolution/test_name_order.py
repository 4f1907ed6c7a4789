"""How silos write names (whole names surname first, swapped boxes): each name's vote, each silo's
verdict, and how its names are then read."""
from __future__ import annotations

import itertools

import pandas as pd
import pytest

from identity_resolution import standardise_records
from identity_resolution.name_order import MIN_VOTES, SiloNameOrder, order_vote, read_name_order

FAMILIES = ["Kowalski", "Nguyen", "Okafor", "Schneider", "Castellanos", "Lindqvist", "Abernathy"]
GIVENS = ["John", "Maria", "Susan", "David", "Helen", "Peter"]


def names(count: int, surname_first: bool) -> list[str]:
    pairs = itertools.islice(itertools.cycle(itertools.product(FAMILIES, GIVENS)), count)
    return [f"{f} {g}".upper() if surname_first else f"{g} {f}" for f, g in pairs]


@pytest.mark.parametrize(
    "full, vote",
    [
        ("Kowalski John", 1),
        ("KOWALSKI JOHN", 1),
        ("SMITH J", 1),  # an initial last is the given name's
        ("John Kowalski", -1),
        ("J. Kowalski", -1),
        ("Mr John Kowalski Jr", -1),  # titles and suffixes do not vote
        ("Todd Ashley", 0),  # both words are given names: cannot tell
        ("Aiams Shelri", 0),  # neither is known
        ("KOWALSKI, JOHN", 0),  # the comma states the order
        ("Madonna", 0),
        ("ACME Corp", 0),
    ],
)
def test_each_name_votes_for_the_order_it_shows(full, vote):
    assert order_vote(full) == vote


def test_a_silo_is_read_surname_first_only_on_enough_clear_votes():
    frames = {
        "ledger": names(MIN_VOTES, surname_first=True),
        "too_few": names(MIN_VOTES - 1, surname_first=True),
        "mixed": names(30, surname_first=True) + names(10, surname_first=False),  # 75% < 80%
        "crm": names(40, surname_first=False),
        "mostly": names(40, surname_first=True) + names(3, surname_first=False) + ["Todd Ashley"] * 50,
    }
    records = pd.DataFrame({"silo": [s for s, rows in frames.items() for _ in rows],
                            "full_name": [n for rows in frames.values() for n in rows]})
    assert read_name_order(records) == SiloNameOrder(surname_first=frozenset({"ledger", "mostly"}))


def _records(silo: str, full_names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"silo": silo, "source_record_id": [str(i) for i in range(len(full_names))], "full_name": full_names})


def test_ambiguous_names_are_read_in_their_silos_order():
    ledger = _records("ledger", names(30, surname_first=True) + ["TODD ASHLEY", "CAREY SHELRI", "VAN DER BERG ANNA"])
    crm = _records("crm", names(30, surname_first=False) + ["Todd Ashley"])
    out = standardise_records(pd.concat([ledger, crm], ignore_index=True), hash_key=b"k").set_index(["silo", "source_record_id"])
    assert tuple(out.loc[("ledger", "30"), ["given_name", "family_name"]]) == ("Ashley", "Todd")
    assert tuple(out.loc[("ledger", "31"), ["given_name", "family_name"]]) == ("Shelri", "Carey")
    assert tuple(out.loc[("ledger", "32"), ["given_name", "family_name"]]) == ("Anna", "Van der Berg")
    assert tuple(out.loc[("crm", "30"), ["given_name", "family_name"]]) == ("Todd", "Ashley")
    assert tuple(out.loc[("ledger", "0"), ["given_name", "family_name"]]) == ("John", "Kowalski")


def test_part_of_a_silo_takes_the_order_it_is_given():
    alone = _records("ledger", ["TODD ASHLEY"])
    assert standardise_records(alone, hash_key=b"k").loc[0, "given_name"] == "Todd"  # one name cannot tell
    told = standardise_records(alone, hash_key=b"k", name_order=SiloNameOrder(surname_first=frozenset({"ledger"})))
    assert tuple(told.loc[0, ["given_name", "family_name"]]) == ("Ashley", "Todd")


def test_a_silo_whose_boxes_hold_each_others_names_is_read_swapped_back():
    pairs = list(itertools.islice(itertools.cycle(itertools.product(FAMILIES, GIVENS)), 30))
    shop = pd.DataFrame({"silo": "shop", "given_name": [f for f, _ in pairs] + ["Ashley"],
                         "family_name": [g for _, g in pairs] + ["Todd"]})
    crm = pd.DataFrame({"silo": "crm", "given_name": [g for _, g in pairs] + ["Todd"],
                        "family_name": [f for f, _ in pairs] + ["Ashley"]})
    records = pd.concat([shop, crm], ignore_index=True).assign(source_record_id=lambda d: d.index.astype(str))
    assert read_name_order(records) == SiloNameOrder(swapped_boxes=frozenset({"shop"}))
    out = standardise_records(records, hash_key=b"k")
    assert tuple(out.loc[0, ["given_name", "family_name"]]) == ("John", "Kowalski")
    assert tuple(out.loc[30, ["given_name", "family_name"]]) == ("Todd", "Ashley")  # shop: the boxes say Ashley, Todd
    assert tuple(out.loc[61, ["given_name", "family_name"]]) == ("Todd", "Ashley")  # crm: as typed
    assert out.loc[30, "name_raw"] == "Ashley Todd"  # the raw boxes are kept, as they differ

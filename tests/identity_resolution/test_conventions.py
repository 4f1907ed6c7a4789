"""How silos write names and dates (whole names surname first, swapped boxes, day or month first):
each value's vote, each silo's verdict, and how its values are then read."""
from __future__ import annotations

import itertools

import pandas as pd
import pytest

from identity_resolution import standardise_records
from identity_resolution.conventions import MIN_VOTES, SiloConventions, date_order_vote, order_vote, read_conventions

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
        ("Mr John Kowalski Jr", -1),  # titles and suffixes are set aside
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
    assert read_conventions(records) == SiloConventions(surname_first=frozenset({"ledger", "mostly"}))


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
    told = standardise_records(alone, hash_key=b"k", conventions=SiloConventions(surname_first=frozenset({"ledger"})))
    assert tuple(told.loc[0, ["given_name", "family_name"]]) == ("Ashley", "Todd")


def test_a_silo_whose_boxes_hold_each_others_names_is_read_swapped_back():
    pairs = list(itertools.islice(itertools.cycle(itertools.product(FAMILIES, GIVENS)), 30))
    shop = pd.DataFrame({"silo": "shop", "given_name": [f for f, _ in pairs] + ["Ashley"],
                         "family_name": [g for _, g in pairs] + ["Todd"]})
    crm = pd.DataFrame({"silo": "crm", "given_name": [g for _, g in pairs] + ["Todd"],
                        "family_name": [f for f, _ in pairs] + ["Ashley"]})
    records = pd.concat([shop, crm], ignore_index=True).assign(source_record_id=lambda d: d.index.astype(str))
    assert read_conventions(records) == SiloConventions(swapped_boxes=frozenset({"shop"}))
    out = standardise_records(records, hash_key=b"k")
    assert tuple(out.loc[0, ["given_name", "family_name"]]) == ("John", "Kowalski")
    assert tuple(out.loc[30, ["given_name", "family_name"]]) == ("Todd", "Ashley")  # shop: the boxes say Ashley, Todd
    assert tuple(out.loc[61, ["given_name", "family_name"]]) == ("Todd", "Ashley")  # crm: as typed
    assert out.loc[30, "name_raw"] == "Ashley Todd"  # the raw boxes are kept, as they differ


@pytest.mark.parametrize(
    "text, vote",
    [("25/03/1984", 1), ("25.03.1984", 1), ("25-3-84", 1), ("03/25/1984", -1), ("3/25/84", -1),
     ("03/07/1984", 0), ("1984-03-25", 0), ("March 25, 1984", 0), ("31/31/1984", 0)],
)
def test_each_date_votes_for_the_order_only_it_can_be_read_in(text, vote):
    assert date_order_vote(text) == vote


def _dated(silo: str, dates: list[str], country: str | None = None) -> pd.DataFrame:
    return pd.DataFrame({"silo": silo, "birth_date": dates, "country": country,
                         "source_record_id": [f"{silo}{i}" for i in range(len(dates))]})


def test_ambiguous_dates_are_read_the_way_their_silo_writes_dates():
    days = [f"{d}/{m:02d}/19{70 + d % 20}" for d in range(13, 29) for m in (1, 6)]  # 32 dates only day-first reads
    records = pd.concat([
        _dated("uk_shop", days + ["03/07/1984", "3/7/84"]),  # a day-first silo in a US-default run
        _dated("us_crm", [f"{m:02d}/{d}/1980" for d in range(13, 29) for m in (1, 6)] + ["03/07/1984"], country="GB"),
        _dated("few", days[:5] + ["03/07/1984"]),  # too few votes: the default region's custom
    ], ignore_index=True)
    conventions = read_conventions(records)
    assert (conventions.day_first, conventions.month_first) == (frozenset({"uk_shop"}), frozenset({"us_crm"}))
    born = standardise_records(records, hash_key=b"k").set_index("source_record_id")["birth_date"].astype(str)
    assert born["uk_shop32"] == born["uk_shop33"] == "1984-07-03"
    assert born["us_crm32"] == "1984-03-07"  # the silo's habit wins over the records' country
    assert born["few5"] == "1984-03-07"

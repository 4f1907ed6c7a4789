"""Rebuild the two region tables `regions.py` reads (run by hand when the sources change):

- `us_zip3_states.csv`: the first three digits of a US ZIP code -> state, the state most of its ZIP
  codes lie in, from the USPS table of the `zipcodes` package;
- `nanp_area_codes.csv`: North American area code -> country and state or province, from what
  phonenumbers' geocoder says of a number in it.

They ship as small tables because the sources cost ~130 MB each in memory once loaded, in every
process that matches. `pip install zipcodes phonenumbers`, then
`python identity_resolution/data/build_region_tables.py`.
"""
from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import phonenumbers
import zipcodes
from phonenumbers import geocoder

from identity_resolution.addresses import US_STATES
from identity_resolution.regions import CA_PROVINCES

HERE = Path(__file__).parent
# the geocoder's names beside the usual ones; an area code shared by two provinces names neither
US_STATE_CODES = {**US_STATES, "washington state": "WA", "washington d.c.": "DC", "puerto rico": "PR", "guam": "GU",
                  "u.s. virgin islands": "VI", "northern mariana islands": "MP", "american samoa": "AS"}
CA_PROVINCE_CODES = {**CA_PROVINCES, "british colombia": "BC"}


def zip3_states() -> list[tuple[str, str]]:
    votes: dict[str, Counter] = defaultdict(Counter)
    for z in zipcodes.list_all():
        votes[z["zip_code"][:3]][z["state"]] += 1
    return sorted((prefix, counts.most_common(1)[0][0]) for prefix, counts in votes.items())


def area_code_regions() -> list[tuple[str, str, str]]:
    rows = []
    for npa in range(200, 1000):
        number = phonenumbers.parse(f"+1{npa}2000000")
        place = geocoder.description_for_number(number, "en")
        name = (place.rsplit(",", 1)[-1] if "," in place else place).strip()
        country = phonenumbers.region_code_for_number(number)
        if country not in ("US", "CA", "PR", "GU", "VI", "MP", "AS") or not name:
            continue  # toll-free, non-geographic, Caribbean countries
        codes = CA_PROVINCE_CODES if country == "CA" else US_STATE_CODES
        region = name if len(name) == 2 else codes.get(name.lower())
        if region:
            rows.append((str(npa), "CA" if country == "CA" else "US", region))
    return rows


def main() -> None:
    with open(HERE / "us_zip3_states.csv", "w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([("zip3", "state"), *zip3_states()])
    with open(HERE / "nanp_area_codes.csv", "w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows([("area_code", "country", "region"), *area_code_regions()])


if __name__ == "__main__":
    main()

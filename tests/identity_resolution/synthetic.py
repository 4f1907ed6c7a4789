"""A small hand-made population with known truth, written as raw canonical records.

Each person gets a record in 'crm' and another in 'shop' written differently (nickname, name
order, phone format, email case, abbreviations); some get a third in 'credit' with a birth
date and a national id. Two households share an address and phone but not given names.
"""
from __future__ import annotations

import random

import pandas as pd

GIVEN = ["Robert", "Elizabeth", "William", "Katherine", "Michael", "Jennifer", "Thomas", "Patricia",
         "Daniel", "Margaret", "Joseph", "Susan", "Charles", "Jessica", "Christopher", "Sarah", "Matthew",
         "Karen", "Anthony", "Nancy", "Andrew", "Lisa", "Steven", "Betty", "Edward", "Sandra"]
FAMILY = ["Quilliam", "Okafor", "Brennan", "Castellanos", "Lindqvist", "Abernathy", "Takahashi", "Moreau",
          "Fitzgerald", "Kowalski", "Delacroix", "Hargreaves", "Nakamura", "Oyelaran", "Petrov", "Rasmussen",
          "Szabo", "Thorne", "Underwood", "Valdez", "Whitfield", "Yilmaz", "Zielinski", "Ashworth",
          "Beaumont", "Calloway", "Drummond", "Ellison", "Fairbanks", "Gallagher"]
NICK = {"Robert": "Bob", "Elizabeth": "Liz", "William": "Bill", "Katherine": "Kate", "Michael": "Mike",
        "Thomas": "Tom", "Patricia": "Pat", "Daniel": "Dan", "Margaret": "Peggy", "Joseph": "Joe",
        "Susan": "Sue", "Charles": "Chuck", "Christopher": "Chris", "Matthew": "Matt", "Anthony": "Tony",
        "Andrew": "Andy", "Steven": "Steve", "Edward": "Ted"}
STREETS = ["Oak", "Maple", "Cedar", "Elm", "Birch", "Willow", "Aspen", "Juniper", "Hawthorn", "Linden"]


def population(n_people: int = 40, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(raw canonical records, truth with silo, source_record_id, person_id)."""
    rng = random.Random(seed)
    rows, truth = [], []

    def add(silo: str, pid: str, **fields) -> None:
        rid = f"{silo[:2].upper()}{len(rows):04d}"
        rows.append({"silo": silo, "source_record_id": rid, **fields})
        truth.append({"silo": silo, "source_record_id": rid, "person_id": pid})

    used = set()
    for i in range(n_people):
        while True:
            given, family = rng.choice(GIVEN), rng.choice(FAMILY)
            if (given, family) not in used:
                used.add((given, family))
                break
        pid = f"P{i:03d}"
        digits = f"{rng.randint(201, 989)}{rng.randint(201, 989)}{rng.randint(1000, 9999)}"
        number, street = rng.randint(1, 9999), rng.choice(STREETS)
        zipcode = f"{rng.randint(10000, 99999)}"
        email = f"{given.lower()}.{family.lower()}{rng.randint(10, 99)}@gmail.com"
        add("crm", pid, given_name=given, family_name=family, email=email,
            phone=f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
            address_line=f"{number} {street} Street", city="Springfield", region="IL", postcode=zipcode)
        add("shop", pid, full_name=f"{family.upper()}, {NICK.get(given, given).upper()}",
            email=email.upper().replace("@", "+shop@"), phone=f"{digits[:3]}.{digits[3:6]}.{digits[6:]}",
            address_line=f"{number} {street} St, Springfield, IL {zipcode}")
        if i % 3 == 0:
            dob = f"{rng.randint(1940, 2000)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
            ssn = f"{rng.randint(100, 899)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}"
            add("credit", pid, full_name=f"{given} {family}", birth_date=dob, national_id=ssn,
                phone=digits)
            if i % 6 == 0:
                add("credit", pid, full_name=f"{family}, {given}", birth_date=dob.replace("-", ""),
                    national_id="XXX-XX-" + ssn[-4:])
    # Two households: same family, address and phone, different given names and emails.
    for h in range(2):
        family, street, zipcode = FAMILY[h], STREETS[h], f"6070{h}"
        for j, given in enumerate(["Harriet", "Ignatius"]):
            pid = f"H{h}{j}"
            add("crm", pid, given_name=given, family_name=family, email=f"{given.lower()}{h}@example.net",
                phone=f"312-555-02{h}{j}".replace("555-02", "448-02"), address_line=f"{10 + h} {street} Ave",
                city="Chicago", region="IL", postcode=zipcode)
            add("shop", pid, full_name=f"{given} {family}", email=f"{given.lower()}{h}@example.net",
                phone=f"312-448-02{h}0", address_line=f"{10 + h} {street} Avenue, Chicago, IL {zipcode}")
    return pd.DataFrame(rows), pd.DataFrame(truth)

"""The matcher on data it was never tuned on: a second, independent population built with Faker.

The project's own generator (hub/demo) is what the matcher was tuned against; a matcher can learn a
generator's habits. This one shares no code with it: Faker names, streets and phone numbers in a
locale (en_US, en_GB), households (a spouse and children at one address with one landline and
family name, each with their own email and mobile), three departmental layouts (a CRM with one
name box and a one-line address, billing with split fields and a birth date, support with a name and
an email only), and the noise departments add: nicknames, typos, upper-case names, surname first,
marriages (new family name, same email), moves (billing keeps the old address), a second email.

Run: /work/venv/bin/python benchmarks/fresh_shapes.py [--people 20000] [--locales en_US en_GB]
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from faker import Faker
from rich.console import Console
from rich.table import Table

# Common English nicknames, written out here rather than taken from the matcher's own table.
NICKNAMES = {
    "William": "Bill", "Robert": "Bob", "Elizabeth": "Liz", "Michael": "Mike", "James": "Jim",
    "Richard": "Dick", "Jennifer": "Jenny", "Katherine": "Kate", "Thomas": "Tom", "Joseph": "Joe",
    "Christopher": "Chris", "Daniel": "Dan", "Matthew": "Matt", "Anthony": "Tony", "Margaret": "Peggy",
    "Susan": "Sue", "Patricia": "Trish", "Deborah": "Debbie", "Steven": "Steve", "Edward": "Ted",
    "Jonathan": "Jon", "Nicholas": "Nick", "Samuel": "Sam", "Alexander": "Alex", "Rebecca": "Becky",
    "Victoria": "Vicky", "Benjamin": "Ben", "Andrew": "Andy", "Catherine": "Cathy", "Kimberly": "Kim",
}
DOMAINS = {"en_US": ["gmail.com", "yahoo.com", "outlook.com", "aol.com", "icloud.com"],
           "en_GB": ["gmail.com", "btinternet.com", "hotmail.co.uk", "yahoo.co.uk", "sky.com"]}
REGION = {"en_US": "US", "en_GB": "GB"}
HOUSEHOLD_SIZES = ([1, 2, 3, 4], [0.55, 0.28, 0.12, 0.05])


def typo(text: str, rng: random.Random) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.random()
    if kind < 0.33:
        return text[:i] + text[i + 1:]
    if kind < 0.66:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return text[:i] + rng.choice("aeioulnrst") + text[i + 1:]


def draw_people(people: int, locale: str, seed: int) -> list[dict]:
    """People in households: members share family name, address and landline, nothing personal."""
    fake, rng = Faker(locale), random.Random(seed)
    fake.seed_instance(seed)
    out, taken = [], set()
    while len(out) < people:
        family = fake.last_name()
        home = {"street": fake.street_address().replace("\n", ", "), "city": fake.city(), "postcode": fake.postcode(),
                "state": fake.state_abbr() if locale == "en_US" else None, "landline": fake.phone_number()}
        for member in range(rng.choices(*HOUSEHOLD_SIZES)[0]):
            given = fake.first_name()
            user = f"{given.lower()}.{family.lower()}".replace(" ", "").replace("'", "")
            while user in taken:  # one mailbox, one person
                user = f"{given.lower()}{family.lower()}{rng.randint(1, 999)}".replace(" ", "").replace("'", "")
            taken.add(user)
            out.append({"person_id": len(out), "given": given, "family": family, **home,
                        "email": f"{user}@{rng.choice(DOMAINS[locale])}", "mobile": fake.phone_number(),
                        "birth_date": fake.date_of_birth(minimum_age=18 if member < 2 else 1, maximum_age=90),
                        "married_name": fake.last_name() if rng.random() < 0.08 else None,
                        "moved_to": fake.street_address().replace("\n", ", ") if rng.random() < 0.1 else None})
    return out[:people]


def render(person: dict, silo: str, locale: str, rng: random.Random) -> dict:
    """One department's record of a person, in that department's layout and with its noise."""
    given, family = person["given"], person["family"]
    if rng.random() < 0.12:
        given = NICKNAMES.get(given, given)
    if rng.random() < 0.06:
        given = typo(given, rng)
    if rng.random() < 0.03:
        family = typo(family, rng)
    if silo == "crm":
        if person["married_name"]:
            family = person["married_name"]  # the CRM has the new name; the address is unchanged
        form = rng.random()
        name = f"{family.upper()}, {given}" if form < 0.3 else (f"{given} {family}".upper() if form < 0.45 else f"{given} {family}")
        address = f"{person['street']}, {person['city']}, {person['state']} {person['postcode']}" if locale == "en_US" \
            else f"{person['street']}, {person['city']} {person['postcode']}"
        return {"full_name": name, "email": person["email"] if rng.random() < 0.85 else None,
                "phone": person["mobile"] if rng.random() < 0.6 else None,
                "address_line": address if rng.random() < 0.7 else None}
    if silo == "billing":
        postcode = person["postcode"]
        if locale == "en_GB" and rng.random() < 0.5:
            postcode = postcode.replace(" ", "").lower()
        street = person["moved_to"] or person["street"]  # billing has the new address
        date_format = "%m/%d/%Y" if locale == "en_US" else "%d/%m/%Y"
        return {"given_name": given, "family_name": family, "phone": person["landline"] if rng.random() < 0.8 else None,
                "address_line": street.upper(), "city": person["city"], "region": person["state"], "postcode": postcode,
                "birth_date": person["birth_date"].strftime(rng.choice([date_format, "%Y-%m-%d"])) if rng.random() < 0.7 else None}
    email = person["email"] if rng.random() < 0.8 else f"{given[0].lower()}{family.lower()}{rng.randint(10, 99)}@work.example.org"
    return {"full_name": f"{given} {family}", "email": email}


def make_population(people: int, locale: str = "en_US", seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, truth): canonical raw records of three silos and the person behind each."""
    rng = random.Random(seed + 1)
    records, truth = [], []
    for person in draw_people(people, locale, seed):
        silos = [s for s, p in (("crm", 0.6), ("billing", 0.5), ("support", 0.3)) if rng.random() < p] or ["crm"]
        if rng.random() < 0.05:
            silos.append("crm")  # entered twice
        for silo in silos:
            rid = f"{silo[0]}{len(records)}"
            records.append({"silo": silo, "source_record_id": rid, **render(person, silo, locale, rng)})
            truth.append({"silo": silo, "source_record_id": rid, "person_id": person["person_id"]})
    return pd.DataFrame(records), pd.DataFrame(truth)


def run(people: int, locale: str, seed: int, out_dir: Path) -> dict:
    from identity_resolution import evaluate

    records, truth = make_population(people, locale, seed)
    src, xref = out_dir / f"fresh_{locale}_{people}.csv", out_dir / f"fresh_{locale}_{people}_xref.parquet"
    records.to_csv(src, index=False)
    env = {**os.environ, "HUB_HASH_KEY": os.environ.get("HUB_HASH_KEY", "benchmark-key")}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hub.cli", "resolve", str(src), "--out", str(xref), "--region", REGION[locale]],
                   env=env, check=True, capture_output=True)
    metrics = evaluate(pd.read_parquet(xref), truth)
    return {"locale": locale, "records": len(records), "seconds": time.perf_counter() - start, **metrics}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=20_000)
    ap.add_argument("--locales", nargs="+", default=["en_US", "en_GB"], choices=sorted(REGION))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    table = Table(title=f"hub resolve on an independent Faker population ({args.people:,} people per locale)")
    for col in ["locale", "records", "seconds", "pair P", "pair R", "pair F1", "B3 F1"]:
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for locale in args.locales:
            r = run(args.people, locale, args.seed, Path(tmp))
            table.add_row(locale, f"{r['records']:,}", f"{r['seconds']:.1f}", f"{r['pairwise_precision']:.4f}",
                          f"{r['pairwise_recall']:.4f}", f"{r['pairwise_f1']:.4f}", f"{r['bcubed_f1']:.4f}")
    Console().print(table)


if __name__ == "__main__":
    main()

"""The matcher on data it was never tuned on: a second, independent population built with Faker.

The project's own generator (hub/demo) is what the matcher was tuned against; a matcher can learn a
generator's habits. This one shares no code with it: Faker names, streets and phone numbers in a
locale (en_US, en_GB, de_DE, fr_FR: addresses written as each country writes them, 'Hauptstraße 5,
10115 Berlin'; billing's birth dates '07.03.1984' in Germany, day first in France and Britain), households (a spouse and children at one address with one landline and
family name, each with their own email and mobile), three departmental layouts (a CRM with one
name box and a one-line address, billing with split fields and a birth date, support with a name and
an email only), and the noise departments add: nicknames, typos, upper-case names, surname first,
marriages (new family name, same email), moves (billing keeps the old address), a second email.

`--layouts legacy` renders the same people through four other departments, the way older systems and
spreadsheet exports write them: an accounting ledger (names upper-case and surname first, ZIP codes
and phones that went through a spreadsheet as numbers, birth dates as spreadsheet day numbers or
YYYYMMDD, full or masked SSNs), a web shop (titles typed into the first-name box, lower-case names,
Gmail dots and +tags, the whole address in the street box with city and postcode filled in again),
a call centre (a title and family name only, a phone, sometimes an email, birth dates written out)
and a newsletter list (first name, email, sometimes a postcode).

`--layouts visits` renders them through a till and a service desk that type the customer in at every
visit (1 to 12 records per person): the name as heard, at times an email, a phone or a postcode, so
a name-only visit meets every namesake.

Run: /work/venv/bin/python benchmarks/fresh_shapes.py [--people 20000] [--locales en_US en_GB de_DE fr_FR]
[--layouts tidy legacy visits]
"""
from __future__ import annotations

import argparse
import itertools
import os
import random
import subprocess
import sys
import tempfile
import time
import unicodedata
from datetime import date
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
           "en_GB": ["gmail.com", "btinternet.com", "hotmail.co.uk", "yahoo.co.uk", "sky.com"],
           "de_DE": ["gmail.com", "web.de", "gmx.de", "t-online.de", "yahoo.de"],
           "fr_FR": ["gmail.com", "orange.fr", "free.fr", "laposte.net", "hotmail.fr"]}
REGION = {"en_US": "US", "en_GB": "GB", "de_DE": "DE", "fr_FR": "FR"}
DATE_FORMAT = {"en_US": "%m/%d/%Y", "de_DE": "%d.%m.%Y"}  # how billing writes a birth date; else day/month/year
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


def ascii_user(text: str) -> str:
    """A name as a mailbox spells it: 'Jürgen Weiß' -> 'jurgen weiss' (plain ASCII names unchanged)."""
    return unicodedata.normalize("NFKD", text.replace("ß", "ss")).encode("ascii", "ignore").decode().lower()


def one_line_address(street: str, person: dict, locale: str) -> str:
    """An address on one line as the locale writes it: US 'street, city, ST zip', British 'street,
    town POSTCODE', continental 'street, POSTCODE town'."""
    if locale == "en_US":
        return f"{street}, {person['city']}, {person['state']} {person['postcode']}"
    if locale == "en_GB":
        return f"{street}, {person['city']} {person['postcode']}"
    return f"{street}, {person['postcode']} {person['city']}"


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
            user = f"{ascii_user(given)}.{ascii_user(family)}".replace(" ", "").replace("'", "")
            while user in taken:  # one mailbox, one person
                user = f"{ascii_user(given)}{ascii_user(family)}{rng.randint(1, 999)}".replace(" ", "").replace("'", "")
            taken.add(user)
            out.append({"person_id": len(out), "given": given, "family": family, **home,
                        "email": f"{user}@{rng.choice(DOMAINS[locale])}", "mobile": fake.phone_number(),
                        "birth_date": fake.date_of_birth(minimum_age=18 if member < 2 else 1, maximum_age=90),
                        "married_name": fake.last_name() if rng.random() < 0.08 else None,
                        "moved_to": fake.street_address().replace("\n", ", ") if rng.random() < 0.1 else None})
    return out[:people]


def render(person: dict, silo: str, locale: str, rng: random.Random) -> dict:
    """One department's record of a person, in that department's layout and with its noise."""
    given, family = noisy_names(person, rng)
    if silo == "crm":
        if person["married_name"]:
            family = person["married_name"]  # the CRM has the new name; the address is unchanged
        form = rng.random()
        name = f"{family.upper()}, {given}" if form < 0.3 else (f"{given} {family}".upper() if form < 0.45 else f"{given} {family}")
        address = one_line_address(person["street"], person, locale)
        return {"full_name": name, "email": person["email"] if rng.random() < 0.85 else None,
                "phone": person["mobile"] if rng.random() < 0.6 else None,
                "address_line": address if rng.random() < 0.7 else None}
    if silo == "billing":
        postcode = person["postcode"]
        if locale == "en_GB" and rng.random() < 0.5:
            postcode = postcode.replace(" ", "").lower()
        street = person["moved_to"] or person["street"]  # billing has the new address
        date_format = DATE_FORMAT.get(locale, "%d/%m/%Y")
        return {"given_name": given, "family_name": family, "phone": person["landline"] if rng.random() < 0.8 else None,
                "address_line": street.upper(), "city": person["city"], "region": person["state"], "postcode": postcode,
                "birth_date": person["birth_date"].strftime(rng.choice([date_format, "%Y-%m-%d"])) if rng.random() < 0.7 else None}
    email = person["email"] if rng.random() < 0.8 else work_email(given, family, rng)
    return {"full_name": f"{given} {family}", "email": email}


def work_email(given: str, family: str, rng: random.Random) -> str:
    """Another address a person gives at work: 'jsmith42@work.example.org'."""
    return f"{ascii_user(given[0])}{ascii_user(family)}{rng.randint(10, 99)}@work.example.org"


def noisy_names(person: dict, rng: random.Random) -> tuple[str, str]:
    """The given and family name as one department typed them: nicknames and slips."""
    given, family = person["given"], person["family"]
    if rng.random() < 0.12:
        given = NICKNAMES.get(given, given)
    if rng.random() < 0.06:
        given = typo(given, rng)
    if rng.random() < 0.03:
        family = typo(family, rng)
    return given, family


def lasting_facts(person: dict, seed: int) -> dict:
    """What a person keeps whichever department asks (an SSN), drawn from their own seed so the tidy
    layouts' draws stay as they were."""
    rng = random.Random(f"{seed}-{person['person_id']}")
    return {"ssn": f"{rng.randint(100, 899)}-{rng.randint(10, 99):02d}-{rng.randint(1, 9999):04d}"}


def spreadsheet_number(text: str, rng: random.Random) -> str:
    """A numeric-looking value after a spreadsheet: leading zeros gone, sometimes a '.0' tail."""
    number = str(int(text))
    return f"{number}.0" if rng.random() < 0.4 else number


def digits_of_phone(phone: str) -> str:
    national = phone.split("x")[0]
    digits = "".join(ch for ch in national if ch.isdigit())
    return digits[3:] if digits.startswith("001") else digits


def render_legacy(person: dict, silo: str, locale: str, rng: random.Random, seed: int) -> dict:
    """One older department's record of a person: ledger, web shop, call centre or newsletter."""
    given, family = noisy_names(person, rng)
    return _LEGACY[silo](person, given, family, locale, rng, seed)


def _ledger(person: dict, given: str, family: str, locale: str, rng: random.Random, seed: int) -> dict:
    """Names upper-case and surname first; ZIP, phone and birth date mangled by a spreadsheet; SSNs."""
    name = f"{family} {given}".upper() if rng.random() < 0.5 else f"{family}, {given}".upper()
    postcode = person["postcode"]
    if locale == "en_US" and rng.random() < 0.7:
        postcode = spreadsheet_number(postcode, rng)
    phone = digits_of_phone(person["landline"])
    ssn = lasting_facts(person, seed)["ssn"]
    ssn = ssn if rng.random() < 0.5 else "XXX-XX-" + ssn[-4:]
    born = person["birth_date"]
    born_text = str((born - date(1899, 12, 30)).days) if rng.random() < 0.5 else born.strftime("%Y%m%d")
    return {"full_name": name, "address_line": person["street"].upper(), "city": person["city"].upper(),
            "region": person["state"], "postcode": postcode,
            "phone": spreadsheet_number(phone, rng) if phone and rng.random() < 0.7 else None,
            "national_id": ssn if locale == "en_US" and rng.random() < 0.6 else None,
            "birth_date": born_text if rng.random() < 0.6 else None}


def _webshop(person: dict, given: str, family: str, locale: str, rng: random.Random, seed: int) -> dict:
    """Titles in the first-name box, lower-case names, Gmail tags, the whole address in the street box."""
    family = person["married_name"] or family
    if rng.random() < 0.1:
        given = f"{rng.choice(['Mr', 'Mrs', 'Ms', 'Dr'])} {given}"
    if rng.random() < 0.2:
        given, family = given.lower(), family.lower()
    email = person["email"]
    user, domain = email.split("@")
    if domain == "gmail.com" and rng.random() < 0.3:
        email = f"{user.replace('.', '')}+shop@{domain}" if rng.random() < 0.5 else f"{user}+orders@{domain}"
    street = person["moved_to"] or person["street"]
    whole = one_line_address(street, person, locale)
    return {"given_name": given, "family_name": family, "email": email if rng.random() < 0.9 else None,
            "phone": person["mobile"] if rng.random() < 0.5 else None,
            "address_line": whole if rng.random() < 0.5 else street,
            "city": person["city"], "postcode": person["postcode"]}


def _callcentre(person: dict, given: str, family: str, locale: str, rng: random.Random, seed: int) -> dict:
    """'Mrs Smith' at times, a phone, sometimes an email, birth dates written out."""
    family = person["married_name"] or family
    name = f"{rng.choice(['Mr', 'Mrs', 'Ms'])} {family}" if rng.random() < 0.15 else f"{given} {family}"
    return {"full_name": name, "phone": rng.choice([person["mobile"], person["landline"]]) if rng.random() < 0.9 else None,
            "email": person["email"] if rng.random() < 0.4 else None,
            "birth_date": person["birth_date"].strftime("%B %-d, %Y") if rng.random() < 0.3 else None}


def _newsletter(person: dict, given: str, family: str, locale: str, rng: random.Random, seed: int) -> dict:
    """A first name and an email (at times another one), sometimes a postcode."""
    email = person["email"] if rng.random() < 0.9 else f"{ascii_user(given)}{rng.randint(1, 99)}@gmail.com"
    return {"given_name": given, "email": email, "postcode": person["postcode"] if rng.random() < 0.5 else None}


_LEGACY = {"ledger": _ledger, "webshop": _webshop, "callcentre": _callcentre, "newsletter": _newsletter}


LAYOUTS = {  # departments, the share of people each holds, and the one that holds some people twice
    "tidy": ((("crm", 0.6), ("billing", 0.5), ("support", 0.3)), "crm"),
    "legacy": ((("ledger", 0.6), ("webshop", 0.5), ("callcentre", 0.35), ("newsletter", 0.3)), "ledger"),
}
VISITS = ("till", "tickets")  # `--layouts visits`: departments that type the customer in at every visit


def visit_silos(rng: random.Random) -> list[str]:
    """One record per visit to a till or a service desk: 1 to 12 visits, most people few."""
    return [rng.choice(VISITS) for _ in range(min(12, 1 + int(rng.expovariate(0.4))))]


def render_visit(person: dict, rng: random.Random) -> dict:
    """What a cashier or a help-desk agent types at one visit: the name as heard, at times an email
    (sometimes mistyped), a phone (the mobile or the home landline) or a postcode."""
    given, family = noisy_names(person, rng)
    email = person["email"] if rng.random() < 0.5 else None
    if email and rng.random() < 0.05:
        email = typo(email, rng)
    phone = (person["mobile"] if rng.random() < 0.7 else person["landline"]) if rng.random() < 0.5 else None
    return {"full_name": f"{family.upper()}, {given}" if rng.random() < 0.3 else f"{given} {family}",
            "email": email, "phone": phone, "postcode": person["postcode"] if rng.random() < 0.4 else None}


def _silos_of(layouts: str, rng: random.Random) -> list[str]:
    if layouts == "visits":
        return visit_silos(rng)
    shares, twice = LAYOUTS[layouts]
    silos = [s for s, p in shares if rng.random() < p] or [twice]
    if rng.random() < 0.05:
        silos.append(twice)  # entered twice
    return silos


def _render(layouts: str, person: dict, silo: str, locale: str, rng: random.Random, seed: int) -> dict:
    if layouts == "tidy":
        return render(person, silo, locale, rng)
    if layouts == "visits":
        return render_visit(person, rng)
    return render_legacy(person, silo, locale, rng, seed)


def make_population(people: int, locale: str = "en_US", seed: int = 1,
                    layouts: str = "tidy") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, truth): canonical raw records of the layouts' silos and the person behind each."""
    rng = random.Random(seed + 1)
    records, truth = [], []
    for person in draw_people(people, locale, seed):
        for silo in _silos_of(layouts, rng):
            rid = f"{silo[0]}{len(records)}"
            record = _render(layouts, person, silo, locale, rng, seed)
            records.append({"silo": silo, "source_record_id": rid, **record})
            truth.append({"silo": silo, "source_record_id": rid, "person_id": person["person_id"]})
    return pd.DataFrame(records), pd.DataFrame(truth)


def run(people: int, locale: str, seed: int, out_dir: Path, layouts: str = "tidy") -> dict:
    from identity_resolution import evaluate

    records, truth = make_population(people, locale, seed, layouts)
    stem = f"fresh_{layouts}_{locale}_{people}"
    src, xref = out_dir / f"{stem}.csv", out_dir / f"{stem}_xref.parquet"
    records.to_csv(src, index=False)
    env = {**os.environ, "HUB_HASH_KEY": os.environ.get("HUB_HASH_KEY", "benchmark-key")}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hub.cli", "resolve", str(src), "--out", str(xref), "--region", REGION[locale]],
                   env=env, check=True, capture_output=True)
    metrics = evaluate(pd.read_parquet(xref), truth)
    return {"layouts": layouts, "locale": locale, "records": len(records), "seconds": time.perf_counter() - start, **metrics}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=20_000)
    ap.add_argument("--locales", nargs="+", default=["en_US", "en_GB"], choices=sorted(REGION))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--layouts", nargs="+", default=["tidy"], choices=sorted([*LAYOUTS, "visits"]))
    args = ap.parse_args()
    table = Table(title=f"hub resolve on an independent Faker population ({args.people:,} people per locale)")
    for col in ["layouts", "locale", "records", "seconds", "pair P", "pair R", "pair F1", "B3 F1"]:
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for layouts, locale in itertools.product(args.layouts, args.locales):
            r = run(args.people, locale, args.seed, Path(tmp), layouts)
            table.add_row(layouts, locale, f"{r['records']:,}", f"{r['seconds']:.1f}", f"{r['pairwise_precision']:.4f}",
                          f"{r['pairwise_recall']:.4f}", f"{r['pairwise_f1']:.4f}", f"{r['bcubed_f1']:.4f}")
    Console().print(table)


if __name__ == "__main__":
    main()

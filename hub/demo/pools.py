"""Value pools the demo population is drawn from.

Names come with real US frequency weights (Faker's en_US census-derived tables), so the demo
has many Smiths and Johnsons and a long tail of rare surnames. Places are real US cities with
their ZIP ranges and area codes (`reference/us_places.csv`), weighted by population.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from faker.providers.person.en_US import Provider as _FakerPerson

DATA_DIR = Path(__file__).with_name("reference")

# Names with accents or punctuation that US systems mangle differently (accent dropped,
# apostrophe removed, hyphen split). Weighted like rare-to-mid surnames.
_EXTRA_SURNAMES = {
    "García": 0.004, "Rodríguez": 0.003, "Martínez": 0.003, "Hernández": 0.003, "López": 0.003,
    "González": 0.003, "Pérez": 0.002, "Sánchez": 0.002, "Ramírez": 0.002, "Muñoz": 0.001,
    "Peña": 0.0008, "Núñez": 0.0006, "Ibáñez": 0.0002, "O'Brien": 0.0008, "O'Connor": 0.0006,
    "O'Neil": 0.0005, "D'Angelo": 0.0002, "McDonald": 0.0008, "MacDonald": 0.0003,
    "Nguyen": 0.003, "Tran": 0.001, "Le": 0.001, "Kim": 0.002, "Patel": 0.002, "Singh": 0.001,
    "Smith-Jones": 0.00005, "Van Buren": 0.0001, "St. Clair": 0.0001, "Dubois": 0.0002,
    "Müller": 0.0001, "Schröder": 0.00005, "Kowalski": 0.0003, "Nowak": 0.0002,
}
_EXTRA_GIVEN_FEMALE = {"María": 0.002, "Renée": 0.0008, "Zoë": 0.0004, "Chloé": 0.0003,
                       "Inés": 0.0002, "Siobhan": 0.0001, "Mary Ann": 0.0005}
_EXTRA_GIVEN_MALE = {"José": 0.003, "Jesús": 0.0008, "André": 0.0004, "Raúl": 0.0004,
                     "Ángel": 0.0004, "Seán": 0.0001, "Jean-Luc": 0.0001}

COMMON_STREETS = [
    "Main", "Oak", "Maple", "Pine", "Cedar", "Elm", "Washington", "Lake", "Hill", "Park",
    "Walnut", "Sunset", "Lincoln", "Jackson", "Church", "River", "Highland", "Jefferson",
    "Madison", "Spring", "Ridge", "Franklin", "Willow", "Chestnut", "Adams", "Center",
    "Meadow", "Forest", "Lakeview", "Dogwood", "Hickory", "Birch", "Magnolia", "Sycamore",
    "Cherry", "Mill", "Valley", "Prospect", "Union", "Market", "School", "Broad", "Water",
    "Front", "High", "Summit", "Grove", "Lakeshore", "Railroad", "Jones", "Kennedy",
    "Martin Luther King Jr", "Cambridge", "Oxford", "Heritage", "Colonial", "Country Club",
]
ORDINAL_STREETS = ["1st", "2nd", "3rd"] + [f"{i}th" for i in range(4, 21)] + ["21st", "22nd", "23rd"]

# abbreviation -> (full word, weight): USPS suffixes people actually use.
STREET_SUFFIXES = {
    "St": ("Street", 0.30), "Ave": ("Avenue", 0.20), "Rd": ("Road", 0.12), "Dr": ("Drive", 0.12),
    "Ln": ("Lane", 0.07), "Ct": ("Court", 0.05), "Blvd": ("Boulevard", 0.04), "Way": ("Way", 0.04),
    "Pl": ("Place", 0.03), "Cir": ("Circle", 0.02), "Pkwy": ("Parkway", 0.005), "Ter": ("Terrace", 0.005),
}
DIRECTIONS = {"N": "North", "S": "South", "E": "East", "W": "West"}

EMAIL_PROVIDERS = {
    "gmail.com": 0.42, "yahoo.com": 0.14, "hotmail.com": 0.08, "outlook.com": 0.08, "aol.com": 0.04,
    "icloud.com": 0.07, "comcast.net": 0.04, "msn.com": 0.02, "att.net": 0.03, "verizon.net": 0.02,
    "live.com": 0.02, "protonmail.com": 0.01, "me.com": 0.01, "sbcglobal.net": 0.02,
}
# Employers (name as written on a form, email domain, relative head-count). Fictional firms
# plus large real employers, so many applicants share an employer and a few are unique.
EMPLOYERS = [
    ("Walmart", "walmart.com", 30), ("Amazon", "amazon.com", 25), ("UPS", "ups.com", 10),
    ("Kaiser Permanente", "kp.org", 8), ("Wells Fargo", "wellsfargo.com", 8), ("State Farm", "statefarm.com", 6),
    ("Home Depot", "homedepot.com", 10), ("Target", "target.com", 10), ("FedEx", "fedex.com", 8),
    ("Mayo Clinic", "mayo.edu", 3), ("Acme Corp", "acme-corp.com", 4), ("Globex Corporation", "globex.com", 3),
    ("Initech", "initech.com", 2), ("Umbrella Inc", "umbrella-inc.com", 2), ("Stark Industries", "stark-ind.com", 2),
    ("Wayne Enterprises", "wayne-ent.com", 2), ("Hooli", "hooli.com", 2), ("Vandelay Industries", "vandelay.com", 1),
    ("Cyberdyne Systems", "cyberdyne.com", 1), ("Soylent Corp", "soylent.com", 1), ("Dunder Mifflin", "dundermifflin.com", 2),
    ("Pied Piper", "piedpiper.com", 1), ("Massive Dynamic", "massivedynamic.com", 1), ("Oscorp", "oscorp.com", 1),
    ("Springfield Public Schools", "sps.k12.us", 5), ("City of Springfield", "springfield.gov", 3),
    ("US Postal Service", "usps.gov", 6), ("General Hospital", "generalhospital.org", 4),
]

JUNK_EMAILS = np.array(["test@test.com", "n/a", "none@none.com", "noemail@noemail.com", "x@x.com",
                        "unknown"], dtype=object)
JUNK_PHONES = np.array(["000-000-0000", "555-555-5555", "n/a", "1111111111", "999-999-9999"], dtype=object)


@dataclass(frozen=True)
class WeightedPool:
    values: np.ndarray  # object array of str
    p: np.ndarray       # probabilities summing to 1

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.values[rng.choice(len(self.values), size=n, p=self.p)]


def _pool(weights: dict[str, float]) -> WeightedPool:
    values = np.array(list(weights.keys()), dtype=object)
    p = np.array(list(weights.values()), dtype=float)
    return WeightedPool(values, p / p.sum())


@lru_cache(maxsize=None)
def surnames() -> WeightedPool:
    return _pool({**_FakerPerson.last_names, **_EXTRA_SURNAMES})


@lru_cache(maxsize=None)
def given_names(sex: str) -> WeightedPool:
    if sex == "F":
        return _pool({**_FakerPerson.first_names_female, **_EXTRA_GIVEN_FEMALE})
    return _pool({**_FakerPerson.first_names_male, **_EXTRA_GIVEN_MALE})


@lru_cache(maxsize=None)
def street_names() -> np.ndarray:
    """Common names first, then surnames and ordinals as the long tail."""
    surname_streets = list(_FakerPerson.last_names)[:300]
    return np.array(COMMON_STREETS + ORDINAL_STREETS + surname_streets, dtype=object)


@lru_cache(maxsize=None)
def street_name_weights() -> np.ndarray:
    n_common, n_ord = len(COMMON_STREETS), len(ORDINAL_STREETS)
    w = np.concatenate([np.full(n_common, 6.0), np.full(n_ord, 3.0),
                        np.ones(len(street_names()) - n_common - n_ord)])
    return w / w.sum()


@lru_cache(maxsize=None)
def places() -> pd.DataFrame:
    df = pd.read_csv(DATA_DIR / "us_places.csv", dtype={"zip_lo": str, "zip_hi": str})
    df["p"] = df["population_k"] / df["population_k"].sum()
    return df


@lru_cache(maxsize=None)
def nicknames() -> pd.DataFrame:
    """formal, nickname, rank (0..k-1 within formal), k (options for the formal name)."""
    df = pd.read_csv(DATA_DIR / "nicknames.csv").drop_duplicates()
    df["rank"] = df.groupby("formal").cumcount()
    df["k"] = df.groupby("formal")["nickname"].transform("size")
    return df

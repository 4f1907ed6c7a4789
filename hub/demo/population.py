"""The true demo population: people, their households and their history.

One row per real person. Households share an address (and often a landline and the family
name) but are DIFFERENT people. Some households moved, some spouses married and changed their
family name: their older records carry the previous values (`*_prev`, valid before `change_date`).
Everything is drawn with NumPy from the pools, so a million people take seconds.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from hub.demo import pools
from hub.demo.strings import number_text, occurrence, padded, per_unique, ymd, zero_padded
from hub.demo.typos import strip_accents

REFERENCE_DAY = np.datetime64("2026-11-01")  # fixed "today" so output never depends on the clock
HISTORY_START = np.datetime64("2018-01-01")
HOUSEHOLD_SIZES = np.array([1, 2, 3, 4, 5])
HOUSEHOLD_SIZE_P = np.array([0.55, 0.27, 0.10, 0.06, 0.02])
DAYS_PER_YEAR = 365.25


def draw_people(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Draw `n` people grouped into households, with identities, contacts and history."""
    hh_id, role = _households(n, rng)
    head = _head_index(hh_id)
    sex = _sexes(role, head, rng)
    people = pd.DataFrame({"person_id": _person_ids(n), "household_id": hh_id, "role": role, "sex": sex})
    people["given"] = _given_names(sex, rng)
    people["given"] = _avoid_same_given_as_head(people["given"].to_numpy(), sex, role, head, rng)
    people["middle"] = _middle_names(sex, rng)
    people["family"] = _family_names(role, head, rng)
    people["suffix"] = _suffixes(people, head, rng)
    people["birth_date"] = _birth_dates(role, head, rng)
    people["ssn"] = _unique_ssns(n, rng)

    address = _addresses(hh_id, rng)
    for col, values in address.items():
        people[col] = values
    people["phone"] = _phones(people["place_idx"].to_numpy(), role, head, rng)
    _add_history(people, hh_id, role, head, rng)
    people["email"], people["email_old"] = _emails(people, rng)
    people["employer"], employer_idx = _employers(people, rng)
    people["email_alt"] = _work_emails(people, employer_idx, rng)
    return people


def _person_ids(n: int) -> np.ndarray:
    return "P" + zero_padded(np.arange(1, n + 1), 7)


def _households(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    sizes = rng.choice(HOUSEHOLD_SIZES, size=n, p=HOUSEHOLD_SIZE_P)
    ends = np.cumsum(sizes)
    sizes = sizes[: int(np.searchsorted(ends, n)) + 1]
    hh_id = np.repeat(np.arange(len(sizes)), sizes)[:n]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    role = np.arange(n) - starts[hh_id]
    return hh_id, role


def _head_index(hh_id: np.ndarray) -> np.ndarray:
    """Row index of each person's household head (the first member)."""
    first = np.concatenate([[True], hh_id[1:] != hh_id[:-1]])
    return np.maximum.accumulate(np.where(first, np.arange(len(hh_id)), 0))


def _sexes(role: np.ndarray, head: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    sex = np.where(rng.random(len(role)) < 0.51, "F", "M").astype(object)
    # Spouses are mostly of the other sex than the head.
    spouse = (role == 1) & (rng.random(len(role)) < 0.9)
    sex[spouse] = np.where(sex[head[spouse]] == "F", "M", "F")
    return sex


def _given_names(sex: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(sex)
    female = pools.given_names("F").draw(rng, n)
    male = pools.given_names("M").draw(rng, n)
    return np.where(sex == "F", female, male)


def _avoid_same_given_as_head(given, sex, role, head, rng) -> np.ndarray:
    """Relatives rarely share the head's given name: redraw those (a few 'Jr.' stay on purpose)."""
    clash = (role > 0) & (given == given[head]) & (rng.random(len(given)) < 0.95)
    given = given.copy()
    given[clash] = _given_names(sex[clash], rng)
    return given


def _middle_names(sex: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    middle = _given_names(sex, rng)
    middle[rng.random(len(sex)) < 0.15] = None
    return middle


def _suffixes(people: pd.DataFrame, head: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Generational suffixes: a son named after his father is 'Jr.' (the father often 'Sr.'),
    and a few other men carry 'Jr.', 'II' or 'III'."""
    n = len(people)
    given, family, sex = (people[c].to_numpy().copy() for c in ("given", "family", "sex"))
    role = people["role"].to_numpy()
    suffix = np.full(n, None, dtype=object)
    male = sex == "M"
    random_suffix = male & (rng.random(n) < 0.015)
    suffix[random_suffix] = np.array(["Jr.", "Jr.", "II", "III"], dtype=object)[rng.integers(0, 4, int(random_suffix.sum()))]
    # Namesake sons: same given and family name and address as the father, a different person.
    junior = (role >= 2) & male & male[head] & (family == family[head]) & (rng.random(n) < 0.05)
    given[junior] = given[head[junior]]
    people["given"] = given
    suffix[junior] = "Jr."
    senior = np.zeros(n, dtype=bool)
    senior[head[junior]] = rng.random(int(junior.sum())) < 0.5
    suffix[senior] = "Sr."
    return suffix


def _family_names(role: np.ndarray, head: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    family = pools.surnames().draw(rng, len(role))
    share_p = np.where(role == 1, 0.8, 0.9)
    shares = (role > 0) & (rng.random(len(role)) < share_p)
    family[shares] = family[head[shares]]
    return family


def _birth_dates(role: np.ndarray, head: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(role)
    age_years = np.clip(rng.normal(46, 16, n), 18, 92)
    days = (age_years * DAYS_PER_YEAR).astype(int)
    spouse = role == 1
    days[spouse] = days[head[spouse]] + rng.normal(0, 3.5 * DAYS_PER_YEAR, spouse.sum()).astype(int)
    child = role >= 2
    days[child] = days[head[child]] - rng.uniform(20, 38, child.sum()) * DAYS_PER_YEAR
    # Adults only: a "child" too young to be a customer is a sibling or lodger instead.
    days = np.minimum(days, int(95 * DAYS_PER_YEAR))  # a spouse of a 92-year-old is not 104
    too_young = days < 18 * DAYS_PER_YEAR
    days[too_young] = (18 * DAYS_PER_YEAR + rng.uniform(0, 12, too_young.sum()) * DAYS_PER_YEAR).astype(int)
    return REFERENCE_DAY - days.astype("timedelta64[D]")


def _unique_ssns(n: int, rng: np.random.Generator) -> np.ndarray:
    """SSNs as 9-digit integers in the issued ranges (no 000/666/9xx area, no 00 group, no 0000
    serial), all distinct."""
    area = rng.integers(1, 900, n)
    area[area == 666] = 665
    group = rng.integers(1, 100, n)
    serial = rng.integers(1, 10000, n)
    code = area * 1_000_000 + group * 10_000 + serial
    return _redraw_duplicates(code, lambda dup: code[dup] // 10_000 * 10_000
                              + rng.integers(1, 10000, int(dup.sum())))


def _redraw_duplicates(code: np.ndarray, redraw) -> np.ndarray:
    """Replace duplicated values with `redraw(mask)` until every value is distinct."""
    while True:
        dup = pd.Series(code).duplicated().to_numpy()
        if not dup.any():
            return code
        code[dup] = redraw(dup)


def _addresses(hh_id: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One address per household, broadcast to its members."""
    n_hh = int(hh_id.max()) + 1
    hh = draw_addresses(n_hh, rng)
    return {k: v[hh_id] for k, v in hh.items()}


def draw_addresses(n: int, rng: np.random.Generator, place_idx: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Street address components: house_no, street_dir, street_name, street_suffix, unit, place_idx, zip."""
    places = pools.places()
    if place_idx is None:
        place_idx = rng.choice(len(places), size=n, p=places["p"].to_numpy())
    lo = places["zip_lo"].astype(int).to_numpy()[place_idx]
    hi = places["zip_hi"].astype(int).to_numpy()[place_idx]
    zips = padded(lo + (rng.random(n) * (hi - lo + 1)).astype(int), 5)
    house_no = np.floor(10 ** rng.uniform(0.3, 4.0, n)).astype(int)
    names = pools.street_names()
    street_name = names[rng.choice(len(names), size=n, p=pools.street_name_weights())]
    suffix_keys = np.array(list(pools.STREET_SUFFIXES), dtype=object)
    suffix_p = np.array([w for _, w in pools.STREET_SUFFIXES.values()])
    street_suffix = suffix_keys[rng.choice(len(suffix_keys), size=n, p=suffix_p / suffix_p.sum())]
    street_dir = np.array(list(pools.DIRECTIONS), dtype=object)[rng.integers(0, 4, n)]
    street_dir[rng.random(n) >= 0.12] = None
    unit = _units(n, rng)
    return {"house_no": house_no, "street_dir": street_dir, "street_name": street_name,
            "street_suffix": street_suffix, "unit": unit, "place_idx": place_idx, "zip": zips}


def _units(n: int, rng: np.random.Generator) -> np.ndarray:
    number = rng.integers(1, 40, n)
    letter = np.array(["", "", "", "A", "B", "C"], dtype=object)[rng.integers(0, 6, n)]
    floor_style = rng.random(n) < 0.3  # "301": floor 3, door 1
    number[floor_style] = rng.integers(1, 12, floor_style.sum()) * 100 + rng.integers(1, 20, floor_style.sum())
    unit = padded(number, 0) + np.where(floor_style, "", letter)
    unit[rng.random(n) >= 0.25] = None
    return unit


def _phones(place_idx: np.ndarray, role: np.ndarray, head: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ten-digit phones (int64) with the area code of the person's city; half of households share
    a landline."""
    phones = draw_phones(place_idx, rng)
    share = (role > 0) & (rng.random(len(role)) < 0.5)
    phones[share] = phones[head[share]]
    return phones


def draw_phones(place_idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(place_idx)
    codes = pools.places()["area_codes"].str.split(";").to_numpy()
    n_codes = np.array([len(c) for c in codes])
    flat = np.concatenate(codes)
    offsets = np.concatenate([[0], np.cumsum(n_codes)[:-1]])
    pick = offsets[place_idx] + (rng.random(n) * n_codes[place_idx]).astype(int)
    area = flat[pick].astype(int)
    exchange = rng.integers(201, 1000, n)
    exchange[(exchange == 555) | (exchange % 100 == 11)] += 1  # 555 and N11 are not real exchanges
    number = area * 10_000_000 + exchange * 10_000 + rng.integers(0, 10000, n)
    return _redraw_duplicates(number, lambda dup: number[dup] // 10_000 * 10_000
                              + rng.integers(0, 10000, int(dup.sum())))


def _add_history(people: pd.DataFrame, hh_id, role, head, rng: np.random.Generator) -> None:
    """Households that moved and spouses who married: previous values valid before change_date."""
    n = len(people)
    n_hh = int(hh_id.max()) + 1
    moved_hh = rng.random(n_hh) < 0.12
    move_day = _random_days(n_hh, np.datetime64("2019-01-01"), np.datetime64("2026-06-30"), rng)
    moved = moved_hh[hh_id]
    change = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    change[moved] = move_day[hh_id][moved]

    prev_hh = draw_addresses(n_hh, rng)
    stay_in_city = rng.random(n_hh) < 0.5
    # Half of the movers stay in the same city: new street and a ZIP of that city.
    home = people["place_idx"].to_numpy()[_head_rows(hh_id, n_hh)][stay_in_city]
    prev_hh["place_idx"][stay_in_city] = home
    prev_hh["zip"][stay_in_city] = draw_addresses(len(home), rng, place_idx=home)["zip"]
    prev = {k: _masked(v[hh_id], moved) for k, v in prev_hh.items()}
    prev_phone = draw_phones(people["place_idx"].to_numpy(), rng)
    phone_prev = np.where(moved & (rng.random(n) < 0.4), prev_phone, 0)  # 0: no previous phone

    family = people["family"].to_numpy()
    married = ((role == 1) & (people["sex"].to_numpy() == "F") & (family == family[head])
               & (rng.random(n) < 0.35))
    family_prev = np.full(n, None, dtype=object)
    family_prev[married] = pools.surnames().draw(rng, int(married.sum()))
    same = married & (family_prev == family)  # a Smith who married a Smith changed nothing
    family_prev[same] = None
    married &= ~same
    # Some keep their maiden name in front: "Flores-Smith".
    hyphenated = married & (rng.random(n) < 0.12)
    family = family.copy()
    family[hyphenated] = family_prev[hyphenated] + "-" + family[hyphenated]
    people["family"] = family
    change[married] = _random_days(int(married.sum()), np.datetime64("2019-01-01"),
                                   np.datetime64("2026-06-30"), rng)
    own_before = draw_addresses(int(married.sum()), rng)
    for k in prev:
        prev[k][married] = own_before[k]
    phone_prev[married] = prev_phone[married]

    people["change_date"] = change
    people["family_prev"] = family_prev
    people["phone_prev"] = phone_prev
    for k, v in prev.items():
        people[f"{k}_prev"] = v


def _head_rows(hh_id: np.ndarray, n_hh: int) -> np.ndarray:
    _, first_rows = np.unique(hh_id, return_index=True)
    return first_rows


def _masked(values: np.ndarray, keep: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=object).copy()
    out[~keep] = None
    return out


def _random_days(n: int, start: np.datetime64, end: np.datetime64, rng) -> np.ndarray:
    span = int((end - start).astype(int))
    return start + rng.integers(0, span, n).astype("timedelta64[D]")


def _emails(people: pd.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(current personal email, an older address or None), derived from the name (maiden name for
    many who married later); every address is distinct."""
    n = len(people)
    family_src = people["family_prev"].to_numpy().copy()
    use_current = pd.isna(family_src) | (rng.random(n) >= 0.6)
    family_src[use_current] = people["family"].to_numpy()[use_current]
    local = _email_locals(people["given"].to_numpy(), family_src, people["birth_date"].to_numpy(), rng)
    has_old = rng.random(n) < 0.2  # an address from years ago, still in older records
    old_local = _email_locals(people["given"].to_numpy()[has_old], family_src[has_old],
                              people["birth_date"].to_numpy()[has_old], rng)
    provider = pools._pool(pools.EMAIL_PROVIDERS)
    emails = _make_unique(np.concatenate([local, old_local]), "@" + provider.draw(rng, n + int(has_old.sum())))
    old = np.full(n, None, dtype=object)
    old[has_old] = emails[n:]
    return emails[:n], old


def _email_locals(given_names, family_names, birth_dates, rng: np.random.Generator) -> np.ndarray:
    """Local parts in the common patterns: john.smith, jsmith, johnsmith1984, smithj ..."""
    n = len(given_names)
    given = per_unique(given_names, _email_token)
    family = per_unique(family_names, _email_token)
    year = padded(ymd(birth_dates)[0], 4)
    two = padded(rng.integers(1, 100, n), 2)
    g1 = per_unique(given, lambda v: pd.Series(v).str.slice(0, 1).to_numpy(dtype=object))
    f1 = per_unique(family, lambda v: pd.Series(v).str.slice(0, 1).to_numpy(dtype=object))
    patterns = [  # (weight, local part from masked columns)
        (0.30, lambda m: given[m] + "." + family[m]), (0.15, lambda m: given[m] + family[m]),
        (0.15, lambda m: g1[m] + family[m]), (0.05, lambda m: given[m] + "_" + family[m]),
        (0.10, lambda m: given[m] + "." + family[m] + two[m]), (0.10, lambda m: given[m] + family[m] + year[m]),
        (0.05, lambda m: given[m] + two[m]), (0.05, lambda m: family[m] + g1[m]),
        (0.05, lambda m: given[m] + f1[m] + two[m]),
    ]
    weights = np.array([w for w, _ in patterns])
    choice = rng.choice(len(patterns), size=n, p=weights / weights.sum())
    local = np.empty(n, dtype=object)
    for k, (_, build) in enumerate(patterns):
        mask = choice == k
        local[mask] = build(mask)
    return local


def _employers(people: pd.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(employer text, index into pools.EMPLOYERS or -1): most adults work, older ones retire."""
    n = len(people)
    weights = np.array([w for _, _, w in pools.EMPLOYERS], dtype=float)
    idx = rng.choice(len(weights), size=n, p=weights / weights.sum())
    names = np.array([name for name, _, _ in pools.EMPLOYERS], dtype=object)[idx]
    age = (REFERENCE_DAY - people["birth_date"].to_numpy().astype("datetime64[D]")).astype(int) / DAYS_PER_YEAR
    u = rng.random(n)
    retired = (age > 64) & (u < 0.7)
    self_employed = ~retired & (u > 0.9)
    names[retired], names[self_employed] = "Retired", "Self-employed"
    idx[retired | self_employed] = -1
    return names, idx


def _work_emails(people: pd.DataFrame, employer_idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A third of employed people also use their work address somewhere."""
    n = len(people)
    has = (employer_idx >= 0) & (rng.random(n) < 0.35)
    given = per_unique(people["given"].to_numpy()[has], _email_token)
    family = per_unique(people["family"].to_numpy()[has], _email_token)
    domain = np.array([d for _, d, _ in pools.EMPLOYERS], dtype=object)[employer_idx[has]]
    emails = np.full(n, None, dtype=object)
    emails[has] = _make_unique(given + "." + family, "@" + domain)
    return emails


def _email_token(names: np.ndarray) -> np.ndarray:
    s = pd.Series(strip_accents(names), dtype=object).str.lower()
    return s.str.replace(r"[^a-z]", "", regex=True).to_numpy(dtype=object)


def _make_unique(local: np.ndarray, at_domain: np.ndarray) -> np.ndarray:
    """Append a number to the local part of addresses already taken (john.smith7@gmail.com).
    Taken means the same mailbox: Gmail ignores dots, so john.smith@ and johnsmith@gmail.com are one
    address and can never belong to two people."""
    nth = occurrence(_mailbox(local, at_domain))
    taken = nth > 0
    local = local.copy()
    local[taken] = local[taken] + number_text(nth[taken] + 1)
    # A suffixed address can collide with another real one; give those a unique serial.
    dup = pd.Series(_mailbox(local, at_domain)).duplicated().to_numpy()
    if dup.any():
        local[dup] = local[dup] + (np.arange(dup.sum()) + 10_000).astype(str).astype(object)
    return local + at_domain


def _mailbox(local: np.ndarray, at_domain: np.ndarray) -> np.ndarray:
    """The mailbox an address delivers to: dots do not count at Gmail."""
    gmail = pd.Series(at_domain, dtype=object).isin(["@gmail.com", "@googlemail.com"]).to_numpy()
    undotted = pd.Series(local, dtype=object).str.replace(".", "", regex=False).to_numpy(dtype=object)
    return np.where(gmail, undotted, local) + at_domain

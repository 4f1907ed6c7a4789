"""Build each department's table from the true record values, with that department's habits.

Every builder returns the silo's own columns (as the silo file stores them) plus the hidden
`person_id`, and a canonical view of the same rows (see `CANONICAL_COLUMNS`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from hub.demo import noise, pools, render
from hub.demo.records import ADDRESS_FIELDS
from hub.demo.strings import number_text, zero_padded

CANONICAL_COLUMNS = ["silo", "source_record_id", "given_name", "family_name", "full_name", "email", "phone",
                     "address_line", "city", "region", "postcode", "country", "birth_date", "national_id",
                     "company", "source_updated_at", "is_deleted"]


def _ids(prefix: str, n: int, start: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """Sequential record ids (records arrive in random order, so duplicate accounts are not neighbours)."""
    numbers = start + np.arange(n)
    digits = max(width, len(str(start + n - 1)))
    return prefix + zero_padded(numbers, digits)


def _email(rec: pd.DataFrame, p_alt: float, rng: np.random.Generator) -> np.ndarray:
    alt = rec["email_alt"].to_numpy()
    p = np.where(rec["second_account"].to_numpy(), max(p_alt, 0.4), p_alt)
    use_alt = pd.notna(alt) & (rng.random(len(rec)) < p)
    return np.where(use_alt, alt, rec["email"].to_numpy())


def _given(rec: pd.DataFrame, rng, p_nick: float, p_typo: float, p_fold: float) -> np.ndarray:
    given = noise.nicknames(rec["given"].to_numpy(), p_nick, rng)
    given = noise.fold_accents(given, p_fold, rng)
    return noise.with_typos(given, p_typo, rng)


def _family(rec: pd.DataFrame, rng, p_typo: float, p_fold: float) -> np.ndarray:
    family = noise.fold_accents(rec["family"].to_numpy(), p_fold, rng)
    return noise.with_typos(family, p_typo, rng)


def _addr(rec: pd.DataFrame) -> dict[str, np.ndarray]:
    return {k: rec[k].to_numpy() for k in ADDRESS_FIELDS}


def _middle_initial(rec: pd.DataFrame, p: float, rng, dot: bool = True) -> np.ndarray:
    middle = pd.Series(rec["middle"].to_numpy(), dtype=object)
    show = middle.notna().to_numpy() & noise.chance(rng, len(rec), p)
    out = np.full(len(rec), "", dtype=object)
    out[show] = " " + middle[show].str.slice(0, 1).to_numpy(dtype=object) + ("." if dot else "")
    return out


def _with_suffix(names: np.ndarray, rec: pd.DataFrame, p: float, rng) -> np.ndarray:
    """Append the generational suffix ('Jr.', 'III') where the person has one and the form kept it."""
    suffix = rec["suffix"].to_numpy()
    show = pd.notna(suffix) & pd.notna(names) & noise.chance(rng, len(rec), p)
    out = np.asarray(names, dtype=object).copy()
    out[show] = out[show] + " " + suffix[show]
    return out


def _phone(rec, rng, styles, p_missing, p_junk, p_typo) -> np.ndarray:
    digits = noise.slip_digit(rec["phone"].to_numpy(), 10, p_typo, rng)
    out = render.phones(digits, styles, rng)
    out = noise.blank(out, p_missing, rng)
    return noise.junk(out, p_junk, pools.JUNK_PHONES, rng)


def _canonical(silo: str, ids, n: int, updated_at, **cols) -> pd.DataFrame:
    frame = {c: np.full(n, None, dtype=object) for c in CANONICAL_COLUMNS}
    frame.update(cols)
    frame["silo"] = np.full(n, silo, dtype=object)
    frame["source_record_id"] = np.asarray(ids).astype(str).astype(object)
    frame["source_updated_at"] = pd.to_datetime(updated_at)
    frame["country"] = np.full(n, "US", dtype=object)  # every demo silo declares country: US
    frame["is_deleted"] = np.zeros(n, dtype=bool)
    return pd.DataFrame(frame, columns=CANONICAL_COLUMNS)


def _one_line_address(rec: pd.DataFrame, rng, p_upper: float, p_plus4: float, p_missing: float,
                      p_po_box: float = 0.0) -> np.ndarray:
    """'12 Oak St Apt 4, Springfield, IL 62704' as typed into a single address box (billing
    addresses are sometimes a PO box instead of the street)."""
    city, state, _ = render.cities(rec["place_idx"].to_numpy())
    street = noise.with_typos(render.streets(_addr(rec), rng, 0.15, 0.05, (0.6, 0.05, 0.25, 0.1, 0.0)), 0.02, rng)
    po_box = noise.chance(rng, len(rec), p_po_box)
    spelling = np.array(["PO Box ", "P.O. Box ", "PO BOX "], dtype=object)[rng.integers(0, 3, int(po_box.sum()))]
    street[po_box] = spelling + number_text(rng.integers(1, 10000, int(po_box.sum())))
    zips = render.zip_plus4(rec["zip"].to_numpy(), p_plus4, rng)
    address = street + ", " + city + ", " + state + " " + zips
    return noise.blank(noise.recase(address, p_upper, 0.0, rng), p_missing, rng)


def accounting(rec: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Legacy ledger: 'LAST, First' names, one-line billing address, often ALL CAPS, ASCII only."""
    n = len(rec)
    given = noise.initials(_given(rec, rng, 0.03, 0.015, 0.6), 0.02, rng)
    name = render.join_name(_family(rec, rng, 0.015, 0.6), given + _middle_initial(rec, 0.2, rng), ", ")
    name = _with_suffix(name, rec, 0.5, rng)
    name = noise.recase(name, 0.45, 0.0, rng)
    address = _one_line_address(rec, rng, p_upper=0.45, p_plus4=0.15, p_missing=0.02, p_po_box=0.03)
    phone = _phone(rec, rng, {"paren": 0.5, "dash": 0.4, "digits": 0.1}, 0.12, 0.005, 0.005)
    extension = noise.chance(rng, n, 0.01) & pd.notna(phone)  # office numbers with an extension
    phone[extension] = phone[extension] + " x" + number_text(rng.integers(10, 999, int(extension.sum())))
    ids = _ids("ACC-", n, 100000, 6, rng)
    balance = np.where(noise.chance(rng, n, 0.4), 0.0, np.round(rng.lognormal(5.5, 1.2, n), 2))
    balance = np.where(noise.chance(rng, n, 0.05), -np.round(rng.lognormal(3.5, 1.0, n), 2), balance)
    updated = render.timestamps(rec["updated_at"].to_numpy())
    silo = pd.DataFrame({"account_no": ids, "customer_name": name, "billing_address": address, "phone": phone,
                         "balance": balance, "updated_at": updated, "person_id": rec["person_id"].to_numpy()})
    canon = _canonical("accounting", ids, n, rec["updated_at"], full_name=name, phone=phone, address_line=address)
    return silo, canon


def sales(rec: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """E-commerce shop: customers type their own names, emails and shipping addresses."""
    n = len(rec)
    first = _given(rec, rng, 0.12, 0.02, 0.3)
    first = np.where(noise.chance(rng, n, 0.02), first + _middle_initial(rec, 1.0, rng), first)  # "John A."
    first = noise.recase(first, 0.03, 0.05, rng)
    last = noise.recase(_with_suffix(_family(rec, rng, 0.02, 0.3), rec, 0.3, rng), 0.03, 0.05, rng)
    swap = noise.chance(rng, n, 0.01)  # typed into the wrong boxes
    first, last = np.where(swap, last, first), np.where(swap, first, last)
    email = noise.email_variants(_email(rec, 0.25, rng), rng, 0.06, 0.06, 0.03, 0.005)
    email = noise.junk(noise.blank(email, 0.02, rng), 0.01, pools.JUNK_EMAILS, rng)
    phone = _phone(rec, rng, {"paren": 0.3, "dash": 0.25, "dot": 0.1, "e164_spaced": 0.05, "digits": 0.25,
                              "one_dash": 0.05}, 0.2, 0.01, 0.005)
    street = noise.with_typos(render.streets(_addr(rec), rng, 0.3, 0.1, (0.5, 0.15, 0.2, 0.1, 0.05)), 0.02, rng)
    missing_addr = noise.chance(rng, n, 0.02)
    city, state, state_name = render.cities(rec["place_idx"].to_numpy())
    city = noise.recase(noise.with_typos(city, 0.01, rng), 0.0, 0.03, rng)
    state = noise.recase(np.where(noise.chance(rng, n, 0.05), state_name, state), 0.0, 0.03, rng)
    zips = noise.lost_leading_zero(render.zip_plus4(rec["zip"].to_numpy(), 0.05, rng), 0.2, rng)
    for arr in (street, city, state, zips):
        arr[missing_addr] = None
    ids = _ids("", n, 100001, 0, rng)
    purchases = 1 + rng.geometric(0.15, n) - 1
    ltv = np.round(purchases * rng.lognormal(np.log(55), 0.5, n), 2)
    day = rec["updated_at"].to_numpy().astype("datetime64[D]")
    last_purchase = np.datetime_as_string(day - rng.integers(0, 365, n).astype("timedelta64[D]")).astype(object)
    updated = render.timestamps(rec["updated_at"].to_numpy())
    silo = pd.DataFrame({"customer_id": ids, "first_name": first, "last_name": last, "email": email,
                         "phone": phone, "ship_street": street, "ship_city": city, "ship_state": state,
                         "ship_zip": zips, "total_purchases": purchases, "lifetime_value": ltv,
                         "last_purchase_date": last_purchase, "updated_at": updated,
                         "person_id": rec["person_id"].to_numpy()})
    canon = _canonical("sales", ids, n, rec["updated_at"], given_name=first, family_name=last, email=email,
                       phone=phone, address_line=street, city=city, region=state, postcode=zips)
    return silo, canon


def credit(rec: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Credit applications: formal names, birth dates in many formats, SSNs often masked, and the
    contact details and employer every application form asks for."""
    n = len(rec)
    given = _given(rec, rng, 0.02, 0.01, 0.2)
    family = _family(rec, rng, 0.01, 0.2)
    middle = pd.Series(rec["middle"].to_numpy(), dtype=object)
    full_middle = noise.chance(rng, n, 0.05) & middle.notna().to_numpy()
    middle_part = np.where(full_middle, " " + middle.fillna(""), _middle_initial(rec, 0.2, rng))
    forward = _with_suffix(render.join_name(given + middle_part, family), rec, 0.8, rng)
    reversed_ = render.join_name(family, given, ", ")
    name = np.where(noise.chance(rng, n, 0.03), reversed_, forward)
    name = noise.recase(name, 0.1, 0.0, rng)
    dob = render.dates(_date_slips(rec["birth_date"].to_numpy(), rng),
                       {"iso": 0.4, "us": 0.3, "day_mon_year": 0.15, "compact": 0.15}, rng)
    dob = noise.junk(noise.blank(dob, 0.01, rng), 0.002, np.array(["01/01/1900", "1900-01-01"], dtype=object), rng)
    ssn = render.ssns(noise.slip_digit(rec["ssn"].to_numpy(), 9, 0.005, rng), noise.chance(rng, n, 0.25))
    ssn = noise.junk(noise.blank(ssn, 0.02, rng), 0.002,
                     np.array(["000-00-0000", "123-45-6789", "999-99-9999"], dtype=object), rng)
    address = _one_line_address(rec, rng, p_upper=0.1, p_plus4=0.05, p_missing=0.03)
    phone = _phone(rec, rng, {"paren": 0.4, "dash": 0.35, "digits": 0.15, "dot": 0.1}, 0.08, 0.003, 0.005)
    email = noise.email_variants(_email(rec, 0.1, rng), rng, 0.0, 0.03, 0.05, 0.005)
    email = noise.junk(noise.blank(email, 0.15, rng), 0.005, pools.JUNK_EMAILS, rng)
    employer = noise.blank(noise.recase(rec["employer"].to_numpy(), 0.15, 0.05, rng), 0.2, rng)
    ids = _ids("APP-", n, 1, 7, rng)
    limits = np.array([500, 1000, 1500, 2000, 2500, 3000, 5000, 7500, 10000, 15000, 20000, 25000])
    limit_p = np.array([4, 8, 6, 8, 6, 8, 12, 8, 10, 5, 3, 2], dtype=float)
    terms = np.array(["NET30", "NET15", "NET45", "NET60", "COD", "NET90"], dtype=object)
    silo = pd.DataFrame({"application_id": ids, "applicant_name": name, "dob": dob, "ssn": ssn,
                         "credit_limit": limits[rng.choice(len(limits), size=n, p=limit_p / limit_p.sum())],
                         "payment_terms": terms[rng.choice(len(terms), size=n, p=[.5, .15, .1, .1, .1, .05])],
                         "updated_at": render.timestamps(rec["updated_at"].to_numpy()),
                         "home_address": address, "phone": phone, "email": email, "employer": employer,
                         "person_id": rec["person_id"].to_numpy()})
    canon = _canonical("credit", ids, n, rec["updated_at"], full_name=name, birth_date=dob, national_id=ssn,
                       address_line=address, phone=phone, email=email, company=employer)
    return silo, canon


def _date_slips(days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Clerical slips on birth dates: day and month swapped, or a day off."""
    ts = pd.DatetimeIndex(days)
    out = days.astype("datetime64[D]").copy()
    swap = noise.chance(rng, len(out), 0.005) & (ts.day <= 12) & (ts.day != ts.month)
    swapped = pd.to_datetime({"year": ts.year[swap], "month": ts.day[swap], "day": ts.month[swap]})
    out[swap] = swapped.to_numpy().astype("datetime64[D]")
    off = noise.chance(rng, len(out), 0.003)
    out[off] = out[off] + np.where(rng.random(int(off.sum())) < 0.5, -1, 1).astype("timedelta64[D]")
    return out


def _lower(values: np.ndarray) -> np.ndarray:
    return pd.Series(values, dtype=object).str.lower().to_numpy(dtype=object)


def _upper(values: np.ndarray) -> np.ndarray:
    return pd.Series(values, dtype=object).str.upper().to_numpy(dtype=object)


def _initial(values: np.ndarray) -> np.ndarray:
    return pd.Series(values, dtype=object).str.slice(0, 1).to_numpy(dtype=object) + "."


def support(rec: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Help desk: a single free-text name in any order and case, email, sometimes a phone."""
    n = len(rec)
    given = noise.with_typos(_given(rec, rng, 0.15, 0.0, 0.3), 0.02, rng)
    family = _family(rec, rng, 0.02, 0.3)
    middle = _middle_initial(rec, 1.0, rng, dot=False)
    email_local = pd.Series(rec["email"].to_numpy(), dtype=object).str.split("@").str[0].to_numpy(dtype=object)
    forms = [  # (weight, free-text form typed by the requester or the agent)
        (0.55, lambda m: render.join_name(given[m], family[m])),
        (0.08, lambda m: render.join_name(family[m], given[m], ", ")),
        (0.12, lambda m: _lower(render.join_name(given[m], family[m]))),
        (0.05, lambda m: _upper(render.join_name(given[m], family[m]))),
        (0.05, lambda m: render.join_name(_initial(given[m]), family[m])),
        (0.04, lambda m: given[m]),
        (0.03, lambda m: render.join_name(family[m], given[m])),
        (0.08, lambda m: render.join_name(given[m] + middle[m], family[m])),
        (0.02, lambda m: email_local[m]),  # the desk filled the name from the email address
    ]
    weights = np.array([w for w, _ in forms])
    style = rng.choice(len(forms), size=n, p=weights / weights.sum())
    name = render.by_style(style, [build for _, build in forms])
    name = np.where(np.isin(style, [0, 7]), _with_suffix(name, rec, 0.2, rng), name)
    email = noise.email_variants(_email(rec, 0.3, rng), rng, 0.03, 0.05, 0.05, 0.005)
    email = noise.junk(noise.blank(email, 0.03, rng), 0.01, pools.JUNK_EMAILS, rng)
    phone = _phone(rec, rng, {"e164_spaced": 0.15, "e164": 0.1, "paren": 0.25, "dash": 0.2, "digits": 0.2,
                              "dot": 0.1}, 0.35, 0.01, 0.005)
    ids = _ids("", n, 50001, 0, rng)
    tickets = np.where(noise.chance(rng, n, 0.65), 0, rng.integers(1, 7, n))
    silo = pd.DataFrame({"id": ids.astype(int), "name": name, "email": email, "phone": phone,
                         "open_tickets": tickets, "updated_at": render.timestamps(rec["updated_at"].to_numpy()),
                         "person_id": rec["person_id"].to_numpy()})
    canon = _canonical("support", ids, n, rec["updated_at"], full_name=name, email=email, phone=phone)
    return silo, canon


def marketing(rec: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Newsletter list: keyed by email; a first name and a postcode if the person gave them."""
    n = len(rec)
    first = noise.recase(_given(rec, rng, 0.15, 0.01, 0.3), 0.0, 0.1, rng)
    # Some type their whole name into the one name box.
    whole = noise.chance(rng, n, 0.02)
    first[whole] = render.join_name(first[whole], rec["family"].to_numpy()[whole])
    first = noise.blank(first, 0.1, rng)
    email = noise.email_variants(_email(rec, 0.1, rng), rng, 0.08, 0.04, 0.05, 0.005)
    email = noise.junk(email, 0.01, pools.JUNK_EMAILS, rng)
    postcode = noise.lost_leading_zero(render.zip_plus4(rec["zip"].to_numpy(), 0.05, rng), 0.3, rng)
    postcode = noise.blank(postcode, 0.05, rng)
    ids = _ids("SUB", n, 1, 7, rng)
    # The list keeps no update stamp: the signup date is the record's only date.
    signup_day = rec["updated_at"].to_numpy().astype("datetime64[D]")
    silo = pd.DataFrame({"subscriber_id": ids, "email": email, "first_name": first, "postcode": postcode,
                         "subscribed": noise.chance(rng, n, 0.8),
                         "signup_date": np.datetime_as_string(signup_day).astype(object),
                         "person_id": rec["person_id"].to_numpy()})
    canon = _canonical("marketing", ids, n, signup_day, given_name=first, email=email, postcode=postcode)
    return silo, canon


BUILDERS = {"accounting": accounting, "sales": sales, "credit": credit, "support": support, "marketing": marketing}
ID_COLUMNS = {"accounting": "account_no", "sales": "customer_id", "credit": "application_id",
              "support": "id", "marketing": "subscriber_id"}

"""Phone numbers to E.164 with the phonenumbers library, a fast vectorised path for plain NANP numbers."""
from __future__ import annotations

import re

import phonenumbers
import pandas as pd

from identity_resolution.text import is_repeated_digits, map_distinct, without_float_tail

# Numbers that are placeholders everywhere (reserved fictional 555-01xx range included).
_JUNK_NATIONAL = {"1234567890", "0123456789", "9876543210", "5555555555", "1111111111"}
_NANP_SHAPE = re.compile(r"[2-9]\d{2}[2-9]\d{6}")


def to_e164(raw: str, region: str) -> str | None:
    """One phone string -> '+15551234567' or None when it is junk or not a valid number."""
    digits = "".join(ch for ch in raw if ch.isdigit())
    if len(digits) < 7 or is_repeated_digits(digits[-7:]) or digits[-10:] in _JUNK_NATIONAL:
        return None
    if raw.lstrip().startswith("00"):  # '0044 20 ...': the international prefix most countries dial
        raw = "+" + raw.lstrip()[2:]
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        number = _first_number_in(raw, region)  # 'H: 415-555-2671 W: 415-555-9999'
        if number is None:
            return None
    national = str(number.national_number)
    if national in _JUNK_NATIONAL or is_repeated_digits(national[-7:]) or _fictional_nanp(number):
        return None
    if not (phonenumbers.is_valid_number(number) or _plausible_nanp(number)):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _first_number_in(text: str, region: str):
    """The first valid number phonenumbers' matcher finds in a field holding words or several numbers
    beside it (labels such as 'H:' and 'W:' a clerk typed), else None."""
    return next((match.number for match in phonenumbers.PhoneNumberMatcher(text, region)), None)


def _plausible_nanp(number) -> bool:
    """A North-American number of the plan's shape whose area code the library's data does not hold
    (yet): the fast path in standardise_phones takes these as they are, so '(874) 486-3722 x101' must
    give the same number as '874-486-3722'."""
    return number.country_code == 1 and _NANP_SHAPE.fullmatch(str(number.national_number)) is not None


def _fictional_nanp(number) -> bool:
    national = str(number.national_number)
    return number.country_code == 1 and len(national) == 10 and national[3:6] == "555" and national[6:8] == "01"


def standardise_phones(raw: pd.Series, regions: pd.Series) -> pd.Series:
    """E.164 strings (or None) for a column of raw phones, each with the record's region for parsing.

    Plain North-American 10/11-digit numbers in region US/CA are formatted without a parser call;
    everything else goes through phonenumbers once per distinct (phone, region).
    """
    text = first_phone(raw)
    strings = _kernel_strings(text)
    digits = strings.str.replace(r"\D", "", regex=True)
    has_plus = strings.str.lstrip().str.startswith("+").fillna(False)
    ext = strings.str.contains(r"(?i)(?:ext|x|#)\s*\d", regex=True).fillna(False)
    nanp_region = regions.isin(["US", "CA"])
    ten = digits.str.len().eq(10) & ~has_plus
    eleven = digits.str.len().eq(11) & digits.str.startswith("1")
    national = digits.where(ten, digits.str[1:].where(eleven, None))
    plausible = national.str.fullmatch(_NANP_SHAPE.pattern).fillna(False)
    fast = (nanp_region | eleven & has_plus) & (ten | eleven) & plausible & ~ext
    out = pd.Series(None, index=raw.index, dtype="object")
    if fast.any():
        nat = national[fast].astype(str)
        junk = nat.isin(_JUNK_NATIONAL) | _placeholder_shaped(nat)
        out[fast] = ("+1" + nat).where(~junk, None)
    slow = ~fast & text.notna()
    if slow.any():
        keyed = text[slow].astype(str) + "\x1f" + regions[slow].astype(str)
        out[slow] = map_distinct(keyed, _parse_keyed)
    return out


def _kernel_strings(text: pd.Series) -> pd.Series:
    """Arrow-backed strings (C++ kernels, RE2) when every value is printable ASCII, where RE2 and
    Python's re agree on \\d, \\s and case; Python-backed strings (Python's re) otherwise."""
    arrow = text.astype("string[pyarrow]")
    return arrow if arrow.str.fullmatch(r"[ -~]*").all() else text.astype("string")


def _placeholder_shaped(national: pd.Series) -> pd.Series:
    """Ten-digit NANP numbers whose last seven digits are one digit repeated ('2125555555') or in the
    fictional 555-01xx range. A plain loop: the regex form needs a back-reference, which runs in
    Python per value anyway."""
    junk = [n[-7:] == n[-1] * 7 or (n[3:6] == "555" and n[6:8] == "01") for n in national]
    return pd.Series(junk, index=national.index, dtype=bool)


def first_phone(raw: pd.Series) -> pd.Series:
    """The first number of a field holding several ('415-829-1234 / 415-829-5678', '... ; ...'), with
    a spreadsheet's float tail dropped ('4158291234.0'). A split is only taken when its first part is
    a whole number (7+ digits): '030/1234567' is one Berlin number."""
    text = without_float_tail(raw.astype("string[pyarrow]").str.strip())  # string kernels and RE2 in C++
    out = text.astype("object").where(text.notna(), None)
    several = text.str.contains(r"[/;,|]|\bor\b", regex=True).fillna(False).astype(bool)
    if several.any():
        first = text[several].astype("object").str.split(r"\s*(?:[/;,|]|\bor\b)\s*", n=1, regex=True).str[0]
        whole = first.str.count(r"\d") >= 7
        out[first.index[whole]] = first[whole]
    return out


def _parse_keyed(key: str) -> str | None:
    raw, _, region = key.partition("\x1f")
    return to_e164(raw, region or "US")

"""Postal addresses: one-line parsing, street-type and unit abbreviations, regions, postcodes, countries."""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np
import pandas as pd
import pycountry

from identity_resolution.text import accents_restored, fold, is_junk_text, map_distinct, spreadsheet_number

STREET_TYPES = {
    "street": "st", "str": "st", "st": "st", "avenue": "ave", "av": "ave", "ave": "ave", "road": "rd",
    "rd": "rd", "drive": "dr", "drv": "dr", "dr": "dr", "lane": "ln", "ln": "ln", "boulevard": "blvd",
    "blvd": "blvd", "court": "ct", "crt": "ct", "ct": "ct", "place": "pl", "pl": "pl", "terrace": "ter",
    "terr": "ter", "ter": "ter", "circle": "cir", "cir": "cir", "parkway": "pkwy", "pkwy": "pkwy",
    "highway": "hwy", "hwy": "hwy", "square": "sq", "sq": "sq", "crescent": "cres", "cres": "cres",
    "way": "way", "trail": "trl", "trl": "trl", "alley": "aly", "close": "cl", "grove": "grv",
    "circuit": "cct", "cct": "cct", "expressway": "expy", "freeway": "fwy", "loop": "loop", "path": "path",
    "pike": "pike", "plaza": "plz", "point": "pt", "ridge": "rdg", "row": "row", "run": "run",
    # continental words written apart ('Berliner Straße', 'Avenida de Mayo', 'Bd Haussmann')
    "strasse": "st", "avenida": "ave", "avda": "ave", "bd": "blvd",
}
# types a street's name follows in French, Spanish and Portuguese ('Avenida de Mayo', 'Bd Haussmann')
_LEADING_TYPES = frozenset({"avenida", "avda", "av", "avenue", "bd", "boulevard", "blvd"})
# German and Dutch streets are one word ('Hauptstraße', 'Kalverstraat'), shortened to '-str.'
_COMPOUND_STREET = re.compile(r"^([a-z]{3,})(?:strasse|straat|str)$")
DIRECTIONS = {
    "north": "n", "south": "s", "east": "e", "west": "w", "northeast": "ne", "northwest": "nw",
    "southeast": "se", "southwest": "sw", "n": "n", "s": "s", "e": "e", "w": "w", "ne": "ne", "nw": "nw",
    "se": "se", "sw": "sw",
}
UNITS = {"apartment": "apt", "apt": "apt", "unit": "apt", "flat": "apt", "#": "apt", "no": "apt",
         "suite": "ste", "ste": "ste", "room": "rm", "rm": "rm", "floor": "fl", "fl": "fl"}
US_STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA", "colorado": "CO",
    "connecticut": "CT", "delaware": "DE", "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID",
    "illinois": "IL", "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI", "minnesota": "MN",
    "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
    "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR",
    "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC", "south dakota": "SD",
    "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA",
    "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY", "district of columbia": "DC",
}
CA_PROVINCES = {
    "alberta": "AB", "british columbia": "BC", "manitoba": "MB", "new brunswick": "NB",
    "newfoundland and labrador": "NL", "newfoundland": "NL", "nova scotia": "NS", "ontario": "ON",
    "prince edward island": "PE", "quebec": "QC", "saskatchewan": "SK", "northwest territories": "NT",
    "nunavut": "NU", "yukon": "YT",
}
AU_STATES = {
    "new south wales": "NSW", "victoria": "VIC", "queensland": "QLD", "south australia": "SA",
    "western australia": "WA", "tasmania": "TAS", "australian capital territory": "ACT",
    "northern territory": "NT",
}
REGION_NAMES = {**US_STATES, **CA_PROVINCES, **AU_STATES}  # written out -> the code the post uses
COUNTRIES = {
    "us": "US", "usa": "US", "u.s.": "US", "u.s.a.": "US", "united states": "US",
    "united states of america": "US", "america": "US", "ca": "CA", "can": "CA", "canada": "CA",
    "uk": "GB", "gb": "GB", "gbr": "GB", "united kingdom": "GB", "great britain": "GB", "england": "GB",
    "au": "AU", "aus": "AU", "australia": "AU", "nz": "NZ", "new zealand": "NZ", "ie": "IE",
    "ireland": "IE", "de": "DE", "germany": "DE", "fr": "FR", "france": "FR", "mx": "MX", "mexico": "MX",
    "es": "ES", "spain": "ES", "it": "IT", "italy": "IT", "nl": "NL", "netherlands": "NL", "in": "IN",
    "india": "IN", "scotland": "GB", "wales": "GB", "northern ireland": "GB", "n ireland": "GB",
    "n. ireland": "GB", "holland": "NL", "the netherlands": "NL", "deutschland": "DE", "espana": "ES",
    "russia": "RU", "ivory coast": "CI", "south korea": "KR", "north korea": "KP",
}
_TAIL = re.compile(
    r"^(?P<street>.*?)(?:,\s*(?P<city>[^,]*?))?,?\s+(?P<region>[A-Za-z]{2}|[A-Za-z][A-Za-z ]+)\.?,?\s+"
    r"(?P<postcode>\d{5}(?:-\d{4})?|[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d)\s*(?:,?\s*(?:USA|US|United States|Canada))?$",
    re.IGNORECASE,
)
# UK ('SW1A 2AA', 'B36 2RG', 'l234aq') and Canadian ('K1A 0B1') postcodes: outward and inward code
_UK_POSTCODE = r"[A-Za-z]{1,2}\d[A-Za-z\d]?\s*\d[A-Za-z]{2}"
_CA_POSTCODE = r"[A-Za-z]\d[A-Za-z]\s*\d[A-Za-z]\d"
# Irish Eircode: a routing key and a four-character unique id ('D02 X285', 'T12 AB34')
_EIRCODE = r"(?:[AC-FHKNPRTV-Y]\d{2}|D6W)\s*[0-9AC-FHKNPRTV-Y]{4}"
# 'street, town POSTCODE' or 'street, town, POSTCODE' with no region: the British way of writing it
_POSTCODE_TAIL = re.compile(
    rf"^(?P<street>.*?),\s*(?P<city>[^,]*?),?\s+(?P<postcode>{_UK_POSTCODE}|{_CA_POSTCODE}|{_EIRCODE})"
    r"\s*(?:,?\s*(?:UK|United Kingdom|Great Britain|England|Scotland|Wales|Northern Ireland|Canada|Ireland))?$",
    re.IGNORECASE,
)
# 'street, POSTCODE town' as most of continental Europe writes it (Germany, France, Spain, Italy:
# five digits; Austria, Switzerland, Belgium, Denmark: four; the Netherlands '1012 LG'; Poland
# '00-950'; Sweden and Czechia '114 55'), optionally followed by the country's name
_POSTCODE_FIRST = re.compile(
    r"^(?P<street>[^,].*?),\s*(?P<postcode>\d{4}\s?[A-Za-z]{2}(?=\s)|\d{4,5}|\d{2}-\d{3}|\d{3}\s\d{2})\s+"
    r"(?P<city>[^\d,\s][^,]*?)\s*(?:,\s*(?P<country>[^\d,]+?))?\s*$"
)
_SPLIT_POSTCODE = re.compile(rf"^(?:{_UK_POSTCODE}|{_CA_POSTCODE}|{_EIRCODE})$", re.IGNORECASE)
_EIRCODE_WHOLE = re.compile(rf"^{_EIRCODE}$")
# 'street, suburb STATE 2000' as Australia writes it: a state or territory code before a four-digit postcode
_AU_TAIL = re.compile(
    r"^(?P<rest>.*?)[,\s]+(?P<region>NSW|VIC|QLD|SA|WA|TAS|ACT|NT)\.?,?\s+(?P<postcode>\d{4})"
    r"\s*(?:,?\s*(?:Australia|AUS|AU))?$", re.IGNORECASE)
_UNIT_ABBR_DISPLAY = {"apt": "Apt", "ste": "Ste", "rm": "Rm", "fl": "Fl", "po": "PO"}
_LEADING_UNITS = frozenset(UNITS) - {"no"}  # 'No 12 High St' is house number 12, not a flat
_PO_BOX = re.compile(r"\b(?:p\s*\.?\s*o\s*\.?|post\s+office)\s*box\b")
_HOUSE_LETTER = re.compile(r"^(\d+)\s+([a-df-mo-rt-vx-z])(?=\s)")  # any letter but n, s, e, w
_LAST_HOUSE_LETTER = re.compile(r"(\d+)\s+([a-df-mo-rt-vx-z])$")
_HASH_UNIT = re.compile(r"#\s*(\w)")
_UNIT_HASH = re.compile(r"\b(apartment|apt|unit|flat|suite|ste|room|rm)\.?\s*#")
# the small words inside a street's name, after its type or each other ('Rue de la Paix', 'Calle del Prado')
_STREET_PARTICLES = frozenset({"de", "du", "des", "la", "le", "les", "del", "della", "delle", "dei", "di", "da",
                               "do", "dos", "das", "of", "the", "l", "d"})
_NAMED_AFTER = frozenset({"rue", "chemin", "allee", "impasse", "quai", "route", "cours", "pl", "place", "ave", "blvd",
                          "calle", "camino", "paseo", "plaza", "plz", "via", "viale", "piazza", "corso", "largo", "rua",
                          "praca", "travessa", "avenida", "st", "rd", "sq"})
_HYPHEN_JOINERS = frozenset({"en", "sur", "sous", "le", "la", "les", "lez", "de", "du", "des", "d", "l", "et", "upon",
                             "on", "under", "in", "by", "the", "am", "an", "der", "im", "bei", "op", "aan"})
# a care-of or attention line before the address names the person it is for, not the place
_CARE_OF = re.compile(r"^(?:c\s*/\s*o|care\s+of|attn|attention)\b[^,]*,\s*(?=\S)")
_ORDINAL_NUMBER = re.compile(r"(\d+)(?:st|nd|rd|th)")
_UNIT_WORDS = frozenset(UNITS.values())
_HYPHENED_UNIT = re.compile(r"\d+-[a-z]|[a-z]-\d+")
_UNIT_SLASH_HOUSE = re.compile(r"(\d+[a-z]?)/(\d+[a-z]?)")
_DIRECTION_ABBRS = frozenset(DIRECTIONS.values())
_SPACES = re.compile(r"\s+")
_ZIP_PLUS4 = re.compile(r"\d{5}-?\d{4}")
_NOT_DIGIT = re.compile(r"\D")
ORDINALS = {"first": "1st", "second": "2nd", "third": "3rd", "fourth": "4th", "fifth": "5th", "sixth": "6th",
            "seventh": "7th", "eighth": "8th", "ninth": "9th", "tenth": "10th"}


def normalise_street(text: str | None) -> str | None:
    """Lower-case street line with standard abbreviations: '12 Oak Street, Apt. #4' -> '12 oak st apt 4'."""
    if text is None or is_junk_text(text):
        return None
    t = fold(text).lower()
    if _CARE_OF.match(t):  # anchored: a street's first character already fails it
        t = _CARE_OF.sub("", t, count=1)
    if "box" in t:  # the regexes only run where they can match: this runs once per distinct street
        t = _PO_BOX.sub("po box", t)
    if "#" in t:
        t = _UNIT_HASH.sub(r"\1 ", t)  # 'Apt. #3B' is Apt 3B: the sign says no more than the word
        t = _HASH_UNIT.sub(r" # \1", t)
    t = t.replace(".", " ").replace(",", " ").replace(";", " ")
    if _HOUSE_LETTER.match(t):  # a failed match costs less than a sub that finds nothing
        t = _HOUSE_LETTER.sub(r"\1\2", t)  # '12 B Baker St' is house 12B ('12 N Main St' keeps its N)
    elif t[-2:-1] == " " and _LAST_HOUSE_LETTER.search(t):
        t = _LAST_HOUSE_LETTER.sub(r"\1\2", t)  # 'Hauptstr. 5 a' is house 5a, as 'Hauptstr. 5a' ('Hwy 9 W' keeps its W)
    toks = t.split()
    if toks and "/" in toks[0] or len(toks) > 1 and toks[0] in _LEADING_UNITS and "/" in toks[1]:
        toks = _unit_slash_house(toks)
    if len(toks) >= 3 and toks[0] in _LEADING_UNITS and toks[2][0].isdigit():
        toks = toks[2:] + toks[:2]  # 'Flat 3, 12 High Street' is 12 High Street, Flat 3: one form for both
    out: list[str] = []
    for i, tok in enumerate(toks):
        if tok in UNITS and i > 0 and UNITS[tok] == "fl" and _ORDINAL_NUMBER.fullmatch(out[-1]):
            out[-1:] = ["fl", _ORDINAL_NUMBER.fullmatch(out[-1]).group(1)]  # '2nd Floor' is Fl 2
        elif tok in UNITS and i > 0:
            out.append(UNITS[tok])
        elif out and out[-1] in _UNIT_WORDS and _HYPHENED_UNIT.fullmatch(tok):
            out.append(tok.replace("-", ""))  # 'Apt 4-B' is Apt 4B, one flat however written
        elif tok in ORDINALS:
            out.append(ORDINALS[tok])
        elif tok in STREET_TYPES and (i > 0 or tok in _LEADING_TYPES) and not (out and out[-1] in ("apt", "ste")):
            out.append(STREET_TYPES[tok])
        elif tok in DIRECTIONS and (i == 1 or i == len(toks) - 1):
            out.append(DIRECTIONS[tok])
        elif tok.endswith(("str", "strasse", "straat")) and _COMPOUND_STREET.match(tok):
            out.append(_COMPOUND_STREET.sub(r"\1str", tok))
        else:
            out.append(tok)
    result = " ".join(out).strip()
    return result or None


def _unit_slash_house(toks: list[str]) -> list[str]:
    """'5/23 George St' (or 'Unit 5/23 George St') is flat 5 of number 23, as Australia and New Zealand
    write it: '23 george st apt 5', the form of 'Unit 5, 23 George Street'. '1/2' after a house
    number ('123 1/2 Main St', a US half address) is not at the start and is left alone."""
    start = 1 if toks[0] in _LEADING_UNITS else 0
    m = _UNIT_SLASH_HOUSE.fullmatch(toks[start])
    if not m or len(toks) <= start + 1:
        return toks
    return [m.group(2), *toks[start + 1:], "apt", m.group(1)]


def display_street(norm: str | None) -> str | None:
    """Display form of a normalised street line: '12 oak st apt 4' -> '12 Oak St Apt 4'."""
    if not norm:
        return None
    words = norm.split()
    out = [_display_word(tok) for tok in words]
    if "'" not in norm and _STREET_PARTICLES.isdisjoint(words):
        return " ".join(out)  # most streets: no small word to look at
    for i in range(1, len(words)):  # 'Rue de la Paix', 'Ave of the Americas' ('12 De Soto St' keeps its De)
        word, before = words[i], words[i - 1]
        if not (before in _STREET_PARTICLES or before in _NAMED_AFTER or word in ("of", "the") and before.isalpha()):
            continue
        if word in _STREET_PARTICLES:
            out[i] = word
        elif word[1:2] == "'" and word[0] in "dl":  # 'Rue d'Alésia'
            out[i] = word[0] + out[i][1:]
    return " ".join(out)


@lru_cache(maxsize=1 << 16)  # street words repeat: a few thousand distinct words in a million lines
def _display_word(tok: str) -> str:
    if tok in _UNIT_ABBR_DISPLAY:
        return _UNIT_ABBR_DISPLAY[tok]
    if tok in _DIRECTION_ABBRS and len(tok) <= 2:
        return tok.upper()
    return _capitalised(tok)


def _capitalised(word: str) -> str:
    """'saint-germain-en-laye' -> 'Saint-Germain-en-Laye', 'stratford-upon-avon' -> 'Stratford-upon-Avon':
    each part of a hyphenated name capitalised but the small words that join them."""
    if "'" in word:  # "o'connell" -> "O'Connell", "d'alesia" -> "D'Alesia"
        return "'".join(_capitalised(part) for part in word.split("'"))
    if "-" not in word:
        return word.capitalize()
    parts = word.split("-")
    return "-".join(p if i and p in _HYPHEN_JOINERS else p.capitalize() for i, p in enumerate(parts))


def parse_one_line(line: str) -> tuple[str | None, str | None, str | None, str | None]:
    """'12 Oak St Apt 4, Springfield, IL 62704' -> (street, city, region, postcode); parts not found are None."""
    text = fold(line).strip()
    if "," not in text:
        return parse_comma_free_line(text) or (text or None, None, None, None)
    m = _TAIL.match(text)
    town_region = m and _town_and_region(m.group("city"), m.group("region"))
    if m and not town_region and not m.group("postcode").isdigit():
        m = None  # 'Ottawa, K1M 1M4': a town before a Canadian postcode, not a province
    if m:
        street, (city, region) = m.group("street"), town_region or (m.group("city"), m.group("region"))
        if not city and "," not in street:
            street, city = _street_and_town(street.split()) or (street, None)
        return street or None, city or None, normalise_region(region), m.group("postcode")
    m = _AU_TAIL.match(text)
    if m:
        street, _, city = m.group("rest").rpartition(",")
        street, city = (street, city.strip()) if street else _street_and_town(city.split()) or (city, None)
        return street or None, city or None, m.group("region").upper(), m.group("postcode")
    m = _POSTCODE_TAIL.match(text)
    if m:
        return m.group("street") or None, m.group("city") or None, None, m.group("postcode")
    m = _POSTCODE_FIRST.match(text)
    if m and _is_town(m.group("city")) and (m.group("country") is None or normalise_country(m.group("country"))):
        return m.group("street"), m.group("city"), None, m.group("postcode")
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) >= 3:
        return ", ".join(parts[:-2]), parts[-2], normalise_region(parts[-1]), None
    return text or None, None, None, None


# 'street town ST 12345' without commas, as older systems print an address on one line: a US state
# or Canadian province code before its ZIP or postal code (checked against the codes: 'OAK ST' is none)
_COMMA_FREE_TAIL = re.compile(
    r"^(?P<rest>(?:\d|p\.?\s?o\.?\s+box\s).*?)\s+(?P<region>[A-Za-z]{2})\.?\s+"
    r"(?P<postcode>\d{5}(?:-\d{4})?|[A-Za-z]\d[A-Za-z] ?\d[A-Za-z]\d)$", re.IGNORECASE)
_CA_PROVINCES = frozenset({"AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"})
# and the USPS codes of the territories, the freely associated states and the armed forces
_US_STATE_CODES = frozenset(US_STATES.values()) | {"PR", "GU", "VI", "AS", "MP", "PW", "FM", "MH", "AA", "AE", "AP"}


def parse_comma_free_line(line: str) -> tuple[str, str, str, str] | None:
    """'12 Oak Street Springfield IL 62704' -> (street, city, region, postcode), the street ending at
    its first street type after the name, with any direction and unit after it ('123 Main St Ste 400
    New York NY 10001'); None where the line is not so shaped or the street's end cannot be told."""
    m = _COMMA_FREE_TAIL.match(fold(line).strip())
    if not m:
        return None
    region, postcode = m.group("region").upper(), m.group("postcode")
    if region not in (_US_STATE_CODES if postcode[:5].isdigit() else _CA_PROVINCES):
        return None
    split = _street_and_town(m.group("rest").split())
    return (*split, region, postcode) if split else None


def _street_and_town(words: list[str]) -> tuple[str, str] | None:
    """The words of 'number name type [direction] [unit] town' (or 'PO Box 12 town') cut after the street's part."""
    box = _PO_BOX.match(" ".join(words).lower())
    if box:
        boxed = len(box.group().split())
        end = boxed + 1 if boxed < len(words) and words[boxed].isdigit() else None
    else:
        end = next((i + 1 for i in range(2, len(words)) if words[i].lower().strip(".") in STREET_TYPES), None)
    if end is None:
        return None
    if end < len(words) and words[end].lower().strip(".") in DIRECTIONS:
        end += 1
    if end + 1 < len(words) and (words[end].lower().strip(".") in UNITS or words[end].startswith("#")):
        end += 1 if words[end].startswith("#") and len(words[end]) > 1 else 2
    town = words[end:]
    if not town or any(ch.isdigit() for word in town for ch in word):
        return None
    return " ".join(words[:end]), " ".join(town)


def _is_town(text: str) -> bool:
    """Not a street ('Suite 200, 1234 Main Street' is a unit and a street, not a postcode and a town)."""
    return text.split()[-1].lower().strip(".") not in STREET_TYPES


def _town_and_region(city: str | None, region: str) -> tuple[str | None, str] | None:
    """The town and the region of what the one-line pattern read as town and region, the region a
    two-letter code or a state's or province's name ('New York NY' after a street's comma is New
    York, NY, not New, 'York NY'); None where neither ends it."""
    plain = region.strip(" .")
    if city and (len(plain) == 2 or plain.lower() in REGION_NAMES):
        return city, plain  # 'Springfield, IL': as the pattern read it (most lines, so no word lists)
    words = f"{city or ''} {region}".split()
    for size in (4, 3, 2, 1):
        tail = " ".join(words[-size:]).strip(" .")
        if len(words) >= size and (tail.lower() in REGION_NAMES or (size == 1 and len(tail) == 2)):
            return " ".join(words[:-size]) or None, tail
    return None


@lru_cache(maxsize=4096)  # called for every one-line address, over a few hundred distinct regions
def normalise_region(text: str | None) -> str | None:
    """US state, Canadian province and Australian state names to their codes, other regions upper-cased."""
    if text is None or is_junk_text(text):
        return None
    t = fold(text).strip(" .").lower()
    if t in REGION_NAMES:
        return REGION_NAMES[t]
    return t.upper()


def normalise_postcode(text: str | None) -> str | None:
    """US ZIP+4 to five digits; UK and Canadian postcodes with one space before the inward code
    ('l234aq' -> 'L23 4AQ'); others upper-cased, single-spaced; a number a spreadsheet wrote as a float
    read back ('2134.0', '2.134E+03' -> '2134', then restore_zip_zero). Placeholders to None."""
    if text is None or is_junk_text(text):
        return None
    t = _SPACES.sub(" ", fold(text).upper()).strip()
    t = spreadsheet_number(t)
    if _ZIP_PLUS4.fullmatch(t):
        t = t[:5]
    elif _SPLIT_POSTCODE.match(t):
        t = t.replace(" ", "")
        cut = 3 if _EIRCODE_WHOLE.match(t) else -3  # an Eircode's routing key has three characters
        t = f"{t[:cut]} {t[cut:]}"
    digits = _NOT_DIGIT.sub("", t)
    if digits and digits == t and len(set(digits)) == 1:
        return None
    return t


def normalise_country(text: str | None) -> str | None:
    """Country names and codes to ISO 3166-1 alpha-2 where known; two-letter codes kept."""
    if text is None or is_junk_text(text):
        return None
    t = fold(text).strip().lower()
    if t in COUNTRIES:
        return COUNTRIES[t]
    if len(t) == 2:
        return t.upper()
    try:  # every ISO 3166 name, common name and three-letter code ('Brazil', 'BRA', 'Viet Nam')
        return pycountry.countries.lookup(t).alpha_2
    except LookupError:
        return None


def restore_zip_zero(postcode: pd.Series, country: pd.Series | None, region: pd.Series | None = None) -> pd.Series:
    """'2108' -> '02108' for US records: a spreadsheet that read a ZIP as a number dropped its leading
    zero (New England, New Jersey, Puerto Rico). Other countries' four-digit postcodes are left alone,
    and so is a record whose region is no US state ('Sydney NSW 2000' under a US default). A state
    whose ZIP codes do not start with 0 does not stop it: a ledger's state may be wrong where its
    number is not, and an Australian 'Perth WA 6000' needs the silo's `country: AU` to be told apart."""
    if country is None:
        return postcode
    lost = postcode.astype("string").str.fullmatch(r"\d{4}").fillna(False) & country.eq("US").fillna(False)
    if region is not None:
        lost &= region.isna() | region.isin(_US_STATE_CODES)
    return postcode.where(~lost, "0" + postcode.astype("string"))


def standardise_addresses(line: pd.Series, city: pd.Series, region: pd.Series, postcode: pd.Series,
                          country: pd.Series | None = None) -> pd.DataFrame:
    """address_line, city, region, postcode display columns; a one-line address fills missing parts.
    `country` (ISO codes, one per record) enables country-specific postcode repairs.

    A street box holding the whole address ('12 Oak St, Springfield, IL 62704') is split even when the
    city or postcode boxes are filled too (forms that copy them), as long as its tail is an address's
    (a postcode, or the record's own city): the boxes win, the line fills the gaps. A line that ends
    in its record's city and nothing else ('5 Elm Rd, Springfield') loses the city."""
    line = _joined_lines(line.astype("object"))
    text = line.astype("string[pyarrow]")
    with_comma = text.str.contains(",", regex=False).fillna(False).to_numpy(dtype=bool)
    # a line without commas is read only where it ends in a state or province and its code
    comma_free = ~with_comma & text.str.contains(r"\s[A-Za-z]{2}\.?\s+[\dA-Za-z]{3} ?[\dA-Za-z]{2,3}(?:-\d{4})?$",
                                                 regex=True).fillna(False).to_numpy(dtype=bool)
    with_comma |= comma_free
    street, town, state, code = _parsed_parts(line.where(with_comma, None))
    boxes = [box.astype("object").to_numpy() for box in (city, region, postcode)]
    blank = pd.isna(boxes[0]) & pd.isna(boxes[2])
    one_line = with_comma & (blank | pd.notna(code))
    ask = np.flatnonzero(with_comma & ~one_line & pd.notna(town) & pd.notna(boxes[0]))  # the town found is the city's?
    one_line[ask] = [t.lower() == c.lower() for t, c in zip(town[ask], boxes[0][ask])]
    street_src = np.where(one_line, street, line.to_numpy())
    _drop_own_town(street_src, with_comma & ~one_line & pd.notna(boxes[0]), boxes[0])
    city_src, region_src, post_src = (np.where(one_line & pd.isna(box), part, box) for box, part in zip(boxes, (town, state, code)))
    street_src, city_src, region_src, post_src = (pd.Series(a, index=line.index, dtype="object")
                                                  for a in (street_src, city_src, region_src, post_src))
    street_norm = map_distinct(street_src, normalise_street)
    regions = map_distinct(region_src, normalise_region)
    # shown with the accents the record wrote ('München', 'Rue de l'Église'); keyed without them
    return pd.DataFrame(
        {
            "address_line": accents_restored([map_distinct(street_norm, display_street)], street_src, line)[0],
            "city": accents_restored([map_distinct(city_src, _display_city)], city_src, line)[0],
            "region": regions,
            "postcode": restore_zip_zero(map_distinct(post_src, normalise_postcode), country, regions),
        },
        index=line.index,
    )


def _joined_lines(line: pd.Series) -> pd.Series:
    """An address typed over several lines of a text box ('12 Oak St\\nApt 4\\nSpringfield, IL
    62704') is one line with commas between them (arrow's regex kernels: a million lines in ms)."""
    text = line.astype("string[pyarrow]")
    broken = text.str.contains("[\r\n]", regex=True).fillna(False).to_numpy()
    if not broken.any():
        return line
    line = line.copy()
    line[broken] = text[broken].str.replace(r"[,\s]*[\r\n]+[,\s]*", ", ", regex=True).str.strip(", ").to_numpy(dtype=object)
    return line


def _drop_own_town(street: np.ndarray, rows: np.ndarray, city: np.ndarray) -> None:
    """'5 Elm Rd, Springfield' beside the city box 'Springfield': the street is '5 Elm Rd' (in place)."""
    for i in np.flatnonzero(rows):
        head, _, tail = street[i].rpartition(",")
        if head.strip() and fold(tail).strip().lower() == fold(city[i]).strip().lower():
            street[i] = head


def _parsed_parts(lines: pd.Series) -> tuple[np.ndarray, ...]:
    """Street, city, region and postcode arrays (None where no line): parse_one_line once per
    distinct line, each part spread back to the rows by the lines' codes."""
    codes, uniques = pd.factorize(lines)
    parsed = [parse_one_line(u) for u in uniques] + [(None, None, None, None)]  # code -1 (no line) -> the last
    return tuple(np.array([p[i] for p in parsed], dtype=object)[codes] for i in range(4))


def _display_city(text: str) -> str | None:
    if is_junk_text(text):
        return None
    return " ".join(_capitalised(w) for w in fold(text).lower().split())

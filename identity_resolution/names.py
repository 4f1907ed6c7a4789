"""Personal names: split any written form into given and family name, proper-case, nickname table."""
from __future__ import annotations

import itertools
import re
from functools import lru_cache, partial
from importlib import resources

import numpy as np
import pandas as pd
from nameparser.config import CONSTANTS

from identity_resolution.text import accents_restored, fold, is_junk_text

# nameparser keeps well-curated lists of titles and suffixes; we reuse them and do the split
# ourselves because its per-call cost is too high for a million names.
_TITLES = frozenset(t.lower().strip(".") for t in CONSTANTS.titles) | {
    "mr", "mrs", "ms", "mx", "dr", "miss", "herr", "hr", "frau", "fr", "med", "mme", "mlle", "sr", "srta"}
# European academic and professional titles written before the name ('Dipl.-Ing.', 'Dr.-Ing.', 'Ing.',
# 'Dott.', 'Avv.', 'Mgr.', 'Ir.', 'Drs.', 'Dña.'), read as titles only with their full stop: 'Ing Chen'
# is a given name
_DOTTED_TITLE_WORDS = r"(?:ing|dipl|dott|dottssa|avv|arch|geom|mgr|ir|drs|dna|dra|lic|univ)"
_DOTTED_TITLES = re.compile(rf"(?:^|(?<=[\s.]))(?:-?{_DOTTED_TITLE_WORDS}\.|-{_DOTTED_TITLE_WORDS}$)",  # '...Dipl.-Ing'
                            re.IGNORECASE)
# a title written before a family name alone ('Mrs Smith'); 'Sister Mary', 'Sir Elton' take a given name
_TITLE_WORDS = r"(?:mr|mrs|ms|miss|mx|mister|dr|prof|professor|herr|frau|mme|madame|monsieur|mlle|sr|senor|senora)"
# ... or two, a joint account's ('Mr and Mrs Smith'; '&' is gone by then: 'Mr Mrs Smith')
_TITLED_SURNAME = re.compile(rf"{_TITLE_WORDS}(?:[\s.]+(?:(?:and|und|et|y)[\s.]+)?{_TITLE_WORDS})?[\s.]+([^\s.]{{2,}})[\s.]*",
                             re.IGNORECASE)
_SUFFIXES = frozenset(s.lower().strip(".") for s in CONSTANTS.suffix_acronyms | CONSTANTS.suffix_not_acronyms)
# a title a ledger writes after the name ('SMITH JOHN MR', 'JONES M MRS'); only these, as many titles
# are family names too (King, Major, Bishop)
_COURTESY_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "mstr"})
_TITLE_JOINERS = frozenset({"and", "und", "et", "y"})
_PARTICLES = frozenset({"van", "von", "de", "der", "den", "del", "della", "di", "da", "du", "la", "le", "st", "bin", "ibn", "al", "el", "ter", "ten", "dos", "das"})
_NOT_NAME = re.compile(r"[^A-Za-z\s\-',.]")
# one word of letters and digits ('jyoung8', 'mary1984'): a user name typed into the name box
_USER_NAME = re.compile(r"^[A-Za-z._]+\d+[A-Za-z]*$")
# ... unless it spells the name out ('helen.turner79', 'tammy_hardy'): first and last name
_SPELT_USER_NAME = re.compile(r"^([A-Za-z]{2,})[._]([A-Za-z]{2,})\d*$")
_NOT_LETTERS = re.compile(r"[^a-z]")
_SPACES = re.compile(r"\s+")
_TOKEN_BREAKS = re.compile(r"[\s.,]+")
# a clerk's note beside the name ('John Smith (deceased)', '[old account]') and a maiden name
# ('Mary Smith née Jones'): neither is the name the other departments know
_NOTES = re.compile(
    r"\([^)]*\)?|\[[^\]]*\]?|\s+n[eé]e\s+\S+"
    # what follows a spaced dash or slash, or 'c/o': a company, another person ('John Smith - ACME')
    r"|\s+(?:[-–/]|c/o|attn:?)\s.*$"
    # a ledger's word on the account ('JOHN SMITH DECEASED', 'DO NOT USE'), an estate, a household
    r"|\s+(?:deceased|dec'd|do not use|dnu|duplicate|inactive)\s*$|^(?:the\s+)?(?:estate\s+of|late)\s+",
    re.IGNORECASE)
# a character or a whole word every note above holds: most names hold none, and this test costs a
# fraction of the pattern's
_NOTE_CHARS = re.compile(r"[(\[/\-–]")
_NOTE_WORDS = frozenset({"nee", "née", "attn", "attn:", "deceased", "dec'd", "do", "dnu", "duplicate", "inactive",
                         "estate", "late"})
# a household's account: 'The Smith Family', 'Smith Household' (a family name, no one's given name)
_HOUSEHOLD = re.compile(r"(the\s+)?([^\s,]+)\s+(?:family|household)", re.IGNORECASE)
_PLACEHOLDER_BREAKS = re.compile(r"[\s\-]+")


def _nickname_rows() -> list[tuple[str, str]]:
    text = resources.files("identity_resolution").joinpath("data/nicknames.csv").read_text("utf-8")
    return [tuple(line.strip().split(",")) for line in text.splitlines()[1:] if line.strip()]


@lru_cache(maxsize=1)
def nickname_table() -> dict[str, str]:
    """nickname -> canonical given name, from the shipped data file `data/nicknames.csv`. A nickname
    of several names ('chris': Christian, Christopher, Christine) keeps its first row here, a fixed
    blocking key; `nickname_formals` has them all."""
    table: dict[str, str] = {}
    for nick, canonical in _nickname_rows():
        table.setdefault(nick, canonical)
    return table


@lru_cache(maxsize=1)
def nickname_formals() -> dict[str, frozenset[str]]:
    """nickname -> every formal given name it stands for in `data/nicknames.csv`."""
    formals: dict[str, set[str]] = {}
    for nick, canonical in _nickname_rows():
        formals.setdefault(nick, set()).add(canonical)
    return {nick: frozenset(names) for nick, names in formals.items()}


def nickname_related(a: str, b: str) -> bool:
    """One given name is a nickname of the other, or both are nicknames of one formal name
    ('jeff' ~ 'jeffrey', 'chris' ~ 'christine', 'bob' ~ 'rob'); lower-case input."""
    formals = nickname_formals()
    return bool((formals.get(a, frozenset()) | {a}) & (formals.get(b, frozenset()) | {b}))


@lru_cache(maxsize=1)
def known_given_names() -> frozenset[str]:
    """Lower-case given names we recognise (nicknames and every formal name they stand for): used to
    tell name order."""
    formals = nickname_formals()
    return frozenset(formals).union(*formals.values())


# first-name lists Faker ships (a maintained, multi-locale source); ours alone (~470 names behind the
# nickname table) missed Carol, Nigel, Robin and Justin, so 'Carol Martin' was read as Martin Carol
_NAME_LIST_LOCALES = ("en_US", "en_GB", "en_IE", "es_MX", "fr_FR", "de_DE", "it_IT")


@lru_cache(maxsize=1)
def plausible_given_names() -> frozenset[str]:
    """Lower-case given names: the nickname table's plus Faker's first-name lists (~3,600 in all)."""
    from importlib import import_module

    names = set(known_given_names())
    for locale in _NAME_LIST_LOCALES:
        provider = import_module(f"faker.providers.person.{locale}").Provider
        names.update(fold(n).lower() for n in provider.first_names)
    return frozenset(names)


def family_from_email(given: str, user: str) -> str | None:
    """The family name an email user name spells after the record's own given name (lower case):
    'scott.nelson' with Scott is Nelson, 'christopherlee' with Chris is Lee. Only where the longest
    given name the user name begins with is this one (or the formal name behind it), so 'annabellesmith'
    says nothing for Ann; None when fewer than three letters follow ('debrac87')."""
    letters = _NOT_LETTERS.sub("", user)
    spellings = {given, *nickname_formals().get(given, ())}
    names = plausible_given_names()
    longest = 0
    for k in range(2, len(letters) + 1):
        if letters[:k] in names or letters[:k] in spellings:
            longest = k
    if not longest or letters[:longest] not in spellings:
        return None
    rest = letters[longest:]
    return rest if len(rest) >= 3 else None


def given_from_email(family: str, user: str) -> str | None:
    """The given name an email user name spells beside the record's own family name (lower case):
    'jayne.fry' or 'fry.jayne' with Fry is Jayne. Only a whole given name we know ('jfry' says
    nothing, nor does 'frysmith')."""
    letters = _NOT_LETTERS.sub("", user)
    if len(family) < 2 or letters == family or letters in plausible_given_names():  # 'leeann' is Leeann
        return None
    rest = letters[:-len(family)] if letters.endswith(family) else (
        letters[len(family):] if letters.startswith(family) else "")
    return rest if len(rest) >= 2 and rest in plausible_given_names() else None


def canonical_given(name: str | None) -> str | None:
    """Nickname mapped to its canonical form ('bob' -> 'robert'); other names returned unchanged."""
    if not name:
        return None
    return nickname_table().get(name, name)


@lru_cache(maxsize=1 << 16)  # a few thousand distinct given and family names make up a million full names
def proper_case(text: str) -> str:
    """'o'BRIEN-mcdonald' -> "O'Brien-McDonald"; particles such as 'van' stay lower-case inside a name."""
    words = []
    for i, word in enumerate(text.split(" ")):
        lw = word.lower()
        if i > 0 and lw in _PARTICLES:
            words.append(lw)
            continue
        words.append("-".join(_cap_piece(p) for p in lw.split("-")))
    return " ".join(words)


def _cap_piece(piece: str) -> str:
    if not piece:
        return piece
    if "'" in piece:
        return "'".join(_cap_piece(p) for p in piece.split("'"))
    if piece.startswith("mc") and len(piece) > 2:
        return "Mc" + piece[2:].capitalize()
    return piece.capitalize()


def _clean(text: str | None) -> str | None:
    if text is None or is_junk_text(text):
        return None
    stripped = text.strip()
    spelt = _SPELT_USER_NAME.match(stripped)
    if spelt:
        return f"{spelt.group(1)} {spelt.group(2)}"
    if _USER_NAME.match(stripped):
        return None
    if _NOTE_CHARS.search(text) or not _NOTE_WORDS.isdisjoint(text.lower().split()):
        text = _NOTES.sub(" ", text)
    text = _NOT_NAME.sub(" ", fold(text))
    text = _SPACES.sub(" ", text).strip(" ,.-'")
    return text or None


# legal forms and the like, as an organisation's name ends: 'ACME Corp', 'Smith & Sons Ltd'
ORGANISATION_ENDINGS = frozenset({
    "inc", "incorporated", "corp", "corporation", "llc", "llp", "ltd", "limited", "plc", "gmbh", "ag", "bv",
    "nv", "sarl", "srl", "spa", "pty", "company", "holdings", "associates", "partners", "group",
})


def organisation_name(full: str | None) -> str | None:
    """A whole-name box holding an organisation's name ('ACME Corp.', 'Smith & Sons Ltd') -> that
    name as written; None for a person's name."""
    text = _clean(full)
    return full.strip() if text is not None and _is_organisation(text) else None


def _is_organisation(text: str) -> bool:
    words = text.split()
    return len(words) >= 2 and words[-1].strip(".,'").lower() in ORGANISATION_ENDINGS


def _tokens(text: str) -> list[str]:
    if "." in text:
        text = _DOTTED_TITLES.sub(" ", text)
    toks = [t for t in _TOKEN_BREAKS.split(text) if t]  # split on dots too, so no token holds one
    while len(toks) > 1 and (toks[0].lower().strip("-") in _TITLES or _joins_titles(toks)):  # 'Dr.-Ing.'
        toks = toks[1:]
    while len(toks) > 1 and (toks[-1].lower() in _SUFFIXES or toks[-1].lower() in _COURTESY_TITLES):
        toks = toks[:-1]
    return toks


def _joins_titles(toks: list[str]) -> bool:
    """'and' between two titles of a joint account ('Mr and Mrs John Smith'; '&' is gone by now)."""
    return toks[0].lower() in _TITLE_JOINERS and len(toks) > 2 and toks[1].lower() in _TITLES


# Vietnamese names are written family, middle, given ('Nguyen Van An', 'Tran Thi Mai'); only family
# names no other language writes first ('Le', 'Ho', 'Mai', 'Lam' are left out) before a Vietnamese
# middle name are read so: 'Mai Van Dyke' keeps its order
_VIETNAMESE_FAMILIES = frozenset({"nguyen", "tran", "pham", "huynh", "hoang", "phan", "vu", "vo", "dang", "bui",
                                  "duong", "truong", "dinh", "trinh", "luu", "quach", "doan", "ngo"})
_VIETNAMESE_FAMILIES_CASED = frozenset(name.capitalize() for name in _VIETNAMESE_FAMILIES)  # as the names are shown
_VIETNAMESE_MIDDLES = frozenset({"van", "thi", "duc", "minh", "ngoc", "thanh", "quoc", "huu", "hong", "xuan", "cong",
                                 "tuan", "bao", "gia", "kim", "anh"})


def _vietnamese_order(tokens: list[str]) -> bool:
    return (3 <= len(tokens) <= 4 and tokens[0].lower() in _VIETNAMESE_FAMILIES
            and tokens[1].lower() in _VIETNAMESE_MIDDLES and tokens[-1].lower() not in _VIETNAMESE_FAMILIES)


def _vietnamese_given_boxes(given: pd.Series, family: pd.Series) -> pd.Series:
    """A given-name box holding the middle name too ('Van An' beside 'Nguyen') gives the given name
    alone, as the whole name 'Nguyen Van An' does; only records with a Vietnamese family name are read."""
    rows = family.isin(_VIETNAMESE_FAMILIES_CASED).to_numpy(dtype=bool) & given.notna().to_numpy(dtype=bool)
    if not rows.any():
        return given
    words = given[rows].str.split()
    middle_first = words.map(lambda w: len(w) >= 2 and w[0].lower() in _VIETNAMESE_MIDDLES).to_numpy(dtype=bool)
    out = given.copy()
    out.iloc[np.flatnonzero(rows)[middle_first]] = words[middle_first].str[-1].to_numpy()
    return out


def _looks_surname_first(raw_tokens: list[str]) -> bool:
    """'SMITH John' (upper-case first token), 'Smith John' (only the last token is a given name we
    know of: 'Carol Martin' and 'Thomas Martin' keep their order, Martin being a given name too) or
    'SMITH JOHN A' (a given name and an initial after a word that is no given name).
    A one-letter first token is an initial ('L. Thomas'), never a family name; initials after a word
    that is no given name follow a family name ('Smith J', 'SMITH J R'; 'John S' keeps its order)."""
    first, last = raw_tokens[0], raw_tokens[-1]
    if len(first) < 2:
        return False
    if first.isupper() and not last.isupper():
        return True
    given = plausible_given_names()
    if first.lower() in given:
        return False
    # 'SMITH JOHN A': a record system's 'last first middle-initial'; 'John A Smith' keeps its initial inside
    trailing_initial = len(raw_tokens) >= 3 and len(last) == 1 and raw_tokens[-2].lower() in given
    return (all(len(t) == 1 for t in raw_tokens[1:]) or (len(raw_tokens) == 2 and last.lower() in given)
            or trailing_initial)


def _split_family(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Split off the family name, keeping particles that precede it ('Anna van der Berg')."""
    cut = len(tokens) - 1
    while cut > 1 and tokens[cut - 1].lower() in _PARTICLES:
        cut -= 1
    return tokens[:cut], tokens[cut:]


def _split_family_first(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Split a surname-first name after its family name, particles included ('van der Berg Anna')."""
    cut = 1
    while cut < len(tokens) - 1 and tokens[cut - 1].lower() in _PARTICLES:
        cut += 1
    return tokens[:cut], tokens[cut:]


def _titled_surname(text: str) -> str | None:
    """'Mrs Smith', 'Dr. Jones': the one word after a title is a family name (None otherwise)."""
    m = _TITLED_SURNAME.fullmatch(text)
    return m.group(1) if m and m.group(1).lower() not in _SUFFIXES else None


def _household_surname(text: str) -> str | None:
    """'The Smith Family', 'Smith Household' -> 'Smith' ('Ann Family' is Ann's name)."""
    lowered = text.lower()
    if "family" not in lowered and "household" not in lowered:
        return None
    m = _HOUSEHOLD.fullmatch(text)
    return m.group(2) if m and (m.group(1) or m.group(2).lower() not in plausible_given_names()) else None


# where people carry two surnames (Spanish: father's then mother's; Portuguese: mother's then father's)
TWO_SURNAME_REGIONS = frozenset({
    "ES", "MX", "AR", "CO", "CL", "PE", "VE", "EC", "GT", "CU", "BO", "DO", "HN", "PY", "SV", "NI", "CR", "PA",
    "UY", "PR", "PT", "BR", "AO", "MZ",
})


def name_tokens(full: str) -> list[str]:
    """The words of a whole name without titles and suffixes ([] for junk and organisations)."""
    text = _clean(full)
    if text is None or _is_organisation(text):
        return []
    return _tokens(text.replace(",", " "))


def parse_full_name(full: str | None, two_surnames: bool = False,
                    surname_first: bool = False) -> tuple[str | None, str | None]:
    """Any written form of a whole name -> (given, family), proper-cased; (None, None) for junk and
    for an organisation's name ('ACME Corp', 'Smith & Sons Ltd'): no person's names to compare.
    `two_surnames` (a record from TWO_SURNAME_REGIONS): a middle word that is no given name we know is
    a first surname ('José García López' is José, García López), not a middle name to drop.
    `surname_first` (a silo that writes names that way, see conventions.py): a name without a comma is
    read surname first ('TODD ASHLEY' is Ashley Todd). A title before one word ('Mrs Smith') names
    the family."""
    text = _clean(full)
    if text is None or _is_organisation(text):
        return None, None
    titled = _titled_surname(text) or _household_surname(text)
    if titled:
        return None, _pc(titled)
    if "," in text:
        before, _, after = text.partition(",")
        after_toks = _tokens(after)
        if after_toks and not all(t.lower() in _SUFFIXES for t in after_toks):
            family = " ".join(_tokens(before)) or None
            if _vietnamese_order([family or "", *after_toks]):  # 'Nguyen, Van An': the given name is last
                return _pc(after_toks[-1]), _pc(family)
            return _pc(after_toks[0]), _pc(family)
        text = before
    toks = _tokens(text.replace(",", " "))
    if not toks:
        return None, None
    if len(toks) == 1:
        return _pc(toks[0]), None
    if _vietnamese_order(toks):  # 'Nguyen Van An' is An Nguyen (Van a middle name)
        return _pc(toks[-1]), _pc(toks[0])
    if _vietnamese_order([toks[-1], *toks[1:-1], toks[0]]):  # ... and so is 'An Van Nguyen'
        return _pc(toks[0]), _pc(toks[-1])
    if surname_first:
        family_toks, given_toks = _split_family_first(toks)
        return _pc(given_toks[0]), _pc(" ".join(family_toks))
    if _looks_surname_first(toks):
        family_toks, given_toks = _split_family_first(toks)
        return _pc(given_toks[0]), _pc(" ".join(family_toks))
    given_toks, family_toks = _split_family(toks)
    while two_surnames and len(given_toks) > 1 and _is_surname_word(given_toks[-1]):
        family_toks.insert(0, given_toks.pop())
    return _pc(given_toks[0]), _pc(" ".join(family_toks))


def _is_surname_word(token: str) -> bool:
    word = fold(token).lower().strip(".")
    return len(word) > 1 and word not in plausible_given_names() and word not in _PARTICLES


def _pc(text: str | None) -> str | None:
    return proper_case(text) if text else None


def clean_given(given: str | None) -> str | None:
    """A given-name field: titles dropped, initials kept as one letter, proper-cased. A middle initial
    after a name is dropped ('John Q.' is John, as the whole-name parser reads 'John Q. Smith')."""
    text = _clean(given)
    if text is None:
        return None
    toks = _tokens(text)
    if len(toks) == 2 and len(toks[0]) > 1 and len(toks[1]) == 1:
        toks = toks[:1]
    return _pc(" ".join(toks)) if toks else None


def clean_family(family: str | None) -> str | None:
    """A family-name field: suffixes dropped, proper-cased."""
    text = _clean(family)
    if text is None:
        return None
    toks = _tokens(text)
    return _pc(" ".join(toks)) if toks else None


def _holds_family_name(given: str) -> bool:
    words = given.split()
    return len(words) >= 2 and len(words[-1]) > 1 and words[-1].lower() not in plausible_given_names()


def standardise_names(given: pd.Series, family: pd.Series, full: pd.Series,
                      regions: pd.Series | None = None, surname_first: np.ndarray | None = None) -> pd.DataFrame:
    """Columns given_name, family_name, full_name (display forms) from whatever parts a silo had.

    The parts win when present; `full_name` is parsed only for records whose parts are both missing.
    A family field holding 'LAST, First' with no given name is parsed as a whole name. `regions`
    (each record's country, else the default region): whole names from TWO_SURNAME_REGIONS keep a
    first surname written before the last. `surname_first` (per record: its silo writes names that way,
    conventions.py) reads whole names without a comma surname first (see parse_full_name).
    Names are read with accents folded and shown with those the record wrote (`text.with_accents_of`).
    """
    from identity_resolution.text import map_distinct

    g = map_distinct(given, clean_given)
    f = map_distinct(family, clean_family)
    need_parse = g.isna() & f.isna() & full.notna()
    comma_family = g.isna() & family.notna() & family.astype("object").astype(str).str.contains(",", regex=False)
    parse_src = full.where(need_parse, None)
    parse_src = parse_src.where(~comma_family, family)
    # a whole name typed into the given-name box of a form whose family box is empty ('John Smith'),
    # unless it is a double given name ('Mary Ann': the last word is a given name too)
    comma_given = given.notna() & given.astype("object").astype(str).str.contains(",", regex=False)
    whole_in_given = f.isna() & ~comma_family & (comma_given | map_distinct(g, _holds_family_name).eq(True))
    parse_src = parse_src.where(~whole_in_given, given)
    two = regions.isin(TWO_SURNAME_REGIONS).to_numpy() if regions is not None else np.zeros(len(full), dtype=bool)
    backwards = np.zeros(len(full), dtype=bool) if surname_first is None else np.asarray(surname_first, dtype=bool)
    parsed = pd.Series(None, index=full.index, dtype="object")
    for two_surnames, reversed_order in itertools.product((False, True), repeat=2):
        rows = (two == two_surnames) & (backwards == reversed_order)
        if rows.any():
            reader = partial(parse_full_name, two_surnames=two_surnames, surname_first=reversed_order)
            parsed[rows] = map_distinct(parse_src.where(rows, None), reader)[rows]
    has = parsed.notna()
    if has.any():
        g = g.copy()
        f = f.copy()
        g[has] = parsed[has].str[0]
        f[has] = parsed[has].str[1]
    g = _vietnamese_given_boxes(g, f)
    # shown with the accents the record wrote ('José García'); parsed and matched without them
    g, f = accents_restored([g, f], given, family, full)
    full_out = (g.fillna("") + " " + f.fillna("")).str.strip()
    full_out = full_out.where(full_out != "", None)
    placeholder = map_distinct(full_out, is_placeholder_name).eq(True)
    if placeholder.any():  # 'Guest', 'Cash Customer', 'Test Test', 'John Doe': no person to match
        g, f, full_out = (col.where(~placeholder, None) for col in (g, f, full_out))
    return pd.DataFrame({"given_name": g, "family_name": f, "full_name": full_out}, index=given.index)


# words a till or a form puts where no customer's name is known ('Walk-In Customer', 'Guest User')
_PLACEHOLDER_WORDS = frozenset({
    "guest", "customer", "client", "walk", "in", "walkin", "cash", "sale", "sales", "counter", "test", "unknown",
    "anonymous", "user", "valued", "occupant", "resident", "current", "tbd", "tba", "na", "n/a", "none", "null",
    "no", "name", "noname", "x", "xx", "xxx", "dummy", "sample", "default", "account", "household", "shopper",
})
_PLACEHOLDER_NAMES = frozenset({"john doe", "jane doe", "john smith test", "first last", "firstname lastname"})


def is_placeholder_name(full: str) -> bool:
    """A display name made only of placeholder words, or a stock placeholder name: counts as no name.
    Checked on the whole name, so a real person called Guest keeps his name ('Christopher Guest')."""
    text = full.lower()
    return text in _PLACEHOLDER_NAMES or all(w in _PLACEHOLDER_WORDS for w in _PLACEHOLDER_BREAKS.split(text) if w)

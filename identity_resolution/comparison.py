"""Per-field comparison levels for candidate pairs, scored in bulk with rapidfuzz.

Each field's values are factorised; every distinct (left value, right value) pair is scored once
with `process.cpdist(..., workers=-1)` and the scores broadcast back to the pairs. Level -1 means
"missing on either side" (no evidence); 0 is the worst agreement; higher is closer.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein, Prefix

from identity_resolution import parallel
from identity_resolution.emails import is_mail_provider
from identity_resolution.features import COMPANY_FILLER_WORDS
from identity_resolution.names import nickname_formals, nickname_related, plausible_given_names
from identity_resolution.text import map_distinct

MISSING = -1
_TEXT = np.dtypes.StringDType()  # variable-width strings for numpy's string functions (no fixed-width copies)
_UNIT = r"\b(?:apt|ste|rm|fl)\s+(\w[\w-]*)"  # the flat or suite of a normalised street line


@dataclass(frozen=True)
class FieldSpec:
    name: str
    levels: tuple[str, ...]  # index = level number, worst first
    tf_column: str | None = None  # feature whose term frequency adjusts the top ("exact") level


FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("given_name", ("different", "initial", "jaro_winkler>=0.85", "nickname_or_jw>=0.92", "exact"), "given"),
    FieldSpec("family_name", ("different", "jaro_winkler>=0.85", "jaro_winkler>=0.92", "exact"), "family"),
    FieldSpec("birth_date", ("different", "two_edits", "one_edit_or_day_month_swap", "exact")),
    FieldSpec("national_id", ("different", "last4_one_edit", "last4_equal", "exact")),
    FieldSpec("email", ("different", "same_domain_user_one_edit", "same_user", "exact")),
    FieldSpec("phone", ("different", "one_edit", "exact")),
    FieldSpec("address", ("different", "token_set>=75", "token_set>=90", "exact")),
    FieldSpec("postcode", ("different", "one_edit", "exact"), "postcode"),
    FieldSpec("city", ("different", "jaro_winkler>=0.88", "exact"), "city"),
    FieldSpec("family_in_email", ("absent", "initial_after_given", "contained"), "family"),
    FieldSpec("company", ("different", "token_set>=90", "exact"), "company_key"),
    FieldSpec("area", ("different", "exact"), "area"),
    FieldSpec("generation", ("different", "same")),
    FieldSpec("email_birth_year", ("different", "same")),
)
FIELD_NAMES = tuple(f.name for f in FIELDS)
_ALIKE = 3  # given_name level: nickname or alike spelling
_FAMILY_CLOSE = 2  # family_name level: jaro_winkler>=0.92
_FAMILY_EXACT = 3
_UMLAUT_E = re.compile(r"(?<=[aou])e")  # German ä ö ü written out as ae oe ue
_GIVEN_EXACT = 4
_INITIAL = 1
_EMAIL_EXACT = next(len(f.levels) - 1 for f in FIELDS if f.name == "email")
_COMPANY_EXACT = next(len(f.levels) - 1 for f in FIELDS if f.name == "company")


def _codes(*columns: pd.Series) -> tuple[list[np.ndarray], np.ndarray]:
    """Shared integer codes for one or more columns (-1 for None) and the distinct values."""
    stacked = pd.concat([c.reset_index(drop=True) for c in columns], ignore_index=True)
    codes, uniques = pd.factorize(stacked)
    codes = codes.astype(np.int32)  # indexed by 10M+ pairs at a time: half the memory of intp
    n = len(columns[0])
    return [codes[i * n:(i + 1) * n] for i in range(len(columns))], np.asarray(uniques, dtype=object)


class RecordCodes:
    """A feature frame with the integer codes of the columns the comparison reads, each computed
    once: over a million records they cost a second or two per comparison, and the resolver compares
    one frame three times (candidate pairs, random pairs for u, the cluster closure's pairs). The
    frame must not change while its codes are reused."""

    def __init__(self, features: pd.DataFrame):
        self.frame = features
        self._done: dict = {}

    def codes(self, *columns: str, derive: Callable[[pd.DataFrame], pd.Series] | None = None):
        """`_codes` of these columns together, or of the one series `derive(frame)` gives."""
        return self.memo((columns, derive), lambda: _codes(derive(self.frame)) if derive
                         else _codes(*(self.frame[c] for c in columns)))

    def memo(self, key, make: Callable[[], object]):
        """make() the first time `key` is asked for, the same object after."""
        if key not in self._done:
            self._done[key] = make()
        return self._done[key]


def pair_scores(cl: np.ndarray, cr: np.ndarray, uniques: np.ndarray, scorer, symmetric: bool = True,
                wanted: np.ndarray | None = None, **kwargs) -> np.ndarray:
    """Score each distinct value pair once; NaN where either code is -1 (or the pair is not `wanted`:
    callers skip pairs whose score could not change their level)."""
    out = np.full(len(cl), np.nan, dtype=np.float32)  # float32: millions of pairs, scores need no more
    both = (cl >= 0) & (cr >= 0)
    if wanted is not None:
        both &= wanted
    # equal values (often most candidate pairs) are scored once per value, without hashing pairs
    same = both & (cl == cr)
    if same.any():
        out[same] = _self_scores(cl[same], uniques, scorer, **kwargs)
    both &= ~same
    if not both.any():
        return out
    a, b = cl[both], cr[both]
    if symmetric:
        a, b = np.minimum(a, b), np.maximum(a, b)
    inverse, keys = _distinct_pairs(a, b, len(uniques))
    width = np.int64(len(uniques))
    left_vals, right_vals = uniques[keys // width], uniques[keys % width]
    scores = process.cpdist(list(left_vals), list(right_vals), scorer=scorer, workers=-1, **kwargs)
    out[both] = np.asarray(scores, dtype=np.float32)[inverse]
    return out


def _self_scores(codes: np.ndarray, uniques: np.ndarray, scorer, **kwargs) -> np.ndarray:
    """scorer(v, v) for each code's value, each distinct value scored once."""
    present = np.zeros(len(uniques), dtype=bool)
    present[codes] = True
    values = np.flatnonzero(present)
    table = np.zeros(len(uniques), dtype=np.float32)
    scores = process.cpdist(list(uniques[values]), list(uniques[values]), scorer=scorer, workers=-1, **kwargs)
    table[values] = np.asarray(scores, dtype=np.float32)
    return table[codes]


_DENSE_PAIRS = 1 << 24  # up to this many possible value pairs, a lookup table beats hashing


def _distinct_pairs(a: np.ndarray, b: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(index of each pair's key in keys, the distinct keys a * width + b) for codes a >= 0 and
    0 <= b < width (a may index another value list than b)."""
    key = a.astype(np.int64) * np.int64(width) + b
    size = int(key.max()) + 1 if len(key) else 0
    if size > _DENSE_PAIRS:
        return pd.factorize(key)  # hashing, not sorting: millions of pairs
    keys = np.flatnonzero(np.bincount(key, minlength=size))
    lookup = np.empty(size, dtype=np.int32)
    lookup[keys] = np.arange(len(keys), dtype=np.int32)
    return lookup[key], keys


def _equal(cl: np.ndarray, cr: np.ndarray) -> np.ndarray:
    return (cl >= 0) & (cl == cr)


def _levels(missing: np.ndarray, conditions: list[np.ndarray]) -> np.ndarray:
    """conditions[k] true -> level k+1 (later conditions win); else 0; missing -> -1."""
    level = np.zeros(len(missing), dtype=np.int8)
    for k, cond in enumerate(conditions, start=1):
        level[cond] = k
    level[missing] = MISSING
    return level


def compare_names(rc: RecordCodes, left: np.ndarray, right: np.ndarray,
                  name_counts: Mapping[str, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Given- and family-name levels, comparing the right record's names swapped when that fits much better.
    `name_counts` (given name -> records, the model's term-frequency table) tells two established names
    apart however alike they are spelt, and a short name's slip from a common one (see `_distinct_names`,
    `_slip_of_common_name`)."""
    (g, fam, canon), uniq = rc.codes("given", "family", "given_canon")
    gl, gr, fl, fr = g[left], g[right], fam[left], fam[right]
    jw = JaroWinkler.normalized_similarity
    s_gg, s_ff = pair_scores(gl, gr, uniq, jw), pair_scores(fl, fr, uniq, jw)
    straight = np.nan_to_num(s_gg) + np.nan_to_num(s_ff)
    # crossed scores sum to at most 2, so only a straight sum below 1.7 can be beaten by 0.3
    poor = straight < 1.7
    s_gf, s_fg = pair_scores(gl, fr, uniq, jw, wanted=poor), pair_scores(fl, gr, uniq, jw, wanted=poor)
    crossed = np.nan_to_num(s_gf) + np.nan_to_num(s_fg)
    # ... and a crossed pair must itself be alike: 'Richard' is not the family name of 'D. Caldwell'
    swap = (crossed > straight + 0.3) & (np.fmax(np.nan_to_num(s_gf), np.nan_to_num(s_fg)) >= 0.85)
    # a lone name that equals the other record's surname is as likely a first name that happens to
    # be a surname too (Douglas, Scott, James): less than a surname agreement (see below)
    lone = swap & ~((gl >= 0) & (gr >= 0) & (fl >= 0) & (fr >= 0))
    # Swapped, with all four names: of the two crossed pairs the closer one is the family name. When
    # only one crossed pair agrees ('George Kevin' filed swapped against his wife 'Brenda George'),
    # that agreement is a shared surname, not a shared given name.
    flip = swap & ~lone & (np.nan_to_num(s_gf) > np.nan_to_num(s_fg))
    ga, fa = np.where(flip, fl, gl), np.where(flip, gl, fl)
    gb, fb = np.where(swap, np.where(flip, gr, fr), gr), np.where(swap, np.where(flip, fr, gr), fr)
    s_given = np.where(swap, np.where(flip, s_fg, s_gf), s_gg)
    s_family = np.where(swap, np.where(flip, s_gf, s_fg), s_ff)

    canon_l, canon_r = np.where(swap, -1, canon[left]), np.where(swap, -1, canon[right])
    same_canon = _equal(canon[left], canon_r)
    not_close = (s_given < 0.92) & ~same_canon
    nickname = _nicknames(ga, gb, uniq, not_close) | _shortened_or_slip(ga, gb, uniq, not_close)
    # a slip in the formal name behind the other's nickname ('Josjua' against 'Josh')
    nickname |= _shortened_or_slip(ga, canon_r, uniq, not_close & ~nickname, cut_short=False)
    nickname |= _shortened_or_slip(canon_l, gb, uniq, not_close & ~nickname, cut_short=False)
    nickname |= _slip_of_common_name(ga, gb, uniq, not_close & ~nickname, name_counts)
    # an initial against a name with that first letter, in whichever box the right record has it
    # ('S Bernard' typed as 'Bernard S' against 'Seth Bernard')
    first = rc.memo("first_letters_of_names", lambda: _first_letters(uniq))
    single = np.array([len(v) == 1 for v in uniq.tolist()], dtype=bool)
    both = (ga >= 0) & (gb >= 0)
    initial_match = np.zeros(len(left), dtype=bool)
    initial_match[both] = _initial_against_name(ga[both], gb[both], single, first)
    given_missing = (ga < 0) | (gb < 0)
    alike = (s_given >= 0.92) | nickname
    alike &= ~_distinct_names(ga, gb, uniq, alike & ~same_canon, name_counts)
    given = _levels(given_missing, [
        initial_match,
        s_given >= 0.85,
        alike | same_canon,
        _equal(ga, gb),
    ])
    # a given name the other record's email spells out is the same name, mistyped in one box
    (rest,), rests = rc.codes(derive=_user_without_own_family)
    spell = _Spellings(uniq)
    named = _given_in_other_email(rest, rests, spell, left, right, ga, gb, uniq, (given >= 0) & (given < _ALIKE))
    given = np.where(named, np.int8(_ALIKE), given)
    # a record without a given name whose email spells the other's is as good as the name box; one
    # whose email puts another given name (or initial) before the other's family name is someone else
    spelt = _given_as_email_word(rest, rests, spell, left, right, g, fam, uniq, given == MISSING)
    given = np.where(spelt, np.int8(_GIVEN_EXACT), given)
    read = _given_before_family_in_email(rc, left, right, g, fam, uniq, given == MISSING, name_counts)
    given = np.where(read != MISSING, read, given)
    family_missing = (fa < 0) | (fb < 0)
    family = _levels(family_missing, [s_family >= 0.85, s_family >= 0.92, _equal(fa, fb) & ~lone])
    # one family name among the words of the other's ('Smith' and 'Smith-Jones', 'García' and 'García
    # López', 'Beethoven' and 'van Beethoven'): written in full in one department, shortened in another
    among = _family_among_parts(rc, left, right, fa, fb, uniq, ~swap & (family >= 0) & (family < _FAMILY_CLOSE))
    family = np.where(among, np.int8(_FAMILY_CLOSE), family)
    # a written-out umlaut is always close by Jaro-Winkler: only close pairs are tested
    umlaut = _distinct_pair_test(fa, fb, uniq, ~lone & (family >= 1) & (family < _FAMILY_EXACT), _umlaut_written_out)
    family = np.where(umlaut, np.int8(_FAMILY_EXACT), family)
    return given, family


def _umlaut_written_out(a: str, b: str) -> bool:
    """'mueller' and 'muller' (Müller with its umlaut written out, and folded away): one name. An 'e'
    after a, o or u is dropped from both before they are compared."""
    return _UMLAUT_E.sub("", a) == _UMLAUT_E.sub("", b)


def _family_among_parts(rc: RecordCodes, left: np.ndarray, right: np.ndarray, fa: np.ndarray, fb: np.ndarray,
                        uniq: np.ndarray, asked: np.ndarray) -> np.ndarray:
    """Pairs where one record's family name (codes fa, fb into uniq; three letters or more) is one of
    the words of the other record's family name of several words (feature `family_parts`)."""
    out = np.zeros(len(left), dtype=bool)
    if "family_parts" not in rc.frame.columns or not asked.any():
        return out
    (words,), parts = rc.codes("family_parts")
    width = np.int64(len(parts))
    for name, other in ((fa, words[right]), (fb, words[left])):
        ask = asked & (name >= 0) & (other >= 0)
        if not ask.any():
            continue
        inverse, distinct = _distinct_pairs(name[ask], other[ask], width)
        hit = np.array([len(uniq[k // width]) >= 3 and uniq[k // width] in parts[k % width].split()
                        for k in distinct.tolist()], dtype=bool)
        out[np.flatnonzero(ask)[hit[inverse]]] = True
    return out


def _initial_against_name(a: np.ndarray, b: np.ndarray, single: np.ndarray, first: np.ndarray) -> np.ndarray:
    """One of the two names is a lone letter and the other begins with it (codes a, b)."""
    return (single[a] | single[b]) & (first[a] == first[b])


def _first_letters(values) -> np.ndarray:
    """Code point of each value's first letter, 0 for an empty value: compared as integers, not strings."""
    return np.array([ord(v[0]) if v else 0 for v in list(values)], dtype=np.int32)


class _Spellings:
    """Each name value and the formal names behind it (3+ letters), flattened: spelling j of value
    code c is flat[start[c] + j] for j < count[c]."""

    def __init__(self, uniq: np.ndarray):
        table = nickname_formals()
        spellings = [[s for s in (v, *sorted(table.get(v, ()))) if len(s) >= 3] for v in uniq.tolist()]
        self.count = np.array([len(v) for v in spellings], dtype=np.int64)
        self.start = np.concatenate([[0], np.cumsum(self.count)[:-1]]).astype(np.int64)
        flat = [s for v in spellings for s in v]
        self.flat = np.array(flat, dtype=object).astype(_TEXT)
        self.initial = _first_letters(flat)

    def expand(self, names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, spelling) for every spelling of every name code in `names`: row indexes `names`,
        spelling indexes `flat`."""
        count = self.count[names]
        row = np.repeat(np.arange(len(names)), count)
        nth = np.arange(len(row)) - np.repeat(np.cumsum(count) - count, count)
        return row, self.start[names[row]] + nth


def _given_in_other_email(rest: np.ndarray, rests: np.ndarray, spell: _Spellings, left: np.ndarray,
                          right: np.ndarray, ga: np.ndarray, gb: np.ndarray, uniq: np.ndarray,
                          asked: np.ndarray) -> np.ndarray:
    """Does either record's email user name spell out the other record's given name (3+ letters, or
    the formal name behind it) at the start of a word? 'Jenoy Lucas' with jennifer.lucas@ against
    'Jennifer Lucas': a typo in the name box. Her husband John's name is not in mary.smith@, and the
    user's own family name is taken out first, so 'brittany.williams' does not name William. The
    name box must begin like the name found, as a slip would ('Kle' for Kyle): a 'John' filed with
    his wife's mary.smith@ has his own name, not a misspelt Mary."""
    initial = _first_letters(uniq)
    width = np.int64(len(rests))
    found = np.zeros(len(left), dtype=bool)
    for name, other, box in ((ga, rest[right], gb), (gb, rest[left], ga)):
        ask = asked & (name >= 0) & (other >= 0) & (box >= 0)
        if not ask.any():
            continue
        # each distinct (name, user name) once, each of the name's spellings tested in one bulk call
        inverse, keys = _distinct_pairs(name[ask], other[ask], width)
        names, users = keys // width, keys % width
        combo, spelling = spell.expand(names)
        hits = _at_word_start(rests[users[combo]].astype(_TEXT), spell.flat[spelling])
        spelt_initial = np.zeros(len(keys), dtype=np.int32)  # first letter of the spelling found
        spelt_initial[combo[hits]] = spell.initial[spelling[hits]]
        found[ask] |= spelt_initial[inverse] == initial[box[ask]]
    return found


def _distinct_triples(name: np.ndarray, family: np.ndarray, user: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    """The distinct (name, family, user) code triples (first-seen order) and each row's index into them."""
    combos = pd.DataFrame({"name": name, "family": family, "user": user})
    return combos.groupby(["name", "family", "user"], sort=False).ngroup().to_numpy(), combos.drop_duplicates()


_WORD_BREAK = str.maketrans({c: "." for c in "0123456789_-+"})


def _given_as_email_word(rest: np.ndarray, rests: np.ndarray, spell: _Spellings, left: np.ndarray,
                         right: np.ndarray, g: np.ndarray, fam: np.ndarray, uniq: np.ndarray,
                         asked: np.ndarray) -> np.ndarray:
    """Where one record has no given name: does its email user name hold the other's given name (or
    the formal name behind it) as a whole word, i.e. followed by a separator, a digit, the end or the
    other's family name? 'micheletaylor1966' names Michele Taylor and 'tara.parrish' Tara; 'annabelle'
    does not name Ann, nor 'dhamilton' Deborah."""
    found = np.zeros(len(left), dtype=bool)
    for name, family, other in ((g[left], fam[left], rest[right]), (g[right], fam[right], rest[left])):
        ask = asked & (name >= 0) & (other >= 0)
        if not ask.any():
            continue
        inverse, distinct = _distinct_triples(name[ask], family[ask], other[ask])
        # users as '.word.word.' so that a whole word is '.name.' (digits and separators are breaks)
        users = np.strings.add(np.strings.add(".", np.strings.translate(
            rests[distinct["user"].to_numpy()].astype(_TEXT), _WORD_BREAK)), ".")
        fams = np.append(uniq, "\x00").astype(_TEXT)[distinct["family"].to_numpy()]  # -1: never found
        combo, spelling = spell.expand(distinct["name"].to_numpy())
        word, held = np.strings.add(".", spell.flat[spelling]), users[combo]
        hits = (np.strings.find(held, np.strings.add(word, ".")) >= 0) | (np.strings.find(held, np.strings.add(word, fams[combo])) >= 0)
        found[ask] |= (np.bincount(combo[hits], minlength=len(distinct)) > 0)[inverse]
    return found


_NOT_LETTERS = str.maketrans("", "", "0123456789._-+'")


def _given_before_family_in_email(rc: RecordCodes, left: np.ndarray, right: np.ndarray, g: np.ndarray,
                                  fam: np.ndarray, uniq: np.ndarray, asked: np.ndarray,
                                  name_counts: Mapping[str, int] | None) -> np.ndarray:
    """Given-name level read from the email of a record without a given name, where its user name
    holds the other record's family name: the letters before it (or, with none, after it) are the
    given name or initial ('kennethibarra' against 'Ashley Ibarra' is Kenneth, a different person;
    'jmaxwell' against 'John Maxwell' agrees on the initial). MISSING where the letters are no name
    we know (a given name of the nickname table, the name lists, or one seen 5+ times in the data)."""
    (usr,), users = rc.codes(derive=_letters_of_users)
    known = plausible_given_names() | {n for n, c in (name_counts or {}).items() if c >= ESTABLISHED_MIN_RECORDS}
    out = np.full(len(left), MISSING, dtype=np.int8)
    for name, family, other in ((g[left], fam[left], usr[right]), (g[right], fam[right], usr[left])):
        ask = asked & (name >= 0) & (family >= 0) & (other >= 0)
        if not ask.any():
            continue
        inverse, distinct = _distinct_triples(name[ask], family[ask], other[ask])
        # only a user name holding the family name can say anything: found in bulk, read one by one
        held = np.strings.find(users[distinct["user"].to_numpy()].astype(_TEXT),
                               uniq[distinct["family"].to_numpy()].astype(_TEXT)) >= 0
        levels = np.full(len(distinct), MISSING, dtype=np.int8)
        levels[held] = [_email_given_level(uniq[a], uniq[b], users[c], known)
                        for a, b, c in distinct[held].itertuples(index=False)]
        out[ask] = np.maximum(out[ask], levels[inverse])
    return out


def _letters_of_users(f: pd.DataFrame) -> pd.Series:
    """Each record's email user name in letters (None for none), each distinct user name translated once."""
    codes, values = pd.factorize(f["email_user"])
    letters = np.array([None] + [u.translate(_NOT_LETTERS) or None for u in list(values)], dtype=object)
    return pd.Series(letters[codes + 1])


def _email_given_level(given: str, family: str, user: str, known: frozenset[str]) -> int:
    at = user.find(family) if len(family) >= 3 else -1
    if at < 0:
        return MISSING
    word = user[:at] or user[at + len(family):]
    if not word:
        return MISSING
    if len(word) == 1 or len(given) == 1:  # an initial on either side
        return _INITIAL if word[0] == given[0] else 0
    if word == given:
        return _GIVEN_EXACT
    if nickname_related(word, given) or JaroWinkler.normalized_similarity(word, given) >= 0.92:
        return _ALIKE
    return 0 if word in known else MISSING


def _user_without_own_family(f: pd.DataFrame) -> pd.Series:
    """Each record's email user name with its own family name taken out ('brittany.williams' ->
    'brittany.'), so that a given name inside the family name ('william') is not found."""
    has = f["email_user"].notna().to_numpy()
    out = np.full(len(f), None, dtype=object)
    if not has.any():
        return pd.Series(out)
    user = f["email_user"].astype(object).to_numpy()[has].astype(_TEXT)
    family = f["family"].astype(object).to_numpy()[has]
    family = np.where(pd.isna(family), "\x00", family).astype(_TEXT)
    out[has] = np.strings.replace(user, family, "").astype(object)
    return pd.Series(out)


def _at_word_start(users: np.ndarray, names: np.ndarray) -> np.ndarray:
    found = np.strings.startswith(users, names)
    for separator in (".", "_", "-"):
        found |= np.strings.find(users, np.strings.add(separator, names)) >= 0
    return found


ESTABLISHED_MIN_RECORDS = 5  # a given name seen this often is a name in its own right, not a slip
ESTABLISHED_MIN_RATIO = 0.05  # ... unless it is this much rarer than the name it resembles


def _distinct_names(cl: np.ndarray, cr: np.ndarray, uniques: np.ndarray, asked: np.ndarray,
                    name_counts: Mapping[str, int] | None) -> np.ndarray:
    """Pairs of two different given names that are both established in the data and not related
    through the nickname table: Michael/Michelle, Daniel/Danielle, Stephen/Stephanie. Spelling scores
    call them alike, yet they are different names (often of a husband and wife, or siblings).

    A typo makes a rare value: 'Michale' is seen a handful of times beside thousands of 'Michael'.
    Two values each seen `ESTABLISHED_MIN_RECORDS`+ times, the rarer at least `ESTABLISHED_MIN_RATIO` as
    often as the other, are two names. Small data sets (no name that frequent) keep spelling scores."""
    ask = asked & (cl >= 0) & (cr >= 0) & (cl != cr)
    if not name_counts or not ask.any():
        return np.zeros(len(cl), dtype=bool)
    lo, hi = _rarer_and_commoner(cl[ask], cr[ask], uniques, name_counts)
    ask[ask] = (lo >= ESTABLISHED_MIN_RECORDS) & (lo >= ESTABLISHED_MIN_RATIO * hi)
    return ask & ~_distinct_pair_test(cl, cr, uniques, ask, nickname_related)


def _slip_of_common_name(cl: np.ndarray, cr: np.ndarray, uniques: np.ndarray, asked: np.ndarray,
                         name_counts: Mapping[str, int] | None) -> np.ndarray:
    """A short given name (two to four letters) one slip from an established name, itself not
    established ('Efik' beside 'Erik', 'Gaey' beside 'Gary', 'Am' beside 'Pam'): a typo, though a slip
    in so short a name is not trusted on spelling alone (Mary/Mark, both established, stay two names)."""
    ask = asked & (cl >= 0) & (cr >= 0) & (cl != cr)
    if not name_counts or not ask.any():
        return np.zeros(len(cl), dtype=bool)
    lo, hi = _rarer_and_commoner(cl[ask], cr[ask], uniques, name_counts)
    length = np.fromiter((len(v) for v in uniques.tolist()), dtype=np.int32, count=len(uniques))
    rare = (lo < ESTABLISHED_MIN_RECORDS) | (lo < ESTABLISHED_MIN_RATIO * hi)  # not a name in its own right
    ask[ask] = (hi >= ESTABLISHED_MIN_RECORDS) & rare & (np.minimum(length[cl[ask]], length[cr[ask]]) >= 2)
    edits = pair_scores(cl, cr, uniques, OSA.distance, wanted=ask, score_cutoff=1)
    return ask & (edits <= 1)


def _rarer_and_commoner(cl: np.ndarray, cr: np.ndarray, uniques: np.ndarray,
                        name_counts: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Records holding the rarer and the commoner value of each pair (1 for a value seen once)."""
    counts = np.fromiter((name_counts.get(v, 1) for v in uniques.tolist()), dtype=np.float64, count=len(uniques))
    return np.minimum(counts[cl], counts[cr]), np.maximum(counts[cl], counts[cr])


def _nicknames(cl: np.ndarray, cr: np.ndarray, uniques: np.ndarray, asked: np.ndarray) -> np.ndarray:
    """Given names related through the nickname table (each distinct pair looked up once), for the
    pairs `asked` about in which a nickname takes part (two different formal names never are)."""
    in_table = np.fromiter((v in nickname_formals() for v in uniques.tolist()), dtype=bool, count=len(uniques))
    asked = asked & (cl >= 0) & (cr >= 0)
    asked[asked] = in_table[cl[asked]] | in_table[cr[asked]]
    return _distinct_pair_test(cl, cr, uniques, asked, nickname_related)


def _shortened_or_slip(cl: np.ndarray, cr: np.ndarray, uniques: np.ndarray, asked: np.ndarray,
                       cut_short: bool = True) -> np.ndarray:
    """Of the `asked` pairs, given names where one is the other cut short or one slip apart, scored
    in bulk (rapidfuzz, each distinct value pair once).

    Cut short ('Ash' Ashley, 'Jon' Jonathan, 'Barb' Barbara): three or more letters kept (two say too
    little) and two or more dropped (one more letter is as often another name: Paul/Paula). Not every
    short form is in the nickname table, and Jaro–Winkler scores a long cut below the nickname level.
    One slip: two names of five or more letters one typo apart ('Catherine' 'Carherine'); Jaro–Winkler
    scores a slip near the start below the nickname level, though it is the same name."""
    asked = asked & (cl >= 0) & (cr >= 0)
    if not asked.any():
        return asked
    edits = pair_scores(cl, cr, uniques, OSA.distance, wanted=asked, score_cutoff=1)
    length = np.fromiter((len(v) for v in uniques.tolist()), dtype=np.int32, count=len(uniques))
    la, lb = length[np.maximum(cl, 0)], length[np.maximum(cr, 0)]
    short, long = np.minimum(la, lb), np.maximum(la, lb)
    slip = (short >= 5) & (edits <= 1)
    if not cut_short:
        return asked & slip
    prefix = pair_scores(cl, cr, uniques, Prefix.similarity, wanted=asked)
    return asked & (((short >= 3) & (long - short >= 2) & (prefix == short)) | slip)


def _distinct_pair_test(cl: np.ndarray, cr: np.ndarray, uniques: np.ndarray, asked: np.ndarray, test) -> np.ndarray:
    """test(left value, right value) for the `asked` pairs, run once per distinct value pair."""
    asked = asked & (cl >= 0) & (cr >= 0)
    out = np.zeros(len(cl), dtype=bool)
    if asked.any():
        width = np.int64(len(uniques))
        inverse, keys = _distinct_pairs(cl[asked], cr[asked], width)
        hits = np.fromiter((test(uniques[k // width], uniques[k % width]) for k in keys.tolist()),
                           dtype=bool, count=len(keys))
        out[asked] = hits[inverse]
    return out


def compare_birth_dates(rc: RecordCodes, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    (c,), uniq = rc.codes("dob")
    cl, cr = c[left], c[right]
    dist = pair_scores(cl, cr, uniq, Levenshtein.distance)
    swapped_code = rc.memo("dob_swapped", lambda: _day_month_swapped_codes(rc.frame, uniq))
    dm_swap = (cl >= 0) & (swapped_code[left] == cr) & (cl != cr)
    return _levels((cl < 0) | (cr < 0), [dist <= 2, (dist <= 1) | dm_swap, _equal(cl, cr)])


def _day_month_swapped_codes(f: pd.DataFrame, uniq: np.ndarray) -> np.ndarray:
    """Each record's birth date with day and month swapped, as a code among `uniq` (-1: none has it)."""
    dob = f["dob"].astype("string")
    ymd = dob.str[:4].fillna("") + dob.str[6:8].fillna("") + dob.str[4:6].fillna("")
    return pd.Series(ymd.to_numpy()).map(pd.Series(np.arange(len(uniq)), index=uniq)).fillna(-1).to_numpy(np.int64)


def compare_national_ids(rc: RecordCodes, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    (h,), _ = rc.codes("nid_hash")
    (l4,), uniq = rc.codes("nid_last4")
    hl, hr, ll, lr = h[left], h[right], l4[left], l4[right]
    dist = pair_scores(ll, lr, uniq, OSA.distance)  # two digits swapped is one slip, the commonest keying error
    return _levels((ll < 0) | (lr < 0), [dist <= 1, _equal(ll, lr), _equal(hl, hr)])


def compare_emails(rc: RecordCodes, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Exact key; the same personal user name at another provider; a one-letter slip in the user
    name at the same provider. User names built from a person's name ('john.smith') are shared by
    namesakes, so the two partial levels need three or more digits that agree ('jsmith1984'), and fuzzy scores over
    whole addresses are not used at all ('john.smith@' and 'joan.smith@' are different people)."""
    (e,), _ = rc.codes("email_key")
    (u,), uniq_u = rc.codes("email_user")
    (d,), _ = rc.codes("email_domain")
    (digits,), _ = rc.codes("email_digits")
    el, er = e[left], e[right]
    long_digits = rc.memo("email_digits>=3", lambda: rc.frame["email_digits"].str.len().ge(3).to_numpy())
    personal = _equal(digits[left], digits[right]) & long_digits[left]
    same_domain = _equal(d[left], d[right])
    user_dist = pair_scores(u[left], u[right], uniq_u, Levenshtein.distance, wanted=same_domain & personal)
    typo = same_domain & (user_dist == 1) & personal
    return _levels((el < 0) | (er < 0), [typo, _equal(u[left], u[right]) & personal, _equal(el, er)])


def compare_one_edit(rc: RecordCodes, column: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Exact / one edit apart (a typo or transposition) / far: phones and postcodes."""
    (c,), uniq = rc.codes(column)
    cl, cr = c[left], c[right]
    dist = pair_scores(cl, cr, uniq, OSA.distance)
    return _levels((cl < 0) | (cr < 0), [dist <= 1, _equal(cl, cr)])


def compare_addresses(rc: RecordCodes, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    (c,), uniq = rc.codes("addr")
    (num,), _ = rc.codes("addr_num")
    cl, cr = c[left], c[right]
    # A different house number, or another flat of one building, is a different address however
    # similar the street (not scored).
    unit_of = pd.Series(uniq, dtype="object").str.extract(_UNIT, expand=False).str.replace("-", "", regex=False)
    unit = np.append(pd.factorize(unit_of)[0], -1)  # index -1 (no address) -> no unit
    ul, ur = unit[cl], unit[cr]
    other_house = (num[left] >= 0) & (num[right] >= 0) & (num[left] != num[right])
    other_house |= (ul >= 0) & (ur >= 0) & (ul != ur)
    sim = pair_scores(cl, cr, uniq, fuzz.token_set_ratio, wanted=~other_house)
    sim = np.where(other_house, 0.0, sim)
    return _levels((cl < 0) | (cr < 0), [sim >= 75, sim >= 90, _equal(cl, cr)])


def compare_cities(rc: RecordCodes, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    (c,), uniq = rc.codes("city")
    cl, cr = c[left], c[right]
    sim = pair_scores(cl, cr, uniq, JaroWinkler.normalized_similarity)
    return _levels((cl < 0) | (cr < 0), [sim >= 0.88, _equal(cl, cr)])


def compare_companies(rc: RecordCodes, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Exact key (legal forms dropped: 'ACME Corp.' is 'Acme Corporation') / the words of one within
    the other's ('Acme' and 'Acme Widgets') / different."""
    (c,), uniq = rc.codes("company_key")
    cl, cr = c[left], c[right]
    sim = pair_scores(cl, cr, uniq, fuzz.token_set_ratio)
    levels = _levels((cl < 0) | (cr < 0), [sim >= 90, _equal(cl, cr)])
    at_work = _at_employers_domain(rc, left, right, levels == MISSING)
    return np.where(at_work, np.int8(_COMPANY_EXACT), levels).astype(np.int8)


def _at_employers_domain(rc: RecordCodes, left: np.ndarray, right: np.ndarray, asked: np.ndarray) -> np.ndarray:
    """One record keeps a company, the other none but an email at that company's own domain:
    'pam.clark@ups.com' works at the UPS another department keeps as her employer. The domain's first
    label without legal forms ('umbrella-inc' is Umbrella) must spell the company; a mail provider's
    domain names no employer. Compared per pair, so a record's reading never depends on the others."""
    companies = rc.memo("compact_company", lambda: _compact(rc.frame["company_key"]))
    employers = rc.memo("email_employer", lambda: _employer_of_domains(rc.frame["email_domain"]))
    has_company, has_employer = rc.memo("has_company_or_employer", lambda: (pd.notna(companies), pd.notna(employers)))
    out = np.zeros(len(left), dtype=bool)
    for a, b in ((left, right), (right, left)):
        at = np.flatnonzero(asked & has_company[a] & has_employer[b])
        out[at] |= companies[a[at]] == employers[b[at]]
    return out


def _compact(company_keys: pd.Series) -> np.ndarray:
    """Company keys without spaces ('wells fargo' -> 'wellsfargo'), as a domain writes them."""
    return map_distinct(company_keys, lambda k: k.replace(" ", "")).to_numpy(dtype=object)


def _employer_of_domains(domains: pd.Series) -> np.ndarray:
    """The company each work email's domain names, each distinct domain read once."""
    return map_distinct(domains, _employer_of_domain).to_numpy(dtype=object)


def _employer_of_domain(domain: str) -> str | None:
    """'umbrella-inc.com' -> 'umbrella' (the first label without legal forms); None for a mail provider's."""
    if is_mail_provider(domain):
        return None
    words = re.split(r"[^a-z]+", domain.split(".")[0])
    return "".join(w for w in words if w and w not in COMPANY_FILLER_WORDS) or None


def compare_family_in_email(rc: RecordCodes, left: np.ndarray, right: np.ndarray, family_level: np.ndarray,
                            email_level: np.ndarray) -> np.ndarray:
    """Is one record's family name (3+ letters) part of the other's email user name? Only asked when
    the family names themselves cannot be compared (one side has none), e.g. a ledger entry with a
    full name against a mailing-list entry with a first name and an email address. Not asked when
    the emails agree exactly (that already says everything). Each distinct (family, user name)
    combination is tested once, in one bulk call. Short of that, a user name of a given name and one
    letter ('ravenk47') agrees on the initial of the family name ('Raven Key'). A user name of a given
    name alone ('rachel13') spells no family name and is not asked."""
    (fam,), fam_vals = rc.codes(derive=_family_of_three_letters)
    (usr,), usr_vals = rc.codes("email_user")
    asked = np.zeros(len(left), dtype=bool)
    contained = np.zeros(len(left), dtype=bool)
    initialled = np.zeros(len(left), dtype=bool)
    for a, b in ((left, right), (right, left)):
        fa, ub = fam[a], usr[b]
        ask = (fa >= 0) & (ub >= 0) & (family_level == MISSING) & (email_level != _EMAIL_EXACT)
        ask[ask] = ~_user_only_given_name(rc, a[ask], b[ask])
        if ask.any():
            width = np.int64(len(usr_vals))
            inverse, keys = _distinct_pairs(fa[ask], ub[ask], width)
            hits = np.strings.find(usr_vals[keys % width].astype(_TEXT), fam_vals[keys // width].astype(_TEXT)) >= 0
            contained[ask] |= hits[inverse]
            initialled |= _given_and_family_initial(rc, a, b, ask & ~contained)
        asked |= ask
    return _levels(~asked, [initialled, contained])


def _user_only_given_name(rc: RecordCodes, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Is b's email user name, in letters, a given name alone ('rachel13'): b's own (or its formal
    form: 'nicole34' of Nikki), else a's where b has none? Such a name spells no family name, so
    none can be missing from it."""
    (usr,), users = rc.codes(derive=_letters_of_users)
    (g, _, canon), uniq = rc.codes("given", "family", "given_canon")
    own = rc.memo("email_user_is_own_given", lambda: _spells(usr, users, g, uniq) | _spells(usr, users, canon, uniq))
    out = own[b]
    borrowed = ~out & (g[b] < 0) & (g[a] >= 0)
    out[borrowed] = _spells(usr[b[borrowed]], users, g[a[borrowed]], uniq)
    return out


def _spells(usr: np.ndarray, users: np.ndarray, names: np.ndarray, uniq: np.ndarray) -> np.ndarray:
    """Per position: user-name letters (codes into `users`) equal to the name (codes into `uniq`)."""
    out = np.zeros(len(usr), dtype=bool)
    both = (usr >= 0) & (names >= 0)
    out[both] = users[usr[both]].astype(_TEXT) == uniq[names[both]].astype(_TEXT)
    return out


def _given_and_family_initial(rc: RecordCodes, a: np.ndarray, b: np.ndarray, asked: np.ndarray) -> np.ndarray:
    """Is record b's email user name, in letters, its given name (else a's) followed by the first
    letter of a's family name? b's own given name is used where it has one, so that the level says
    only that the family initials agree (the given names have their own comparison): read once per
    record (`_email_initials`), compared as integers. Records without a given name are tested
    against a's, each distinct (given, family, user name) triple once."""
    (g, fam, _), uniq = rc.codes("given", "family", "given_canon")
    (usr,), users = rc.codes(derive=_letters_of_users)
    initial = rc.memo("email_initial_after_given", lambda: _email_initials(rc))
    out = np.zeros(len(a), dtype=bool)
    at = np.flatnonzero(asked)
    a, b = a[at], b[at]
    fa, first = fam[a], rc.memo("first_letters_of_names", lambda: _first_letters(uniq))
    out[at] = (initial[b] > 0) & (fa >= 0) & (initial[b] == first[fa])
    ask = (g[b] < 0) & (g[a] >= 0) & (fa >= 0) & (usr[b] >= 0)
    if ask.any():
        inverse, distinct = _distinct_triples(g[a][ask], fa[ask], usr[b][ask])
        text = uniq.astype(_TEXT)
        spelt = np.strings.add(text[distinct["name"].to_numpy()], np.strings.slice(text[distinct["family"].to_numpy()], 1))
        out[at[ask]] = (users[distinct["user"].to_numpy()].astype(_TEXT) == spelt)[inverse]
    return out


def _email_initials(rc: RecordCodes) -> np.ndarray:
    """Per record, the code point of the one letter after the given name where its email user name,
    in letters, is its given name and that letter ('ravenk47' of Raven: 'k'); 0 otherwise."""
    (usr,), users = rc.codes(derive=_letters_of_users)
    (g, _, _), uniq = rc.codes("given", "family", "given_canon")
    out = np.zeros(len(usr), dtype=np.int32)
    has = (usr >= 0) & (g >= 0)
    u, given = users[usr[has]].astype(_TEXT), uniq[g[has]].astype(_TEXT)
    fits = (np.strings.str_len(u) == np.strings.str_len(given) + 1) & np.strings.startswith(u, given)
    out[np.flatnonzero(has)[fits]] = _first_letters(np.strings.slice(u[fits], -1, None).astype(object))
    return out


def compare_areas(rc: RecordCodes, left: np.ndarray, right: np.ndarray, postcode_level: np.ndarray,
                  city_level: np.ndarray) -> np.ndarray:
    """The state or province each record lives in (`regions.py`: its region box, ZIP code or phone's
    area code), asked only where neither postcodes nor cities can be compared: a phone against a ZIP
    code. Where they can, they say more, and the state would count the same place twice."""
    levels = compare_equal(rc, "area", left, right)
    return np.where((postcode_level == MISSING) & (city_level == MISSING), levels, np.int8(MISSING)).astype(np.int8)


def compare_equal(rc: RecordCodes, column: str, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Different / equal, where both records have a value: the generational suffix ('Jr.', 'Sr.',
    'III': a father and the son named after him share a name, an address and often a phone, and
    differ here), the state a record lives in."""
    (c,), _ = rc.codes(column)
    cl, cr = c[left], c[right]
    return _levels((cl < 0) | (cr < 0), [_equal(cl, cr)])


def compare_email_birth_years(rc: RecordCodes, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """A year in one record's email user name ('johnsmith1984') against the other's year of birth;
    two emails naming different years disagree too (their agreement is the email comparison's own)."""
    (year, born), _ = rc.codes("email_year", "dob_year")
    agree = np.zeros(len(left), dtype=bool)
    differ = (year[left] >= 0) & (year[right] >= 0) & (year[left] != year[right])
    for a, b in ((left, right), (right, left)):
        known = (year[a] >= 0) & (born[b] >= 0)
        agree |= known & (year[a] == born[b])
        differ |= known & (year[a] != born[b])
    return _levels(~(agree | differ), [agree & ~differ])


def _family_of_three_letters(f: pd.DataFrame) -> pd.Series:
    return f["family"].where(f["family"].str.len() >= 3, None)


def compare(features: pd.DataFrame | RecordCodes, left: np.ndarray, right: np.ndarray,
            name_counts: Mapping[str, int] | None = None, workers: int | None = None) -> pd.DataFrame:
    """Comparison levels (int8) for every candidate pair, one `gamma_<field>` column per field.
    `name_counts`: given name -> records in the whole data (`given_name_counts`); without it, similar
    spellings of two different names count as alike. Millions of pairs are split over `workers`
    processes (default HUB_WORKERS, else the CPU count; see parallel.py): a pair's levels depend
    on its two records only, so the split changes nothing. `features` may be a RecordCodes of the
    frame, whose column codes later calls on the same frame then reuse."""
    rc = features if isinstance(features, RecordCodes) else RecordCodes(features)
    count = parallel.worker_count(len(left), workers, parallel.PAIRS_PARALLEL_FROM)
    return parallel.in_spans(len(left), lambda a, b: _compare(rc, left[a:b], right[a:b], name_counts), count)


def _compare(rc: RecordCodes, left: np.ndarray, right: np.ndarray,
             name_counts: Mapping[str, int] | None) -> pd.DataFrame:
    given, family = compare_names(rc, left, right, name_counts)
    email = compare_emails(rc, left, right)
    postcode, city = compare_one_edit(rc, "postcode", left, right), compare_cities(rc, left, right)
    return pd.DataFrame(
        {
            "gamma_given_name": given,
            "gamma_family_name": family,
            "gamma_birth_date": compare_birth_dates(rc, left, right),
            "gamma_national_id": compare_national_ids(rc, left, right),
            "gamma_email": email,
            "gamma_phone": compare_one_edit(rc, "phone", left, right),
            "gamma_address": compare_addresses(rc, left, right),
            "gamma_postcode": postcode,
            "gamma_city": city,
            "gamma_family_in_email": compare_family_in_email(rc, left, right, family, email),
            "gamma_company": compare_companies(rc, left, right),
            "gamma_area": compare_areas(rc, left, right, postcode, city),
            "gamma_generation": compare_equal(rc, "generation", left, right),
            "gamma_email_birth_year": compare_email_birth_years(rc, left, right),
        }
    )

"""Per-record noise: what departmental systems do to a person's true values.

Each function takes whole arrays and a probability, and changes only a random subset, so the
noise model is the same for 3,000 or 1,000,000 people.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from hub.demo import pools
from hub.demo.typos import apply_where, digit_slip, strip_accents, typo


def chance(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    return rng.random(n) < p


def with_typos(values: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    return apply_where(values, chance(rng, len(values), p) & pd.notna(values), typo, rng)


def with_typos_digits(values: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    return apply_where(values, chance(rng, len(values), p) & pd.notna(values), digit_slip, rng)


def slip_digit(numbers: np.ndarray, n_digits: int, p: float, rng: np.random.Generator) -> np.ndarray:
    """Change one of the `n_digits` decimal digits of a subset of integers (a keying slip)."""
    out = np.asarray(numbers, dtype=np.int64).copy()
    pick = chance(rng, len(out), p) & (out > 0)
    k = rng.integers(0, n_digits, int(pick.sum()))
    place = 10 ** k
    digit = (out[pick] // place) % 10
    new_digit = (digit + rng.integers(1, 10, len(k))) % 10
    out[pick] += (new_digit - digit) * place
    return out


def nicknames(given: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """Replace a formal given name by one of its nicknames (Robert -> Bob/Rob/Bobby)."""
    table = pools.nicknames()
    k = pd.Series(given).map(table.groupby("formal")["k"].first()).to_numpy()
    pick = chance(rng, len(given), p) & ~np.isnan(k)
    if not pick.any():
        return given.copy()
    rank = (rng.random(int(pick.sum())) * k[pick]).astype(int)
    keyed = table.set_index(["formal", "rank"])["nickname"]
    out = given.copy()
    out[pick] = keyed.reindex(pd.MultiIndex.from_arrays([given[pick], rank])).to_numpy(dtype=object)
    return out


def initials(values: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """'John' -> 'J.' for a subset (forms that only had room for an initial)."""
    pick = chance(rng, len(values), p) & pd.notna(values)
    out = values.copy()
    out[pick] = pd.Series(values[pick], dtype=object).str.slice(0, 1).to_numpy(dtype=object) + "."
    return out


def fold_accents(values: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """Legacy ASCII systems drop accents (García -> Garcia) and apostrophes (O'Brien -> OBrien)."""
    out = apply_where(values, chance(rng, len(values), p) & pd.notna(values), strip_accents)
    drop_apostrophe = chance(rng, len(values), p / 3) & pd.notna(out)
    out[drop_apostrophe] = pd.Series(out[drop_apostrophe], dtype=object).str.replace("'", "").to_numpy(dtype=object)
    return out


def recase(values: np.ndarray, p_upper: float, p_lower: float, rng: np.random.Generator) -> np.ndarray:
    u = rng.random(len(values))
    s = pd.Series(values, dtype=object)
    out = s.to_numpy(dtype=object).copy()
    up = (u < p_upper) & s.notna().to_numpy()
    low = (u >= p_upper) & (u < p_upper + p_lower) & s.notna().to_numpy()
    out[up] = s[up].str.upper().to_numpy(dtype=object)
    out[low] = s[low].str.lower().to_numpy(dtype=object)
    return out


def blank(values: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """Field left empty."""
    out = np.asarray(values, dtype=object).copy()
    out[chance(rng, len(out), p)] = None
    return out


def junk(values: np.ndarray, p: float, junk_values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Placeholder typed into a required field ('n/a', 'test@test.com', '000-000-0000')."""
    out = np.asarray(values, dtype=object).copy()
    pick = chance(rng, len(out), p)
    out[pick] = junk_values[rng.integers(0, len(junk_values), int(pick.sum()))]
    return out


def lost_leading_zero(zips: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """A spreadsheet round-trip turned ZIP '02108' into '2108' (New England and New Jersey)."""
    out = np.asarray(zips, dtype=object).copy()
    s = pd.Series(out, dtype=object)
    pick = s.str.startswith("0", na=False).to_numpy() & chance(rng, len(out), p)
    out[pick] = s[pick].str.slice(1).to_numpy(dtype=object)
    return out


def email_variants(email: np.ndarray, rng: np.random.Generator, p_tag: float, p_dots: float,
                   p_case: float, p_typo: float) -> np.ndarray:
    """Gmail dot/plus-tag spellings of the same mailbox, shouted case, and typos."""
    s = pd.Series(email, dtype=object)
    out = s.to_numpy(dtype=object).copy()
    gmail = s.str.endswith("@gmail.com", na=False).to_numpy()
    local = np.full(len(s), None, dtype=object)
    local[gmail] = s[gmail].str.slice(0, -len("@gmail.com")).to_numpy(dtype=object)
    tag = gmail & chance(rng, len(s), p_tag)
    tags = np.array(["+shop", "+news", "+promo", "+amazon", "+1"], dtype=object)
    out[tag] = local[tag] + tags[rng.integers(0, len(tags), int(tag.sum()))] + "@gmail.com"
    dots = gmail & ~tag & chance(rng, len(s), p_dots)
    undotted = pd.Series(local[dots], dtype=object).str.replace(".", "", regex=False)
    # Users who never typed a dot often add one after the first letter instead.
    redotted = undotted.where(undotted != pd.Series(local[dots], dtype=object).values,
                              undotted.str.slice(0, 1) + "." + undotted.str.slice(1))
    out[dots] = redotted.to_numpy(dtype=object) + "@gmail.com"
    out = recase(out, p_case, 0.0, rng)
    title = chance(rng, len(s), p_case) & pd.notna(out)
    out[title] = pd.Series(out[title], dtype=object).str.capitalize().to_numpy(dtype=object)
    return with_typos(out, p_typo, rng)

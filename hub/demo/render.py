"""Render true values the way each silo writes them: phone, address, date and name formats."""
from __future__ import annotations

import numpy as np
import pandas as pd

from hub.demo import pools
from hub.demo.strings import MONTH_ABBR, number_text, padded, ymd

PHONE_STYLES = ("paren", "dash", "dot", "e164_spaced", "digits", "one_dash", "e164")
DOB_STYLES = ("iso", "us", "day_mon_year", "compact")
UNIT_STYLES = ("Apt {}", "Apartment {}", "#{}", "Unit {}", "Apt. {}")


def _style(rng: np.random.Generator, n: int, weights: dict[str, float], names) -> np.ndarray:
    p = np.array([weights.get(k, 0.0) for k in names], dtype=float)
    return rng.choice(len(names), size=n, p=p / p.sum())


def _s(values) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=object), dtype=object)


def phones(numbers: np.ndarray, weights: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """2175550134 -> '(217) 555-0134', '217-555-0134', '217.555.0134', '+1 217 555 0134' ...
    (0 means no phone and gives None)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    style = _style(rng, len(numbers), weights, PHONE_STYLES)
    a, b, c = padded(numbers // 10**7 % 1000, 3), padded(numbers // 10**4 % 1000, 3), padded(numbers % 10**4, 4)
    forms = [
        lambda m: "(" + a[m] + ") " + b[m] + "-" + c[m], lambda m: a[m] + "-" + b[m] + "-" + c[m],
        lambda m: a[m] + "." + b[m] + "." + c[m], lambda m: "+1 " + a[m] + " " + b[m] + " " + c[m],
        lambda m: a[m] + b[m] + c[m], lambda m: "1-" + a[m] + "-" + b[m] + "-" + c[m],
        lambda m: "+1" + a[m] + b[m] + c[m],
    ]
    out = _by_style(style, forms)
    out[numbers <= 0] = None
    return out


def ssns(numbers: np.ndarray, masked: np.ndarray) -> np.ndarray:
    """123456789 -> '123-45-6789', or 'XXX-XX-6789' where masked."""
    numbers = np.asarray(numbers, dtype=np.int64)
    last4 = padded(numbers % 10**4, 4)
    full = padded(numbers // 10**6 % 1000, 3) + "-" + padded(numbers // 10**4 % 100, 2) + "-" + last4
    return np.where(masked, "XXX-XX-" + last4, full)


def by_style(style: np.ndarray, builders) -> np.ndarray:
    return _by_style(style, builders)


def _by_style(style: np.ndarray, builders) -> np.ndarray:
    """Build each row with the builder its style picked, computing each form only where used."""
    out = np.empty(len(style), dtype=object)
    for k, build in enumerate(builders):
        mask = style == k
        if mask.any():
            out[mask] = build(mask)
    return out


def streets(addr: dict[str, np.ndarray], rng: np.random.Generator, p_full_suffix: float,
            p_dot: float, unit_weights: tuple[float, ...]) -> np.ndarray:
    """'12 N Oak St Apt 4' with suffix, direction and unit spelled in varying ways."""
    n = len(addr["house_no"])
    suffix = _s(addr["street_suffix"])
    full = suffix.map({k: v for k, (v, _) in pools.STREET_SUFFIXES.items()})
    u = rng.random(n)
    suffix_text = np.where(u < p_full_suffix, full, np.where(u < p_full_suffix + p_dot, suffix + ".", suffix))
    direction = _s(addr["street_dir"])
    dir_full = direction.map(pools.DIRECTIONS)
    dir_text = np.where(rng.random(n) < p_full_suffix, dir_full, direction)
    dir_text = np.where(direction.isna(), "", _s(dir_text) + " ")
    line = (_s(number_text(addr["house_no"])) + " " + _s(dir_text) + _s(addr["street_name"]) + " "
            + _s(suffix_text))
    unit = _s(addr["unit"])
    style = rng.choice(len(UNIT_STYLES), size=n, p=np.asarray(unit_weights) / sum(unit_weights))
    unit_forms = [(" " + f.split("{}")[0] + unit).to_numpy(dtype=object) for f in UNIT_STYLES]
    unit_text = np.where(unit.isna(), "", np.choose(style, unit_forms))
    out = (line + _s(unit_text)).to_numpy(dtype=object)
    out[_s(addr["house_no"]).isna().to_numpy()] = None
    return out


def cities(place_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(city, state code, state name) for each place index; None where the index is missing."""
    places = pools.places()
    idx = pd.to_numeric(_s(place_idx))
    missing = idx.isna().to_numpy()
    safe = np.where(missing, 0, idx.to_numpy(dtype=float, na_value=0)).astype(int)
    out = []
    for col in ("city", "state", "state_name"):
        v = places[col].to_numpy(dtype=object)[safe]
        v[missing] = None
        out.append(v)
    return tuple(out)


def zip_plus4(zips: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    out = np.asarray(zips, dtype=object).copy()
    pick = (rng.random(len(out)) < p) & pd.notna(out)
    out[pick] = out[pick] + "-" + padded(rng.integers(1, 10000, int(pick.sum())), 4)
    return out


def dates(days: np.ndarray, weights: dict[str, float], rng: np.random.Generator) -> np.ndarray:
    """Dates as '1984-03-07', '03/07/1984', '7 Mar 1984' or '19840307'."""
    days = np.asarray(days).astype("datetime64[D]")
    missing = np.isnat(days)
    year, month, day = ymd(np.where(missing, np.datetime64("2000-01-01"), days))
    y, mo, dd = padded(year, 4), padded(month, 2), padded(day, 2)
    forms = [lambda m: y[m] + "-" + mo[m] + "-" + dd[m], lambda m: mo[m] + "/" + dd[m] + "/" + y[m],
             lambda m: padded(day[m], 0) + " " + MONTH_ABBR[month[m]] + " " + y[m],
             lambda m: y[m] + mo[m] + dd[m]]
    out = _by_style(_style(rng, len(days), weights, DOB_STYLES), forms)
    out[missing] = None
    return out


def timestamps(ts: np.ndarray) -> np.ndarray:
    """ISO-8601 UTC timestamps: '2024-03-07T12:34:56Z'."""
    return np.datetime_as_string(ts.astype("datetime64[s]"), unit="s").astype(object) + "Z"


def join_name(first: np.ndarray, last: np.ndarray, sep: str = " ") -> np.ndarray:
    """Join two name parts, tolerating a missing part."""
    f, l = np.asarray(first, dtype=object), np.asarray(last, dtype=object)
    has_f, has_l = pd.notna(f), pd.notna(l)
    out = np.full(len(f), None, dtype=object)
    both = has_f & has_l
    out[both] = f[both] + sep + l[both]
    out[has_f & ~has_l] = f[has_f & ~has_l]
    out[has_l & ~has_f] = l[has_l & ~has_f]
    return out

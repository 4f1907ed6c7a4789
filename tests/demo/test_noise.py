"""Vectorised noise functions do exactly the damage they claim, and nothing else."""
from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz.distance import DamerauLevenshtein

from hub.demo import noise, render
from hub.demo.strings import occurrence, per_unique, zero_padded
from hub.demo.typos import digit_slip, strip_accents, typo


def test_typo_is_one_keyboard_edit_per_string():
    rng = np.random.default_rng(0)
    names = np.array(["Johnson", "Elizabeth", "García", "O'Brien", "Smith", "Williams"] * 200, dtype=object)
    out = typo(names, rng)
    distances = [DamerauLevenshtein.distance(a, b) for a, b in zip(names, out)]
    assert set(distances) <= {0, 1}          # 0 only where a transposition swaps equal letters
    assert np.mean(distances) > 0.95


def test_typo_leaves_short_and_missing_values_alone():
    rng = np.random.default_rng(1)
    values = np.array(["Al", None, "Jo", "x"], dtype=object)
    assert list(typo(values, rng)) == ["Al", None, "Jo", "x"]
    assert len(typo(np.array([], dtype=object), rng)) == 0


def test_digit_slip_changes_exactly_one_digit_and_keeps_punctuation():
    rng = np.random.default_rng(2)
    values = np.array(["217-555-0134", "(312) 555-0199", "123-45-6789"] * 100, dtype=object)
    out = digit_slip(values, rng)
    for before, after in zip(values, out):
        assert len(before) == len(after)
        diff = [(a, b) for a, b in zip(before, after) if a != b]
        assert len(diff) == 1 and diff[0][0].isdigit() and diff[0][1].isdigit()


def test_slip_digit_on_integers_changes_one_decimal_digit():
    rng = np.random.default_rng(3)
    numbers = np.full(1000, 2175550134, dtype=np.int64)
    out = noise.slip_digit(numbers, 10, 1.0, rng)
    changed = [sum(a != b for a, b in zip(str(x).zfill(10), "2175550134")) for x in out]
    assert set(changed) == {1}


def test_nicknames_come_from_the_table_and_keep_unknown_names():
    rng = np.random.default_rng(4)
    given = np.array(["Robert"] * 500 + ["Zebulon"] * 10, dtype=object)
    out = noise.nicknames(given, 1.0, rng)
    assert set(out[:500]) == {"Bob", "Rob", "Bobby", "Robbie"}
    assert set(out[500:]) == {"Zebulon"}


def test_strip_accents_and_missing():
    assert list(strip_accents(np.array(["García", "Zoë", None], dtype=object))) == ["Garcia", "Zoe", None]


def test_phone_and_date_renderings():
    rng = np.random.default_rng(5)
    phones = render.phones(np.array([2175550134] * 700 + [0]), {s: 1.0 for s in render.PHONE_STYLES}, rng)
    assert phones[-1] is None
    assert set(phones[:-1]) == {"(217) 555-0134", "217-555-0134", "217.555.0134", "+1 217 555 0134",
                                "2175550134", "1-217-555-0134", "+12175550134"}
    dates = render.dates(np.array(["1984-03-07"] * 400, dtype="datetime64[D]"),
                         {s: 1.0 for s in render.DOB_STYLES}, rng)
    assert set(dates) == {"1984-03-07", "03/07/1984", "7 Mar 1984", "19840307"}


def test_string_helpers():
    assert list(zero_padded(np.array([7, 123456789]), 9)) == ["000000007", "123456789"]
    assert list(occurrence(np.array(["a", "b", "a", "a", "b"], dtype=object))) == [0, 0, 1, 2, 1]
    upper = per_unique(np.array(["x", None, "x", "y"], dtype=object), lambda v: pd.Series(v).str.upper().to_numpy())
    assert list(upper) == ["X", None, "X", "Y"]

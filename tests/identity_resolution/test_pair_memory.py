"""The pair memory recalls exactly what it was told, whichever order the pair is asked in."""
from __future__ import annotations

import numpy as np
import pandas as pd

from identity_resolution.pair_memory import PairMemory


def test_remembers_pairs_above_the_floor_across_batches():
    rng = np.random.default_rng(1)
    memory, expected = PairMemory(min_probability=0.1, complete=True), {}
    for _ in range(5):
        left, right = rng.integers(0, 200, 500), rng.integers(0, 200, 500)
        left, right = left[left != right], right[left != right]
        gammas = pd.DataFrame({"gamma_a": rng.integers(-1, 3, len(left)), "gamma_b": rng.integers(-1, 3, len(left))})
        weight, prob = rng.normal(size=len(left)), rng.random(len(left))
        memory.remember(left, right, gammas.astype(np.int8), weight, prob)
        batch = set()
        for i in range(len(left)):
            key = (min(left[i], right[i]), max(left[i], right[i]))
            if prob[i] >= 0.1 and key not in batch:  # the first score of a pair in a batch is kept
                expected[key] = (tuple(gammas.iloc[i]), weight[i], prob[i])
                batch.add(key)
    assert len(memory) == len(expected) and np.all(np.diff(memory.keys) > 0)
    asked_l, asked_r = np.array([k[1] for k in expected]), np.array([k[0] for k in expected])  # swapped order
    rows = memory.recall(asked_l, asked_r)
    for (key, (g, w, p)), row in zip(expected.items(), rows):
        assert row >= 0 and tuple(memory.gammas[row]) == g and memory.weight[row] == w and memory.prob[row] == p, key
    never = memory.recall(np.array([500, 7]), np.array([501, 7000]))
    assert (never == -1).all()
    assert list(memory.gamma_frame(rows[:2]).columns) == ["gamma_a", "gamma_b"]


def test_an_empty_memory_recalls_nothing():
    assert (PairMemory().recall(np.array([1, 2]), np.array([3, 4])) == -1).all()

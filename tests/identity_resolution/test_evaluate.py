"""evaluate(): pairwise and B-cubed figures on cases small enough to check by hand."""
from __future__ import annotations

import pandas as pd
import pytest

from identity_resolution import evaluate


def frames(pred: dict[str, str], truth: dict[str, str]):
    p = pd.DataFrame({"silo": "s", "source_record_id": list(pred), "customer_id": list(pred.values())})
    t = pd.DataFrame({"silo": "s", "source_record_id": list(truth), "person_id": list(truth.values())})
    return p, t


def test_perfect_clustering():
    m = evaluate(*frames({"a": "1", "b": "1", "c": "2"}, {"a": "x", "b": "x", "c": "y"}))
    assert m["pairwise_f1"] == 1.0 and m["bcubed_f1"] == 1.0


def test_over_merge():
    # predicted {a,b,c}; truth {a,b},{c}: 3 predicted pairs, 1 true, 1 correct.
    m = evaluate(*frames({"a": "1", "b": "1", "c": "1"}, {"a": "x", "b": "x", "c": "y"}))
    assert m["pairwise_precision"] == pytest.approx(1 / 3)
    assert m["pairwise_recall"] == 1.0
    assert m["pairwise_f1"] == pytest.approx(0.5)
    # B-cubed precision: a 2/3, b 2/3, c 1/3 -> 5/9; recall 1.
    assert m["bcubed_precision"] == pytest.approx(5 / 9)
    assert m["bcubed_recall"] == 1.0


def test_under_merge():
    # predicted {a},{b,c},{d}; truth {a,b,c,d}: 1 predicted pair, 6 true pairs.
    m = evaluate(*frames({"a": "1", "b": "2", "c": "2", "d": "3"}, {k: "x" for k in "abcd"}))
    assert m["pairwise_precision"] == 1.0
    assert m["pairwise_recall"] == pytest.approx(1 / 6)
    # B-cubed recall: a 1/4, b 2/4, c 2/4, d 1/4 -> 6/16.
    assert m["bcubed_recall"] == pytest.approx(6 / 16)


def test_records_missing_on_one_side_are_counted_and_left_out():
    p, t = frames({"a": "1", "b": "1", "z": "9"}, {"a": "x", "b": "x", "c": "y"})
    m = evaluate(p, t)
    assert (m["records"], m["predicted_only"], m["truth_only"]) == (2, 1, 1)


def test_missing_columns_and_disjoint_inputs_are_errors():
    p, t = frames({"a": "1"}, {"b": "x"})
    with pytest.raises(ValueError, match="person_id"):
        evaluate(p, t.drop(columns=["person_id"]))
    with pytest.raises(ValueError, match="share no"):
        evaluate(p, t)


def test_large_input_without_enumerating_pairs():
    n = 200_000
    ids = [str(i) for i in range(n)]
    p = pd.DataFrame({"silo": "s", "source_record_id": ids, "customer_id": [str(i // 4) for i in range(n)]})
    t = pd.DataFrame({"silo": "s", "source_record_id": ids, "person_id": [str(i // 2) for i in range(n)]})
    m = evaluate(p, t)
    assert m["pairwise_precision"] == pytest.approx(1 / 3)  # each 4-group has 6 pairs, 2 true
    assert m["pairwise_recall"] == 1.0

"""Cluster quality against ground truth: pairwise and B-cubed precision/recall/F1 from group sizes."""
from __future__ import annotations

import pandas as pd

KEY = ["silo", "source_record_id"]


def _pairs(sizes: pd.Series) -> float:
    s = sizes.astype("float64")
    return float((s * (s - 1) / 2).sum())


def _f1(p: float, r: float) -> float:
    return 0.0 if p + r == 0 else 2 * p * r / (p + r)


def evaluate(predicted: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """predicted: silo, source_record_id, customer_id; truth: silo, source_record_id, person_id.

    Records are matched on (silo, source_record_id) as text; only records present in both count
    (the numbers left out are reported). Pair counts come from cluster-size arithmetic, so this
    works at millions of records without enumerating pairs.
    """
    for name, frame, col in (("predicted", predicted, "customer_id"), ("truth", truth, "person_id")):
        missing = [c for c in KEY + [col] if c not in frame.columns]
        if missing:
            raise ValueError(f"evaluate(): {name} lacks column(s) {missing}")
    p = predicted[KEY + ["customer_id"]].astype(str)
    t = truth[KEY + ["person_id"]].astype(str)
    joined = p.merge(t, on=KEY, how="inner")
    n = len(joined)
    if n == 0:
        raise ValueError("evaluate(): predicted and truth share no (silo, source_record_id) records")
    cells = joined.groupby(["customer_id", "person_id"]).size()
    pred_sizes = joined.groupby("customer_id").size()
    true_sizes = joined.groupby("person_id").size()
    tp, pred_pairs, true_pairs = _pairs(cells), _pairs(pred_sizes), _pairs(true_sizes)
    precision = tp / pred_pairs if pred_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    cell = cells.reset_index(name="n")
    cell["pred_size"] = cell["customer_id"].map(pred_sizes)
    cell["true_size"] = cell["person_id"].map(true_sizes)
    b_precision = float((cell["n"] ** 2 / cell["pred_size"]).sum() / n) if n else 1.0
    b_recall = float((cell["n"] ** 2 / cell["true_size"]).sum() / n) if n else 1.0
    return {
        "records": n,
        "predicted_only": len(p) - n,
        "truth_only": len(t) - n,
        "predicted_clusters": int(len(pred_sizes)),
        "true_clusters": int(len(true_sizes)),
        "true_positive_pairs": int(tp),
        "predicted_pairs": int(pred_pairs),
        "true_pairs": int(true_pairs),
        "pairwise_precision": precision,
        "pairwise_recall": recall,
        "pairwise_f1": _f1(precision, recall),
        "bcubed_precision": b_precision,
        "bcubed_recall": b_recall,
        "bcubed_f1": _f1(b_precision, b_recall),
    }

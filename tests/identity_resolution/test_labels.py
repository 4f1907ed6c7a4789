"""Labelled pairs: read from files or decisions, train m, check the model."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from identity_resolution import resolve
from identity_resolution.labels import PAIR_KEY, fit_m_with_labels, read_labels
from identity_resolution.scoring import FIELDS


def truth_labels(truth: pd.DataFrame) -> pd.DataFrame:
    """Every same-person pair as a match, and as many different-person pairs as non-matches."""
    keyed = truth.assign(key=truth["silo"] + "|" + truth["source_record_id"])
    same = keyed.merge(keyed, on="person_id", suffixes=("_l", "_r"))
    same = same[same["key_l"] < same["key_r"]].assign(is_match=True)
    shuffled = keyed.sample(frac=1.0, random_state=3).reset_index(drop=True)
    other = pd.concat([keyed.add_suffix("_l"), shuffled.add_suffix("_r")], axis=1)
    other = other[other["person_id_l"] != other["person_id_r"]].head(len(same)).assign(is_match=False)
    return pd.concat([same, other], ignore_index=True)[PAIR_KEY + ["is_match"]]


@pytest.mark.parametrize("values,expected", [
    (["true", "0", "Yes", "n"], [True, False, True, False]),
    ([True, False, True, False], [True, False, True, False]),
])
def test_read_labels_accepts_common_spellings(values, expected):
    frame = pd.DataFrame({c: ["a", "b", "c", "d"] for c in PAIR_KEY}).assign(is_match=values)
    assert read_labels(frame)["is_match"].tolist() == expected


def test_read_labels_takes_review_decisions_and_skips_skips():
    frame = pd.DataFrame({c: ["a", "b", "c"] for c in PAIR_KEY}).assign(decision=["match", "skip", "non_match"])
    assert read_labels(frame)["is_match"].tolist() == [True, False]


def test_read_labels_names_the_bad_row_and_missing_columns():
    frame = pd.DataFrame({c: ["a", "b"] for c in PAIR_KEY}).assign(is_match=["true", "perhaps"])
    with pytest.raises(ValueError, match=r"pairs.csv: row 2: is_match='perhaps'"):
        read_labels(frame, "pairs.csv")
    with pytest.raises(ValueError, match=r"missing column\(s\) \['silo_r'"):
        read_labels(frame.drop(columns=["silo_r"]), "pairs.csv")


def test_labelled_matches_pull_m_towards_what_they_show():
    m = {spec.name: np.full(len(spec.levels), 1 / len(spec.levels)) for spec in FIELDS}
    from identity_resolution.scoring import FellegiSunterModel

    model = FellegiSunterModel(fields=FIELDS, m=m, u={k: v.copy() for k, v in m.items()}, prior=1e-4)
    top = {f"gamma_{spec.name}": len(spec.levels) - 1 for spec in FIELDS}
    gammas = pd.DataFrame([top] * 600)
    gammas["gamma_email"] = -1  # missing: says nothing about email's m
    few = fit_m_with_labels(model, gammas.head(20), np.ones(20, dtype=bool), prior_pairs=200)
    many = fit_m_with_labels(model, gammas, np.ones(600, dtype=bool), prior_pairs=200)
    name = "family_name"
    assert model.m[name][-1] < few.m[name][-1] < many.m[name][-1] < 1.0
    assert many.m[name][-1] == pytest.approx((200 / len(model.m[name]) + 600) / 800)
    assert np.allclose(many.m["email"], model.m["email"])
    assert all(np.isclose(many.m[k].sum(), 1.0) for k in many.m)
    assert model.m[name][-1] == pytest.approx(1 / len(model.m[name]))  # the input model is not modified


def test_labels_train_and_check_the_model(synthetic):
    _, staged, truth = synthetic
    labels = truth_labels(truth)
    plain = resolve(staged)
    trained = resolve(staged, labels=labels)
    check = trained.label_check
    assert plain.label_check is None
    assert check["labelled_pairs"] == len(labels) and check["labels_not_found"] == 0
    assert check["labelled_matches"] == int(labels["is_match"].sum())
    assert check["precision"] == 1.0 and check["recall"] >= 0.9
    assert check["mean_p_matches"] > 0.9 > 0.1 > check["mean_p_non_matches"]
    moved = [f for f in plain.model.m if not np.allclose(plain.model.m[f], trained.model.m[f])]
    assert moved, "labelled matches did not change m"
    # a stored model is used as is: labels only check it
    reused = resolve(staged, model=plain.model, labels=labels)
    assert all(np.allclose(plain.model.m[f], reused.model.m[f]) for f in plain.model.m)
    assert reused.label_check["labelled_pairs"] == len(labels)


def test_cli_trains_with_a_labels_file_and_reports_the_check(synthetic, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from hub.cli_identity import app

    raw, _, truth = synthetic
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_HASH_KEY", "cli-test-key")
    raw.to_csv("people.csv", index=False)
    truth_labels(truth).to_csv("labels.csv", index=False)
    result = CliRunner().invoke(app, ["resolve", "people.csv", "--out", "xref.parquet", "--labels", "labels.csv"])
    assert result.exit_code == 0, result.output
    assert "Labelled pairs (in-sample" in result.output and "labelled matches" in result.output
    truth_labels(truth).assign(is_match="maybe").to_csv("bad.csv", index=False)
    bad = CliRunner().invoke(app, ["resolve", "people.csv", "--out", "xref.parquet", "--labels", "bad.csv"])
    assert bad.exit_code == 2 and "bad.csv: row 1: is_match='maybe'" in bad.output

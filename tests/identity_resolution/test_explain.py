"""explain_pair(): per-field contributions that add up to the pair's match weight."""
from __future__ import annotations

import pytest

from identity_resolution import FellegiSunterModel, explain_pair


def records_of(staged, pair):
    keyed = staged.set_index(["silo", "source_record_id"])
    left = keyed.loc[(pair.silo_l, pair.source_record_id_l)].to_dict()
    right = keyed.loc[(pair.silo_r, pair.source_record_id_r)].to_dict()
    return left, right


def test_explanation_adds_up_to_the_scored_weight(synthetic, resolved):
    _, staged, _ = synthetic
    pairs = resolved.pairs.sort_values("match_weight")
    for _, pair in pairs.iloc[[0, len(pairs) // 2, -1]].iterrows():
        left, right = records_of(staged, pair)
        table = explain_pair(resolved.model, left, right)
        assert table["cumulative"].iloc[-1] == pytest.approx(pair.match_weight)
        assert table["bf"].sum() == pytest.approx(pair.match_weight)
        assert table["match_probability"].iloc[0] == pytest.approx(pair.match_probability)
        assert table["field"].iloc[0] == "prior"


def test_explanation_names_levels_and_values(synthetic, resolved):
    _, staged, _ = synthetic
    pair = resolved.pairs.sort_values("match_weight").iloc[-1]
    table = explain_pair(resolved.model, *records_of(staged, pair)).set_index("field")
    assert table.loc["email", "label"] == "exact"
    assert table.loc["email", "bf"] > 0
    assert table.loc["birth_date", "label"] in ("missing", "exact")


def test_explanation_after_json_round_trip(synthetic, resolved):
    _, staged, _ = synthetic
    model = FellegiSunterModel.from_json(resolved.model.to_json())
    pair = resolved.pairs.iloc[0]
    table = explain_pair(model, *records_of(staged, pair))
    assert table["cumulative"].iloc[-1] == pytest.approx(pair.match_weight)


def test_a_given_name_read_from_an_email_shows_that_email(resolved):
    ledger = {"silo": "ledger", "source_record_id": "1", "given_name": "Michele", "family_name": "Taylor",
              "postcode": "98141"}
    mailing = {"silo": "list", "source_record_id": "2", "email": "micheletaylor1966@gmail.com", "postcode": "98141"}
    table = explain_pair(resolved.model, ledger, mailing).set_index("field")
    assert table.loc["given_name", "label"] == "exact"
    assert table.loc["given_name", "value_r"] == "(email) micheletaylor1966"
    assert table["bf"].sum() == pytest.approx(table["cumulative"].iloc[-1])

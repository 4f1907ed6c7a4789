"""`hub review` against a real warehouse file, answers fed through typer's CliRunner."""
from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from hub.cli_review import app
from identity_resolution.review import build_review_queue
from warehouse.review_store import load_decisions, save_review_queue

runner = CliRunner()


@pytest.fixture()
def warehouse(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUB_WAREHOUSE", raising=False)
    monkeypatch.delenv("HUB_REVIEWER", raising=False)
    path = tmp_path / "hub.duckdb"
    records = pd.DataFrame([
        {"silo": "sales", "source_record_id": "1", "full_name": "Ann Lee", "phone": "+12175550101"},
        {"silo": "support", "source_record_id": "9", "full_name": "Anne Lee", "phone": "+12175550101"},
        {"silo": "credit", "source_record_id": "4", "full_name": "Bo Ng", "phone": None},
        {"silo": "sales", "source_record_id": "2", "full_name": "Bob Ng", "phone": "+12175550999"},
    ])
    pairs = pd.DataFrame([
        {"silo_l": "sales", "source_record_id_l": "1", "silo_r": "support", "source_record_id_r": "9",
         "match_probability": 0.55, "gamma_phone": 2, "bf_phone": 6.5, "gamma_given_name": 1, "bf_given_name": -0.75},
        {"silo_l": "credit", "source_record_id_l": "4", "silo_r": "sales", "source_record_id_r": "2",
         "match_probability": 0.8, "gamma_phone": None, "bf_phone": None, "gamma_given_name": 2, "bf_given_name": 1.5},
    ])
    con = duckdb.connect(str(path))
    save_review_queue(con, build_review_queue(pairs, records, None))
    con.close()
    return path


def decisions(path) -> pd.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return load_decisions(con)
    finally:
        con.close()


def test_review_shows_pair_with_evidence_and_stores_decisions(warehouse):
    result = runner.invoke(app, ["--warehouse", str(warehouse), "--reviewer", "alice"], input="m\nn\n")
    assert result.exit_code == 0, result.output
    assert "Ann Lee" in result.output and "Anne Lee" in result.output
    assert "phone" in result.output and "+6.50" in result.output and "-0.75" in result.output
    stored = decisions(warehouse)
    assert stored["decision"].tolist() == ["match", "non_match"]
    assert stored["reviewer"].tolist() == ["alice", "alice"]
    assert stored["source_record_id_r"].tolist() == ["9", "2"]


def test_skip_then_quit_and_bad_answers_are_asked_again(warehouse, monkeypatch):
    monkeypatch.setenv("HUB_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("HUB_REVIEWER", "bob")
    result = runner.invoke(app, [], input="maybe\ns\nq\n")
    assert result.exit_code == 0, result.output
    assert "maybe" in result.output and "is not one of" in result.output
    stored = decisions(warehouse)
    assert stored["decision"].tolist() == ["skip"] and stored["reviewer"].tolist() == ["bob"]
    # The skipped pair comes back after the unseen one next time.
    again = runner.invoke(app, ["--limit", "1"], input="m\n")
    assert again.exit_code == 0, again.output
    assert "Bo Ng" in again.output and "Ann Lee" not in again.output


def test_empty_queue_and_missing_warehouse(tmp_path, warehouse):
    result = runner.invoke(app, ["--warehouse", str(warehouse), "--reviewer", "a"], input="m\nm\n")
    assert result.exit_code == 0
    again = runner.invoke(app, ["--warehouse", str(warehouse)])
    assert again.exit_code == 0 and "queue is empty" in again.output
    missing = runner.invoke(app, ["--warehouse", str(tmp_path / "nope.duckdb")])
    assert missing.exit_code == 1 and "No warehouse" in missing.output

"""Structured step logs: one JSON object per event with its fields, or quiet text for people."""
from __future__ import annotations

import json

import pytest

from pipelines.logs import configure_logging, get_logger, log_event


def test_json_format_emits_one_object_per_event_with_fields(capsys):
    configure_logging("json")
    log_event(get_logger("staging"), "silo_staged", silo="sales", raw_rows=10, staged_rows=9, rejected_rows=1)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    event = json.loads(line)
    assert event["event_name"] == "silo_staged" and event["logger"] == "hub.staging"
    assert (event["silo"], event["raw_rows"], event["staged_rows"], event["rejected_rows"]) == ("sales", 10, 9, 1)
    assert event["level"] == "info" and "timestamp" in event


def test_text_format_keeps_info_events_quiet_but_shows_errors(capsys):
    configure_logging("text")
    log_event(get_logger("staging"), "silo_staged", silo="sales")
    get_logger("marts").error("marts rejected")
    err = capsys.readouterr().err
    assert "silo_staged" not in err and "marts rejected" in err


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="use 'text' or 'json'"):
        configure_logging("xml")

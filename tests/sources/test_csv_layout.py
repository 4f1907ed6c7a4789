"""csv_layout: a CSV export's delimiter and the title lines above its header, read from its first lines."""
from __future__ import annotations

import io

import pytest

from sources.csv_layout import csv_layout, guess_delimiter, head_lines, sheet_rows, title_rows


@pytest.mark.parametrize("text, delimiter", [
    ("id,name,email\n1,Ann Lee,a@x.com\n", ","),
    ("id;name;email\n1;Lee, Ann;a@x.com\n", ";"),  # a comma inside a field does not make it comma-separated
    ("id\tname\temail\n1\tAnn Lee\ta@x.com\n", "\t"),
    ("id|name|email\n1|Ann Lee|a@x.com\n", "|"),
    ('id,name,email\n1,"Lee; Ann",a@x.com\n2,"Ray; Bo",b@x.com\n', ","),
    ("Customer list\nExported 1 May; 2024\n\nid;name;email;phone\n1;Ann;a@x.com;555\n", ";"),
    ("email\na@x.com\n", ","),  # one column: nothing to split, the default
])
def test_delimiter_is_read_from_the_lines(text, delimiter):
    assert guess_delimiter(text.splitlines()) == delimiter


@pytest.mark.parametrize("rows, titles", [
    ([["Customer list"], ["Exported 1 May", " 2024"], [], ["id", "name", "email"], ["1", "a", "b"], ["2", "c", "d"]], 3),
    ([["id", "name", "email"], ["1", "a", ""]], 0),
    ([["id", "name", ""], ["1", "a", "x"]], 0),  # a header with an unnamed column is still the header
    ([["email"], ["a@x.com"]], 0),
    ([], 0),
])
def test_title_rows_above_the_header(rows, titles):
    assert title_rows(rows) == titles


def test_a_sheets_rows_lose_their_empty_end_cells():
    nan = float("nan")
    cells = [["Customer list", nan, nan], [nan, nan, nan], ["id", "name", "email"], ["1", "Ann", nan]]
    assert sheet_rows(cells) == [["Customer list"], [], ["id", "name", "email"], ["1", "Ann"]]
    assert title_rows(sheet_rows(cells)) == 2


def test_settings_given_win_and_no_header_means_no_title():
    lines = ["Report", "id;name", "1;Ann"]
    assert csv_layout(lines, None, '"', True, None) == (";", 1)
    assert csv_layout(lines, ",", '"', True, 0) == (",", 0)
    assert csv_layout(lines, None, '"', False, None) == (";", 0)


def test_head_lines_rewinds_and_drops_a_cut_line():
    data = ("id,name\n" + "1,Ann Lee\n" * 20_000).encode()
    handle = io.BytesIO(data)
    lines = head_lines(handle, "utf-8")
    assert handle.tell() == 0 and lines[0] == "id,name" and len(lines) == 30
    handle = io.BytesIO(b"a,b\n" + b"x" * 70_000)
    assert head_lines(handle, None) == ["a,b"]

"""How a departmental CSV export is laid out: its delimiter, and the title lines above its header.

Spreadsheets in much of Europe save CSV with semicolons, some systems with tabs or pipes; a report
saved as CSV (or Excel) starts with its title ('Customer list', 'Exported 1 May, 2024', a blank line)
before the header. Both are read from the file's first lines, so a silo file needs neither setting.
"""
from __future__ import annotations

import csv
from collections import Counter
from typing import Any, BinaryIO

DELIMITERS = (",", ";", "\t", "|")  # in order of preference where several fit alike
HEAD_BYTES = 1 << 16
HEAD_LINES = 30


def head_lines(handle: BinaryIO, encoding: str | None) -> list[str]:
    """The first lines of a file opened in binary, read without moving it (it is rewound)."""
    raw = handle.read(HEAD_BYTES)
    handle.seek(0)
    lines = raw.decode(encoding or "utf-8", errors="replace").splitlines()
    if len(raw) == HEAD_BYTES:
        lines = lines[:-1]  # cut off mid-line
    return lines[:HEAD_LINES]


def title_rows(rows: list[list]) -> int:
    """How many of a file's first rows are a report's title above its header: the rows before the
    first that has as many fields as most rows below have ('Exported 1 May; 10:00' has two where the
    data has five). Rows of a sheet have their empty cells at the end left off first."""
    widths = [len(row) for row in rows]
    common = Counter(w for w in widths if w >= 2).most_common(1)
    if not common:
        return 0  # a one-column file: its first line is its header
    return next(i for i, w in enumerate(widths) if w >= common[0][0])


def sheet_rows(cells: list[list]) -> list[list[str]]:
    """A sheet's first rows as text, each without the empty cells at its end."""
    rows = [["" if c is None or c != c else str(c).strip() for c in row] for row in cells]  # c != c: NaN
    return [row[:max((i + 1 for i, c in enumerate(row) if c), default=0)] for row in rows]


def sheet_title_rows(book: Any, sheet: int | str = 0) -> int:
    """How many title lines stand above the header of a sheet of a loaded workbook (pandas.ExcelFile)."""
    return title_rows(sheet_rows(book.parse(sheet, header=None, nrows=HEAD_LINES, dtype=str).to_numpy().tolist()))


def guess_delimiter(lines: list[str], quotechar: str = '"') -> str:
    """The delimiter that splits the lines below any title into the same number of fields (more
    than one) most consistently; a comma where none does."""
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        rows = list(csv.reader(lines, delimiter=delimiter, quotechar=quotechar))
        widths = [len(row) for row in rows[title_rows(rows):] if row]
        if not widths:
            continue
        width, hits = Counter(widths).most_common(1)[0]
        score = (hits / len(widths), width)
        if width > 1 and score > best_score:
            best, best_score = delimiter, score
    return best


def csv_layout(lines: list[str], delimiter: str | None, quotechar: str, header: bool,
               skip_rows: int | None) -> tuple[str, int]:
    """(delimiter, lines to skip before the header): the settings given, else read from `lines`."""
    delimiter = delimiter or guess_delimiter(lines, quotechar)
    if skip_rows is None:
        skip_rows = title_rows(list(csv.reader(lines, delimiter=delimiter, quotechar=quotechar))) if header else 0
    return delimiter, skip_rows

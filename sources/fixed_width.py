"""Fixed-width text files: the record layout of a mainframe or ledger export, and reading it.

Older departmental systems (COBOL batch jobs, banking and ledger packages) export one record per line
with each field at a fixed position and padded with blanks, no delimiter: '0001001SMITH     JOHN'. A
silo file gives the layout as such systems document it (`fixed_width.columns`: each field's name,
1-based start and width), or leaves it to the file: each word of the header line starts a field that
runs to the next (refused where a value runs on across that point: the cut would be a guess), and
without a header each run of character positions some line fills is one field.
Values are read as text and stripped of their padding. A line longer than the layout holds more than
its fields and is refused, naming the file and line: reading it would drop what lies past the last field.
"""
from __future__ import annotations

import io
import itertools
import re
from typing import Any, BinaryIO, Iterator

import pandas as pd

from sources.csv_layout import DELIMITERS
from sources.encoding import UndecodableFileError, describe_decode_error
from sources.errors import MalformedFileError

CHUNK_LINES = 50_000
LAYOUT_LINES = 100  # lines a layout is read from where the silo file gives none
_WORD = re.compile(r"\S+")


def infer_columns(lines: list[str], header: bool = True) -> list[dict[str, Any]]:
    """The layout (name, start, width) of a file's first lines: with a header, a field at each of its
    words, running to the next word (the last to the longest line); else one field per run of character
    positions some line fills, named col_1, col_2, …"""
    lines = [line.rstrip("\r\n") for line in lines if line.strip()]
    if not lines:
        return []
    end = max(len(line) for line in lines)
    if header:
        words = list(_WORD.finditer(lines[0]))
        starts = [w.start() for w in words] + [end]
        return [{"name": w.group(), "start": s + 1, "width": max(starts[i + 1], w.end()) - s}
                for i, (w, s) in enumerate(zip(words, starts))]
    filled = [any(i < len(line) and not line[i].isspace() for line in lines) for i in range(end)]
    runs = [m.span() for m in re.finditer(r"1+", "".join("1" if f else "0" for f in filled))]
    return [{"name": f"col_{k}", "start": a + 1, "width": b - a} for k, (a, b) in enumerate(runs, start=1)]


def crossings(lines: list[str], layout: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
    """(index into lines, field, next field) wherever a value runs on across a field's end: a layout
    read from a header that the values do not keep to ('VAN DER BERG' past the next header word)."""
    found = []
    for i, line in enumerate(lines):
        for a, b in zip(layout, layout[1:]):
            cut = b["start"] - 1
            if 0 < cut < len(line) and not line[cut - 1].isspace() and not line[cut].isspace():
                found.append((i, a["name"], b["name"]))
                break
    return found


def looks_fixed_width(lines: list[str]) -> bool:
    """A text file no delimiter splits whose header shows three fields or more and whose data lines
    mostly keep to them (lines of prose run across any such fields)."""
    body = [line for line in lines if line.strip()]
    if len(body) < 2 or any(sum(d in line for line in body) * 2 > len(body) for d in DELIMITERS):
        return False  # most lines hold a delimiter (a report's title above a CSV header holds none)
    layout = infer_columns(body)
    crossed = {i for i, _, _ in crossings(body[1:], layout)}
    return len(layout) >= 3 and len(crossed) * 2 < len(body) - 1


def read_fixed_width(handle: BinaryIO, columns: list[Any] | None, encoding: str | None, header: bool,
                     skip_rows: int, where: str) -> Iterator[pd.DataFrame]:
    """Frames of text values (None for blank fields), CHUNK_LINES lines at a time. `columns`: the
    layout (dicts or models with name, start, width), else read from the file's first lines."""
    text = io.TextIOWrapper(handle, encoding=encoding or "utf-8", newline=None)
    try:
        lines = _numbered_lines(text, skip_rows)
        head = next(lines, None) if header else None
        if header and head is None:
            return
        ahead = list(itertools.islice(lines, LAYOUT_LINES))  # what a layout is read from
        layout = _layout(columns) if columns else _inferred(head, ahead, header, where)
        yield from _frames(itertools.chain(ahead, lines), layout, where)
    except UnicodeDecodeError as exc:
        raise UndecodableFileError(describe_decode_error(exc, where, encoding)) from None
    finally:
        text.detach()  # the caller closes the file


def _frames(lines: Iterator[tuple[int, str]], layout: list[dict[str, Any]], where: str) -> Iterator[pd.DataFrame]:
    spans = [(c["name"], c["start"] - 1, c["width"]) for c in layout]
    limit = max(start + width for _, start, width in spans)
    names = [name for name, _, _ in spans]
    chunk: list[list[str | None]] = []
    for number, line in lines:
        length = len(line.rstrip())
        if not length:
            continue
        if length > limit:
            raise MalformedFileError(
                f"{where}, line {number}: {length} characters where the layout ends at {limit} "
                "(check fixed_width.columns in the silo file, or the line is shifted)")
        chunk.append([line[start:start + width].strip() or None for _, start, width in spans])
        if len(chunk) == CHUNK_LINES:
            yield pd.DataFrame(chunk, columns=names, dtype=object)
            chunk = []
    if chunk:
        yield pd.DataFrame(chunk, columns=names, dtype=object)


def _inferred(head: tuple[int, str] | None, ahead: list[tuple[int, str]], header: bool,
              where: str) -> list[dict[str, Any]]:
    """The layout of the file's first lines, refused where a value runs across it (its cut would be a guess)."""
    layout = infer_columns([line for _, line in ([head] if head else []) + ahead], header)
    crossed = crossings([line for _, line in ahead], layout) if header else []
    if crossed:
        i, field, after = crossed[0]
        raise MalformedFileError(
            f"{where}, line {ahead[i][0]}: a value runs on from field {field!r} into {after!r}, so the header does "
            "not show where fields end; give the record layout as fixed_width.columns in the silo file")
    return layout


def _layout(columns: list[Any]) -> list[dict[str, Any]]:
    return [c if isinstance(c, dict) else {"name": c.name, "start": c.start, "width": c.width} for c in columns]


def _numbered_lines(text: io.TextIOWrapper, skip_rows: int) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text, start=1):
        if number > skip_rows:
            yield number, line.rstrip("\n")

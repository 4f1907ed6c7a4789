"""`hub review`: a person decides the pairs the matcher was unsure about.

Each pair is shown side by side with the matcher's per-field evidence; the answer (match / not a
match / skip) is appended to `identity.review_decisions` with the reviewer's name and the time.
The warehouse is opened only for the moment of reading the queue and writing each decision, so a
reviewer thinking about a pair never blocks a pipeline run that needs to write.
"""
from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Literal, Optional

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from hub.settings import warehouse_path
from identity_resolution.review import DISPLAY_FIELDS
from warehouse.connection import open_warehouse
from warehouse.review_store import load_review_queue, record_decision

app = typer.Typer()
console = Console()

ANSWERS = {"m": "match", "n": "non_match", "s": "skip", "q": "quit"}
Answer = Literal["m", "n", "s", "q"]  # typer validates prompt input against this and asks again
PROMPT = "[m]atch / [n]ot a match / [s]kip / [q]uit"


@app.command()
def review(
    warehouse: Optional[Path] = typer.Option(None, "--warehouse", help="Warehouse file (default: $HUB_WAREHOUSE, else data/hub.duckdb)."),
    reviewer: Optional[str] = typer.Option(None, "--reviewer", help="Your name, stored with each decision (default: $HUB_REVIEWER, else your login)."),
    limit: int = typer.Option(0, "--limit", min=0, help="Stop after this many pairs (0: until the queue is empty)."),
) -> None:
    """Review uncertain record pairs: match, not a match, or skip."""
    path = warehouse_path(warehouse)
    if not path.exists():
        console.print(f"[red]No warehouse at {path}[/]: run `hub demo` or `hub run` first, or pass --warehouse.")
        raise typer.Exit(1)
    name = reviewer or os.environ.get("HUB_REVIEWER") or getpass.getuser()
    with open_warehouse(path, read_only=True) as con:
        queue = load_review_queue(con, limit=limit or None)
    if queue.empty:
        console.print("The review queue is empty: nothing to decide. Run `hub resolve` to refresh it.")
        return
    console.print(f"{len(queue):,} pair(s) to review as [bold]{name}[/]. Decisions are saved as you go.")
    tally = {"match": 0, "non_match": 0, "skip": 0}
    for position, (_, pair) in enumerate(queue.iterrows(), start=1):
        show_pair(pair, position, len(queue))
        answer = ANSWERS[typer.prompt(PROMPT, type=Answer, show_choices=False)]
        if answer == "quit":
            break
        with open_warehouse(path) as con:
            record_decision(con, pair, answer, name)
        tally[answer] += 1
    print_tally(tally)


def show_pair(pair: pd.Series, position: int, total: int) -> None:
    """Both records side by side, then the evidence behind the match probability."""
    console.rule(f"Pair {position} of {total}")
    console.print(
        f"match probability [bold]{pair['match_probability']:.2f}[/]"
        + (f"   reason: {pair['reason']}" if _present(pair.get("reason")) else "")
        + (f"   value at stake: {pair['value']:,.0f}" if _present(pair.get("value")) and pair["value"] else "")
    )
    console.print(records_table(pair))
    evidence = evidence_table(pair)
    if evidence is not None:
        console.print(evidence)


def records_table(pair: pd.Series) -> Table:
    table = Table(show_header=True, header_style="bold")
    table.add_column("field")
    table.add_column(f"{pair['silo_l']} / {pair['source_record_id_l']}")
    table.add_column(f"{pair['silo_r']} / {pair['source_record_id_r']}")
    for field in DISPLAY_FIELDS:
        left, right = pair.get(f"{field}_l"), pair.get(f"{field}_r")
        if not _present(left) and not _present(right):
            continue
        style = "green" if _present(left) and str(left).casefold() == str(right).casefold() else "yellow"
        table.add_row(field, _cell(left), _cell(right), style=style)
    return table


def evidence_table(pair: pd.Series) -> Table | None:
    """Per-field comparison level and log2 Bayes factor, strongest evidence first.

    Fields the matcher could not compare (a value missing on one side: no evidence either way) are
    left out of the rows and counted in the caption, so the table shows what actually decided.
    """
    fields = [c[3:] for c in pair.index if c.startswith("bf_")]
    rows, silent = [], []
    for field in fields:
        bf, level = pair[f"bf_{field}"], pair.get(f"gamma_{field}")
        if not _present(bf):
            continue
        if float(bf) == 0.0 and (not _present(level) or float(level) < 0):
            silent.append(field)
        else:
            rows.append((field, level, float(bf)))
    if not rows and not silent:
        return None
    caption = f"not comparable (missing on a side): {', '.join(silent)}" if silent else None
    table = Table(title="evidence: log2 Bayes factor, + for a match, - against", caption=caption,
                  header_style="bold")
    table.add_column("field")
    table.add_column("level", justify="right")
    table.add_column("log2 BF", justify="right")
    for field, level, bf in sorted(rows, key=lambda r: -abs(r[2])):
        colour = "green" if bf > 0 else "red" if bf < 0 else "white"
        table.add_row(field, _level(level), f"[{colour}]{bf:+.2f}[/]")
    table.add_row("[bold]sum of fields[/]", "", f"[bold]{sum(r[2] for r in rows):+.2f}[/]")
    if _present(pair.get("match_weight")):
        table.add_row("match weight (with prior)", "", f"{float(pair['match_weight']):+.2f}")
    return table


def print_tally(tally: dict[str, int]) -> None:
    table = Table(title="this session", header_style="bold")
    table.add_column("decision")
    table.add_column("pairs", justify="right")
    for decision, count in tally.items():
        table.add_row(decision.replace("_", " "), str(count))
    console.print(table)


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and pd.isna(value)) and value is not pd.NA


def _level(value) -> str:
    """Comparison levels are small integers (a column holding a null turns them into floats)."""
    if _present(value) and float(value).is_integer():
        return str(int(value))
    return _cell(value)


def _cell(value) -> str:
    return str(value) if _present(value) else "—"

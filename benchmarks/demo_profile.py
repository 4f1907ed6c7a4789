"""Profile the demo data: how people spread over silos, and how noisy each silo's fields are.

Usage: python benchmarks/demo_profile.py [N_PEOPLE]   (default 3000, seed 7)
"""
from __future__ import annotations

import sys

import pandas as pd
from rich.console import Console
from rich.table import Table

from hub.demo.generator import generate_canonical
from hub.demo.pools import JUNK_EMAILS, JUNK_PHONES

FIELDS = ["given_name", "family_name", "full_name", "email", "phone", "address_line", "postcode", "birth_date",
          "national_id", "company"]


def spread_table(truth: pd.DataFrame) -> Table:
    per_person = truth.groupby("person_id")["silo"].nunique().value_counts().sort_index()
    twice = (truth.groupby(["person_id", "silo"]).size() > 1).groupby(level="silo").sum()
    table = Table(title=f"{truth['person_id'].nunique():,} people, {len(truth):,} records")
    table.add_column("silos a person is in", justify="right")
    table.add_column("people", justify="right")
    for k, v in per_person.items():
        table.add_row(str(k), f"{v:,}")
    table.add_row("duplicate accounts", ", ".join(f"{s} {n}" for s, n in twice.items()))
    return table


def fields_table(records: pd.DataFrame) -> Table:
    table = Table(title="share of records with the field present (junk in brackets)")
    table.add_column("silo")
    for f in FIELDS:
        table.add_column(f, justify="right")
    junk = set(JUNK_EMAILS) | set(JUNK_PHONES)
    for silo, rows in records.groupby("silo"):
        cells = []
        for f in FIELDS:
            present = rows[f].notna().mean()
            junky = rows[f].isin(junk).mean()
            cells.append("" if present == 0 else f"{present:.0%}" + (f" ({junky:.1%})" if junky else ""))
        table.add_row(silo, *cells)
    return table


def phone_formats(records: pd.DataFrame) -> Table:
    phones = records["phone"].dropna()
    shapes = phones.str.replace(r"\d", "9", regex=True).value_counts(normalize=True).head(8)
    table = Table(title="phone formats")
    table.add_column("shape")
    table.add_column("share", justify="right")
    for shape, share in shapes.items():
        table.add_row(shape, f"{share:.1%}")
    return table


def main(n_people: int) -> None:
    records, truth = generate_canonical(n_people, seed=7)
    console = Console(width=170)
    console.print(spread_table(truth))
    console.print(fields_table(records))
    console.print(phone_formats(records))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)

"""How much of the demo's true matching is findable at all: a recall ceiling for any matcher.

For every pair of records of the same person (from the ground truth), check whether they share
plain evidence after light normalisation: the same mailbox (case, gmail dots and +tags
ignored), the same 10-digit phone, the same given (nickname-mapped) and family name, or the
same given name and ZIP. Linking exactly those pairs, and closing transitively, gives the best
pairwise recall a matcher can reach without guessing; the rest share no usable evidence.

Usage: python benchmarks/demo_ceiling.py [N_PEOPLE] [SEED]   (default 3000 7; needs scipy)
"""
from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from hub.demo.generator import generate_canonical
from hub.demo.pools import JUNK_EMAILS, JUNK_PHONES, nicknames
from hub.demo.strings import per_unique
from hub.demo.typos import strip_accents


def _letters(values: pd.Series) -> pd.Series:
    folded = per_unique(values.fillna("").to_numpy(dtype=object), strip_accents)
    return pd.Series(folded, index=values.index).str.lower().str.replace(r"[^a-z ]", "", regex=True).str.strip()


def name_keys(records: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(given, family) keys from split or free-text names ('LAST, First', 'First M Last')."""
    full = records["full_name"].fillna("")
    comma = full.str.contains(",")
    parts = full.str.replace(",", " ").str.split()
    given = records["given_name"].where(records["given_name"].notna(),
                                        pd.Series(np.where(comma, parts.str[1], parts.str[0]), index=records.index))
    family = records["family_name"].where(records["family_name"].notna(),
                                          pd.Series(np.where(comma, parts.str[0], parts.str[-1]), index=records.index))
    single_token = (parts.str.len().fillna(0) == 1) & records["family_name"].isna()  # "Sarah": no family name
    family = family.where(~single_token, None)
    formal = dict(zip(nicknames()["nickname"].str.lower(), nicknames()["formal"].str.lower()))
    given = _letters(given.astype(object))
    return given.map(lambda g: formal.get(g, g)), _letters(family.astype(object)).str.replace(" ", "")


def contact_keys(records: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    email = records["email"].fillna("").str.lower().where(~records["email"].isin(JUNK_EMAILS), "")
    local, domain = email.str.split("@").str[0].str.split("+").str[0], email.str.split("@").str[1].fillna("")
    local = local.where(domain != "gmail.com", local.str.replace(".", "", regex=False))
    mailbox = (local + "@" + domain).where(email != "", "")
    digits = records["phone"].fillna("").str.split("x").str[0].str.replace(r"\D", "", regex=True).str[-10:]
    junk = set(pd.Series(JUNK_PHONES).str.replace(r"\D", "", regex=True))
    phone = digits.where((digits.str.len() == 10) & ~digits.isin(junk), "")
    from_line = records["address_line"].fillna("").str.extract(r"(\d{4,5})(?:-\d{4})?$")[0].fillna("")
    zip5 = records["postcode"].fillna("").str.slice(0, 5).where(records["postcode"].notna(), from_line).str.zfill(5)
    return mailbox, phone, zip5.where(zip5 != "00000", "")


def main(n_people: int, seed: int) -> None:
    records, truth = generate_canonical(n_people, seed=seed)
    keys = pd.DataFrame({"person": truth["person_id"].to_numpy(), "silo": records["silo"].to_numpy()})
    keys["given"], keys["family"] = name_keys(records)
    keys["mailbox"], keys["phone"], keys["zip"] = contact_keys(records)
    keys = keys.fillna("").reset_index(names="row")
    pairs = keys.merge(keys, on="person", suffixes=("_l", "_r"))
    pairs = pairs[pairs["row_l"] < pairs["row_r"]]

    def same(col: str) -> pd.Series:
        return (pairs[f"{col}_l"] != "") & (pairs[f"{col}_l"] == pairs[f"{col}_r"])

    evidence = {"mailbox": same("mailbox"), "phone": same("phone"),
                "full name": same("given") & same("family"), "given name + ZIP": same("given") & same("zip")}
    linked = np.logical_or.reduce(list(evidence.values()))
    edges = pairs[linked]
    graph = coo_matrix((np.ones(len(edges)), (edges["row_l"], edges["row_r"])), shape=(len(keys), len(keys)))
    _, component = connected_components(graph, directed=False)
    found = pd.Series(component).groupby([keys["person"], component]).size()
    true_sizes = keys.groupby("person").size()
    ceiling = float((found * (found - 1) / 2).sum() / (true_sizes * (true_sizes - 1) / 2).sum())

    table = Table(title=f"{n_people:,} people (seed {seed}): {len(keys):,} records, {len(pairs):,} true pairs")
    table.add_column("evidence shared by a true pair")
    table.add_column("share of pairs", justify="right")
    for name, mask in evidence.items():
        table.add_row(name, f"{mask.mean():.1%}")
    table.add_row("none of these", f"{(~linked).mean():.1%}")
    table.add_row("[b]recall ceiling after transitive closure[/]", f"[b]{ceiling:.3f}[/]")
    Console(width=120).print(table)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    main(args[0] if args else 3000, args[1] if len(args) > 1 else 7)

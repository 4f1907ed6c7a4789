"""Soak benchmark: N cycles of "change the demo silos, sync, resolve", checking after every cycle
that nothing was lost and that customers nobody touched keep their ids.

Each cycle inserts, updates and deletes rows and adds a few malformed ones in the sales and
marketing CSV files (deletes detected by a full refresh), the accounting SQLite ledger
(incremental by updated_at) and the credit Parquet extract; then runs the whole hub job
(Dagster, dlt, staging, resolution, marts) in-process and checks:

- lost = silo rows that are neither staged nor rejected, plus raw rows not accounted for
  (raw = staged + rejected + suppressed), plus live staged records not mapped exactly once in
  the xref. Must be 0.
- ids changed = records of untouched customers (no record of theirs changed, none joined them)
  whose customer_id changed. Must be 0.

    python benchmarks/soak.py --cycles 5 --people 600
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import yaml
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

console = Console(width=max(Console().width, 130))
DELETE_BY_REFRESH = {"sales", "marketing"}  # CSV silos whose deletes the soak switches on


@dataclass
class Changes:
    """What one cycle did to the silos, by (silo, source_record_id)."""
    inserted: set = field(default_factory=set)
    updated: set = field(default_factory=set)
    deleted: set = field(default_factory=set)
    malformed: set = field(default_factory=set)

    @property
    def touched(self) -> set:
        return self.inserted | self.updated | self.deleted | self.malformed

    def add(self, kind: str, silo: str, ids) -> None:
        getattr(self, kind).update((silo, str(i)) for i in ids)


# --- setup ------------------------------------------------------------------------------------

def prepare(workdir: Path, people: int, seed: int) -> Path:
    """Demo silos, silo files (CSV silos delete by full refresh), env for the demo; returns the warehouse."""
    from hub.demo.generator import generate_demo

    generate_demo(workdir / "demo", n_people=people, seed=seed)
    silos = workdir / "silos"
    shutil.copytree(REPO / "silos", silos)
    for name in DELETE_BY_REFRESH:
        path = silos / f"{name}.yaml"
        config = yaml.safe_load(path.read_text())
        config["deletes"] = {"mode": "full_refresh"}
        path.write_text(yaml.safe_dump(config, sort_keys=False))
    os.environ.update({"HUB_DEMO_DIR": str(workdir / "demo"), "HUB_SILOS_DIR": str(silos),
                       "HUB_HASH_KEY": "soak-benchmark-key", "SUPPORT_API_TOKEN": secrets.token_urlsafe(16)})
    return workdir / "hub.duckdb"


# --- changing the silos -----------------------------------------------------------------------

def _pick(rng: np.random.Generator, frame: pd.DataFrame, n: int, exclude: set) -> pd.Index:
    candidates = frame.index[~frame.index.isin(list(exclude))]
    return pd.Index(rng.choice(candidates, size=min(n, len(candidates)), replace=False))


def change_csv(path: Path, silo: str, id_col: str, rng, changes: Changes, cycle: int, n: int,
               update: dict, bad: dict, make_new) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.index = frame[id_col]
    upd = _pick(rng, frame, n, set())
    for column, fn in update.items():
        frame.loc[upd, column] = [fn(v, cycle) for v in frame.loc[upd, column]]
    dele = _pick(rng, frame, max(1, n // 2), set(upd))
    frame = frame.drop(index=dele)
    new = make_new(frame[~frame[id_col].str.endswith("X")], cycle, n)  # not copies of malformed rows
    malformed = new.iloc[:1].copy()
    for column, value in bad.items():
        malformed[column] = value
    malformed[id_col] = [f"{v}X" for v in malformed[id_col]]
    pd.concat([frame, new, malformed]).to_csv(path, index=False)
    changes.add("updated", silo, upd)
    changes.add("deleted", silo, dele)
    changes.add("inserted", silo, new[id_col])
    changes.add("malformed", silo, malformed[id_col])


def _stamp(cycle: int) -> str:
    return f"2030-01-{cycle + 1:02d}T12:00:00Z"


def change_sales(demo: Path, rng, changes: Changes, cycle: int, n: int) -> None:
    path = sorted((demo / "sales").glob("customers_*.csv"))[-1]

    def make_new(frame, c, k):
        new = frame.sample(k, random_state=int(rng.integers(1 << 30))).copy()
        new["customer_id"] = [f"9{c:02d}{i:04d}" for i in range(k)]
        new["email"] = [f"soak.{c}.{i}@example.net" for i in range(k)]
        new["first_name"] = [f"Soaky{c}{chr(65 + i % 26)}" for i in range(k)]
        new["updated_at"] = _stamp(c)
        return new

    change_csv(path, "sales", "customer_id", rng, changes, cycle, n,
               update={"ship_street": lambda v, c: f"{10 + c} Soak Street", "updated_at": lambda v, c: _stamp(c)},
               bad={"last_purchase_date": "31/31/2031"}, make_new=make_new)


def change_marketing(demo: Path, rng, changes: Changes, cycle: int, n: int) -> None:
    def make_new(frame, c, k):
        new = frame.sample(k, random_state=int(rng.integers(1 << 30))).copy()
        new["subscriber_id"] = [f"SUBSOAK{c:02d}{i:04d}" for i in range(k)]
        new["email"] = [f"list.{c}.{i}@example.net" for i in range(k)]
        return new

    change_csv(demo / "marketing" / "subscribers.csv", "marketing", "subscriber_id", rng, changes, cycle, n,
               update={"postcode": lambda v, c: f"{(int(v) if v.isdigit() else 10000) % 90000 + 10000 + c:05d}"},
               bad={"subscribed": "perhaps"}, make_new=make_new)


def change_accounting(demo: Path, rng, changes: Changes, cycle: int, n: int) -> None:
    """SQLite ledger: updates bump updated_at (incremental sync); no deletes (the ledger has no flag)."""
    with sqlite3.connect(demo / "accounting.sqlite") as con:
        ids = [r[0] for r in con.execute("SELECT account_no FROM ledger_customers ORDER BY account_no")]
        upd = list(rng.choice(ids, size=n, replace=False))
        con.executemany("UPDATE ledger_customers SET balance = balance + 1, updated_at = ? WHERE account_no = ?",
                        [(_stamp(cycle), i) for i in upd])
        rows = con.execute(f"SELECT * FROM ledger_customers WHERE account_no IN ({','.join('?' * n)})",
                           list(rng.choice(ids, size=n, replace=False))).fetchall()
        new = [(f"ACC-SOAK{cycle:02d}{i:03d}", *row[1:5], _stamp(cycle)) for i, row in enumerate(rows)]
        # No malformed rows here: a text balance in the DECIMAL column fails the whole SQL extraction
        # (SQLAlchemy's Numeric conversion), and a bad updated_at would corrupt the incremental cursor.
        con.executemany("INSERT INTO ledger_customers VALUES (?, ?, ?, ?, ?, ?)", new)
    changes.add("updated", "accounting", upd)
    changes.add("inserted", "accounting", [r[0] for r in new])


def change_credit(demo: Path, rng, changes: Changes, cycle: int, n: int) -> None:
    path = demo / "credit" / "applications.parquet"
    frame = pd.read_parquet(path)
    frame.index = frame["application_id"]
    upd = _pick(rng, frame, n, set())
    frame.loc[upd, "credit_limit"] = frame.loc[upd, "credit_limit"] + 100
    bad = frame.iloc[:1].copy()
    bad["application_id"] = f"APP-SOAKBAD{cycle:02d}"
    bad["dob"] = "32/13/1984"
    pd.concat([frame, bad]).to_parquet(path, index=False)
    changes.add("updated", "credit", upd)
    changes.add("malformed", "credit", bad["application_id"])


def change_silos(demo: Path, rng, cycle: int, n: int) -> Changes:
    changes = Changes()
    change_sales(demo, rng, changes, cycle, n)
    change_marketing(demo, rng, changes, cycle, n)
    change_accounting(demo, rng, changes, cycle, n)
    change_credit(demo, rng, changes, cycle, n)
    return changes


# --- what the silos hold now (independent of the pipeline) ------------------------------------

def source_ids(demo: Path) -> set:
    sales = pd.concat([pd.read_csv(p, dtype=str, usecols=["customer_id"]) for p in (demo / "sales").glob("customers_*.csv")])
    marketing = pd.read_csv(demo / "marketing" / "subscribers.csv", dtype=str, usecols=["subscriber_id"])
    with sqlite3.connect(demo / "accounting.sqlite") as con:
        accounting = [r[0] for r in con.execute("SELECT account_no FROM ledger_customers")]
    credit = pd.read_parquet(demo / "credit" / "applications.parquet", columns=["application_id"])
    return ({("sales", i) for i in sales["customer_id"]} | {("marketing", i) for i in marketing["subscriber_id"]}
            | {("accounting", i) for i in accounting} | {("credit", i) for i in credit["application_id"]})


# --- checks after a cycle ---------------------------------------------------------------------

def lost_rows(con: duckdb.DuckDBPyConnection, silo_rows: set) -> dict[str, int]:
    live = set(con.execute("SELECT silo, source_record_id FROM staging.customer_records "
                           "WHERE NOT coalesce(is_deleted, FALSE)").fetchall())
    rejected = set(con.execute("SELECT silo, source_record_id FROM staging.rejected_records").fetchall())
    counts = con.execute(
        """SELECT silo, arg_max(raw_rows - staged_rows - rejected_rows - coalesce(suppressed_rows, 0), finished_at)
           FROM ops.sync_runs WHERE step = 'stage' GROUP BY silo""").fetchall()
    mapped = con.execute(
        """SELECT count(*) FROM staging.customer_records s
           LEFT JOIN (SELECT silo, source_record_id, count(*) AS n FROM identity.customer_xref GROUP BY ALL) x
           USING (silo, source_record_id)
           WHERE NOT coalesce(s.is_deleted, FALSE) AND coalesce(x.n, 0) <> 1""").fetchall()[0][0]
    extra = con.execute(
        """SELECT count(*) FROM identity.customer_xref x LEFT JOIN staging.customer_records s USING (silo, source_record_id)
           WHERE s.silo IS NULL OR coalesce(s.is_deleted, FALSE)""").fetchall()[0][0]
    return {
        "source_rows_missing": len(silo_rows - live - rejected),
        "raw_unreconciled": int(sum(abs(n) for _, n in counts)),
        "not_mapped_once": int(mapped) + int(extra),
    }


def ids_changed(before: pd.DataFrame, after: pd.DataFrame, touched: set) -> tuple[int, int]:
    """Records of customers untouched this cycle whose customer_id changed; and how many were checked."""
    def untouched_customers(xref: pd.DataFrame) -> set:
        keys = pd.Series(list(zip(xref["silo"], xref["source_record_id"])), index=xref.index)
        hit = xref.loc[keys.isin(touched), "customer_id"]
        return set(xref["customer_id"]) - set(hit)

    stable_before, stable_after = untouched_customers(before), untouched_customers(after)
    merged = before.merge(after, on=["silo", "source_record_id"], suffixes=("_before", "_after"))
    # Unchanged customer: none of its records touched before the cycle, and no touched record
    # in the cluster it ends up in (a new record joining a customer changes that customer).
    checked = merged[merged["customer_id_before"].isin(stable_before) & merged["customer_id_after"].isin(stable_after)]
    return int((checked["customer_id_before"] != checked["customer_id_after"]).sum()), len(checked)


def explain_changes(before: pd.DataFrame, after: pd.DataFrame, touched: set) -> None:
    """Print each untouched record whose customer id changed, with its cluster before and after."""
    merged = before.merge(after, on=["silo", "source_record_id"], suffixes=("_before", "_after"))
    moved = merged[merged["customer_id_before"] != merged["customer_id_after"]]
    for row in moved.itertuples():
        if (row.silo, row.source_record_id) in touched:
            continue
        members = lambda xref, cid: ", ".join(  # noqa: E731
            f"{s}:{r}{'*' if (s, r) in touched else ''}"
            for s, r in xref.loc[xref["customer_id"] == cid, ["silo", "source_record_id"]].itertuples(index=False))
        console.print(f"  {row.silo}:{row.source_record_id} {row.customer_id_before} ({members(before, row.customer_id_before)})"
                      f" -> {row.customer_id_after} ({members(after, row.customer_id_after)})  * = touched", markup=False)


def read_xref(warehouse: Path) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("SELECT silo, source_record_id, customer_id FROM identity.customer_xref").df()


def raw_rows_loaded(warehouse: Path, since: float) -> int:
    """Rows dlt wrote into raw tables by loads that started after `since` (UNIX seconds)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema LIKE 'raw_%' "
                             "AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\'").fetchall()
        return sum(con.execute(f'SELECT count(*) FROM "{s}"."{t}" WHERE CAST(_dlt_load_id AS DOUBLE) >= ?',
                               [since]).fetchall()[0][0] for s, t in tables)


# --- main ---------------------------------------------------------------------------------------

def run_cycle(warehouse: Path) -> None:
    from hub.runner import run_job
    from pipelines.build import MAIN_JOB

    outcome = run_job(warehouse, Path(os.environ["HUB_SILOS_DIR"]), job_name=MAIN_JOB)
    if not outcome.success:
        raise SystemExit("hub job failed: " + "; ".join(outcome.errors))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--people", type=int, default=600)
    parser.add_argument("--changes", type=int, default=8, help="rows inserted and updated per silo and cycle")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the hub here (default: a temp dir)")
    parser.add_argument("--explain", action="store_true", help="print the records behind every changed id")
    args = parser.parse_args(argv)

    from hub.demo.rest_server import start_support_api

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hub_soak_"))
    workdir.mkdir(parents=True, exist_ok=True)
    warehouse = prepare(workdir, args.people, args.seed)
    api = start_support_api(workdir / "demo" / "support" / "requesters.json", token=os.environ["SUPPORT_API_TOKEN"])
    os.environ["SUPPORT_API_URL"] = api.url
    rng = np.random.default_rng(args.seed)
    table = Table(title=f"Soak: {args.cycles} cycles, {args.people} people, {workdir}")
    for column in ("cycle", "ins", "upd", "del", "bad", "raw loaded", "staged changed", "rejected", "lost",
                   "ids changed", "of unchanged", "customers", "resolve (re-clustered)", "seconds"):
        table.add_column(column, justify="right")
    failures = 0
    try:
        with console.status("cycle 0: first sync of every silo …"):
            started = time.monotonic()
            run_cycle(warehouse)
        console.print(f"initial sync: {time.monotonic() - started:.1f}s")
        for cycle in range(1, args.cycles + 1):
            before = read_xref(warehouse)
            changes = change_silos(workdir / "demo", rng, cycle, args.changes)
            started, load_start = time.monotonic(), time.time()
            with console.status(f"cycle {cycle}: sync, resolve, publish …"):
                run_cycle(warehouse)
            seconds = time.monotonic() - started
            after = read_xref(warehouse)
            with duckdb.connect(str(warehouse), read_only=True) as con:
                lost = lost_rows(con, source_ids(workdir / "demo"))
                rejected = con.execute("SELECT count(*) FROM staging.rejected_records").fetchall()[0][0]
                # unchanged records keep their loaded_at, so this counts new, changed and deleted ones
                staged_changed = con.execute("SELECT count(*) FROM staging.customer_records WHERE loaded_at >= "
                                             "to_timestamp(?)::TIMESTAMP", [load_start - 1]).fetchall()[0][0]
                mode, reclustered = con.execute("SELECT mode, reclustered_records FROM ops.resolver_state").fetchone()
            changed, checked = ids_changed(before, after, changes.touched)
            if args.explain and changed:
                console.print(f"cycle {cycle}: untouched records whose id changed (counted when neither cluster has a *)")
                explain_changes(before, after, changes.touched)
            lost_total = sum(lost.values())
            failures += int(lost_total > 0 or changed > 0)
            table.add_row(str(cycle), str(len(changes.inserted)), str(len(changes.updated)), str(len(changes.deleted)),
                          str(len(changes.malformed)), f"{raw_rows_loaded(warehouse, load_start - 1):,}",
                          f"{staged_changed:,}", f"{rejected:,}",
                          f"[{'red' if lost_total else 'green'}]{lost_total}[/]"
                          + (f" {lost}" if lost_total else ""),
                          f"[{'red' if changed else 'green'}]{changed}[/]", f"{checked:,}",
                          f"{after['customer_id'].nunique():,}", f"{mode[:4]} {reclustered:,}",
                          f"{seconds:.1f}")
    finally:
        api.stop()
    console.print(table)
    console.print("[green]Nothing lost, no unchanged customer changed id.[/]" if not failures
                  else f"[red]{failures} cycle(s) lost rows or changed ids of unchanged customers.[/]")
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())

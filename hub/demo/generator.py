"""Generate the demo: five departmental silos about one seeded population, plus the ground truth.

`generate_demo` writes the silo files the way each department keeps them (SQLite ledger, CSV
exports, a Parquet file, a JSON file behind a REST API, a CSV mailing list) and `truth.csv`.
`generate_canonical` returns the same records as canonical raw rows, for benchmarks at scale.
Both are deterministic: the same seed gives the same people, records and bytes.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hub.demo import silos
from hub.demo.population import draw_people
from hub.demo.records import SILOS, memberships, true_values

TRUTH_COLUMNS = ["silo", "source_record_id", "person_id"]


@dataclass
class DemoManifest:
    """What `generate_demo` wrote: one path per silo, row counts, and the truth file."""
    out_dir: Path
    n_people: int
    seed: int
    paths: dict[str, Path] = field(default_factory=dict)       # silo -> file (sales: its folder)
    files: dict[str, list[Path]] = field(default_factory=dict)  # silo -> every file written
    row_counts: dict[str, int] = field(default_factory=dict)   # silo -> records
    truth_path: Path | None = None

    @property
    def total_records(self) -> int:
        return sum(self.row_counts.values())

    @property
    def support_json(self) -> Path:
        return self.paths["support"]

    def to_dict(self) -> dict:
        """Plain JSON-ready summary (paths as strings)."""
        return {"out_dir": str(self.out_dir), "n_people": self.n_people, "seed": self.seed,
                "paths": {k: str(v) for k, v in self.paths.items()},
                "files": {k: [str(p) for p in v] for k, v in self.files.items()},
                "row_counts": dict(self.row_counts), "total_records": self.total_records,
                "truth_path": str(self.truth_path) if self.truth_path else None}


def build_silos(n_people: int, seed: int = 7) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """(silo tables with a hidden person_id column, canonical frames), keyed by silo name."""
    if n_people < 1:
        raise ValueError(f"n_people must be at least 1, got {n_people}")
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3 + len(SILOS))]
    people = draw_people(n_people, streams[0])
    records = true_values(people, memberships(n_people, streams[1]), streams[2])
    tables, canon = {}, {}
    bounds = np.searchsorted(records["silo_idx"].to_numpy(), np.arange(len(SILOS) + 1))
    for k, (silo, rng) in enumerate(zip(SILOS, streams[3:])):
        rec = records.iloc[bounds[k]:bounds[k + 1]].reset_index(drop=True)  # records come grouped by silo
        tables[silo], canon[silo] = silos.BUILDERS[silo](rec, rng)
    return tables, canon


def generate_canonical(n_people: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(canonical raw records of every silo, truth: silo, source_record_id, person_id)."""
    tables, canon = build_silos(n_people, seed)
    records = pd.concat([canon[s] for s in SILOS], ignore_index=True)
    person = np.concatenate([tables[s]["person_id"].to_numpy() for s in SILOS])
    truth = pd.DataFrame({"silo": records["silo"], "source_record_id": records["source_record_id"],
                          "person_id": person})
    return records, truth


def generate_demo(out_dir: Path, n_people: int = 3000, seed: int = 7) -> DemoManifest:
    """Write the five demo silos and truth.csv under `out_dir`; returns what was written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tables, canon = build_silos(n_people, seed)
    manifest = DemoManifest(out_dir=out_dir, n_people=n_people, seed=seed)
    writers = {"accounting": _write_accounting, "sales": _write_sales, "credit": _write_credit,
               "support": _write_support, "marketing": _write_marketing}
    for silo in SILOS:
        table = tables[silo].drop(columns=["person_id"])
        path, files = writers[silo](table, out_dir)
        manifest.paths[silo], manifest.files[silo] = path, files
        manifest.row_counts[silo] = len(table)
    manifest.truth_path = _write_truth(tables, canon, out_dir)
    return manifest


def _write_accounting(table: pd.DataFrame, out_dir: Path) -> tuple[Path, list[Path]]:
    path = out_dir / "accounting.sqlite"
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as con:
        con.execute("""CREATE TABLE ledger_customers (
            account_no TEXT PRIMARY KEY, customer_name TEXT, billing_address TEXT, phone TEXT,
            balance DECIMAL(12, 2), updated_at TEXT)""")
        rows = table.astype(object).where(table.notna(), None).itertuples(index=False, name=None)
        con.executemany("INSERT INTO ledger_customers VALUES (?, ?, ?, ?, ?, ?)", rows)
    con.close()
    return path, [path]


def _write_sales(table: pd.DataFrame, out_dir: Path) -> tuple[Path, list[Path]]:
    """One export file per year of last update, like a shop's yearly customer exports."""
    folder = out_dir / "sales"
    folder.mkdir(exist_ok=True)
    for old in folder.glob("customers_*.csv"):
        old.unlink()
    year = table["updated_at"].str.slice(0, 4)
    files = []
    for y in sorted(year.unique()):
        path = folder / f"customers_{y}.csv"
        table[year == y].to_csv(path, index=False, lineterminator="\n", float_format="%.2f")
        files.append(path)
    return folder, files


def _write_credit(table: pd.DataFrame, out_dir: Path) -> tuple[Path, list[Path]]:
    folder = out_dir / "credit"
    folder.mkdir(exist_ok=True)
    path = folder / "applications.parquet"
    schema = pa.schema([("application_id", pa.string()), ("applicant_name", pa.string()), ("dob", pa.string()),
                        ("ssn", pa.string()), ("credit_limit", pa.int64()), ("payment_terms", pa.string()),
                        ("updated_at", pa.timestamp("us", tz="UTC")),
                        # Beyond the first contract columns: what an application form also asks.
                        ("home_address", pa.string()), ("phone", pa.string()), ("email", pa.string()),
                        ("employer", pa.string())])
    frame = table.assign(updated_at=pd.to_datetime(table["updated_at"], utc=True))
    pq.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False), path)
    return path, [path]


def _write_support(table: pd.DataFrame, out_dir: Path) -> tuple[Path, list[Path]]:
    folder = out_dir / "support"
    folder.mkdir(exist_ok=True)
    path = folder / "requesters.json"
    records = table.astype(object).where(table.notna(), None).to_dict(orient="records")
    lines = [json.dumps({k: _plain(v) for k, v in r.items()}, ensure_ascii=False) for r in records]
    path.write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8")
    return path, [path]


def _plain(value):
    """NumPy scalars to plain Python for JSON."""
    return value.item() if isinstance(value, np.generic) else value


def _write_marketing(table: pd.DataFrame, out_dir: Path) -> tuple[Path, list[Path]]:
    folder = out_dir / "marketing"
    folder.mkdir(exist_ok=True)
    path = folder / "subscribers.csv"
    frame = table.assign(subscribed=np.where(table["subscribed"], "true", "false"))
    frame.to_csv(path, index=False, lineterminator="\n")
    return path, [path]


def _write_truth(tables: dict[str, pd.DataFrame], canon: dict[str, pd.DataFrame], out_dir: Path) -> Path:
    truth = pd.concat([pd.DataFrame({"silo": canon[s]["silo"], "source_record_id": canon[s]["source_record_id"],
                                     "person_id": tables[s]["person_id"]}) for s in SILOS], ignore_index=True)
    path = out_dir / "truth.csv"
    truth[TRUTH_COLUMNS].to_csv(path, index=False, lineterminator="\n")
    return path

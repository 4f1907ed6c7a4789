"""Figures for the silo layer: sync (dlt extract+normalize+load) and map_records throughput.

Run: /work/venv/bin/python tests/sources/bench_silo_sync.py [ROWS]
"""
from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from sources import load_silo, map_records, read_raw, sync_silo  # noqa: E402


def frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    ids = np.arange(n)
    return pd.DataFrame({
        "account_no": [f"A{i:07d}" for i in ids],
        "customer_name": [f"SMITH{i % 977}, John{i % 101}" for i in ids],
        "billing_address": [f"{i % 9000} Oak St Apt {i % 40}, Springfield, IL {60000 + i % 9999:05d}" for i in ids],
        "phone": [f"(217) 555-{i % 10000:04d}" for i in ids],
        "dob": np.where(ids % 2 == 0, "1984-03-07", "03/07/1984"),
        "balance": rng.normal(100, 50, n).round(2),
        "updated_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(ids, unit="s"),
    })


SILO = """\
name: {name}
kind: {kind}
country: US
{section}
mapping:
  source_record_id: account_no
  name: {{column: customer_name, form: last_first_comma}}
  address: {{column: billing_address, form: one_line}}
  birth_date: {{column: dob, formats: ["%Y-%m-%d", "%m/%d/%Y"]}}
  phone: phone
  source_updated_at: updated_at
facts:
  - {{name: balance, column: balance, type: number, agg: sum}}
"""


def run(name: str, kind: str, section: str, work: Path) -> None:
    path = work / f"{name}.yaml"
    path.write_text(SILO.format(name=name, kind=kind, section=textwrap.dedent(section)))
    silo = load_silo(path)
    warehouse, pipes = work / "wh.duckdb", work / "pipes"
    t0 = time.perf_counter()
    report = sync_silo(silo, warehouse, pipes)
    t1 = time.perf_counter()
    again = sync_silo(silo, warehouse, pipes)
    t2 = time.perf_counter()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        raw = read_raw(silo, con)
    t3 = time.perf_counter()
    mapped = map_records(silo, raw)
    t4 = time.perf_counter()
    rows = report.total_rows
    print(f"{name:8s} first sync {rows:,} rows {t1 - t0:6.2f}s ({rows / (t1 - t0):,.0f} rows/s) | "
          f"no-change sync {again.total_rows} rows {t2 - t1:5.2f}s | read_raw {t3 - t2:5.2f}s | "
          f"map_records {t4 - t3:5.2f}s ({len(raw) / (t4 - t3):,.0f} rows/s) "
          f"records {len(mapped.records):,} rejected {len(mapped.rejected):,}")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    data = frame(n)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with sqlite3.connect(work / "ledger.sqlite") as con:
            data.assign(updated_at=data.updated_at.astype(str)).to_sql("ledger", con, index=False)
        (work / "drop").mkdir()
        data.to_csv(work / "drop" / "customers.csv", index=False)
        data.to_parquet(work / "drop" / "customers.parquet", index=False)
        data.astype(str).to_json(work / "drop" / "customers.jsonl", orient="records", lines=True)
        write_xml(data.astype(str), work / "drop" / "customers.xml")
        layout = write_fixed_width(data.astype(str), work / "drop" / "customers.fwf")
        os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
        run("sqlite", "sql", f"sql: {{url: 'sqlite:///{work}/ledger.sqlite', tables: [{{name: ledger, "
                             "primary_key: account_no, cursor: updated_at}]}", work)
        run("csv", "files", f"files: {{tables: [{{name: customers, path: '{work}/drop', glob: '*.csv', "
                            "primary_key: account_no}]}", work)
        for fmt in ("parquet", "jsonl", "xml"):
            run(fmt, "files", f"files: {{tables: [{{name: customers, path: '{work}/drop', glob: '*.{fmt}', "
                              "primary_key: account_no}]}", work)
        run("fixed", "files", f"files: {{tables: [{{name: customers, path: '{work}/drop', glob: '*.fwf', "
                              f"primary_key: account_no, csv: {{header: false}}, fixed_width: {{columns: {layout}}}}}]}}",
            work)


def write_fixed_width(data: pd.DataFrame, path: Path) -> str:
    """A mainframe-style export: each field padded to its widest value, no delimiter, no header;
    returns the layout as the silo file's flow-style YAML."""
    widths = {c: int(data[c].str.len().max()) for c in data.columns}
    with path.open("w", encoding="utf-8") as out:
        for row in data.itertuples(index=False):
            out.write("".join(v.ljust(widths[c]) for c, v in zip(data.columns, row)) + "\n")
    starts = np.cumsum([1] + list(widths.values())[:-1])
    return "[" + ", ".join(f"{{name: {c}, start: {s}, width: {w}}}" for (c, w), s in zip(widths.items(), starts)) + "]"


def write_xml(data: pd.DataFrame, path: Path) -> None:
    """An ERP-style export: <export><customers><customer account_no="..."><customer_name>..."""
    from xml.sax.saxutils import escape, quoteattr

    fields = [c for c in data.columns if c != "account_no"]
    with path.open("w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<export><customers>\n')
        for row in data.itertuples(index=False):
            values = row._asdict()
            out.write(f"<customer account_no={quoteattr(values['account_no'])}>"
                      + "".join(f"<{f}>{escape(values[f])}</{f}>" for f in fields) + "</customer>\n")
        out.write("</customers></export>\n")


if __name__ == "__main__":
    main()

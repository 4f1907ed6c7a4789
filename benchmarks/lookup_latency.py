"""Lookup latency of `hub serve` at scale: p50/p99 and throughput on loopback.

1. Builds a warehouse with N customers (default 1,000,000) in bulk DuckDB SQL: marts.customers,
   marts.customer_360 with departmental facts, 1% retired ids in identity.customer_id_history, and an
   agent API key.
2. Starts `hub serve` (uvicorn) on 127.0.0.1 in a child process and waits for its snapshot to load.
3. Drives a bounded load on loopback: `wrk` when it is installed (apt-get install wrk; a C load
   generator, so the client does not eat the 2 cores the server needs), else Python threads with
   keep-alive httpx clients (a fixed number of requests, a time cap). Requests are 60% phone, 25% email,
   15% fuzzy name lookups of known customers, typed the way an agent would (formatted phone, upper-case
   email, a typo in some names).
4. Prints latency percentiles, throughput, errors, snapshot load time and server memory.

    python benchmarks/lookup_latency.py                       # 1,000,000 customers
    python benchmarks/lookup_latency.py --customers 100000 --requests 5000
Target: p99 <= 20 ms at 1,000,000 customers.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

console = Console()

GIVEN = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
         "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
         "Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony", "Sandra", "Mark", "Margaret",
         "Donald", "Ashley", "Steven", "Kimberly", "Andrew", "Emily", "Paul", "Donna", "Joshua", "Michelle",
         "Kenneth", "Carol", "Kevin", "Amanda", "Brian", "Melissa", "George", "Deborah", "Timothy", "Stephanie",
         "José", "María", "Zoë", "Chloé", "Søren", "Ngozi", "Wei", "Priya", "Aleksandr", "Fatima"]
HEAD = ["Al", "Bar", "Cal", "Dor", "Ed", "Fen", "Gar", "Hal", "Ing", "Jor", "Kel", "Lam", "Mor", "Nor", "Ol",
        "Pen", "Quin", "Ros", "Sal", "Tor", "Ul", "Van", "Wil", "Yor", "Zan", "Brad", "Crom", "Dunn", "Fitz", "Mac"]
MID = ["a", "e", "i", "o", "u", "an", "en", "er", "in", "ol", "ar", "el", "um", "ay", "ow"]
TAIL = ["ton", "son", "ley", "field", "worth", "man", "berg", "ford", "well", "stein", "ez", "ski", "ova", "ini",
        "by", "ham", "wick", "more", "dale", "shaw"]
FACT_TERMS = ["NET15", "NET30", "NET45", "NET60", "COD"]


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def build_warehouse(path: Path, customers: int) -> str:
    """Create the contract's marts for `customers` synthetic people; returns an agent API key."""
    from warehouse.security import create_api_key, write_transaction

    pick = lambda values, salt: (f"list_extract({_sql_list(values)}, "  # noqa: E731
                                 f"1 + CAST(hash(i, {salt}) % {len(values)} AS INTEGER))")
    con = duckdb.connect(str(path))
    try:
        for schema in ("staging", "identity", "marts", "ops"):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.execute(f"""
            CREATE OR REPLACE TABLE marts.customers AS
            WITH people AS (
                SELECT i, {pick(GIVEN, 1)} AS given_name,
                       {pick(HEAD, 2)} || {pick(MID, 3)} || {pick(TAIL, 4)} AS family_name
                FROM range({customers}) t(i))
            SELECT 'C' || substr(md5(CAST(i AS VARCHAR)), 1, 15) AS customer_id,
                   given_name, family_name, given_name || ' ' || family_name AS full_name,
                   lower(strip_accents(given_name)) || '.' || lower(family_name) || CAST(i AS VARCHAR) || '@example.com' AS email,
                   '+1' || CAST(2012000000 + i * 7 % 7000000000 AS VARCHAR) AS phone,
                   [email] AS emails,
                   CASE WHEN i % 5 = 0 THEN ['+1' || CAST(2012000000 + i * 7 % 7000000000 AS VARCHAR),
                                             '+1' || CAST(9012000000 + i AS VARCHAR)]
                        ELSE ['+1' || CAST(2012000000 + i * 7 % 7000000000 AS VARCHAR)] END AS phones,
                   CAST(i % 9000 + 1 AS VARCHAR) || ' Oak St' AS address_line, 'Springfield' AS city, 'IL' AS region,
                   lpad(CAST(60000 + i % 9999 AS VARCHAR), 5, '0') AS postcode, 'US' AS country,
                   DATE '1950-01-01' + CAST(i % 18000 AS INTEGER) AS birth_date,
                   lpad(CAST(i % 10000 AS VARCHAR), 4, '0') AS national_id_last4, NULL::VARCHAR AS company,
                   ['accounting', 'sales'] AS silos, 2 AS record_count,
                   TIMESTAMP '2024-01-01' AS first_seen_at, TIMESTAMP '2026-01-01' AS last_updated_at,
                   '{{}}'::JSON AS lineage
            FROM people""")
        con.execute(f"""
            CREATE OR REPLACE TABLE marts.customer_360 AS
            SELECT customer_id, full_name, email, phone, city, postcode, silos,
                   round((hash(customer_id) % 100000) / 100.0, 2) AS balance,
                   CAST(hash(customer_id, 1) % 40 AS BIGINT) AS total_purchases,
                   round((hash(customer_id, 2) % 500000) / 100.0, 2) AS lifetime_value,
                   DATE '2025-01-01' + CAST(hash(customer_id, 3) % 365 AS INTEGER) AS last_purchase_date,
                   CAST(1000 * (hash(customer_id, 4) % 50) AS DOUBLE) AS credit_limit,
                   {pick(FACT_TERMS, 5).replace('(i, ', '(customer_id, ')} AS payment_terms,
                   CAST(hash(customer_id, 6) % 4 AS BIGINT) AS open_tickets,
                   hash(customer_id, 7) % 2 = 0 AS subscribed
            FROM marts.customers""")
        con.execute(f"""
            CREATE OR REPLACE TABLE identity.customer_id_history AS
            SELECT 'C' || substr(md5('retired' || CAST(i AS VARCHAR)), 1, 15) AS customer_id, 'merged' AS event,
                   'C' || substr(md5(CAST(i AS VARCHAR)), 1, 15) AS successor_id, NULL::VARCHAR AS silo,
                   NULL::VARCHAR AS source_record_id, TIMESTAMP '2026-01-01' AS changed_at
            FROM range(0, {customers}, 100) t(i)""")
    finally:
        con.close()
    with write_transaction(path) as con:
        return create_api_key(con, "benchmark", "agent")[1]


def sample_queries(path: Path, count: int, seed: int) -> list[dict]:
    """Known customers' phone/email/name, typed the way a person would type them."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(f"SELECT phone, email, full_name FROM marts.customers USING SAMPLE {count} ROWS "
                           f"(reservoir, {seed})").fetchall()
    finally:
        con.close()
    rng = random.Random(seed)
    queries = []
    for phone, email, name in rows:
        roll = rng.random()
        if roll < 0.60:
            digits = phone[2:]
            queries.append({"phone": f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"})
        elif roll < 0.85:
            queries.append({"email": email.upper()})
        else:
            if rng.random() < 0.5 and len(name) > 6:  # a typo: swap two letters of the family name
                k = len(name) - 3
                name = name[:k] + name[k + 1] + name[k] + name[k + 2:]
            queries.append({"name": name})
    return queries


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(path: Path, port: int, extra: list[str] | None = None) -> subprocess.Popen:
    env = dict(os.environ, HUB_WAREHOUSE=str(path), PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-m", "hub.cli", "serve", "--port", str(port), "--warehouse", str(path),
                             *(extra or [])],
                            env=env, cwd=str(REPO), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def wait_until_loaded(url: str, server: subprocess.Popen, timeout: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if server.poll() is not None:
            raise RuntimeError(f"hub serve exited: {server.stderr.read()[-2000:]}")
        try:
            health = httpx.get(f"{url}/health", timeout=2).json()
            if health["status"] == "ok":
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError("the snapshot did not load in time")


def drive_load(url: str, key: str, queries: list[dict], requests: int, concurrency: int,
               max_seconds: float) -> tuple[np.ndarray, int, float, dict]:
    """Send `requests` lookups from `concurrency` threads (stopping at max_seconds); latencies in ms."""
    latencies = np.zeros(requests, dtype=np.float64)
    statuses: dict[int, int] = {}
    counter = iter(range(requests))
    lock = threading.Lock()
    deadline = time.perf_counter() + max_seconds
    done = [0]

    def worker():
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=10) as client:
            while time.perf_counter() < deadline:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                started = time.perf_counter()
                response = client.get("/lookup", params=queries[n % len(queries)])
                latencies[n] = (time.perf_counter() - started) * 1000
                with lock:
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    done[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    measured = latencies[latencies > 0]
    return measured, done[0], elapsed, statuses


WRK_SCRIPT = r"""
local paths = {}
for line in io.lines(os.getenv("HUB_BENCH_PATHS")) do paths[#paths + 1] = line end
local key = os.getenv("HUB_BENCH_KEY")
math.randomseed(tonumber(os.getenv("HUB_BENCH_SEED")))
request = function()
  return wrk.format("GET", paths[math.random(#paths)], {["X-API-Key"] = key})
end
done = function(summary, latency, requests)
  io.write(string.format('WRK_JSON {"p50": %f, "p90": %f, "p99": %f, "max": %f, "requests": %d, ' ..
    '"non_2xx": %d, "socket_errors": %d, "duration_us": %d}\n',
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration))
end
"""


def drive_wrk(url: str, key: str, queries: list[dict], seconds: float, concurrency: int, seed: int,
              workdir: Path) -> dict:
    """Run wrk for `seconds` with `concurrency` connections over the query list; latencies in ms."""
    paths = workdir / "paths.txt"
    paths.write_text("".join("/lookup?" + httpx.QueryParams(q).__str__() + "\n" for q in queries))
    script = workdir / "lookup.lua"
    script.write_text(WRK_SCRIPT)
    env = dict(os.environ, HUB_BENCH_PATHS=str(paths), HUB_BENCH_KEY=key, HUB_BENCH_SEED=str(seed))
    result = subprocess.run(["wrk", "-t", "1", "-c", str(concurrency), "-d", f"{int(seconds)}s", "--timeout", "5s",
                             "-s", str(script), url], capture_output=True, text=True, env=env,
                            timeout=seconds + 60)
    line = next((l for l in result.stdout.splitlines() if l.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no summary: {result.stdout[-1500:]} {result.stderr[-1500:]}")
    return json.loads(line[len("WRK_JSON "):])


def server_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20_000, help="total lookups to send")
    parser.add_argument("--concurrency", type=int, default=2, help="concurrent connections / client threads")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="stop sending after this long")
    parser.add_argument("--warmup", type=int, default=500, help="lookups sent (and not measured) first")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=30.0, help="wrk: how long to send load")
    parser.add_argument("--python-client", action="store_true", help="use Python threads even if wrk is installed")
    parser.add_argument("--audit-flush-interval", type=float, default=5.0, help="passed to hub serve")
    parser.add_argument("--reuse", action="store_true", help="reuse the warehouse in --workdir if it exists")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the warehouse here (default: temp dir)")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hub-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"bench_{args.customers}.duckdb"
    t0 = time.perf_counter()
    key_file = workdir / f"bench_{args.customers}.key"
    if args.reuse and path.exists() and key_file.exists():
        key = key_file.read_text().strip()
    else:
        for stale in (path, Path(str(path) + ".wal")):
            stale.unlink(missing_ok=True)
        key = build_warehouse(path, args.customers)
        key_file.write_text(key)
    build_seconds = time.perf_counter() - t0
    queries = sample_queries(path, 5000, args.seed)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(path, port, ["--audit-flush-interval", str(args.audit_flush_interval)])
    try:
        load_seconds = wait_until_loaded(url, server, timeout=600)
        drive_load(url, key, queries, args.warmup, args.concurrency, 60)
        use_wrk = shutil.which("wrk") is not None and not args.python_client
        if use_wrk:
            summary = drive_wrk(url, key, queries, args.seconds, args.concurrency, args.seed, workdir)
        else:
            latencies, sent, elapsed, statuses = drive_load(url, key, queries, args.requests, args.concurrency,
                                                            args.max_seconds)
            p50, p90, p99 = np.percentile(latencies, [50, 90, 99])
            summary = {"p50": p50, "p90": p90, "p99": p99, "max": float(latencies.max()), "requests": sent,
                       "non_2xx": sum(v for k, v in statuses.items() if k != 200), "socket_errors": 0,
                       "duration_us": elapsed * 1e6}
        rss = server_rss_mb(server.pid)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
    client = "wrk" if use_wrk else "Python httpx threads"
    table = Table(title=f"hub serve /lookup — {args.customers:,} customers, {args.concurrency} concurrent "
                        f"connections ({client})")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for label, value in (
        ("warehouse build", f"{build_seconds:.1f} s"), ("snapshot load (server start to ready)", f"{load_seconds:.1f} s"),
        ("server memory (RSS)", f"{rss:,.0f} MB"), ("requests", f"{summary['requests']:,}"),
        ("non-200 responses / socket errors", f"{summary['non_2xx']} / {summary['socket_errors']}"),
        ("throughput", f"{summary['requests'] / (summary['duration_us'] / 1e6):,.0f} req/s"),
        ("p50", f"{summary['p50']:.2f} ms"), ("p90", f"{summary['p90']:.2f} ms"),
        ("p99", f"{summary['p99']:.2f} ms"), ("max", f"{summary['max']:.2f} ms"),
    ):
        table.add_row(label, value)
    console.print(table)
    ok = summary["p99"] <= 20.0 and summary["non_2xx"] == 0 and summary["socket_errors"] == 0
    console.print(f"target p99 <= 20 ms: {'met' if ok else 'NOT met'}")
    if args.workdir is None:
        for f in workdir.glob("*"):
            if f.is_file():
                f.unlink()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

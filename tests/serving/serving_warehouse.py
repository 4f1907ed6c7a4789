"""Builds a small warehouse that follows the contract, for the serving tests.

The pipeline that fills the real warehouse is developed separately; these tests make their own file
with the contract's tables (raw_<silo>, staging, identity, marts) so they exercise real DuckDB files.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd


def cid(seed: str) -> str:
    return "C" + hashlib.sha256(seed.encode()).hexdigest()[:15]


# person key -> golden values; each person has source records in one or more silos.
PEOPLE = {
    "alice": dict(given="Alice", family="Johnson", email="alice.johnson@gmail.com", phone="+12175550101",
                  city="Springfield", postcode="62704", balance=120.5, total_purchases=7, credit_limit=5000.0,
                  payment_terms="NET30", open_tickets=1, ssn_hash="nidhash-alice", ssn_last4="6789"),
    "bob": dict(given="Bob", family="Smith", email="bob@example.com", phone="+13125550199", city="Chicago",
                postcode="60601", balance=0.0, total_purchases=2, credit_limit=None, payment_terms=None,
                open_tickets=0, ssn_hash=None, ssn_last4=None),
    "robert": dict(given="Robert", family="Smyth", email="rsmyth@example.net", phone="+13125550123",
                   city="Chicago", postcode="60602", balance=15.0, total_purchases=None, credit_limit=None,
                   payment_terms=None, open_tickets=None, ssn_hash=None, ssn_last4=None),
    "carol": dict(given="Carol", family="Núñez", email="carol@example.org", phone="+14155550142",
                  city="San Francisco", postcode="94105", balance=None, total_purchases=11, credit_limit=12000.0,
                  payment_terms="NET60", open_tickets=3, ssn_hash="nidhash-carol", ssn_last4="4321"),
}
# (silo, source_record_id, person)
RECORDS = [
    ("accounting", "A-100", "alice"), ("sales", "S-1", "alice"), ("credit", "CR-9", "alice"),
    ("sales", "S-2", "bob"), ("support", "17", "bob"),
    ("accounting", "A-200", "robert"),
    ("sales", "S-3", "carol"), ("credit", "CR-11", "carol"),
]
RAW_TABLES = {  # silo -> (raw table, primary key), as sources.load_silos would give
    "accounting": ("ledger_customers", "account_no"),
    "sales": ("customers", "customer_id"),
    "credit": ("applications", "application_id"),
    "support": ("requesters", "id"),
}
RETIRED_BOB = cid("bob-old")


@dataclass
class BuiltWarehouse:
    path: Path
    ids: dict[str, str]
    raw_tables: dict[str, tuple[str, str]]
    retired: dict[str, str]


def customer_ids() -> dict[str, str]:
    return {person: cid(min(f"{s}|{r}" for s, r, p in RECORDS if p == person)) for person in PEOPLE}


def staged_frame() -> pd.DataFrame:
    rows = []
    for silo, record_id, person in RECORDS:
        p = PEOPLE[person]
        rows.append(dict(
            silo=silo, source_record_id=record_id, given_name=p["given"], family_name=p["family"],
            full_name=f"{p['given']} {p['family']}",
            email=p["email"] if silo in ("sales", "support") else None,
            phone=p["phone"] if silo in ("accounting", "sales", "support") else None,
            address_line=None, city=p["city"], region=None, postcode=p["postcode"], country="US", birth_date=None,
            national_id_hash=p["ssn_hash"] if silo == "credit" else None,
            national_id_last4=p["ssn_last4"] if silo == "credit" else None, company=None,
            source_updated_at=pd.Timestamp("2026-01-02"), loaded_at=pd.Timestamp("2026-01-03"), is_deleted=False,
            name_raw=None, email_raw=None, phone_raw=None, address_raw=None, birth_date_raw=None,
            national_id_is_partial=False))
    return pd.DataFrame(rows)


def raw_frames() -> dict[str, pd.DataFrame]:
    frames: dict[str, list[dict]] = {s: [] for s in RAW_TABLES}
    for n, (silo, record_id, person) in enumerate(RECORDS):
        p = PEOPLE[person]
        base = {"_dlt_id": f"dlt{n}", "_dlt_load_id": "1"}
        if silo == "accounting":
            frames[silo].append({"account_no": record_id, "customer_name": f"{p['family'].upper()}, {p['given']}",
                                 "phone": p["phone"][2:], "balance": p["balance"], **base})
        elif silo == "sales":
            frames[silo].append({"customer_id": record_id, "first_name": p["given"], "last_name": p["family"],
                                 "email": p["email"], "phone": p["phone"], **base})
        elif silo == "credit":
            frames[silo].append({"application_id": record_id, "applicant_name": f"{p['given']} {p['family']}",
                                 "ssn": f"123-45-{p['ssn_last4']}", "credit_limit": p["credit_limit"], **base})
        else:
            frames[silo].append({"id": int(record_id), "name": f"{p['given']} {p['family']}", "email": p["email"],
                                 **base})
    return {silo: pd.DataFrame(rows) for silo, rows in frames.items()}


def build_warehouse(path: Path) -> BuiltWarehouse:
    ids = customer_ids()
    con = duckdb.connect(str(path))
    try:
        for schema in ("staging", "identity", "marts", "ops"):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for silo, frame in raw_frames().items():
            table, _ = RAW_TABLES[silo]
            con.execute(f"CREATE SCHEMA IF NOT EXISTS raw_{silo}")
            con.register("_f", frame)
            con.execute(f"CREATE TABLE raw_{silo}.{table} AS SELECT * FROM _f")
            con.unregister("_f")
        # a dlt child table (nested list) under the sales customers
        con.execute("CREATE TABLE raw_sales.customers__tags AS SELECT _dlt_id AS _dlt_root_id, _dlt_id AS "
                    "_dlt_parent_id, 'vip' AS value FROM raw_sales.customers")
        staged = staged_frame()
        con.register("_s", staged)
        con.execute("CREATE TABLE staging.customer_records AS SELECT * FROM _s")
        con.unregister("_s")
        con.execute("CREATE TABLE staging.rejected_records (silo VARCHAR, source_record_id VARCHAR, raw_row VARCHAR, "
                    "reason VARCHAR, rejected_at TIMESTAMP)")
        con.execute("INSERT INTO staging.rejected_records VALUES ('sales', 'S-1', '{\"email\": \"x\"}', 'dup', now())")
        xref = pd.DataFrame([(s, r, ids[p], 0.97, pd.Timestamp("2026-01-03")) for s, r, p in RECORDS],
                            columns=["silo", "source_record_id", "customer_id", "match_probability", "resolved_at"])
        con.register("_x", xref)
        con.execute("CREATE TABLE identity.customer_xref AS SELECT * FROM _x")
        con.unregister("_x")
        con.execute("CREATE TABLE identity.customer_id_history (customer_id VARCHAR, event VARCHAR, successor_id "
                    "VARCHAR, silo VARCHAR, source_record_id VARCHAR, changed_at TIMESTAMP)")
        con.execute("INSERT INTO identity.customer_id_history VALUES (?, 'created', NULL, 'support', '17', "
                    "TIMESTAMP '2025-12-01'), (?, 'merged', ?, 'support', '17', TIMESTAMP '2026-01-03')",
                    [RETIRED_BOB, RETIRED_BOB, ids["bob"]])
        con.execute("CREATE TABLE identity.match_scores AS SELECT 'accounting' AS silo_l, 'A-100' AS "
                    "source_record_id_l, 'sales' AS silo_r, 'S-1' AS source_record_id_r, 9.5 AS match_weight, "
                    "0.99 AS match_probability UNION ALL SELECT 'accounting', 'A-200', 'sales', 'S-2', -3.0, 0.2")
        fact_rows = []
        for silo, record_id, person in RECORDS:
            p = PEOPLE[person]
            for fact, silo_of_fact in (("balance", "accounting"), ("total_purchases", "sales"),
                                       ("credit_limit", "credit"), ("open_tickets", "support")):
                if silo == silo_of_fact and p[fact] is not None:
                    fact_rows.append((silo, record_id, fact, float(p[fact]), None, "sum"))
            if silo == "credit" and p["payment_terms"]:
                fact_rows.append((silo, record_id, "payment_terms", None, p["payment_terms"], "latest"))
        facts = pd.DataFrame(fact_rows, columns=["silo", "source_record_id", "fact", "value_num", "value_text", "agg"])
        con.register("_facts", facts)
        con.execute("CREATE TABLE staging.customer_facts AS SELECT * FROM _facts")
        con.unregister("_facts")
        customers = []
        for person, p in PEOPLE.items():
            recs = [(s, r) for s, r, q in RECORDS if q == person]
            lineage = {"email": {"silo": "sales", "source_record_id": recs[0][1]}}
            customers.append(dict(
                customer_id=ids[person], given_name=p["given"], family_name=p["family"],
                full_name=f"{p['given']} {p['family']}", email=p["email"], phone=p["phone"],
                emails=[p["email"]], phones=[p["phone"]], address_line=None, city=p["city"], region=None,
                postcode=p["postcode"], country="US", birth_date=None, national_id_last4=p["ssn_last4"],
                company=None, silos=sorted({s for s, _ in recs}), record_count=len(recs),
                first_seen_at=pd.Timestamp("2025-12-01"), last_updated_at=pd.Timestamp("2026-01-02"),
                lineage=json.dumps(lineage)))
        con.register("_c", pd.DataFrame(customers))
        con.execute("CREATE TABLE marts.customers AS SELECT * REPLACE (CAST(lineage AS JSON) AS lineage) FROM _c")
        con.unregister("_c")
        con.execute("""
            CREATE TABLE marts.customer_360 AS
            SELECT c.customer_id, c.full_name, c.email, c.phone, c.city, c.postcode, c.silos,
                   sum(f.value_num) FILTER (WHERE f.fact = 'balance') AS balance,
                   sum(f.value_num) FILTER (WHERE f.fact = 'total_purchases') AS total_purchases,
                   sum(f.value_num) FILTER (WHERE f.fact = 'credit_limit') AS credit_limit,
                   max(f.value_text) FILTER (WHERE f.fact = 'payment_terms') AS payment_terms,
                   sum(f.value_num) FILTER (WHERE f.fact = 'open_tickets') AS open_tickets
            FROM marts.customers c
            LEFT JOIN identity.customer_xref x USING (customer_id)
            LEFT JOIN staging.customer_facts f USING (silo, source_record_id)
            GROUP BY ALL""")
    finally:
        con.close()
    return BuiltWarehouse(path, ids, dict(RAW_TABLES), {RETIRED_BOB: ids["bob"]})


def add_review_queue(path: Path) -> None:
    """One uncertain pair in identity.review_queue, shaped as warehouse.review_store writes it."""
    from identity_resolution.review import pair_id

    con = duckdb.connect(str(path))
    try:
        con.execute("""
            CREATE OR REPLACE TABLE identity.review_queue AS SELECT
              1 AS queue_rank, ? AS pair_id, 'accounting' AS silo_l, 'A-200' AS source_record_id_l,
              'sales' AS silo_r, 'S-2' AS source_record_id_r, 0.5 AS match_probability, -0.1 AS match_weight,
              'uncertain' AS reason, 1.0 AS uncertainty, 15.0 AS value, 1.0 AS priority,
              'Robert Smyth' AS full_name_l, 'Bob Smith' AS full_name_r, 2.5 AS bf_full_name,
              '+13125550123' AS phone_l, '+13125550199' AS phone_r, -4.0 AS bf_phone,
              now()::TIMESTAMP AS queued_at""", [pair_id("accounting", "A-200", "sales", "S-2")])
    finally:
        con.close()

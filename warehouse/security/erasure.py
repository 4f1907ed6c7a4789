"""Right to be forgotten: remove one person from raw, staging, identity and marts in one transaction.

What is deleted:
- raw_<silo> (and dlt's raw_<silo>_staging) rows whose primary key is one of the person's source
  records, with their dlt child tables (`<table>__*` rows under the deleted `_dlt_id`s);
- in staging, identity and marts, every base table row that names one of the person's source records
  (silo + source_record_id, or either side of a pair: *_l / *_r) or one of their customer ids
  (customer_id / successor_id), so tables added later are covered without code changes.
What is kept: ops.suppression entries made of keyed hashes of their identifiers (see suppression.py)
so the next sync drops them again, and the audit log entry written by the caller.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from warehouse.security.connect import table_columns, table_exists
from warehouse.security.suppression import ensure_suppression_table, hash_key_bytes, keyed_hash_sql, staged_tokens_sql

SCRUBBED_SCHEMAS = ("staging", "identity", "marts")
PAIR_SUFFIXES = ("_l", "_r", "_a", "_b", "_1", "_2")

# silo -> (raw table, id column) or a list of RawTable (several tables, composite ids)
RawTables = dict[str, "tuple[str, str] | list[RawTable]"]


@dataclass(frozen=True)
class RawTable:
    """Where a silo's raw rows live and how their source_record_id is formed (as sources.mapping does):
    id columns joined with '|', prefixed with '<table>:' when the silo has several tables."""
    table: str
    id_columns: tuple[str, ...]
    table_prefix: bool = False

    def key_sql(self) -> str:
        parts = " || '|' || ".join(f'CAST("{c}" AS VARCHAR)' for c in self.id_columns)
        name = self.table.split(".")[-1].replace("'", "''")
        return f"('{name}:' || {parts})" if self.table_prefix else f"({parts})"


def raw_specs(raw_tables: RawTables, silo: str) -> list[RawTable]:
    spec = raw_tables[silo]
    if isinstance(spec, tuple) and len(spec) == 2 and all(isinstance(x, str) for x in spec):
        return [RawTable(spec[0], (spec[1],))]
    return list(spec)


class CustomerNotFound(LookupError):
    """No customer with that id (or it was already erased)."""


class ErasureConfigError(ValueError):
    """The raw table of a silo the person has records in is not known, so raw rows cannot be erased."""


@dataclass
class ErasureReport:
    customer_id: str
    erasure_id: str
    customer_ids: list[str]
    source_records: int
    suppression_entries: int
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def rows_deleted(self) -> int:
        return sum(self.deleted.values())

    def as_dict(self) -> dict:
        return {"customer_id": self.customer_id, "erasure_id": self.erasure_id, "customer_ids": self.customer_ids,
                "source_records": self.source_records, "suppression_entries": self.suppression_entries,
                "rows_deleted": self.rows_deleted, "deleted": self.deleted}


def erase_customer(con: duckdb.DuckDBPyConnection, customer_id: str, raw_tables: RawTables) -> ErasureReport:
    """Erase a customer (and every id merged into it). Run inside the caller's write transaction."""
    key = hash_key_bytes()  # fail before touching anything if suppression cannot be written
    ids = _customer_family(con, customer_id)
    records = _source_records(con, ids)
    if not ids or (records.empty and not _in_marts(con, ids)):
        raise CustomerNotFound(f"no customer {customer_id} in the warehouse (unknown id, or already erased)")
    _check_raw_mapping(con, records, raw_tables)
    erasure_id = uuid.uuid4().hex
    con.register("_erase_ids", pd.DataFrame({"customer_id": ids}))
    con.register("_erase_records", records)
    try:
        suppressed = _write_suppression(con, key, erasure_id)
        deleted = _delete_raw(con, records, raw_tables)
        deleted.update(_delete_derived(con))
    finally:
        con.unregister("_erase_ids")
        con.unregister("_erase_records")
    return ErasureReport(customer_id, erasure_id, ids, len(records), suppressed, deleted)


def _customer_family(con: duckdb.DuckDBPyConnection, customer_id: str) -> list[str]:
    """The final successor of `customer_id` and every id that was merged into it."""
    if not table_exists(con, "identity", "customer_id_history"):
        return [customer_id]
    edges = con.execute("SELECT customer_id, successor_id FROM identity.customer_id_history "
                        "WHERE event = 'merged' AND successor_id IS NOT NULL").fetchall()
    successor = dict(edges)
    final, seen = customer_id, {customer_id}
    while final in successor and successor[final] not in seen:
        final = successor[final]
        seen.add(final)
    family, frontier = {final}, [final]
    predecessors: dict[str, list[str]] = {}
    for old, new in edges:
        predecessors.setdefault(new, []).append(old)
    while frontier:
        current = frontier.pop()
        for old in predecessors.get(current, []):
            if old not in family:
                family.add(old)
                frontier.append(old)
    return sorted(family)


def _source_records(con: duckdb.DuckDBPyConnection, ids: list[str]) -> pd.DataFrame:
    if not table_exists(con, "identity", "customer_xref"):
        return pd.DataFrame({"silo": pd.Series(dtype=str), "source_record_id": pd.Series(dtype=str)})
    return con.execute("SELECT DISTINCT silo, source_record_id FROM identity.customer_xref "
                       "WHERE customer_id IN (SELECT unnest(?)) ORDER BY 1, 2", [ids]).df()


def _in_marts(con: duckdb.DuckDBPyConnection, ids: list[str]) -> bool:
    if not table_exists(con, "marts", "customers"):
        return False
    return bool(con.execute("SELECT count(*) FROM marts.customers WHERE customer_id IN (SELECT unnest(?))",
                            [ids]).fetchall()[0][0])


def _check_raw_mapping(con: duckdb.DuckDBPyConnection, records: pd.DataFrame, raw_tables: RawTables) -> None:
    for silo in sorted(records["silo"].unique()):
        if silo not in raw_tables:
            raise ErasureConfigError(f"cannot erase raw rows of silo '{silo}': its raw table and primary key are "
                                     "unknown (is silos/<silo>.yaml present?). Nothing was erased.")
        for spec in raw_specs(raw_tables, silo):
            for schema, name in _raw_locations(con, silo, spec.table):
                missing = [c for c in spec.id_columns if c not in table_columns(con, schema, name)]
                if missing:
                    raise ErasureConfigError(f"raw table {schema}.{name} of silo '{silo}' has no column(s) {missing} "
                                             "(the record id in its silo file). Nothing was erased.")


def _raw_locations(con: duckdb.DuckDBPyConnection, silo: str, table: str) -> list[tuple[str, str]]:
    """Existing (schema, table) places a silo's raw rows live: raw_<silo> and dlt's raw_<silo>_staging."""
    if "." in table:
        schema, name = table.split(".", 1)
        candidates = [(schema, name)]
    else:
        candidates = [(f"raw_{silo}", table), (f"raw_{silo}_staging", table)]
    return [(s, t) for s, t in candidates if table_exists(con, s, t)]


def _write_suppression(con: duckdb.DuckDBPyConnection, key: bytes, erasure_id: str) -> int:
    ensure_suppression_table(con)
    tokens = staged_tokens_sql("s", key)
    union = []
    if table_exists(con, "staging", "customer_records"):
        for kind, expr in tokens.items():
            union.append(f"SELECT '{kind}' AS kind, {expr} AS token FROM staging.customer_records s "
                         "JOIN _erase_records USING (silo, source_record_id)")
    union.append(f"SELECT 'source' AS kind, {tokens['source']} AS token FROM _erase_records s")
    cols = table_columns(con, "marts", "customers") if table_exists(con, "marts", "customers") else {}
    for single, many, kind, normal in (("email", "emails", "email", _email_key_sql("v")),
                                       ("phone", "phones", "phone", "v")):
        expr = keyed_hash_sql(kind, normal, key)
        if single in cols:
            union.append(f"SELECT '{kind}', {expr} FROM (SELECT {single} AS v FROM marts.customers "
                         "WHERE customer_id IN (SELECT customer_id FROM _erase_ids))")
        if many in cols:
            union.append(f"SELECT '{kind}', {expr} FROM (SELECT unnest({many}) AS v FROM marts.customers "
                         "WHERE customer_id IN (SELECT customer_id FROM _erase_ids))")
    before = con.execute("SELECT count(*) FROM ops.suppression").fetchall()[0][0]
    con.execute(
        f"INSERT INTO ops.suppression SELECT DISTINCT kind, token, ?, now()::TIMESTAMP FROM "
        f"({' UNION ALL '.join(union)}) WHERE token IS NOT NULL AND token NOT IN (SELECT token FROM ops.suppression)",
        [erasure_id])
    return con.execute("SELECT count(*) FROM ops.suppression").fetchall()[0][0] - before


def _email_key_sql(expr: str) -> str:
    from warehouse.lookup import email_key_sql  # lookup imports nothing from security; import late anyway
    return email_key_sql(expr)


def _delete_raw(con: duckdb.DuckDBPyConnection, records: pd.DataFrame, raw_tables: RawTables) -> dict[str, int]:
    deleted: dict[str, int] = {}
    for silo in sorted(records["silo"].unique()):
        ids = records.loc[records["silo"] == silo, "source_record_id"].astype(str).tolist()
        for spec in raw_specs(raw_tables, silo):
            for schema, name in _raw_locations(con, silo, spec.table):
                where = f"{spec.key_sql()} IN (SELECT unnest(?))"
                deleted.update(_delete_dlt_children(con, schema, name, where, [ids]))
                deleted[f"{schema}.{name}"] = _count(
                    con.execute(f'DELETE FROM "{schema}"."{name}" WHERE {where}', [ids]))
    return deleted


def _delete_dlt_children(con: duckdb.DuckDBPyConnection, schema: str, parent: str, where: str,
                         params: list) -> dict[str, int]:
    if "_dlt_id" not in table_columns(con, schema, parent):
        return {}
    children = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = ? AND starts_with(table_name, ?)", [schema, parent + "__"]).fetchall()
    deleted = {}
    for (child,) in children:
        if "_dlt_root_id" not in table_columns(con, schema, child):
            continue
        deleted[f"{schema}.{child}"] = _count(con.execute(
            f'DELETE FROM "{schema}"."{child}" WHERE _dlt_root_id IN '
            f'(SELECT _dlt_id FROM "{schema}"."{parent}" WHERE {where})', params))
    return deleted


def _delete_derived(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    tables = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_type = 'BASE TABLE' AND table_schema IN (SELECT unnest(?)) ORDER BY 1, 2",
        [list(SCRUBBED_SCHEMAS)]).fetchall()
    deleted = {}
    for schema, table in tables:
        condition = _person_condition(set(table_columns(con, schema, table)))
        if condition:
            deleted[f"{schema}.{table}"] = _count(con.execute(f'DELETE FROM "{schema}"."{table}" WHERE {condition}'))
    return deleted


def _person_condition(columns: set[str]) -> str | None:
    """WHERE clause matching rows about the erased person, from the columns a table has."""
    parts = []
    for suffix in ("",) + PAIR_SUFFIXES:
        silo, record = f"silo{suffix}", f"source_record_id{suffix}"
        if {silo, record} <= columns:
            parts.append(f'("{silo}", CAST("{record}" AS VARCHAR)) IN '
                         "(SELECT (silo, source_record_id) FROM _erase_records)")
    for column in ("customer_id", "successor_id") + tuple(f"customer_id{s}" for s in PAIR_SUFFIXES):
        if column in columns:
            parts.append(f'"{column}" IN (SELECT customer_id FROM _erase_ids)')
    return " OR ".join(parts) if parts else None


def _count(result: duckdb.DuckDBPyConnection) -> int:
    rows = result.fetchall()
    return int(rows[0][0]) if rows else 0


def purge_suppressed_raw(con: duckdb.DuckDBPyConnection, raw_tables: RawTables) -> dict[str, int]:
    """Delete raw rows of erased source records that a re-sync loaded again (call after each raw load)."""
    if not table_exists(con, "ops", "suppression"):
        return {}
    key = hash_key_bytes()
    deleted = {}
    for silo in raw_tables:
        quoted_silo = silo.replace("'", "''")
        for spec in raw_specs(raw_tables, silo):
            token = keyed_hash_sql("source", f"'{quoted_silo}' || '|' || {spec.key_sql()}", key)
            for schema, name in _raw_locations(con, silo, spec.table):
                if not set(spec.id_columns) <= set(table_columns(con, schema, name)):
                    continue
                where = f"{token} IN (SELECT token FROM ops.suppression WHERE kind = 'source')"
                deleted.update(_delete_dlt_children(con, schema, name, where, []))
                deleted[f"{schema}.{name}"] = _count(con.execute(f'DELETE FROM "{schema}"."{name}" WHERE {where}'))
    return deleted

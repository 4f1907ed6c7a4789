"""SQL silos end to end against SQLite and the real PostgreSQL and MariaDB servers on 127.0.0.1."""
from __future__ import annotations

import textwrap
import uuid

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa
from silo_fixtures import LEDGER, demo_silo, write_ledger

from sources import (SchemaDriftError, SiloSyncError, check_silo, load_silo, map_records, read_raw,
                     sync_silo)

PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
MARIA_URL = "mysql+pymysql://root@127.0.0.1:3306/test"


def raw_of(silo, warehouse) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return read_raw(silo, con)


def test_sqlite_accounting_incremental_and_update(demo_dir, hub_paths):
    warehouse, pipes = hub_paths
    silo = demo_silo("accounting")
    assert sync_silo(silo, warehouse, pipes).rows_loaded == {"ledger_customers": 3}
    assert sync_silo(silo, warehouse, pipes).total_rows == 0
    changed = [(*LEDGER[1][:4], 99.0, "2024-02-01T00:00:00"),
               ("A-004", "NEW, Person", "1 A St, Dover, DE 19901", "302-555-0100", 5, "2024-02-02T00:00:00")]
    write_ledger(demo_dir / "accounting.sqlite", changed)
    report = sync_silo(silo, warehouse, pipes)
    assert report.rows_loaded == {"ledger_customers": 2}
    mapped = map_records(silo, raw_of(silo, warehouse))
    assert len(mapped.records) == 4
    balances = mapped.facts.set_index("source_record_id")["value_num"]
    assert balances["A-002"] == 99.0 and balances["A-001"] == 120.5


@pytest.fixture(params=["postgres", "mariadb"])
def server(request, tmp_path, monkeypatch):
    """A uniquely named table on a real server, dropped afterwards; yields (engine, schema, table, yaml)."""
    kind = request.param
    url = PG_URL if kind == "postgres" else MARIA_URL
    engine = sa.create_engine(url)
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:  # the machine promises both servers; say so clearly if not
        pytest.fail(f"{kind} server not reachable at {url}: {exc}")
    suffix = uuid.uuid4().hex[:8]
    schema = f"hub_test_{suffix}" if kind == "postgres" else None
    table = f"CRM_People_{suffix}" if kind == "postgres" else f"crm_people_{suffix}"
    qualified = f'"{schema}"."{table}"' if schema else f"`{table}`"
    ts = "TIMESTAMP" if kind == "postgres" else "DATETIME"
    with engine.begin() as con:
        if schema:
            con.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        con.execute(sa.text(
            f"CREATE TABLE {qualified} (person_id INTEGER PRIMARY KEY, full_name VARCHAR(100), "
            f"email VARCHAR(100), credit NUMERIC(10,2), is_removed BOOLEAN, updated_at {ts})"))
        con.execute(sa.text(
            f"INSERT INTO {qualified} VALUES (1, 'Ann Lee', 'ann@x.com', 10.5, false, '2024-01-01 00:00:00'),"
            f"(2, 'Bob Ray', 'bob@x.com', 0, false, '2024-01-02 00:00:00'),"
            f"(3, 'Cy Doe', 'cy@x.com', 7, false, '2024-01-03 00:00:00')"))
    monkeypatch.setenv("CRM_DB_URL", url)
    path = tmp_path / "crm.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: crm
        kind: sql
        retries: {{max_retries: 2, backoff_seconds: 1}}
        sql:
          url: ${{CRM_DB_URL}}
          {"schema: " + schema if schema else ""}
          tables:
            - {{name: {table}, primary_key: person_id, cursor: updated_at}}
        mapping:
          name: {{column: full_name, form: first_last}}
          email: email
          source_updated_at: updated_at
        facts:
          - {{name: credit, column: credit, type: number, agg: sum}}
        deletes: {{column: is_removed, value: true}}
        """))
    yield engine, qualified, table, path
    with engine.begin() as con:
        con.execute(sa.text(f"DROP TABLE IF EXISTS {qualified}"))
        if schema:
            con.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def test_server_incremental_update_delete_and_drift(server, hub_paths):
    engine, qualified, table, path = server
    warehouse, pipes = hub_paths
    silo = load_silo(path)
    name = table.lower()
    assert sync_silo(silo, warehouse, pipes).rows_loaded == {name: 3}
    assert sync_silo(silo, warehouse, pipes).total_rows == 0

    with engine.begin() as con:
        con.execute(sa.text(f"UPDATE {qualified} SET email = 'bob@new.com', updated_at = '2024-02-01 00:00:00' "
                            "WHERE person_id = 2"))
        con.execute(sa.text(f"UPDATE {qualified} SET is_removed = true, updated_at = '2024-02-02 00:00:00' "
                            "WHERE person_id = 3"))
        con.execute(sa.text(f"INSERT INTO {qualified} VALUES (4, 'Di Fox', 'di@x.com', 1, false, "
                            "'2024-02-03 00:00:00')"))
    assert sync_silo(silo, warehouse, pipes).rows_loaded == {name: 3}
    raw = raw_of(silo, warehouse)
    assert len(raw) == 4
    mapped = map_records(silo, raw)
    rec = mapped.records.set_index("source_record_id")
    assert rec.loc["2", "email"] == "bob@new.com"
    assert rec["is_deleted"].to_dict() == {"1": False, "2": False, "3": True, "4": False}
    assert rec.loc["1", ["given_name", "family_name"]].tolist() == ["Ann", "Lee"]
    assert mapped.facts.set_index("source_record_id").loc["1", "value_num"] == 10.5

    # drift: a mapped column disappears -> the sync fails naming silo, table, column; raw unchanged
    with engine.begin() as con:
        con.execute(sa.text(f"ALTER TABLE {qualified} DROP COLUMN email"))
        con.execute(sa.text(f"UPDATE {qualified} SET updated_at = '2024-03-01 00:00:00' WHERE person_id = 1"))
    with pytest.raises(SchemaDriftError) as err:
        sync_silo(silo, warehouse, pipes)
    assert (err.value.silo, err.value.table, err.value.column) == ("crm", table, "email")
    assert f"silo crm: table {table} no longer has column 'email'" in str(err.value)
    pd.testing.assert_frame_equal(raw_of(silo, warehouse), raw)

    # a new column is loaded and reported
    with engine.begin() as con:
        con.execute(sa.text(f"ALTER TABLE {qualified} ADD COLUMN email VARCHAR(100)"))
        con.execute(sa.text(f"ALTER TABLE {qualified} ADD COLUMN Loyalty_Tier VARCHAR(10)"))
        con.execute(sa.text(f"UPDATE {qualified} SET email = 'ann@x.com', loyalty_tier = 'gold', "
                            "updated_at = '2024-03-02 00:00:00' WHERE person_id = 1"))
    report = sync_silo(silo, warehouse, pipes)
    assert report.rows_loaded == {name: 1} and report.new_columns == {name: ["loyalty_tier"]}


@pytest.mark.parametrize("url, quote", [(PG_URL, '"'), (MARIA_URL, "`")])
def test_table_and_cursor_named_with_spaces(url, quote, tmp_path, hub_paths, monkeypatch):
    # an ERP's own names: 'Customer Master', 'Last Changed' (a JSONPath to dlt unless quoted), 'Phone 1'
    warehouse, pipes = hub_paths
    table = f"Customer Master {uuid.uuid4().hex[:6]}"
    q = lambda name: f"{quote}{name}{quote}"  # noqa: E731
    engine = sa.create_engine(url)
    with engine.begin() as con:
        con.execute(sa.text(f"CREATE TABLE {q(table)} ({q('Cust No')} INTEGER PRIMARY KEY, {q('Customer Name')} "
                            f"VARCHAR(50), {q('Phone 1')} VARCHAR(20), {q('Phone 2')} VARCHAR(20), "
                            f"{q('Date Of Birth')} DATE, {q('Last Changed')} TIMESTAMP NULL)"))
        con.execute(sa.text(f"INSERT INTO {q(table)} VALUES (1, 'SMITH, JOHN', NULL, '555-0101', '1980-02-03', "
                            "'2024-01-01 10:00:00'), (2, 'Doe, Jane', '555-0202', NULL, NULL, '2024-01-02 10:00:00')"))
    monkeypatch.setenv("ERP_DB_URL", url)
    path = tmp_path / "erp.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: erp
        kind: sql
        sql: {{url: "${{ERP_DB_URL}}", tables: [{{name: {table}, primary_key: Cust No, cursor: Last Changed}}]}}
        mapping:
          name: {{column: Customer Name, form: last_first_comma}}
          phone: {{columns: [Phone 1, Phone 2]}}
          birth_date: Date Of Birth
        """))
    try:
        silo = load_silo(path)
        assert sync_silo(silo, warehouse, pipes).total_rows == 2
        with engine.begin() as con:
            con.execute(sa.text(f"UPDATE {q(table)} SET {q('Phone 1')} = '555-0303', {q('Last Changed')} = "
                                f"'2024-02-01 00:00:00' WHERE {q('Cust No')} = 1"))
        assert sync_silo(silo, warehouse, pipes).total_rows == 1  # only the changed row, by the quoted cursor
        rec = map_records(silo, raw_of(silo, warehouse)).records.set_index("source_record_id")
        assert rec["phone"].to_dict() == {"1": "555-0303", "2": "555-0202"}
        assert rec.loc["1", ["given_name", "family_name", "birth_date"]].tolist() == ["JOHN", "SMITH", "1980-02-03"]
        assert str(rec.loc["1", "source_updated_at"]) == "2024-02-01 00:00:00"
    finally:
        with engine.begin() as con:
            con.execute(sa.text(f"DROP TABLE IF EXISTS {q(table)}"))
        engine.dispose()


def test_server_check_reports_columns_and_sample(server):
    engine, qualified, table, path = server
    report = check_silo(load_silo(path))
    assert report.ok, report.problems
    assert {"person_id", "full_name", "email", "updated_at"} <= set(report.columns[table])
    assert sorted(report.sample["email"]) == ["ann@x.com", "bob@x.com", "cy@x.com"]
    bad = load_silo(path)
    bad.mapping.email.column = "mail"
    problems = check_silo(bad).problems
    assert len(problems) == 1 and "mapped column 'mail' not found" in problems[0] and "email" in problems[0]


def test_custom_query_and_full_refresh_deletes(tmp_path, hub_paths, monkeypatch):
    warehouse, pipes = hub_paths
    db = tmp_path / "orders.sqlite"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as con:
        con.execute(sa.text("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, changed TEXT)"))
        con.execute(sa.text("CREATE TABLE orders (person_id INTEGER, amount REAL)"))
        con.execute(sa.text("INSERT INTO people VALUES (1,'a@x.com','2024-01-01'),(2,'b@x.com','2024-01-02'),"
                            "(3,'c@x.com','2024-01-03')"))
        con.execute(sa.text("INSERT INTO orders VALUES (1, 5), (1, 7), (2, 1)"))
    monkeypatch.setenv("ORDERS_DB", str(db))
    path = tmp_path / "orders.yaml"
    path.write_text(textwrap.dedent("""\
        name: orders
        kind: sql
        sql:
          url: sqlite:///${ORDERS_DB}
          tables:
            - name: spend
              primary_key: id
              query: >
                SELECT p.id, p.email, p.changed, COALESCE(SUM(o.amount), 0) AS spend
                FROM people p LEFT JOIN orders o ON o.person_id = p.id GROUP BY p.id, p.email, p.changed
        mapping: {email: email, source_updated_at: changed}
        facts: [{name: spend, column: spend, type: number, agg: sum}]
        deletes: {mode: full_refresh}
        """))
    silo = load_silo(path)
    assert sync_silo(silo, warehouse, pipes).rows_loaded == {"spend": 3}
    with engine.begin() as con:
        con.execute(sa.text("DELETE FROM people WHERE id = 3"))
    report = sync_silo(silo, warehouse, pipes)
    assert report.full_refresh and report.rows_loaded == {"spend": 2}
    mapped = map_records(silo, raw_of(silo, warehouse))
    assert mapped.records.set_index("source_record_id")["is_deleted"].to_dict() == {"1": False, "2": False, "3": True}
    assert mapped.facts.set_index("source_record_id").loc["1", "value_num"] == 12.0


def test_custom_query_incremental_by_cursor(tmp_path, hub_paths, monkeypatch):
    warehouse, pipes = hub_paths
    db = tmp_path / "q.sqlite"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as con:
        con.execute(sa.text("CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, changed TEXT)"))
        con.execute(sa.text("INSERT INTO people VALUES (1,'a@x.com','2024-01-01'),(2,'b@x.com','2024-01-02')"))
    path = tmp_path / "q.yaml"
    path.write_text(f"name: q\nkind: sql\nsql:\n  url: sqlite:///{db}\n  tables:\n"
                    "    - {name: active, primary_key: id, cursor: changed, query: 'SELECT * FROM people'}\n"
                    "mapping: {email: email}\n")
    silo = load_silo(path)
    assert sync_silo(silo, warehouse, pipes).rows_loaded == {"active": 2}
    assert sync_silo(silo, warehouse, pipes).total_rows == 0
    with engine.begin() as con:
        con.execute(sa.text("INSERT INTO people VALUES (3,'c@x.com','2024-01-05')"))
    assert sync_silo(silo, warehouse, pipes).rows_loaded == {"active": 1}
    records = map_records(silo, raw_of(silo, warehouse)).records
    # no source_updated_at mapping: the table's cursor column dates the records
    assert records.set_index("source_record_id")["source_updated_at"].to_dict() == {
        "1": pd.Timestamp("2024-01-01"), "2": pd.Timestamp("2024-01-02"), "3": pd.Timestamp("2024-01-05")}


@pytest.mark.parametrize("url", ["postgresql+psycopg2://hub:s3cretpw@127.0.0.1:1/test",
                                 "mysql+pymysql://hub:s3cretpw@127.0.0.1:1/test"])
def test_unreachable_server_is_a_clear_error_without_the_password(tmp_path, hub_paths, monkeypatch, url):
    warehouse, pipes = hub_paths
    monkeypatch.setenv("DOWN_DB_URL", url)
    path = tmp_path / "down.yaml"
    path.write_text("name: down\nkind: sql\nsql: {url: '${DOWN_DB_URL}', tables: [{name: t, primary_key: id}]}\n"
                    "mapping: {email: email}\n")
    silo = load_silo(path)
    with pytest.raises(SiloSyncError) as err:
        sync_silo(silo, warehouse, pipes)
    msg = str(err.value)
    assert err.value.silo == "down" and msg.startswith("silo down: extract failed table t: ")
    assert "is the silo reachable?" in msg and "s3cretpw" not in msg
    problems = check_silo(silo).problems
    assert problems and "cannot read table t" in problems[0] and "s3cretpw" not in problems[0]


def _files_containing(root, secret: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and secret in p.read_bytes()]


def test_database_password_is_not_stored_anywhere(tmp_path, hub_paths, monkeypatch):
    warehouse, pipes = hub_paths
    engine = sa.create_engine(PG_URL)
    table = f"pw_probe_{uuid.uuid4().hex[:8]}"
    with engine.begin() as con:
        con.execute(sa.text(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, email TEXT)"))
        con.execute(sa.text(f"INSERT INTO {table} VALUES (1, 'a@x.com')"))
    try:
        # the local server trusts 127.0.0.1, so any password connects: enough to see where it would leak
        monkeypatch.setenv("PROBE_DB_URL", "postgresql+psycopg2://postgres:Zq9-leak-probe@127.0.0.1:5432/test")
        path = tmp_path / "probe.yaml"
        path.write_text(f"name: probe\nkind: sql\nsql: {{url: '${{PROBE_DB_URL}}', tables: [{{name: {table}, "
                        "primary_key: id}]}\nmapping: {email: email}\n")
        assert sync_silo(load_silo(path), warehouse, pipes).rows_loaded == {table: 1}
        assert _files_containing(tmp_path, b"Zq9-leak-probe") == []  # warehouse, dlt state, traces
    finally:
        with engine.begin() as con:
            con.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()


def test_several_tables_in_one_sql_silo(tmp_path, hub_paths):
    warehouse, pipes = hub_paths
    db = tmp_path / "crm.sqlite"
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.begin() as con:
        con.execute(sa.text("CREATE TABLE leads (id INTEGER PRIMARY KEY, email TEXT, changed TEXT)"))
        con.execute(sa.text("CREATE TABLE contacts (id INTEGER PRIMARY KEY, email TEXT, changed TEXT, phone TEXT)"))
        con.execute(sa.text("INSERT INTO leads VALUES (1,'a@x.com','2024-01-01'),(2,'b@x.com','2024-01-02')"))
        con.execute(sa.text("INSERT INTO contacts VALUES (1,'c@x.com','2024-01-03','555-0100')"))
    path = tmp_path / "crm.yaml"
    path.write_text(f"name: crm\nkind: sql\nprimary_key: id\ncursor: changed\nsql:\n  url: sqlite:///{db}\n"
                    "  tables: [{name: leads}, {name: contacts}]\nmapping: {email: email, phone: phone}\n")
    silo = load_silo(path)
    assert sync_silo(silo, warehouse, pipes).rows_loaded == {"leads": 2, "contacts": 1}
    raw = raw_of(silo, warehouse)
    assert sorted(raw["_table"]) == ["contacts", "leads", "leads"]
    records = map_records(silo, raw).records.set_index("source_record_id")
    assert sorted(records.index) == ["contacts:1", "leads:1", "leads:2"]
    assert records.loc["contacts:1", "phone"] == "555-0100" and records.loc["leads:1", "phone"] is None
    assert records.loc["leads:2", "source_updated_at"] == pd.Timestamp("2024-01-02")


def test_sqlite_stray_text_in_a_numeric_column_rejects_only_that_row(demo_dir, hub_paths):
    """SQLite keeps whatever was written ("lots" in a NUMERIC column): one row is rejected, the load succeeds."""
    warehouse, pipes = hub_paths
    silo = demo_silo("accounting")
    write_ledger(demo_dir / "accounting.sqlite",
                 [("A-009", "ROE, Rita", "5 Bay St, Dover, DE 19901", "302-555-0199", "lots", "2024-03-01T00:00:00")])
    report = sync_silo(silo, warehouse, pipes)
    assert report.rows_loaded == {"ledger_customers": 4}
    mapped = map_records(silo, raw_of(silo, warehouse))
    assert len(mapped.records) == 3 and list(mapped.rejected["source_record_id"]) == ["A-009"]
    reason = mapped.rejected["reason"].iloc[0]
    assert "balance" in reason and "lots" in reason
    assert mapped.facts.set_index("source_record_id").loc["A-001", "value_num"] == 120.5

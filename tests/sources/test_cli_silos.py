"""`hub silos list | check | new | sync` against real files, SQLite and the paginating test API."""
from __future__ import annotations

import io
import shutil
import uuid
import zipfile
from contextlib import contextmanager

import duckdb
import pytest
import sqlalchemy as sa
from silo_fixtures import REPO
from typer.testing import CliRunner

import hub.cli_silos
from hub.cli_silos import app
from sources import load_silo, map_records, read_raw, sync_silo

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    monkeypatch.setattr(hub.cli_silos.console, "width", 200)


def silos_folder(tmp_path, names=("accounting", "sales", "credit", "marketing")):
    folder = tmp_path / "silos"
    folder.mkdir()
    for name in names:
        shutil.copy(REPO / "silos" / f"{name}.yaml", folder)
    return folder


def test_sync_then_list_shows_counts_and_last_sync(demo_dir, hub_paths, tmp_path, monkeypatch):
    warehouse, _ = hub_paths
    folder = silos_folder(tmp_path)
    result = runner.invoke(app, ["sync", "--silos", str(folder), "--warehouse", str(warehouse)])
    assert result.exit_code == 0, result.output
    assert "ledger_customers 3" in result.output and "subscribers 2" in result.output
    assert (warehouse.parent / ".dlt_pipelines" / "hub_sales").is_dir()
    result = runner.invoke(app, ["list", "--silos", str(folder), "--warehouse", str(warehouse)])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if " files " in line or " sql " in line}
    assert "never" not in lines["accounting"] and " 3 " in lines["accounting"]
    assert " 4 " in lines["credit"]


def test_sync_failure_of_one_silo_does_not_stop_others(demo_dir, hub_paths, tmp_path):
    warehouse, _ = hub_paths
    folder = silos_folder(tmp_path)
    (demo_dir / "accounting.sqlite").unlink()
    (demo_dir / "accounting.sqlite").mkdir()  # a path SQLite cannot open
    result = runner.invoke(app, ["sync", "--silos", str(folder), "--warehouse", str(warehouse)])
    assert result.exit_code == 1
    assert "silo accounting: extract failed table ledger_customers" in result.output
    assert "subscribers 2" in result.output and "applications 4" in result.output


def test_check_reports_ok_sample_and_problems(demo_dir, tmp_path, monkeypatch):
    folder = silos_folder(tmp_path, ("sales", "credit"))
    result = runner.invoke(app, ["check", "--silos", str(folder)])
    assert result.exit_code == 0, result.output
    assert "✓ sales" in result.output and "john.smith@example.com" in result.output
    text = (folder / "credit.yaml").read_text().replace("ssn", "social_security_no")
    (folder / "credit.yaml").write_text(text)
    result = runner.invoke(app, ["check", "credit", "--silos", str(folder)])
    assert result.exit_code == 1
    assert "✗ credit" in result.output and "mapped column 'social_security_no' not found" in result.output
    (folder / "credit.yaml").write_text("name: credit\nkind: files\nfiles: [\n")
    result = runner.invoke(app, ["check", "--silos", str(folder)])
    assert result.exit_code == 2 and "credit.yaml, line" in result.output and "malformed YAML" in result.output


def sql_starter_of(tmp_path, monkeypatch, create_table: str, table: str, *inserts: str):
    """`hub silos new sql erp` introspecting a SQLite table made by `create_table` (and filled by
    `inserts`): (database, silo folder)."""
    db = tmp_path / "erp.sqlite"
    with sa.create_engine(f"sqlite:///{db}").begin() as con:
        for statement in (create_table, *inserts):
            con.execute(sa.text(statement))
    monkeypatch.setenv("ERP_DB_URL", f"sqlite:///{db}")
    folder = tmp_path / "silos"
    result = runner.invoke(app, ["new", "sql", "erp", "--url-env", "ERP_DB_URL", "--table", table,
                                 "--silos", str(folder)])
    assert result.exit_code == 0, result.output
    return db, folder


def test_new_sql_starter_is_introspected_and_valid(tmp_path, monkeypatch):
    db, folder = sql_starter_of(tmp_path, monkeypatch, "CREATE TABLE clients (client_no TEXT PRIMARY KEY, FirstName TEXT, "
                                "LastName TEXT, EMail TEXT, zip TEXT, LastModified TEXT)", "clients")
    text = (folder / "erp.yaml").read_text()
    assert "${ERP_DB_URL}" in text and str(db) not in text  # the secret stays in the environment
    silo = load_silo(folder / "erp.yaml")
    assert silo.sql.tables[0].primary_key == ["client_no"] and silo.sql.tables[0].cursor == "LastModified"
    assert silo.mapping.columns() == {"email": ["EMail"], "given_name": ["FirstName"], "family_name": ["LastName"],
                                      "postcode": ["zip"]}
    for kind in ("files", "rest"):
        assert runner.invoke(app, ["new", kind, f"x_{kind}", "--silos", str(folder)]).exit_code == 0
        assert load_silo(folder / f"x_{kind}.yaml").kind == kind
    again = runner.invoke(app, ["new", "sql", "erp", "--silos", str(folder)])
    assert again.exit_code == 2 and "--force" in again.output


def test_new_sql_starter_keeps_a_composite_key_and_quotes_odd_column_names(tmp_path, monkeypatch):
    _, folder = sql_starter_of(tmp_path, monkeypatch, 'CREATE TABLE accounts (branch TEXT, "No" TEXT, "E-mail #" TEXT, '
                               'Mobile TEXT, "Tel 2" TEXT, PRIMARY KEY (branch, "No"))', "accounts",
                               "INSERT INTO accounts VALUES ('A', '1', 'a@ziggo.nl', '+31 6 12345678', NULL), "
                               "('A', '2', 'b@kpn.nl', NULL, NULL), ('B', '1', 'c@xs4all.nl', NULL, NULL)")
    silo = load_silo(folder / "erp.yaml")
    assert silo.sql.tables[0].primary_key == ["branch", "No"]  # not one column named 'branch, No'; 'No' not false
    assert silo.mapping.columns() == {"email": ["E-mail #"], "phone": ["Mobile", "Tel 2"]}
    assert silo.country == "NL"  # read from the first rows' email domains and phone prefixes


def test_new_files_starter_reads_the_first_file(demo_dir, tmp_path):
    folder = tmp_path / "silos"
    result = runner.invoke(app, ["new", "files", "shop", "--path", str(demo_dir / "sales"),
                                 "--glob", "customers_*.csv", "--silos", str(folder)])
    assert result.exit_code == 0, result.output
    silo = load_silo(folder / "shop.yaml")
    assert silo.files.tables[0].primary_key == ["customer_id"]
    assert silo.mapping.columns() == {
        "given_name": ["first_name"], "family_name": ["last_name"], "email": ["email"], "phone": ["phone"],
        "address_line": ["ship_street"], "city": ["ship_city"], "region": ["ship_state"], "postcode": ["ship_zip"],
        "source_updated_at": ["updated_at"]}


def files_starter_of(tmp_path, file_name: str, content: bytes):
    """`hub silos new files crm` introspecting a folder holding one file: (silo, its file's text)."""
    drop, folder = tmp_path / "drop", tmp_path / "silos"
    drop.mkdir()
    (drop / file_name).write_bytes(content)
    glob = "*." + file_name.rsplit(".", 1)[-1]
    result = runner.invoke(app, ["new", "files", "crm", "--path", str(drop), "--glob", glob, "--silos", str(folder)])
    assert result.exit_code == 0, result.output
    return load_silo(folder / "crm.yaml"), (folder / "crm.yaml").read_text()


def test_new_files_starter_maps_a_field_spread_over_several_columns(tmp_path):
    silo, _ = files_starter_of(tmp_path, "contacts.csv", b"Contact ID,First Name,Last Name,Address 1,Address 2,Billing "
                               b"Address,Mobile,Home Phone,Email,Email 2,No\n7,Ann,Lee,12 Oak St,Apt 4,,555,556,a@x.com,,1\n")
    assert silo.files.tables[0].primary_key == ["Contact ID"]
    columns = silo.mapping.columns()
    assert columns["address_line"] == ["Address 1", "Address 2"]  # a billing address is another address, not a line
    assert columns["phone"] == ["Mobile", "Home Phone"] and columns["email"] == ["Email", "Email 2"]
    assert silo.mapping.address_line.combine_for("address_line") == "join"
    assert silo.mapping.phone.combine_for("phone") == "first"


def test_new_files_starter_reads_a_json_export_with_nested_records(tmp_path):
    silo, _ = files_starter_of(tmp_path, "export.json", b'{"count": 1, "customers": [{"customer_id": "7", "full_name": '
                               b'"Ann Lee", "contact": {"email": "a@x.com", "mobile": "555"}}]}')
    assert silo.files.tables[0].format == "json" and silo.files.tables[0].primary_key == ["customer_id"]
    assert silo.mapping.columns() == {"email": ["contact__email"], "phone": ["contact__mobile"], "full_name": ["full_name"]}


@pytest.mark.parametrize("header, expected", [
    ("Kunden-Nr;Vorname;Name;Straße;PLZ;Ort;Telefon;Handy;E-Mail;Geburtsdatum",
     {"given_name": ["Vorname"], "family_name": ["Name"], "address_line": ["Straße"], "postcode": ["PLZ"],
      "city": ["Ort"], "phone": ["Telefon", "Handy"], "email": ["E-Mail"], "birth_date": ["Geburtsdatum"]}),
    ("N° client;Prénom;Nom;Adresse;Code postal;Ville;Téléphone;Courriel;Date de naissance",
     {"given_name": ["Prénom"], "family_name": ["Nom"], "address_line": ["Adresse"], "postcode": ["Code postal"],
      "city": ["Ville"], "phone": ["Téléphone"], "email": ["Courriel"], "birth_date": ["Date de naissance"]}),
])
def test_new_files_starter_reads_german_and_french_column_names(tmp_path, header, expected):
    # a report saved from a German or French system: a title line, semicolons, the country's own words
    content = f"Kundenliste / Liste des clients\n{header}\n7;{';'.join('x' * (header.count(';')))}\n"
    silo, _ = files_starter_of(tmp_path, "export.csv", content.encode("utf-8"))
    assert silo.mapping.columns() == expected


@pytest.mark.parametrize("rows, country", [
    # German customers: .de addresses and +49 / 0049 phones, a .com among them
    (["a@web.de;+49 30 901820", "b@gmx.de;0049 89 123456", "c@gmail.com;030 901821", "d@t-online.de;"], "DE"),
    (["a@orange.fr;+33 1 42 68 53 00", "b@free.fr;", "c@laposte.net;+33 6 12 48 95 73"], "FR"),
    (["a@btinternet.co.uk;", "b@sky.co.uk;+44 20 7946 0958", "c@gmail.com;+44 7700 900123"], "GB"),
    # .com and national numbers say nothing: the default, marked to be checked
    (["a@gmail.com;(415) 555-2671", "b@yahoo.com;415 555 2672", "c@aol.com;"], None),
    # a start-up's '.io' and '.co' addresses are no country's; '+49 30 9001 234' keeps its inner '00'
    (["a@acme.io;+49 30 9001 234", "b@acme.co;+49 30 9001 235", "c@acme.io;+49 30 9001 236"], "DE"),
])
def test_new_files_starter_reads_the_country_from_email_domains_and_phone_prefixes(tmp_path, rows, country):
    silo, text = files_starter_of(tmp_path, "export.csv", ("id;email;phone\n" + "".join(
        f"{i};{row}\n" for i, row in enumerate(rows))).encode())
    assert silo.country == (country or "US")
    assert ("TODO: the country" in text) is (country is None)


def test_check_notes_a_country_the_rows_contradict(tmp_path):
    # a hand-written silo file for a German shop that kept the starter's US
    silo, _ = files_starter_of(tmp_path, "export.csv", b"id,email,phone\n1,a@web.de,+49 30 901820\n"
                               b"2,b@gmx.de,030 901821\n3,c@t-online.de,+49 89 123456\n")
    path = tmp_path / "silos" / "crm.yaml"
    path.write_text(path.read_text().replace("country: DE", "country: US"))
    result = runner.invoke(app, ["check", "crm", "--silos", str(tmp_path / "silos")])
    assert result.exit_code == 0, result.output  # worth knowing, not failing
    text = " ".join(result.output.split())
    assert "phone prefixes are DE's" in text and "says country: US" in text and "set country: DE" in text
    path.write_text(path.read_text().replace("country: US", "country: DE"))
    assert "phone prefixes are" not in runner.invoke(app, ["check", "crm", "--silos", str(tmp_path / "silos")]).output


def test_new_files_starter_reads_a_windows_export(tmp_path):
    silo, text = files_starter_of(tmp_path, "export.csv", "Kunden-Nr;Vorname;Nachname;E-Mail\n1;Jürgen;Weiß;jw@x.de\n"
                                  .encode("cp1252"))
    assert silo.files.tables[0].csv.encoding == "auto" and "Kunden-Nr" in text
    assert silo.mapping.columns()["email"] == ["E-Mail"]


PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
MARIA_URL = "mysql+pymysql://root@127.0.0.1:3306/test"


@contextmanager
def database_table(create: str, insert: str, url: str = PG_URL):
    """A table on the real PostgreSQL (or MariaDB) server in a schema of its own (`{schema}` in the
    statements), dropped afterwards; yields the schema's name."""
    schema = f"starter_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url)
    cascade = "" if engine.dialect.name in ("mysql", "mariadb") else " CASCADE"
    quoted = engine.dialect.identifier_preparer.quote(schema)
    try:
        with engine.begin() as con:
            con.execute(sa.text(f"CREATE SCHEMA {quoted}"))
            for statement in (create, insert):
                con.execute(sa.text(statement.replace("{schema}", schema)))
        yield schema
    finally:
        with engine.begin() as con:
            con.execute(sa.text(f"DROP SCHEMA IF EXISTS {quoted}{cascade}"))
        engine.dispose()


def started_and_synced(tmp_path, hub_paths, monkeypatch, schema: str, table: str, url: str = PG_URL):
    """`hub silos new sql` on the table, then one sync: (silo, its canonical records by id)."""
    monkeypatch.setenv("LEGACY_DB_URL", url)
    folder = tmp_path / "silos"
    result = runner.invoke(app, ["new", "sql", "legacy", "--url-env", "LEGACY_DB_URL", "--table", table,
                                 "--schema", schema, "--silos", str(folder)])
    assert result.exit_code == 0, result.output
    silo = load_silo(folder / "legacy.yaml")
    warehouse, pipes = hub_paths
    assert sync_silo(silo, warehouse, pipes).rows_loaded == {table: 1}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return silo, map_records(silo, read_raw(silo, con)).records.set_index("source_record_id")


def test_new_sql_starter_maps_a_mainframe_style_table_on_postgres_and_it_syncs(tmp_path, hub_paths, monkeypatch):
    """A DB2-style customer table (CUST_FIRST_NM, ADDR_LINE_1, ZIP_CD, LAST_UPD_TS): the starter maps
    it without a hand edit, and the sync reads each field from it."""
    with database_table(
            'CREATE TABLE "{schema}".cust_mstr (CUST_NO INTEGER PRIMARY KEY, CUST_FIRST_NM VARCHAR(30), '
            "CUST_LAST_NM VARCHAR(30), ADDR_LINE_1 VARCHAR(60), ADDR_LINE_2 VARCHAR(60), CITY_NM VARCHAR(30), "
            "STATE_CD CHAR(2), ZIP_CD CHAR(5), PHONE_NBR VARCHAR(20), EMAIL_ADDR VARCHAR(80), BIRTH_DT DATE, "
            "LAST_UPD_TS TIMESTAMP)",
            """INSERT INTO "{schema}".cust_mstr VALUES (1001, 'ANN', 'LEE', '12 OAK ST', 'APT 4', 'SPRINGFIELD', """
            "'IL', '62704', '217-555-0101', 'ANN.LEE@EXAMPLE.COM', '1984-03-07', '2024-01-01 09:00:00')") as schema:
        silo, records = started_and_synced(tmp_path, hub_paths, monkeypatch, schema, "cust_mstr")
    # PostgreSQL folds unquoted names to lower case: the starter reads them all the same
    assert silo.sql.tables[0].primary_key == ["cust_no"] and silo.sql.tables[0].cursor == "last_upd_ts"
    assert silo.mapping.columns() == {
        "given_name": ["cust_first_nm"], "family_name": ["cust_last_nm"], "email": ["email_addr"],
        "phone": ["phone_nbr"], "address_line": ["addr_line_1", "addr_line_2"], "city": ["city_nm"],
        "region": ["state_cd"], "postcode": ["zip_cd"], "birth_date": ["birth_dt"]}
    record = records.loc["1001"]
    assert (record["given_name"], record["address_line"], record["postcode"], str(record["birth_date"])[:10]) == (
        "ANN", "12 OAK ST APT 4", "62704", "1984-03-07")


def test_a_json_address_and_a_list_of_phones_in_postgres_are_read_by_their_parts(tmp_path, hub_paths, monkeypatch):
    """An application's table: a uuid key, the address as jsonb, the phones as an array. The address's
    keys become address__street, address__city, address__zip (as for files and APIs) and are mapped."""
    with database_table(
            'CREATE TABLE "{schema}".customers (id UUID PRIMARY KEY, full_name TEXT, phones TEXT[], address JSONB, '
            "updated_at TIMESTAMPTZ)",
            """INSERT INTO "{schema}".customers VALUES ('3f2b6c1e-8a43-4d5e-9b7a-2c1d0e9f8a7b', 'Ann Lee', """
            "ARRAY['+1 415 555 2671', '+1 415 555 2672'], "
            """'{"street": "12 Oak St", "city": "Springfield", "zip": "62704"}', now())""") as schema:
        silo, records = started_and_synced(tmp_path, hub_paths, monkeypatch, schema, "customers")
    assert silo.mapping.columns() == {"phone": ["phones"], "full_name": ["full_name"], "address_line": ["address__street"],
                                      "city": ["address__city"], "postcode": ["address__zip"]}
    assert silo.sql.tables[0].primary_key == ["id"] and silo.sql.tables[0].cursor == "updated_at"
    record = records.loc["3f2b6c1e-8a43-4d5e-9b7a-2c1d0e9f8a7b"]
    assert (record["address_line"], record["city"], record["postcode"]) == ("12 Oak St", "Springfield", "62704")
    assert "+1 415 555 2671" in record["phone"]  # the list as JSON text: the standardiser takes its first number


def test_a_json_address_in_mariadb_is_read_by_its_parts_as_in_postgres(tmp_path, hub_paths, monkeypatch):
    """MariaDB keeps JSON as LONGTEXT with a json_valid() check: it arrived as text and the starter
    mapped the whole '{"street": ...}' as the street. A LONGTEXT without the check stays text."""
    with database_table(
            "CREATE TABLE `{schema}`.customers (id INT PRIMARY KEY, full_name VARCHAR(60), address JSON, "
            "phones JSON, notes LONGTEXT, updated_at DATETIME)",
            """INSERT INTO `{schema}`.customers VALUES (7, 'Ann Lee', """
            """'{"street": "12 Oak St", "city": "Springfield", "zip": "62704"}', '["217-555-0101", "217-555-0102"]', """
            """'{"free": "text"}', now())""", MARIA_URL) as schema:
        silo, records = started_and_synced(tmp_path, hub_paths, monkeypatch, schema, "customers", MARIA_URL)
        with duckdb.connect(str(hub_paths[0]), read_only=True) as con:
            notes = con.execute("SELECT notes FROM raw_legacy.customers").fetchone()[0]
    assert silo.mapping.columns() == {"phone": ["phones"], "full_name": ["full_name"], "address_line": ["address__street"],
                                      "city": ["address__city"], "postcode": ["address__zip"]}
    record = records.loc["7"]
    assert (record["address_line"], record["city"], record["postcode"]) == ("12 Oak St", "Springfield", "62704")
    assert "217-555-0101" in record["phone"] and notes == '{"free": "text"}'


def test_new_files_starter_reads_a_gzipped_drop_and_names_a_file_it_cannot_read(tmp_path):
    import gzip

    silo, _ = files_starter_of(tmp_path, "export.csv.gz", gzip.compress(b"Customer ID,First Name,Last Name\n7,Ann,Lee\n"))
    assert silo.files.tables[0].primary_key == ["Customer ID"]
    assert silo.mapping.columns() == {"given_name": ["First Name"], "family_name": ["Last Name"]}
    buffer = io.BytesIO()  # the same zipped, as a mail client saves an attachment
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("export.csv", "Customer ID,First Name,Last Name\n7,Ann,Lee\n")
    (tmp_path / "zipped").mkdir()
    silo, _ = files_starter_of(tmp_path / "zipped", "export.csv.zip", buffer.getvalue())
    assert silo.files.tables[0].format == "csv" and silo.mapping.columns()["family_name"] == ["Last Name"]
    drop = tmp_path / "drop2"
    drop.mkdir()
    (drop / "export.csv").write_bytes(bytes(range(256)) * 4)  # no text in any encoding
    result = runner.invoke(app, ["new", "files", "crm", "--path", str(drop), "--silos", str(tmp_path / "silos2")])
    said = " ".join(result.output.split())  # the error console wraps long lines
    assert result.exit_code == 2 and "drop2/export.csv: not UTF-8" in said and "Traceback" not in said

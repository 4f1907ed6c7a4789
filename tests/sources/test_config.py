"""Silo files: the five demo files load; malformed files fail with file, line, field and fix."""
from __future__ import annotations

import textwrap

import pytest

from sources import SiloConfigError, load_silo, load_silos, require_env
from silo_fixtures import REPO

GOOD = """\
name: shop
kind: files
schedule: "0 * * * *"
files:
  tables:
    - name: customers
      path: ${SHOP_DIR:-/tmp/shop}
      glob: "*.csv"
      primary_key: id
mapping:
  email: email
"""


def write(tmp_path, text: str, name: str = "shop.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_demo_silos_load_with_their_facts_and_schedules(monkeypatch, tmp_path):
    monkeypatch.setenv("HUB_DEMO_DIR", str(tmp_path))
    monkeypatch.setenv("SUPPORT_API_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("SUPPORT_API_TOKEN", "t0ken-value")
    silos = {s.name: s for s in load_silos(REPO / "silos")}
    assert set(silos) == {"accounting", "sales", "credit", "support", "marketing"}
    assert {s.kind for s in silos.values()} == {"sql", "files", "rest"}
    facts = {(s.name, f.name, f.agg) for s in silos.values() for f in s.facts}
    assert facts == {
        ("accounting", "balance", "sum"), ("sales", "total_purchases", "sum"), ("sales", "lifetime_value", "sum"),
        ("sales", "last_purchase_date", "max"), ("credit", "credit_limit", "max"),
        ("credit", "payment_terms", "latest"), ("support", "open_tickets", "sum"), ("marketing", "subscribed", "any"),
    }
    assert all(s.missing_env == [] and s.retries.max_retries >= 1 for s in silos.values())
    assert silos["accounting"].sql.url.get_secret_value() == f"sqlite:///{tmp_path}/accounting.sqlite"
    assert silos["sales"].sensor is not None and silos["sales"].files.tables[0].format == "csv"
    assert silos["credit"].files.tables[0].format == "parquet"


def test_env_default_and_secret_not_in_repr(tmp_path, monkeypatch):
    monkeypatch.delenv("SHOP_DIR", raising=False)
    silo = load_silo(write(tmp_path, GOOD))
    assert silo.files.tables[0].path == "/tmp/shop"
    monkeypatch.setenv("SHOP_DIR", "/data/shop")
    assert load_silo(write(tmp_path, GOOD)).files.tables[0].path == "/data/shop"
    monkeypatch.setenv("DB_URL", "postgresql://u:supersecret@db/x")
    sql = load_silo(write(tmp_path, """\
        name: ledger
        kind: sql
        sql: {url: "${DB_URL}", tables: [{name: t, primary_key: id}]}
        mapping: {email: mail}
        """))
    assert "supersecret" not in repr(sql) and "supersecret" not in str(sql.model_dump())


def test_missing_env_variable_is_reported_with_line_and_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("LEDGER_DB_URL", raising=False)
    path = write(tmp_path, """\
        name: ledger
        kind: sql
        sql:
          url: ${LEDGER_DB_URL}
          tables: [{name: t, primary_key: id}]
        mapping: {email: mail}
        """)
    silo = load_silo(path)  # loading still works: Dagster imports every file
    with pytest.raises(SiloConfigError) as err:
        require_env(silo)
    msg = str(err.value)
    assert str(path) in msg and "line 4" in msg and "sql.url" in msg
    assert "LEDGER_DB_URL is not set" in msg and "export LEDGER_DB_URL=" in msg


@pytest.mark.parametrize("text, expected", [
    ("name: shop\nkind: files\n  files: [\n", ["malformed YAML", "line 3"]),
    (GOOD.replace("kind: files", "kind: ftp"), ["line 2", "field kind", "'sql', 'files' or 'rest'"]),
    (GOOD.replace("name: shop\n", ""), ["field name", "required field is missing; add `name:`"]),
    (GOOD.replace("  email: email", "  e_mail: email"), ["line 11", "field mapping.e_mail",
                                                         "unknown canonical field 'e_mail'", "map one of"]),
    (GOOD + "  name: {column: n, form: backwards}\n", ["line 12", "field mapping.name", "form:",
                                                        "last_first_comma"]),
    (GOOD + "facts:\n  - {name: bal, column: b, agg: total}\n", ["line 13", "facts.0.agg", "'sum'"]),
    (GOOD.replace('"0 * * * *"', '"every hour"'), ["line 3", "field schedule", "not a cron expression"]),
    (GOOD.replace("      primary_key: id\n", ""), ["no primary key", "add `primary_key:`"]),
    (GOOD.replace('glob: "*.csv"', 'glob: "*.dat"'), ["line 8", "cannot tell the file format", "add `format:`"]),
    (GOOD + "sql: {url: \"sqlite://\", tables: [{name: t}]}\n", ["kind is files", "remove it"]),
    ("- just\n- a list\n", ["must be a mapping"]),
    (GOOD + "mapping2: {}\n", ["line 12", "unknown field 'mapping2'"]),
    (GOOD + "  phone: {column: mobile, columns: [home]}\n", ["line 12", "field mapping.phone", "exactly one of"]),
    (GOOD + "  phone: {columns: []}\n", ["line 12", "field mapping.phone.columns", "at least 1"]),
    (GOOD + "  phone: {column: mobile, combine: first}\n", ["line 12", "`combine:` goes with `columns:`"]),
    (GOOD + "  phone: {columns: [a, b], combine: concat}\n", ["line 12", "mapping.phone.combine", "'join' or 'first'"]),
    (GOOD + "  source_record_id: {columns: [branch, no]}\n", ["line 12", "source_record_id.columns.1",
                                                              "YAML read a bare word as False", "quote it, 'No'"]),
])
def test_bad_files_name_file_line_field_and_fix(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SiloConfigError) as err:
        load_silo(path)
    msg = str(err.value)
    assert str(path) in msg
    for part in expected:
        assert part in msg, (part, msg)


def test_rest_auth_needs_its_secret(tmp_path):
    path = write(tmp_path, """\
        name: desk
        kind: rest
        rest:
          base_url: http://127.0.0.1:1
          auth: {type: bearer}
          endpoints: [{name: people, path: people, primary_key: id}]
        mapping: {email: email}
        """)
    with pytest.raises(SiloConfigError, match=r"line 5.*rest\.auth.*needs token"):
        load_silo(path)


def test_folder_errors_are_collected_and_names_unique(tmp_path):
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(SiloConfigError, match="shop used more than once"):
        load_silos(tmp_path)
    write(tmp_path, GOOD.replace("kind: files", "kind: nope"), "b.yaml")
    write(tmp_path, "name: [\n", "c.yaml")
    with pytest.raises(SiloConfigError) as err:
        load_silos(tmp_path)
    assert "b.yaml" in str(err.value) and "c.yaml" in str(err.value)
    with pytest.raises(SiloConfigError, match="silo folder not found"):
        load_silos(tmp_path / "missing")


def test_every_example_in_the_docs_is_a_valid_silo_file(tmp_path, monkeypatch):
    import re

    for var in ("ACCOUNTING_DB_URL", "SALES_DROP_DIR", "SUPPORT_API_URL", "SUPPORT_API_TOKEN"):
        monkeypatch.setenv(var, "sqlite:///x.db" if var.endswith("URL") and "DB" in var else "http://127.0.0.1:9")
    text = (REPO / "docs" / "silos.md").read_text()
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "kind:" in b]
    assert len(blocks) == 3
    kinds = set()
    for i, block in enumerate(blocks):
        path = tmp_path / f"doc{i}.yaml"
        path.write_text(block)
        silo = load_silo(path)
        kinds.add(silo.kind)
        assert silo.missing_env == [] and silo.mapping.items()
    assert kinds == {"sql", "files", "rest"}


def test_bad_sql_url_is_reported_without_its_value(tmp_path, monkeypatch):
    monkeypatch.setenv("BAD_URL", "hunter2-not-a-url")
    path = write(tmp_path, """\
        name: ledger
        kind: sql
        sql:
          url: ${BAD_URL}
          tables: [{name: t, primary_key: id}]
        mapping: {email: mail}
        """)
    with pytest.raises(SiloConfigError) as err:
        load_silo(path)
    assert "line 4, field sql.url: not a SQLAlchemy URL" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_fields_the_hub_fills_in_are_refused(tmp_path):
    with pytest.raises(SiloConfigError, match="line 12, field path: unknown field 'path'"):
        load_silo(write(tmp_path, GOOD + "path: /elsewhere\n"))


def test_a_silo_that_cannot_be_built_fails_when_run_not_when_built(tmp_path, hub_paths):
    from sources import SiloConfigError, build_source, sync_silo

    warehouse, pipes = hub_paths
    path = write(tmp_path, """\
        name: exotic
        kind: sql
        sql: {url: "nosuchdialect://host/db", tables: [{name: t, primary_key: id}]}
        mapping: {email: mail}
        """)
    silo = load_silo(path)
    build_source(silo)  # Dagster builds every silo at import: this must not raise
    with pytest.raises(Exception, match="silo exotic: cannot build its source: NoSuchModuleError"):
        sync_silo(silo, warehouse, pipes)


def test_valid_silos_load_beside_a_broken_file(tmp_path):
    from sources import load_valid_silos

    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD.replace("name: shop", "name: shop2").replace("kind: files", "kind: nope"), "b.yaml")
    silos, errors = load_valid_silos(tmp_path)
    assert [s.name for s in silos] == ["shop"]
    assert len(errors) == 1 and "b.yaml, line 2, field kind" in errors[0]
    write(tmp_path, GOOD, "c.yaml")
    silos, errors = load_valid_silos(tmp_path)
    assert silos == [] and "shop used more than once (a.yaml, c.yaml)" in errors[-1]

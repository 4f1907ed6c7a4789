"""The serving commands of the `hub` CLI against a real warehouse file."""
from __future__ import annotations

import json

import pyarrow.parquet as pq
from typer.testing import CliRunner

from hub.cli_serving import app, raw_tables_from_silos
from warehouse.security import read_audit, warehouse_session

runner = CliRunner()


def run(*args, **env):
    result = runner.invoke(app, list(args), env=env or None, catch_exceptions=False)
    return result


def test_query_formats_and_masking(warehouse, tmp_path):
    table = run("query", "SELECT customer_id, email FROM marts.customers ORDER BY customer_id")
    assert table.exit_code == 0 and "***@example.com" in table.output and "bob@example.com" not in table.output
    as_json = run("query", "SELECT email FROM marts.customers ORDER BY customer_id", "--format", "json",
                  "--role", "admin")
    assert as_json.exit_code == 0
    assert "bob@example.com" in {r["email"] for r in json.loads(as_json.stdout[:as_json.stdout.rindex("]") + 1])}
    out = tmp_path / "q.parquet"
    assert run("query", "SELECT * FROM marts.customer_360", "-f", "parquet", "-o", str(out)).exit_code == 0
    assert pq.read_table(out).num_rows == 4
    bad = run("query", "DELETE FROM marts.customers")
    assert bad.exit_code == 1 and "SELECT" in bad.output


def test_export_writes_masked_parquet(warehouse, tmp_path):
    result = run("export", "--out", str(tmp_path / "exp"))
    assert result.exit_code == 0, result.output
    customers = pq.read_table(tmp_path / "exp" / "customers.parquet").to_pylist()
    assert len(customers) == 4 and all("***@" in c["email"] for c in customers)
    assert (tmp_path / "exp" / "customer_360.parquet").exists()


def test_lookup_prints_the_card_and_audits(warehouse):
    result = run("lookup", "--phone", "217.555.0101", "--json")
    assert result.exit_code == 0, result.output
    cards = json.loads(result.stdout)
    assert [c["customer_id"] for c in cards] == [warehouse.ids["alice"]] and cards[0]["balance"] == 120.5
    assert run("lookup", "--phone", "12").exit_code == 1
    with warehouse_session(warehouse.path) as con:
        events = read_audit(con, action="lookup")
    assert list(events["customer_id"]) == [warehouse.ids["alice"]] and events["actor"][0].startswith("local:")


def test_keys_lifecycle_and_api_key_roles(warehouse):
    created = run("keys", "create", "--name", "bi-tool", "--role", "analyst")
    assert created.exit_code == 0, created.output
    token = next(line.strip() for line in created.output.splitlines() if line.strip().startswith("hub_"))
    listed = run("keys", "list")
    assert "bi-tool" in listed.output and token not in listed.output
    # acting with the analyst key: masked, and no erasure
    masked = run("lookup", "--email", "bob@example.com", "--json", "--api-key", token)
    assert json.loads(masked.stdout)[0]["email"] == "b***@example.com"
    refused = run("erase", "--customer", warehouse.ids["bob"], "--yes", "--api-key", token)
    assert refused.exit_code == 1 and "may not erase" in refused.output
    key_id = created.output.split("key id ")[1].split()[0]
    assert run("keys", "revoke", "--key-id", key_id).exit_code == 0
    assert run("lookup", "--email", "bob@example.com", "--api-key", token).exit_code == 1


def test_erase_and_audit_commands(warehouse, hash_key, monkeypatch, tmp_path):
    monkeypatch.setenv("HUB_DEMO_DIR", str(tmp_path / "demo"))
    assert set(warehouse.raw_tables) <= set(raw_tables_from_silos())  # the repo's silo files name these tables
    result = run("erase", "--customer", warehouse.ids["carol"], "--yes", "--reason", "GDPR-7")
    assert result.exit_code == 0, result.output
    assert "raw_credit.applications" in result.output and "suppression entries" in result.output
    with warehouse_session(warehouse.path) as con:
        assert con.execute("SELECT count(*) FROM raw_credit.applications").fetchall()[0][0] == 1
    audit = run("audit", "--customer", warehouse.ids["carol"], "--json")
    events = json.loads(audit.stdout)
    assert [e["action"] for e in events] == ["erase"] and "GDPR-7" in events[0]["detail"]


def test_encrypt_command_and_encrypted_lookup(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("HUB_WAREHOUSE_KEY", "cli-secret")
    monkeypatch.setenv("HUB_ALLOW_MBEDTLS_ENCRYPTION", "1")
    target = tmp_path / "enc.duckdb"
    result = run("encrypt", str(warehouse.path), str(target))
    assert result.exit_code == 0, result.output
    assert b"Johnson" not in target.read_bytes()
    found = run("lookup", "--phone", "2175550101", "--json", "--warehouse", str(target))
    assert json.loads(found.stdout)[0]["customer_id"] == warehouse.ids["alice"]
    monkeypatch.delenv("HUB_WAREHOUSE_KEY")
    refused = run("lookup", "--phone", "2175550101", "--warehouse", str(target))
    assert refused.exit_code == 1 and "HUB_WAREHOUSE_KEY" in refused.output

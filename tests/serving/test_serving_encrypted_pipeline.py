"""The whole pipeline on an encrypted warehouse: `hub demo` and a re-sync with HUB_WAREHOUSE_KEY set.

dlt loads through a connection that attaches the encrypted file, the pipeline's own connections do the
same, and nothing beside the warehouse keeps a readable copy of the silos' personal data.
"""
from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from warehouse.connection import connect
from warehouse.security import EncryptionSetupError

pytestmark = pytest.mark.slow

KEY = "encrypted pipeline test key"
NEW_EMAIL = "zelda.quintrell.enc@fastmail.com"  # example.* domains are junk to the standardiser
EMAIL = re.compile(rb"[\w.+-]+@[\w-]+\.[\w.]+")


def hub(args: list[str], workdir: Path, **extra_env: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "SUPPORT_API", "DAGSTER_HOME"))}
    env.update(HUB_WAREHOUSE_KEY=KEY, HUB_ALLOW_MBEDTLS_ENCRYPTION="1", **extra_env)
    done = subprocess.run([sys.executable, "-m", "hub.cli", *args], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def demo_emails(demo: Path) -> set[bytes]:
    """Every email address in the generated text silos (CSV and JSON)."""
    found: set[bytes] = set()
    for path in demo.rglob("*"):
        if path.suffix in (".csv", ".json"):
            found |= set(EMAIL.findall(path.read_bytes()))
    return found


def readable_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".gz":  # dlt writes its load files gzip-compressed
        data = gzip.decompress(data)
    return data


def files_holding(emails: set[bytes], root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and any(e in readable_bytes(p) for e in emails)]


@pytest.fixture(scope="module")
def encrypted_demo(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("encrypted_demo")
    warehouse = workdir / "hub.duckdb"
    hub(["demo", "--warehouse", str(warehouse)], workdir)
    return warehouse


def test_demo_warehouse_cannot_be_opened_without_the_key(encrypted_demo, monkeypatch):
    with pytest.raises(duckdb.Error, match="encrypted"):
        duckdb.connect(str(encrypted_demo), read_only=True)
    monkeypatch.delenv("HUB_WAREHOUSE_KEY", raising=False)
    with pytest.raises(EncryptionSetupError, match="HUB_WAREHOUSE_KEY"):
        connect(encrypted_demo, read_only=True)
    monkeypatch.setenv("HUB_WAREHOUSE_KEY", KEY)
    con = connect(encrypted_demo, read_only=True)
    try:
        customers = con.execute("SELECT count(*) FROM marts.customers").fetchall()[0][0]
        raw_tables = con.execute("SELECT count(*) FROM information_schema.tables "
                                 "WHERE table_schema LIKE 'raw_%'").fetchall()[0][0]
    finally:
        con.close()
    assert customers > 2000 and raw_tables >= 5  # dlt's raw tables landed in the encrypted file


def test_no_plaintext_email_in_the_warehouse_or_beside_it(encrypted_demo):
    emails = demo_emails(encrypted_demo.parent / "demo")
    assert len(emails) > 1000
    for path in encrypted_demo.parent.glob("hub.duckdb*"):
        data = path.read_bytes()
        assert not [e for e in emails if e in data], path
    # dlt's pipeline folders keep state and schemas, not the rows it loaded
    assert files_holding(emails, encrypted_demo.parent / ".dlt_pipelines") == []


def test_resync_loads_new_rows_into_the_encrypted_warehouse(encrypted_demo, monkeypatch):
    demo = encrypted_demo.parent / "demo"
    subscribers = demo / "marketing" / "subscribers.csv"
    subscribers.write_text(subscribers.read_text().rstrip("\n") + f"\nSUB9999999,{NEW_EMAIL},Zelda,10001,true,2026-01-01\n")
    hub(["sync", "marketing", "--warehouse", str(encrypted_demo)], encrypted_demo.parent, HUB_DEMO_DIR=str(demo))
    monkeypatch.setenv("HUB_WAREHOUSE_KEY", KEY)
    con = connect(encrypted_demo, read_only=True)
    try:
        staged = con.execute("SELECT count(*) FROM staging.customer_records WHERE email = ?", [NEW_EMAIL]).fetchall()
        golden = con.execute("SELECT count(*) FROM marts.customers WHERE email = ?", [NEW_EMAIL]).fetchall()
    finally:
        con.close()
    assert staged[0][0] == 1 and golden[0][0] == 1
    assert NEW_EMAIL.encode() not in encrypted_demo.read_bytes()
    assert files_holding({NEW_EMAIL.encode()}, encrypted_demo.parent / ".dlt_pipelines") == []


def test_silo_commands_work_on_the_encrypted_warehouse(encrypted_demo):
    workdir, demo = encrypted_demo.parent, encrypted_demo.parent / "demo"
    listed = hub(["silos", "list", "--warehouse", str(encrypted_demo)], workdir, HUB_DEMO_DIR=str(demo))
    assert "Cannot read" not in listed.stdout + listed.stderr
    synced = hub(["silos", "sync", "credit", "--warehouse", str(encrypted_demo)], workdir, HUB_DEMO_DIR=str(demo))
    assert "failed" not in synced.stdout

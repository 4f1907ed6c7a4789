"""`hub resolve` and `hub evaluate` end to end on small files."""
from __future__ import annotations

import json
import re

import pandas as pd
import pytest
from typer.testing import CliRunner
from workbooks import write_xls

from hub.cli_identity import app

runner = CliRunner()


def test_resolve_csv_then_evaluate(synthetic, tmp_path, monkeypatch):
    raw, _, truth = synthetic
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_HASH_KEY", "cli-test-key")
    raw.to_csv("people.csv", index=False)
    truth.to_csv("truth.csv", index=False)
    result = runner.invoke(app, ["resolve", "people.csv", "--out", "out/xref.parquet", "--save-model", "model.json"])
    assert result.exit_code == 0, result.output
    xref = pd.read_parquet("out/xref.parquet")
    assert list(xref.columns) == ["silo", "source_record_id", "customer_id", "match_probability"]
    assert len(xref) == len(raw)
    assert "Stage timings" in result.output and "customers" in result.output
    assert (tmp_path / "model.json").read_text().lstrip().startswith("{")

    ev = runner.invoke(app, ["evaluate", "out/xref.parquet", "truth.csv"])
    assert ev.exit_code == 0, ev.output
    assert "pairwise" in ev.output and "B-cubed" in ev.output


def test_resolve_reuses_a_model_and_fills_missing_keys(synthetic, tmp_path, monkeypatch):
    raw, _, _ = synthetic
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_HASH_KEY", "cli-test-key")
    first = runner.invoke(app, ["resolve", _write(raw, "a.parquet"), "--out", "a_out.parquet", "--save-model", "m.json"])
    assert first.exit_code == 0, first.output
    bare = raw.drop(columns=["silo", "source_record_id"])
    second = runner.invoke(app, ["resolve", _write(bare, "crm_export.csv"), "--out", "b.parquet", "--model", "m.json",
                                 "--threshold", "0.95"])
    assert second.exit_code == 0, second.output
    out = pd.read_parquet("b.parquet")
    assert set(out["silo"]) == {"crm_export"}
    assert out["source_record_id"].tolist() == [str(i) for i in range(1, len(raw) + 1)]


def test_resolve_rejects_unknown_file_types(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.json").write_text("[]")
    result = runner.invoke(app, ["resolve", "x.json", "--out", "o.parquet"])
    assert result.exit_code != 0
    assert ".parquet, .csv, .xlsx or .xls" in result.output
    (tmp_path / "x.xlsx").write_text("nope")
    result = runner.invoke(app, ["resolve", "x.xlsx", "--out", "o.parquet"])
    assert result.exit_code == 2 and "not readable as an Excel workbook" in result.output


def test_resolve_reads_an_excel_workbook_with_numbers_and_dates_in_cells(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_HASH_KEY", "cli-test-key")
    # cells typed the spreadsheet way: a ZIP as a number (leading zero lost), a date as a date
    pd.DataFrame({"Silo": ["crm", "erp", "erp"], "Source Record ID": [1, 7, 8],
                  "First Name": ["Anna", "Anna", "Bea"], "Last Name": ["Berg", "Berg", "Berg"],
                  "ZIP": [2134, 2134, 2134],
                  "Date of Birth": pd.to_datetime(["1984-03-07", "1984-03-07", "1990-11-02"])}).to_excel(
        "export.xlsx", index=False)
    result = runner.invoke(app, ["resolve", "export.xlsx", "--out", "x.parquet"])
    assert result.exit_code == 0, result.output
    xref = pd.read_parquet("x.parquet").set_index("source_record_id")["customer_id"]
    assert xref["1"] == xref["7"] != xref["8"]
    from pathlib import Path

    from hub.cli_identity import read_table, with_canonical_names
    from identity_resolution import standardise_records

    staged = standardise_records(with_canonical_names(read_table(Path("export.xlsx"))), hash_key=b"k")
    assert staged["postcode"].tolist() == ["02134"] * 3 and str(staged["birth_date"].iloc[0]) == "1984-03-07"


def test_resolve_skips_the_title_lines_above_an_excel_reports_header(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_HASH_KEY", "cli-test-key")
    rows = [["Customer list"], ["Exported 1 May 2024"], [],
            ["Silo", "Source Record ID", "First Name", "Last Name", "Email"],
            ["crm", "1", "Anna", "Berg", "anna.berg@example.org"], ["erp", "7", "Anna", "Berg", "anna.berg@example.org"],
            ["erp", "8", "Bea", "Holm", "bea.holm@example.org"]]
    pd.DataFrame(rows).to_excel("report.xlsx", index=False, header=False)
    write_xls("report.xls", rows)  # the same from an older system, Excel 97-2003
    for name in ("report.xlsx", "report.xls"):
        result = runner.invoke(app, ["resolve", name, "--out", "x.parquet"])
        assert result.exit_code == 0, result.output
        xref = pd.read_parquet("x.parquet").set_index("source_record_id")["customer_id"]
        assert sorted(xref.index) == ["1", "7", "8"] and xref["1"] == xref["7"] != xref["8"]


def _write(frame: pd.DataFrame, name: str) -> str:
    if name.endswith(".csv"):
        frame.to_csv(name, index=False)
    else:
        frame.astype("string").to_parquet(name, index=False)
    return name


def test_resolve_without_hash_key_says_how_to_fix(synthetic, tmp_path, monkeypatch):
    raw, _, _ = synthetic
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HUB_HASH_KEY", raising=False)
    raw.to_csv("people.csv", index=False)
    result = runner.invoke(app, ["resolve", "people.csv", "--out", "o.parquet"])
    assert result.exit_code == 2
    assert "HUB_HASH_KEY" in result.output


def test_resolve_reads_semicolon_csv_with_a_byte_order_mark(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_HASH_KEY", "cli-test-key")
    # what a spreadsheet in much of Europe saves: ';' between fields, a BOM before the header
    (tmp_path / "export.csv").write_bytes(
        "silo;source_record_id;given_name;family_name;email\n"
        "crm;1;Anna;Berg;anna.berg@acme.io\nerp;7;Anna;Berg;anna.berg@acme.io\n".encode("utf-8-sig"))
    result = runner.invoke(app, ["resolve", "export.csv", "--out", "x.parquet"])
    assert result.exit_code == 0, result.output
    xref = pd.read_parquet("x.parquet")
    assert xref["silo"].tolist() == ["crm", "erp"] and xref["source_record_id"].tolist() == ["1", "7"]


def resolve_export(tmp_path, monkeypatch, content: bytes, region: str):
    """`hub resolve export.csv --region REGION` on `content`: (the command's result, the cross-reference)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_HASH_KEY", "cli-test-key")
    (tmp_path / "export.csv").write_bytes(content)
    result = runner.invoke(app, ["resolve", "export.csv", "--out", "x.parquet", "--region", region])
    assert result.exit_code == 0, result.output
    return result, pd.read_parquet("x.parquet")


def test_resolve_reads_a_windows_export_with_its_own_column_names(tmp_path, monkeypatch):
    # what Excel on a French Windows machine saves: cp1252, headers as people write them
    result, xref = resolve_export(tmp_path, monkeypatch, (
        "Silo;Source Record ID;First Name;Last Name;E-mail;Date of Birth\n"
        "crm;1;Hélène;Lefèvre;h.lefevre@acme.fr;03/07/1984\n"
        "erp;7;Helene;Lefevre;;03/07/1984\n"
        "erp;8;Hélène;Lefèvre;;04/07/1984\n").encode("cp1252"), "FR")
    assert "read as cp1252" in result.output and re.search(r"First Name\s*│\s*given_name", result.output)
    assert xref["source_record_id"].tolist() == ["1", "7", "8"]
    assert xref["customer_id"].iloc[0] == xref["customer_id"].iloc[1] != xref["customer_id"].iloc[2]


def test_resolve_reads_a_german_report_with_a_title_line(tmp_path, monkeypatch):
    # a title above the header, semicolons, German column names; 'Name' beside 'Vorname' is the family name
    result, xref = resolve_export(tmp_path, monkeypatch, (
        "Kundenliste vom 01.05.2024\n"
        "Silo;Kunden-Nr;Vorname;Name;PLZ;Geburtsdatum\n"
        "crm;1;Jürgen;Weiß;01067;07.03.1984\nerp;7;Jürgen;Weiss;01067;07.03.1984\nerp;8;Jürgen;Weiß;01067;12.11.1990\n"
    ).encode("utf-8"), "DE")
    assert re.search(r"Name\s*│\s*family_name", result.output)
    from pathlib import Path

    from hub.cli_identity import read_table, with_canonical_names

    table = with_canonical_names(read_table(Path("export.csv"), "DE"))
    assert table[["given_name", "family_name"]].iloc[0].tolist() == ["Jürgen", "Weiß"]
    assert "source_record_id: read from column 'Kunden-Nr'" in result.output
    assert xref["source_record_id"].tolist() == ["1", "7", "8"]  # the silo's own ids, to join the answer back
    customer = xref["customer_id"]
    assert customer.iloc[0] == customer.iloc[1] != customer.iloc[2]  # a father with his son's name and address


def test_resolve_reads_the_region_from_the_records_when_not_given(tmp_path, monkeypatch):
    # a German file and no --region: the .de mailboxes and +49 phones say where national numbers are from
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_HASH_KEY", "cli-test-key")
    pd.DataFrame({"silo": ["crm", "crm", "erp", "erp"], "source_record_id": ["1", "2", "7", "8"],
                  "full_name": ["Jürgen Weiß", "Anna Berg", "Jürgen Weiss", "Paul Roth"],
                  "email": ["jw@web.de", "ab@gmx.de", None, "pr@t-online.de"],
                  "phone": ["+49 30 90182736", "+49 89 52719384", "030 90182736", None]}).to_csv("export.csv", index=False)
    result = runner.invoke(app, ["resolve", "export.csv", "--out", "x.parquet"])
    assert result.exit_code == 0, result.output
    assert "region: DE (read from the emails' domains" in result.output
    customer = pd.read_parquet("x.parquet").set_index("source_record_id")["customer_id"]
    assert customer["1"] == customer["7"]
    from pathlib import Path

    from hub.cli_identity import read_table, region_of
    from identity_resolution import standardise_records

    raw = read_table(Path("export.csv"))
    staged = standardise_records(raw, default_region=region_of(raw), hash_key=b"k")
    assert staged["phone"].iloc[2] == "+493090182736"  # '030 90182736' is a Berlin number, not a broken US one
    pd.DataFrame({"email": ["a@gmail.com", "b@yahoo.com"], "phone": ["415 555 2671", None]}).to_csv("us.csv", index=False)
    assert "region: US (the default" in runner.invoke(app, ["resolve", "us.csv", "--out", "u.parquet"]).output


def test_resolve_refuses_repeated_record_keys_before_any_work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_HASH_KEY", "cli-test-key")
    pd.DataFrame({"silo": ["crm", "erp", "erp", "erp"], "source_record_id": [1, 2, 2, 2],
                  "given_name": ["Ann"] * 4, "family_name": ["Lee"] * 4}).to_parquet("twice.parquet")
    result = runner.invoke(app, ["resolve", "twice.parquet", "--out", "x.parquet"])
    assert result.exit_code == 2
    said = re.sub(r"[\s│]+", " ", result.output)  # the error box wraps and borders its lines
    assert "1 (silo, source_record_id) keys appear more than once, e.g. erp:2 (data rows 2, 3, 4)" in said
    assert not (tmp_path / "x.parquet").exists()


@pytest.mark.parametrize("content, said", [
    ("", "empty.csv: the file is empty (not even a header line)"),
    ("silo,source_record_id,full_name\na,1,Ann Lee\na,2,Bo Ek,extra,more\n",
     "empty.csv: not readable as CSV: Error tokenizing data. C error: Expected 3 fields in line 3, saw 5"),
])
def test_resolve_names_an_empty_or_malformed_csv(tmp_path, monkeypatch, content, said):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.csv").write_text(content)
    result = runner.invoke(app, ["resolve", "empty.csv", "--out", "x.parquet"])
    assert result.exit_code == 2 and said in re.sub(r"[\s│]+", " ", result.output)


def test_resolve_refuses_input_with_nothing_to_match_on(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_HASH_KEY", "cli-test-key")
    (tmp_path / "wrong.csv").write_text("customer|notes\n1|anna.berg@acme.io\n")
    result = runner.invoke(app, ["resolve", "wrong.csv", "--out", "x.parquet"])
    assert result.exit_code == 2
    assert "none of the columns" in result.output and "customer" in result.output
    assert not (tmp_path / "x.parquet").exists()


def test_resolve_prints_how_much_each_pair_of_silos_overlaps(tmp_path, monkeypatch):
    from hub.demo.generator import generate_canonical

    raw, _ = generate_canonical(1500, 11)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_HASH_KEY", "cli-test-key")
    monkeypatch.setenv("COLUMNS", "160")
    raw.to_parquet("records.parquet", index=False)
    result = runner.invoke(app, ["resolve", "records.parquet", "--out", "xref.parquet", "--save-model", "m.json"])
    assert result.exit_code == 0, result.output
    assert "Silo overlap" in result.output
    model = json.loads((tmp_path / "m.json").read_text())
    top = max(model["silo_pair_priors"], key=lambda e: e["prior"])
    a, b = top["silos"]
    assert (f"{a} × {b}" if a != b else f"{a} (within)") in result.output
    reused = runner.invoke(app, ["resolve", "records.parquet", "--out", "again.parquet", "--model", "m.json"])
    assert reused.exit_code == 0, reused.output
    assert "Silo overlap" not in reused.output  # nothing was settled on this input


def test_resolve_says_which_silos_were_read_by_their_habit(tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from fresh_shapes import make_population

    records, _ = make_population(300, "en_US", seed=2, layouts="legacy")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HUB_HASH_KEY", "cli-test-key")
    monkeypatch.setenv("COLUMNS", "160")
    records.to_csv("records.csv", index=False)
    result = runner.invoke(app, ["resolve", "records.csv", "--out", "xref.parquet"])
    assert result.exit_code == 0, result.output
    assert "Silo habits" in result.output
    habit_rows = [line for line in result.output.splitlines() if "│" in line and "first" in line]
    assert len(habit_rows) == 1 and "ledger" in habit_rows[0] and "whole names surname first" in habit_rows[0]


def test_reading_input_does_not_import_dlt(tmp_path):
    """`hub resolve` borrows the silo layer's encoding and column-name helpers; dlt (its import
    landing after a million records are read pinned 0.4 GiB of their strings) stays out."""
    import subprocess
    import sys

    (tmp_path / "in.csv").write_text("First Name,Email\nAnn,ann@acme.io\n")
    code = ("import sys; from pathlib import Path; from hub.cli_identity import read_table, with_canonical_names; "
            f"df = with_canonical_names(read_table(Path({str(tmp_path / 'in.csv')!r}))); "
            "assert list(df.columns) == ['given_name', 'email'], df.columns; "
            "assert 'dlt' not in sys.modules, 'dlt imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

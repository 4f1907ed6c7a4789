"""Fixed-width text drops (a mainframe's or ledger's record layout): reading, the layout's checks, the starter."""
from __future__ import annotations

import io

import duckdb
import pytest
from silo_fixtures import one_file_drop_silo
from typer.testing import CliRunner

from hub.cli_silos import app
from sources import SiloConfigError, SiloSyncError, load_silo, map_records, read_raw, sync_silo
from sources.errors import MalformedFileError
from sources.fixed_width import infer_columns, looks_fixed_width, read_fixed_width

# fields abut, as a COBOL record writes them: no blank between the id and the family name
RECORDS = ("0001001LEFÈVRE   HÉLÈNE    7500219840307\n"
           "0001002SMITH     JOHN      0210819710102\n"
           "0001003O'NEIL    MARY ANN  02108        \n")
LAYOUT = ("{columns: [{name: cust_no, start: 1, width: 7}, {name: last_name, start: 8, width: 10}, "
          "{name: first_name, start: 18, width: 10}, {name: zip, start: 28, width: 5}, "
          "{name: birth, start: 33, width: 8}]}")


def drop_silo(tmp_path, content: bytes, layout: str = LAYOUT):
    return one_file_drop_silo(
        tmp_path, "cust.dat", content,
        f"name: customers, format: fixed_width, primary_key: cust_no, csv: {{header: false}}, fixed_width: {layout}",
        '{given_name: first_name, family_name: last_name, postcode: zip, birth_date: {column: birth, formats: ["%Y%m%d"]}}',
        silo="ledger")


def test_a_documented_layout_reads_abutting_fields_in_the_files_code_page(tmp_path, hub_paths):
    warehouse, pipes = hub_paths
    silo = drop_silo(tmp_path, RECORDS.encode("cp1252"))  # a Windows code page, read from the bytes
    assert sync_silo(silo, warehouse, pipes).rows_loaded == {"customers": 3}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        records = map_records(silo, read_raw(silo, con)).records.set_index("source_record_id")
    assert records.loc["0001001", ["given_name", "family_name", "postcode"]].tolist() == ["HÉLÈNE", "LEFÈVRE", "75002"]
    assert str(records.loc["0001002", "birth_date"])[:10] == "1971-01-02"
    assert records.loc["0001003", "given_name"] == "MARY ANN" and records.isna().loc["0001003", "birth_date"]


def test_a_line_longer_than_the_layout_names_the_file_and_line_and_loads_nothing(tmp_path, hub_paths):
    warehouse, pipes = hub_paths
    shifted = RECORDS + "0001004 SMITH     JOHN      0210819710102\n"  # one blank too many: every field moves
    silo = drop_silo(tmp_path, shifted.encode("utf-8"))
    with pytest.raises(SiloSyncError, match=r"customers/cust.dat, line 4: 41 characters where the layout ends at 40"):
        sync_silo(silo, warehouse, pipes)
    with duckdb.connect(str(warehouse)) as con:
        assert not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw_ledger'"
                               ).fetchone()[0]


@pytest.mark.parametrize("layout, message", [
    ("{columns: [{name: a, start: 1, width: 5}, {name: b, start: 4, width: 2}]}",
     "fields 'a' (characters 1-5) and 'b' (from 4) overlap"),
    ("{columns: [{name: a, start: 1, width: 5}, {name: a, start: 6, width: 2}]}", "field names repeat: ['a']"),
    ("{columns: [{name: a, start: 0, width: 5}]}", "greater than or equal to 1"),
])
def test_a_layout_that_cannot_be_read_is_refused_naming_the_fields(tmp_path, layout, message):
    with pytest.raises(SiloConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        drop_silo(tmp_path, RECORDS.encode(), layout=layout)


def test_without_a_layout_the_header_line_gives_one():
    text = ("CUST_NO LAST_NAME  FIRST_NAME ZIP\n"
            "0001001 SMITH      JOHN       62704\n"
            "0001002 VAN BERG   ANNA MARIA 02108\n")
    assert infer_columns(text.splitlines()) == [
        {"name": "CUST_NO", "start": 1, "width": 8}, {"name": "LAST_NAME", "start": 9, "width": 11},
        {"name": "FIRST_NAME", "start": 20, "width": 11}, {"name": "ZIP", "start": 31, "width": 5}]
    frame = next(read_fixed_width(io.BytesIO(text.encode()), None, "utf-8", True, 0, "x/y.txt"))
    assert frame.to_dict("records")[1] == {"CUST_NO": "0001002", "LAST_NAME": "VAN BERG", "FIRST_NAME": "ANNA MARIA",
                                           "ZIP": "02108"}


def test_a_value_running_across_the_headers_fields_is_refused_not_cut():
    text = b"CUST_NO LAST_NAME  FIRST_NAME ZIP\n0001001 SMITH      JOHN       62704\n0001002 VAN DER BERG ANNA    02108\n"
    with pytest.raises(MalformedFileError, match=r"x/y.txt, line 3: a value runs on from field 'LAST_NAME' into "
                                                 r"'FIRST_NAME'.*fixed_width.columns"):
        list(read_fixed_width(io.BytesIO(text), None, "utf-8", True, 0, "x/y.txt"))


def test_a_line_past_the_end_of_an_inferred_layout_is_refused_too():
    # the last field runs to the longest of the first lines; a longer line further down holds more
    text = b"ID NAME\n" + b"".join(b"%-3d ANN\n" % i for i in range(150)) + b"999 BEATRIX\n"
    with pytest.raises(MalformedFileError, match=r"line 152: 11 characters where the layout ends at 7"):
        list(read_fixed_width(io.BytesIO(text), None, "utf-8", True, 0, "x/y.txt"))


@pytest.mark.parametrize("lines, expected", [
    (["CUST_NO LAST_NAME  ZIP", "0001001 SMITH      62704", "0001002 JONES      02108"], True),
    (["id,name,zip", "1,Ann,62704", "2,Bo,02108"], False),  # a CSV file
    (["Customer list", "exported today"], False),  # prose, two words a line
    (["Dear customer, thank you", "for your order of the", "new garden furniture set"], False),  # words run across
    (["Kundenliste / Liste des clients", "Kunden-Nr;Vorname;Name", "7;Ann;Lee", "8;Bo;Ek"], False),  # a titled CSV
])
def test_a_fixed_width_file_is_told_from_a_delimited_one(lines, expected):
    assert looks_fixed_width(lines) is expected


def test_the_starter_writes_the_layout_of_a_fixed_width_drop_and_it_syncs(tmp_path, hub_paths):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "cust.txt").write_text("CUST_NO LAST_NAME     FIRST_NAME  ZIP_CD PHONE_NBR   BIRTH_DT\n"
                                   "0001001 SMITH         JOHN        62704  2175550101  19840307\n"
                                   "0001002 ONEIL         MARY ANN    02108              19710102\n")
    folder = tmp_path / "silos"
    result = CliRunner().invoke(app, ["new", "files", "legacy", "--path", str(drop), "--glob", "*.txt",
                                      "--silos", str(folder)])
    assert result.exit_code == 0, result.output
    silo = load_silo(folder / "legacy.yaml")
    table = silo.files.tables[0]
    assert table.format == "fixed_width" and table.primary_key == ["CUST_NO"]
    assert [(c.name, c.start, c.width) for c in table.fixed_width.columns][:2] == [("CUST_NO", 1, 8),
                                                                                   ("LAST_NAME", 9, 14)]
    assert silo.mapping.columns()["birth_date"] == ["BIRTH_DT"] and silo.mapping.columns()["postcode"] == ["ZIP_CD"]
    warehouse, pipes = hub_paths
    assert sync_silo(silo, warehouse, pipes).rows_loaded == {"customers": 2}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        records = map_records(silo, read_raw(silo, con)).records.set_index("source_record_id")
    assert records.loc["0001002", ["given_name", "postcode"]].tolist() == ["MARY ANN", "02108"]
    assert str(records.loc["0001001", "birth_date"])[:10] == "1984-03-07"

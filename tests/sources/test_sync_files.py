"""File silos end to end: CSV/Parquet/JSONL/Excel drops, only new or changed files, merges, drift."""
from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import re
import textwrap
import time
import zipfile

import duckdb
import pandas as pd
import pytest
from silo_fixtures import demo_silo, one_file_drop_silo, write_sales
from workbooks import write_xls

from sources import SchemaDriftError, SiloSyncError, load_silo, map_records, read_raw, sync_silo


def raw_of(silo, warehouse) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return read_raw(silo, con)


def touch_later(path):
    # file listings compare modification times; make the change visible even on coarse clocks
    later = time.time() + 5
    os.utime(path, (later, later))


def silo_file(tmp_path, text: str):
    """A silo file written from `text` (dedented) into tmp_path and loaded."""
    path = tmp_path / "silo.yaml"
    path.write_text(textwrap.dedent(text))
    return load_silo(path)


def test_csv_drop_is_incremental_by_file_and_merges_updates(demo_dir, hub_paths):
    warehouse, pipes = hub_paths
    silo = demo_silo("sales")
    first = sync_silo(silo, warehouse, pipes)
    assert first.rows_loaded == {"customers": 2} and first.load_id
    raw = raw_of(silo, warehouse)
    assert sorted(raw["customer_id"]) == ["S1", "S2"] and set(raw["_table"]) == {"customers"}
    assert raw.loc[raw.customer_id == "S1", "ship_zip"].item() == "02704"  # text kept, leading zero too

    again = sync_silo(silo, warehouse, pipes)
    assert again.total_rows == 0 and again.load_id is None
    with duckdb.connect(str(warehouse), read_only=True) as con:
        loads = con.execute("SELECT count(*) FROM raw_sales._dlt_loads").fetchall()[0][0]
    assert loads == 1  # the second run wrote nothing at all

    # a new file: only its rows are read; it updates S2 and adds S3
    new = write_sales(demo_dir / "sales", "customers_2.csv", rows=[
        dict(customer_id="S2", first_name="Ann", last_name="Lee-Park", email="ann@example.com", phone="",
             ship_street="1 Main St", ship_city="Austin", ship_state="TX", ship_zip="73301",
             total_purchases="2", lifetime_value="45", last_purchase_date="2024-04-01", updated_at="2024-04-01"),
        dict(customer_id="S3", first_name="Bo", last_name="Chen", email="bo@example.com", phone="5125550100",
             ship_street="", ship_city="", ship_state="", ship_zip="", total_purchases="0",
             lifetime_value="0", last_purchase_date="", updated_at="2024-04-02")])
    touch_later(new)
    third = sync_silo(silo, warehouse, pipes)
    assert third.rows_loaded == {"customers": 2}
    raw = raw_of(silo, warehouse)
    assert len(raw) == 3 and raw.loc[raw.customer_id == "S2", "last_name"].item() == "Lee-Park"
    assert set(raw["_source_file"]) == {"customers_1.csv", "customers_2.csv"}
    mapped = map_records(silo, raw)
    assert len(mapped.records) == 3 and mapped.rejected.empty


def test_new_column_is_loaded_and_reported(demo_dir, hub_paths):
    warehouse, pipes = hub_paths
    silo = demo_silo("sales")
    sync_silo(silo, warehouse, pipes)
    frame = pd.read_csv(demo_dir / "sales" / "customers_1.csv", dtype=str, keep_default_na=False)
    frame["Loyalty Tier"] = ["gold", "silver"]
    path = demo_dir / "sales" / "customers_1.csv"
    frame.to_csv(path, index=False)
    touch_later(path)
    report = sync_silo(silo, warehouse, pipes)
    assert report.new_columns == {"customers": ["loyalty_tier"]}
    assert sorted(raw_of(silo, warehouse)["loyalty_tier"]) == ["gold", "silver"]


def test_mapped_column_disappearing_fails_and_leaves_raw_untouched(demo_dir, hub_paths):
    warehouse, pipes = hub_paths
    silo = demo_silo("sales")
    sync_silo(silo, warehouse, pipes)
    before = raw_of(silo, warehouse)
    path = demo_dir / "sales" / "customers_1.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=["email"])
    frame["first_name"] = "Changed"
    frame.to_csv(path, index=False)
    touch_later(path)
    with pytest.raises(SchemaDriftError) as err:
        sync_silo(silo, warehouse, pipes)
    assert (err.value.silo, err.value.table, err.value.column) == ("sales", "customers", "email")
    msg = str(err.value)
    assert "silo sales" in msg and "table customers" in msg and "'email'" in msg and "mapping.email" in msg
    pd.testing.assert_frame_equal(raw_of(silo, warehouse), before)
    # the failed run did not advance the file cursor: once fixed, the file is read again
    frame["email"] = ["john.smith@example.com", "ann@example.com"]
    frame.to_csv(path, index=False)
    report = sync_silo(silo, warehouse, pipes)
    assert report.rows_loaded == {"customers": 2}
    assert set(raw_of(silo, warehouse)["first_name"]) == {"Changed"}


def test_a_field_over_several_columns_loads_and_each_column_is_watched(tmp_path, hub_paths):
    warehouse, pipes = hub_paths
    drop = tmp_path / "drop"
    drop.mkdir()
    export = drop / "contacts.csv"
    export.write_text("ID,First,Last,Address 1,Address 2,Mobile,Home Phone\n"
                      "1,Ann,Lee,12 Oak St,Apt 4,,(217) 555-0199\n2,Bo,Ray,9 Elm Ave,,(217) 555-0101,(217) 555-0102\n")
    silo = silo_file(tmp_path, f"""\
        name: crm
        kind: files
        files: {{tables: [{{name: contacts, path: {drop}, glob: "*.csv", primary_key: ID}}]}}
        mapping:
          given_name: First
          family_name: Last
          address_line: {{columns: [Address 1, Address 2]}}
          phone: {{columns: [Mobile, Home Phone]}}
        """)
    sync_silo(silo, warehouse, pipes)
    rec = map_records(silo, raw_of(silo, warehouse)).records.set_index("source_record_id")
    assert rec.loc["1", ["address_line", "phone"]].tolist() == ["12 Oak St Apt 4", "(217) 555-0199"]
    assert rec.loc["2", ["address_line", "phone"]].tolist() == ["9 Elm Ave", "(217) 555-0101"]
    export.write_text("ID,First,Last,Address 1,Mobile,Home Phone\n1,Ann,Lee,12 Oak St,,(217) 555-0199\n")
    touch_later(export)
    with pytest.raises(SchemaDriftError, match=r"table contacts no longer has column 'Address 2'.*mapping\.address_line"):
        sync_silo(silo, warehouse, pipes)


def test_misspelled_mapped_column_fails_on_first_sync(demo_dir, hub_paths, tmp_path):
    warehouse, pipes = hub_paths
    text = (demo_silo("sales").path.read_text()).replace("email: email", "email: e_mail_address")
    path = tmp_path / "sales.yaml"
    path.write_text(text)
    with pytest.raises(SchemaDriftError, match=r"silo sales: table customers has no column 'e_mail_address'.*"
                                               r"columns are: .*customer_id"):
        sync_silo(load_silo(path), warehouse, pipes)
    with duckdb.connect(str(warehouse)) as con:
        assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw_sales'"
                           ).fetchall()[0][0] == 0


def test_parquet_credit_silo(demo_dir, hub_paths):
    warehouse, pipes = hub_paths
    silo = demo_silo("credit")
    assert sync_silo(silo, warehouse, pipes).rows_loaded == {"applications": 4}
    mapped = map_records(silo, raw_of(silo, warehouse))
    dobs = dict(zip(mapped.records.source_record_id, mapped.records.birth_date))
    assert dobs == {"C1": "1984-03-07", "C2": "1990-03-07", "C3": "1975-03-07", "C4": "1999-12-31"}
    assert sync_silo(silo, warehouse, pipes).total_rows == 0


def test_jsonl_and_excel_tables_with_csv_options(tmp_path, hub_paths):
    warehouse, pipes = hub_paths
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "people.jsonl").write_text('{"id": 1, "mail": "a@x.com", "who": "Ann Lee", "seen": "2024-01-01"}\n'
                                       '{"id": 2, "mail": "b@x.com", "who": "Bob Ray", "seen": "2024-01-02"}\n')
    pd.DataFrame({"id": ["3"], "mail": ["c@x.com"], "who": ["Cy Doe"], "seen": ["2024-01-03"]}).to_excel(
        drop / "more.xlsx", index=False)
    (drop / "legacy.txt").write_bytes("4;d@x.com;Zoë Müller;2024-01-04\n".encode("latin-1"))
    silo = silo_file(tmp_path, f"""\
        name: mixed
        kind: files
        primary_key: id
        files:
          tables:
            - {{name: people, path: {drop}, glob: "*.jsonl"}}
            - {{name: sheet, path: {drop}, glob: "*.xlsx"}}
            - name: legacy
              path: file://{drop}
              glob: "*.txt"
              csv: {{delimiter: ";", encoding: latin-1, header: false, column_names: [id, mail, who, seen]}}
        mapping:
          email: mail
          name: {{column: who, form: first_last}}
          source_updated_at: seen
        """)
    report = sync_silo(silo, warehouse, pipes)
    assert report.rows_loaded == {"people": 2, "sheet": 1, "legacy": 1}
    mapped = map_records(silo, raw_of(silo, warehouse))
    assert sorted(mapped.records["source_record_id"]) == ["legacy:4", "people:1", "people:2", "sheet:3"]
    assert "Müller" in set(mapped.records["family_name"])


def test_json_and_xml_documents_and_nested_records(tmp_path, hub_paths):
    # an export as one JSON document ({"customers": [...]}), JSON Lines and XML with nested objects:
    # nested fields flatten into parent__child columns, as for an API
    warehouse, pipes = hub_paths
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "export.json").write_text(json.dumps({"exported": "2024-05-01", "count": 2, "customers": [
        {"id": 1, "name": "Ann Lee", "contact": {"email": "a@x.com", "phone": "(217) 555-0101"}},
        {"id": 2, "name": "Bo Ray", "contact": {"email": "b@x.com"}}]}))
    (drop / "more.jsonl").write_text(json.dumps({"id": 3, "name": "Cy Doe", "contact": {"email": "c@x.com"}}) + "\n")
    # an older system's XML export: attributes, a wrapper with a value of its own, nested elements
    (drop / "legacy.xml").write_text('<?xml version="1.0" encoding="UTF-8"?><export date="2024-05-01"><customers>'
                                     '<customer id="4"><name>Di Fox</name><contact><email>d@x.com</email></contact>'
                                     '</customer><customer id="5"><name>Ed Ray</name></customer></customers></export>')
    silo = silo_file(tmp_path, f"""\
        name: crm
        kind: files
        primary_key: id
        files:
          tables:
            - {{name: export, path: {drop}, glob: "*.json"}}
            - {{name: stream, path: {drop}, glob: "*.jsonl"}}
            - {{name: legacy, path: {drop}, glob: "*.xml"}}
        mapping:
          name: {{column: name, form: first_last}}
          email: contact__email
          phone: contact__phone
        """)
    assert sync_silo(silo, warehouse, pipes).rows_loaded == {"export": 2, "stream": 1, "legacy": 2}
    rec = map_records(silo, raw_of(silo, warehouse)).records.set_index("source_record_id")
    assert rec["email"].dropna().to_dict() == {"export:1": "a@x.com", "export:2": "b@x.com", "stream:3": "c@x.com",
                                               "legacy:4": "d@x.com"}
    assert rec.loc["legacy:5", "family_name"] == "Ray"
    assert rec.loc["export:1", "phone"] == "(217) 555-0101"
    (drop / "export.json").write_text('{"customers": [{"id": 1,}]}')
    touch_later(drop / "export.json")
    with pytest.raises(SiloSyncError, match=r"export/export.json: not a JSON document: .*line 1"):
        sync_silo(silo, warehouse, pipes)
    (drop / "export.json").unlink()
    (drop / "legacy.xml").write_text("<customers><customer id='4'><name>Di</name></customers>")
    touch_later(drop / "legacy.xml")
    with pytest.raises(SiloSyncError, match=r"legacy/legacy.xml: not an XML document: mismatched tag: line 1"):
        sync_silo(silo, warehouse, pipes)


@pytest.mark.parametrize("document, selector, expected", [
    ([{"id": 1}], None, [{"id": 1}]),
    ({"data": {"items": [{"id": 1}]}}, "data.items", [{"id": 1}]),
    ({"a": [{"id": 1}], "b": [{"id": 2}]}, None, "cannot tell which list holds the records (lists of objects: a, b)"),
    ({"data": {"items": []}}, "data.rows", "no 'data.rows' in the document"),
    ({"data": [1, 2]}, "data", "not a list of objects"),
])
def test_json_records_are_found_or_the_file_is_named(document, selector, expected):
    from sources.dlt_sources import json_records
    from sources.errors import MalformedFileError

    if isinstance(expected, str):
        with pytest.raises(MalformedFileError, match=re.escape(expected)) as err:
            json_records(document, selector, "t/f.json")
        assert str(err.value).startswith("t/f.json: ")
    else:
        assert json_records(document, selector, "t/f.json") == expected


def test_report_exports_with_title_lines_and_their_own_delimiters(tmp_path, hub_paths):
    # what a department saves from its reporting screen: a title above the header, semicolons (a
    # European spreadsheet), tabs (.tsv), and the same in a workbook; no delimiter or skip_rows set
    import openpyxl

    warehouse, pipes = hub_paths
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "report.csv").write_text("Kundenliste\nExport vom 01.05.2024; 10:00\n\nID;Name;E-Mail\n"
                                     "1;Lee, Ann;a@x.com\n2;Ray, Bo;b@x.com\n")
    (drop / "more.tsv").write_text("ID\tName\tE-Mail\n3\tCy Doe\tc@x.com\n")
    book = openpyxl.Workbook()
    book.active.append(["Customer list"])
    book.active.append([])
    book.active.append(["ID", "Name", "E-Mail"])
    book.active.append(["4", "Di Fox", "d@x.com"])
    book.save(drop / "sheet.xlsx")
    write_xls(drop / "legacy.xls", [["Customer list"], [], ["ID", "Name", "E-Mail"], ["5", "Ed Wu", "e@x.com"]])
    silo = silo_file(tmp_path, f"""\
        name: crm
        kind: files
        primary_key: ID
        files:
          tables:
            - {{name: report, path: {drop}, glob: "*.csv"}}
            - {{name: tsv, path: {drop}, glob: "*.tsv"}}
            - {{name: sheet, path: {drop}, glob: "*.xlsx"}}
            - {{name: legacy, path: {drop}, glob: "*.xls"}}
        mapping:
          name: {{column: Name, form: free}}
          email: E-Mail
        """)
    assert sync_silo(silo, warehouse, pipes).rows_loaded == {"report": 2, "tsv": 1, "sheet": 1, "legacy": 1}
    rec = map_records(silo, raw_of(silo, warehouse)).records.set_index("source_record_id")
    assert rec["email"].to_dict() == {"report:1": "a@x.com", "report:2": "b@x.com", "tsv:3": "c@x.com",
                                      "sheet:4": "d@x.com", "legacy:5": "e@x.com"}
    assert rec.loc["report:1", "full_name"] == "Lee, Ann"


def test_json_lines_flatten_only_their_objects_and_keep_text_in_the_same_field():
    from sources.dlt_sources import flattened_frame

    frame = pd.DataFrame([{"id": 1, "contact": {"email": "a@x.com", "phone": "555"}},
                          {"id": 2, "contact": "call the office"},  # the field was text in older records
                          {"id": 3, "contact": None}])
    flat = flattened_frame(frame)
    assert flat["contact__email"].tolist()[0] == "a@x.com" and flat["contact__phone"].tolist()[0] == "555"
    assert flat["contact"].tolist()[1] == "call the office"  # nothing lost
    plain = pd.DataFrame({"id": [1], "name": ["Ann"]})
    assert flattened_frame(plain) is plain  # nothing nested: the frame as read


WINDOWS_EXPORT = "id,first,last\n1,Hélène,Lefèvre\n2,François,Müller\n".encode("cp1252")


def csv_drop_silo(tmp_path, content: bytes = WINDOWS_EXPORT, encoding_line: str = "", file_name: str = "export.csv"):
    table = "name: people, primary_key: id" + (f", {encoding_line}" if encoding_line else "")
    return one_file_drop_silo(tmp_path, file_name, content, table, "{source_record_id: id, given_name: first, family_name: last}")


def test_a_windows_code_page_export_is_read_in_its_encoding(tmp_path, hub_paths):
    warehouse, pipes = hub_paths
    silo = csv_drop_silo(tmp_path)
    assert sync_silo(silo, warehouse, pipes).rows_loaded == {"people": 2}
    mapped = map_records(silo, raw_of(silo, warehouse)).records
    assert sorted(mapped["family_name"]) == ["Lefèvre", "Müller"] and "François" in set(mapped["given_name"])


def test_a_wrong_explicit_encoding_names_the_file_and_the_setting(tmp_path, hub_paths):
    from sources import SiloSyncError

    warehouse, pipes = hub_paths
    silo = csv_drop_silo(tmp_path, encoding_line="csv: {encoding: utf-8}")
    with pytest.raises(SiloSyncError, match=r"people/export.csv: not readable as utf-8 \(byte 0xe9\).*csv.encoding"):
        sync_silo(silo, warehouse, pipes)


def test_a_malformed_line_names_the_file_and_the_line_and_loads_nothing(tmp_path, hub_paths):
    from sources import SiloSyncError

    warehouse, pipes = hub_paths
    silo = csv_drop_silo(tmp_path, b"id,first,last\n1,Ann,Lee\n2,Bo,Ek,Jr\n")
    with pytest.raises(SiloSyncError, match=r"people/export.csv: Expected 3 fields in line 3, saw 4"):
        sync_silo(silo, warehouse, pipes)
    with duckdb.connect(str(warehouse)) as con:
        assert not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw_shop' "
                               "AND table_name = 'people'").fetchone()[0]


def test_missing_folder_env_fails_only_that_silo(tmp_path, hub_paths, monkeypatch):
    warehouse, pipes = hub_paths
    monkeypatch.delenv("HUB_DEMO_DIR", raising=False)
    silo = demo_silo("sales")
    from sources import SiloConfigError, build_source

    build_source(silo)  # building never fails: Dagster builds all silos at import
    with pytest.raises(SiloConfigError, match="HUB_DEMO_DIR is not set"):
        sync_silo(silo, warehouse, pipes)


def test_missing_folder_is_an_error_and_an_empty_one_a_note(tmp_path, hub_paths):
    from sources import SiloSyncError, check_silo

    warehouse, pipes = hub_paths
    path = tmp_path / "drops.yaml"
    path.write_text(f"name: drops\nkind: files\nfiles: {{tables: [{{name: c, path: {tmp_path}/nope, glob: '*.csv', "
                    "primary_key: id}]}\nmapping: {email: email}\n")
    silo = load_silo(path)
    with pytest.raises(SiloSyncError, match=r"silo drops: table c: folder .*/nope does not exist"):
        sync_silo(silo, warehouse, pipes)
    assert "does not exist" in check_silo(silo).problems[0]
    (tmp_path / "nope").mkdir()
    report = check_silo(silo)
    assert report.ok and "table c has no rows yet (no files match" in report.notes[0]
    assert sync_silo(silo, warehouse, pipes).total_rows == 0


def test_a_value_of_the_wrong_type_is_rejected_not_a_failed_load(tmp_path, hub_paths):
    warehouse, pipes = hub_paths
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "a.jsonl").write_text('{"id": 1, "email": "a@x.com", "credit": 1.5}\n')
    path = tmp_path / "typed.yaml"
    path.write_text(f"name: typed\nkind: files\nfiles: {{tables: [{{name: c, path: {drop}, glob: '*.jsonl', "
                    "primary_key: id}]}\nmapping: {email: email}\nfacts: [{name: credit, column: credit}]\n")
    silo = load_silo(path)
    assert sync_silo(silo, warehouse, pipes).rows_loaded == {"c": 1}
    (drop / "b.jsonl").write_text('{"id": 2, "email": "b@x.com", "credit": "lots"}\n')
    touch_later(drop / "b.jsonl")
    assert sync_silo(silo, warehouse, pipes).rows_loaded == {"c": 1}
    raw = raw_of(silo, warehouse)
    assert raw["_dlt_load_id"].notna().all() and raw["_dlt_load_id"].nunique() == 2
    mapped = map_records(silo, raw)
    assert mapped.records["source_record_id"].tolist() == ["1"]
    assert mapped.rejected["reason"].tolist() == ["fact credit: column credit value 'lots' is not a number"]


def test_full_refresh_marks_rows_gone_from_the_drop_as_deleted(demo_dir, hub_paths, tmp_path):
    warehouse, pipes = hub_paths
    text = demo_silo("marketing").path.read_text() + "deletes: {mode: full_refresh}\n"
    path = tmp_path / "marketing.yaml"
    path.write_text(text)
    silo = load_silo(path)
    sync_silo(silo, warehouse, pipes)
    csv = demo_dir / "marketing" / "subscribers.csv"
    frame = pd.read_csv(csv, dtype=str)
    frame[frame.subscriber_id != "M2"].to_csv(csv, index=False)
    report = sync_silo(silo, warehouse, pipes)
    assert report.full_refresh and report.rows_loaded == {"subscribers": 1}
    records = map_records(silo, raw_of(silo, warehouse)).records
    assert records.set_index("source_record_id")["is_deleted"].to_dict() == {"M1": False, "M2": True}


def test_any_fsspec_url_here_an_in_memory_bucket(tmp_path, hub_paths):
    import fsspec

    warehouse, pipes = hub_paths
    bucket = f"/drops_{tmp_path.name}"
    fs = fsspec.filesystem("memory")
    fs.makedirs(bucket, exist_ok=True)
    with fs.open(f"{bucket}/a.csv", "wb") as handle:
        handle.write(b"id,email\n1,a@x.com\n2,b@x.com\n")
    path = tmp_path / "mem.yaml"
    path.write_text(f"name: mem\nkind: files\nfiles: {{tables: [{{name: c, path: 'memory://{bucket}', "
                    "glob: '*.csv', primary_key: id}]}\nmapping: {email: email}\n")
    silo = load_silo(path)
    try:
        assert sync_silo(silo, warehouse, pipes).rows_loaded == {"c": 2}
        assert sync_silo(silo, warehouse, pipes).total_rows == 0
    finally:
        fs.rm(bucket, recursive=True)


def test_newest_version_wins_when_one_load_has_a_row_twice(demo_dir, hub_paths):
    warehouse, pipes = hub_paths
    base = pd.read_csv(demo_dir / "sales" / "customers_1.csv", dtype=str, keep_default_na=False)
    newer = base.assign(email=["new1@example.com", "new2@example.com"], updated_at="2025-01-01T00:00:00")
    older = base.assign(email=["old1@example.com", "old2@example.com"], updated_at="2020-01-01T00:00:00")
    # file names sort the newer version first, so file order alone would keep the old one
    newer.to_csv(demo_dir / "sales" / "customers_0.csv", index=False)
    older.to_csv(demo_dir / "sales" / "customers_9.csv", index=False)
    silo = demo_silo("sales")
    sync_silo(silo, warehouse, pipes)
    raw = raw_of(silo, warehouse)
    assert len(raw) == 2 and sorted(raw["email"]) == ["new1@example.com", "new2@example.com"]


def test_a_new_warehouse_is_loaded_in_full_despite_old_pipeline_state(demo_dir, hub_paths):
    """Deleting the warehouse (or pointing at a new one) must not leave incremental cursors skipping rows."""
    warehouse, pipes = hub_paths
    silo = demo_silo("sales")
    assert sync_silo(silo, warehouse, pipes).total_rows == 2
    for leftover in warehouse.parent.glob(warehouse.name + "*"):
        leftover.unlink()
    again = sync_silo(silo, warehouse, pipes)
    assert again.rows_loaded == {"customers": 2}
    assert sorted(raw_of(silo, warehouse)["customer_id"]) == ["S1", "S2"]


def zipped(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for member, content in members:
            archive.writestr(member, content)
    return buffer.getvalue()


@pytest.mark.parametrize("suffix, compress", [
    ("gz", gzip.compress), ("bz2", bz2.compress), ("xz", lzma.compress),
    ("zip", lambda content: zipped(("customers.csv", content))),  # a mail client's attachment
])
def test_a_compressed_drop_is_read_by_the_format_before_its_compression(tmp_path, hub_paths, suffix, compress):
    """The Windows export's cp1252 bytes, compressed: its encoding is still read, from the bytes within."""
    warehouse, pipes = hub_paths
    silo = csv_drop_silo(tmp_path, compress(WINDOWS_EXPORT), file_name=f"customers_2024-05-01.csv.{suffix}")
    assert silo.files.tables[0].glob == f"*.csv.{suffix}" and silo.files.tables[0].format == "csv"
    assert sync_silo(silo, warehouse, pipes).rows_loaded == {"people": 2}
    assert sorted(map_records(silo, raw_of(silo, warehouse)).records["family_name"]) == ["Lefèvre", "Müller"]


def test_a_zip_of_several_files_fails_naming_them_and_loads_nothing(tmp_path, hub_paths):
    from sources import SiloSyncError

    warehouse, pipes = hub_paths
    content = zipped(("a.csv", b"id,first,last\n1,Ann,Lee\n"), ("b.csv", b"id,first,last\n2,Bo,Ek\n"))
    silo = csv_drop_silo(tmp_path, content, file_name="customers.csv.zip")
    with pytest.raises(SiloSyncError, match=r"customers.csv.zip: a zip archive of 2 files \(a.csv, b.csv\)"):
        sync_silo(silo, warehouse, pipes)
    with duckdb.connect(str(warehouse)) as con:
        assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw_shop'").fetchone()[0] == 0

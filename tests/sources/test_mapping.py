"""map_records: declared forms are applied; bad values are rejected with reasons; raw = staged + rejected."""
from __future__ import annotations

import json
import re
import textwrap

import pandas as pd
import pytest

from sources import load_silo, map_records
from sources.mapping import _FOOTER_WORDS, FACT_COLUMNS, RECORD_COLUMNS
from sources.sync import REFRESH_DELETED

SILO = """\
name: ledger
kind: sql
country: US
sql: {url: "sqlite:///x.db", tables: [{name: Customers, primary_key: Account No}]}
mapping:
  name: {column: Customer Name, form: last_first_comma}
  address: {column: BillingAddress, form: one_line}
  birth_date: {column: dob, formats: ["%Y-%m-%d", "%m/%d/%Y", "%d %b %Y", "%Y%m%d"]}
  phone: Phone
  national_id: ssn
  source_updated_at: updated_at
facts:
  - {name: balance, column: Balance, type: number, agg: sum}
  - {name: vip, column: vip, type: bool, agg: any}
  - {name: last_order, column: last_order, type: date, agg: max, formats: ["%Y-%m-%d"]}
  - {name: terms, column: terms, type: text, agg: latest}
deletes: {column: Deleted, value: true}
"""


def silo_from(tmp_path, text=SILO):
    path = tmp_path / "ledger.yaml"
    path.write_text(textwrap.dedent(text))
    return load_silo(path)


def raw_frame(rows: list[dict]) -> pd.DataFrame:
    # the column names dlt's snake_case convention gives the silo's columns
    frame = pd.DataFrame(rows)
    frame["_dlt_load_id"] = "1"
    frame["_table"] = "customers"
    return frame


ROW = dict(account_no="A1", customer_name="SMITH, John", billing_address="12 Oak St Apt 4, Springfield, IL 62704",
           dob="03/07/1984", phone="(217) 555-0101", ssn="XXX-XX-1234", updated_at="2024-01-01T10:00:00Z",
           balance="$1,234.50", vip="Yes", last_order="2024-02-01", terms="NET30", deleted="false")


def test_declared_forms_are_applied(tmp_path):
    silo = silo_from(tmp_path)
    rows = [ROW, {**ROW, "account_no": "A2", "customer_name": "de la Cruz, Maria Elena",
                  "billing_address": "9 Elm Ave, Chicago, il 60601-1234, USA", "dob": "7 Mar 1984",
                  "balance": 10, "deleted": "TRUE", "vip": "0"},
            {**ROW, "account_no": "A3", "customer_name": "Prince", "billing_address": "somewhere without commas",
             "dob": "19840307", "balance": None}]
    out = map_records(silo, raw_frame(rows))
    rec = out.records.set_index("source_record_id")
    assert list(out.records.columns) == RECORD_COLUMNS and list(out.facts.columns) == FACT_COLUMNS
    assert rec.loc["A1", ["given_name", "family_name", "full_name"]].tolist() == ["John", "SMITH", "John SMITH"]
    assert rec.loc["A2", ["given_name", "family_name"]].tolist() == ["Maria Elena", "de la Cruz"]
    assert rec.loc["A3", ["given_name", "family_name", "full_name"]].tolist() == [None, None, "Prince"]
    assert rec.loc["A1", ["address_line", "city", "region", "postcode"]].tolist() == [
        "12 Oak St Apt 4", "Springfield", "IL", "62704"]
    assert rec.loc["A2", ["city", "region", "postcode"]].tolist() == ["Chicago", "IL", "60601-1234"]
    assert rec.loc["A3", ["address_line", "city"]].tolist() == ["somewhere without commas", None]

    assert set(rec["birth_date"]) == {"1984-03-07"}
    assert rec.loc["A1", "national_id"] == "XXX-XX-1234"  # hashed later by identity resolution
    assert rec.loc["A1", "country"] == "US"
    assert rec.loc["A1", "source_updated_at"] == pd.Timestamp("2024-01-01 10:00:00")
    assert rec["is_deleted"].tolist() == [False, True, False]
    facts = out.facts.set_index(["source_record_id", "fact"])
    assert facts.loc[("A1", "balance"), "value_num"] == 1234.5
    assert facts.loc[("A2", "balance"), "value_num"] == 10.0
    assert ("A3", "balance") not in facts.index  # empty values are not facts
    assert facts.loc[("A1", "vip"), ["value_num", "value_text"]].tolist() == [1.0, "true"]
    assert facts.loc[("A2", "vip"), "value_text"] == "false"
    assert facts.loc[("A1", "last_order"), "value_text"] == "2024-02-01"
    assert facts.loc[("A1", "terms"), ["value_text", "agg"]].tolist() == ["NET30", "latest"]
    assert out.rejected.empty


def test_bad_values_reject_the_row_with_reasons_and_nothing_is_lost(tmp_path):
    silo = silo_from(tmp_path)
    rows = [ROW,
            {**ROW, "account_no": "B1", "dob": "31.12.1984"},
            {**ROW, "account_no": "B2", "balance": "lots", "vip": "maybe"},
            {**ROW, "account_no": None},
            {**ROW, "account_no": "B4", "updated_at": "yesterday-ish"}]
    raw = raw_frame(rows)
    out = map_records(silo, raw)
    assert len(out.records) + len(out.rejected) == len(raw)
    assert out.records["source_record_id"].tolist() == ["A1"]
    reasons = dict(zip(out.rejected["source_record_id"].fillna("<none>"), out.rejected["reason"]))
    assert "column dob: value '31.12.1984' is not a date (formats %Y-%m-%d" in reasons["B1"]
    assert "fact balance: column Balance value 'lots' is not a number" in reasons["B2"]
    assert "fact vip: column vip value 'maybe' is not true/false" in reasons["B2"]
    assert "empty source_record_id (Account No)" in reasons["<none>"]
    assert "column updated_at: value 'yesterday-ish' is not a date" in reasons["B4"]
    raw_b1 = json.loads(out.rejected.set_index("source_record_id").loc["B1", "raw_row"])
    assert raw_b1["dob"] == "31.12.1984" and "_dlt_load_id" not in raw_b1
    # facts of rejected rows are not published
    assert set(out.facts["source_record_id"]) == {"A1"}


@pytest.mark.parametrize("cell, footer", [
    ("Total", True), ("TOTAL:", True), ("Total customers", True), ("Grand Total", True), ("Subtotal", True),
    ("Summe", True), ("Total général", True), ("(3 rows)", True), ("3 rows selected.", True),
    ("12 rows in set (0.00 sec)", True), ("1,234 customers", True), ("End of report", True), ("Page 2 of 5", True),
    ("Record count: 3", True), ("Report generated on 01.05.2024", True),
    # customers: a company or a person named like a footer's word, an address with a counted word
    ("Total Wine & More", False), ("Sum, Wai Man", False), ("Summers, Ann", False), ("12 Row St", False),
    ("5 Lines Road", False), ("Pages Bookshop", False), ("Countess Lane 4", False),
])
def test_a_footers_words_and_a_customers(cell, footer):
    assert bool(re.match(_FOOTER_WORDS, cell, re.IGNORECASE)) is footer


def test_a_reports_footer_line_is_rejected_not_staged_as_a_customer(tmp_path):
    """'Total: 2 customers' under the data, in the id column or another, or 'Total;3 customers' over two
    cells, is kept with its reason."""
    silo = silo_from(tmp_path)
    empty = {column: None for column in ROW}
    raw = raw_frame([ROW, {**ROW, "account_no": "A2"}, {**empty, "account_no": "Total: 2 customers"},
                     {**empty, "customer_name": "  Page 1 of 1 "}, {**empty, "account_no": "A3", "phone": " "}])
    out = map_records(silo, raw)
    assert out.records["source_record_id"].tolist() == ["A1", "A2"]
    reasons = out.rejected["reason"].tolist()
    assert len(reasons) == 3 and all("a report's title or footer line" in r for r in reasons)
    assert "only one cell filled ('Total: 2 customers' in column account_no)" in reasons[0]
    assert "'  Page 1 of 1 ' in column customer_name" in reasons[1]
    assert "'A3' in column account_no" in reasons[2]  # a cell of blanks is no second cell
    # a footer or subtotal line of two cells or more, as long as it starts with a footer's words
    footers = raw_frame([ROW, {**empty, "account_no": "Total", "customer_name": "3 customers"},
                         {**empty, "account_no": "(2 rows)"}, {**empty, "account_no": "Subtotal", "balance": "1 250,00"},
                         {**empty, "account_no": "A4", "customer_name": "Total Wine", "phone": "217-555-0199"},
                         {**empty, "account_no": "Page", "customer_name": "Smith, Ann", "phone": "217-555-0142"}])
    out = map_records(silo, footers)
    assert out.records["source_record_id"].tolist() == ["A1", "A4", "Page"]  # a customer named Total Wine stays
    reasons = out.rejected.set_index("source_record_id")["reason"]
    assert "a footer's words ('Total' in column account_no): a report's title or footer line" in reasons["Total"]
    assert "only one cell filled ('(2 rows)'" in reasons["(2 rows)"]
    assert "a footer's words ('Subtotal'" in reasons["Subtotal"]
    # a row a full refresh no longer holds is a deletion, however little of it is left
    gone = raw_frame([ROW, {**empty, "account_no": "A2"}])
    gone[REFRESH_DELETED] = [False, True]
    refreshed = silo_from(tmp_path, SILO.replace("deletes: {column: Deleted, value: true}", "deletes: {mode: full_refresh}"))
    deleted = map_records(refreshed, gone)
    assert deleted.records["source_record_id"].tolist() == ["A1", "A2"] and deleted.records["is_deleted"].tolist()[1]


def test_name_forms_constants_and_composite_ids(tmp_path):
    silo = silo_from(tmp_path, """\
        name: desk
        kind: files
        primary_key: [region_code, ticket_no]
        files: {tables: [{name: a, path: /tmp, glob: "*.csv"}, {name: b, path: /tmp, glob: "*.jsonl"}]}
        mapping:
          name: {column: who, form: first_last}
          country: {value: CA}
          company: {value: Acme}
        """)
    raw = pd.DataFrame({"region_code": ["N", "S", "N"], "ticket_no": [1, 2, 3],
                        "who": ["John Q. Public Jr.", "  Mary   Ann  Smith ", "Cher"],
                        "_table": ["a", "a", "b"], "_dlt_load_id": "1"})
    out = map_records(silo, raw)
    rec = out.records
    assert rec["source_record_id"].tolist() == ["a:N|1", "a:S|2", "b:N|3"]
    assert rec["given_name"].tolist() == ["John", "Mary", None]
    assert rec["family_name"].tolist() == ["Public", "Smith", None]
    assert rec["full_name"].tolist()[1:] == ["Mary Ann Smith", "Cher"]
    assert set(rec["country"]) == {"CA"} and set(rec["company"]) == {"Acme"}
    # silos mix forms: a comma in a "First Last" column still means "Last, First"
    raw.loc[2, "who"] = "Griffin, Carla"
    rec = map_records(silo, raw).records
    assert rec.loc[2, ["given_name", "family_name", "full_name"]].tolist() == ["Carla", "Griffin", "Carla Griffin"]


def test_a_field_split_over_several_columns(tmp_path):
    silo = silo_from(tmp_path, """\
        name: crm
        kind: files
        files: {tables: [{name: people, path: /tmp, glob: "*.csv", primary_key: [branch, num]}]}
        mapping:
          source_record_id: {columns: [branch, num]}
          given_name: {columns: [First, Middle]}
          family_name: Last
          address_line: {columns: [Street 1, Street 2]}
          phone: {columns: [Mobile, Home Phone, Work Phone]}
          email: {columns: [Email, Email 2], combine: first}
          source_updated_at: {columns: [modified, created]}
          birth_date: {columns: [dob_y, dob_m, dob_d], combine: join}
        """)
    raw = pd.DataFrame({"branch": ["N", "S", "S"], "num": ["1", "2", "3"], "first": ["John", "Mary", None],
                        "middle": ["Q.", None, None], "last": ["Public", "Smith", "Doe"],
                        "street_1": ["12 Oak St", "9 Elm Ave", None], "street_2": ["Apt 4", "  ", None],
                        "mobile": [None, "(217) 555-0101", None], "home_phone": ["(217) 555-0199", "(217) 555-0102", None],
                        "work_phone": ["x", None, None], "email": [" ", "m@x.com", None], "email_2": ["j@x.com", "n@x.com", None],
                        "modified": [None, "2024-05-01", "garbage"], "created": ["2020-01-01", "2019-01-01", "2018-01-01"],
                        "dob_y": ["1984", None, None], "dob_m": ["3", None, None], "dob_d": ["7", None, None],
                        "_table": "people", "_dlt_load_id": "1"})
    out = map_records(silo, raw)
    rec = out.records.set_index("source_record_id")
    assert rec["birth_date"].tolist() == ["1984-03-07", None]
    assert rec.index.tolist() == ["N|1", "S|2"]  # the composite id; S|3's modified date is unreadable
    assert rec["given_name"].tolist() == ["John Q.", "Mary"]  # joined; the resolver drops the middle initial
    assert rec["address_line"].tolist() == ["12 Oak St Apt 4", "9 Elm Ave"]  # a blank second line adds nothing
    assert rec["phone"].tolist() == ["(217) 555-0199", "(217) 555-0101"]  # the first filled, in the listed order
    assert rec["email"].tolist() == ["j@x.com", "m@x.com"]
    assert rec["source_updated_at"].dt.strftime("%Y-%m-%d").tolist() == ["2020-01-01", "2024-05-01"]
    assert out.rejected["source_record_id"].tolist() == ["S|3"]
    assert "column modified/created: value 'garbage' is not a date" in out.rejected["reason"].item()
    assert silo.mapped_columns()[:5] == ["branch", "num", "First", "Middle", "Last"]


@pytest.mark.parametrize("dates, country, expected", [
    # dots: day first, as written across continental Europe
    (["07.03.1984", "25.12.1990"], "DE", ["1984-03-07", "1990-12-25"]),
    # one value only day-first can read settles the column ('25/03/1984')
    (["03/07/1984", "25/03/1984"], "GB", ["1984-07-03", "1984-03-25"]),
    (["03/07/1984", "03/25/1984"], "US", ["1984-03-07", "1984-03-25"]),
    # nothing settles it: passed on as written, for the resolver to read by country and habit
    (["03/07/1984", "1990-12-25"], "GB", ["03/07/1984", "1990-12-25"]),
])
def test_numeric_birth_dates_are_read_in_the_columns_order(tmp_path, dates, country, expected):
    silo = silo_from(tmp_path, f"""\
        name: crm
        kind: files
        country: {country}
        files: {{tables: [{{name: people, path: /tmp, glob: "*.csv", primary_key: id}}]}}
        mapping: {{birth_date: dob, source_updated_at: changed}}
        """)
    raw = pd.DataFrame({"id": ["1", "2"], "dob": dates, "changed": ["13/01/2024 10:00", "01/02/2024 10:00"],
                        "_table": "people", "_dlt_load_id": "1"})
    rec = map_records(silo, raw).records
    assert rec["birth_date"].tolist() == expected
    assert rec["source_updated_at"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-13", "2024-02-01"]


def test_an_ambiguous_birth_date_passed_on_is_read_by_the_silos_country(tmp_path):
    from identity_resolution import standardise_records

    records = pd.DataFrame({"silo": ["uk", "us"], "source_record_id": ["1", "2"], "country": ["GB", "US"],
                            "birth_date": ["03/07/1984", "03/07/1984"]})
    assert standardise_records(records)["birth_date"].astype(str).tolist() == ["1984-07-03", "1984-03-07"]


@pytest.mark.parametrize("deletes, expected", [
    ("{column: deleted_at, filled: true}", [False, True, True, False]),  # a soft delete's timestamp
    ("{column: status, value: [closed, Deleted]}", [False, True, False, True]),  # several states, any case
    ("{column: status, value: closed}", [False, True, False, False]),
])
def test_deleted_rows_by_timestamp_or_by_any_of_several_states(tmp_path, deletes, expected):
    silo = silo_from(tmp_path, f"""\
        name: crm
        kind: files
        files: {{tables: [{{name: people, path: /tmp, glob: "*.csv", primary_key: id}}]}}
        mapping: {{email: email}}
        deletes: {deletes}
        """)
    raw = pd.DataFrame({"id": ["1", "2", "3", "4"], "email": ["a@acme.org"] * 4,
                        "deleted_at": [None, "2024-05-01 10:00", "2024-06-01", "  "],
                        "status": ["active", "CLOSED", None, "deleted"], "_table": "people", "_dlt_load_id": "1"})
    assert map_records(silo, raw).records["is_deleted"].tolist() == expected


def test_last_first_and_free_forms(tmp_path):
    text = SILO.replace("form: last_first_comma", "form: last_first")
    silo = silo_from(tmp_path, text)
    out = map_records(silo, raw_frame([{**ROW, "customer_name": "Smith John"}]))
    assert out.records.loc[0, ["given_name", "family_name"]].tolist() == ["John", "Smith"]
    silo = silo_from(tmp_path, SILO.replace("form: last_first_comma", "form: free"))
    out = map_records(silo, raw_frame([{**ROW, "customer_name": "SMITH, John"}]))
    assert out.records.loc[0, ["given_name", "full_name"]].tolist() == [None, "SMITH, John"]


def test_empty_raw_gives_empty_frames(tmp_path):
    out = map_records(silo_from(tmp_path), pd.DataFrame({"_table": [], "_dlt_load_id": []}))
    assert out.records.empty and out.facts.empty and out.rejected.empty
    assert list(out.records.columns) == RECORD_COLUMNS


def test_values_in_dlt_variant_columns_are_mapped_or_rejected(tmp_path):
    # a silo changed `balance` from numbers to text: dlt put the text in balance__v_text
    silo = silo_from(tmp_path)
    raw = raw_frame([ROW, {**ROW, "account_no": "A2"}, {**ROW, "account_no": "A3"}])
    raw["balance"] = [12.5, None, None]
    raw["balance__v_text"] = [None, "7.25", "n/a"]
    out = map_records(silo, raw)
    assert out.facts.query("fact == 'balance'").set_index("source_record_id")["value_num"].to_dict() == {
        "A1": 12.5, "A2": 7.25}
    assert out.rejected["source_record_id"].tolist() == ["A3"]
    assert "value 'n/a' is not a number" in out.rejected["reason"].item()


def test_one_line_address_variants():
    from sources.parsing import split_address

    lines = pd.Series(["7 Pine Rd, Peoria IL 61602-1234", "1 A St, Fort Wayne, IN", "PO Box 7, Anchorage, AK, 99501",
                       "5 Main St, Springfield", None])
    out = split_address(lines, "one_line")
    assert out.values.tolist() == [
        ["7 Pine Rd", "Peoria", "IL", "61602-1234"], ["1 A St", "Fort Wayne", "IN", None],
        ["PO Box 7", "Anchorage", "AK", "99501"], ["5 Main St, Springfield", None, None, None],
        [None, None, None, None]]

"""sources.starter: which column of a sample is the record's id, which columns hold which field."""
from __future__ import annotations

import pandas as pd
import pytest

import yaml

from sources.starter import _yaml_columns, guess_cursor, guess_primary_key, guess_starter_mapping


@pytest.mark.parametrize("column", ["ID", "Customer No", "Kunden-Nr", "Kundennummer", "N° client", "Nº client",
                                    "No. Client", "Nr. Kunde", "Client #", "Customer Number", "Numéro client",
                                    "Número de cliente"])
def test_an_id_like_column_with_distinct_values_is_the_key(column):
    sample = pd.DataFrame({"Name": ["Ann", "Bea", "Cy"], column: ["10", "11", "12"], "Phone No": ["1", "2", "3"]})
    assert guess_primary_key(sample) == [column]


@pytest.mark.parametrize("column, values", [
    ("Phone No", ["1", "2", "3"]),  # numbers a customer field
    ("Numéro de téléphone", ["1", "2", "3"]),
    ("Notes", ["a", "b", "c"]),  # begins like 'No' but is a word of its own
    ("Customer No", ["10", "10", "12"]),  # not distinct
    ("Customer No", ["10", None, "12"]),  # not on every row
])
def test_no_key_is_guessed_from_a_column_that_does_not_identify(column, values):
    assert guess_primary_key(pd.DataFrame({"Name": ["Ann", "Bea", "Cy"], column: values})) == []


@pytest.mark.parametrize("column", ["N° client", "No", "Client #", "Prénom", "Kunden-Nr."])
def test_a_column_name_is_written_as_a_person_reads_it_and_yaml_reads_it_back(column):
    written = _yaml_columns(column)
    assert yaml.safe_load(f"key: {written}") == {"key": column}
    assert "\\u" not in written


# column names as real departmental systems export them
@pytest.mark.parametrize("columns, expected", [
    # a DB2/mainframe customer table: short forms and underscores
    (["CUST_NO", "CUST_FIRST_NM", "CUST_LAST_NM", "ADDR_LINE_1", "ADDR_LINE_2", "CITY_NM", "STATE_CD", "ZIP_CD",
      "PHONE_NBR", "EMAIL_ADDR", "BIRTH_DT", "TAX_ID"],
     {"given_name": "CUST_FIRST_NM", "family_name": "CUST_LAST_NM", "address_line": ["ADDR_LINE_1", "ADDR_LINE_2"],
      "city": "CITY_NM", "region": "STATE_CD", "postcode": "ZIP_CD", "phone": "PHONE_NBR", "email": "EMAIL_ADDR",
      "birth_date": "BIRTH_DT", "national_id": "TAX_ID"}),
    # Dynamics 365 contacts: numbered fields, 'emailaddress2' is an email, not a second address line
    (["contactid", "firstname", "lastname", "emailaddress1", "emailaddress2", "telephone1", "mobilephone",
      "address1_line1", "address1_line2", "address1_city", "address1_stateorprovince", "address1_postalcode"],
     {"given_name": "firstname", "family_name": "lastname", "email": ["emailaddress1", "emailaddress2"],
      "phone": ["telephone1", "mobilephone"], "address_line": ["address1_line1", "address1_line2"],
      "city": "address1_city", "region": "address1_stateorprovince", "postcode": "address1_postalcode"}),
    # Stripe and Shopify exports
    (["id", "Email", "Name", "Address Line1", "Address Line2", "Address City", "Address State",
      "Address Postal Code", "Address Country"],
     {"email": "Email", "full_name": "Name", "address_line": ["Address Line1", "Address Line2"],
      "city": "Address City", "region": "Address State", "postcode": "Address Postal Code",
      "country": "Address Country"}),
    (["Customer ID", "First Name", "Last Name", "Email", "Default Address Address1", "Default Address City",
      "Default Address Province Code", "Default Address Zip"],
     {"given_name": "First Name", "family_name": "Last Name", "email": "Email",
      "address_line": "Default Address Address1", "city": "Default Address City",
      "region": "Default Address Province Code", "postcode": "Default Address Zip"}),
    # HubSpot's contact export: 'Country/Region' and 'State/Region'
    (["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Street Address", "City", "State/Region",
      "Postal Code", "Country/Region"],
     {"given_name": "First Name", "family_name": "Last Name", "email": "Email", "phone": "Phone Number",
      "address_line": "Street Address", "city": "City", "region": "State/Region", "postcode": "Postal Code",
      "country": "Country/Region"}),
    # SAP's customer master (KNA1)
    (["KUNNR", "NAME1", "STRAS", "ORT01", "PSTLZ", "REGIO", "LAND1", "TELF1", "SMTP_ADDR"],
     {"full_name": "NAME1", "address_line": "STRAS", "city": "ORT01", "postcode": "PSTLZ", "region": "REGIO",
      "country": "LAND1", "phone": "TELF1", "email": "SMTP_ADDR"}),
    # a German export keeps the house number in a box of its own; a US one may put it first
    (["Kundennummer", "Vorname", "Nachname", "Straße", "Hausnummer", "PLZ", "Ort"],
     {"given_name": "Vorname", "family_name": "Nachname", "address_line": ["Straße", "Hausnummer"],
      "postcode": "PLZ", "city": "Ort"}),
    (["id", "House Number", "Street Name", "City"],
     {"address_line": ["House Number", "Street Name"], "city": "City"}),
    # an API's objects as the sync spreads them: name {first, last} says 'first name', dob {date}
    (["login__uuid", "name__title", "name__first", "name__last", "location__city", "location__postcode", "dob__date",
      "email", "cell"],
     {"given_name": "name__first", "family_name": "name__last", "city": "location__city",
      "postcode": "location__postcode", "birth_date": "dob__date", "email": "email", "phone": "cell"}),
    # an application's lists ('phones', 'emails') and a JSON column's keys as the sync spreads them
    (["id", "name", "phones", "emails", "address__street", "address__city", "address__zip"],
     {"full_name": "name", "phone": "phones", "email": "emails", "address_line": "address__street",
      "city": "address__city", "postcode": "address__zip"}),
])
def test_column_names_of_real_exports_are_mapped(columns, expected):
    assert guess_starter_mapping(columns) == expected


@pytest.mark.parametrize("columns, cursor", [
    (["id", "LAST_UPD_TS"], "LAST_UPD_TS"),
    (["Id", "CreatedDate", "LastModifiedDate"], "LastModifiedDate"),
    (["contactid", "createdon", "modifiedon"], "modifiedon"),
    (["id", "SystemModstamp"], "SystemModstamp"),
    (["id", "updated_at"], "updated_at"),
    (["id", "BIRTH_DT", "created_at"], None),  # neither grows when a row changes
])
def test_the_cursor_is_a_column_that_grows_when_a_row_changes(columns, cursor):
    assert guess_cursor(columns) == cursor

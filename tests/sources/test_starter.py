"""sources.starter: which column of a sample is the record's id."""
from __future__ import annotations

import pandas as pd
import pytest

import yaml

from sources.starter import _yaml_columns, guess_primary_key


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

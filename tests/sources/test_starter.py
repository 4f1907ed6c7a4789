"""sources.starter: which column of a sample is the record's id."""
from __future__ import annotations

import pandas as pd
import pytest

from sources.starter import guess_primary_key


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

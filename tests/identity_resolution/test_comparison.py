"""Comparison levels: nicknames of several formal names, swapped names."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from identity_resolution import standardise_records
from identity_resolution.comparison import FIELDS, compare
from identity_resolution.features import build_features
from identity_resolution.names import family_from_email, given_from_email, nickname_related

NICKNAME_LEVEL = next(f.levels.index("nickname_or_jw>=0.92") for f in FIELDS if f.name == "given_name")


@pytest.mark.parametrize(
    "a, b, related",
    [
        ("chris", "christine", True),  # 'chris' stands for several names, each of them counts
        ("chris", "christopher", True),
        ("jeff", "jeffrey", True),
        ("bob", "rob", True),  # two nicknames of Robert
        ("christine", "christopher", False),  # sharing a nickname does not make two formal names one
        ("jeff", "jeff", True),
        ("pat", "mike", False),
        ("nate", "nathan", True),  # a nickname of two formal names that are not each other's
        ("nate", "nathaniel", True),
        ("nathan", "nathaniel", False),
        ("maddie", "madison", True),
        ("cassie", "cassandra", True),
        # German, Spanish, Italian and French diminutives
        ("hans", "johannes", True),
        ("sepp", "josef", True),
        ("fritz", "friedrich", True),
        ("fritz", "frederick", True),
        ("pepe", "jose", True),
        ("paco", "francisco", True),
        ("beppe", "giuseppe", True),
        ("pierrot", "pierre", True),
        ("hans", "josef", False),
    ],
)
def test_nickname_related(a, b, related):
    assert nickname_related(a, b) is related


def given_level(a: str, b: str) -> int:
    raw = pd.DataFrame({"silo": "s", "source_record_id": ["1", "2"], "given_name": [a, b], "family_name": "Hansen"})
    gammas = compare(build_features(standardise_records(raw)), np.array([0]), np.array([1]))
    return int(gammas["gamma_given_name"].iloc[0])


def test_a_nickname_of_one_of_several_names_is_a_nickname_match():
    assert given_level("Chris", "Christine") == NICKNAME_LEVEL
    assert given_level("Pat", "Patrick") == NICKNAME_LEVEL
    assert given_level("Christine", "Christopher") < NICKNAME_LEVEL


def name_levels(left: dict, right: dict) -> tuple[int, int]:
    raw = pd.DataFrame([{"silo": "s", "source_record_id": "1", **left}, {"silo": "s", "source_record_id": "2", **right}])
    gammas = compare(build_features(standardise_records(raw)), np.array([0]), np.array([1]))
    return int(gammas["gamma_given_name"].iloc[0]), int(gammas["gamma_family_name"].iloc[0])


def test_an_umlaut_written_out_is_the_same_family_name():
    """'Müller' folds to Muller in one department and is typed Mueller in another (ASCII only)."""
    family = next(f.levels for f in FIELDS if f.name == "family_name")
    assert family[name_levels({"full_name": "Jürgen Müller"}, {"full_name": "Juergen Mueller"})[1]] == "exact"
    assert family[name_levels({"full_name": "Anna Schröder"}, {"full_name": "SCHROEDER, ANNA"})[1]] == "exact"
    assert family[name_levels({"full_name": "Anna Schröder"}, {"full_name": "Anna Schreder"})[1]] != "exact"


def test_swapped_names_agree_exactly_only_when_both_records_have_both_names():
    family_exact = next(len(f.levels) - 1 for f in FIELDS if f.name == "family_name")
    assert name_levels({"given_name": "John", "family_name": "Smith"},
                       {"given_name": "Smith", "family_name": "John"})[1] == family_exact
    # a lone first name that is the other record's surname is not a surname agreement
    given, family = name_levels({"given_name": "Gabriel", "family_name": "Douglas"}, {"given_name": "Douglas"})
    assert given == -1 and 0 <= family < family_exact


def test_names_are_not_swapped_into_a_poor_match():
    """'Richard' alone is not compared as the family name of 'D. Caldwell': the crossed pair is no
    better alike than the straight one."""
    _, family = name_levels({"full_name": "D. Caldwell"}, {"given_name": "Richard"})
    assert family == -1


def test_one_crossed_name_in_common_is_a_shared_surname_not_a_shared_given_name():
    # Kevin George filed swapped ('George' in the given box) against his wife Brenda George
    given, family = name_levels({"given_name": "George", "family_name": "Kevin"},
                                {"given_name": "Brenda", "family_name": "George"})
    assert (given, family) == (0, 3)
    # a real swap with a nickname: the surname pairs up, the given names are a nickname match
    assert name_levels({"given_name": "Smith", "family_name": "Bob"},
                       {"given_name": "Robert", "family_name": "Smith"}) == (NICKNAME_LEVEL, 3)


def test_an_initial_matches_a_name_in_the_other_box_when_the_names_are_swapped():
    initial = next(f.levels.index("initial") for f in FIELDS if f.name == "given_name")
    assert name_levels({"given_name": "Seth", "family_name": "Bernard"},
                       {"given_name": "Bernard", "family_name": "S"}) == (initial, 3)


@pytest.mark.parametrize(
    "a, b, close",
    [
        ("Ash", "Ashley", True),  # not in the nickname table: a given name cut short
        ("Jon", "Jonathan", True),
        ("Al", "Alison", False),  # two letters say too little
        ("Ann", "Joann", False),  # inside, not at the start
        ("Catherine", "Carherine", True),  # one slip in a long name, near its start
        ("Mary", "Mark", False),  # one letter apart in a short name is another name
        ("Josjua", "Josh", True),  # a slip in the formal name behind the other's nickname
        ("Rebeca", "Becky", True),
        ("Jo", "Josjua", False),
    ],
)
def test_a_given_name_cut_short_or_with_one_slip_is_a_nickname_match(a, b, close):
    assert (given_level(a, b) == NICKNAME_LEVEL) is close


def given_level_in(counts: dict[str, int], a: str, b: str) -> int:
    """The given-name level of a against b when the data holds each given name counts[name] times."""
    raw = pd.DataFrame({"silo": "s", "source_record_id": ["1", "2"], "given_name": [a, b], "family_name": "Hansen"})
    gammas = compare(build_features(standardise_records(raw)), np.array([0]), np.array([1]), name_counts=counts)
    return int(gammas["gamma_given_name"].iloc[0])


@pytest.mark.parametrize(
    "a, b, counts, alike",
    [
        # two established names spelt alike are two names (a husband and wife, a brother and sister)
        ("Michael", "Michelle", {"michael": 2700, "michelle": 1000}, False),
        ("Daniel", "Danielle", {"daniel": 1200, "danielle": 400}, False),
        ("Stephen", "Stephanie", {"stephen": 500, "stephanie": 800}, False),
        # a slip is far rarer than the name it spoils
        ("Michael", "Michale", {"michael": 2700, "michale": 3}, True),
        ("Catherine", "Carherine", {"catherine": 300, "carherine": 2}, True),
        ("Michael", "Micheal", {"michael": 2700, "micheal": 40}, True),  # under 5% of Michael's count
        # too few records to tell: spelling decides, as without counts
        ("Daniel", "Danielle", {"daniel": 3, "danielle": 2}, True),
        # the nickname table relates them, however common both are
        ("Chris", "Christopher", {"chris": 900, "christopher": 1500}, True),
    ],
)
def test_established_names_spelt_alike_are_not_alike(a, b, counts, alike):
    assert given_level(a, b) == NICKNAME_LEVEL  # spelling alone calls every one of them alike
    assert (given_level_in(counts, a, b) == NICKNAME_LEVEL) is alike


@pytest.mark.parametrize(
    "a, b, counts, alike",
    [
        ("Erik", "Efik", {"erik": 300}, True),  # a slip in a short name, far rarer than the name
        ("Gary", "Gaey", {"gary": 800, "gaey": 2}, True),
        ("Pam", "Am", {"pam": 600, "am": 3}, True),  # the first letter lost
        ("Pam", "Al", {"pam": 600, "al": 3}, False),  # two slips
        ("Mary", "Mark", {"mary": 500, "mark": 400}, False),  # two established names
        ("Erik", "Efik", {"erik": 3}, False),  # too little data to call either a typo
    ],
)
def test_a_slip_in_a_short_name_counts_only_beside_a_common_name(a, b, counts, alike):
    assert given_level(a, b) < NICKNAME_LEVEL  # spelling alone does not trust four letters
    assert (given_level_in(counts, a, b) == NICKNAME_LEVEL) is alike


ADDRESS_EXACT = next(len(f.levels) - 1 for f in FIELDS if f.name == "address")


@pytest.mark.parametrize(
    "a, b, level",
    [
        ("PO Box 123", "P.O. Box 123", ADDRESS_EXACT),
        ("Post Office Box 123", "PO Box 123", ADDRESS_EXACT),
        ("12 Fifth Avenue", "12 5th Ave", ADDRESS_EXACT),
        ("12B Baker Street", "12 B Baker St", ADDRESS_EXACT),  # one house, 12B
        ("12 E Main St", "12 East Main Street", ADDRESS_EXACT),  # E stays a direction
        ("123 Main St Apt 1", "123 Main St Apt 2", 0),  # two flats of one building: two addresses
        ("123 Main St Unit 4-B", "123 Main St #4B", ADDRESS_EXACT),  # one flat written two ways: one form
        ("123 Main St Unit 4-B", "123 Main St #4C", 0),  # ... and another flat
        ("123 Main St", "125 Main St", 0),
        ("Hauptstraße 5", "Hauptstrasse 7", 0),  # the house number after the street, as in Europe
        ("Via Roma 10 Apt 3", "Via Roma 12 Apt 3", 0),
        ("PO Box 123", "PO Box 456", 0),
    ],
)
def test_address_levels(a, b, level):
    raw = pd.DataFrame({"silo": "s", "source_record_id": ["1", "2"], "address_line": [a, b], "postcode": "62704"})
    gammas = compare(build_features(standardise_records(raw)), np.array([0]), np.array([1]))
    assert gammas["gamma_address"].iloc[0] == level


@pytest.mark.parametrize(
    "left, right, level",
    [
        # a typo in the name box, the other record's email spells the name out
        ({"full_name": "Jenoy Lucas", "email": "jennifer.lucas@aol.com"}, {"full_name": "Jennifer Lucas"}, NICKNAME_LEVEL),
        ({"full_name": "Josjua Marshall"}, {"full_name": "Joshua Marshall", "email": "joshua_marshall@gmail.com"},
         NICKNAME_LEVEL),
        # the formal name behind a nickname counts too
        ({"full_name": "Rbert Smith", "email": "robert.smith@x.io"}, {"full_name": "Bob Smith"}, NICKNAME_LEVEL),
        # a household: the wife's email does not name her husband
        ({"full_name": "Mary Smith", "email": "mary.smith@x.io"}, {"full_name": "John Smith"}, 0),
        # a given name inside the user's own family name is not a given name
        ({"full_name": "Brittany Williams", "email": "brittany.williams@x.io"}, {"full_name": "William Williams"}, 0),
        ({"full_name": "Leann Barron", "email": "leann.barron06@x.io"}, {"full_name": "Ann Barron"}, 0),  # not at a word start
    ],
)
def test_a_given_name_the_other_records_email_spells_out_is_alike(left, right, level):
    given, _ = name_levels(left, right)
    assert given == level


GIVEN_EXACT = next(len(f.levels) - 1 for f in FIELDS if f.name == "given_name")


@pytest.mark.parametrize(
    "left, right, level",
    [
        # a mailing-list entry with no name: the email spells hers, run into her family name or the year
        ({"full_name": "Michele Taylor"}, {"email": "micheletaylor1966@gmail.com", "postcode": "98141"}, GIVEN_EXACT),
        ({"full_name": "Tara J. Parrish"}, {"email": "tara.parrish@aol.com"}, GIVEN_EXACT),
        ({"family_name": "Harris", "email": "samantha_h@x.io"}, {"full_name": "Samantha Harris"}, GIVEN_EXACT),
        ({"full_name": "Bob Smith"}, {"email": "robert.smith@x.io"}, GIVEN_EXACT),  # the formal name behind a nickname
        # not a whole word: Annabelle is not Ann (nor another name: the list does not know it);
        # an initial agrees only as an initial
        ({"full_name": "Ann Barron"}, {"email": "annabelle.barron@x.io"}, -1),
        ({"full_name": "Deborah Hamilton"}, {"email": "dhamilton@icloud.com"}, 1),
        # the other record has a given name of its own: compared as names, not through the email
        ({"full_name": "Mary Smith"}, {"given_name": "John", "email": "mary.smith@x.io"}, 0),
    ],
)
def test_a_nameless_records_email_can_spell_the_other_records_given_name(left, right, level):
    given, _ = name_levels(left, right)
    assert given == level


@pytest.mark.parametrize(
    "left, right, level",
    [
        # another given name before the family name: a relative at the address, not her
        ({"full_name": "Ashley Ibarra"}, {"email": "kennethibarra@gmail.com"}, 0),
        ({"full_name": "Pamela Haney"}, {"email": "richard_haney1974@gmail.com"}, 0),
        # an initial before (or after) the family name is compared as an initial
        ({"full_name": "John Maxwell"}, {"email": "jmaxwell@gmail.com"}, 1),
        ({"full_name": "Mark Howard"}, {"email": "howardm@aol.com"}, 1),
        ({"full_name": "Troy Novak"}, {"email": "pnovak@gmail.com"}, 0),
        ({"full_name": "Henderson, S."}, {"email": "shawnhenderson@hotmail.com"}, 1),
        # a nickname of the name in the box is that name
        ({"full_name": "William Hendricks"}, {"email": "billhendricks@gmail.com"}, 3),
        # letters that are no given name we know say nothing
        ({"full_name": "Ashley Ibarra"}, {"email": "xqzibarra@gmail.com"}, -1),
    ],
)
def test_the_letters_before_the_family_name_in_a_nameless_records_email_are_its_given_name(left, right, level):
    given, _ = name_levels(left, right)
    assert given == level


@pytest.mark.parametrize(
    "given, user, family",
    [
        ("scott", "scott.nelson", "nelson"),
        ("jenna", "jennanguyen1990", "nguyen"),
        ("chris", "christopherlee", "lee"),  # the formal name behind the nickname
        ("ann", "annabellesmith", None),  # the user name begins with a longer given name: not hers
        ("debra", "debrac87", None),  # an initial, not a family name
        ("george", "george302", None),
        ("mark", "kmark.smith", None),  # does not begin with the given name
    ],
)
def test_family_name_an_email_spells_after_the_given_name(given, user, family):
    assert family_from_email(given, user) == family


@pytest.mark.parametrize(
    "family, user, given",
    [
        ("fry", "jayne.fry", "jayne"),
        ("fry", "fry_jayne82", "jayne"),  # family name first
        ("fry", "jfry", None),  # an initial is no given name
        ("fry", "fryandsons", None),  # the rest is no given name we know
        ("le", "leanne", None),  # the whole user name is a given name: Leanne Le as likely as Anne Le
        ("fry", "fry", None),
    ],
)
def test_given_name_an_email_spells_beside_the_family_name(family, user, given):
    assert given_from_email(family, user) == given


def test_a_record_with_only_a_family_name_takes_the_given_name_its_email_spells():
    """'Mrs Fry' with jayne.fry@ agrees on the given name with 'FRY, JAYNE' in the ledger, and
    disagrees with Paul Fry at her address."""
    family_exact = next(len(f.levels) - 1 for f in FIELDS if f.name == "family_name")
    assert name_levels({"full_name": "Mrs Fry", "email": "jayne.fry@yahoo.co.uk"},
                       {"full_name": "FRY, JAYNE"}) == (GIVEN_EXACT, family_exact)
    assert name_levels({"full_name": "Mrs Fry", "email": "jayne.fry@yahoo.co.uk"},
                       {"full_name": "Paul Fry"}) == (0, family_exact)


def test_a_record_without_a_family_name_takes_the_one_its_email_spells():
    """'Jenna' with jennanguyen@ agrees on the family name with 'Jenna Nguyen', and disagrees with
    'Jenna Johnson' at her postcode: a namesake, not her."""
    family_exact = next(len(f.levels) - 1 for f in FIELDS if f.name == "family_name")
    assert name_levels({"given_name": "Jenna", "email": "jennanguyen@gmail.com"},
                       {"full_name": "Nguyen, Jenna"}) == (GIVEN_EXACT, family_exact)
    assert name_levels({"given_name": "Jenna", "email": "jennanguyen@gmail.com"},
                       {"full_name": "Johnson, Jenna"}) == (GIVEN_EXACT, 0)


FAMILY_IN_EMAIL = next(f for f in FIELDS if f.name == "family_in_email").levels


@pytest.mark.parametrize(
    "left, right, level",
    [
        ({"full_name": "Raven Key"}, {"given_name": "Raven", "email": "ravenk47@icloud.com"}, "initial_after_given"),
        ({"full_name": "Raven Key"}, {"email": "raven.k@icloud.com"}, "initial_after_given"),  # no name box
        ({"full_name": "Raven Key"}, {"given_name": "Raven", "email": "ravenm47@icloud.com"}, "absent"),
        # a longer word after the given name is another family name, compared as one (not asked here)
        ({"full_name": "Raven Key"}, {"given_name": "Raven", "email": "ravenkelly@icloud.com"}, None),
        ({"full_name": "Raven Key"}, {"given_name": "Raven", "email": "rkey47@icloud.com"}, "contained"),
        # the record's own given name is read, not the other's: the level is about the family initial
        ({"full_name": "Raven Key"}, {"given_name": "Robin", "email": "robink@icloud.com"}, "initial_after_given"),
        # a user name of a given name alone spells no family name: none is missing from it
        ({"full_name": "Rachel Bush"}, {"given_name": "Rachel", "email": "rachel13@gmail.com"}, None),
        ({"full_name": "Rachel Bush"}, {"email": "rachel13@gmail.com"}, None),  # the other's given name
        ({"full_name": "Nicole Scott"}, {"given_name": "Nikki", "email": "nicole34@icloud.com"}, None),  # formal form
        ({"full_name": "Rachel Bush"}, {"given_name": "Rachel", "email": "rwood13@gmail.com"}, "absent"),
    ],
)
def test_an_email_of_given_name_and_one_letter_agrees_on_the_family_initial(left, right, level):
    raw = pd.DataFrame([{"silo": "s", "source_record_id": "1", **left}, {"silo": "s", "source_record_id": "2", **right}])
    features = build_features(standardise_records(raw))
    for l, r in ((0, 1), (1, 0)):
        gammas = compare(features, np.array([l]), np.array([r]))
        found = int(gammas["gamma_family_in_email"].iloc[0])
        assert (FAMILY_IN_EMAIL[found] if found >= 0 else None) == level


def test_an_email_with_accents_is_the_same_mailbox_typed_without_them():
    raw = pd.DataFrame({"silo": ["crm", "support", "billing"], "source_record_id": ["1", "2", "3"],
                        "full_name": ["José García", "Jose Garcia", "José García"],
                        "email": ["José.García@Empresa.es", "jose.garcia@empresa.es", "jose.garcia2@empresa.es"]})
    features = build_features(standardise_records(raw, hash_key=b"k"))
    gammas = compare(features, np.array([0, 0]), np.array([1, 2]))
    exact = next(len(f.levels) - 1 for f in FIELDS if f.name == "email")
    assert gammas["gamma_email"].tolist()[0] == exact
    assert gammas["gamma_email"].tolist()[1] < exact  # another mailbox still differs


@pytest.mark.parametrize(
    "left, right, family",
    [
        ("Sarah Smith-Jones", "Sarah Smith", 2),  # a double-barrelled name shortened in one department
        ("Sarah Smith-Jones", "Sarah Jones", 2),
        ("GARCÍA LÓPEZ, José", "José García", 2),  # both surnames against the first
        ("Ludwig van Beethoven", "Ludwig Beethoven", 2),
        ("Sarah Smith-Jones", "Sarah Brown", 0),
        ("Ann De la Fontaine", "Ann La", 0),  # a particle is not a family name
    ],
)
def test_a_family_name_among_the_words_of_the_others_is_close(left, right, family):
    assert name_levels({"full_name": left}, {"full_name": right})[1] == family


def company_level(a: str | None, b: str | None) -> int:
    raw = pd.DataFrame({"silo": "s", "source_record_id": ["1", "2"], "given_name": "Jo", "family_name": "Hansen",
                        "company": [a, b]})
    gammas = compare(build_features(standardise_records(raw)), np.array([0]), np.array([1]))
    return int(gammas["gamma_company"].iloc[0])


@pytest.mark.parametrize(
    "a, b, level",
    [
        ("ACME Corp.", "Acme Corporation", "exact"),  # legal forms and punctuation dropped
        ("The Acme Company, Inc.", "acme", "exact"),
        ("Société Générale S.A.", "Societe Generale", "exact"),
        ("Acme", "Acme Widgets", "token_set>=90"),  # one name's words within the other's
        ("Acme Widgets", "Globex Widgets", "different"),
        ("Acme", None, None),  # missing: no evidence either way
        ("Self-employed", "self employed", None),  # a status shared by millions, not an employer
        ("Retired", "RETIRED", None),
    ],
)
def test_company_levels(a, b, level):
    spec = next(f for f in FIELDS if f.name == "company")
    assert company_level(a, b) == (spec.levels.index(level) if level else -1)


@pytest.mark.parametrize(
    "company, email, level",
    [
        ("UPS", "pam.clark@ups.com", "exact"),  # her employer's own domain names it
        ("Umbrella Inc", "pam.clark@umbrella-inc.com", "exact"),  # the legal form dropped from the domain too
        ("Walmart", "pam.clark@ups.com", None),  # a second job's email: no disagreement read into it
        ("Yahoo", "pam.clark@yahoo.com", None),  # a mail provider's domain names no employer
        ("UPS", "pam.clark@upsfans.org", None),
    ],
)
def test_a_work_email_names_the_company_another_record_keeps(company, email, level):
    raw = pd.DataFrame({"silo": "s", "source_record_id": ["1", "2"], "full_name": "Pam Clark",
                        "company": [company, None], "email": [None, email]})
    gammas = compare(build_features(standardise_records(raw)), np.array([0]), np.array([1]))
    spec = next(f for f in FIELDS if f.name == "company")
    assert int(gammas["gamma_company"].iloc[0]) == (spec.levels.index(level) if level else -1)

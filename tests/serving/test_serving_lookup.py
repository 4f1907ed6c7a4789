"""Lookup by phone, email and name: normalisation, the in-memory snapshot and the SQL path agree."""
from __future__ import annotations

import duckdb
import pytest

from warehouse.lookup import (
    LookupInputError, email_key, email_key_sql, load_snapshot, lookup_in_warehouse, name_norm, name_norm_sql,
    normalise_phone,
)

EMAILS = ["Alice.Johnson@Gmail.com", "alice.johnson+promo@googlemail.com", "a.l.i.c.e@gmail.com ",
          "bob+x@example.com", "BOB@EXAMPLE.COM", "first.last@example.org", "x@y"]
NAMES = ["O'Brien-Núñez", "  José   María ", "ÅSA ÖBERG", "d'Artagnan", "Anne-Marie 3rd"]


@pytest.mark.parametrize("typed", ["(312) 555-0199", "312.555.0199", "+1 312 555 0199", "1-312-555-0199"])
def test_phone_formats_normalise_to_one_e164(typed):
    assert normalise_phone(typed) == "+13125550199"


@pytest.mark.parametrize("bad", ["hello", "12", ""])
def test_not_a_phone_is_a_clear_error(bad):
    with pytest.raises(LookupInputError):
        normalise_phone(bad)


def test_gmail_dots_and_plus_tags_are_ignored():
    assert email_key("Alice.Johnson+promo@GoogleMail.com") == email_key("alicejohnson@gmail.com")
    assert email_key("first.last@example.org") != email_key("firstlast@example.org")
    with pytest.raises(LookupInputError):
        email_key("no-at-sign")


def test_sql_and_python_normalisers_agree():
    con = duckdb.connect()
    valid = [e for e in EMAILS if e.count("@") == 1]
    from_sql = con.execute(f"SELECT {email_key_sql('v')} FROM unnest(?) AS t(v)", [valid]).fetchall()
    assert [r[0] for r in from_sql] == [email_key(v) for v in valid]
    from_sql = con.execute(f"SELECT {name_norm_sql('v')} FROM unnest(?) AS t(v)", [NAMES]).fetchall()
    assert [r[0] for r in from_sql] == [name_norm(v) for v in NAMES]


@pytest.fixture
def snapshot(warehouse):
    con = duckdb.connect(str(warehouse.path), read_only=True)
    try:
        yield load_snapshot(con)
    finally:
        con.close()


def test_snapshot_finds_by_phone_email_and_name(snapshot, warehouse):
    ids = warehouse.ids
    assert [m.customer_id for m in snapshot.by_phone("(217) 555-0101")] == [ids["alice"]]
    assert [m.customer_id for m in snapshot.by_email("ALICEJOHNSON+vip@googlemail.com")] == [ids["alice"]]
    assert [m.customer_id for m in snapshot.by_email("carol+shop@example.org")] == [ids["carol"]]
    assert snapshot.by_phone("(999) 555-0000") == []
    typo = snapshot.by_name("Alise Jonson")
    assert typo and typo[0].customer_id == ids["alice"]
    accents = snapshot.by_name("carol nunez")
    assert accents[0].customer_id == ids["carol"]
    both = [m.customer_id for m in snapshot.by_name("Robert Smith")]
    # Bob Smith is Robert Smith by nickname (exact surname); Robert Smyth is one typo away
    assert both[:2] == [ids["bob"], ids["robert"]]


@pytest.mark.parametrize("typed, person", [
    ("Bob Smyth", "robert"),        # nickname of the golden "Robert"
    ("Bobby Smyth", "robert"),
    ("Smith, Robert", "bob"),       # "LAST, First" and the canonical form of the golden "Bob"
    ("SMITH Rob", "bob"),
    ("Robert Smith", "bob"),
    ("Bob Smith", "bob"),           # typed as stored: ranks first, before any nickname-only match
])
def test_names_match_through_nicknames_and_any_word_order(snapshot, warehouse, typed, person):
    found = snapshot.by_name(typed)
    assert found[0].customer_id == warehouse.ids[person]


def test_nickname_match_ranks_below_the_name_as_typed(snapshot, warehouse):
    scores = {m.customer_id: m.score for m in snapshot.by_name("Bob Smith")}
    assert scores[warehouse.ids["bob"]] == 100.0
    assert scores[warehouse.ids["robert"]] < 100.0  # "Robert Smyth": nickname and a typo


def test_unknown_name_finds_nobody(snapshot):
    assert snapshot.by_name("Zebedee Quorn") == []


def test_card_has_360_facts(snapshot, warehouse):
    card = snapshot.card(warehouse.ids["alice"])
    assert card["full_name"] == "Alice Johnson"
    assert card["balance"] == 120.5 and card["credit_limit"] == 5000.0 and card["payment_terms"] == "NET30"
    assert snapshot.card("Cnope") is None


def test_retired_ids_resolve_to_successor(snapshot, warehouse):
    (retired, successor), = warehouse.retired.items()
    assert snapshot.resolve(retired) == successor
    assert snapshot.resolve(successor) == successor


@pytest.mark.parametrize("query", [dict(phone="312 555 0199"), dict(email="Alice.Johnson@gmail.com"),
                                   dict(name="alise jonson"), dict(name="Robert Smith"), dict(name="smith"),
                                   dict(name="Carol"), dict(name="Bob Smyth"), dict(name="Smith, Robert"),
                                   dict(name="carol nunez")])
def test_sql_path_agrees_with_snapshot(warehouse, snapshot, query):
    con = duckdb.connect(str(warehouse.path), read_only=True)
    try:
        from_sql = lookup_in_warehouse(con, **query)
    finally:
        con.close()
    kind, value = next(iter(query.items()))
    from_memory = {"phone": snapshot.by_phone, "email": snapshot.by_email, "name": snapshot.by_name}[kind](value)
    assert from_sql and [(m.customer_id, m.score) for m in from_sql] == [(m.customer_id, m.score) for m in from_memory]


def test_lookup_needs_exactly_one_search(warehouse):
    con = duckdb.connect(str(warehouse.path), read_only=True)
    try:
        with pytest.raises(LookupInputError):
            lookup_in_warehouse(con, phone="312 555 0199", email="bob@example.com")
        with pytest.raises(LookupInputError):
            lookup_in_warehouse(con)
    finally:
        con.close()

"""Finding a customer by phone, email or name, and building the customer-360 card.

Two ways in, one set of rules:
- `CustomerSnapshot`: the in-memory index the HTTP service answers from (sorted key arrays and an Arrow
  table of cards, loaded from the warehouse in a few bulk SQL queries, so a lookup touches no database
  and holds no lock);
- `lookup_in_warehouse`: the same lookups as SQL over a short read-only connection, for the one-shot
  `hub lookup` command.

Matching keys: phones as E.164 (phonenumbers, default region US), emails lower-cased with +tags
dropped and Gmail dots ignored, names as accent-free lower-case tokens matched fuzzily (Jaro-Winkler on
tokens to find candidates, then rapidfuzz token-set/sort ratios to rank them). Given names also match
through the resolver's nickname table ("Bob" finds "Robert"), and word order does not matter
("Smith, Robert").
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

import duckdb
import numpy as np
import orjson
import pandas as pd
import phonenumbers
import pyarrow as pa
from rapidfuzz import fuzz, process
from rapidfuzz.distance import JaroWinkler

from identity_resolution.names import canonical_given, nickname_table

DEFAULT_REGION = "US"
GMAIL_DOMAINS = ("gmail.com", "googlemail.com")
TOKEN_SIMILARITY = 0.88     # Jaro-Winkler on one name token to count as the same token
MAX_TOKEN_VARIANTS = 64     # fuzzy variants of one query token that are followed
MAX_NAME_CANDIDATES = 50_000
MIN_NAME_SCORE = 50.0
TOKEN_CACHE_SIZE = 20_000
# A name that matches only through nicknames ranks just below the same name written as typed, so
# "Bob Smith" still comes before "Robert Smith" when the agent typed "Bob Smith".
NICKNAME_PENALTY = 3.0
CARD_CUSTOMER_COLUMNS = (
    "customer_id", "full_name", "given_name", "family_name", "email", "phone", "emails", "phones",
    "address_line", "city", "region", "postcode", "country", "birth_date", "national_id_last4", "company",
    "silos", "record_count", "first_seen_at", "last_updated_at",
)


class LookupInputError(ValueError):
    """A search value that cannot be a phone number, an email address or a name."""


# --- normalising what is searched ---------------------------------------------------------------

def normalise_phone(text: str, region: str = DEFAULT_REGION) -> str:
    """E.164 form of a phone number as typed by an agent; LookupInputError if it is not one."""
    try:
        number = phonenumbers.parse(str(text), region)
    except phonenumbers.NumberParseException as exc:
        raise LookupInputError(f"'{text}' is not a phone number ({exc})") from exc
    if not phonenumbers.is_possible_number(number):
        raise LookupInputError(f"'{text}' is not a possible phone number for region {region}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email_key(text: str) -> str:
    """Matching key of an email: lower case, +tag dropped, Gmail dots ignored."""
    value = str(text).strip().lower()
    if value.count("@") != 1 or value.startswith("@") or value.endswith("@"):
        raise LookupInputError(f"'{text}' is not an email address")
    local, domain = value.split("@")
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def email_key_sql(expr: str) -> str:
    """SQL twin of email_key (NULL stays NULL; a value that is not one address is only lower-cased).

    The list/lambda form evaluates `expr` once per row; a plain CASE would repeat lower(trim()) six times.
    """
    return (f"list_transform([string_split(lower(trim({expr})), '@')], lambda p: "
            "CASE WHEN len(p) <> 2 THEN array_to_string(p, '@') "
            "WHEN p[2] IN ('gmail.com', 'googlemail.com') "
            "THEN replace(split_part(p[1], '+', 1), '.', '') || '@gmail.com' "
            "ELSE split_part(p[1], '+', 1) || '@' || p[2] END)[1]")


def name_norm(text: str) -> str:
    """Accent-free lower-case letters and single spaces ("O'Brien-Núñez" -> "obrien nunez")."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    plain = re.sub(r"['\u2019]", "", plain)
    return re.sub(r"\s+", " ", re.sub(r"[^a-z]", " ", plain)).strip()


def name_norm_sql(expr: str) -> str:
    """SQL twin of name_norm."""
    plain = f"regexp_replace(lower(strip_accents({expr})), '[''\u2019]', '', 'g')"
    return f"trim(regexp_replace(regexp_replace({plain}, '[^a-z]', ' ', 'g'), '\\s+', ' ', 'g'))"


def name_tokens(text: str) -> list[str]:
    tokens = name_norm(text).split()
    if not tokens:
        raise LookupInputError(f"'{text}' has no letters to search a name by")
    return tokens


@lru_cache(maxsize=1)
def _nickname_groups() -> dict[str, tuple[str, ...]]:
    """canonical given name -> itself and every nickname of it, from identity_resolution's table."""
    groups: dict[str, set[str]] = {}
    for nick, canonical in nickname_table().items():
        groups.setdefault(canonical, {canonical}).add(nick)
    return {canonical: tuple(sorted(names)) for canonical, names in groups.items()}


def nickname_equivalents(token: str) -> tuple[str, ...]:
    """Every given name that means the same as `token` ('bob' -> 'bob', 'bobby', 'rob', 'robert', ...)."""
    return _nickname_groups().get(canonical_given(token) or token, (token,))


def canonical_name(norm: str) -> str:
    """A normalised name with every nickname replaced by its canonical given name."""
    return " ".join(canonical_given(t) or t for t in norm.split())


# --- the card -----------------------------------------------------------------------------------

def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database() "
        "AND table_schema = ? AND table_name = ? ORDER BY ordinal_position", [schema, table]).fetchall()
    return [r[0] for r in rows]


def card_select_sql(con: duckdb.DuckDBPyConnection, only_ids_param: str | None = None) -> str:
    """SELECT of one card per customer: golden record plus every departmental fact of the 360 view.

    With `only_ids_param` (a named parameter holding a list of ids) both sides are filtered before the join.
    """
    customer_cols = _columns(con, "marts", "customers")
    if not customer_cols:
        raise LookupInputError("the warehouse has no marts.customers table yet: run a sync first")
    fact_cols = [c for c in _columns(con, "marts", "customer_360") if c not in customer_cols]
    chosen = [f'c."{c}"' for c in CARD_CUSTOMER_COLUMNS if c in customer_cols]
    facts = [f'f."{c}"' for c in fact_cols]
    only = f" WHERE customer_id IN (SELECT unnest(${only_ids_param}))" if only_ids_param else ""
    join = f" LEFT JOIN (SELECT * FROM marts.customer_360{only}) f USING (customer_id)" if fact_cols else ""
    return f"SELECT {', '.join(chosen + facts)} FROM (SELECT * FROM marts.customers{only}) c{join}"


def _plain(value: Any) -> Any:
    """JSON-friendly value (dates as ISO text, decimals as floats)."""
    if isinstance(value, (datetime,)):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and np.isnan(value):
        return None
    if type(value).__name__ == "Decimal":
        return float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def plain_record(record: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(v) for k, v in record.items()}


# --- the in-memory snapshot (HTTP service) --------------------------------------------------------

@dataclass
class SortedKeys:
    """Keys sorted ascending with the card row each belongs to; a lookup is two binary searches."""
    keys: np.ndarray
    rows: np.ndarray

    @classmethod
    def from_arrays(cls, keys: np.ndarray, rows: np.ndarray) -> "SortedKeys":
        return cls(np.asarray(keys, dtype=object), np.asarray(rows, dtype=np.int64))

    def find(self, key: str) -> np.ndarray:
        lo = np.searchsorted(self.keys, key, side="left")
        hi = np.searchsorted(self.keys, key, side="right")
        return self.rows[lo:hi]


@dataclass
class TokenIndex(SortedKeys):
    """Name tokens: the distinct tokens (for fuzzy matching) and where each one's rows start and end."""
    unique: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    starts: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))
    # Query tokens repeat (common given names): remember their rows. Bounded, cleared when full.
    _cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def from_arrays(cls, keys: np.ndarray, rows: np.ndarray) -> "TokenIndex":
        base = SortedKeys.from_arrays(keys, rows)
        keys = base.keys
        if len(keys):
            boundaries = np.flatnonzero(keys[1:] != keys[:-1]) + 1
            starts = np.concatenate([[0], boundaries, [len(keys)]]).astype(np.int64)
        else:
            starts = np.array([0], dtype=np.int64)
        unique = keys[starts[:-1]] if len(keys) else np.array([], dtype=object)
        return cls(keys, base.rows, unique, starts)

    def variants(self, token: str) -> np.ndarray:
        """Indexes into `unique` of tokens that match `token` (prefix for short ones, fuzzy otherwise)."""
        found = []
        if len(token) <= 3:
            lo = np.searchsorted(self.unique, token, side="left")
            hi = np.searchsorted(self.unique, token + "\x7f", side="left")
            found.append(np.arange(lo, min(hi, lo + MAX_TOKEN_VARIANTS)))
        if len(token) > 1 and len(self.unique):
            scores = process.cdist([token], self.unique, scorer=JaroWinkler.normalized_similarity,
                                   dtype=np.float32, score_cutoff=TOKEN_SIMILARITY)[0]
            close = np.flatnonzero(scores >= TOKEN_SIMILARITY)
            if len(close) > MAX_TOKEN_VARIANTS:
                close = close[np.argsort(-scores[close], kind="stable")[:MAX_TOKEN_VARIANTS]]
            found.append(close)
        return np.unique(np.concatenate(found)) if found else np.array([], dtype=np.int64)

    def exact(self, tokens: tuple[str, ...]) -> np.ndarray:
        """Indexes into `unique` of those `tokens` that occur."""
        wanted = np.asarray(tokens, dtype=object)
        at = np.searchsorted(self.unique, wanted)
        inside = at < len(self.unique)
        at, wanted = at[inside], wanted[inside]
        return at[self.unique[at] == wanted]

    def matches(self, token: str) -> np.ndarray:
        """Indexes into `unique` of the fuzzy variants of `token` and of its nickname equivalents."""
        return np.union1d(self.variants(token), self.exact(nickname_equivalents(token))).astype(np.int64)

    def rows_for(self, token: str) -> np.ndarray:
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        picks = self.matches(token)
        rows = (np.unique(np.concatenate([self.rows[self.starts[i]:self.starts[i + 1]] for i in picks]))
                if len(picks) else np.array([], dtype=np.int64))
        if len(self._cache) >= TOKEN_CACHE_SIZE:
            self._cache.clear()
        self._cache[token] = rows
        return rows


@dataclass
class Match:
    customer_id: str
    score: float


@dataclass
class CustomerSnapshot:
    """Everything a lookup needs, in memory; rebuilt when the warehouse file changes."""
    card_texts: pa.Array  # one JSON object per card row, serialised once when the snapshot is built
    ids: pd.Index
    phones: SortedKeys
    emails: SortedKeys
    tokens: TokenIndex
    names: np.ndarray
    canonical_names: np.ndarray  # `names` with nicknames replaced by canonical given names
    redirects: dict[str, str]
    loaded_at: str

    @property
    def size(self) -> int:
        return len(self.ids)

    def card_json(self, customer_id: str) -> str | None:
        """The card as JSON text: a response embeds it as is (no per-value conversion per request)."""
        try:
            row = self.ids.get_loc(customer_id)
        except KeyError:
            return None
        if not isinstance(row, (int, np.integer)):
            row = int(np.flatnonzero(row)[0]) if not isinstance(row, slice) else row.start
        return self.card_texts[int(row)].as_py()

    def card(self, customer_id: str) -> dict[str, Any] | None:
        text = self.card_json(customer_id)
        return None if text is None else orjson.loads(text)

    def resolve(self, customer_id: str) -> str:
        """Final successor of a retired id (the id itself if it was never merged away)."""
        return follow_redirects(self.redirects, customer_id)

    def by_phone(self, text: str, region: str = DEFAULT_REGION) -> list[Match]:
        return self._exact(self.phones.find(normalise_phone(text, region)))

    def by_email(self, text: str) -> list[Match]:
        return self._exact(self.emails.find(email_key(text)))

    def by_name(self, text: str, limit: int = 10) -> list[Match]:
        tokens = name_tokens(text)
        per_token = [self.tokens.rows_for(t) for t in tokens]
        candidates = _most_covered(per_token)
        if not len(candidates):
            return []
        return rank_by_name(" ".join(tokens), self.ids[candidates], self.names[candidates], limit,
                            self.canonical_names[candidates])

    def _exact(self, rows: np.ndarray) -> list[Match]:
        return [Match(self.ids[r], 100.0) for r in np.unique(rows)]


def _most_covered(per_token: list[np.ndarray]) -> np.ndarray:
    """Rows of the rarest matched token that match the most other query tokens.

    Starting from the rarest token keeps the work proportional to the smallest posting list, not to
    the 16,000 "James" of a million customers.
    """
    present = sorted((rows for rows in per_token if len(rows)), key=len)
    if not present:
        return np.array([], dtype=np.int64)
    base = present[0]
    coverage = np.ones(len(base), dtype=np.int32)
    for rows in present[1:]:
        coverage += np.isin(base, rows, assume_unique=True)
    return base[coverage == coverage.max()][:MAX_NAME_CANDIDATES]


def rank_by_name(query_norm: str, ids: Any, names: np.ndarray, limit: int,
                 canonical_names: np.ndarray | None = None) -> list[Match]:
    """Rank candidate names against the query with rapidfuzz, best first.

    A candidate scores the better of its name as written and its name with nicknames made canonical
    (less NICKNAME_PENALTY), so "Bob Smith" ranks "Robert Smith" as a near-exact match.
    """
    names = np.asarray(names, dtype=object)
    if canonical_names is None:
        canonical_names = np.array([canonical_name(n) for n in names], dtype=object)
    canonical_names = np.asarray(canonical_names, dtype=object)
    scores = _name_scores(query_norm, names)
    canonical_query = canonical_name(query_norm)
    # where neither side has a nickname the canonical score equals the written one: skip it
    redo = np.ones(len(names), dtype=bool) if canonical_query != query_norm else canonical_names != names
    if redo.any():
        by_nickname = _name_scores(canonical_query, canonical_names[redo]) - NICKNAME_PENALTY
        scores[redo] = np.maximum(scores[redo], by_nickname)
    ids = np.asarray(ids, dtype=object)
    order = np.lexsort((ids, -scores))
    order = order[scores[order] >= MIN_NAME_SCORE][:limit]
    return [Match(str(ids[i]), round(float(scores[i]), 1)) for i in order]


def _name_scores(query_norm: str, names: np.ndarray) -> np.ndarray:
    """Mean of rapidfuzz's token-set and token-sort ratios (word order does not matter)."""
    set_scores = process.cdist([query_norm], names, scorer=fuzz.token_set_ratio, dtype=np.float32)[0]
    sort_scores = process.cdist([query_norm], names, scorer=fuzz.token_sort_ratio, dtype=np.float32)[0]
    return (set_scores + sort_scores) / 2.0


def follow_redirects(redirects: dict[str, str], customer_id: str) -> str:
    seen = {customer_id}
    while customer_id in redirects:
        customer_id = redirects[customer_id]
        if customer_id in seen:  # a cycle in the history would be a resolver bug; stop rather than spin
            break
        seen.add(customer_id)
    return customer_id


def load_redirects(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    if not _columns(con, "identity", "customer_id_history"):
        return {}
    rows = con.execute(
        "SELECT customer_id, arg_max(successor_id, changed_at) FROM identity.customer_id_history "
        "WHERE event = 'merged' AND successor_id IS NOT NULL AND successor_id <> customer_id "
        "GROUP BY customer_id").fetchall()
    return dict(rows)


def load_snapshot(con: duckdb.DuckDBPyConnection) -> CustomerSnapshot:
    """Read cards and id redirects from the warehouse, then build the indexes in memory."""
    cards, redirects = fetch_snapshot_inputs(con)
    return build_snapshot(cards, redirects)


def fetch_snapshot_inputs(con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, dict[str, str]]:
    """The only reads from the warehouse file (two queries), so the caller can close it right after."""
    cards = con.sql(f"{json_ready_sql(con, card_select_sql(con))} ORDER BY customer_id").to_arrow_table()
    if isinstance(cards, pa.RecordBatchReader):
        cards = cards.read_all()
    return cards, load_redirects(con)


def json_ready_sql(con: duckdb.DuckDBPyConnection, select_sql: str) -> str:
    """Wrap a SELECT so every value is already JSON-friendly (ISO text for times, doubles for decimals):
    a card is then read with no per-value conversion in Python."""
    described = con.execute(f"DESCRIBE {select_sql}").fetchall()
    columns = []
    for name, dtype, *_ in described:
        quoted = '"' + name.replace('"', '""') + '"'
        upper = dtype.upper()
        if upper.startswith("TIMESTAMP"):
            columns.append(f"strftime({quoted}, '%Y-%m-%dT%H:%M:%S') AS {quoted}")
        elif upper == "DATE":
            columns.append(f"strftime({quoted}, '%Y-%m-%d') AS {quoted}")
        elif upper.startswith(("DECIMAL", "HUGEINT", "UHUGEINT")):
            columns.append(f"CAST({quoted} AS DOUBLE) AS {quoted}")
        elif upper in ("DOUBLE", "FLOAT", "REAL"):  # NaN and infinities are not JSON: no value
            columns.append(f"CASE WHEN isfinite({quoted}) THEN {quoted} END AS {quoted}")
        elif upper in ("JSON", "UUID", "TIME", "INTERVAL", "BLOB"):
            columns.append(f"CAST({quoted} AS VARCHAR) AS {quoted}")
        else:
            columns.append(quoted)
    return f"SELECT {', '.join(columns)} FROM ({select_sql})"


def build_snapshot(cards: pa.Table, redirects: dict[str, str]) -> CustomerSnapshot:
    """Sorted phone/email/name-token keys and ranking names from the cards, in an in-memory DuckDB."""
    ids = pd.Index(cards.column("customer_id").to_numpy(zero_copy_only=False))
    cols = set(cards.column_names)
    mem = duckdb.connect()
    try:
        mem.register("cards", cards.append_column("_row", pa.array(np.arange(cards.num_rows, dtype=np.int64))))

        def pairs(sql: str) -> tuple[np.ndarray, np.ndarray]:
            got = mem.execute(sql).fetchnumpy()
            return np.asarray(got["k"], dtype=object), np.asarray(got["_row"], dtype=np.int64)

        phones = SortedKeys.from_arrays(*pairs(_keys_sql(cols, "phone", "phones", None, "cards", "_row")))
        emails = SortedKeys.from_arrays(*pairs(_keys_sql(cols, "email", "emails", email_key_sql("k"), "cards", "_row")))
        tokens = TokenIndex.from_arrays(*pairs(
            f"SELECT DISTINCT tok AS k, _row FROM (SELECT _row, unnest(string_split({name_norm_sql(_name_expr(cols))}, "
            f"' ')) AS tok FROM cards) WHERE tok <> '' ORDER BY k, _row"))
        ranking = name_norm_sql(_ranking_name_expr(cols))
        names = np.asarray(mem.execute(f"SELECT {ranking} AS n FROM cards ORDER BY _row").fetchnumpy()["n"], dtype=object)
        texts = mem.sql(f"SELECT {_card_json_sql(cards.column_names)} AS j FROM cards ORDER BY _row").to_arrow_table()
        texts = texts.read_all() if isinstance(texts, pa.RecordBatchReader) else texts
    finally:
        mem.close()
    return CustomerSnapshot(texts.column("j").combine_chunks(), ids, phones, emails, tokens, names,
                            _canonical_names(names), redirects, datetime.now(timezone.utc).isoformat(timespec="seconds"))


def _card_json_sql(columns: list[str]) -> str:
    """One card row as a JSON object, keys in column order (values are JSON-ready: json_ready_sql)."""
    pairs = ", ".join("'" + c.replace("'", "''") + "': \"" + c.replace('"', '""') + '"' for c in columns)
    return f"CAST(to_json({{{pairs}}}) AS VARCHAR)"


def _canonical_names(names: np.ndarray) -> np.ndarray:
    """canonical_name of every name, computed once per distinct name (names repeat a lot)."""
    series = pd.Series(names, dtype=object)
    distinct = series.drop_duplicates()
    return series.map(dict(zip(distinct, map(canonical_name, distinct)))).to_numpy(dtype=object)


def _name_expr(customer_cols: set[str]) -> str:
    """Every name column, for the token index (tokens are de-duplicated)."""
    parts = [c for c in ("full_name", "given_name", "family_name") if c in customer_cols]
    return f"concat_ws(' ', {', '.join(parts)})" if parts else "''"


def _ranking_name_expr(customer_cols: set[str]) -> str:
    """The one name a match is ranked on: full_name, else given and family name."""
    parts = [c for c in ("given_name", "family_name") if c in customer_cols]
    split = f"nullif(concat_ws(' ', {', '.join(parts)}), '')" if parts else "NULL"
    return f"coalesce(full_name, {split}, '')" if "full_name" in customer_cols else f"coalesce({split}, '')"


def _keys_sql(customer_cols: set[str], single: str, many: str, transform: str | None,
              source: str = "marts.customers", id_col: str = "customer_id") -> str:
    """(k, id) pairs sorted by k from the single and list columns of `source`."""
    sources = []
    if single in customer_cols:
        sources.append(f"SELECT {id_col}, {single} AS k FROM {source}")
    if many in customer_cols:
        sources.append(f"SELECT {id_col}, unnest({many}) AS k FROM {source}")
    if not sources:
        return f"SELECT NULL::VARCHAR AS k, NULL::BIGINT AS {id_col} WHERE false"
    key = transform or "k"
    return (f"SELECT DISTINCT {key} AS k, {id_col} FROM ({' UNION ALL '.join(sources)}) "
            f"WHERE k IS NOT NULL AND k <> '' ORDER BY 1, 2")


# --- the same lookups straight from SQL (CLI) -----------------------------------------------------

def resolve_in_warehouse(con: duckdb.DuckDBPyConnection, customer_id: str) -> str:
    return follow_redirects(load_redirects(con), customer_id)


def cards_in_warehouse(con: duckdb.DuckDBPyConnection, customer_ids: list[str]) -> dict[str, dict[str, Any]]:
    if not customer_ids:
        return {}
    frame = con.sql(card_select_sql(con, only_ids_param="ids"), params={"ids": list(customer_ids)}).to_arrow_table()
    if isinstance(frame, pa.RecordBatchReader):
        frame = frame.read_all()
    return {row["customer_id"]: plain_record(row) for row in frame.to_pylist()}


def lookup_in_warehouse(con: duckdb.DuckDBPyConnection, *, phone: str | None = None, email: str | None = None,
                        name: str | None = None, limit: int = 10, region: str = DEFAULT_REGION) -> list[Match]:
    """Best matches by exactly one of phone, email or name, read with SQL (no in-memory index).

    Each search first narrows rows with cheap comparisons DuckDB runs in bulk (exact phone; email
    prefix and domain; names among the few distinct name tokens that fuzzily match), and only then
    applies the full matching rules, so one lookup stays well under a second at a million customers.
    """
    kind, value = _one_search(phone=phone, email=email, name=name)
    cols = set(_columns(con, "marts", "customers"))
    if kind == "phone":
        return _exact_matches(con, cols, "phone", "phones", normalise_phone(value, region), None)
    if kind == "email":
        return _exact_matches(con, cols, "email", "emails", email_key(value), email_key_sql("v"))
    return _names_in_warehouse(con, cols, name_tokens(value), limit)


def _exact_matches(con: duckdb.DuckDBPyConnection, cols: set[str], single: str, many: str, key: str,
                   key_sql: str | None) -> list[Match]:
    values = [f"[{single}]"] if single in cols else []
    values += [many] if many in cols else []
    if not values:
        return []
    every = f"list_concat({', '.join(values)})"
    if key_sql is None:  # phones are stored in E.164: one equality per column, each answered from zone maps
        probes = [f"SELECT customer_id FROM marts.customers WHERE {single} = $key"] if single in cols else []
        probes += [f"SELECT customer_id FROM marts.customers WHERE list_contains({many}, $key)"] if many in cols else []
        rows = con.execute(f"{' UNION '.join(probes)} ORDER BY 1", {"key": key}).fetchall()
        return [Match(r[0], 100.0) for r in rows]
    # emails: the first letter is kept by every rule, so it narrows cheaply before the full key is computed
    # (the golden `email` is one of `emails`, so a row whose list holds one address is decided by `email`)
    narrow = "TRUE"
    if single in cols and many in cols:
        narrow = (f"starts_with(lower(trim(coalesce({single}, ''))), $first) OR len({many}) > 1 "
                  f"OR ({single} IS NULL AND len({many}) > 0)")
    rows = con.execute(
        f"SELECT DISTINCT customer_id FROM (SELECT customer_id, unnest({every}) AS v FROM marts.customers "
        f"WHERE {narrow}) WHERE starts_with(lower(trim(v)), $first) AND {key_sql} = $key ORDER BY 1",
        {"key": key, "first": key[:1]}).fetchall()
    return [Match(r[0], 100.0) for r in rows]


def _sql_text_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _names_in_warehouse(con: duckdb.DuckDBPyConnection, cols: set[str], tokens: list[str],
                        limit: int) -> list[Match]:
    """Fuzzy name search: match query tokens against the distinct name words, then fetch only their rows."""
    parts = _name_parts_sql(cols)
    vocabulary = con.execute(
        f"SELECT w, {name_norm_sql('w')} AS n FROM (SELECT DISTINCT unnest({parts}) AS w FROM marts.customers) "
        "WHERE w IS NOT NULL AND w <> ''").fetchall()
    by_token: dict[str, list[str]] = {}
    for word, norm in vocabulary:
        for token in (norm or "").split():
            by_token.setdefault(token, []).append(word)
    index = TokenIndex(np.array([], dtype=object), np.array([], dtype=np.int64),
                       np.array(sorted(by_token), dtype=object), np.array([0], dtype=np.int64))
    words_per_token = [sorted({w for i in index.matches(t) for w in by_token[index.unique[i]]}) for t in tokens]
    matched = [words for words in words_per_token if words]
    if not matched:
        return []
    coverage = " + ".join(f"CAST(list_has_any(parts, $t{i}) AS INTEGER)" for i in range(len(matched)))
    any_word = sorted({w for words in matched for w in words})
    params = {f"t{i}": words for i, words in enumerate(matched)} | {"any": any_word}
    candidates = con.execute(
        f"""
        WITH hits AS (
            SELECT customer_id, {name_norm_sql(_ranking_name_expr(cols))} AS n, {parts} AS parts
            FROM marts.customers WHERE {_name_filter_sql(cols)}),
        covered AS (SELECT customer_id, n, {coverage} AS c FROM hits)
        SELECT customer_id, n FROM covered WHERE c = (SELECT max(c) FROM covered)
        ORDER BY customer_id LIMIT {MAX_NAME_CANDIDATES}
        """, params).df()
    if candidates.empty:
        return []
    return rank_by_name(" ".join(tokens), candidates["customer_id"].to_numpy(dtype=object),
                        candidates["n"].fillna("").to_numpy(dtype=object), limit)


def _name_filter_sql(cols: set[str]) -> str:
    """Rows with any of the words `$any`: plain IN tests on given/family name first (cheap), the words
    of the full name only for rows without them."""
    tests = [f"{c} IN (SELECT unnest($any))" for c in ("given_name", "family_name") if c in cols]
    if "full_name" in cols:
        bare = " AND ".join(f"{c} IS NULL" for c in ("given_name", "family_name") if c in cols) or "TRUE"
        tests.append(f"({bare} AND list_has_any(string_split(full_name, ' '), $any))")
    return " OR ".join(tests) if tests else "FALSE"


def _name_parts_sql(cols: set[str]) -> str:
    """The words of a customer's names as a list (given, family and the words of the full name)."""
    lists = [f"[{c}]" for c in ("given_name", "family_name") if c in cols]
    if "full_name" in cols:
        lists.append("string_split(full_name, ' ')")
    return f"list_concat({', '.join(lists)})" if lists else "[]::VARCHAR[]"


def _one_search(**values: str | None) -> tuple[str, str]:
    given = {k: v for k, v in values.items() if v is not None and str(v).strip() != ""}
    if len(given) != 1:
        raise LookupInputError("search by exactly one of phone, email or name")
    return next(iter(given.items()))


def customer_records(con: duckdb.DuckDBPyConnection, customer_id: str) -> dict[str, Any] | None:
    """The source records behind a customer, with their match probability, the lineage and id history."""
    exists = con.execute("SELECT lineage FROM marts.customers WHERE customer_id = ?", [customer_id]).fetchall() \
        if "lineage" in _columns(con, "marts", "customers") else \
        con.execute("SELECT NULL FROM marts.customers WHERE customer_id = ?", [customer_id]).fetchall()
    if not exists:
        return None
    lineage = exists[0][0]
    records = con.sql(
        "SELECT r.*, x.match_probability, x.resolved_at FROM identity.customer_xref x "
        "JOIN staging.customer_records r USING (silo, source_record_id) WHERE x.customer_id = ? "
        "ORDER BY r.silo, r.source_record_id", params=[customer_id]).to_arrow_table()
    if isinstance(records, pa.RecordBatchReader):
        records = records.read_all()
    history = []
    if _columns(con, "identity", "customer_id_history"):
        hist = con.sql("SELECT * FROM identity.customer_id_history WHERE customer_id = ? OR successor_id = ? "
                       "ORDER BY changed_at", params=[customer_id, customer_id]).to_arrow_table()
        history = (hist.read_all() if isinstance(hist, pa.RecordBatchReader) else hist).to_pylist()
    return {
        "customer_id": customer_id,
        "records": [plain_record(r) for r in records.to_pylist()],
        "lineage": json.loads(lineage) if isinstance(lineage, str) else lineage,
        "history": [plain_record(h) for h in history],
    }

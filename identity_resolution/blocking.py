"""Candidate pairs: several blocking rules as DuckDB joins, de-duplicated, oversized blocks skipped."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

log = logging.getLogger(__name__)

_EMAIL_LETTERS = "email_letters"  # the email user name's letters (a feature: computed once, read by four rules)
# name -> SQL key expression over the feature table. A NULL part makes the key NULL (no block).
BLOCKING_RULES: dict[str, str | tuple[str, str]] = {
    "email": "email_key",
    "phone": "phone",
    "national_id": "nid_hash",
    "dob_given": "dob || '|' || given_initial",
    "dob_family": "dob || '|' || left(family, 2)",
    # two letters of the given name, not one: at 1M records an initial in a ZIP3 area made 1.85M pairs
    # no other rule made, 79 of them true (two letters: 0.46M, 57 true)
    "family_phonetic_given_area": "family_sdx || '|' || left(given, 2) || '|' || left(postcode, 3)",
    "family_phonetic_given_year": "family_sdx || '|' || given_initial || '|' || dob_year",
    "family_given_exact": "family || '|' || given_canon",
    # a typo in the given name ('Jeseica', 'Kile') where nothing else puts the two together (no
    # postcode, birth date or phone): +2.3M pairs at 1M records, as many as the exact rule
    "family_given_phonetic": "family || '|' || given_mp",
    # a record without the name part uses the start of its email user name instead (most personal
    # addresses begin with the given or the family name): a newsletter entry with only an email
    # and a postcode still meets the ledger entry of the same person
    "postcode_family_prefix": f"postcode || '|' || left(coalesce(family, {_EMAIL_LETTERS}), 3)",
    "postcode_given_prefix": f"postcode || '|' || left(coalesce(given, {_EMAIL_LETTERS}), 3)",
    "address_postcode": "addr_key || '|' || postcode",
    # no postcode or region in the key: it is there for records that lack them
    "address_family": "addr_key || '|' || left(family, 1)",
    "dob_postcode": "dob || '|' || postcode",
    "dob_city": "dob || '|' || city",
    # a pair of keys: the left record's given|family equals the right record's family|given
    "swapped_names": ("given || '|' || family", "family || '|' || given"),
    # the letters of the email user name where they say more than the name boxes — a record without
    # a family name (a mailing list: 'Samantha' with samantha.harris@), a typo in the boxes ('Kle
    # Hicsk' with kyle.hicks@), a marriage ('Samantha Blake' with samantha.harris@) — and given and
    # family name run together for every other record, so each meets 'Samantha Harris' or 'Kyle
    # Hicks' at any postcode or none. An email no longer than the given name plus two letters
    # ('michael84', 'jsmith') keys on the names: as a key it would only gather namesakes.
    "email_user_or_name": f"""CASE WHEN family IS NULL THEN {_EMAIL_LETTERS}
        WHEN {_EMAIL_LETTERS} <> given || family AND length({_EMAIL_LETTERS}) >= length(given) + 3 THEN {_EMAIL_LETTERS}
        WHEN length(given) > 1 THEN given || family END""",
    # a record without a family name meets the records of its postcode whose family name ends its
    # email user name, as in most personal addresses ('angelamitchell1998', 'kvasquez', 'r.silva'),
    # where a typo, nickname or initial in the given name keeps them out of the name-prefix rules
    "postcode_family_in_email": f"postcode || '|' || right(coalesce(family, {_EMAIL_LETTERS}), 4)",
    # a customer that is an organisation (no person's names) meets the others of its name ('ACME
    # Corp.' and 'Acme Corporation' at another address). Not people by their employer: with the family
    # initial that made 1.5M pairs at 1M records (Walmart's staff) for no match the name rules missed
    "organisation": "CASE WHEN given IS NULL AND family IS NULL THEN company_key END",
    "nid_last4_dob_year": "nid_last4 || '|' || dob_year",
    "nid_last4_family": "nid_last4 || '|' || family_sdx",
}


@dataclass
class BlockingResult:
    left: np.ndarray  # int64 record positions, left < right
    right: np.ndarray
    rule: np.ndarray  # int8 index into rule_names of the first rule that produced the pair
    rule_names: list[str]
    stats: pd.DataFrame  # per rule: pairs, skipped_blocks, skipped_records, largest_skipped
    warnings: list[str] = field(default_factory=list)


def block(
    features: pd.DataFrame,
    silo: pd.Series | np.ndarray | None = None,
    rules: dict[str, str] | None = None,
    max_block_size: int = 200,
    link_only: bool = False,
    con: duckdb.DuckDBPyConnection | None = None,
) -> BlockingResult:
    """Candidate pairs from every rule; a key shared by more than `max_block_size` records is skipped
    (with a warning) because it would produce more pairs than evidence. `link_only` keeps only pairs
    from different silos."""
    rules = rules or BLOCKING_RULES
    own = con is None
    con = con or duckdb.connect()
    table = pa.Table.from_pandas(features, preserve_index=False)
    table = table.append_column("rid", pa.array(np.arange(len(features), dtype=np.int64)))
    silo_codes = pd.factorize(pd.Series(silo if silo is not None else np.zeros(len(features))))[0]
    table = table.append_column("silo_code", pa.array(silo_codes.astype(np.int32)))
    con.register("feats", table)
    con.execute("CREATE OR REPLACE TEMP TABLE cand (l BIGINT, r BIGINT, rule TINYINT)")
    stats, warnings = [], []
    silo_filter = "AND a.silo_code <> b.silo_code" if link_only else ""
    for idx, (name, expr) in enumerate(rules.items()):
        left_expr, right_expr = expr if isinstance(expr, tuple) else (expr, expr)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE bkeys AS SELECT rid, silo_code, {left_expr} AS k, {right_expr} AS k2 "
            f"FROM feats WHERE ({left_expr}) IS NOT NULL"
        )
        con.execute("CREATE OR REPLACE TEMP TABLE bigkeys AS SELECT k, count(*) AS n FROM bkeys GROUP BY k "
                    "HAVING count(*) > ?", [max_block_size])
        big = con.execute("SELECT k, n FROM bigkeys ORDER BY n DESC").fetchall()
        if big:
            con.execute("DELETE FROM bkeys WHERE k IN (SELECT k FROM bigkeys) OR k2 IN (SELECT k FROM bigkeys)")
            msg = (f"blocking rule {name!r}: skipped {len(big)} block(s) over {max_block_size} records "
                   f"({sum(n for _, n in big)} records; largest {big[0][0]!r} with {big[0][1]})")
            log.warning(msg)
            warnings.append(msg)
        if isinstance(expr, tuple):
            join = (f"SELECT least(a.rid, b.rid), greatest(a.rid, b.rid), {idx} FROM bkeys a JOIN bkeys b "
                    f"ON a.k = b.k2 AND a.rid <> b.rid {silo_filter}")
        else:
            join = f"SELECT a.rid, b.rid, {idx} FROM bkeys a JOIN bkeys b ON a.k = b.k AND a.rid < b.rid {silo_filter}"
        added = con.execute(f"INSERT INTO cand {join}").fetchall()[0][0]  # an INSERT returns its row count
        stats.append({"rule": name, "pairs": added, "skipped_blocks": len(big),
                      "skipped_records": sum(n for _, n in big), "largest_skipped": big[0][1] if big else 0})
    left, right, rule = _distinct_pairs(con.sql("SELECT l, r, rule FROM cand").to_arrow_table(), len(features), len(rules))
    con.execute("DROP TABLE IF EXISTS cand; DROP TABLE IF EXISTS bkeys; DROP TABLE IF EXISTS bigkeys")
    con.unregister("feats")
    if own:
        con.close()
    return BlockingResult(left=left, right=right, rule=rule, rule_names=list(rules), stats=pd.DataFrame(stats),
                          warnings=warnings)


def _distinct_pairs(cand: pa.Table, n: int, rules: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each pair once, in (left, right) order, with the first rule that produced it: pair and rule
    packed into one integer and sorted (a few times faster at 32M rows than DuckDB's GROUP BY and
    ORDER BY, or a sort of several keys)."""
    left, right = cand.column("l").to_numpy(), cand.column("r").to_numpy()
    rule = cand.column("rule").to_numpy().astype(np.int64)
    bits = max(int(rules - 1).bit_length(), 1)
    if n and (n * n) << bits >= 1 << 63:  # hundreds of millions of records: sort by two keys instead
        order = np.lexsort((rule, left * np.int64(n) + right))
        packed = ((left * np.int64(n) + right)[order] << bits) | rule[order]
    else:
        packed = np.sort(((left * np.int64(n) + right) << bits) | rule)
    pair = packed >> bits
    first = np.ones(len(pair), dtype=bool)
    first[1:] = pair[1:] != pair[:-1]
    pair = pair[first]
    return pair // n, pair % n, (packed[first] & ((1 << bits) - 1)).astype(np.int8)

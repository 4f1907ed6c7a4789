"""Splink 5 (DuckDB backend) on a standardised staging Parquet: benchmark comparison only.

Run with the separate Splink venv, never the hub's (Splink is not a hub dependency):
    /work/splinkvenv/bin/python benchmarks/splink_runner.py STAGED.parquet OUT.parquet [--config tuned]
        [--timings T.json] [--model-out M.json]
Writes OUT with silo, source_record_id, cluster_id (one row per input record) and, with --timings,
the seconds of each Splink stage as JSON. splink_compare.py starts this as a child process.

Two configurations (--config):
- baseline (the default): stock comparisons, each field on its own, clustered at 0.7. Households
  (one address, one landline, one family name) score as one person and chain into large clusters:
  pairwise F1 0.38 at 100k people.
- tuned: what a Splink user arrives at tuning on the 100k input (seed 7) with Splink's public API
  only: a few derived columns, the names compared jointly, address and phone compared as one
  comparison with term-frequency adjustments, a canonical email whose u is fixed, clustered at 0.7.
  Pairwise F1 0.931 at 100k people. Each choice is commented below with the figure it changed at 100k.
"""
from __future__ import annotations

import argparse
import json
import time
from typing import Callable

import duckdb
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

CONFIGS = ("baseline", "tuned")
THRESHOLD = 0.7  # the hub's default until its ninth session (now 0.5); kept: Splink chains more the lower it goes
U_PAIRS = 1_000_000  # random pairs for u: the same number the hub samples (ResolverConfig.u_sample_pairs)
# the prediction blocking rules of both configurations (the baseline adds birth date)
BLOCKING = [("email",), ("phone",), ("given_name", "family_name"), ("family_name", "postcode"), ("given_name", "postcode")]
COLUMNS = ["silo", "source_record_id", "given_name", "family_name", "email", "phone", "birth_date",
           "postcode", "city", "address_line"]


def load(con: duckdb.DuckDBPyConnection, staged: str) -> None:
    """One input table keyed by silo|source_record_id (Splink wants a single unique id column)."""
    cols = ", ".join(COLUMNS)
    con.execute(f"""
        CREATE TABLE records AS
        SELECT silo || '|' || source_record_id AS unique_id, {cols}
        FROM read_parquet(?)
        WHERE NOT coalesce(is_deleted, false)
    """, [staged]).fetchall()


def settings() -> SettingsCreator:
    """Blocking on email, phone, names (+ postcode) and birth date; Splink's stock comparisons."""
    return SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[*(block_on(*rule) for rule in BLOCKING), block_on("birth_date")],
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("family_name").configure(term_frequency_adjustments=True),
            cl.EmailComparison("email"),
            cl.LevenshteinAtThresholds("phone", 1),
            cl.DateOfBirthComparison("birth_date", input_is_string=False),
            location(),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def location() -> cl.CustomComparison:
    """Address, postcode and city as ONE comparison: a shared address implies the same postcode and
    city, so three independent comparisons would count the same evidence three times (and merge
    household members, who share an address). US ZIP codes: Splink's PostcodeComparison parses UK
    postcodes, so postcode and city are exact-match levels."""
    return cl.CustomComparison(
        output_column_name="location",
        comparison_levels=[
            cll.And(cll.NullLevel("address_line"), cll.NullLevel("postcode"), cll.NullLevel("city")),
            cll.ExactMatchLevel("address_line"),
            cll.JaroWinklerLevel("address_line", 0.9),
            cll.ExactMatchLevel("postcode"),
            cll.ExactMatchLevel("city"),
            cll.ElseLevel(),
        ],
    )


# ---------------------------------------------------------------------------------------- tuned
# Every figure below: pairwise F1 at 100k people (143,689 records, seed 7) of this configuration with
# that one choice changed, clustered at 0.7 unless said otherwise. This configuration: 0.9311.

# F1 by threshold: 0.5: 0.918, 0.7: 0.9311, 0.8: 0.9311, 0.85: 0.9313, 0.9: 0.9320, 0.95: 0.920,
# 0.99: 0.879. Over five seeds of the u sample, 0.7 gave 0.9311-0.9312 and 0.9 0.9228-0.9320: 0.7,
# the middle of the flat stretch (the baseline's threshold too)
TUNED_THRESHOLD = 0.7
EMAIL_U = 1e-8  # fixed u of an exact (canonical) email: see tuned_email()


def load_tuned(con: duckdb.DuckDBPyConnection, staged: str) -> None:
    """The input table with derived columns (Splink's feature engineering happens before Splink):
    - email: the canonical address, without '+tag' and, at Gmail, without the dots Gmail ignores
      ('stevenw42+amazon@gmail.com' is 'stevenw42@gmail.com'): the raw address instead, 0.9218;
    - email_letters: the user name's letters ('jonathan.anderson2' -> 'jonathananderson');
    - family_key: the family name as it appears in a user name ('López' -> 'lopez').
    The last two feed one name level (tuned_names)."""
    con.execute("""
        CREATE TABLE records AS
        WITH base AS (
            SELECT silo || '|' || source_record_id AS unique_id, given_name, family_name, phone,
                   postcode, city, address_line, split_part(email, '@', 2) AS email_domain,
                   nullif(regexp_replace(split_part(email, '@', 1), '[+].*$', ''), '') AS email_user
            FROM read_parquet(?)
            WHERE NOT coalesce(is_deleted, false)
        )
        SELECT unique_id, given_name, family_name, phone, postcode, city, address_line,
               CASE WHEN email_domain IN ('gmail.com', 'googlemail.com') THEN replace(email_user, '.', '')
                    ELSE email_user END || '@' || email_domain AS email,
               nullif(regexp_replace(email_user, '[^a-z]', '', 'g'), '') AS email_letters,
               nullif(regexp_replace(lower(strip_accents(family_name)), '[^a-z]', '', 'g'), '') AS family_key
        FROM base
    """, [staged]).fetchall()


def tuned_settings() -> SettingsCreator:
    """Three comparisons (names, email, contact); the baseline's blocking rules without birth date.
    Blocking: five rules, 203,608 comparisons at 100k, 91.8% of the true pairs among them. Eleven
    rules (national id, address, user-name letters, swapped names, name prefixes...) reach 94.4%
    with 443,653 comparisons and F1 0.9322: Splink scores most of the extra true pairs below any
    useful threshold. The baseline's birth-date rule adds 6,293 comparisons: F1 0.9312 with it and a
    DateOfBirthComparison (only the credit silo has birth dates); national id and company as
    comparisons (credit only as well): 0.9313. Kept out: more time for no gain."""
    return SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[block_on(*rule) for rule in BLOCKING],
        comparisons=[tuned_names(), tuned_email(), tuned_contact()],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def given_compatible() -> cll.CustomLevel:
    """One given name is an initial or a prefix (3+ letters) of the other: 'E' / 'Elizabeth', 'Matt' / 'Matthew'."""
    return cll.CustomLevel(
        "(length(given_name_l) = 1 OR length(given_name_r) = 1) AND left(given_name_l, 1) = left(given_name_r, 1) "
        "OR (least(length(given_name_l), length(given_name_r)) >= 3 "
        "AND (starts_with(given_name_l, given_name_r) OR starts_with(given_name_r, given_name_l)))",
        label_for_charts="given initial or prefix")


def family_missing() -> cll.CustomLevel:
    return cll.CustomLevel("family_name_l IS NULL OR family_name_r IS NULL", label_for_charts="a family name missing")


def family_in_email() -> cll.CustomLevel:
    """A record without a family name (the marketing silo has none) whose email user name holds the
    other record's family name ('Jennifer' with jennifer.lopez@ against 'Jennifer López')."""
    return cll.CustomLevel(
        "(family_name_l IS NULL AND contains(email_letters_l, family_key_r)) "
        "OR (family_name_r IS NULL AND contains(email_letters_r, family_key_l))",
        label_for_charts="family name in the other's email")


def tuned_names() -> cl.CustomComparison:
    """Given and family name as ONE comparison. With two independent comparisons (or Splink's
    ForenameSurnameComparison) a shared family name counts for the pair whatever the given names,
    and a household's shared address and phone then outweigh two different given names: F1 0.888
    (two NameComparisons, at 0.9) and 0.885 (ForenameSurnameComparison, at 0.95), each at its best
    threshold. Its levels put 'family exact, given differs' (a household) apart from the given-name
    variants of one person (initial, prefix, typo). Without the level 'family in email' F1 0.894. No
    term-frequency adjustment: with one on the full name F1 0.9311 too and EM 70% slower."""
    g, f = "given_name", "family_name"
    similar_given = cll.Or(cll.JaroWinklerLevel(g, 0.8), given_compatible())
    levels = [  # (level, its label); the first level a pair meets is its level
        (cll.And(cll.ExactMatchLevel(g), cll.ExactMatchLevel(f)), "given and family exact"),
        (cll.ColumnsReversedLevel(g, f, symmetrical=True), None),
        (cll.And(cll.JaroWinklerLevel(g, 0.92), cll.JaroWinklerLevel(f, 0.92)), "both JW >= 0.92"),
        (cll.And(cll.JaroWinklerLevel(f, 0.92), given_compatible()), "family, given initial/prefix"),
        (cll.And(cll.JaroWinklerLevel(g, 0.8), cll.JaroWinklerLevel(f, 0.8)), "both JW >= 0.8"),
        (cll.And(family_in_email(), similar_given), "family in email, given similar"),
        (cll.And(family_missing(), cll.ExactMatchLevel(g)), "family missing, given exact"),
        (cll.And(family_missing(), similar_given), "family missing, given similar"),
        (cll.ExactMatchLevel(g), "given exact, family differs"),
        (cll.ExactMatchLevel(f), "family exact, given differs"),
    ]
    return cl.CustomComparison(output_column_name="name", comparison_levels=[
        cll.And(cll.NullLevel(g), cll.NullLevel(f)),
        *(level.configure(label_for_charts=label) if label else level for level, label in levels),
        cll.ElseLevel(),
    ])


def tuned_email() -> cl.CustomComparison:
    """Exact canonical email or not. Splink's EmailComparison instead: F1 0.786 (at 0.99). Its
    Jaro-Winkler and user-name levels score namesakes ('michael.smith@' at two domains) as one
    person, and its term-frequency adjustment lowers the weight of an address that recurs in one
    person's own records.
    u is fixed: random sampling estimates it from the few same-email pairs among 1M random pairs,
    and with one pair in 200,000 a match those are true matches (u came out 1.84e-6, of the order
    of m x prior). An exact email then barely outweighs the prior, and true pairs with an exact
    email and no comparable name (hundreds of them) stay below the threshold. Estimated u: F1 0.9236;
    fixed at 1e-7 0.9286, at 1e-8 (two people sharing a mailbox in 1e8 pairs) 0.9311, 1e-9 0.9315."""
    return cl.CustomComparison(output_column_name="email", comparison_levels=[
        cll.NullLevel("email"),
        cll.ExactMatchLevel("email").configure(u_probability=EMAIL_U, fix_u_probability=True),
        cll.ElseLevel(),
    ])


def tuned_contact() -> cl.CustomComparison:
    """Address, phone, postcode and city as ONE comparison (the baseline's location() with the phone
    in it): a household shares address and landline, and two comparisons count that one fact twice.
    Phone and location() apart: F1 0.773 (at its best threshold, 0.9).
    Term-frequency adjustments on the exact address and phone: the weight of a shared value then
    comes from how many records hold it (a household's address, held by several people's records,
    weighs less) instead of from the few of 1M random pairs that share an address or phone (u from
    1 to 6 pairs). Without them F1 0.9312 at 0.9 but 0.807 at 0.8 (households score about 0.81),
    and at 0.9 it varied from 0.877 to 0.931 over five seeds of the u sample."""
    return cl.CustomComparison(output_column_name="contact", comparison_levels=[
        cll.And(*(cll.NullLevel(c) for c in ("address_line", "postcode", "city", "phone"))),
        cll.And(cll.ExactMatchLevel("address_line"), cll.ExactMatchLevel("phone")).configure(
            label_for_charts="address and phone exact", tf_adjustment_column="address_line"),
        cll.ExactMatchLevel("address_line").configure(tf_adjustment_column="address_line"),
        cll.ExactMatchLevel("phone").configure(tf_adjustment_column="phone"),
        cll.JaroWinklerLevel("address_line", 0.9),
        cll.ExactMatchLevel("postcode"),
        cll.ExactMatchLevel("city"),
        cll.ElseLevel(),
    ])


def train(linker: Linker, timings_lap: Callable[[str], None]) -> None:
    """Prior from a deterministic rule, u from random pairs, m from two EM sessions. Both configs
    (the tuned one's email column is the canonical address). Tried for the tuned config: an EM
    session blocked on phone as well teaches the model that households are matches (F1 0.727; 0.919
    at 0.95); 1e7 pairs for u instead of 1e6: F1 0.9311, 4 s slower at 100k."""
    linker.training.estimate_probability_two_random_records_match(
        [block_on("email")], recall=0.5)  # phone is shared by households: not deterministic
    linker.training.estimate_u_using_random_sampling(max_pairs=U_PAIRS, seed=1)
    timings_lap("train_u")
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("given_name", "family_name"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("email"))
    timings_lap("train_m_em")


# config name -> (load the input table, settings, clustering threshold)
PIPELINES = {
    "baseline": (load, settings, THRESHOLD),
    "tuned": (load_tuned, tuned_settings, TUNED_THRESHOLD),
}


def run(staged: str, out: str, model_out: str | None = None, config: str = "baseline") -> dict[str, float]:
    """Read, train, predict, cluster and write with one configuration; returns each stage's seconds."""
    timings: dict[str, float] = {}

    def lap(name: str, start: float) -> float:
        timings[name] = round(time.perf_counter() - start, 2)
        print(f"splink {name}: {timings[name]:.1f}s", flush=True)
        return time.perf_counter()

    load_input, make_settings, threshold = PIPELINES[config]
    t = time.perf_counter()
    con = duckdb.connect()
    load_input(con, staged)
    db_api = DuckDBAPI(connection=con)
    linker = Linker(db_api.register("records"), make_settings(), log_level=None)
    t = lap("read", t)

    def train_lap(name: str) -> None:
        nonlocal t
        t = lap(name, t)

    train(linker, train_lap)
    if model_out:
        linker.misc.save_model_to_json(model_out, overwrite=True)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    t = lap("predict", t)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
    t = lap("cluster", t)
    con.execute(f"""
        COPY (
            SELECT split_part(unique_id, '|', 1) AS silo,
                   substr(unique_id, length(split_part(unique_id, '|', 1)) + 2) AS source_record_id,
                   cluster_id
            FROM {clusters.physical_name}
        ) TO '{out}' (FORMAT parquet)
    """).fetchall()
    lap("write", t)
    return timings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("staged", help="standardised staging Parquet (identity_resolution.standardise_records)")
    ap.add_argument("out", help="output Parquet: silo, source_record_id, cluster_id")
    ap.add_argument("--timings", help="write the stage timings here as JSON")
    ap.add_argument("--model-out", help="write the trained Splink model here as JSON")
    ap.add_argument("--config", choices=CONFIGS, default="baseline",
                    help="baseline: stock comparisons (the default); tuned: the configuration tuned at 100k people")
    args = ap.parse_args()
    timings = run(args.staged, args.out, args.model_out, args.config)
    if args.timings:
        with open(args.timings, "w") as f:
            json.dump(timings, f)


if __name__ == "__main__":
    main()

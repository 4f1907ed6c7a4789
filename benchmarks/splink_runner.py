"""Splink 5 (DuckDB backend) on a standardised staging Parquet: benchmark comparison only.

Run with the separate Splink venv, never the hub's (Splink is not a hub dependency):
    /work/splinkvenv/bin/python benchmarks/splink_runner.py STAGED.parquet OUT.parquet [--timings T.json]
Writes OUT with silo, source_record_id, cluster_id (one row per input record) and, with --timings,
the seconds of each Splink stage as JSON. splink_compare.py starts this as a child process.
"""
from __future__ import annotations

import argparse
import json
import time

import duckdb
import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

THRESHOLD = 0.7  # the hub's default until its ninth session (now 0.5); kept: Splink chains more the lower it goes
U_PAIRS = 1_000_000  # random pairs for u: the same number the hub samples (ResolverConfig.u_sample_pairs)
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
        blocking_rules_to_generate_predictions=[
            block_on("email"),
            block_on("phone"),
            block_on("given_name", "family_name"),
            block_on("family_name", "postcode"),
            block_on("given_name", "postcode"),
            block_on("birth_date"),
        ],
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


def run(staged: str, out: str, model_out: str | None = None) -> dict[str, float]:
    timings: dict[str, float] = {}

    def lap(name: str, start: float) -> float:
        timings[name] = round(time.perf_counter() - start, 2)
        print(f"splink {name}: {timings[name]:.1f}s", flush=True)
        return time.perf_counter()

    t = time.perf_counter()
    con = duckdb.connect()
    load(con, staged)
    db_api = DuckDBAPI(connection=con)
    linker = Linker(db_api.register("records"), settings(), log_level=None)
    t = lap("read", t)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("email")], recall=0.5)  # phone is shared by households: not deterministic
    linker.training.estimate_u_using_random_sampling(max_pairs=U_PAIRS, seed=1)
    t = lap("train_u", t)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("given_name", "family_name"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("email"))
    t = lap("train_m_em", t)
    if model_out:
        linker.misc.save_model_to_json(model_out, overwrite=True)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    t = lap("predict", t)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, THRESHOLD)
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
    args = ap.parse_args()
    timings = run(args.staged, args.out, args.model_out)
    if args.timings:
        with open(args.timings, "w") as f:
            json.dump(timings, f)


if __name__ == "__main__":
    main()

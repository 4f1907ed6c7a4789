"""The demo generator writes five readable silos and a truth file that covers every record."""
from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from hub.demo.generator import DemoManifest, generate_canonical, generate_demo

N_PEOPLE = 600

EXPECTED_COLUMNS = {
    "accounting": ["account_no", "customer_name", "billing_address", "phone", "balance", "updated_at"],
    "sales": ["customer_id", "first_name", "last_name", "email", "phone", "ship_street", "ship_city",
              "ship_state", "ship_zip", "total_purchases", "lifetime_value", "last_purchase_date", "updated_at"],
    "credit": ["application_id", "applicant_name", "dob", "ssn", "credit_limit", "payment_terms", "updated_at",
               "home_address", "phone", "email", "employer"],
    "support": ["id", "name", "email", "phone", "open_tickets", "updated_at"],
    "marketing": ["subscriber_id", "email", "first_name", "postcode", "subscribed", "signup_date"],
}
ID_COLUMN = {"accounting": "account_no", "sales": "customer_id", "credit": "application_id", "support": "id",
             "marketing": "subscriber_id"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> DemoManifest:
    return generate_demo(tmp_path_factory.mktemp("demo"), n_people=N_PEOPLE, seed=11)


def read_silo(manifest: DemoManifest, silo: str) -> pd.DataFrame:
    out = manifest.out_dir
    if silo == "accounting":
        with sqlite3.connect(out / "accounting.sqlite") as con:
            return pd.read_sql_query("SELECT * FROM ledger_customers", con)
    if silo == "sales":
        files = sorted((out / "sales").glob("customers_*.csv"))
        return pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in files], ignore_index=True)
    if silo == "credit":
        return pq.read_table(out / "credit" / "applications.parquet").to_pandas()
    if silo == "support":
        return pd.DataFrame(json.loads((out / "support" / "requesters.json").read_text(encoding="utf-8")))
    return pd.read_csv(out / "marketing" / "subscribers.csv", dtype=str, keep_default_na=False)


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path):
    a = generate_demo(tmp_path / "a", n_people=300, seed=5)
    b = generate_demo(tmp_path / "b", n_people=300, seed=5)
    c = generate_demo(tmp_path / "c", n_people=300, seed=6)
    assert digest(a.out_dir) == digest(b.out_dir)
    assert len(digest(a.out_dir)) >= 6
    assert digest(a.out_dir) != digest(c.out_dir)


def test_regenerating_into_the_same_folder_replaces_old_files(tmp_path):
    generate_demo(tmp_path, n_people=400, seed=1)
    manifest = generate_demo(tmp_path, n_people=50, seed=2)
    truth = pd.read_csv(tmp_path / "truth.csv")
    assert len(truth) == manifest.total_records
    sales_rows = sum(len(pd.read_csv(f)) for f in (tmp_path / "sales").glob("customers_*.csv"))
    assert sales_rows == manifest.row_counts["sales"]


@pytest.mark.parametrize("silo", list(EXPECTED_COLUMNS))
def test_every_silo_is_readable_with_its_columns(demo, silo):
    table = read_silo(demo, silo)
    assert list(table.columns) == EXPECTED_COLUMNS[silo]
    assert len(table) == demo.row_counts[silo] > 0
    assert table[ID_COLUMN[silo]].astype(str).is_unique


def test_truth_covers_every_record_exactly_once(demo):
    truth = pd.read_csv(demo.truth_path, dtype=str)
    assert list(truth.columns) == ["silo", "source_record_id", "person_id"]
    assert not truth.duplicated(["silo", "source_record_id"]).any()
    assert truth["person_id"].notna().all()
    for silo in EXPECTED_COLUMNS:
        ids = set(read_silo(demo, silo)[ID_COLUMN[silo]].astype(str))
        assert ids == set(truth.loc[truth["silo"] == silo, "source_record_id"])
    people = truth["person_id"].nunique()
    assert 0.9 * N_PEOPLE <= people <= N_PEOPLE


def test_silo_formats_match_the_contract(demo):
    accounting = read_silo(demo, "accounting")
    names = accounting["customer_name"].dropna()
    assert names.str.contains(", ").mean() > 0.95  # "LAST, First"
    one_line = accounting["billing_address"].dropna()
    assert one_line.str.match(r"^.+, .+, [A-Za-z]{2} \d{5}(-\d{4})?$").mean() > 0.97
    credit = read_silo(demo, "credit")
    ssn = credit["ssn"].dropna()
    assert ssn.str.fullmatch(r"\d{3}-\d{2}-\d{4}|XXX-XX-\d{4}").all()
    assert ssn.str.startswith("XXX").any() and not ssn.str.startswith("XXX").all()
    dob = credit["dob"].dropna()
    assert dob.str.fullmatch(r"\d{4}-\d{2}-\d{2}").any() and dob.str.fullmatch(r"\d{2}/\d{2}/\d{4}").any()
    assert dob.str.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d{4}").any() and dob.str.fullmatch(r"\d{8}").any()
    marketing = read_silo(demo, "marketing")
    assert set(marketing["subscribed"]) == {"true", "false"}
    support = read_silo(demo, "support")
    assert pd.to_datetime(support["updated_at"], utc=True).notna().all()


def test_canonical_records_have_the_contract_columns_and_truth(tmp_path):
    records, truth = generate_canonical(2000, seed=3)
    for col in ["silo", "source_record_id", "given_name", "family_name", "full_name", "email", "phone",
                "address_line", "city", "region", "postcode", "country", "birth_date", "national_id", "company"]:
        assert col in records.columns
    assert len(records) == len(truth)
    assert (records[["silo", "source_record_id"]].to_numpy() == truth[["silo", "source_record_id"]].to_numpy()).all()
    assert set(records["silo"]) == {"accounting", "sales", "credit", "support", "marketing"}
    assert not truth.duplicated(["silo", "source_record_id"]).any()
    # Raw forms as the silos have them.
    acc = records[records["silo"] == "accounting"]
    assert acc["full_name"].dropna().str.contains(", ").mean() > 0.95
    assert acc["given_name"].isna().all()
    credit = records[records["silo"] == "credit"]
    assert credit["national_id"].dropna().str.startswith("XXX-XX-").any()


def test_canonical_matches_the_written_demo(tmp_path):
    manifest = generate_demo(tmp_path, n_people=300, seed=9)
    records, truth = generate_canonical(300, seed=9)
    written = pd.read_csv(manifest.truth_path, dtype=str)
    assert sorted(map(tuple, written.to_numpy())) == sorted(map(tuple, truth.astype(str).to_numpy()))
    acc = read_silo(manifest, "accounting").set_index("account_no")
    canon = records[records["silo"] == "accounting"].set_index("source_record_id")
    assert (acc["customer_name"].fillna("") == canon.loc[acc.index, "full_name"].fillna("")).all()


def test_people_appear_across_silos_and_twice_in_one(tmp_path):
    _, truth = generate_canonical(3000, seed=7)
    silos_per_person = truth.groupby("person_id")["silo"].nunique()
    assert (silos_per_person >= 2).mean() > 0.2       # cross-silo duplicates to resolve
    assert (silos_per_person == 1).mean() > 0.3       # and people only one silo knows
    twice_in_a_silo = truth.groupby(["person_id", "silo"]).size()
    assert (twice_in_a_silo >= 2).sum() > 20          # duplicate accounts inside one silo
    records_per_person = len(truth) / truth["person_id"].nunique()
    assert 1.1 < records_per_person < 1.8


def test_noise_is_present_but_most_records_are_clean(tmp_path):
    records, truth = generate_canonical(3000, seed=7)
    df = records.assign(person_id=truth["person_id"].to_numpy())
    sales = df[df["silo"] == "sales"]
    # Households: different people at one address sharing the family name.
    per_address = sales.dropna(subset=["address_line"]).groupby(["address_line", "family_name"])["person_id"].nunique()
    assert (per_address >= 2).any()
    phones = records["phone"].dropna()
    assert phones.str.fullmatch(r"\(\d{3}\) \d{3}-\d{4}").any() and phones.str.fullmatch(r"\d{10}").any()
    assert phones.str.startswith("+1").any()
    assert records["email"].isin(["test@test.com", "n/a", "none@none.com", "noemail@noemail.com", "x@x.com",
                                  "unknown"]).mean() < 0.02
    # The same person's sales email is usually the same mailbox in marketing (clean-ish data).
    emails = df.dropna(subset=["email"]).assign(email=lambda d: d["email"].str.lower())
    both = emails[emails["silo"].isin(["sales", "marketing"])]
    same = both.groupby("person_id")["email"].nunique()
    multi = both.groupby("person_id")["silo"].nunique() == 2
    assert (same[multi] == 1).mean() > 0.6


@pytest.mark.parametrize("n", [1, 2, 5])
def test_tiny_populations_still_generate(tmp_path, n):
    manifest = generate_demo(tmp_path, n_people=n, seed=4)
    assert manifest.total_records >= n
    assert len(pd.read_csv(manifest.truth_path)) == manifest.total_records


def test_rejects_an_empty_population(tmp_path):
    with pytest.raises(ValueError, match="n_people"):
        generate_demo(tmp_path, n_people=0)


def test_output_does_not_depend_on_the_process_hash_seed(tmp_path):
    import subprocess
    import sys

    code = ("import sys; from pathlib import Path; from hub.demo.generator import generate_demo; "
            "generate_demo(Path(sys.argv[1]), n_people=200, seed=8)")
    for name, hash_seed in (("a", "1"), ("b", "2")):
        env = {**__import__("os").environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", code, str(tmp_path / name)], check=True, env=env)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")

"""Which silos hold which person, and the true values as each record saw them.

A person is in a random subset of silos (everyone in at least one) and sometimes twice in one
silo (a second account). A record last updated before the person's move or marriage carries
the previous address, phone and family name.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

SILOS = ("accounting", "sales", "credit", "support", "marketing")
# Share of the population each department knows, and how often it holds a second account.
SILO_REACH = {"accounting": 0.22, "sales": 0.35, "credit": 0.12, "support": 0.18, "marketing": 0.22}
SILO_DUPLICATES = {"accounting": 0.02, "sales": 0.05, "credit": 0.04, "support": 0.05, "marketing": 0.04}
UPDATED_FROM = np.datetime64("2018-01-01T00:00:00")
UPDATED_TO = np.datetime64("2026-10-31T00:00:00")

OLD_EMAIL_BEFORE = np.datetime64("2021-06-01T00:00:00")
ADDRESS_FIELDS = ("house_no", "street_dir", "street_name", "street_suffix", "unit", "place_idx", "zip")


def memberships(n_people: int, rng: np.random.Generator) -> pd.DataFrame:
    """One row per (person row, silo) record, duplicates included, grouped by silo in random order."""
    reach = np.array([SILO_REACH[s] for s in SILOS])
    member = rng.random((n_people, len(SILOS))) < reach
    nowhere = ~member.any(axis=1)
    member[nowhere, rng.choice(len(SILOS), size=int(nowhere.sum()), p=reach / reach.sum())] = True
    person, silo = np.nonzero(member)
    dup_p = np.array([SILO_DUPLICATES[s] for s in SILOS])[silo]
    dup = rng.random(len(person)) < dup_p
    second = np.concatenate([np.zeros(len(person), dtype=bool), np.ones(int(dup.sum()), dtype=bool)])
    person = np.concatenate([person, person[dup]])
    silo = np.concatenate([silo, silo[dup]])
    order = np.lexsort((rng.random(len(person)), silo))
    return pd.DataFrame({"pi": person[order], "silo_idx": silo[order], "second_account": second[order]})


def true_values(people: pd.DataFrame, members: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The values each record would hold without noise, history applied."""
    pi = members["pi"].to_numpy()
    n = len(pi)
    span = int((UPDATED_TO - UPDATED_FROM).astype(int))
    updated = UPDATED_FROM + rng.integers(0, span, n).astype("timedelta64[s]")
    change = people["change_date"].to_numpy()[pi]
    old = ~np.isnat(change) & (updated.astype("datetime64[D]") < change)

    rec = pd.DataFrame({"pi": pi, "silo_idx": members["silo_idx"].to_numpy(),
                        "silo": np.array(SILOS, dtype=object)[members["silo_idx"].to_numpy()],
                        "person_id": people["person_id"].to_numpy()[pi], "updated_at": updated, "old": old})
    for col in ("sex", "given", "middle", "suffix", "birth_date", "ssn", "email", "email_alt", "employer"):
        rec[col] = people[col].to_numpy()[pi]
    # Older records still carry the address the person used back then.
    email_old = people["email_old"].to_numpy()[pi]
    second = members["second_account"].to_numpy()
    rec["second_account"] = second
    # A second account is usually opened because the first one's login was forgotten: other email.
    p_old = np.where(second, 0.5, np.where(updated < OLD_EMAIL_BEFORE, 0.6, 0.1))
    use_old = pd.notna(email_old) & (rng.random(n) < p_old)
    rec["email"] = np.where(use_old, email_old, rec["email"].to_numpy())
    rec["family"] = _history(people, "family", "family_prev", pi, old)
    rec["phone"] = _history(people, "phone", "phone_prev", pi, old)
    moved = old & pd.notna(people["house_no_prev"].to_numpy()[pi])
    for col in ADDRESS_FIELDS:
        rec[col] = np.where(moved, people[f"{col}_prev"].to_numpy()[pi], people[col].to_numpy()[pi])
    return rec


def _history(people: pd.DataFrame, col: str, prev_col: str, pi: np.ndarray, old: np.ndarray) -> np.ndarray:
    prev = people[prev_col].to_numpy()[pi]
    known = prev > 0 if prev.dtype.kind in "iu" else pd.notna(prev)  # integer columns use 0 for none
    return np.where(old & known, prev, people[col].to_numpy()[pi])

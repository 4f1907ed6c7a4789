"""Why two records match: each field's comparison level and Bayes-factor contribution, in bits."""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from identity_resolution.comparison import MISSING, compare
from identity_resolution.features import as_objects, build_features
from identity_resolution.scoring import FellegiSunterModel, given_name_counts, pair_tf_bits, probability
from identity_resolution.standardise import STAGING_COLUMNS

# Which feature columns to show as "the values compared" for each field.
_SHOWN = {
    "given_name": "given", "family_name": "family", "birth_date": "dob", "national_id": "nid_last4",
    "email": "email_key", "phone": "phone", "address": "addr", "postcode": "postcode", "city": "city",
    "family_in_email": "email_user", "company": "company_key", "area": "area",
    "generation": "generation", "email_birth_year": "email_year",
}


def explain_pair(model: FellegiSunterModel, record_l: Mapping, record_r: Mapping) -> pd.DataFrame:
    """One row per field, a first 'prior' row and, when the household cap applied, a last
    'household_guard' row (see scoring.FellegiSunterModel): value_l, value_r, level, label, bf (log2 Bayes
    factor incl. term-frequency adjustment) and the running total `cumulative`. The last
    `cumulative` equals the pair's match_weight; `match_probability` is repeated on every row.

    The prior is that of the records' two silos where the model settled one (the silos are its
    values), else the model's overall prior.
    Records are staging records (mappings with the staging columns; missing keys count as empty).
    Term-frequency adjustments use the tables stored on the model by the last resolve().
    """
    frame = pd.DataFrame([{c: rec.get(c) for c in STAGING_COLUMNS} for rec in (record_l, record_r)])
    frame["national_id_is_partial"] = frame["national_id_is_partial"].astype("boolean").fillna(False).astype(bool)
    feats = build_features(frame)
    left, right = np.array([0]), np.array([1])
    gammas = compare(feats, left, right, given_name_counts(model.tf_tables))
    tf_bits = pair_tf_bits(model, feats, left, right, gammas) if model.tf_tables else None
    prior = float(np.asarray(model.pair_prior_bits(as_objects(feats["silo"]), left, right)).ravel()[0])
    bits = model.field_bits(gammas, tf_bits, prior)
    rows = [{"field": "prior", "value_l": feats["silo"].iloc[0], "value_r": feats["silo"].iloc[1], "level": None,
             "label": "prior of the two silos" if model.silo_pair_priors else None, "bf": prior}]
    for spec in model.fields:
        level = int(gammas[f"gamma_{spec.name}"].iloc[0])
        value_l, value_r = (_shown_value(feats, spec.name, i, level) for i in (0, 1))
        rows.append({
            "field": spec.name,
            "value_l": value_l,
            "value_r": value_r,
            "level": level,
            "label": "missing" if level == MISSING else spec.levels[level],
            "bf": float(bits[f"bf_{spec.name}"].iloc[0]),
        })
    guard = float(bits["bf_household_guard"].iloc[0])
    if guard != 0.0:
        rows.append({"field": "household_guard", "value_l": None, "value_r": None, "level": None,
                     "label": "given names or birth dates differ, no personal identifier agrees", "bf": guard})
    out = pd.DataFrame(rows)
    out["cumulative"] = out["bf"].cumsum()
    out["match_probability"] = float(probability(out["cumulative"].iloc[-1]))
    return out


def _shown_value(feats: pd.DataFrame, field: str, i: int, level: int) -> object:
    """The value compared; a given name read from the email of a record without one shows that email."""
    value = feats[_SHOWN[field]].iloc[i]
    if field == "given_name" and level != MISSING and pd.isna(value) and pd.notna(feats["email_user"].iloc[i]):
        return f"(email) {feats['email_user'].iloc[i]}"
    return value

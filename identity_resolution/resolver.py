"""resolve(): staging records -> clusters, chaining features, blocking, comparison, scoring, clustering."""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from identity_resolution.blocking import block
from identity_resolution.clustering import closure_pairs, cluster, customer_ids
from identity_resolution.comparison import FIELDS, RecordCodes, compare
from identity_resolution.config import ResolverConfig
from identity_resolution.features import as_objects, build_features, random_pairs
from identity_resolution.labels import LabelledPairs, check_labels, fit_m_with_labels, locate
from identity_resolution.scoring import (
    FellegiSunterModel,
    email_years_trusted,
    estimate_u,
    given_name_counts,
    u_city_given_postcode,
    u_for_small_samples,
    u_of_rare_agreements,
    u_without_matches,
    pair_tf_bits,
    prior_from_posteriors,
    probability,
    silo_pair_priors,
    term_frequency_tables,
    train_em,
)

log = logging.getLogger(__name__)
Progress = Callable[[str, float], None]
RESOLVER_COLUMNS = [
    "silo", "source_record_id", "given_name", "family_name", "email", "phone", "national_id_hash",
    "national_id_last4", "national_id_is_partial", "birth_date", "address_line", "postcode", "city", "region",
    "country", "company", "name_raw",
]
CONSTRAINT_COLUMNS = ["silo_l", "source_record_id_l", "silo_r", "source_record_id_r", "decision"]


@dataclass
class Resolution:
    xref: pd.DataFrame  # silo, source_record_id, customer_id, match_probability (one row per record)
    pairs: pd.DataFrame  # scored candidate pairs with gamma_/bf_ columns (probability >= pairs_min_probability)
    model: FellegiSunterModel
    timings: dict[str, float] = field(default_factory=dict)
    review: pd.DataFrame = field(default_factory=pd.DataFrame)  # pairs for a human: review band + refused merges
    blocking_stats: pd.DataFrame = field(default_factory=pd.DataFrame)
    warnings: list[str] = field(default_factory=list)
    features: pd.DataFrame | None = None  # match features of the live records (xref order), for a FeatureCache
    label_check: dict | None = None  # precision / recall / F1 on labelled pairs (labels.check_labels)
    candidate_pairs: int = 0  # distinct record pairs the blocking rules produced (blocking_stats counts per rule)


class _Stages:
    """Times each stage and reports it to the caller's progress callback."""

    STAGES = ["features", "blocking", "comparison", "training", "scoring", "clustering", "output"]

    def __init__(self, progress: Progress | None):
        self.progress = progress
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        if self.progress:
            self.progress(name, self.STAGES.index(name) / len(self.STAGES))
        start = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - start, 3)
        log.info("stage %s took %.2fs", name, self.timings[name])
        if self.progress:
            self.progress(name, (self.STAGES.index(name) + 1) / len(self.STAGES))


def as_bool(values: pd.Series) -> pd.Series:
    """Booleans from bool columns or text such as 'true'/'False'/'1' (CSV input); missing is False."""
    if values.dtype == bool:
        return values
    text = values.astype("string").str.strip().str.lower()
    return text.isin(["true", "t", "1", "yes", "y", "1.0"]).fillna(False).astype(bool)


def _active(records: pd.DataFrame) -> pd.DataFrame:
    if "is_deleted" in records.columns:
        records = records[~as_bool(records["is_deleted"])]
    missing = [c for c in ("silo", "source_record_id") if c not in records.columns]
    if missing:
        raise ValueError(f"resolve(): records lack column(s) {missing}; every record needs silo and source_record_id")
    # only the columns the resolver reads: a million-record frame is copied once, narrowly
    keep = [c for c in RESOLVER_COLUMNS if c in records.columns]
    out = records[keep].reset_index(drop=True)
    repeated = repeated_keys(out)
    if repeated:
        extra = sum(len(rows) - 1 for rows in repeated.values())
        raise ValueError(f"resolve(): {extra} duplicate (silo, source_record_id) keys, e.g. {next(iter(repeated))!r}")
    return out


def repeated_keys(records: pd.DataFrame) -> dict[str, list[int]]:
    """'silo|source_record_id' -> the row positions holding it, for each key on more than one row."""
    keys = (records["silo"].astype(str) + "|" + records["source_record_id"].astype(str)).to_numpy(dtype=object)
    codes = pd.factorize(keys)[0]
    rows: dict[str, list[int]] = {}
    for i in np.flatnonzero(np.bincount(codes)[codes] > 1).tolist():
        rows.setdefault(keys[i], []).append(i)
    return rows


def add_closure_pairs(model, features, config, n, scored, rule_names, evidence, codes: RecordCodes | None = None):
    """Score the never-compared pairs inside tentative clusters that hold conflicting strong evidence,
    so the clusterer judges every conflicting pair on its own score ("cluster closure").

    `scored` is (left, right, gammas, weight, prob, rule); returns it extended, plus the rule names.
    `evidence`: `strong_evidence(features, model)`, which the clusterer reads too.
    `codes`: the features' RecordCodes, when an earlier comparison of this frame made them."""
    left, right, gammas, weight, prob, rule = scored
    nid4, born, generation = evidence
    extra_l, extra_r = closure_pairs(n, left, right, prob, config.match_threshold, nid4, born, generation=generation)
    if not len(extra_l):
        return left, right, gammas, weight, prob, rule, list(rule_names)
    extra_g = compare(codes or features, extra_l, extra_r, given_name_counts(model.tf_tables))
    extra_w, extra_p = _score(model, features, extra_l, extra_r, extra_g, config)
    rule_names = list(rule_names) + ["cluster_closure"]
    return (np.concatenate([left, extra_l]), np.concatenate([right, extra_r]),
            pd.concat([gammas, extra_g], ignore_index=True),
            np.concatenate([weight, extra_w]), np.concatenate([prob, extra_p]),
            np.concatenate([rule, np.full(len(extra_l), len(rule_names) - 1, dtype=np.int8)]), rule_names)


def strong_evidence(features: pd.DataFrame, model: FellegiSunterModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per record, what the clusterer will not see contradicted inside one cluster: the national id's
    last four digits, the birth date (else the year of birth the email names, where the model trusts
    such years: `email_years_trusted`) and the generational suffix."""
    born = features["dob"].astype(object)
    if email_years_trusted(model.m):
        born = born.where(born.notna(), features["email_year"].astype(object))
    return as_objects(features["nid_last4"]), as_objects(born), as_objects(features["generation"])


def _constraint_positions(records: pd.DataFrame, constraints: pd.DataFrame | None) -> tuple[list, list]:
    """Map review decisions onto record positions; decisions about absent records are ignored (logged)."""
    if constraints is None or constraints.empty:
        return [], []
    missing = [c for c in CONSTRAINT_COLUMNS if c not in constraints.columns]
    if missing:
        raise ValueError(f"constraints lack column(s) {missing}; expected {CONSTRAINT_COLUMNS}")
    bad = set(constraints["decision"].dropna().unique()) - {"match", "non_match"}
    if bad or constraints["decision"].isna().any():
        raise ValueError(f"constraints.decision must be 'match' or 'non_match', found {sorted(map(str, bad)) or ['null']}")
    index = pd.Series(np.arange(len(records)), index=records["silo"].astype(str) + "|" + records["source_record_id"].astype(str))
    lk = constraints["silo_l"].astype(str) + "|" + constraints["source_record_id_l"].astype(str)
    rk = constraints["silo_r"].astype(str) + "|" + constraints["source_record_id_r"].astype(str)
    pl, pr = lk.map(index), rk.map(index)
    known = pl.notna() & pr.notna()
    if (~known).any():
        log.info("%d review decision(s) refer to records not in this run; ignored", int((~known).sum()))
    pl, pr, decision = pl[known].astype(np.int64), pr[known].astype(np.int64), constraints["decision"][known]
    must = list(zip(pl[decision == "match"], pr[decision == "match"]))
    cannot = list(zip(pl[decision == "non_match"], pr[decision == "non_match"]))
    return must, cannot


def train_model(features: pd.DataFrame, gammas: pd.DataFrame, config: ResolverConfig, silo: pd.Series,
                tf_tables: dict[str, dict] | None = None, codes: RecordCodes | None = None) -> FellegiSunterModel:
    """u from random record pairs, then m and the prior by EM over the candidate pairs (compared with
    the same term-frequency tables as `gammas`)."""
    n = len(features)
    size = int(min(config.u_sample_pairs, max(n * (n - 1) // 2, 1)))
    rl, rr = random_pairs(n, size, config.seed)
    random_gammas = compare(codes or features, rl, rr, given_name_counts(tf_tables or {}))
    u = estimate_u(random_gammas)
    total = comparable_pairs(silo, config.link_only)
    model = None
    for _ in range(2):  # later rounds: u without the matches the random sample contained
        model = train_em(gammas, u, FIELDS, iterations=config.em_iterations, tolerance=config.em_tolerance,
                         update_u=config.em_update_u, total_pairs=total)
        u = u_without_matches(random_gammas, model)
    model.u = u
    model.u = u_for_small_samples(u_of_rare_agreements(model, gammas, random_gammas, total), random_gammas)
    model.u_city_given_postcode = u_city_given_postcode(random_gammas)
    return model


def comparable_pairs(silo: pd.Series, link_only: bool) -> float:
    """How many record pairs could match: all pairs, or only pairs across silos when linking."""
    n = float(len(silo))
    total = n * (n - 1) / 2
    if link_only:
        sizes = silo.value_counts().to_numpy(dtype=np.float64)
        total -= float((sizes * (sizes - 1) / 2).sum())
    return max(total, 1.0)


def resolve(
    records: pd.DataFrame,
    config: ResolverConfig | None = None,
    constraints: pd.DataFrame | None = None,
    progress: Progress | None = None,
    model: FellegiSunterModel | None = None,
    labels: pd.DataFrame | None = None,
) -> Resolution:
    """Cluster staging records into customers. See the module docs of each stage for the method.
    `labels` (labels.read_labels output): labelled matches train m when a model is trained here;
    every label is scored to check the model (Resolution.label_check)."""
    config = config or ResolverConfig()
    stages = _Stages(progress)
    records = _active(records)
    n = len(records)
    labelled = locate(records, labels) if labels is not None else None
    with stages.stage("features"):
        features = build_features(records, config.default_region)
        codes = RecordCodes(features)  # column codes computed once for the three comparisons below
        records = records[["silo", "source_record_id"]]  # the features say the rest; free a million rows
    with stages.stage("blocking"):
        blocked = block(features, records["silo"], max_block_size=config.max_block_size, link_only=config.link_only)
        left, right = blocked.left, blocked.right
    with stages.stage("comparison"):
        if model is None and config.model_path and Path(config.model_path).exists():
            model = FellegiSunterModel.from_json(config.model_path)
        tf_tables = _tf_tables(model, features, config)
        gammas = compare(codes, left, right, given_name_counts(tf_tables))
    with stages.stage("training"):
        trained_here = model is None and len(gammas) > 0
        if model is None:
            model = train_model(features, gammas, config, records["silo"], tf_tables, codes) if len(gammas) else _untrained_model()
            if labelled is not None and labelled.is_match.any():
                label_gammas = compare(codes, labelled.left, labelled.right, given_name_counts(tf_tables))
                model = fit_m_with_labels(model, label_gammas, labelled.is_match)
        model.tf_max_bits = config.tf_max_bits
        model.tf_tables = tf_tables
    with stages.stage("scoring"):
        total = comparable_pairs(records["silo"], config.link_only) if trained_here else None
        weight, prob = _score(model, features, left, right, gammas, config, settle_prior_over=total)
        if config.save_model_path:
            model.to_json(config.save_model_path)
    with stages.stage("clustering"):
        nid4, born, generation = evidence = strong_evidence(features, model)
        left, right, gammas, weight, prob, rule, rule_names = add_closure_pairs(
            model, features, config, n, (left, right, gammas, weight, prob, blocked.rule), blocked.rule_names, evidence,
            codes)
        del codes  # the last comparison of the run: a million records' codes need not outlive it
        must, cannot = _constraint_positions(records, constraints)
        result = cluster(n, left, right, weight, prob, config.match_threshold, nid4, born,
                         must_link=must, cannot_link=cannot, override_probability=config.conflict_override_probability,
                         given=as_objects(features["given"]) if model.household_cap_bits is not None else None,
                         family=as_objects(features["family"]), generation=generation)
    with stages.stage("output"):
        xref = pd.DataFrame({
            "silo": records["silo"].to_numpy(),
            "source_record_id": records["source_record_id"].to_numpy(),
            "customer_id": customer_ids(result.labels, records["silo"], records["source_record_id"]),
            "match_probability": result.record_probability,
        })
        keep = prob >= config.pairs_min_probability
        pairs = _pairs_frame(records, model, features, gammas, config, left, right, weight, prob, keep, rule_names, rule)
        review = _review_frame(records, left, right, prob, config, result.rejected)
        label_check = _check_labels(model, features, labelled, config) if labelled is not None else None
    return Resolution(xref=xref, pairs=pairs, model=model, timings=stages.timings, review=review,
                      blocking_stats=blocked.stats, warnings=blocked.warnings, features=features,
                      label_check=label_check, candidate_pairs=len(blocked.left))


def _tf_tables(model: FellegiSunterModel | None, features: pd.DataFrame, config: ResolverConfig) -> dict[str, dict]:
    """The stored model's tables when they are frozen, else counted from these records."""
    if model is not None and config.freeze_tf_tables and model.tf_tables:
        return model.tf_tables
    return term_frequency_tables(features) if config.tf_adjustment else {}


def _check_labels(model, features, labelled: LabelledPairs, config) -> dict:
    gammas = compare(features, labelled.left, labelled.right, given_name_counts(model.tf_tables))
    _, prob = _score(model, features, labelled.left, labelled.right, gammas, config)
    return {**check_labels(prob, labelled.is_match, config.match_threshold), "labels_not_found": labelled.unknown}


def _score(model, features, left, right, gammas, config, settle_prior_over: float | None = None):
    """Match weight and probability per pair (term-frequency bits are summed in, not kept), each
    pair under the prior of its two silos where the model has one.
    With `settle_prior_over` (comparable pairs) the model's prior, then each pair of silos' prior,
    is first settled on these pairs (scoring.prior_from_posteriors, scoring.silo_pair_priors): done
    once, for a model trained on this run's candidates."""
    tf_bits = pair_tf_bits(model, features, left, right, gammas) if config.tf_adjustment else None
    fields, cap = model.evidence(gammas, tf_bits)
    silo = _silos(features)
    if settle_prior_over is not None:
        model.prior, expected = prior_from_posteriors(model, fields, cap, settle_prior_over)
        model.em_history.append({"session": "scored_prior", "expected_matches": expected,
                                 "total_pairs": settle_prior_over, "prior": model.prior})
        if silo is not None:
            model.silo_pair_priors, history = silo_pair_priors(model, fields, cap, silo, left, right, config.link_only)
            model.em_history.extend(history)
    weight = model.weight_of(fields, cap, model.pair_prior_bits(silo, left, right))
    return weight, probability(weight)


def _silos(features: pd.DataFrame) -> np.ndarray | None:
    """Each record's silo (build_features carries it), or None where the features lack it."""
    return as_objects(features["silo"]) if "silo" in features.columns else None


def _untrained_model() -> FellegiSunterModel:
    from identity_resolution.scoring import initial_m

    m = initial_m(FIELDS)
    u = {k: v[::-1].copy() for k, v in m.items()}
    return FellegiSunterModel(fields=FIELDS, m=m, u=u, prior=1e-4)


def _pairs_frame(records, model, features, gammas, config, left, right, weight, prob, keep, rule_names, rule) -> pd.DataFrame:
    idx = np.flatnonzero(keep)
    g = gammas.iloc[idx].reset_index(drop=True)
    sub_tf = pair_tf_bits(model, features, left[idx], right[idx], g) if config.tf_adjustment else None
    bits = model.field_bits(g, sub_tf, model.pair_prior_bits(_silos(features), left[idx], right[idx]))
    silo, rid = records["silo"].to_numpy(), records["source_record_id"].to_numpy()
    l, r = left[idx], right[idx]
    frame = pd.DataFrame({
        "silo_l": silo[l], "source_record_id_l": rid[l], "silo_r": silo[r], "source_record_id_r": rid[r],
        "match_weight": weight[idx], "match_probability": prob[idx],
        "blocking_rule": np.asarray(rule_names, dtype=object)[rule[idx]],
    })
    return pd.concat([frame, g, bits], axis=1)


def _review_frame(records, left, right, prob, config, rejected: pd.DataFrame) -> pd.DataFrame:
    silo, rid = records["silo"].to_numpy(), records["source_record_id"].to_numpy()
    band = (prob >= config.review_threshold) & (prob < config.match_threshold)
    l = np.concatenate([left[band], rejected["l"].to_numpy(dtype=np.int64)])
    r = np.concatenate([right[band], rejected["r"].to_numpy(dtype=np.int64)])
    p = np.concatenate([prob[band], rejected["match_probability"].to_numpy(dtype=np.float64)])
    reason = np.concatenate([np.full(band.sum(), "review_band", dtype=object), rejected["reason"].to_numpy(dtype=object)])
    return pd.DataFrame({"silo_l": silo[l], "source_record_id_l": rid[l], "silo_r": silo[r],
                         "source_record_id_r": rid[r], "match_probability": p, "reason": reason})

"""Clusters from scored pairs: union–find over edges in descending weight, refusing merges that
would put two records with conflicting strong evidence in one cluster.

Strong evidence: national ids whose last four digits differ by two or more edits, birth dates that
differ by more than two digit edits (and are not a day/month swap), different generational suffixes
('Jr.' and 'Sr.'), and cannot-link decisions.
A conflicting pair may share a cluster only when the pair itself scored above the threshold — its own
score already weighed the disagreement — never because a chain of other links joins them.
Must-link decisions are applied first and never undone.

Then a cluster held together against the evidence of its own pairs is split (`_split_weakly_held`):
its groups are joined again, strongest first, only while the scored pairs between two groups clear
the threshold on balance (summed log-odds at least the threshold's; at the default 0.5, zero: more
likely one person than two). One link above the threshold is enough for union–find; a names-only
record bridging two namesakes, each with their own email and phone, is such a link, and the pairs
between the namesakes' records say otherwise.
"""
from __future__ import annotations

import hashlib
import heapq
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from identity_resolution.names import nickname_related

# A pair's odds against a match count at most as a one-in-twenty pair's (-3 in log-odds) when a
# cluster is split: Fellegi-Sunter odds against are overconfident where several fields repeat one
# disagreement, and one such pair must not outvote several links (measured: -2 to -4 alike).
DISAGREEMENT_FLOOR = -3.0
MUST_LINK_ODDS = 1e6  # a decision no pair outweighs


@dataclass
class ClusterResult:
    labels: np.ndarray  # cluster root per record position
    record_probability: np.ndarray  # best accepted link of each record (1.0 for singletons)
    rejected: pd.DataFrame  # l, r, match_probability, reason: above-threshold pairs kept apart


def _dob_conflict(a: str, b: str) -> bool:
    """Birth dates (YYYYMMDD) more than two slips apart, not a day/month swap; a year alone (from an
    email) against another year or date: a different year."""
    if a == b:
        return False
    if len(a) == 4 or len(b) == 4:
        return a[:4] != b[:4]
    swapped = b[:4] + b[6:8] + b[4:6]
    return a != swapped and Levenshtein.distance(a, b) > 2


def _generation_conflict(a: str, b: str) -> bool:
    """Different generational suffixes ('jr' and 'sr', 'iii'); 'Jr.' and 'II' are both written for a
    second of one name."""
    return a != b and {a, b} != {"jr", "ii"}


def _nid_conflict(a: str, b: str) -> bool:
    """Last four digits two or more slips apart (two digits swapped is one slip: a keying error)."""
    return a != b and OSA.distance(a, b) >= 2


def _given_conflict(a: str, b: str) -> bool:
    """Clearly different given names: not the same canonical name, not alike, not an initial of the other."""
    if a == b or (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b)):
        return False
    if nickname_related(a, b):
        return False
    return not _alike(a, b)


def _names_conflict(a: str, b: str) -> bool:
    """'given|family' values: clearly different given names, unless the names were filed swapped
    ('Lewis Joshua' / 'Joshua Lewis') or a lone name is the other's family name, as a user name
    typed into a name box is ('martineza', 'cramirez' for Chad Ramirez)."""
    ga, _, fa = a.partition("|")
    gb, _, fb = b.partition("|")
    if not _given_conflict(ga, gb):
        return False
    if fa and fb:
        return not (_alike(ga, fb) and _alike(fa, gb))
    lone_is_family = (not fa and fb and _alike(ga, fb)) or (not fb and fa and _alike(gb, fa))
    return not lone_is_family


def _alike(a: str, b: str) -> bool:
    return JaroWinkler.normalized_similarity(a, b) >= 0.85


class _Clusters:
    """Union–find whose roots carry members and the strong-evidence values found among them."""

    def __init__(self, n: int, evidence: dict[str, tuple[np.ndarray, Callable[[str, str], bool]]],
                 direct: set[int], cannot: dict[int, set[int]]):
        self.n = n
        self.parent = list(range(n))
        self.members: dict[int, list[int]] = {}
        self.values: dict[int, dict[str, dict[str, list[int]]]] = {}
        self.evidence = evidence
        self.direct = direct
        self.cannot = cannot

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def _members(self, root: int) -> list[int]:
        return self.members.get(root, [root])

    def _values(self, root: int) -> dict[str, dict[str, list[int]]]:
        if root not in self.values:
            vals: dict[str, dict[str, list[int]]] = {}
            for kind, (array, _) in self.evidence.items():
                vals[kind] = {} if array[root] is None else {array[root]: [root]}
            self.values[root] = vals
        return self.values[root]

    def conflict(self, ra: int, rb: int) -> str | None:
        """Reason the two clusters must stay apart, or None."""
        va, vb = self._values(ra), self._values(rb)
        for kind, (_, test) in self.evidence.items():
            for x, xs in va[kind].items():
                for y, ys in vb[kind].items():
                    if test(x, y) and not self._all_direct(xs, ys):
                        return kind
        if self.cannot:
            small, big = (ra, rb) if len(self._members(ra)) <= len(self._members(rb)) else (rb, ra)
            for a in self._members(small):
                for b in self.cannot.get(a, ()):
                    if self.find(b) == big:
                        return "cannot_link"
        return None

    def _all_direct(self, xs: list[int], ys: list[int]) -> bool:
        n = self.n
        return all((min(x, y) * n + max(x, y)) in self.direct for x in xs for y in ys)

    def union(self, ra: int, rb: int) -> int:
        if len(self._members(ra)) < len(self._members(rb)):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.members[ra] = self._members(ra) + self._members(rb)
        self.members.pop(rb, None)
        va, vb = self._values(ra), self._values(rb)
        for kind in self.evidence:
            for value, recs in vb[kind].items():
                va[kind].setdefault(value, []).extend(recs)
        self.values.pop(rb, None)
        return ra


def cluster(
    n: int,
    left: np.ndarray,
    right: np.ndarray,
    weight: np.ndarray,
    probability: np.ndarray,
    threshold: float,
    nid_last4: np.ndarray,
    dob: np.ndarray,
    must_link: list[tuple[int, int]] = (),
    cannot_link: list[tuple[int, int]] = (),
    override_probability: float | None = None,
    given: np.ndarray | None = None,
    family: np.ndarray | None = None,
    generation: np.ndarray | None = None,
) -> ClusterResult:
    """Cluster n records from candidate pairs (positions left/right) scored `weight`/`probability`.

    Two conflicting records may end up together only if their own pair scored at least
    `override_probability` (default: the match threshold). With `given` (first given names, lower
    case), clearly different given names count as conflicting evidence too — used where the data
    shows that matches almost always share a given name, to stop household chains; with `family`
    too, names filed swapped are no such conflict (see `_names_conflict`). `generation`: each record's
    generational suffix ('jr', 'sr', 'iii' or None; a father and his namesake son)."""
    keep = probability >= threshold
    el, er, ew, ep = left[keep], right[keep], weight[keep], probability[keep]
    must = np.asarray(must_link, dtype=np.int64).reshape(-1, 2)
    cannot_arr = np.asarray(cannot_link, dtype=np.int64).reshape(-1, 2)
    evidence = {"national_id": (np.asarray(nid_last4, dtype=object), _nid_conflict),
                "birth_date": (np.asarray(dob, dtype=object), _dob_conflict)}
    if generation is not None:
        evidence["generation"] = (np.asarray(generation, dtype=object), _generation_conflict)
    if given is not None:
        first = pd.Series(given, dtype=object)
        last = pd.Series(family if family is not None else [None] * len(first), dtype=object).fillna("")
        names = (first + "|" + last).where(first.notna(), None)
        evidence["given_name"] = (names.to_numpy(dtype=object), _names_conflict)
    # Fast path: tentative components; only those that hold differing strong-evidence values or a
    # cannot-link go through the careful, edge-by-edge union–find below.
    comp = _components(n, np.concatenate([el, must[:, 0]]), np.concatenate([er, must[:, 1]]))
    suspect_comp = _suspect_components(comp, evidence, cannot_arr)
    suspect = suspect_comp[comp]
    labels = _min_index_labels(comp)
    rejected: list[tuple] = []
    if suspect.any():
        labels, rejected = _careful_union(n, el, er, ew, ep, probability, left, right, threshold, override_probability,
                                          evidence, must, cannot_arr, suspect, labels)
    labels, outweighed = _split_weakly_held(labels, left, right, probability, must, threshold)
    rejected += outweighed
    best = np.zeros(n)
    same = labels[el] == labels[er]
    np.maximum.at(best, el[same], ep[same])
    np.maximum.at(best, er[same], ep[same])
    if len(must):
        best[must.ravel()] = 1.0
    sizes = np.bincount(labels, minlength=n)
    best[sizes[labels] == 1] = 1.0
    return ClusterResult(
        labels=labels,
        record_probability=best,
        rejected=pd.DataFrame(rejected, columns=["l", "r", "match_probability", "reason"]),
    )


def _split_weakly_held(labels: np.ndarray, left: np.ndarray, right: np.ndarray, probability: np.ndarray,
                       must: np.ndarray, threshold: float) -> tuple[np.ndarray, list[tuple]]:
    """Labels with each cluster of three or more records that holds a pair scored below the
    threshold re-joined by sum linkage, one cluster at a time (clusters whose pairs all clear it
    would join whole again: left as they are), and the above-threshold pairs that ended up apart,
    for review ('outweighed')."""
    inside = labels[left] == labels[right]
    sizes = np.bincount(labels, minlength=len(labels))
    weak = np.zeros(len(labels), dtype=bool)
    weak[labels[left[inside & (probability < threshold)]]] = True
    weak &= sizes >= 3  # two records are held by the one link above the threshold
    pick = np.flatnonzero(inside & weak[labels[left]])
    if not len(pick):
        return labels, []
    pl, pr, pp = left[pick], right[pick], probability[pick]
    odds = np.maximum(_log_odds(pp), DISAGREEMENT_FLOOR)
    bar = float(_log_odds(np.array([threshold]))[0])
    kept = must[weak[labels[must[:, 0]]]] if len(must) else must
    sl, sr = np.concatenate([pl, kept[:, 0]]), np.concatenate([pr, kept[:, 1]])
    so = np.concatenate([odds, np.full(len(kept), MUST_LINK_ODDS)])
    order = np.argsort(labels[sl], kind="stable")
    sl, sr, so = sl[order], sr[order], so[order]
    starts = np.flatnonzero(np.r_[True, np.diff(labels[sl]) != 0])
    labels = labels.copy()
    for lo, hi in zip(starts.tolist(), np.r_[starts[1:], len(sl)].tolist()):
        groups = _sum_linkage(sl[lo:hi], sr[lo:hi], so[lo:hi], bar)
        if len(groups) > 1:
            for members in groups:
                labels[members] = min(members)
    apart = (pp >= threshold) & (labels[pl] != labels[pr])
    return labels, list(zip(pl[apart].tolist(), pr[apart].tolist(), pp[apart].tolist(), ["outweighed"] * int(apart.sum())))


def _log_odds(p: np.ndarray) -> np.ndarray:
    return np.log(np.clip(p, 1e-12, 1.0)) - np.log(np.clip(1.0 - p, 1e-12, 1.0))


def _sum_linkage(left: np.ndarray, right: np.ndarray, odds: np.ndarray, bar: float) -> list[list[int]]:
    """Agglomerate records from singletons: always join the two groups whose pairs' summed log-odds
    is the highest, while it is at least `bar`. Returns the groups (lists of record positions)."""
    links: dict[int, dict[int, float]] = {}
    for a, b, w in zip(left.tolist(), right.tolist(), odds.tolist()):
        for x, y in ((a, b), (b, a)):
            row = links.setdefault(x, {})
            row[y] = row.get(y, 0.0) + w
    heap = [(-w, a, b) for a, row in links.items() for b, w in row.items() if a < b and w >= bar]
    heapq.heapify(heap)
    groups = {a: [a] for a in links}
    while heap:
        neg, a, b = heapq.heappop(heap)
        if a not in groups or b not in groups or links[a].get(b) != -neg:
            continue  # a group since merged, or a sum since changed: a stale entry
        if len(links[a]) < len(links[b]):
            a, b = b, a
        groups[a] += groups.pop(b)
        row = links[a]
        row.pop(b, None)
        for c, w in links.pop(b).items():
            if c == a:
                continue
            total = row.get(c, 0.0) + w
            row[c] = links[c][a] = total
            links[c].pop(b, None)
            if total >= bar:
                heapq.heappush(heap, (-total, min(a, c), max(a, c)))
    return list(groups.values())


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _min_index_labels(comp: np.ndarray) -> np.ndarray:
    """Label each record by the smallest record position of its component."""
    first = np.full(comp.max() + 1 if len(comp) else 0, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, comp, np.arange(len(comp), dtype=np.int64))
    return first[comp]


def _suspect_components(comp: np.ndarray, evidence: dict, cannot: np.ndarray) -> np.ndarray:
    """Boolean per component: holds two different strong-evidence values, or a cannot-link pair."""
    frame = pd.DataFrame({"comp": comp, **{kind: array for kind, (array, _) in evidence.items()}})
    varied = frame.groupby("comp")[list(evidence)].nunique()
    out = np.zeros(comp.max() + 1 if len(comp) else 0, dtype=bool)
    out[varied.index[(varied > 1).any(axis=1)]] = True
    if len(cannot):
        out[comp[cannot[:, 0]][comp[cannot[:, 0]] == comp[cannot[:, 1]]]] = True
    return out


def _careful_union(n, el, er, ew, ep, probability, left, right, threshold, override_probability, evidence,
                   must, cannot_arr, suspect, labels):
    """Edge-by-edge union–find with conflict checks, over the records of suspect components."""
    bar = threshold if override_probability is None else override_probability
    ok = (probability >= bar) & suspect[left] & suspect[right]
    direct = set((np.minimum(left[ok], right[ok]) * np.int64(n) + np.maximum(left[ok], right[ok])).tolist())
    cannot: dict[int, set[int]] = {}
    for a, b in cannot_arr.tolist():
        cannot.setdefault(a, set()).add(b)
        cannot.setdefault(b, set()).add(a)
    state = _Clusters(n, evidence, direct, cannot)
    for a, b in must.tolist():
        ra, rb = state.find(a), state.find(b)
        if ra != rb:
            state.union(ra, rb)
    sel = suspect[el] & suspect[er]
    order = np.argsort(-ew[sel], kind="stable")
    rejected = []
    for a, b, p in zip(el[sel][order].tolist(), er[sel][order].tolist(), ep[sel][order].tolist()):
        ra, rb = state.find(a), state.find(b)
        if ra == rb:
            continue
        reason = state.conflict(ra, rb)
        if reason:
            rejected.append((a, b, p, reason))
            continue
        state.union(ra, rb)
    labels = labels.copy()
    idx = np.flatnonzero(suspect)
    labels[idx] = [state.find(int(i)) for i in idx]
    return labels, rejected


def customer_ids(labels: np.ndarray, silo: pd.Series, source_record_id: pd.Series) -> np.ndarray:
    """'C' + 15 hex chars of the SHA-1 of each cluster's smallest 'silo|source_record_id' (deterministic)."""
    keys = silo.astype(str).to_numpy(dtype=object) + "|" + source_record_id.astype(str).to_numpy(dtype=object)
    frame = pd.DataFrame({"label": labels, "key": keys})
    smallest = frame.sort_values("key", kind="stable").drop_duplicates("label")
    ids = pd.Series(["C" + hashlib.sha1(k.encode("utf-8")).hexdigest()[:15] for k in smallest["key"].tolist()],
                    index=smallest["label"].to_numpy())
    return ids.reindex(labels).to_numpy(dtype=object)


def closure_pairs(
    n: int, left: np.ndarray, right: np.ndarray, probability: np.ndarray, threshold: float,
    nid_last4: np.ndarray, dob: np.ndarray, max_component: int = 40, generation: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Record pairs inside tentative clusters that hold strong-evidence values which might conflict
    but were never compared (blocking did not pair them). Scoring them lets the conflict rule judge
    each conflicting pair on its own evidence instead of refusing a merge for want of a score.
    Only components of at most `max_component` records are closed (the pair count is quadratic)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    keep = probability >= threshold
    graph = coo_matrix((np.ones(int(keep.sum()), dtype=np.int8), (left[keep], right[keep])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    frame = pd.DataFrame({"comp": comp, "nid": nid_last4, "dob": dob, "generation": generation})
    sizes = frame.groupby("comp")["comp"].transform("size")
    frame = frame[(sizes > 1) & (sizes <= max_component)]
    suspect = frame.groupby("comp")[["nid", "dob", "generation"]].nunique().gt(1).any(axis=1)
    suspect = suspect.index[suspect.to_numpy()]
    sub = frame[frame["comp"].isin(suspect)]
    if sub.empty:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    recs = pd.DataFrame({"comp": sub["comp"].to_numpy(), "rec": sub.index.to_numpy(dtype=np.int64)})
    both = recs.merge(recs, on="comp", suffixes=("_l", "_r"))
    both = both[both["rec_l"] < both["rec_r"]]
    pl, pr = both["rec_l"].to_numpy(np.int64), both["rec_r"].to_numpy(np.int64)
    # only the candidate pairs between these few records can already exist (millions of others cannot)
    closed = np.zeros(n, dtype=bool)
    closed[recs["rec"].to_numpy()] = True
    inside = closed[left] & closed[right]
    existing = np.minimum(left[inside], right[inside]).astype(np.int64) * np.int64(n) + np.maximum(left[inside], right[inside])
    new = ~np.isin(pl * np.int64(n) + pr, existing)
    return pl[new], pr[new]

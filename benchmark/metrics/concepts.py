"""Latent concept analysis (Dalvi et al., ICLR 2022; the ConceptX toolkit): the alignment of
clusters of word representations with human concept labels, with permutation nulls and replicate
draws for every statistic (the clusters come from benchmark.metrics.clustering).

Alignment (`concept_alignment`; ConceptX `align_with_auto_tags.py`). Each point (a word in
context) carries at most one concept label (None = unlabelled: it counts in its cluster's size but
never as a concept). A cluster is considered when it has at least `min_size` members (and at least
`min_types` distinct word types, if `types` are given: the "> 5 word types" variant is
min_types=6). Its majority concept is the most frequent label among its members (ties: the first
in sorted label order); the cluster is ALIGNED when majority count / cluster size > theta
(strictly, as ConceptX; theta = 0.9, one variant 0.95; theta = 1 means all members). Reported:
  - aligned_share: aligned clusters / considered clusters;
  - concept_coverage: concepts that are the aligned concept of at least one cluster / concepts
    present among the labelled points (all points, not only those in considered clusters);
  - alignment_score: (aligned_share + concept_coverage) / 2, the "mean" of the LCA reports;
  - mean_purity: UNWEIGHTED mean over considered clusters of majority count / cluster size
    (every cluster counts once, like aligned_share; the size-weighted version is `purity`);
  - with `languages` (resp. `modalities`) per point: cross_lingual (cross_modal) = share of the
    aligned clusters whose members CARRYING the aligned concept span >= 2 languages (both
    modalities, i.e. >= 2 distinct values). NaN when no cluster is aligned.
Differences from ConceptX: it lets a word carry several labels ("|||") and skips clusters whose
share of unknown labels exceeds 0.4 (max_unk_threshold); here a point has one label or none, and
unlabelled members simply count against alignment.

Null: the same statistics with the points' annotations permuted (concept, language, modality and
type move together, so their joint distribution is kept) while the clusters stay fixed:
permutation row p gives point i the annotations of point perm[p, i]. Its mean is what the
statistics are for a clustering unrelated to the annotations with the same cluster sizes; it is
NOT zero (small clusters reach theta by chance), so read every statistic against it.

Replicates (for CIs): `point_weights` [R, N], e.g. 0/1 half-samples of sentences expanded to
their words. Default: the clustering stays FIXED and the statistics are recomputed on the kept
points (weighted counts): O(N + K C) per replicate (C = concepts), cheap. This measures the
sampling variability of the alignment given the clustering, not the instability of the
clustering itself; re-clustering each replicate (`recluster=(x, k)`, 0/1 weights only) measures
both but costs one Ward run on the kept points per replicate (R x ~O((N/2)^2): with 200
replicates of 2,500 points, minutes).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from benchmark.metrics.clustering import (
    _check_perms,
    _check_point_weights,
    _cluster_codes,
    _codes,
    _weights,
    ward_clusters,
)
from benchmark.metrics.statistics import Estimate

_GROUPS = ("languages", "modalities", "types")
STATISTICS = (
    "aligned_share",
    "concept_coverage",
    "alignment_score",
    "mean_purity",
    "cross_lingual",
    "cross_modal",
)


def _check_theta(theta: float) -> None:
    if not (isinstance(theta, (int, float, np.floating)) and 0 < theta <= 1):
        raise ValueError(
            f"theta must be in (0, 1] (a cluster aligns when MORE than theta of its members "
            f"carry one concept; 0.9 in LCA), got {theta!r}"
        )


@dataclass
class ConceptAlignment:
    """Alignment of clusters with concept labels (see the module doc for every definition)."""

    n_points: float  # total weight of the points (the number of points when unweighted)
    n_clusters: int  # clusters considered (size >= min_size, types >= min_types)
    n_aligned: int
    aligned_share: float
    n_concepts: int  # concepts present among the labelled points
    n_covered: int
    concept_coverage: float
    alignment_score: float  # (aligned_share + concept_coverage) / 2
    mean_purity: float  # unweighted mean over considered clusters
    cross_lingual: float | None  # share of aligned clusters spanning >= 2 languages
    cross_modal: float | None  # share of aligned clusters spanning >= 2 modalities
    aligned: dict  # cluster id -> its aligned concept label

    def to_dict(self) -> dict:
        out = asdict(self)
        out["aligned"] = {str(k): v for k, v in self.aligned.items()}
        return out


class _Problem:
    """Encoded inputs, shared by the point estimate, the null draws and the replicates."""

    def __init__(
        self,
        cluster_ids,
        concept_labels,
        theta,
        min_size,
        languages,
        modalities,
        types,
        min_types,
        unlabelled,
        min_forms=1,
    ):
        _check_theta(theta)
        if min_size < 1 or min_types < 1:
            raise ValueError(f"min_size and min_types must be >= 1, got {min_size}, {min_types}")
        if (min_types > 1 or min_forms > 1) and types is None:
            raise ValueError("min_types and min_forms need `types` (the word type of every point)")
        self.cluster_ids = np.asarray(cluster_ids)
        self.g, self.k = _cluster_codes(cluster_ids)
        self.n = len(self.g)
        self.c, self.concepts = _codes(concept_labels, self.n, "concept_labels", unlabelled)
        self.theta, self.min_size, self.min_types = float(theta), min_size, min_types
        self.min_forms = int(min_forms)
        self.groups = {}
        for name, v in (("languages", languages), ("modalities", modalities), ("types", types)):
            if v is not None:
                codes, keys = _codes(v, self.n, name)
                if (codes < 0).any():
                    raise ValueError(f"{name}: every point needs a value (found None)")
                self.groups[name] = (codes, len(keys))

    def stats(
        self,
        perm: np.ndarray | None = None,
        w: np.ndarray | None = None,
        concepts: np.ndarray | None = None,
    ) -> dict:
        """All statistics with annotations taken from points perm[i] and point weights w;
        `concepts` replaces the points' concept codes alone (the form-level null)."""
        g, k = self.g, self.k
        take = (lambda a: a) if perm is None else (lambda a: a[perm])
        c = take(self.c) if concepts is None else concepts
        w = np.ones(self.n) if w is None else w
        size = np.bincount(g, weights=w, minlength=k)
        lab = (c >= 0) & (w > 0)
        nc = max(len(self.concepts), 1)
        cont = np.bincount(g[lab] * nc + c[lab], weights=w[lab], minlength=k * nc).reshape(k, nc)
        considered = size >= self.min_size
        if "types" in self.groups:
            codes, nt = self.groups["types"]
            t = take(codes)
            keep = w > 0
            pairs = np.unique(g[keep] * nt + t[keep])
            considered &= np.bincount(pairs // nt, minlength=k) >= self.min_types
        majority, concept = cont.max(1), cont.argmax(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(size > 0, majority / np.where(size > 0, size, 1), 0.0)
        # "more than theta"; theta = 1 means every member (strictly more would be impossible)
        aligned = considered & ((share > self.theta) | (share >= 1.0))
        if self.min_forms > 1:  # a concept, not repeats of one form: enough distinct carriers
            codes, nt = self.groups["types"]
            t, carrier = take(codes), (c == concept[g]) & lab
            pairs = np.unique(g[carrier] * nt + t[carrier])
            aligned &= np.bincount(pairs // nt, minlength=k) >= self.min_forms
        n_clusters, n_aligned = int(considered.sum()), int(aligned.sum())
        present = np.flatnonzero(cont.sum(0) > 0)
        covered = np.unique(concept[aligned])
        aligned_share = n_aligned / n_clusters if n_clusters else float("nan")
        coverage = len(covered) / len(present) if len(present) else float("nan")
        out = {
            "n_points": float(w.sum()),
            "n_clusters": n_clusters,
            "n_aligned": n_aligned,
            "aligned_share": aligned_share,
            "n_concepts": len(present),
            "n_covered": len(covered),
            "concept_coverage": coverage,
            "alignment_score": (aligned_share + coverage) / 2,
            "mean_purity": float(share[considered].mean()) if n_clusters else float("nan"),
            "_aligned": aligned,
            "_concept": concept,
        }
        for name, key in (("languages", "cross_lingual"), ("modalities", "cross_modal")):
            if name not in self.groups:
                out[key] = None
                continue
            codes, ng = self.groups[name]
            grp = take(codes)
            carriers = aligned[g] & (c == concept[g]) & lab
            pairs = np.unique(g[carriers] * ng + grp[carriers])
            spans = np.bincount(pairs // ng, minlength=k) >= 2
            out[key] = float(spans[aligned].mean()) if n_aligned else float("nan")
        return out


def concept_alignment(
    cluster_ids,
    concept_labels: Sequence[Hashable | None],
    theta: float = 0.9,
    min_size: int = 1,
    *,
    languages: Sequence[Hashable] | None = None,
    modalities: Sequence[Hashable] | None = None,
    types: Sequence[Hashable] | None = None,
    min_types: int = 1,
    unlabelled: Hashable | None = None,
    weights=None,
    min_forms: int = 1,
) -> ConceptAlignment:
    """Alignment of clusters with concept labels, one label (or None) per point.

    theta: a cluster aligns when MORE than theta of its members carry its majority concept.
    min_size / min_types: clusters with fewer members / distinct word `types` are not
    considered. languages / modalities: per point, for the cross-lingual / cross-modal share of
    aligned clusters. unlabelled: a label value meaning "no concept" (besides None). weights:
    optional per-point weights (replicates). Definitions: module doc.
    """
    prob = _Problem(
        cluster_ids,
        concept_labels,
        theta,
        min_size,
        languages,
        modalities,
        types,
        min_types,
        unlabelled,
        min_forms,
    )
    w = None if weights is None else _weights(weights, prob.n)
    s = prob.stats(w=w)
    ids = np.unique(prob.cluster_ids)
    aligned = {
        ids[j].item(): prob.concepts[int(s["_concept"][j])] for j in np.flatnonzero(s["_aligned"])
    }
    return ConceptAlignment(
        **{k: v for k, v in s.items() if not k.startswith("_")}, aligned=aligned
    )


def form_level_concepts(prob: _Problem, forms: Sequence[Hashable], perms) -> list[np.ndarray]:
    """The null's concept codes when identical forms move together: each (form, concept) unit
    — every occurrence of one written form with one concept — takes the concept of the unit at
    the same place in a permutation of the units (row p of `perms`, over the units). A
    representation that keeps only the word form (the same vector wherever a form occurs) scores
    under this null exactly what it scores on the data, so it sits at its null."""
    units, index = np.unique(
        np.array([f"{c}\x1f{f}" for c, f in zip(prob.c, forms, strict=True)]), return_inverse=True
    )
    unit_concept = np.full(len(units), -1, dtype=np.int64)
    unit_concept[index] = prob.c
    p = np.asarray(perms)
    if p.ndim != 2 or p.shape[1] != len(units):
        raise ValueError(
            f"form-level permutations must have shape [P, {len(units)}] (one per form unit), "
            f"got {p.shape}"
        )
    return [unit_concept[row][index] for row in p]


def form_units(concept_labels: Sequence[Hashable | None], forms: Sequence[Hashable]) -> int:
    """How many (form, concept) units the form-level null permutes."""
    return len({(str(c), str(f)) for c, f in zip(concept_labels, forms, strict=True)})


def concept_estimates(
    cluster_ids,
    concept_labels: Sequence[Hashable | None],
    theta: float = 0.9,
    min_size: int = 1,
    *,
    languages: Sequence[Hashable] | None = None,
    modalities: Sequence[Hashable] | None = None,
    types: Sequence[Hashable] | None = None,
    min_types: int = 1,
    unlabelled: Hashable | None = None,
    permutations=None,
    point_weights=None,
    recluster: tuple | None = None,
    form_null: bool = False,
    min_forms: int = 1,
) -> dict[str, Estimate]:
    """Point value, null draws [P] and replicate draws [R] of every alignment statistic.

    permutations: [P, N] (row p gives point i the annotations of point perm[p, i]; clusters
    fixed). point_weights: [R, N] per-point weights (0/1 half-samples, expanded from sentences
    to their words). recluster: (x, k) to re-run `ward_clusters(x[kept], k)` on each replicate's
    kept points (0/1 weights only) instead of keeping the clustering fixed (see the module doc
    for the cost). Returns {statistic: Estimate} for aligned_share, concept_coverage,
    alignment_score, mean_purity and, when their groups are given, cross_lingual and
    cross_modal. Draws where a statistic is undefined (no aligned cluster) are NaN.
    min_forms: an aligned cluster's members carrying its concept must hold at least this many
    distinct `types` (word forms): repeats of one form are not a concept.
    form_null: the null permutes concepts over (form, concept) units (`types` are the forms;
    `permutations` then has one column per unit, `form_units`): identical forms keep one concept
    together, so what word forms alone give is in the null (see `form_level_concepts`).
    """
    opts = dict(
        theta=theta,
        min_size=min_size,
        languages=languages,
        modalities=modalities,
        types=types,
        min_types=min_types,
        unlabelled=unlabelled,
        min_forms=min_forms,
    )
    prob = _Problem(cluster_ids, concept_labels, **opts)
    keys = [
        s
        for s in STATISTICS
        if not (s == "cross_lingual" and languages is None)
        and not (s == "cross_modal" and modalities is None)
    ]
    point = prob.stats()
    if form_null:  # identical forms keep one concept together; permutations over form units
        if types is None:
            raise ValueError("form_null needs `types` (the word form of every point)")
        perms = np.empty((0, 1), int) if permutations is None else permutations
        nulls = [prob.stats(concepts=c) for c in form_level_concepts(prob, types, perms)]
    else:
        perms = (
            _check_perms(permutations, prob.n)
            if permutations is not None
            else np.empty((0, prob.n), int)
        )
        nulls = [prob.stats(perm=p) for p in perms]
    reps = _replicate_stats(prob, opts, concept_labels, point_weights, recluster)
    return {
        s: Estimate(
            float(point[s]),
            np.array([d[s] for d in nulls], dtype=np.float64),
            np.array([d[s] for d in reps], dtype=np.float64),
        )
        for s in keys
    }


def _replicate_stats(prob: _Problem, opts: dict, labels, point_weights, recluster) -> list[dict]:
    """Every statistic on each replicate: the clustering fixed and the points weighted, or
    (`recluster`) Ward run again on each replicate's kept points."""
    if point_weights is None:
        return []
    w = _check_point_weights(point_weights, prob.n)
    if recluster is None:
        return [prob.stats(w=row) for row in w]
    x, k = recluster
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] != prob.n:
        raise ValueError(f"recluster x has {x.shape[0]} rows but there are {prob.n} points")
    if not np.isin(w, (0.0, 1.0)).all():
        raise ValueError("recluster needs 0/1 point_weights (kept / left out)")
    reps = []
    for row in w:
        kept = np.flatnonzero(row)
        sub = dict(opts)
        for name in _GROUPS:
            if opts[name] is not None:
                sub[name] = [opts[name][i] for i in kept]
        kept_labels = [labels[i] for i in kept]
        reps.append(_Problem(ward_clusters(x[kept], k), kept_labels, **sub).stats())
    return reps

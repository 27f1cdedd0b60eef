"""Latent concept analysis: Ward clusters vs a naive Ward reference, ConceptX-style alignment vs an
independent loop, known answers, nulls, replicates, caps and the evaluate module."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

import benchmark.metrics.clustering as cl
from benchmark.metrics.clustering import cap_indices, purity, purity_estimates, ward_clusters
from benchmark.metrics.concepts import concept_alignment, concept_estimates

MODULES = Path(cl.__file__).parent / "modules"


def blobs(k: int, per: int, d: int, seed: int, spread: float = 20.0):
    """k well separated Gaussian blobs of `per` points each; labels = blob index."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * spread
    x = np.repeat(centres, per, 0) + rng.normal(size=(k * per, d))
    return x, np.repeat(np.arange(k), per)


def partition(labels) -> set[frozenset]:
    groups = defaultdict(set)
    for i, c in enumerate(labels):
        groups[c].add(i)
    return {frozenset(g) for g in groups.values()}


# ---------------------------------------------------------------------------------------------
# Independent references


def naive_ward(x: np.ndarray, k: int) -> list[int]:
    """Ward's definition, greedily: merge the two clusters whose union raises the within-cluster
    sum of squares least, n_a n_b / (n_a + n_b) * |mean_a - mean_b|^2, until k remain."""
    clusters = [[i] for i in range(len(x))]
    while len(clusters) > k:
        best, pair = np.inf, None
        for a in range(len(clusters)):
            for b in range(a + 1, len(clusters)):
                na, nb = len(clusters[a]), len(clusters[b])
                diff = x[clusters[a]].mean(0) - x[clusters[b]].mean(0)
                cost = na * nb / (na + nb) * float(diff @ diff)
                if cost < best:
                    best, pair = cost, (a, b)
        a, b = pair
        clusters[a] = clusters[a] + clusters[b]
        del clusters[b]
    out = [0] * len(x)
    for c, members in enumerate(clusters):
        for i in members:
            out[i] = c
    return out


def conceptx_alignment(clusters, labels, threshold):
    """ConceptX align_with_auto_tags: per cluster, the most common label; aligned when its count
    / the cluster's size > threshold. Returns {cluster: label} and the share of aligned
    clusters."""
    members = defaultdict(list)
    for c, lab in zip(clusters, labels, strict=True):
        members[c].append(lab)
    aligned = {}
    for c, labs in members.items():
        counts = Counter(lab for lab in labs if lab is not None)
        if not counts:
            continue
        best = max(sorted(counts), key=lambda lab: counts[lab])  # ties: first in sorted order
        if counts[best] / len(labs) > threshold:
            aligned[c] = best
    return aligned, len(aligned) / len(members)


# ---------------------------------------------------------------------------------------------
# Ward


@pytest.mark.parametrize("seed, k", [(0, 3), (1, 5), (2, 8)])
def test_ward_matches_naive_ward(seed, k):
    x = np.random.default_rng(seed).normal(size=(24, 5))
    assert partition(ward_clusters(x, k)) == partition(naive_ward(x, k))


def test_ward_labels_are_deterministic_and_exact_k():
    x, _ = blobs(6, 10, 4, 3)
    a, b = ward_clusters(x, 6), ward_clusters(x.copy(), 6)
    assert (a == b).all() and sorted(set(a.tolist())) == list(range(6)) and a[0] == 0
    tied = np.repeat(np.eye(3), 4, 0)  # duplicate points: equal merge heights
    assert len(set(ward_clusters(tied, 5).tolist())) == 5
    assert (ward_clusters(x[:5], 5) == np.arange(5)).all()


def test_ward_rejects_k_above_the_number_of_points():
    x = np.zeros((7, 3))
    with pytest.raises(ValueError, match=r"K=8 .* 7 points"):
        ward_clusters(x, 8)
    with pytest.raises(ValueError, match="K=0"):
        ward_clusters(x, 0)
    with pytest.raises(ValueError, match="integer"):
        ward_clusters(x, 2.5)


# ---------------------------------------------------------------------------------------------
# Alignment and purity: known answers


def test_separated_clusters_are_pure_and_cover_every_concept():
    x, blob = blobs(8, 12, 6, 4)
    concepts = [f"concept{b}" for b in blob]
    langs = ["en", "de", "sw"] * 32
    mods = ["text", "speech"] * 48
    clusters = ward_clusters(x, 8)
    res = concept_alignment(clusters, concepts, languages=langs, modalities=mods)
    assert res.n_clusters == 8 and res.n_aligned == 8 and res.n_concepts == 8
    assert res.aligned_share == 1.0 and res.concept_coverage == 1.0
    assert res.alignment_score == 1.0 and res.mean_purity == 1.0
    assert res.cross_lingual == 1.0 and res.cross_modal == 1.0
    assert purity(clusters, concepts) == 1.0
    assert sorted(res.aligned.values()) == sorted(set(concepts))
    assert purity(clusters, langs) < 0.5  # language is not what these clusters encode


def test_threshold_is_strict_and_counts_unlabelled_members():
    # cluster 0: 9 of 10 carry "a" (0.9, not MORE than 0.9); cluster 1: 10 of 11 "b" (0.909);
    # cluster 2: 19 "c" + 1 unlabelled (0.95)
    clusters = [0] * 10 + [1] * 11 + [2] * 20
    labels = ["a"] * 9 + ["x"] + ["b"] * 10 + ["y"] + ["c"] * 19 + [None]
    res = concept_alignment(clusters, labels, theta=0.9)
    assert res.aligned == {1: "b", 2: "c"}
    assert res.aligned_share == pytest.approx(2 / 3)
    assert res.n_concepts == 5 and res.concept_coverage == pytest.approx(2 / 5)
    assert res.alignment_score == pytest.approx((2 / 3 + 2 / 5) / 2)
    assert res.mean_purity == pytest.approx((0.9 + 10 / 11 + 0.95) / 3)
    assert purity(clusters, labels) == pytest.approx((9 + 10 + 19) / 41)
    assert concept_alignment(clusters, labels, theta=0.95).aligned == {}
    assert concept_alignment(clusters, labels, theta=0.5).n_aligned == 3
    only_pure = concept_alignment([0, 0, 1, 1], ["a", "a", "a", "b"], theta=1.0)
    assert only_pure.aligned == {0: "a"}  # theta = 1: every member


def test_cross_lingual_counts_members_carrying_the_concept():
    clusters = [0] * 4 + [1] * 4 + [2] * 11
    labels = ["x"] * 4 + ["y"] * 4 + ["z"] * 10 + ["w"]
    langs = ["en", "de", "en", "de"] + ["en"] * 4 + ["en"] * 10 + ["de"]  # cluster 2's de is "w"
    mods = ["text", "speech", "text", "text"] + ["speech"] * 4 + ["text"] * 5 + ["speech"] * 6
    res = concept_alignment(clusters, labels, languages=langs, modalities=mods)
    assert res.n_aligned == 3
    assert res.cross_lingual == pytest.approx(1 / 3)
    assert res.cross_modal == pytest.approx(2 / 3)


def test_min_size_and_min_types():
    clusters = [0] * 3 + [1] * 8 + [2] * 8
    labels = ["a"] * 3 + ["b"] * 8 + ["c"] * 8
    types = ["w1"] * 3 + ["w2"] * 8 + [f"w{i}" for i in range(3, 11)]
    res = concept_alignment(clusters, labels, min_size=4)
    assert res.n_clusters == 2 and res.n_covered == 2 and res.n_concepts == 3
    res = concept_alignment(clusters, labels, types=types, min_types=6)
    assert res.n_clusters == 1 and res.aligned == {2: "c"}
    with pytest.raises(ValueError, match="types"):
        concept_alignment(clusters, labels, min_types=6)


@pytest.mark.parametrize("seed, theta", [(0, 0.9), (1, 0.75), (2, 0.6)])
def test_alignment_matches_conceptx_reference(seed, theta):
    rng = np.random.default_rng(seed)
    n = 400
    clusters = rng.integers(0, 60, size=n)
    base = rng.integers(0, 12, size=60)  # each cluster leans to one concept
    noisy = rng.random(n) < 0.12
    labels = np.where(noisy, rng.integers(0, 12, size=n), base[clusters])
    labels = [f"c{v}" for v in labels]
    ref, share = conceptx_alignment(clusters.tolist(), labels, theta)
    res = concept_alignment(clusters, labels, theta=theta)
    assert 0 < res.n_aligned < res.n_clusters  # some clusters on each side of theta
    assert res.aligned == ref
    assert res.aligned_share == pytest.approx(share, abs=1e-12)
    assert res.concept_coverage == pytest.approx(len(set(ref.values())) / len(set(labels)))


def test_theta_outside_unit_interval_is_rejected():
    for bad in (0, 0.0, -0.2, 1.01, 9):
        with pytest.raises(ValueError, match="theta"):
            concept_alignment([0, 1], ["a", "b"], theta=bad)
        with pytest.raises(ValueError, match="theta"):
            concept_estimates([0, 1], ["a", "b"], theta=bad)


# ---------------------------------------------------------------------------------------------
# Null and replicates


def test_permuted_labels_sit_in_their_null_and_real_structure_does_not():
    rng = np.random.default_rng(5)
    x, blob = blobs(10, 20, 8, 6, spread=3.0)
    clusters = ward_clusters(x, 25)
    perms = np.stack([rng.permutation(len(blob)) for _ in range(200)])
    real = [f"c{b}" for b in blob]
    shuffled = [real[i] for i in rng.permutation(len(real))]
    for labels, inside in ((shuffled, True), (real, False)):
        est = concept_estimates(clusters, labels, theta=0.5, permutations=perms)
        est["purity"] = purity_estimates(clusters, labels, permutations=perms)
        for name in ("aligned_share", "mean_purity", "purity"):
            e = est[name]
            z = (e.value - e.null.mean()) / max(e.null.std(), 1e-9)
            if inside:
                assert abs(z) < 4, (name, z)
            else:
                assert z > 8, (name, z)


def test_zero_one_weights_equal_dropping_points():
    rng = np.random.default_rng(8)
    n = 200
    clusters = rng.integers(0, 15, size=n)
    labels = [f"c{v}" for v in np.where(rng.random(n) < 0.2, rng.integers(0, 5, n), clusters % 5)]
    langs = [["en", "de", "ja"][i % 3] for i in range(n)]
    w = (rng.random((4, n)) < 0.5).astype(float)
    est = concept_estimates(clusters, labels, theta=0.8, languages=langs, point_weights=w)
    for r, row in enumerate(w):
        kept = np.flatnonzero(row)
        sub = concept_alignment(
            clusters[kept], [labels[i] for i in kept], 0.8, languages=[langs[i] for i in kept]
        )
        for name in ("aligned_share", "concept_coverage", "mean_purity", "cross_lingual"):
            assert est[name].replicates[r] == pytest.approx(getattr(sub, name), abs=1e-12)
    reps = purity_estimates(clusters, labels, point_weights=w).replicates
    assert reps[0] == pytest.approx(
        purity(clusters[w[0] > 0], [labels[i] for i in np.flatnonzero(w[0])])
    )


def test_recluster_replicates():
    x, blob = blobs(4, 10, 3, 9)
    labels = [f"c{b}" for b in blob]
    w = np.zeros((3, 40))
    w[:, ::2] = 1
    w[1, 1] = 1
    est = concept_estimates(ward_clusters(x, 4), labels, point_weights=w, recluster=(x, 4))
    assert est["aligned_share"].replicates.tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="0/1"):
        concept_estimates(ward_clusters(x, 4), labels, point_weights=w * 2, recluster=(x, 4))


# ---------------------------------------------------------------------------------------------
# Caps


def test_cap_indices_are_deterministic_nested_and_order_free():
    keys = [f"en_us/{s:04d}/{w}" for s in range(30) for w in range(4)]
    chosen = {keys[i] for i in cap_indices(keys, 20)}
    assert len(chosen) == 20
    rev = keys[::-1]
    assert {rev[i] for i in cap_indices(rev, 20)} == chosen  # input order does not matter
    assert chosen < {keys[i] for i in cap_indices(keys, 35)}  # a larger cap keeps them
    assert {keys[i] for i in cap_indices(keys, 20, salt="b")} != chosen
    groups = [k.split("/")[2] for k in keys]
    per = cap_indices(keys, 3, groups=groups)
    assert Counter(groups[i] for i in per) == {str(w): 3 for w in range(4)}
    with pytest.raises(ValueError, match="cap"):
        cap_indices(keys, 0)


# ---------------------------------------------------------------------------------------------
# evaluate module


def test_evaluate_module_matches_clustering(monkeypatch):
    import evaluate

    from benchmark.metrics import permutations

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    x, blob = blobs(5, 12, 4, 10, spread=2.0)
    labels = [f"c{b}" for b in blob]
    labels[0] = ""  # no concept label
    langs = ["en", "de"] * 30
    module = evaluate.load(str(MODULES / "concept_purity"))
    out = module.compute(
        predictions=x.tolist(), references=labels, k=6, languages=langs, n_null=25, n_resamples=10
    )
    clusters = ward_clusters(x, 6)
    want = concept_alignment(clusters, [lab or None for lab in labels], languages=langs)
    for name in ("aligned_share", "concept_coverage", "alignment_score", "mean_purity"):
        assert out[name] == pytest.approx(getattr(want, name), abs=1e-12)
    assert out["purity"] == pytest.approx(purity(clusters, [lab or None for lab in labels]))
    null = concept_estimates(
        clusters,
        [lab or None for lab in labels],
        languages=langs,
        permutations=permutations(60, 25, 0).numpy(),
    )
    assert out["null_mean"]["aligned_share"] == pytest.approx(null["aligned_share"].null.mean())
    assert out["ci_method"] == "subsample" and "aligned_share" in out["ci_low"]
    with pytest.raises(ValueError, match="k"):
        module.compute(predictions=x.tolist(), references=labels)

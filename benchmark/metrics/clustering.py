"""Clustering for the concept kinds: Ward clusters, purity with its null and replicate draws,
and deterministic caps on the number of points (benchmark.metrics.concepts builds the latent
concept analysis on these).

Clustering. `ward_clusters(x, k)`: agglomerative clustering with Ward linkage on Euclidean
distances (scipy.cluster.hierarchy.linkage, float64), cut at exactly k clusters by replaying the
first n - k merges (scipy's `fcluster(..., "maxclust")` can return fewer than k when merge heights
tie). Labels are 0..k-1 in order of first appearance: deterministic for a given input order.
ConceptX runs scikit-learn's AgglomerativeClustering, whose default linkage is Ward (Euclidean).
Cost: linkage stores the condensed distance matrix, n(n-1)/2 float64 (5,000 points: 100 MB;
20,000: 1.6 GB), and runs in ~O(n^2) time (nearest-neighbour chain); cap n (`cap_indices`).

Purity (`purity`): sum over clusters of the majority-label count, divided by the number of points
(standard purity; size-weighted). Used at sentence level w.r.t. category, language and modality.
Its null permutes the labels over the points (clusters fixed); its replicates reweight points.

Caps (`cap_indices`): the `cap` items with the smallest sha256 of (salt + key), optionally per
group (e.g. at most m occurrences per word type or per concept, as the LCA setups cap frequent
words). Deterministic, independent of input order, and nested: raising the cap or adding items
keeps every item already chosen unless an added item outranks it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence

import numpy as np
from scipy.cluster.hierarchy import linkage

from benchmark.metrics.statistics import Estimate


def ward_clusters(x, k: int) -> np.ndarray:
    """Ward-linkage agglomerative clusters (Euclidean) of the rows of x, exactly k of them.

    Returns int64 labels 0..k-1 numbered by first appearance. Raises ValueError when k is not an
    integer in [1, number of points]. O(n^2) memory and ~O(n^2) time (scipy).
    """
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"x must be a 2-D matrix (points x dims), got shape {a.shape}")
    n = a.shape[0]
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"K (number of clusters) must be an integer, got {k!r}")
    if not 1 <= k <= n:
        raise ValueError(
            f"K={k} clusters requested but there are {n} points; K must be between 1 and the "
            "number of points (choose a smaller K or keep more points)"
        )
    if not np.isfinite(a).all():
        i, j = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"x: non-finite value at row {i}, column {j}")
    if k == n:
        return np.arange(n, dtype=np.int64)
    z = linkage(a, method="ward", metric="euclidean")
    parent = np.arange(2 * n - 1)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for step in range(n - k):  # the first n - k merges leave exactly k clusters
        left, right = int(z[step, 0]), int(z[step, 1])
        parent[root(left)] = n + step
        parent[root(right)] = n + step
    roots = np.array([root(i) for i in range(n)])
    _, first, inverse = np.unique(roots, return_index=True, return_inverse=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse]


# --------------------------------------------------------------------------------------------
# Encoding


def _codes(values, n: int, name: str, unlabelled=None) -> tuple[np.ndarray, list]:
    """Integer codes (-1 for `unlabelled` / None) and the sorted distinct labels."""
    vals = list(values)
    if len(vals) != n:
        raise ValueError(f"{name} has {len(vals)} entries but there are {n} points")
    missing = [v is None or (unlabelled is not None and v == unlabelled) for v in vals]
    keys = sorted({v for v, m in zip(vals, missing, strict=True) if not m}, key=_sort_key)
    index = {v: i for i, v in enumerate(keys)}
    codes = np.array(
        [-1 if m else index[v] for v, m in zip(vals, missing, strict=True)], dtype=np.int64
    )
    return codes, keys


def _sort_key(v):
    return (type(v).__name__, v) if isinstance(v, (int, float, str)) else (type(v).__name__, str(v))


def _cluster_codes(cluster_ids) -> tuple[np.ndarray, int]:
    ids = np.asarray(cluster_ids)
    if ids.ndim != 1 or len(ids) == 0:
        raise ValueError(f"cluster_ids must be a non-empty 1-D array, got shape {ids.shape}")
    _, codes = np.unique(ids, return_inverse=True)
    return codes.astype(np.int64), int(codes.max()) + 1


def purity(cluster_ids, labels, weights=None) -> float:
    """Standard purity: sum over clusters of the majority-label count / number of points
    (weighted sums with `weights`). None labels count as points but never as a majority."""
    g, k = _cluster_codes(cluster_ids)
    c, keys = _codes(labels, len(g), "labels")
    w = np.ones(len(g)) if weights is None else _weights(weights, len(g))
    return _purity(g, k, c, max(len(keys), 1), w)


def _purity(g, k, c, nc, w) -> float:
    lab = c >= 0
    cont = np.bincount(g[lab] * nc + c[lab], weights=w[lab], minlength=k * nc).reshape(k, nc)
    return float(cont.max(1).sum() / w.sum())


def _weights(weights, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be {n} finite non-negative numbers with a positive sum")
    return w


def _check_perms(perms, n: int) -> np.ndarray:
    p = np.asarray(perms)
    if p.ndim != 2 or p.shape[1] != n or not np.issubdtype(p.dtype, np.integer):
        raise ValueError(f"permutations must be integer indices of shape [P, N={n}], got {p.shape}")
    if len(p) and not (np.sort(p, axis=1) == np.arange(n)).all():
        raise ValueError("each row of permutations must be a permutation of 0..N-1")
    return p


def _check_point_weights(weights, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != n:
        raise ValueError(f"point_weights must have shape [R, N={n}], got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any() or (len(w) and (w.sum(1) <= 0).any()):
        raise ValueError("point_weights must be finite, non-negative, with a positive row sum")
    return w


def purity_estimates(cluster_ids, labels, *, permutations=None, point_weights=None) -> Estimate:
    """Purity with null draws (labels permuted over points, clusters fixed) and replicate draws
    (per-point weights [R, N], clustering fixed)."""
    g, k = _cluster_codes(cluster_ids)
    c, keys = _codes(labels, len(g), "labels")
    nc, ones = max(len(keys), 1), np.ones(len(g))
    perms = (
        _check_perms(permutations, len(g))
        if permutations is not None
        else np.empty((0, len(g)), int)
    )
    w = (
        _check_point_weights(point_weights, len(g))
        if point_weights is not None
        else np.empty((0, len(g)))
    )
    return Estimate(
        _purity(g, k, c, nc, ones),
        np.array([_purity(g, k, c[p], nc, ones) for p in perms]),
        np.array([_purity(g, k, c, nc, row) for row in w]),
    )


def hash_rank(keys: Sequence[Hashable], salt: str = "") -> np.ndarray:
    """Order of the items by sha256(salt + str(key)) (ascending hex digest; ties by position)."""
    digests = [hashlib.sha256(f"{salt}{key}".encode()).hexdigest() for key in keys]
    return np.array(sorted(range(len(digests)), key=lambda i: (digests[i], i)), dtype=np.int64)


def cap_indices(
    keys: Sequence[Hashable],
    cap: int,
    groups: Sequence[Hashable] | None = None,
    salt: str = "",
) -> np.ndarray:
    """Indices (ascending) of at most `cap` items, or `cap` per group: those with the smallest
    sha256(salt + str(key)). Keys should be unique and stable (e.g. "en_us/0042/3" for word 3 of
    sentence 42): the choice then does not depend on input order."""
    if isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or cap < 1:
        raise ValueError(f"cap must be a positive integer, got {cap!r}")
    keys = list(keys)
    order = hash_rank(keys, salt)
    if groups is None:
        return np.sort(order[:cap])
    groups = list(groups)
    if len(groups) != len(keys):
        raise ValueError(f"groups has {len(groups)} entries but there are {len(keys)} keys")
    taken: dict = {}
    chosen = []
    for i in order:
        count = taken.get(groups[i], 0)
        if count < cap:
            taken[groups[i]] = count + 1
            chosen.append(i)
    return np.sort(np.array(chosen, dtype=np.int64))

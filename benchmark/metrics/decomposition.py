"""Decompose a representation once (centred Gram matrix, eigen-basis of the top k directions) so
that every pair it appears in reuses the work; also the point estimates of SVCCA and linear CKA.

SVCCA (Raghu et al. 2017): centre each dimension; SVD; keep k directions (a fixed k, or the smallest
k whose share of the variance, i.e. of s^2, reaches a threshold); the canonical correlations are the
singular values of Ux_k^T Uy_k, where Ux_k, Uy_k are the kept left singular vectors (orthonormal
bases of the sample space, n x k); the score is their mean. When d > n the left singular vectors
come from an n x n eigendecomposition of the centred Gram matrix X X^T (much faster than an SVD of
X); the two routes agree to ~1e-10 in float64. SVCCA is biased upward as k approaches n, so
`decompose` refuses n < min_ratio * k.

Linear CKA (Kornblith et al. 2019): HSIC with centred linear Gram matrices,
<Kc, Lc>_F / (||Kc||_F ||Lc||_F). Debiased CKA replaces HSIC by its unbiased estimator
(Szekely & Rizzo 2014 U-centring; Song et al. 2012), which is ~0 for independent data at any n.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

Measure = Literal["svcca", "cka"]
MEASURES = ("svcca", "cka")
DTYPE = torch.float64


def measure_bounds(measure: str, debiased: bool = False) -> tuple[float, float]:
    """The range of a similarity score: [0, 1], except debiased CKA, which can be negative."""
    return (-1.0, 1.0) if measure == "cka" and debiased else (0.0, 1.0)


# Directions whose variance is below RANK_RTOL x the largest count as absent (rank, k checks).
RANK_RTOL = 1e-10


@dataclass(eq=False)
class Decomposition:
    """One representation (n sentences x d dims), decomposed once and reused for every pair.

    gram:     n x n Gram matrix of the column-centred data (float64)
    eigvals:  descending eigenvalues of `gram` = squared singular values s^2 of the centred data
              (min(n, d) values; None when no SVCCA basis was asked for)
    basis:    n x k orthonormal basis of the top-k sample-space directions (None if no k/variance)
    k:        directions kept (None if no basis); variance: the s^2-share rule that picked k, if any
    rank:     rank of the centred data (None when eigvals is None)
    route:    "gram" (n x n eigh, used when d > n), "svd" (SVD of the n x d data) or "none"
    """

    name: str
    gram: torch.Tensor
    d: int
    eigvals: torch.Tensor | None = None
    basis: torch.Tensor | None = None
    k: int | None = None
    variance: float | None = None
    rank: int | None = None
    route: str = "none"
    # n x c orthonormal basis of the sentence-space directions the data was residualised on
    # (length covariates shared by both sides of a pair): the null re-projects permuted data
    covariates: torch.Tensor | None = None
    _ucentred: torch.Tensor | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return self.gram.shape[0]

    @property
    def variance_kept(self) -> float | None:
        """Share of the total variance (of s^2) held by the k kept directions."""
        if self.eigvals is None or self.k is None:
            return None
        total = float(self.eigvals.sum())
        return float(self.eigvals[: self.k].sum()) / total if total > 0 else None

    def gram_for(self, debiased: bool) -> torch.Tensor:
        """The Gram matrix CKA uses: centred, or U-centred for debiased CKA (cached)."""
        if not debiased:
            return self.gram
        if self._ucentred is None:
            if self.n < 4:
                raise ValueError(
                    f"{self.name}: debiased CKA needs n >= 4 sentences, got n={self.n}"
                )
            self._ucentred = u_centre(self.gram)
        return self._ucentred


def _as_matrix(x, name: str) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    if t.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D matrix (sentences x dims), got shape {tuple(t.shape)}; "
            "pool each sentence to one vector and stack them"
        )
    if not (t.is_floating_point() or t.dtype in (torch.int32, torch.int64)):
        raise ValueError(f"{name}: expected numbers, got dtype {t.dtype}")
    t = t.detach().to("cpu", DTYPE)
    if t.shape[0] < 3:
        raise ValueError(f"{name}: need at least 3 sentences (rows), got {t.shape[0]}")
    bad = ~torch.isfinite(t)
    if bad.any():
        i, j = (int(v) for v in bad.nonzero()[0])
        raise ValueError(
            f"{name}: {int(bad.sum())} non-finite values (first at row {i}, column {j}); "
            "drop or fix those sentences on every side before comparing"
        )
    return t


def _check_k(
    name: str, k: int, n: int, d: int, rank: int, min_ratio: float, variance: float | None
) -> None:
    how = f"k={k} (picked by variance={variance:g}, a share of s^2)" if variance else f"k={k}"
    if k > rank:
        raise ValueError(
            f"{name}: {how} exceeds the rank {rank} of the centred data (n={n}, d={d}); "
            f"use k <= {rank}"
        )
    if n < min_ratio * k:
        raise ValueError(
            f"{name}: SVCCA with {how} on n={n} sentences; SVCCA is biased upward as k approaches "
            f"n, so n >= min_ratio*k is required (min_ratio={min_ratio:g}, needs n >= "
            f"{math.ceil(min_ratio * k)}). Use a smaller k (<= {int(n // min_ratio)}) or a lower "
            "variance share, more sentences, or pass a smaller min_ratio knowingly"
        )


def k_for_variance(eigvals: torch.Tensor, variance: float) -> int:
    """Smallest k whose share of the total variance (sum of s^2 = eigenvalues) reaches `variance`."""
    share = torch.cumsum(eigvals, 0) / eigvals.sum()
    # a tiny tolerance so that e.g. exactly 0.9 of the variance satisfies variance=0.9
    return int(torch.searchsorted(share, torch.tensor(variance - 1e-12, dtype=share.dtype))) + 1


def one_thread(fn):
    """Run `fn` with torch on one thread. The metric stage is many small batched eigh/SVD calls:
    extra threads only add spin-waiting (40x slower seen with two threads on a busy 2-core
    machine, and never faster on an idle one)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)

    return wrapper


@one_thread
def decompose(
    x,
    k: int | None = None,
    variance: float | None = None,
    *,
    min_ratio: float = 4.0,
    route: Literal["auto", "gram", "svd"] = "auto",
    name: str = "x",
) -> Decomposition:
    """Centre x (n sentences x d dims) and decompose it once for reuse across pairs.

    Give `k` (fixed number of SVCCA directions) or `variance` (smallest k whose share of s^2 reaches
    it), or neither for CKA only. Raises ValueError if k exceeds the rank or n < min_ratio * k.
    `route`: "gram" = eigh of the n x n Gram matrix, "svd" = SVD of the data; "auto" picks gram when
    d > n. `name` labels errors (e.g. "es_419/layer_3").
    """
    t = _as_matrix(x, name)
    n, d = t.shape
    if k is not None and variance is not None:
        raise ValueError(f"{name}: give k or variance, not both (got k={k}, variance={variance})")
    if k is not None and (not isinstance(k, (int, np.integer)) or k < 1):
        raise ValueError(f"{name}: k must be a positive integer, got {k!r}")
    if variance is not None and not 0 < variance <= 1:
        raise ValueError(f"{name}: variance must be a share in (0, 1], got {variance!r}")
    if min_ratio < 1:
        raise ValueError(f"{name}: min_ratio must be >= 1, got {min_ratio!r}")
    xc = t - t.mean(0, keepdim=True)
    gram = xc @ xc.T
    gram = (gram + gram.T) / 2  # exact symmetry for eigh and for permutation identities
    if k is None and variance is None:
        return Decomposition(name=name, gram=gram, d=d)

    route = ("gram" if d > n else "svd") if route == "auto" else route
    if route == "gram":
        evals, evecs = torch.linalg.eigh(gram)
        evals, evecs = evals.flip(0)[: min(n, d)].clamp_min(0), evecs.flip(1)
    elif route == "svd":
        evecs, s, _ = torch.linalg.svd(xc, full_matrices=False)
        evals = s**2
    else:
        raise ValueError(f"{name}: route must be 'auto', 'gram' or 'svd', got {route!r}")
    top = float(evals[0]) if len(evals) else 0.0
    rank = int((evals > RANK_RTOL * top).sum()) if top > 0 else 0
    if rank == 0:
        raise ValueError(
            f"{name}: the data is constant across sentences (rank 0); nothing to compare"
        )
    if variance is not None:
        k = k_for_variance(evals[:rank], variance)
    _check_k(name, int(k), n, d, rank, min_ratio, variance)
    k = int(k)
    return Decomposition(
        name=name,
        gram=gram,
        d=d,
        eigvals=evals,
        basis=evecs[:, :k].contiguous(),
        k=k,
        variance=variance,
        rank=rank,
        route=route,
    )


def u_centre(gram: torch.Tensor) -> torch.Tensor:
    """Szekely-Rizzo U-centring (last two dims): <U(K), U(L)> / (n(n-3)) is the unbiased HSIC."""
    n = gram.shape[-1]
    g = gram.clone()
    g.diagonal(dim1=-2, dim2=-1).zero_()
    means = g.sum(-1) / (n - 2)
    means = means - means.sum(-1, keepdim=True) / (2 * (n - 1))
    g = g - means[..., :, None] - means[..., None, :]
    g.diagonal(dim1=-2, dim2=-1).zero_()
    return g


def _same_n(dx: Decomposition, dy: Decomposition) -> None:
    if dx.n != dy.n:
        raise ValueError(
            f"{dx.name} has n={dx.n} sentences but {dy.name} has n={dy.n}; rows must be the "
            "same sentences in the same order on both sides"
        )


def _need_basis(dec: Decomposition) -> torch.Tensor:
    if dec.basis is None:
        raise ValueError(
            f"{dec.name}: decomposed without an SVCCA basis; call decompose(x, k=...) or "
            "decompose(x, variance=...)"
        )
    return dec.basis


def svcca_correlations(dx: Decomposition, dy: Decomposition) -> torch.Tensor:
    """Canonical correlations (descending, min(k_x, k_y) of them) between the kept subspaces."""
    _same_n(dx, dy)
    return torch.linalg.svdvals(_need_basis(dx).T @ _need_basis(dy)).clamp(0, 1)


def svcca_from(dx: Decomposition, dy: Decomposition) -> float:
    """SVCCA score: mean canonical correlation of the kept subspaces."""
    return float(svcca_correlations(dx, dy).mean())


def _norm(g: torch.Tensor, name: str) -> float:
    v = float(torch.linalg.vector_norm(g))
    if v == 0:
        raise ValueError(f"{name}: the data is constant across sentences; CKA is undefined")
    return v


def cka_from(dx: Decomposition, dy: Decomposition, debiased: bool = False) -> float:
    """Linear CKA from the centred Gram matrices (debiased: from U-centred ones)."""
    _same_n(dx, dy)
    gx, gy = dx.gram_for(debiased), dy.gram_for(debiased)
    return float((gx * gy).sum()) / (_norm(gx, dx.name) * _norm(gy, dy.name))

"""Representation similarity: SVCCA and linear CKA, with permutation nulls and CIs over sentences.

Built for a language-pair matrix: each (language, layer) representation — an n x d matrix whose
rows are the same n sentences in every language — is decomposed ONCE (`decompose`), and every pair
it appears in reuses that decomposition (`svcca_from`, `cka_from`, `pairwise_matrix`).

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

Permutation null: shuffle the sentence pairing of one side. For SVCCA that permutes the rows of one
basis (the bases stay orthonormal and centred, so no new decomposition); for CKA it permutes the
rows and columns of one Gram matrix. The same permutations serve every pair.

Confidence intervals over sentences. Every CI method is a set of weighted replicates of the
sentences (the same weights on both sides and, in a matrix, for every language, so each language's
replicate is computed once): the indexed Gram matrix K[idx][:, idx] is re-centred (the d-dim data
is never touched) and the score recomputed, batched (torch.linalg.eigh on a stack for SVCCA). SVCCA
keeps each side's k fixed per replicate (the k of the point estimate, also when a variance rule
picked it), so replicates measure the same quantity. A replicate is computed exactly on its
distinct sentences, weighted by their counts (an m x m problem, m = distinct sentences).
  - "subsample" (default): random half-samples without replacement; CI = score +- z * SE with the
    delete-d jackknife SE (Shao & Wu 1989). In simulations (n = 200, k = 10) its SE was 1.0-1.2x
    the true sampling sd for SVCCA and CKA.
  - "jackknife": delete-a-group (or leave-one-out); right for CKA (1.0-1.2x), 1.6-4.4x too wide
    for SVCCA, whose top-k selection is not smooth.
  - "percentile": the bootstrap (resampling with replacement), as in the usual recipe. A resample
    holds ~63% distinct sentences and duplicates lower the effective rank (at most #distinct - 1).
    Worse, a sentence drawn 3 times weighs 3 times on BOTH sides, which creates shared structure:
    replicates are shifted upward. Measured: independent white data, SVCCA 0.29 (null 0.27) ->
    bootstrap CI [0.56, 0.69]; CKA with a real signal: 95% CI coverage 0.0-0.8. Kept for
    comparison; do not report it.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from scipy.stats import norm as normal
from scipy.stats import t as student_t

Measure = Literal["svcca", "cka"]
MEASURES = ("svcca", "cka")
CiMethod = Literal["subsample", "jackknife", "percentile"]
CI_METHODS = ("subsample", "jackknife", "percentile")
DTYPE = torch.float64
# Directions whose variance is below RANK_RTOL x the largest count as absent (rank, k checks).
RANK_RTOL = 1e-10
# Upper bound on the size of one batched working tensor (bytes); chunks are sized to fit it.
CHUNK_BYTES = 128 * 2**20


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


@dataclass
class PairScore:
    """A similarity score with its permutation null and bootstrap CI (None where not computed)."""

    measure: str  # "svcca", "cka" or "cka_debiased"
    score: float
    n: int
    k_x: int | None = None
    k_y: int | None = None
    correlations: tuple[float, ...] | None = None  # SVCCA canonical correlations, descending
    n_null: int = 0
    null_mean: float | None = None
    null_sd: float | None = None
    p_value: float | None = None  # (1 + #null >= score) / (1 + n_null), one-sided
    n_boot: int = 0  # replicates used for the CI (half-samples, jackknife groups or resamples)
    ci_method: str | None = None  # "subsample", "jackknife" or "percentile" (bootstrap)
    ci_level: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    se: float | None = None  # standard error (subsample / jackknife) or bootstrap sd
    null_draws: np.ndarray | None = field(default=None, repr=False)
    boot_draws: np.ndarray | None = field(default=None, repr=False)

    @property
    def z(self) -> float | None:
        """Standard score of the observed value against the permutation null."""
        if self.null_mean is None or not self.null_sd:
            return None
        return (self.score - self.null_mean) / self.null_sd

    def to_dict(self, draws: bool = False) -> dict:
        """JSON-ready record; the raw draws only when `draws` is true."""
        out = {
            k: getattr(self, k)
            for k in (
                "measure",
                "score",
                "n",
                "k_x",
                "k_y",
                "n_null",
                "null_mean",
                "null_sd",
                "p_value",
                "n_boot",
                "ci_method",
                "ci_level",
                "ci_low",
                "ci_high",
                "se",
            )
        }
        out["z"] = self.z
        out["correlations"] = list(self.correlations) if self.correlations is not None else None
        if draws:
            for k in ("null_draws", "boot_draws"):
                v = getattr(self, k)
                out[k] = v.tolist() if v is not None else None
        return out


# --------------------------------------------------------------------------------------------
# Decomposition


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


# --------------------------------------------------------------------------------------------
# Point estimates


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


# --------------------------------------------------------------------------------------------
# Draws: null (permutations) and bootstrap (resampled indices), for many pairs at once


def _chunk(total: int, bytes_per_item: int) -> int:
    return max(1, min(total, CHUNK_BYTES // max(1, bytes_per_item)))


def _group_by_second(pairs: list[tuple]) -> dict:
    out: dict = {}
    for a, b in pairs:
        out.setdefault(b, []).append(a)
    return out


def _mean_svdvals(m: torch.Tensor) -> torch.Tensor:
    return torch.linalg.svdvals(m).clamp(0, 1).mean(-1)


def null_draws(
    decomps: Mapping[Hashable, Decomposition],
    pairs: list[tuple],
    measure: Measure,
    perms: torch.Tensor,
    debiased: bool = False,
) -> dict[tuple, torch.Tensor]:
    """Scores of each pair (a, b) with b's sentences permuted by each row of `perms` (N x n)."""
    out = {}
    n_perm, n = perms.shape
    for b, firsts in _group_by_second(pairs).items():
        db = decomps[b]
        if measure == "svcca":
            ub = _need_basis(db)
            step = _chunk(n_perm, n * ub.shape[1] * 8)
            parts: dict = {a: [] for a in firsts}
            for s in range(0, n_perm, step):
                p = perms[s : s + step]
                # (n, C*kb): permuted bases side by side, so one GEMM serves the whole chunk
                ubp = ub[p].permute(1, 0, 2).reshape(n, -1)
                for a in firsts:
                    ua = _need_basis(decomps[a])
                    m = (ua.T @ ubp).reshape(ua.shape[1], len(p), -1).permute(1, 0, 2)
                    parts[a].append(_mean_svdvals(m))
            for a in firsts:
                out[(a, b)] = torch.cat(parts[a])
        else:
            gb = db.gram_for(debiased)
            nb = _norm(gb, db.name)
            fa = torch.stack([decomps[a].gram_for(debiased).reshape(-1) for a in firsts])
            na = torch.tensor(
                [_norm(decomps[a].gram_for(debiased), decomps[a].name) for a in firsts],
                dtype=DTYPE,
            )
            step = _chunk(n_perm, n * n * 8)
            chunks = []
            for s in range(0, n_perm, step):
                p = perms[s : s + step]
                gbp = gb[p[:, :, None], p[:, None, :]].reshape(len(p), -1)
                chunks.append(fa @ gbp.T)  # (La, C) HSIC numerators
            hs = torch.cat(chunks, 1) / (na[:, None] * nb)
            for i, a in enumerate(firsts):
                out[(a, b)] = hs[i]
    return out


def _distinct(counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per replicate (rows of counts, R x n): the sentences with nonzero weight, padded to a common
    width m with zero-weight sentences, and their weights."""
    m = int((counts > 0).sum(1).max())
    # present sentences first (stable), then absent ones as zero-weight padding
    order = torch.argsort((counts == 0).to(torch.int8), dim=1, stable=True)[:, :m]
    return order, counts.gather(1, order)


def replicate_grams(gram: torch.Tensor, uniq: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Re-centred Gram matrices of weighted replicates, reduced to their distinct sentences.

    A replicate is a weight (count) per sentence: bootstrap counts, or 0/1 for the jackknife. With
    E the selection of the replicate's rows (sentence u repeated c_u times), its re-centred Gram is
    E A E^T where A = Hw K[u][:, u] Hw^T and Hw centres with weights c/sum(c). G = C^1/2 A C^1/2
    (m x m) has the same nonzero spectrum, <G_x, G_y> equals the replicate's HSIC numerator, and
    its top eigenvectors Q give the replicate's canonical correlations as svdvals(Q_x^T Q_y).
    """
    ku = gram[uniq[:, :, None], uniq[:, None, :]]
    w = counts / counts.sum(1, keepdim=True)
    r = (ku @ w[:, :, None])[..., 0]
    s = (r * w).sum(1)
    a = ku - r[:, :, None] - r[:, None, :] + s[:, None, None]
    sq = counts.sqrt()
    return sq[:, :, None] * a * sq[:, None, :]


def _expanded_ucentred(gram: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """U-centred Gram of each replicate over its rows with duplicates repeated (R x N x N; every
    replicate must have the same total weight N). U-centring makes re-centring unnecessary."""
    n = counts.shape[1]
    idx = torch.stack([torch.repeat_interleave(torch.arange(n), c.to(torch.int64)) for c in counts])
    return u_centre(gram[idx[:, :, None], idx[:, None, :]])


def _top_k_basis(g: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k eigenvectors of each replicate Gram (R x m x m) and a mask of usable replicates."""
    evals, evecs = torch.linalg.eigh(g)
    ok = evals[:, -k] > RANK_RTOL * evals[:, -1]  # k-th direction present in this replicate
    return evecs[:, :, -k:].flip(-1), ok


def replicate_draws(
    decomps: Mapping[Hashable, Decomposition],
    pairs: list[tuple],
    measure: Measure,
    counts: torch.Tensor,
    debiased: bool = False,
) -> dict[tuple, torch.Tensor]:
    """Scores of each pair on each weighted replicate (rows of counts: R x n sentence weights —
    bootstrap counts, or 0/1 to leave sentences out).

    Every language's replicate (basis or Gram) is computed once per replicate and shared by all
    its pairs; sentences keep the same weights on both sides. SVCCA keeps each side's k; replicates
    where a side has fewer than k directions give NaN.
    """
    n_rep, n = counts.shape
    counts = counts.to(DTYPE)
    langs = list(dict.fromkeys(x for p in pairs for x in p))
    if measure == "cka":  # every language's replicate Gram, stacked twice for the batched products
        width = 2 * len(langs) * n * n * 8
    else:  # eigh workspace for one language plus every language's replicate basis
        width = 4 * n * n * 8 + sum(decomps[lang].k or 0 for lang in langs) * n * 8
    step = _chunk(n_rep, width)
    if measure == "cka" and debiased:
        # the U-centred form needs equal replicate sizes in a batch: group by total weight
        sizes = counts.sum(1)
        batches = [(sizes == v).nonzero()[:, 0] for v in sizes.unique()]
    else:
        batches = [torch.arange(n_rep)]
    batches = [b[s : s + step] for b in batches for s in range(0, len(b), step)]
    parts: dict = {p: [] for p in pairs}
    for rows in batches:
        cw = counts[rows]
        if measure == "cka" and debiased:
            reps = {lang: _expanded_ucentred(decomps[lang].gram, cw).flatten(1) for lang in langs}
        else:
            uniq, cu = _distinct(cw)
            reps = {}
            for lang in langs:
                g = replicate_grams(decomps[lang].gram, uniq, cu)
                reps[lang] = _top_k_basis(g, decomps[lang].k or 0) if measure == "svcca" else g
        if measure == "svcca":
            for a, b in pairs:
                (qa, oka), (qb, okb) = reps[a], reps[b]
                v = _mean_svdvals(qa.transpose(1, 2) @ qb)
                parts[(a, b)].append((rows, torch.where(oka & okb, v, torch.nan)))
        else:
            stack = torch.stack([reps[lang].flatten(1) for lang in langs], 1)  # (R, L, q)
            hs = stack @ stack.transpose(1, 2)  # (R, L, L): every HSIC numerator per replicate
            nrm = hs.diagonal(dim1=1, dim2=2).clamp_min(0).sqrt()
            cka = hs / (nrm[:, :, None] * nrm[:, None, :])
            pos = {lang: i for i, lang in enumerate(langs)}
            for a, b in pairs:
                parts[(a, b)].append((rows, cka[:, pos[a], pos[b]]))
    out = {}
    for p, chunks in parts.items():
        v = torch.empty(n_rep, dtype=DTYPE)
        for rows, vals in chunks:
            v[rows] = vals
        out[p] = v
    return out


def bootstrap_counts(idx: torch.Tensor) -> torch.Tensor:
    """Per-sentence counts (B x n) of bootstrap resamples given as indices (B x n)."""
    return torch.zeros(idx.shape, dtype=DTYPE).scatter_add_(
        1, idx, torch.ones(idx.shape, dtype=DTYPE)
    )


def jackknife_counts(n: int, groups: int, seed: int) -> torch.Tensor:
    """0/1 weights (groups x n): replicate g leaves out the g-th of `groups` random, near-equal
    blocks of sentences (delete-a-group jackknife)."""
    if not 2 <= groups <= n:
        raise ValueError(f"jackknife needs 2 <= groups <= n={n}, got {groups}")
    g = torch.Generator().manual_seed(_seeds(seed)[1])
    block = torch.empty(n, dtype=torch.int64)
    block[torch.randperm(n, generator=g)] = torch.arange(n) % groups
    return (block[None, :] != torch.arange(groups)[:, None]).to(DTYPE)


def subsample_counts(n: int, reps: int, seed: int) -> torch.Tensor:
    """0/1 weights (reps x n): each replicate keeps a random half (n // 2) of the sentences."""
    if n < 8:
        raise ValueError(f"half-sampling needs n >= 8 sentences, got n={n}")
    g = torch.Generator().manual_seed(_seeds(seed)[1])
    keep = torch.argsort(torch.rand(reps, n, generator=g, dtype=DTYPE), dim=1)[:, : n // 2]
    return torch.zeros(reps, n, dtype=DTYPE).scatter_(1, keep, 1.0)


def bootstrap_draws(
    decomps: Mapping[Hashable, Decomposition],
    pairs: list[tuple],
    measure: Measure,
    idx: torch.Tensor,
    debiased: bool = False,
) -> dict[tuple, torch.Tensor]:
    """Scores of each pair on each bootstrap resample (rows of idx: B x n sentence indices)."""
    return replicate_draws(decomps, pairs, measure, bootstrap_counts(idx), debiased)


# --------------------------------------------------------------------------------------------
# Top-level API


def _seeds(seed: int) -> tuple[int, int]:
    """Independent streams for the null and the bootstrap, so one does not shift the other."""
    a, b = np.random.SeedSequence(seed).spawn(2)
    return int(a.generate_state(1)[0]), int(b.generate_state(1)[0])


def permutations(n: int, n_null: int, seed: int) -> torch.Tensor:
    """The `n_null` x n sentence permutations `pairwise_matrix(seed=seed)` uses."""
    g = torch.Generator().manual_seed(_seeds(seed)[0])
    return torch.argsort(torch.rand(n_null, n, generator=g, dtype=DTYPE), dim=1)


def resamples(n: int, n_boot: int, seed: int) -> torch.Tensor:
    """The `n_boot` x n bootstrap sentence indices `pairwise_matrix(seed=seed)` uses."""
    g = torch.Generator().manual_seed(_seeds(seed)[1])
    return torch.randint(0, n, (n_boot, n), generator=g)


def _validate(decomps, pairs, measure, n_null, n_boot, ci, ci_method) -> int:
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    if n_null < 0 or n_boot < 0:
        raise ValueError(f"n_null and n_boot must be >= 0, got {n_null}, {n_boot}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must be a level in (0, 1), e.g. 0.95; got {ci!r}")
    if ci_method not in CI_METHODS:
        raise ValueError(f"ci_method must be one of {CI_METHODS}, got {ci_method!r}")
    if not decomps:
        raise ValueError("decomps is empty: give at least two decompositions")
    ns = {key: d.n for key, d in decomps.items()}
    if len(set(ns.values())) > 1:
        raise ValueError(
            f"all representations must hold the same sentences; n differs: {ns}. Keep the "
            "sentences present for every language (same ids, same order)"
        )
    for p in pairs:
        if len(p) != 2:
            raise ValueError(f"pairs must be (a, b) tuples, got {p!r}")
        for key in p:
            if key not in decomps:
                raise ValueError(f"pair {p!r}: no decomposition named {key!r}")
            if measure == "svcca":
                _need_basis(decomps[key])
    return next(iter(ns.values()))


def interval_from_replicates(
    v: torch.Tensor, score: float, method: str, ci: float, n: int
) -> tuple[float, float, float]:
    """(low, high, se) from replicate scores.

    percentile: quantiles of the bootstrap draws. jackknife: score +- t(G-1) * SE with the
    delete-group SE sqrt((G-1)/G * sum (v - mean)^2). subsample: score +- z * SE with the delete-d
    jackknife SE sqrt(r/d * mean (v - mean)^2) (r kept, d = n - r left out; Shao & Wu 1989).
    """
    if method == "percentile":
        lo_hi = torch.tensor([(1 - ci) / 2, (1 + ci) / 2], dtype=DTYPE)
        lo, hi = (float(q) for q in torch.quantile(v, lo_hi))
        return lo, hi, float(v.std())
    dev2 = float(((v - v.mean()) ** 2).mean())
    if method == "jackknife":
        g = len(v)
        se = math.sqrt((g - 1) * dev2)
        half = float(student_t.ppf((1 + ci) / 2, g - 1)) * se
    else:
        kept = n // 2
        se = math.sqrt(kept / (n - kept) * dev2)
        half = float(normal.ppf((1 + ci) / 2)) * se
    return score - half, score + half, se


@one_thread
def pairwise_matrix(
    decomps: Mapping[Hashable, Decomposition],
    measure: Measure = "svcca",
    *,
    pairs: Iterable[tuple] | None = None,
    debiased: bool = False,
    n_null: int = 0,
    n_boot: int = 0,
    ci: float = 0.95,
    ci_method: CiMethod = "subsample",
    seed: int = 0,
    keep_draws: bool = False,
) -> dict[tuple, PairScore]:
    """Score every pair (default: each unordered pair once, in `decomps` order).

    n_null: permutation null from that many shuffles of b's sentence pairing (mean, sd, p-value).
    n_boot: replicates for a CI at level `ci` over sentences, by `ci_method`:
      "subsample" (default): n_boot random half-samples without replacement, CI = score +- z*SE
        (delete-d jackknife SE); right-sized for SVCCA and CKA in simulations (module doc);
      "jackknife": min(n_boot, n) delete-a-group replicates (n_boot >= n: leave-one-out),
        CI = score +- t*SE; good for CKA, 1.6-4x too wide for SVCCA;
      "percentile": n_boot bootstrap resamples, percentile CI. Shifted upward by duplicated
        sentences, for SVCCA and CKA alike: it can exclude the point estimate (module doc).
    Deterministic given `seed`: the same permutations and replicates serve every pair whatever
    the number of languages, so `compare` gives identical numbers and replicate draws of
    different pairs (keep_draws=True) can be differenced for paired comparisons.
    """
    keys = list(decomps)
    pairs = (
        [(keys[i], keys[j]) for i in range(len(keys)) for j in range(i + 1, len(keys))]
        if pairs is None
        else [tuple(p) for p in pairs]
    )
    n = _validate(decomps, pairs, measure, n_null, n_boot, ci, ci_method)
    label = "cka_debiased" if (measure == "cka" and debiased) else measure
    out: dict[tuple, PairScore] = {}
    for a, b in pairs:
        da, db = decomps[a], decomps[b]
        if measure == "svcca":
            corr = svcca_correlations(da, db)
            out[(a, b)] = PairScore(
                label, float(corr.mean()), n, da.k, db.k, correlations=tuple(corr.tolist())
            )
        else:
            out[(a, b)] = PairScore(label, cka_from(da, db, debiased), n)
    if n_null:
        draws = null_draws(decomps, pairs, measure, permutations(n, n_null, seed), debiased)
        for p, v in draws.items():
            ps = out[p]
            ps.n_null, ps.null_mean, ps.null_sd = n_null, float(v.mean()), float(v.std())
            ps.p_value = (1 + int((v >= ps.score - 1e-12).sum())) / (1 + n_null)
            if keep_draws:
                ps.null_draws = v.numpy()
    if n_boot:
        method = ci_method
        if method == "percentile":
            counts = bootstrap_counts(resamples(n, n_boot, seed))
        elif method == "jackknife":
            counts = jackknife_counts(n, min(n_boot, n), seed)
        else:
            counts = subsample_counts(n, n_boot, seed)
        draws = replicate_draws(decomps, pairs, measure, counts, debiased)
        for p, v in draws.items():
            ps, ok = out[p], v[~torch.isnan(v)]
            if len(ok) < len(v):
                warnings.warn(
                    f"pair {p}: {len(v) - len(ok)} of {len(v)} {method} replicates had fewer "
                    f"distinct directions than k; CI from the other {len(ok)}",
                    stacklevel=2,
                )
            ps.n_boot, ps.ci_level, ps.ci_method = len(ok), ci, method
            if len(ok) >= 2:
                ps.ci_low, ps.ci_high, ps.se = interval_from_replicates(ok, ps.score, method, ci, n)
            if keep_draws:
                ps.boot_draws = v.numpy()
    return out


def compare(
    x,
    y,
    measure: Measure = "svcca",
    *,
    k: int | None = None,
    variance: float | None = None,
    debiased: bool = False,
    min_ratio: float = 4.0,
    n_null: int = 0,
    n_boot: int = 0,
    ci: float = 0.95,
    ci_method: CiMethod = "subsample",
    seed: int = 0,
    keep_draws: bool = False,
    names: tuple[str, str] = ("x", "y"),
) -> PairScore:
    """One pair from raw matrices (rows = the same sentences): decompose both, then score.

    For SVCCA give k or variance. Same numbers as `pairwise_matrix` for the same seed.
    """
    if measure == "svcca" and k is None and variance is None:
        raise ValueError("SVCCA needs k (directions kept) or variance (share of s^2), e.g. k=20")
    if names[0] == names[1]:
        raise ValueError(f"names must differ, got {names!r}")
    kw = {"k": k, "variance": variance} if measure == "svcca" else {}
    dx = decompose(x, min_ratio=min_ratio, name=names[0], **kw)
    dy = decompose(y, min_ratio=min_ratio, name=names[1], **kw)
    res = pairwise_matrix(
        {names[0]: dx, names[1]: dy},
        measure,
        debiased=debiased,
        n_null=n_null,
        n_boot=n_boot,
        ci=ci,
        ci_method=ci_method,
        seed=seed,
        keep_draws=keep_draws,
    )
    return res[names]

"""Replicates of the sentences for confidence intervals: half-samples, jackknife groups or
bootstrap resamples, each a weight per sentence, scored for many pairs at once.

Every CI method is a set of weighted replicates of the sentences (the same weights on both sides
and, in a matrix, for every language, so each language's replicate is computed once): the indexed
Gram matrix K[idx][:, idx] is re-centred (the d-dim data is never touched) and the score
recomputed, batched (torch.linalg.eigh on a stack for SVCCA). SVCCA keeps each side's k fixed per
replicate (the k of the point estimate, also when a variance rule picked it), so replicates measure
the same quantity. A replicate is computed exactly on its distinct sentences, weighted by their
counts (an m x m problem, m = distinct sentences). See benchmark.metrics.intervals for how the
replicates become an interval.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch

from benchmark.metrics.decomposition import DTYPE, RANK_RTOL, Decomposition, Measure, u_centre
from benchmark.metrics.nulls import _chunk, _mean_svdvals, seed_streams


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
    g = torch.Generator().manual_seed(seed_streams(seed)[1])
    block = torch.empty(n, dtype=torch.int64)
    block[torch.randperm(n, generator=g)] = torch.arange(n) % groups
    return (block[None, :] != torch.arange(groups)[:, None]).to(DTYPE)


def subsample_counts(n: int, reps: int, seed: int) -> torch.Tensor:
    """0/1 weights (reps x n): each replicate keeps a random half (n // 2) of the sentences."""
    if n < 8:
        raise ValueError(f"half-sampling needs n >= 8 sentences, got n={n}")
    g = torch.Generator().manual_seed(seed_streams(seed)[1])
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


def resamples(n: int, n_resamples: int, seed: int) -> torch.Tensor:
    """The `n_resamples` x n bootstrap sentence indices `pairwise_matrix(seed=seed)` uses."""
    g = torch.Generator().manual_seed(seed_streams(seed)[1])
    return torch.randint(0, n, (n_resamples, n), generator=g)


def replicate_counts(method: str, n: int, n_resamples: int, seed: int) -> torch.Tensor:
    """Sentence weights (R x n) of the replicates a CI method uses: half-samples ("subsample"),
    min(n_resamples, n) delete-a-group blocks ("jackknife"), or bootstrap counts ("percentile")."""
    if method == "percentile":
        return bootstrap_counts(resamples(n, n_resamples, seed))
    if method == "jackknife":
        return jackknife_counts(n, min(n_resamples, n), seed)
    if method == "subsample":
        return subsample_counts(n, n_resamples, seed)
    raise ValueError(f"ci_method must be subsample, jackknife or percentile, got {method!r}")

"""Permutation nulls: the same score with the sentence pairing of one side shuffled.

For SVCCA that permutes the rows of one basis (the bases stay orthonormal and centred, so no new
decomposition); for CKA it permutes the rows and columns of one Gram matrix.

When both sides were residualised on the same covariates (`Decomposition.covariates`: the
length features of a pair), both live in the complement of those covariates, and a permuted side
would not: the null would then miss the structure the shared projection gives every pair, and
noise would clear it. So the permuted side is projected again, as the data was (Freedman and
Lane 1983): its basis re-orthonormalised after projection, its Gram matrix projected on both
sides. The same permutations
serve every pair, and every layer, so draws can be averaged over pairs and maximised over layers
draw by draw (benchmark.metrics.statistics).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch

from benchmark.metrics.decomposition import (
    DTYPE,
    Decomposition,
    Measure,
    _need_basis,
    _norm,
    u_centre,
)

# Upper bound on the size of one batched working tensor (bytes); chunks are sized to fit it.
CHUNK_BYTES = 128 * 2**20


def seed_streams(seed: int) -> tuple[int, int]:
    """Independent streams for the null and the replicates, so one does not shift the other."""
    a, b = np.random.SeedSequence(seed).spawn(2)
    return int(a.generate_state(1)[0]), int(b.generate_state(1)[0])


def permutations(n: int, n_null: int, seed: int, strata=None) -> torch.Tensor:
    """The `n_null` x n sentence permutations that `pairwise_matrix(seed=seed)` uses.

    With `strata` (one label per sentence), each sentence moves only within its stratum, to
    another sentence of it (a random cyclic derangement of each stratum: in strata of 5 a plain
    shuffle would leave a fifth of the pairs in place and lift the null of any model that knows
    them): a null that keeps what the strata share, e.g. length (`length_strata`)."""
    g = torch.Generator().manual_seed(seed_streams(seed)[0])
    noise = torch.rand(n_null, n, generator=g, dtype=DTYPE)
    if strata is None:
        return torch.argsort(noise, dim=1)
    labels = np.unique(np.asarray(strata), return_inverse=True)[1].reshape(-1)
    sizes = np.bincount(labels)
    starts = np.repeat(
        np.cumsum(sizes) - sizes, sizes
    )  # where each grouped position's stratum starts
    place = np.arange(n) - starts
    following = torch.as_tensor(starts + (place + 1) % np.repeat(sizes, sizes))
    # each row: the sentences stratum by stratum, each stratum in a random order
    order = torch.argsort(torch.as_tensor(labels, dtype=DTYPE)[None, :] + noise, dim=1)
    perms = torch.empty(n_null, n, dtype=torch.long)
    perms.scatter_(1, order, order[:, following])  # each sentence takes the next one's place
    return perms


def length_strata(lengths: np.ndarray, size: int = 5) -> np.ndarray:
    """Strata of about `size` sentences of similar length (rank bins of `lengths`, one value per
    sentence): a permutation within them keeps length, so a representation of length alone (and
    noise whose scale follows length) sits at the null."""
    n = len(lengths)
    ranks = np.argsort(np.argsort(np.asarray(lengths), kind="stable"), kind="stable")
    return ranks * max(1, n // size) // n


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
                ubp = _project_basis(ub[p], db.covariates)  # (C, n, kb)
                # (n, C*kb): permuted bases side by side, so one GEMM serves the whole chunk
                ubp = ubp.permute(1, 0, 2).reshape(n, -1)
                for a in firsts:
                    ua = _need_basis(decomps[a])
                    m = (ua.T @ ubp).reshape(ua.shape[1], len(p), -1).permute(1, 0, 2)
                    parts[a].append(_mean_svdvals(m))
            for a in firsts:
                out[(a, b)] = torch.cat(parts[a])
        elif db.covariates is not None:
            for a in firsts:
                out[(a, b)] = _projected_cka(decomps[a], db, perms, debiased)
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


def _project_basis(ubp: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
    """Permuted bases (C, n, k) with the covariate directions `z` (n, c) projected out and
    re-orthonormalised (the permuted data residualised as the data was)."""
    if z is None:
        return ubp
    return torch.linalg.qr(ubp - z @ (z.T @ ubp)).Q


def _projected_cka(
    da: Decomposition, db: Decomposition, perms: torch.Tensor, debiased: bool
) -> torch.Tensor:
    """Linear CKA of a against b's Gram matrix permuted, then projected off the covariates Z
    (H = I - Z Z^T). a's Gram matrix is already projected (H Ga H = Ga), so the numerator is
    <Ga, Gp> as without covariates, and ||H Gp H||^2 = ||G||^2 - 2 ||Gp Z||^2 + ||Z^T Gp Z||^2:
    n^2 c work per permutation instead of two n^3 products (debiased CKA, U-centred after the
    projection, takes the explicit route)."""
    z = db.covariates
    ga = da.gram_for(debiased)
    na = _norm(ga, da.name)
    g = db.gram
    out = []
    step = _chunk(len(perms), perms.shape[1] ** 2 * 8 * 3)
    for s in range(0, len(perms), step):
        p = perms[s : s + step]
        gp = g[p[:, :, None], p[:, None, :]]
        if debiased:
            h = torch.eye(g.shape[0], dtype=DTYPE) - z @ z.T
            gp = u_centre(h @ gp @ h)
            num = (gp * ga).sum((-2, -1))
            out.append(num / (na * torch.linalg.vector_norm(gp, dim=(-2, -1))))
            continue
        num = (gp * ga).sum((-2, -1))
        gz = gp @ z  # (C, n, c)
        ztgz = z.T @ gz  # (C, c, c)
        sq = (g * g).sum() - 2 * (gz * gz).sum((-2, -1)) + (ztgz * ztgz).sum((-2, -1))
        out.append(num / (na * sq.clamp_min(0).sqrt()))
    return torch.cat(out)

"""Permutation nulls: the same score with the sentence pairing of one side shuffled.

For SVCCA that permutes the rows of one basis (the bases stay orthonormal and centred, so no new
decomposition); for CKA it permutes the rows and columns of one Gram matrix. The same permutations
serve every pair, and every layer, so draws can be averaged over pairs and maximised over layers
draw by draw (benchmark.metrics.statistics).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch

from benchmark.metrics.decomposition import DTYPE, Decomposition, Measure, _need_basis, _norm

# Upper bound on the size of one batched working tensor (bytes); chunks are sized to fit it.
CHUNK_BYTES = 128 * 2**20


def seed_streams(seed: int) -> tuple[int, int]:
    """Independent streams for the null and the replicates, so one does not shift the other."""
    a, b = np.random.SeedSequence(seed).spawn(2)
    return int(a.generate_state(1)[0]), int(b.generate_state(1)[0])


def permutations(n: int, n_null: int, seed: int) -> torch.Tensor:
    """The `n_null` x n sentence permutations that `pairwise_matrix(seed=seed)` uses."""
    g = torch.Generator().manual_seed(seed_streams(seed)[0])
    return torch.argsort(torch.rand(n_null, n, generator=g, dtype=DTYPE), dim=1)


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

"""Scoring pairs of one layer's states (two (modality, language) sides, the same sentences) with
length controlled, for the gap kinds and the findings: both sides regressed on the pair's shared
length covariates, the null re-projected as the data was (benchmark.metrics.nulls) and drawn
within strata of similar length."""

from __future__ import annotations

import numpy as np
import torch

from benchmark.config import StatsParams
from benchmark.kinds import TaskContext
from benchmark.metrics import Decomposition, decompose, pairwise_matrix
from benchmark.metrics.decomposition import DTYPE
from benchmark.metrics.nulls import length_strata
from benchmark.metrics.statistics import Estimate
from benchmark.probes import length_features, sentence_lengths


def residualize(x: np.ndarray, covariates: np.ndarray) -> np.ndarray:
    """x minus its least-squares fit on [1, covariates]: what the covariates cannot explain."""
    design = np.column_stack([np.ones(len(x)), covariates]).astype(np.float64)
    coef, *_ = np.linalg.lstsq(design, x.astype(np.float64), rcond=None)
    return x - design @ coef


def pair_scores(
    ctx: TaskContext, matrices: dict, pairs: list[tuple], measures, rows=None
) -> dict[str, dict[tuple, Estimate]]:
    """Per measure, every pair's estimate at one layer; `matrices`: one layer's states per
    (modality, language) key, `rows`: the items they hold (default: all).

    With `length_control: residualize`, every key is regressed on the SAME covariates: the
    length features of every key (`common_length_basis`). Identical states stay
    identical (with each language's own covariates they became different residuals, and a
    representation the same in every language read 0.83 at n = 40), and one decomposition per
    key serves every pair. The null projects its permuted side off the same covariates."""
    params: StatsParams = ctx.params
    strata = null_strata(ctx, list(matrices), rows)
    if params.length_control == "residualize":
        shared = common_length_basis(ctx, list(matrices), rows)
        z = covariate_basis(shared)
        matrices = {key: residualize(x, shared) for key, x in matrices.items()}
    decomps = {key: _decompose(ctx, key, x) for key, x in matrices.items()}
    if params.length_control == "residualize":
        for d in decomps.values():
            d.covariates = z
    return {m: pair_estimates(decomps, pairs, m, params, strata) for m in measures}


def common_length_basis(ctx: TaskContext, keys: list[tuple], rows=None) -> np.ndarray:
    """The covariates every key is regressed on: the length features of every key side by side
    (a key's own, and through the others the length its translations share), through
    `pair_basis` (a cubic of each while n leaves the SVCCA its rank)."""
    features = [_rows(length_features(ctx.probes, lang, m), rows) for m, lang in keys]
    return pair_basis(np.column_stack(features), ctx.params)


def covariate_basis(covariates: np.ndarray) -> torch.Tensor:
    """An orthonormal basis (n x c) of the centred covariates' column space."""
    if covariates.shape[1] == 0:
        return torch.zeros((len(covariates), 0), dtype=DTYPE)
    centred = covariates - covariates.mean(0)
    q, r = np.linalg.qr(centred)
    keep = np.abs(np.diag(r)) > 1e-8 * max(1.0, float(np.abs(r).max()))
    return torch.as_tensor(q[:, keep], dtype=DTYPE)


def _decompose(ctx: TaskContext, key: tuple, x: np.ndarray) -> Decomposition:
    params: StatsParams = ctx.params
    rule = (
        {"k": params.svcca_k, "variance": params.svcca_variance}
        if "svcca" in params.measures
        else {}
    )
    return decompose(x, min_ratio=params.min_ratio, name="/".join(key), **rule)


def length_basis(features: np.ndarray, degree: int = 3) -> np.ndarray:
    """Each length feature standardised, with its powers up to `degree` (default its square and
    cube): length regressed out as a smooth curve, not a line (a pooled state can carry duration
    nonlinearly, and translations share their lengths)."""
    z = (features - features.mean(0)) / np.where(features.std(0) > 0, features.std(0), 1.0)
    return np.column_stack([z**p for p in range(1, degree + 1)])


def pair_basis(features: np.ndarray, params: StatsParams) -> np.ndarray:
    """The covariates of length features [n, f]: a cubic of each, or the highest degree that
    leaves twice the SVCCA's k of rank (a small probe set drops to a
    square, then a line). Too many features for a line (37 languages' lengths) are reduced to the
    principal components that hold 99.9 % of their variance (translations' lengths move
    together), as many as the rank allows; with no rank to spare nothing is regressed out."""
    n = len(features)
    budget = n - 1 - 2 * (params.svcca_k or 1)  # twice the SVCCA's k of rank left over
    if budget < 1:
        return np.zeros((n, 0))
    for degree in (3, 2, 1):
        if features.shape[1] * degree <= budget:
            return length_basis(features, degree)
    z = (features - features.mean(0)) / np.where(features.std(0) > 0, features.std(0), 1.0)
    u, sv, _ = np.linalg.svd(z, full_matrices=False)
    share = np.cumsum(sv**2) / max(float((sv**2).sum()), 1e-12)
    needed = int(np.searchsorted(share, 0.999) + 1)
    for degree in (3, 2, 1):
        if needed * degree <= budget:
            return length_basis(u[:, :needed] * sv[:needed], degree)
    return length_basis(u[:, :budget] * sv[:budget], 1)


def _rows(x: np.ndarray, rows) -> np.ndarray:
    return x if rows is None else x[rows]


def null_strata(ctx: TaskContext, keys: list[tuple], rows=None) -> np.ndarray | None:
    """The null's strata (`length_control: residualize`): sentences of similar length over the
    task's (modality, language) keys. Translations share their length, and a pooled state's
    noise shrinks with it, so a shuffle across lengths would give a null that length alone
    clears."""
    if ctx.params.length_control != "residualize":
        return None
    return length_strata(sentence_lengths(ctx.probes, keys, rows))


def pair_estimates(
    decomps: dict, pairs: list[tuple], measure: str, params: StatsParams, strata=None
) -> dict:
    scored = pairwise_matrix(
        decomps,
        measure,
        pairs=pairs,
        debiased=params.cka_debiased,
        n_null=params.n_null,
        n_resamples=params.n_resamples,
        ci_method=params.ci_method,
        ci=params.ci_level,
        seed=params.seed,  # the task's draws: the same permutations and replicates for every pair
        keep_draws=True,
        strata=strata,
    )
    return {p: Estimate(s.score, s.null_draws, s.replicate_draws) for p, s in scored.items()}

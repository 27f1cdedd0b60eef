"""Representation similarity between languages or modalities: SVCCA and linear CKA for many pairs,
each with a permutation null and a confidence interval over sentences.

Built for a language-pair matrix: each (language, layer) representation — an n x d matrix whose
rows are the same n sentences in every language — is decomposed ONCE
(benchmark.metrics.decomposition), and every pair it appears in reuses that decomposition. The
null (benchmark.metrics.nulls) and the replicates for the CI (benchmark.metrics.replicates) use the
same permutations and sentence weights for every pair, so draws of different pairs can be
averaged or differenced draw by draw; intervals come from benchmark.metrics.intervals.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from benchmark.metrics.decomposition import (
    MEASURES,
    Decomposition,
    Measure,
    _need_basis,
    cka_from,
    decompose,
    measure_bounds,
    one_thread,
    svcca_correlations,
)
from benchmark.metrics.intervals import CI_METHODS, CiMethod, interval_from_replicates
from benchmark.metrics.nulls import null_draws, permutations
from benchmark.metrics.replicates import replicate_counts, replicate_draws


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
    n_resamples: int = 0  # replicates used for the CI (half-samples, jackknife groups or resamples)
    ci_method: str | None = None  # "subsample", "jackknife" or "percentile" (bootstrap)
    ci_level: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    se: float | None = None  # standard error (subsample / jackknife) or bootstrap sd
    null_draws: np.ndarray | None = field(default=None, repr=False)
    replicate_draws: np.ndarray | None = field(default=None, repr=False)

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
                "n_resamples",
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
            for k in ("null_draws", "replicate_draws"):
                v = getattr(self, k)
                out[k] = v.tolist() if v is not None else None
        return out


def _validate(decomps, pairs, measure, n_null, n_resamples, ci, ci_method) -> int:
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    if n_null < 0 or n_resamples < 0:
        raise ValueError(f"n_null and n_resamples must be >= 0, got {n_null}, {n_resamples}")
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


@one_thread
def pairwise_matrix(
    decomps: Mapping[Hashable, Decomposition],
    measure: Measure = "svcca",
    *,
    pairs: Iterable[tuple] | None = None,
    debiased: bool = False,
    n_null: int = 0,
    n_resamples: int = 0,
    ci: float = 0.95,
    ci_method: CiMethod = "subsample",
    seed: int = 0,
    keep_draws: bool = False,
    strata=None,
) -> dict[tuple, PairScore]:
    """Score every pair (default: each unordered pair once, in `decomps` order).

    n_null: permutation null from that many shuffles of b's sentence pairing (mean, sd, p-value);
      with `strata` (a label per sentence) each sentence moves only within its stratum.
    n_resamples: replicates for a CI at level `ci` over sentences, by `ci_method`:
      "subsample" (default): n_resamples random half-samples without replacement, CI = score +- z*SE
        (delete-d jackknife SE); right-sized for SVCCA and CKA in simulations (module doc);
      "jackknife": min(n_resamples, n) delete-a-group replicates (n_resamples >= n: leave-one-out),
        CI = score +- t*SE; good for CKA, 1.6-4x too wide for SVCCA;
      "percentile": n_resamples bootstrap resamples, percentile CI. Shifted upward by duplicated
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
    n = _validate(decomps, pairs, measure, n_null, n_resamples, ci, ci_method)
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
        draws = null_draws(decomps, pairs, measure, permutations(n, n_null, seed, strata), debiased)
        for p, v in draws.items():
            ps = out[p]
            ps.n_null, ps.null_mean, ps.null_sd = n_null, float(v.mean()), float(v.std())
            ps.p_value = (1 + int((v >= ps.score - 1e-12).sum())) / (1 + n_null)
            if keep_draws:
                ps.null_draws = v.numpy()
    if n_resamples:
        method = ci_method
        counts = replicate_counts(method, n, n_resamples, seed)
        draws = replicate_draws(decomps, pairs, measure, counts, debiased)
        for p, v in draws.items():
            ps, ok = out[p], v[~torch.isnan(v)]
            if len(ok) < len(v):
                warnings.warn(
                    f"pair {p}: {len(v) - len(ok)} of {len(v)} {method} replicates had fewer "
                    f"distinct directions than k; CI from the other {len(ok)}",
                    stacklevel=2,
                )
            ps.n_resamples, ps.ci_level, ps.ci_method = len(ok), ci, method
            if len(ok) >= 2:
                ps.ci_low, ps.ci_high, ps.se = interval_from_replicates(
                    ok.numpy(), ps.score, method, ci, n, measure_bounds(measure, debiased)
                )
            if keep_draws:
                ps.replicate_draws = v.numpy()
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
    n_resamples: int = 0,
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
        n_resamples=n_resamples,
        ci=ci,
        ci_method=ci_method,
        seed=seed,
        keep_draws=keep_draws,
    )
    return res[names]

"""Confidence intervals from replicate scores, kept inside the score's bounds.

Methods (the replicates come from benchmark.metrics.replicates):
  - "subsample" (default): random half-samples without replacement; CI = score +- z * SE with the
    delete-d jackknife SE sqrt(r/d * mean (v - mean)^2) (r kept, d = n - r left out; Shao & Wu
    1989). In simulations (n = 200, k = 10) its SE was 1.0-1.2x the true sampling sd for SVCCA and
    CKA.
  - "jackknife": delete-a-group (or leave-one-out), score +- t(G-1) * SE with SE
    sqrt((G-1)/G * sum (v - mean)^2); right for CKA (1.0-1.2x), 1.6-4.4x too wide for SVCCA,
    whose top-k selection is not smooth.
  - "percentile": quantiles of bootstrap resamples (with replacement), the usual recipe. A
    sentence drawn 3 times weighs 3 times on BOTH sides, which creates shared structure: replicates
    are shifted upward (independent white data: SVCCA 0.29, null 0.27, bootstrap CI [0.56, 0.69]).
    Biased here: a task may use it only with an explicit, recorded opt-in.

Bounded scores (SVCCA, CKA, accuracies, purities: all in [0, 1]) get their interval on the logit
scale: the replicates and the score are mapped by logit, the SE and interval are computed there,
and the ends mapped back. The interval then never leaves [0, 1] (a symmetric interval on the raw
scale reached 1.04 near the top), and it is asymmetric where the score is near a bound. Values are
clipped to [0.5/n, 1 - 0.5/n] of the range first (the empirical logit: a share of n items cannot
be resolved more finely), so a replicate at exactly 0 or 1 does not blow the interval up.

Shares of 0/1 outcomes (accuracy@1, recall@5: one outcome per query and language pair) near a
bound need more: when every replicate of a near-perfect score lies above the clip edge, the
replicates collapse onto it and the interval has no width. For them the edge is half an outcome
of the outcomes the score averages (n x pairs, not n), and the logit-scale SE is at least that of
a binomial share over those outcomes (with half a success and half a failure added, finite at 0
and 1). In simulation (benchmarks/interval_coverage.py: true accuracy 0.99, n = 40 sentences,
1 / 6 / 20 language pairs, 100 half-samples) the 95 % intervals cover 93.9 / 97.8 / 96.6 % of
the time, against 93.9 / 90.1 / 83.7 % before; at accuracy 0.9 and 0.5, 95.5-98.5 %.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from scipy.stats import norm as normal
from scipy.stats import t as student_t

CiMethod = Literal["subsample", "jackknife", "percentile"]
CI_METHODS = ("subsample", "jackknife", "percentile")
BIASED_CI_METHODS = ("percentile",)


def _to_scale(v, bounds, n: int):
    if bounds is None:
        return np.asarray(v, dtype=np.float64)
    low, high = bounds
    unit = (np.asarray(v, dtype=np.float64) - low) / (high - low)
    edge = 0.5 / max(n, 1)  # the empirical logit's resolution: half an item in n
    unit = np.clip(unit, edge, 1 - edge)
    return np.log(unit) - np.log1p(-unit)


def _from_scale(v: float, bounds) -> float:
    if bounds is None:
        return float(v)
    low, high = bounds
    return float(low + (high - low) / (1 + math.exp(-v)))


def _binomial_se(score: float, bounds, n: int) -> float:
    """The logit-scale SE of a share of n independent 0/1 outcomes, with half a success and half
    a failure added (finite at 0 and 1): sqrt(1 / (n p (1 - p)))."""
    low, high = bounds or (0.0, 1.0)
    p = ((score - low) / (high - low) * n + 0.5) / (n + 1)
    return math.sqrt(1.0 / (n * p * (1 - p)))


def interval_from_replicates(
    replicates,
    score: float,
    method: str,
    level: float,
    n: int,
    bounds: tuple[float, float] | None = (0.0, 1.0),
    outcomes: int | None = None,
) -> tuple[float, float, float]:
    """(low, high, se) from replicate scores (NaN replicates dropped). `n` is the number of
    sentences (the half-sample SE needs it); `bounds` the score's range, or None if unbounded.
    `outcomes`: for a share of 0/1 outcomes (accuracy@1: one per query and language pair), how
    many it averages: the logit is clipped at half an outcome of those (not of n sentences), and
    the interval is never narrower than a binomial one over them (see the module doc). The SE is
    on the scale the interval is built on (logit when bounded)."""
    v = np.asarray(replicates, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        raise ValueError(f"an interval needs at least 2 usable replicates, got {len(v)}")
    if method == "percentile":
        low, high = np.quantile(v, [(1 - level) / 2, (1 + level) / 2])
        return float(low), float(high), float(v.std())
    edge_n = outcomes or n  # the score's resolution: one outcome in how many
    t = _to_scale(v, bounds, edge_n)
    centre = float(_to_scale(score, bounds, edge_n))
    dev2 = float(((t - t.mean()) ** 2).mean())
    if method == "jackknife":
        g = len(t)
        se = math.sqrt((g - 1) * dev2)
        half = float(student_t.ppf((1 + level) / 2, g - 1)) * se
    elif method == "subsample":
        kept = n // 2
        se = math.sqrt(kept / (n - kept) * dev2)
        if outcomes:  # a share of 0/1 outcomes: never narrower than the binomial allows
            se = max(se, _binomial_se(score, bounds, outcomes))
        half = float(normal.ppf((1 + level) / 2)) * se
    else:
        raise ValueError(f"ci_method must be one of {CI_METHODS}, got {method!r}")
    low, high = _from_scale(centre - half, bounds), _from_scale(centre + half, bounds)
    # a score within half an item of a bound was clipped for the logit: keep it inside
    return min(low, score), max(high, score), se

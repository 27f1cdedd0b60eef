"""The findings kind's statistics, draw by draw, and its verdict rule.

Every similarity the findings kind reads is an `Estimate` whose replicates are the task's
half-samples of the sentences (the same for every pair, layer and modality: `ctx.draws`). So a
statistic built from several of them — a difference of two similarities, a contrast of layers, a
slope over depth, the depth of a maximum — is computed on the point values and again within each
replicate, and its interval comes from those replicate values (benchmark.metrics.intervals):
paired, because the same sentences are in both arms of every comparison.

The verdict of a claim "statistic > boundary" (docs/tasks/findings.md):
  holds           the interval lies above the boundary (it excludes the claim's null side);
  does not hold   the interval lies at or below it (it excludes the claim's side);
  inconclusive    the interval straddles it, or the claim cannot be read here (said why).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from benchmark.metrics.statistics import Estimate, Inference, mean_of, summarize

HOLDS, DOES_NOT_HOLD, INCONCLUSIVE, NOT_APPLICABLE = (
    "holds",
    "does not hold",
    "inconclusive",
    "not_applicable",
)
VERDICTS = (HOLDS, DOES_NOT_HOLD, INCONCLUSIVE, NOT_APPLICABLE)
TIE = 1e-9  # two layers whose similarities differ by less than this are tied


def _reps(estimates: Sequence[Estimate]) -> np.ndarray | None:
    """[layers, R] replicate matrix (None when any estimate has no replicates)."""
    if not estimates or any(e.replicates is None for e in estimates):
        return None
    return np.stack([np.asarray(e.replicates, dtype=np.float64) for e in estimates])


def _nulls(estimates: Sequence[Estimate]) -> np.ndarray | None:
    if not estimates or any(e.null is None for e in estimates):
        return None
    return np.stack([np.asarray(e.null, dtype=np.float64) for e in estimates])


def difference(a: Estimate, b: Estimate) -> Estimate:
    """a - b, draw by draw (the same replicates on both sides; no null)."""
    reps = None
    if a.replicates is not None and b.replicates is not None:
        reps = np.asarray(a.replicates, np.float64) - np.asarray(b.replicates, np.float64)
    return Estimate(float(a.value - b.value), None, reps)


def differences(a: Sequence[Estimate], b: Sequence[Estimate]) -> list[Estimate]:
    return [difference(x, y) for x, y in zip(a, b, strict=True)]


def thirds(depths: Sequence[float]) -> tuple[list[int], list[int]]:
    """Indices of the layers in the first third of the stack (relative depth <= 1/3) and in the
    last third (>= 2/3)."""
    early = [i for i, d in enumerate(depths) if d <= 1 / 3 + 1e-9]
    late = [i for i, d in enumerate(depths) if d >= 2 / 3 - 1e-9]
    return early, late


def third_means(curve: Sequence[Estimate], depths: Sequence[float]) -> tuple[Estimate, Estimate]:
    """The mean similarity of the first third and of the last third, draw by draw."""
    early, late = thirds(depths)
    if not early or not late:
        raise ValueError(f"a stack of {len(depths)} layers has no first and last third")
    return mean_of([curve[i] for i in early]), mean_of([curve[i] for i in late])


def slope(curve: Sequence[Estimate], depths: Sequence[float]) -> Estimate:
    """The least-squares slope of the similarity against relative depth, draw by draw."""
    d = np.asarray(depths, dtype=np.float64)
    centred = d - d.mean()
    if not (centred**2).sum():
        return Estimate(float("nan"))
    weights = centred / (centred**2).sum()  # the slope is linear in the values
    value = float(weights @ np.array([e.value for e in curve]))
    reps = _reps(curve)
    return Estimate(value, None, None if reps is None else weights @ reps)


def _argmax_columns(matrix: np.ndarray) -> np.ndarray:
    """Per column, the row of the maximum; -1 where the column is all NaN or the maximum is
    tied (within TIE) between rows."""
    out = np.full(matrix.shape[1], -1, dtype=np.int64)
    for j in range(matrix.shape[1]):
        out[j] = argmax_or_tie(matrix[:, j])
    return out


def argmax_or_tie(values: np.ndarray) -> int:
    """The index of the maximum, or -1 when it is undefined (all NaN) or tied."""
    values = np.asarray(values, dtype=np.float64)
    if not np.isfinite(values).any():
        return -1
    best = int(np.nanargmax(values))
    others = np.delete(values, best)
    others = others[np.isfinite(others)]
    if len(others) and values[best] - others.max() < TIE:
        return -1
    return best


def peak(curve: Sequence[Estimate]) -> tuple[int, np.ndarray | None]:
    """Where a curve peaks: the layer index of its maximum (-1 when tied) and, per replicate,
    the index of that replicate's maximum (the choice is made again within every replicate)."""
    hub = argmax_or_tie(np.array([e.value for e in curve]))
    reps = _reps(curve)
    return hub, None if reps is None else _argmax_columns(reps)


def read_at_peak(stat: Sequence[Estimate], joint: Sequence[Estimate]) -> tuple[Estimate, int]:
    """`stat` read where `joint` peaks, the peak found again within every replicate (so the
    interval pays for choosing the depth on the data). A tie at the point estimate (identical
    layers) reads the first of the tied layers: the statistic is then the same at all of them."""
    values = np.array([e.value for e in joint])
    hub, per_rep = peak(joint)
    if hub < 0:
        hub = int(np.nanargmax(values)) if np.isfinite(values).any() else 0
    reps = _reps(stat)
    out = None
    if reps is not None and per_rep is not None:
        rows = np.where(per_rep < 0, _first_max_columns(_reps(joint)), per_rep)
        out = reps[rows, np.arange(reps.shape[1])]
    return Estimate(float(stat[hub].value), None, out), hub


def _first_max_columns(matrix: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        filled = np.where(np.isfinite(matrix), matrix, -np.inf)
    return np.argmax(filled, axis=0)


def peak_depth(curve: Sequence[Estimate], depths: Sequence[float]) -> Estimate:
    """The relative depth of a curve's maximum, and that of each replicate's maximum (NaN where
    the maximum is tied between layers: no layer stands out)."""
    hub, per_rep = peak(curve)
    d = np.asarray(depths, dtype=np.float64)
    value = float(d[hub]) if hub >= 0 else float("nan")
    reps = None if per_rep is None else np.where(per_rep >= 0, d[np.maximum(per_rep, 0)], np.nan)
    return Estimate(value, None, reps)


def peak_p_value(curve: Sequence[Estimate]) -> float | None:
    """The p-value of the curve's maximum against the null of the maximum over layers (the
    maximum taken within each permutation: the peak is chosen on the data)."""
    values = np.array([e.value for e in curve], dtype=np.float64)
    if not np.isfinite(values).any():
        return None
    return p_at(curve, int(np.nanargmax(values)))


def interval(est: Estimate, inference: Inference) -> dict:
    """value, ci_low, ci_high of an estimate (None where undefined)."""
    if not np.isfinite(est.value):
        return {"value": None, "ci_low": None, "ci_high": None}
    s = summarize(est, inference)
    return {k: s[k] for k in ("value", "ci_low", "ci_high")}


def verdict(summary: dict, boundary: float) -> tuple[str, str | None]:
    """The verdict on "statistic > boundary" from its interval (see the module doc)."""
    low, high = summary["ci_low"], summary["ci_high"]
    if summary["value"] is None or low is None or high is None:
        return INCONCLUSIVE, "no interval: too few usable replicates"
    if low > boundary:
        return HOLDS, None
    if high <= boundary:
        return DOES_NOT_HOLD, None
    return INCONCLUSIVE, f"the interval [{low:.3f}, {high:.3f}] straddles {boundary:g}"


def interior_verdict(summary: dict, depths: Sequence[float]) -> tuple[str, str | None]:
    """The verdict on "the hub lies inside the stack" (not at its first or last layer) from the
    interval of its relative depth. Depths are discrete: an interval end counts for the layer it
    is nearest to, so the claim holds when the interval lies between the midpoints that separate
    the end layers from the inner ones, and does not hold when it lies beyond one of them."""
    low, high = summary["ci_low"], summary["ci_high"]
    if summary["value"] is None or low is None or high is None:
        return INCONCLUSIVE, "no interval: the maximum is tied between layers in most replicates"
    d = sorted(depths)
    if len(d) < 3:
        return INCONCLUSIVE, "a stack of two layers has no inside"
    first, last = (d[0] + d[1]) / 2, (d[-2] + d[-1]) / 2
    if first <= low and high <= last:
        return HOLDS, None
    if high < first or low > last:
        return DOES_NOT_HOLD, None
    return INCONCLUSIVE, f"the interval [{low:.3f}, {high:.3f}] reaches an end layer of the stack"


def p_at(curve: Sequence[Estimate], index: int) -> float | None:
    """The p-value of the curve's value at `index` (a layer chosen on the data) against the null
    of the maximum over layers."""
    nulls = _nulls(curve)
    if nulls is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        best_null = np.nanmax(nulls, axis=0)
    value = curve[index].value
    return (1 + int((best_null >= value - 1e-12).sum())) / (1 + len(best_null))

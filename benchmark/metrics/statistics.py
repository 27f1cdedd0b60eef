"""What every task kind does with its draws: nulls, intervals, means and the best-layer choice.

A kind scores each layer as an `Estimate`: the point value, the same score under each permutation
of the pairing or labels (`null`), and on each replicate of the sentences (`replicates`). Every
layer, pair and group of a task uses the SAME permutations and replicates, so:
  - a mean over pairs, languages or modalities is taken draw by draw (`mean_of`): its null and CI
    are those of the mean itself;
  - the best layer is chosen with its selection paid for (`choose_layer`): the maximum over layers
    is taken within each permutation and within each replicate too, so the null and the interval
    are those of "the best of L layers", not of the one layer that won. On data where every layer
    is noise, the best-layer score then exceeds its null's 95th percentile in about 5 % of runs
    (benchmarks/best_layer_selection.py measures it).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from benchmark.layers import relative_depth
from benchmark.metrics.intervals import interval_from_replicates

LAYER_RULES = ("best", "last", "mean")
SELECTION_RULE = "max over layers within each permutation and each replicate"


@dataclass
class Estimate:
    """A score with its draws: `null` [P] under permuted pairing/labels, `replicates` [R] on
    replicates of the sentences (NaN = an unusable replicate)."""

    value: float
    null: np.ndarray | None = None
    replicates: np.ndarray | None = None


@dataclass(frozen=True)
class Inference:
    """How draws become an interval: the task's CI method and level, the number of sentences (the
    half-sample SE needs it), the score's bounds (None = unbounded) and its direction."""

    ci_method: str = "subsample"
    ci_level: float = 0.95
    n: int = 0
    bounds: tuple[float, float] | None = (0.0, 1.0)
    higher_is_better: bool = True


def _stack_mean(arrays: Sequence[np.ndarray | None]) -> np.ndarray | None:
    if not arrays or any(a is None for a in arrays):
        return None
    return np.mean(np.stack([np.asarray(a, dtype=np.float64) for a in arrays]), axis=0)


def mean_of(estimates: Sequence[Estimate]) -> Estimate:
    """The mean of several estimates (pairs, languages, groups), draw by draw."""
    if not estimates:
        raise ValueError("mean_of needs at least one estimate")
    return Estimate(
        value=float(np.mean([e.value for e in estimates])),
        null=_stack_mean([e.null for e in estimates]),
        replicates=_stack_mean([e.replicates for e in estimates]),
    )


def _extreme(arrays: Sequence[np.ndarray | None], higher: bool) -> np.ndarray | None:
    if not arrays or any(a is None for a in arrays):
        return None
    stacked = np.stack([np.asarray(a, dtype=np.float64) for a in arrays])
    if not stacked.size:
        return stacked[0]
    with warnings.catch_warnings():  # a draw undefined at every layer stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(stacked, axis=0) if higher else np.nanmin(stacked, axis=0)


def choose_layer(
    curve: Sequence[Estimate],
    names: Sequence[str],
    rule: str,
    higher_is_better: bool = True,
    selectable: Sequence[bool] | None = None,
) -> tuple[Estimate, dict]:
    """The main score's layer from a per-layer curve, and how it was chosen.

    rule: "best" (selection-aware, see the module doc), "last", "mean" (over layers, draw by
    draw), or a layer name. `selectable` (default: every layer) restricts "best" and "mean" to
    some layers (e.g. not the embeddings, which read the input itself). Returns (estimate,
    {rule, layer, depth, selection}).
    """
    names = list(names)
    if len(curve) != len(names) or not names:
        raise ValueError(f"choose_layer: {len(curve)} estimates for {len(names)} layer names")
    pool = [i for i in range(len(names)) if selectable is None or selectable[i]]
    if not pool:
        raise ValueError("choose_layer: no layer may be chosen")
    if rule == "mean":
        chosen = mean_of([curve[i] for i in pool])
        return chosen, {"rule": "mean", "layer": None, "depth": None, "selection": None}
    if rule == "best":
        values = np.full(len(names), np.nan)
        values[pool] = [curve[i].value for i in pool]
        if not np.isfinite(values).any():
            raise ValueError("choose_layer: the score is undefined at every layer")
        index = int(np.nanargmax(values) if higher_is_better else np.nanargmin(values))
        best = Estimate(
            value=float(values[index]),
            null=_extreme([curve[i].null for i in pool], higher_is_better),
            replicates=_extreme([curve[i].replicates for i in pool], higher_is_better),
        )
        return best, {
            "rule": "best",
            "layer": names[index],
            "depth": relative_depth(index, len(names)),
            "selection": SELECTION_RULE,
        }
    index = len(names) - 1 if rule == "last" else names.index(rule) if rule in names else None
    if index is None:
        raise ValueError(
            f"main_score.layer {rule!r} is not best, last, mean or one of the layers {names}"
        )
    chosen = {"rule": rule if rule == "last" else "fixed", "layer": names[index]}
    return curve[index], {**chosen, "depth": relative_depth(index, len(names)), "selection": None}


def p_value(value: float, null, higher_is_better: bool = True) -> float | None:
    """One-sided permutation p-value: (1 + #null draws at least as good) / (1 + #draws)."""
    if null is None or len(null) == 0:
        return None
    null = np.asarray(null, dtype=np.float64)
    as_good = (null >= value - 1e-12) if higher_is_better else (null <= value + 1e-12)
    return (1 + int(as_good.sum())) / (1 + len(null))


def summarize(est: Estimate, inference: Inference) -> dict:
    """value, ci_low, ci_high, se, null_mean, null_sd, null_q95 (the null's 95th percentile in the
    score's better direction: 5th when lower is better), p_value (one-sided, (1 + #as good) /
    (1 + P)), n_null and n_resamples (usable replicates)."""
    out: dict = {
        "value": float(est.value),
        "ci_low": None,
        "ci_high": None,
        "se": None,
        "null_mean": None,
        "null_sd": None,
        "null_q95": None,
        "p_value": None,
        "n_null": 0,
        "n_resamples": 0,
    }
    if est.null is not None and len(est.null):
        null = np.asarray(est.null, dtype=np.float64)
        higher = inference.higher_is_better
        out.update(
            null_mean=float(null.mean()),
            null_sd=float(null.std()),
            null_q95=float(np.quantile(null, 0.95 if higher else 0.05)),
            p_value=p_value(est.value, null, higher),
            n_null=len(null),
        )
    if est.replicates is not None:
        reps = np.asarray(est.replicates, dtype=np.float64)
        usable = reps[np.isfinite(reps)]
        out["n_resamples"] = len(usable)
        if len(usable) >= 2:
            low, high, se = interval_from_replicates(
                usable,
                est.value,
                inference.ci_method,
                inference.ci_level,
                inference.n,
                inference.bounds,
            )
            out.update(ci_low=low, ci_high=high, se=se)
    return out

"""From per-layer estimates to the shared result shapes (`Curve`, `MainScore`), the same way for
every kind: a curve point and a main score carry value, interval, null and layer identically."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmark.config import MainScoreConfig, StatsParams
from benchmark.errors import NotApplicable
from benchmark.metrics.statistics import (
    Estimate,
    Inference,
    choose_layer,
    relative_depth,
    summarize,
)
from benchmark.results import Curve, CurvePoint, LayerChoice, MainScore
from benchmark.results import Inference as InferenceRecord


def inference_for(
    params: StatsParams,
    n: int,
    bounds: tuple[float, float] | None = (0.0, 1.0),
    higher_is_better: bool = True,
) -> Inference:
    return Inference(params.ci_method, params.ci_level, n, bounds, higher_is_better)


def depths(layers: Sequence[str]) -> list[float]:
    return [relative_depth(i, len(layers)) for i in range(len(layers))]


def curve(
    measure: str,
    group: str,
    modalities: Sequence[str],
    layers: Sequence[str],
    estimates: Sequence[Estimate],
    inference: Inference,
    *,
    layer_depths: Sequence[float] | None = None,
    stack: str | None = None,
    chance: float | None = None,
    baselines: dict[str, float] | None = None,
) -> Curve:
    points = []
    for layer, depth, est in zip(layers, layer_depths or depths(layers), estimates, strict=True):
        if not np.isfinite(est.value):  # undefined at this layer (e.g. xSIM's margin)
            points.append(CurvePoint(layer=layer, depth=depth, value=None))
            continue
        s = summarize(est, inference)
        points.append(
            CurvePoint(
                layer=layer,
                depth=depth,
                value=s["value"],
                ci_low=s["ci_low"],
                ci_high=s["ci_high"],
                null_mean=s["null_mean"],
                null_q95=s["null_q95"],
                p_value=s["p_value"],
            )
        )
    return Curve(
        measure=measure,
        group=group,
        modalities=list(modalities),
        stack=stack,
        higher_is_better=inference.higher_is_better,
        chance=chance,
        baselines=baselines or {},
        points=points,
    )


def main_score(
    config: MainScoreConfig,
    params: StatsParams,
    group: str,
    modalities: Sequence[str],
    layers: Sequence[str],
    estimates: Sequence[Estimate],
    inference: Inference,
    *,
    null_method: str,
    layer_depths: Sequence[float] | None = None,
    chance: float | None = None,
    baselines: dict[str, float] | None = None,
) -> MainScore:
    """The task's headline: `config.measure` of one curve at `config.layer`, with the null and
    the interval of that choice (a best layer pays for its selection; statistics.choose_layer)."""
    estimate, choice = choose_layer(estimates, layers, config.layer, inference.higher_is_better)
    if choice["layer"] is not None and layer_depths is not None:
        choice["depth"] = layer_depths[list(layers).index(choice["layer"])]
    s = summarize(estimate, inference)
    return MainScore(
        name=config.name,
        measure=config.measure,
        group=group,
        modalities=list(modalities),
        value=s["value"],
        ci_low=s["ci_low"],
        ci_high=s["ci_high"],
        null_mean=s["null_mean"],
        null_sd=s["null_sd"],
        null_q95=s["null_q95"],
        p_value=s["p_value"],
        layer=LayerChoice(**choice),
        higher_is_better=inference.higher_is_better,
        bounds=inference.bounds,
        chance=chance,
        baselines=baselines or {},
        inference=InferenceRecord(
            null_method=null_method,
            n_null=s["n_null"],
            ci_method=params.ci_method,
            ci_level=params.ci_level,
            n_resamples=s["n_resamples"],
            ci_scale="logit" if inference.bounds is not None else "identity",
            biased_ci_opt_in=params.allow_biased_ci and params.ci_method == "percentile",
        ),
    )


def require_group(group: str, available: Sequence[str], why: str) -> None:
    """NotApplicable when the main score's group is not among what this model could produce."""
    if group not in available:
        raise NotApplicable(why)

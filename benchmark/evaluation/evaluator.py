"""The one evaluator: from a kind's series to a task's curves and main score, the same for every
kind.

Each series becomes a `Curve` whose points carry value, interval, null and p-value (summarised
from the estimate's draws: benchmark.metrics.statistics). The task's main score is one fixed
measurement: the series of `main_score.measure` whose group matches `main_score.group` (the
kind's default group when the task names none), read at `main_score.layer` — "best" (the null
and interval are those of the best of all selectable layers, so choosing on the data is paid
for), "last", "mean" or a layer name. It carries its direction, whether it ranks models, its
verdict against the null, and its margin over every baseline drawn on the same draws. When the
task's main series is missing, the task does not apply to this model or probe set: NotApplicable
with the kind's reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmark.config import MainScoreConfig, StatsParams
from benchmark.core import Group
from benchmark.errors import NotApplicable, UsageError
from benchmark.evaluation.series import KindOutput, Series
from benchmark.metrics.statistics import Estimate, Inference, choose_layer, summarize
from benchmark.results import Curve, CurvePoint, LayerChoice, MainScore, Margin
from benchmark.results import Inference as InferenceRecord

SIGNIFICANCE = 0.05  # the level of a main score's verdict against its null


@dataclass
class Evaluation:
    main_score: MainScore
    curves: list[Curve]
    matrices: list = field(default_factory=list)
    details: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def inference_for(series: Series, params: StatsParams, n: int) -> Inference:
    measure = series.measure
    return Inference(
        params.ci_method,
        params.ci_level,
        n,
        measure.bounds,
        measure.higher_is_better,
        series.outcomes,
    )


def to_curve(series: Series, params: StatsParams, n: int) -> Curve:
    inference = inference_for(series, params, n)
    points = []
    for layer, depth, est in zip(
        series.layers.names, series.layers.depths, series.estimates, strict=True
    ):
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
        measure=series.measure.name,
        group=series.group.label,
        modalities=list(series.modalities),
        stack=series.layers.stack,
        higher_is_better=series.measure.higher_is_better,
        chance=series.measure.chance,
        baselines=_curve_baselines(series),
        points=points,
    )


def _curve_baselines(series: Series) -> dict[str, float]:
    """A curve's reference values: the plain ones, and a drawn one that is the same at every
    layer (a floor of the inputs, not of the model: the lexical, signal and length floors), when
    it is a number (a lexical floor with no shared forms to read is undefined)."""
    out = {}
    for name, base in series.baselines.items():
        if isinstance(base, float):
            out[name] = base
        elif len({float(e.value) for e in base}) == 1 and np.isfinite(base[0].value):
            out[name] = float(base[0].value)
    return out


def find_main_series(
    output: KindOutput, config: MainScoreConfig, wanted: Mapping[str, Any]
) -> Series:
    """The series the main score reads, or NotApplicable saying why it is missing."""
    hits = [
        s for s in output.series if s.measure.name == config.measure and s.group.matches(wanted)
    ]
    if len(hits) > 1:
        labels = [s.group.label for s in hits]
        raise ValueError(f"main_score.group {dict(wanted)} matches several groups: {labels}")
    if hits:
        return hits[0]
    label = Group.of(**wanted).label
    reason = output.missing.get(label) or output.missing.get("")
    raise NotApplicable(reason or f"no {config.measure} of {label} for this model and probe set")


def _margin(est: Estimate, base: Estimate, inference: Inference) -> Margin:
    """score - baseline, draw by draw (the same replicates on both sides)."""
    reps = None
    if est.replicates is not None and base.replicates is not None:
        reps = np.asarray(est.replicates) - np.asarray(base.replicates)
    diff = Estimate(float(est.value - base.value), None, reps)
    unbounded = Inference(inference.ci_method, inference.ci_level, inference.n, None, True)
    s = summarize(diff, unbounded)
    return Margin(value=s["value"], ci_low=s["ci_low"], ci_high=s["ci_high"])


def main_score(
    config: MainScoreConfig,
    params: StatsParams,
    series: Series,
    n: int,
    *,
    null_method: str = "",
    inconclusive: str | None = None,
) -> MainScore:
    """The task's headline from its series: `config.layer` chosen with its selection paid for."""
    measure, axis = series.measure, series.layers
    inference = inference_for(series, params, n)
    estimate, choice = choose_layer(
        series.estimates, axis.names, config.layer, measure.higher_is_better, axis.selectable
    )
    if config.layer == "mean" and series.layer_mean is not None:
        estimate = series.layer_mean  # the kind's own mean over layers (e.g. a ratio of means)
    if not np.isfinite(estimate.value):  # a headline must be a number (written as null, unread)
        raise ValueError(f"no value at main_score.layer {config.layer!r}")
    if choice["layer"] is not None:
        choice["depth"] = axis.depths[axis.names.index(choice["layer"])]
    s = summarize(estimate, inference)
    baselines, margins = {}, {}
    for name, base in series.baselines.items():
        if isinstance(base, float):
            baselines[name] = base
            continue
        base_estimate, _ = choose_layer(base, axis.names, _fixed(config.layer, choice))
        baselines[name] = float(base_estimate.value)
        margins[name] = _margin(estimate, base_estimate, inference)
    verdict, reason = (None if s["p_value"] is None else _verdict(s["p_value"])), inconclusive
    if inconclusive:
        verdict = "inconclusive"
    elif verdict == "above_null" and (
        below := _control_not_cleared(series, config, choice, params, n)
    ):
        verdict, reason = "at_null", below
    return MainScore(
        name=config.name,
        measure=measure.name,
        group=series.group.label,
        modalities=list(series.modalities),
        value=s["value"],
        ci_low=s["ci_low"],
        ci_high=s["ci_high"],
        null_mean=s["null_mean"],
        null_sd=s["null_sd"],
        null_q95=s["null_q95"],
        p_value=s["p_value"],
        layer=LayerChoice(**choice),
        higher_is_better=measure.higher_is_better,
        bounds=measure.bounds,
        chance=measure.chance,
        baselines=baselines,
        inference=InferenceRecord(
            null_method=null_method,
            n_null=s["n_null"],
            ci_method=params.ci_method,
            ci_level=params.ci_level,
            n_resamples=s["n_resamples"],
            ci_scale="logit" if measure.bounds is not None else "identity",
            biased_ci_opt_in=params.allow_biased_ci and params.ci_method == "percentile",
        ),
        ranked=measure.ranked,
        neutral=measure.neutral,
        verdict=verdict,
        verdict_reason=reason,
        margins=margins,
    )


def _control_not_cleared(series: Series, config: MainScoreConfig, choice: dict, params, n):
    """Why a score that clears its null is still at its null: its verdict control (the same
    measure with a meaning-free confound removed, `Series.verdict_control`), read where the score
    was, does not clear its own null. None when it does (or there is no control)."""
    control = series.verdict_control
    if control is None:
        return None
    estimate, _ = choose_layer(
        control.estimates, control.layers.names, _fixed(config.layer, choice)
    )
    s = summarize(estimate, inference_for(control, params, n))
    if s["p_value"] is not None and s["p_value"] < SIGNIFICANCE:
        return None
    p = "–" if s["p_value"] is None else f"{s['p_value']:.3f}"
    what = f" (the same with {control.removes} taken out)" if control.removes else ""
    return (
        f"clears its null, but {control.measure.name}{what} does not: "
        f"{s['value']:.3f}, null q95 {s['null_q95']:.3f}, p = {p}"
    )


def _fixed(rule: str, choice: dict) -> str:
    """A baseline is read where the score was: the chosen layer, or the same mean."""
    return "mean" if rule == "mean" else choice["layer"]


def _verdict(p: float) -> str:
    return "above_null" if p < SIGNIFICANCE else "at_null"


def evaluate(
    output: KindOutput, config: MainScoreConfig, wanted: Mapping[str, Any], params: StatsParams
) -> Evaluation:
    """Curves for every series and the main score of the task (see the module doc); `wanted`:
    the main score's group fields (the task's, over the kind's defaults)."""
    series = find_main_series(output, config, wanted)
    rule, names = config.layer, series.layers.names
    if rule not in ("best", "last", "mean") and rule not in names:
        raise UsageError(
            f"main_score.layer {rule!r} is not best, last, mean or one of this model's layers "
            f"{list(names)}"
        )
    try:
        main = main_score(
            config,
            params,
            series,
            output.n,
            null_method=output.null_method,
            inconclusive=output.inconclusive,
        )
    except ValueError as err:  # undefined at every layer: nothing to headline
        raise NotApplicable(
            f"{config.measure} of {series.group.label} is undefined: {err}"
        ) from None
    curves = [to_curve(s, params, output.n) for s in output.series]
    return Evaluation(main, curves, output.matrices, output.details, output.notes)

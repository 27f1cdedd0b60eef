"""From per-item effects to the kind's output: each side's effect (and flips) per steering layer at
the main alpha, each pair's transfer with its floored denominator, the check of the source effect
against its own null (the main score is inconclusive when it fails), the dose-response matrices
(alpha x layer) and every count of a floored or undefined draw."""

from __future__ import annotations

import numpy as np

from benchmark.evaluation import KindOutput, Measure, Series
from benchmark.evaluation.evaluator import SIGNIFICANCE
from benchmark.kinds import TaskContext
from benchmark.kinds.interventions.params import (
    NULL_METHOD,
    InterventionParams,
    default_group,
    pair_group,
    side_group,
)
from benchmark.kinds.interventions.runs import Run
from benchmark.layers import LayerAxis, relative_depth
from benchmark.metrics.statistics import Estimate, choose_layer, mean_of, p_value
from benchmark.results import Matrix

FLOOR_RULE = (
    "the denominator of a transfer (the source effect) is never taken below the 95th percentile "
    "of the source effects of the null's directions (a source effect within noise cannot inflate "
    "the ratio), in the point, every null draw and every replicate alike; a denominator <= 0 "
    "(no null directions and a source effect <= 0) leaves the draw undefined"
)


def _mean(x: np.ndarray, mask: np.ndarray) -> float:
    total = mask.sum()
    return float((x * mask).sum(-1) / total) if total > 0 else float("nan")


def _side_estimate(x, null_x, mask, weights, reps=None) -> Estimate:
    """A side's mean effect (or flip share) over the items of `mask`, with its draws (`reps`:
    replicates computed elsewhere; else the items' values re-averaged)."""
    null = np.array([_mean(z, mask) for z in null_x]) if len(null_x) else None
    if reps is None and weights is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            reps = (weights @ (x * mask)) / (weights @ mask)
    return Estimate(_mean(x, mask), null, reps)


def _floor(source: Estimate) -> float:
    """The source effect's noise level: its null's 95th percentile (0 without a null)."""
    if source.null is None or not len(source.null):
        return 0.0
    return max(float(np.quantile(source.null, 0.95)), 0.0)


def _undefined(source: Estimate) -> Estimate:
    nan = float("nan")
    null = None if source.null is None else np.full(len(source.null), nan)
    reps = None if source.replicates is None else np.full(len(source.replicates), nan)
    return Estimate(nan, null, reps)


def transfer(target: Estimate, source: Estimate) -> tuple[Estimate, dict]:
    """target effect / max(source effect, floor), draw by draw (FLOOR_RULE); the counts of
    floored and undefined draws. Undefined: value, null and replicates all NaN, so that neither
    a mean nor a best layer takes anything from it."""
    floor = _floor(source)
    den = max(source.value, floor)
    counts = {"floor": round(floor, 6), "point_floored": bool(source.value < floor)}
    n_reps = 0 if source.replicates is None else len(source.replicates)
    if not den > 0:
        return _undefined(source), counts | {
            "replicates_floored": 0,
            "replicates_undefined": n_reps,
        }
    null = None if target.null is None else np.asarray(target.null) / den
    reps = None
    if target.replicates is not None and source.replicates is not None:
        s = np.asarray(source.replicates, dtype=np.float64)
        d = np.maximum(s, floor)
        with np.errstate(divide="ignore", invalid="ignore"):
            reps = np.where(d > 0, np.asarray(target.replicates) / np.where(d > 0, d, 1.0), np.nan)
        counts["replicates_floored"] = int((s < floor).sum())
        counts["replicates_undefined"] = int((~np.isfinite(reps)).sum())
    return Estimate(target.value / den, null, reps), counts


def _axis(x: np.ndarray, labels: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float]:
    """(unit axis, separation) of weighted items; separation NaN when a group has no weight."""
    toward, away = w * (labels == 1), w * (labels == 0)
    if toward.sum() <= 0 or away.sum() <= 0:
        return np.zeros(x.shape[-1]), float("nan")
    gap = toward @ x / toward.sum() - away @ x / away.sum()
    norm = float(np.linalg.norm(gap))
    return (gap / norm if norm > 0 else np.zeros_like(gap)), norm


def replicate_effects(run: Run, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Each side's mean effect per steering layer on every replicate [layers, R], with the read
    axes and the unit (the source's separation) refitted on the replicate's items of each fold,
    as the point estimate fits them on the fold's items: the interval carries the uncertainty
    of the axes, not only that of the items' shifts. (The steering direction stays the fold's:
    refitting it would need new passes.) NaN: a replicate without an item of a group in a fold."""
    source = run.out[run.params.source.name]
    out = {name: np.zeros((len(run.steer), len(weights))) for name in run.out}
    for r, w in enumerate(np.asarray(weights, dtype=np.float64)):
        sums = {name: np.zeros(len(run.steer)) for name in run.out}
        for ev in run.fold_items:
            lab, wf = run.labels[ev], w[ev]
            _, unit = _axis(source.states[ev], lab, wf)
            for name, rec in run.out.items():
                axis, _ = _axis(rec.states[ev], lab, wf)
                sums[name] += (rec.shifts[:, ev] @ axis) @ wf / unit
        for name in run.out:
            out[name][:, r] = sums[name] / w.sum()
    return out


class Estimates:
    """Every side's effect and flips per steering layer at the main alpha, with their draws."""

    def __init__(self, run: Run, weights):
        params, m = run.params, run.alphas.index(run.params.main_alpha)
        n = len(run.items)
        every = np.ones(n)
        reps = replicate_effects(run, weights) if weights is not None else None
        self.effect: dict[str, list[Estimate]] = {}
        self.flips: dict[str, list[Estimate]] = {}
        for side in run.sides:
            rec = run.out[side.name]
            mask = rec.eligible.astype(float)
            self.effect[side.name] = [
                _side_estimate(
                    rec.effect[li, m],
                    rec.null_effect[li],
                    every,
                    weights,
                    None if reps is None else reps[side.name][li],
                )
                for li in range(len(run.steer))
            ]
            self.flips[side.name] = [
                _side_estimate(rec.flip[li, m], rec.null_flip[li], mask, weights)
                for li in range(len(run.steer))
            ]
        self.source = self.effect[params.source.name]

    def target(self, names: list[str], li: int | None) -> Estimate:
        """The targets' mean effect at layer li (None: over the layers), draw by draw."""
        per_target = [
            self.effect[name][li] if li is not None else mean_of(self.effect[name])
            for name in names
        ]
        return mean_of(per_target)

    def source_at(self, li: int | None) -> Estimate:
        return self.source[li] if li is not None else mean_of(self.source)


def _transfer_series(run: Run, est: Estimates, axis, modalities) -> tuple[list[Series], dict]:
    """Per pair and for the mean over targets: transfer per layer, and over the layers as a
    ratio of means (Series.layer_mean). Counts of floored/undefined draws, per layer and mean."""
    params = run.params
    measure = Measure("transfer", bounds=None)
    series, counts = [], {}
    groups = [(pair_group(params.source, t), [t.name]) for t in params.targets]
    groups.append((pair_group(params.source, "mean"), [t.name for t in params.targets]))
    for group, names in groups:
        per_layer = []
        for li, layer in enumerate(run.steer):
            value, count = transfer(est.target(names, li), est.source_at(li))
            per_layer.append(value)
            counts.setdefault(layer, count)
        pooled, count = transfer(est.target(names, None), est.source_at(None))
        counts.setdefault("mean", count)
        series.append(Series(group, measure, axis, per_layer, modalities, layer_mean=pooled))
    return series, counts


def _main_layer(run: Run, ctx: TaskContext, series: list[Series]) -> int | None | str:
    """Where the main score reads: a steering layer's index, None for the mean over layers, or
    "" when the main score is not a transfer (or names a layer the evaluator will refuse)."""
    config = ctx.config.main_score
    if config.measure != "transfer":
        return ""
    if config.layer == "mean":
        return None
    if config.layer == "last":
        return len(run.steer) - 1
    if config.layer == "best":
        wanted = {**default_group(ctx.config, run.params), **config.group_fields()}
        hits = [s for s in series if s.measure.name == "transfer" and s.group.matches(wanted)]
        values = [e.value for e in hits[0].estimates] if len(hits) == 1 else []
        if not values or not np.isfinite(values).any():
            return ""
        _, choice = choose_layer(hits[0].estimates, run.steer, "best")
        return run.steer.index(choice["layer"])
    return run.steer.index(config.layer) if config.layer in run.steer else ""


def source_check(run: Run, est: Estimates, where: int | None | str) -> tuple[dict, str | None]:
    """Does the concept direction move the source more than the null's directions (fitted from
    shuffled labels) do, where the main score reads? If not, the transfer is a ratio of noise:
    the reason it is inconclusive."""
    if where == "":
        return {}, None
    source = est.source_at(where)
    p = p_value(source.value, source.null)
    at = "mean over the steering layers" if where is None else f"steering layer {run.steer[where]}"
    check = {
        "at": at,
        "source_effect": round(source.value, 6),
        "null_q95": round(_floor(source), 6),
        "p_value": p,
        "clears_null": p is not None and p < SIGNIFICANCE,
    }
    if p is None:
        return check, (
            "n_null = 0: without null directions the source effect cannot be checked against "
            "noise, so the transfer cannot be read"
        )
    if p >= SIGNIFICANCE:
        return check, (
            f"the concept direction moves the source ({run.params.source.name}) by "
            f"{source.value:.3g} source separations ({at}, alpha {run.params.main_alpha:g}), "
            f"which does not clear its null, directions fitted from shuffled labels (q95 "
            f"{_floor(source):.3g}, p = {p:.3f} >= {SIGNIFICANCE}): there is no source effect to "
            "transfer, and the ratio would be one of noise"
        )
    return check, None


def report(ctx: TaskContext, run: Run, extra: dict) -> KindOutput:
    params: InterventionParams = ctx.params
    n = len(run.items)
    weights = ctx.draws.weights(n)
    axis = LayerAxis.of(
        run.steer,
        [relative_depth(run.names.index(layer), len(run.names)) for layer in run.steer],
        stack=run.stack,
    )
    modalities = tuple(sorted({s.modality for s in run.sides}))
    est = Estimates(run, weights)
    series, counts = _transfer_series(run, est, axis, modalities)
    for side in run.sides:
        role = "source" if side == params.source else "target"
        group = side_group(side)
        effect = Measure(f"effect_{role}", bounds=None)
        series.append(Series(group, effect, axis, est.effect[side.name], modalities))
        flips = Measure(f"flips_{role}")
        series.append(Series(group, flips, axis, est.flips[side.name], modalities))
    # how many replicates each layer's transfer took with a floored (or no) denominator
    floored = [Estimate(float(counts[layer].get("replicates_floored", 0))) for layer in run.steer]
    series.append(
        Series(
            side_group(params.source),
            Measure("replicates_floored", bounds=None, ranked=False),
            axis,
            floored,
            modalities,
        )
    )
    check, inconclusive = source_check(run, est, _main_layer(run, ctx, series))
    details = _details(ctx, run, extra) | {
        "source_check": check,
        "transfer_denominator": {"rule": FLOOR_RULE, "n_resamples": _n(weights), **counts},
    }
    matrices = _dose_response(run)
    return KindOutput(
        series,
        n,
        matrices,
        details,
        _notes(params, run.read, run.first_order),
        null_method=NULL_METHOD,
        inconclusive=inconclusive,
    )


def _n(weights) -> int:
    return 0 if weights is None else len(weights)


def _details(ctx: TaskContext, run: Run, extra: dict) -> dict:
    params = run.params
    return {
        "stack": run.stack,
        "read_layer": run.read,
        "steer_layers": run.steer,
        "alphas": run.alphas,
        "main_alpha": params.main_alpha,
        "alpha_unit": "spread of the source's pooled states at the steering layer (fit items): "
        "sqrt(mean squared distance to their mean)",
        "effect_unit": "the source's group separation at the read layer (distance between its two "
        "groups' mean states, evaluation fold); every side's shift is measured along its own "
        "concept axis in this one unit",
        "direction": params.direction,
        "concepts": params.concepts.model_dump(),
        "items": {
            "toward": int(run.labels.sum()),
            "away_from": int((1 - run.labels).sum()),
            "n": len(run.items),
        },
        "item_ids": [int(ctx.probes.ids[i]) for i in run.items],
        "folds": run.folds.tolist(),
        "layers": {
            layer: {
                "unit": [round(p.spread[li], 6) for p in run.plans],
                "separation_in_units": [round(p.separation_in_spread[li], 4) for p in run.plans],
            }
            for li, layer in enumerate(run.steer)
        },
        "sides": {
            name: {
                "separation_in_source_units": [round(s, 4) for s in rec.separation],
                "nearest_mean_accuracy": [round(a, 4) for a in rec.accuracy],
                "eligible_for_flips": int(rec.eligible.sum()),
                "alpha_zero_effect_max_abs": float(np.abs(rec.effect[:, 0]).max()),
            }
            for name, rec in run.out.items()
        },
        "alpha_zero_max_abs_change": {name: rec.zero_change for name, rec in run.out.items()},
        "null_effects": "first_order" if run.first_order else "exact",
        **({"first_order": _first_order(run)} if run.first_order else {}),
        "pooling": run.pooling,
        "steered_at": "every position of the sequence (prompt and special tokens included)",
        **extra,
    }


NULL_HOW = {  # keyed by Run.first_order (exact also when every direction is a checked one)
    True: "to first order (one backward pass per item: the gradient of the item's axis "
    "coordinate, dotted with each direction) plus the mean remainder of the directions also "
    "steered exactly (details.first_order)",
    False: "by a steered pass each",
}


def _first_order(run: Run) -> dict:
    """How well the first-order effects (the null's) match exact steered passes, per side and
    steering layer, in effect units (mean over items): the concept direction at main_alpha and
    the first `first_order_checks` null directions, each measured both ways."""
    a, main = len(run.alphas), run.alphas.index(run.params.main_alpha)
    out, worst = {}, 0.0
    for name, rec in run.out.items():
        per_layer = {}
        for li, layer in enumerate(run.steer):
            exact = np.concatenate([e for e, _ in rec.first_order[li]], axis=1).mean(1)
            linear = np.concatenate([f for _, f in rec.first_order[li]], axis=1).mean(1)
            worst = max(worst, float(np.abs(exact[a:] - linear[a:]).max()))  # a >= 1 checked
            per_layer[layer] = {
                "concept_exact": _round(exact[main]),
                "concept_first_order": _round(linear[main]),
                "null_checks_exact": [_round(v) for v in exact[a:]],
                "null_checks_first_order": [_round(v) for v in linear[a:]],
            }
        out[name] = per_layer
    return {
        "rule": "null directions measured " + NULL_HOW[True] + "; the alphas steered exactly",
        "null_checks_max_abs_error": _round(worst),
        "sides": out,
    }


def _dose_response(run: Run) -> list[Matrix]:
    """alpha x steering layer: each side's mean effect (one unit for every side: compare the
    rows of two sides directly) and flip share; alpha = 0 is measured like every alpha."""
    rows = [f"{a:g}" for a in run.alphas]
    matrices = []
    for name, rec in run.out.items():
        every, mask = np.ones(rec.effect.shape[-1]), rec.eligible.astype(float)
        for measure, data, weight in (("effect", rec.effect, every), ("flips", rec.flip, mask)):
            values = [
                [_round(_mean(data[li, a], weight)) for li in range(len(run.steer))]
                for a in range(len(run.alphas))
            ]
            matrices.append(
                Matrix(
                    name=f"{measure}/{name}",
                    measure=measure,
                    group=name,
                    layer=f"read={run.read}",
                    rows=rows,
                    columns=list(run.steer),
                    values=values,
                )
            )
    return matrices


def _round(v: float) -> float | None:
    return round(float(v), 6) if np.isfinite(v) else None


def _notes(params: InterventionParams, read: str, first_order: bool) -> list[str]:
    return [
        f"Transfer at alpha = {params.main_alpha} (spread units): how far the source's concept "
        f"direction moves the target's state at {read} along the target's own "
        f"{params.concepts.toward!r}-vs-{params.concepts.away_from!r} axis, over how far it moves "
        "the source's along the source's. 1: as much; 0: not at all.",
        "Both effects are in ONE unit, the source's group separation at the read layer, so a "
        "target at another scale is not credited with more (or less) transfer.",
        f"Null: {params.n_null} directions fitted like the concept direction from shuffled group "
        f"labels, of the same norm, their effects measured {NULL_HOW[first_order]}. The "
        "source effect must clear its own "
        "null (p < 0.05) where the main score reads, "
        "otherwise the verdict is inconclusive (details.source_check). " + FLOOR_RULE + ".",
        "Over the steering layers the transfer is a ratio of means (mean target effect over mean "
        "source effect), not a mean of per-layer ratios.",
        "Rows of the dose-response matrices are alphas (0 = a zero vector through the same replay), "
        "columns steering layers.",
    ]

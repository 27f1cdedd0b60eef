"""From per-item effects to the kind's output: series per (source, target) over steering layers
at the main alpha, and the dose-response matrices (alpha x layer)."""

from __future__ import annotations

import numpy as np

from benchmark.core import Group
from benchmark.evaluation import KindOutput, Measure, Series
from benchmark.kinds import TaskContext
from benchmark.kinds.interventions.params import (
    NULL_METHOD,
    InterventionParams,
    pair_group,
    side_group,
)
from benchmark.kinds.interventions.runs import Run
from benchmark.layers import LayerAxis, relative_depth
from benchmark.metrics.statistics import Estimate, mean_of
from benchmark.results import Matrix


def _div(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def _mean(x: np.ndarray, mask: np.ndarray) -> float:
    return float(_div((x * mask).sum(-1), mask.sum()))


def _replicate_means(x: np.ndarray, mask: np.ndarray, weights: np.ndarray | None):
    return None if weights is None else _div(weights @ (x * mask), weights @ mask)


def _mean_estimate(x, null_x, mask, weights) -> Estimate:
    null = np.array([_mean(z, mask) for z in null_x]) if len(null_x) else None
    return Estimate(_mean(x, mask), null, _replicate_means(x, mask, weights))


def _ratio_estimate(x_t, null_t, mask_t, x_s, mask_s, weights) -> Estimate:
    """mean(target) / mean(source), draw by draw; the null's numerators are the random
    directions' target effects, its denominator the concept direction's source effect."""
    den = _mean(x_s, mask_s)
    null = np.array([float(_div(_mean(z, mask_t), den)) for z in null_t]) if len(null_t) else None
    reps = None
    if weights is not None:
        reps = _div(_replicate_means(x_t, mask_t, weights), _replicate_means(x_s, mask_s, weights))
    return Estimate(float(_div(_mean(x_t, mask_t), den)), null, reps)


def _series_estimates(run: Run, weights) -> dict[tuple[Group, str], list[Estimate]]:
    """Per steering layer at the main alpha: each side's effect and flips, each pair's transfer
    (and the mean transfer over targets), keyed (group, measure)."""
    params: InterventionParams = run.params
    out, m = run.out, run.alphas.index(params.main_alpha)
    src = out[params.source.name]
    n = len(run.items)
    every, eligible = np.ones(n), {k: v.eligible.astype(float) for k, v in out.items()}
    series: dict[tuple[Group, str], list[Estimate]] = {}
    for li in range(len(run.steer)):
        for side in [params.source, *params.targets]:
            rec, role = out[side.name], "source" if side == params.source else "target"
            series.setdefault((side_group(side), f"effect_{role}"), []).append(
                _mean_estimate(rec.effect[li, m], rec.null_effect[li], every, weights)
            )
            series.setdefault((side_group(side), f"flips_{role}"), []).append(
                _mean_estimate(rec.flip[li, m], rec.null_flip[li], eligible[side.name], weights)
            )
        pairs = []
        for target in params.targets:
            rec, group = out[target.name], pair_group(params.source, target)
            effect = _ratio_estimate(
                rec.effect[li, m], rec.null_effect[li], every, src.effect[li, m], every, weights
            )
            flips = _ratio_estimate(
                rec.flip[li, m],
                rec.null_flip[li],
                eligible[target.name],
                src.flip[li, m],
                eligible[params.source.name],
                weights,
            )
            series.setdefault((group, "transfer"), []).append(effect)
            series.setdefault((group, "transfer_flips"), []).append(flips)
            pairs.append((effect, flips))
        mean = pair_group(params.source, "mean")  # over the targets (the one, if one)
        series.setdefault((mean, "transfer"), []).append(mean_of([p[0] for p in pairs]))
        series.setdefault((mean, "transfer_flips"), []).append(mean_of([p[1] for p in pairs]))
    return series


def report(ctx: TaskContext, run: Run, extra: dict) -> KindOutput:
    params: InterventionParams = ctx.params
    n = len(run.items)
    axis = LayerAxis.of(
        run.steer,
        [relative_depth(run.names.index(layer), len(run.names)) for layer in run.steer],
        stack=run.stack,
    )
    modalities = tuple(sorted({s.modality for s in [params.source, *params.targets]}))
    series = [
        Series(
            group,
            Measure(measure, bounds=(0.0, 1.0) if measure.startswith("flips") else None),
            axis,
            estimates,
            modalities,
        )
        for (group, measure), estimates in _series_estimates(run, ctx.draws.weights(n)).items()
    ]
    matrices = _dose_response(run.out, params, run.steer, run.alphas, run.read)
    details = {
        "stack": run.stack,
        "read_layer": run.read,
        "steer_layers": run.steer,
        "alphas": run.alphas,
        "main_alpha": params.main_alpha,
        "alpha_unit": "spread of the source's pooled states at the steering layer (fit items): "
        "sqrt(mean squared distance to their mean)",
        "direction": params.direction,
        "concepts": params.concepts.model_dump(),
        "items": {
            "toward": int(run.labels.sum()),
            "away_from": int((1 - run.labels).sum()),
            "n": n,
        },
        "item_ids": [int(ctx.probes.ids[i]) for i in run.items],
        "folds": run.folds.tolist(),
        "probe": {
            name: {
                "heldout_accuracy": [round(a, 4) for a in rec.accuracy],
                "group_gap_in_sd": [round(s, 4) for s in rec.separation],
                "eligible_for_flips": int(rec.eligible.sum()),
            }
            for name, rec in run.out.items()
        },
        "pooling": run.pooling,
        "steered_at": "every position of the sequence (prompt and special tokens included)",
        **extra,
    }
    return KindOutput(
        series, n, matrices, details, _notes(params, run.read), null_method=NULL_METHOD
    )


def _dose_response(out, params: InterventionParams, steer, alphas, read) -> list[Matrix]:
    """alpha x steering layer: each side's mean effect and flip share, each pair's transfer."""
    rows = [f"{a:g}" for a in alphas]
    src = out[params.source.name]
    every = np.ones(src.effect.shape[-1])
    matrices = []

    def grid(fn) -> list[list[float | None]]:
        values = []
        for a_i in range(len(alphas)):
            row = []
            for li in range(len(steer)):
                v = float(fn(li, a_i))
                row.append(round(v, 6) if np.isfinite(v) else None)
            values.append(row)
        return values

    for name, rec in out.items():
        mask = rec.eligible.astype(float)
        for measure, fn in (
            ("effect", lambda li, a, rec=rec: _mean(rec.effect[li, a], every)),
            ("flips", lambda li, a, rec=rec, mask=mask: _mean(rec.flip[li, a], mask)),
        ):
            matrices.append(
                Matrix(
                    name=f"{measure}/{name}",
                    measure=measure,
                    group=name,
                    layer=f"read={read}",
                    rows=rows,
                    columns=list(steer),
                    values=grid(fn),
                )
            )
    for target in params.targets:
        rec, pair = out[target.name], pair_group(params.source, target).label

        def ratio(li, a, rec=rec):
            return _div(_mean(rec.effect[li, a], every), _mean(src.effect[li, a], every))

        matrices.append(
            Matrix(
                name=f"transfer/{pair}",
                measure="transfer",
                group=pair,
                layer=f"read={read}",
                rows=rows,
                columns=list(steer),
                values=grid(ratio),
            )
        )
    return matrices


def _notes(params: InterventionParams, read: str) -> list[str]:
    return [
        f"Transfer at alpha = {params.main_alpha} (spread units): the target's probe-logit shift "
        f"toward {params.concepts.toward!r} at {read}, over the source's, when the source's "
        "concept direction is added at the steering layer. 1 = the direction moves the target as "
        "much as the source; 0 = not at all.",
        "Effects are in standard deviations of each side's own unsteered probe scores (details."
        "probe.*.group_gap_in_sd: how far apart the two groups are in those units); flips: the "
        "share of away-group items whose predicted group changes.",
        f"Null: {params.n_null} random directions of the same norm (their target effect over the "
        "source's concept effect). A best layer's null and interval are those of the best of all "
        "steering layers.",
        "Rows of the dose-response matrices are alphas (0 = no steering), columns steering layers.",
    ]

"""From per-item effects to the shared result: curves per (source, target) over steering layers
at the main alpha, the dose-response matrices (alpha x layer), and the main score."""

from __future__ import annotations

import numpy as np

from benchmark.errors import NotApplicable
from benchmark.kinds import TaskContext, TaskOutput
from benchmark.kinds.interventions.params import (
    NULL_METHOD,
    InterventionParams,
    main_group,
    pair_name,
)
from benchmark.kinds.interventions.runs import Run
from benchmark.kinds.reporting import curve, inference_for, main_score
from benchmark.metrics.replicates import replicate_counts
from benchmark.metrics.statistics import Estimate, mean_of, relative_depth
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


def report(ctx: TaskContext, run: Run, extra: dict) -> TaskOutput:
    params: InterventionParams = ctx.params
    out, steer, names, alphas, read = run.out, run.steer, run.names, run.alphas, run.read
    items, labels, folds, stack = run.items, run.labels, run.folds, run.stack
    n = len(items)
    weights = (
        replicate_counts(params.ci_method, n, params.n_resamples, params.seed).numpy()
        if params.n_resamples
        else None
    )
    m = alphas.index(params.main_alpha)
    src = out[params.source.name]
    every, eligible = np.ones(n), {k: v.eligible.astype(float) for k, v in out.items()}
    depths = [relative_depth(names.index(layer), len(names)) for layer in steer]
    series: dict[tuple[str, str], list[Estimate]] = {}
    for li in range(len(steer)):
        for side in [params.source, *params.targets]:
            rec, role = out[side.name], "source" if side == params.source else "target"
            series.setdefault((f"effect_{role}", side.name), []).append(
                _mean_estimate(rec.effect[li, m], rec.null_effect[li], every, weights)
            )
            series.setdefault((f"flips_{role}", side.name), []).append(
                _mean_estimate(rec.flip[li, m], rec.null_flip[li], eligible[side.name], weights)
            )
        pairs = []
        for target in params.targets:
            rec, pair = out[target.name], pair_name(params.source, target)
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
            series.setdefault(("transfer", pair), []).append(effect)
            series.setdefault(("transfer_flips", pair), []).append(flips)
            pairs.append((effect, flips))
        if len(params.targets) > 1:
            series.setdefault(("transfer", "mean"), []).append(mean_of([p[0] for p in pairs]))
            series.setdefault(("transfer_flips", "mean"), []).append(mean_of([p[1] for p in pairs]))
    curves, main = [], None
    headline = main_group(ctx.config, params)
    if headline == "mean" and len(params.targets) == 1:
        headline = pair_name(params.source, params.targets[0])
    for (measure, group), estimates in series.items():
        bounds = (0.0, 1.0) if measure.startswith("flips") else None
        inference = inference_for(params, n, bounds=bounds)
        modalities = sorted({s.modality for s in [params.source, *params.targets]})
        curves.append(
            curve(
                measure,
                group,
                modalities,
                steer,
                estimates,
                inference,
                layer_depths=depths,
                stack=stack,
            )
        )
        if measure == ctx.config.main_score.measure and group == headline:
            try:
                main = main_score(
                    ctx.config.main_score,
                    params,
                    group,
                    modalities,
                    steer,
                    estimates,
                    inference,
                    null_method=NULL_METHOD,
                    layer_depths=depths,
                )
            except ValueError as err:
                raise NotApplicable(f"{measure} of {group} is undefined: {err}") from None
    if main is None:
        raise NotApplicable(f"no {ctx.config.main_score.measure} curve for group {headline!r}")
    matrices = _dose_response(out, params, steer, alphas, read)
    details = {
        "stack": stack,
        "read_layer": read,
        "steer_layers": steer,
        "alphas": alphas,
        "main_alpha": params.main_alpha,
        "alpha_unit": "spread of the source's pooled states at the steering layer (fit items): "
        "sqrt(mean squared distance to their mean)",
        "direction": params.direction,
        "concepts": params.concepts.model_dump(),
        "items": {"toward": int(labels.sum()), "away_from": int((1 - labels).sum()), "n": n},
        "item_ids": [int(ctx.probes.ids[i]) for i in items],
        "folds": folds.tolist(),
        "probe": {
            name: {
                "heldout_accuracy": [round(a, 4) for a in rec.accuracy],
                "group_gap_in_sd": [round(s, 4) for s in rec.separation],
                "eligible_for_flips": int(rec.eligible.sum()),
            }
            for name, rec in out.items()
        },
        "pooling": ctx.model.pooling or ctx.config.pooling,
        "steered_at": "every position of the sequence (prompt and special tokens included)",
        **extra,
    }
    return TaskOutput(main, curves, matrices, details, _notes(params, read))


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
        rec, pair = out[target.name], pair_name(params.source, target)

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

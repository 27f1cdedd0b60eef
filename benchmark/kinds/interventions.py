"""Intervention transfer: does a concept direction found in one language or modality steer the
model on another? (The causal test of the semantic hub: activation addition across inputs.)

Items: the probe sentences of two concept groups (`concepts`: two semantic categories, e.g.
animals vs food, or two concept labels), the same ids in every language (translations). They are
split in two folds, stratified by group; each fold is evaluated with everything fitted on the
other (direction, probes, scales), so no item is both fitted and measured.

Per fold, steering layer L and side (the source, each target; one stack for all):
  - direction v at L from the SOURCE's unsteered pooled states of the fit items: the difference of
    the two groups' means ("mean_difference"), or a logistic probe's weight ("probe"), unit norm;
  - alpha unit: the spread of the source's pooled states at L (sqrt of the mean squared distance
    to their mean) on the fit items: alpha = 1 adds a vector as long as the typical distance of a
    sentence vector from the centroid;
  - read layer R (default: the last): a logistic probe per side, trained on that side's UNSTEERED
    states of the fit items at R (toward-group = 1);
  - steered passes: alpha * unit * v added at L at every position (a forward hook on
    `layer_module`), over the evaluation items; the effect on an item is its probe logit's shift
    toward the steered group, in units of the standard deviation of the side's unsteered logits
    over the evaluation items (a probe's logit scale is arbitrary; its spread is not); a flip: an
    away-group item predicted away unsteered, toward steered.
Transfer = target effect / source effect at the same alpha and layer (and the same for flips).
Controls: alpha = 0 (no change: checked once per side and recorded), and `n_null` random unit
directions at `main_alpha` (the same vector norm): their target effect over the source's concept
effect is the null of the transfer. Intervals: half-samples of the items (ids shared by every
side). Steered passes are never cached (benchmark.kinds.passes).
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
from pydantic import Field

from benchmark.config import StatsParams, Strict, TaskConfig
from benchmark.errors import NotApplicable, UsageError
from benchmark.kinds import Kind, TaskContext, TaskOutput
from benchmark.kinds.passes import Passes, check_layer_spec, resolve_layer, shared_stack, steering
from benchmark.kinds.reporting import curve, inference_for, main_score
from benchmark.metrics.probing import fit_logistic, spread
from benchmark.metrics.replicates import replicate_counts
from benchmark.metrics.statistics import Estimate, mean_of, relative_depth
from benchmark.probes import ProbeSet
from benchmark.results import Matrix

NULL_METHOD = (
    "random unit directions at main_alpha (same norm as the concept vector): their target effect "
    "over the source's concept effect; draw k is the k-th random direction at every layer"
)
MEASURES = (
    "transfer",
    "transfer_flips",
    "effect_source",
    "effect_target",
    "flips_source",
    "flips_target",
)


class Side(Strict):
    language: str
    modality: Literal["text", "speech"]

    @property
    def name(self) -> str:
        return f"{self.language}:{self.modality}"


class Concepts(Strict):
    """Two groups of probe items: by sentence `category` (animals, food, ...) or by concept
    `label` of a word the sentence holds (ANIMAL.dog, ...). Steering pushes toward `toward`."""

    by: Literal["category", "label"] = "category"
    toward: str
    away_from: str


class InterventionParams(StatsParams):
    n_null: int = Field(default=8, ge=0)  # random directions: one steered pass each, per layer
    source: Side
    targets: list[Side] = Field(min_length=1)
    concepts: Concepts
    # None: each side's default stack (they must coincide); a name, or names (the first the model
    # has that takes every side's modality), e.g. [decoder, text_decoder, language_model]
    stack: str | list[str] | None = None
    steer_layers: Literal["all"] | list[str | float] = "all"  # names or relative depths
    read_layer: str | float = "last"
    direction: Literal["mean_difference", "probe"] = "mean_difference"
    alphas: list[float] = Field(min_length=1)  # the dose-response sweep, in spread units
    main_alpha: float = 1.0
    min_items: int = Field(default=10, ge=4)  # per concept group
    probe_l2: float = Field(default=0.01, gt=0)  # benchmark.metrics.probing


def pair_name(source: Side, target: Side) -> str:
    return f"{source.name}->{target.name}"


def _groups(params: InterventionParams) -> list[str]:
    return [pair_name(params.source, t) for t in params.targets] + ["mean"]


def _main_group(config: TaskConfig, params: InterventionParams) -> str:
    if config.main_score.group:
        return config.main_score.group
    return "mean" if len(params.targets) > 1 else pair_name(params.source, params.targets[0])


def check_config(config: TaskConfig) -> None:
    params = InterventionParams(**config.metric)
    if any(a < 0 for a in params.alphas) or not any(a > 0 for a in params.alphas):
        raise UsageError(
            f"metric.alphas {params.alphas}: give at least one alpha > 0 and none below 0 (alpha "
            "= 0, the no-steering control, is always included)"
        )
    if params.main_alpha <= 0 or params.main_alpha not in params.alphas:
        raise UsageError(
            f"metric.main_alpha {params.main_alpha} must be one of metric.alphas {params.alphas} "
            "and above 0"
        )
    names = [t.name for t in params.targets]
    if len(set(names)) != len(names) or params.source.name in names:
        raise UsageError(
            f"metric.targets {names}: each target once, and none equal to the source "
            f"{params.source.name}"
        )
    used = {params.source.modality, *(t.modality for t in params.targets)}
    if set(config.modalities) != used:
        raise UsageError(
            f"modalities {config.modalities} must be exactly those of metric.source and "
            f"metric.targets: {sorted(used)}"
        )
    if params.concepts.toward == params.concepts.away_from:
        raise UsageError("metric.concepts: toward and away_from name the same group")
    if isinstance(params.stack, list) and not params.stack:
        raise UsageError("metric.stack: an empty list; give a stack name, a list of names, or null")
    check_layer_spec(params.read_layer, "metric.read_layer")
    if params.steer_layers != "all":
        if not params.steer_layers:
            raise UsageError("metric.steer_layers: an empty list; give layers or `all`")
        for value in params.steer_layers:
            check_layer_spec(value, "metric.steer_layers")
    if config.main_score.measure not in MEASURES:
        raise UsageError(
            f"main_score.measure {config.main_score.measure!r} is not one of {list(MEASURES)}"
        )
    group = _main_group(config, params)
    if config.main_score.measure in ("transfer", "transfer_flips") and group not in _groups(params):
        raise UsageError(f"main_score.group {group!r} must be one of {_groups(params)}")


def group_items(probes: ProbeSet, concepts: Concepts, language: str) -> tuple[list, list]:
    """Positions in probes.ids of the toward- and away-group items (an item in both is left out)."""
    if concepts.by == "category":
        rows = probes.frame.iloc[probes._rows(language)]
        category = rows["category"].astype(str).tolist()
        toward = {i for i, c in enumerate(category) if c == concepts.toward}
        away = {i for i, c in enumerate(category) if c == concepts.away_from}
    else:
        labels = [{w.get("label") for w in ws} for ws in probes.words(language)]
        toward = {i for i, ls in enumerate(labels) if concepts.toward in ls}
        away = {i for i, ls in enumerate(labels) if concepts.away_from in ls}
    both = toward & away
    return sorted(toward - both), sorted(away - both)


def _available(probes: ProbeSet, concepts: Concepts, language: str) -> str:
    if concepts.by == "category":
        rows = probes.frame.iloc[probes._rows(language)]
        counts = rows["category"].astype(str).value_counts()
    else:
        import pandas as pd

        counts = pd.Series([w.get("label") for ws in probes.words(language) for w in ws])
        counts = counts.value_counts()
    top = ", ".join(f"{k} ({v})" for k, v in counts.head(8).items() if str(k).strip())
    return top or "none"


def check_probes(config: TaskConfig, probes: ProbeSet) -> None:
    params = InterventionParams(**config.metric)
    for field, side in [("source", params.source)] + [
        (f"targets.{i}", t) for i, t in enumerate(params.targets)
    ]:
        if side.language not in probes.languages:
            raise UsageError(
                f"metric.{field}.language {side.language!r} is not among the probe languages "
                f"{probes.languages}; add it to probes.languages (or --languages)"
            )
    toward, away = group_items(probes, params.concepts, params.source.language)
    for name, found in ((params.concepts.toward, toward), (params.concepts.away_from, away)):
        if len(found) < params.min_items:
            raise UsageError(
                f"metric.concepts: {params.concepts.by} {name!r} has {len(found)} items among the "
                f"n={len(probes.ids)} probes; metric.min_items={params.min_items} are needed "
                f"(most frequent: {_available(probes, params.concepts, params.source.language)})"
            )


# --- scoring --------------------------------------------------------------------------------------


def _folds(labels: np.ndarray, seed: int) -> np.ndarray:
    """Fold 0/1 per item, stratified by label, deterministic in `seed`."""
    rng = np.random.default_rng([seed, 7])
    folds = np.zeros(len(labels), dtype=int)
    for value in (0, 1):
        idx = np.flatnonzero(labels == value)
        folds[rng.permutation(idx)[1::2]] = 1
    return folds


def _random_unit(dim: int, seed: int, layer: int, k: int) -> np.ndarray:
    vec = np.random.default_rng([seed, 11, layer, k]).standard_normal(dim)
    return vec / np.linalg.norm(vec)


def _steer_layers(params: InterventionParams, names: list[str], read: str) -> list[str]:
    chosen = (
        list(names)
        if params.steer_layers == "all"
        else [resolve_layer(v, names, "metric.steer_layers") for v in params.steer_layers]
    )
    chosen = sorted(set(chosen), key=names.index)
    kept = [n for n in chosen if names.index(n) <= names.index(read)]
    if not kept:
        raise UsageError(
            f"metric.steer_layers {chosen}: none is at or before the read layer {read!r}"
        )
    return kept


class _Side:
    """Per-item results of one side (source or target), filled fold by fold."""

    def __init__(self, side: Side, n: int, layers: int, alphas: int, n_null: int):
        self.side = side
        self.effect = np.full((layers, alphas, n), np.nan)  # normalised logit shift
        self.flip = np.zeros((layers, alphas, n))
        self.null_effect = np.full((layers, n_null, n), np.nan)
        self.null_flip = np.zeros((layers, n_null, n))
        self.eligible = np.zeros(n, dtype=bool)  # away-group items predicted away, unsteered
        self.accuracy: list[float] = []
        self.separation: list[float] = []


class _Fold:
    """One fold: probes fitted on the other fold's unsteered states, steered passes over this
    fold's items, the effects written into each side's per-item arrays."""

    def __init__(self, run: _Run, fold: int):
        self.run, self.ev = run, run.folds == fold
        fit = ~self.ev
        labels = run.labels
        self.probe, self.logits0, self.sep = {}, {}, {}
        for side in run.sides:
            x = run.base[side.name][run.read_index]
            probe = fit_logistic(x[fit], labels[fit], run.params.probe_l2)
            z = probe.logits(x[self.ev])
            self.probe[side.name], self.logits0[side.name] = probe, z
            self.sep[side.name] = float(z.std())  # the effect's unit: the score's spread
            record = run.out[side.name]
            record.accuracy.append(float(((z > 0) == (labels[self.ev] == 1)).mean()))
            gap = z[labels[self.ev] == 1].mean() - z[labels[self.ev] == 0].mean()
            record.separation.append(float(gap / (z.std() or 1.0)))
            record.eligible[np.flatnonzero(self.ev)] = (labels[self.ev] == 0) & (z <= 0)

    def read(self, side: Side, layer: str, vector: np.ndarray | None) -> np.ndarray:
        """The read layer's pooled states of this fold's items with `vector` added at `layer`."""
        run = self.run
        module = run.adapter.layer_module(side.modality, layer, run.stack)
        with steering(module, vector):
            return run.passes.pooled(side.language, side.modality, run.items[self.ev], [run.read])[
                0
            ]

    def measure(self, vector: np.ndarray, li: int, slot: int, null: bool) -> None:
        run = self.run
        for side in run.sides:
            z = self.probe[side.name].logits(self.read(side, run.steer[li], vector))
            z0, sep = self.logits0[side.name], self.sep[side.name]
            effect = (z - z0) / sep if sep > 0 else np.full(len(z), np.nan)
            flips = (z > 0) & (z0 <= 0) & (run.labels[self.ev] == 0)
            record = run.out[side.name]
            (record.null_effect if null else record.effect)[li, slot, self.ev] = effect
            (record.null_flip if null else record.flip)[li, slot, self.ev] = flips

    def steer_all(self) -> None:
        run, params, fit = self.run, self.run.params, ~self.ev
        lab = run.labels[fit]
        for li, layer in enumerate(run.steer):
            x_src = run.base[params.source.name][run.needed.index(layer)][fit]
            gap = x_src[lab == 1].mean(0) - x_src[lab == 0].mean(0)
            if params.direction == "probe":
                v = fit_logistic(x_src, lab, params.probe_l2).direction()
            else:
                v = gap / (np.linalg.norm(gap) or 1.0)
            unit = spread(x_src)
            run.layer_details[layer]["unit"].append(round(unit, 6))
            run.layer_details[layer]["separation_in_units"].append(
                round(float(np.linalg.norm(gap) / unit), 4)
            )
            for a_i, alpha in enumerate(run.alphas):
                if alpha == 0:  # the unsteered pass itself
                    for record in run.out.values():
                        record.effect[li, a_i, self.ev] = 0.0
                        record.flip[li, a_i, self.ev] = 0.0
                else:
                    self.measure(alpha * unit * v, li, a_i, null=False)
            for k in range(params.n_null):
                r = _random_unit(len(v), params.seed, run.names.index(layer), k)
                self.measure(params.main_alpha * unit * r, li, k, null=True)

    def zero_control(self) -> dict[str, float]:
        """alpha = 0 through the hook: the largest change of any read-layer value (expected 0)."""
        run, out = self.run, {}
        for side in run.sides:
            dim = run.base[side.name].shape[-1]
            x = self.read(side, run.steer[0], np.zeros(dim))
            out[side.name] = float(np.abs(x - run.base[side.name][run.read_index][self.ev]).max())
        return out


class _Run:
    """Everything one task's scoring shares: items, folds, layers, unsteered states, results."""

    def __init__(self, ctx: TaskContext, stack: str):
        params: InterventionParams = ctx.params
        self.params, self.stack = params, stack
        self.sides = [params.source, *params.targets]
        toward, away = group_items(ctx.probes, params.concepts, params.source.language)
        self.items = np.array(toward + away)
        self.labels = np.array([1] * len(toward) + [0] * len(away))
        self.folds = _folds(self.labels, params.seed)
        self.adapter = ctx.model.load()
        self.names = self.adapter.layer_names(params.source.modality, stack)
        for side in params.targets:
            if self.adapter.layer_names(side.modality, stack) != self.names:
                raise NotApplicable(f"{side.name}: stack {stack!r} has other layers for it")
        self.read = resolve_layer(params.read_layer, self.names, "metric.read_layer")
        self.steer = _steer_layers(params, self.names, self.read)
        self.needed = sorted({*self.steer, self.read}, key=self.names.index)
        self.read_index = self.needed.index(self.read)
        pooling = ctx.model.pooling or ctx.config.pooling
        self.passes = Passes(self.adapter, ctx.probes, stack, pooling, ctx.model.batch_size)
        self.alphas = sorted({0.0, *params.alphas})
        n = len(self.items)
        self.out = {
            s.name: _Side(s, n, len(self.steer), len(self.alphas), params.n_null)
            for s in self.sides
        }
        self.layer_details = {name: {"unit": [], "separation_in_units": []} for name in self.steer}
        # unsteered states of every item, each fold's items batched as its steered passes are
        self.base = {}
        for side in self.sides:
            parts = {
                f: self.passes.pooled(
                    side.language, side.modality, self.items[self.folds == f], self.needed
                )
                for f in (0, 1)
            }
            full = np.zeros((len(self.needed), n, parts[0].shape[-1]), np.float32)
            for f, part in parts.items():
                full[:, self.folds == f] = part
            self.base[side.name] = full


def score_interventions(ctx: TaskContext) -> TaskOutput:
    params: InterventionParams = ctx.params
    if ctx.model is None:
        raise NotApplicable("this kind runs its own forward passes and needs the model itself")
    sides = [params.source, *params.targets]
    stack = shared_stack(ctx.model, [s.modality for s in sides], params.stack)
    clock = time.perf_counter()
    run = _Run(ctx, stack)
    control: dict[str, float] = {}
    for f in (0, 1):
        fold = _Fold(run, f)
        fold.steer_all()
        if f == 0:
            control = fold.zero_control()
    extra = {
        "layers": run.layer_details,
        "alpha_zero_max_abs_change": control,
        "item_passes": run.passes.item_passes,
        "seconds_forward_and_fit": round(time.perf_counter() - clock, 2),
    }
    return _report(ctx, run, extra)


# --- estimates and the result ---------------------------------------------------------------------


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


def _report(ctx: TaskContext, run: _Run, extra: dict) -> TaskOutput:
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
    main_group = _main_group(ctx.config, params)
    if main_group == "mean" and len(params.targets) == 1:
        main_group = pair_name(params.source, params.targets[0])
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
        if measure == ctx.config.main_score.measure and group == main_group:
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
        raise NotApplicable(f"no {ctx.config.main_score.measure} curve for group {main_group!r}")
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


KINDS = {
    "intervention_transfer": Kind(
        name="intervention_transfer",
        score=score_interventions,
        params=InterventionParams,
        description="steer with a concept direction from one language/modality, measure another",
        needs="all",
        check_config=check_config,
        check_probes=check_probes,
    )
}

"""The steered passes: two folds of items, a direction and probes fitted on one fold, steered
forward passes (a hook on `layer_module`) over the other; per-item effects of every side."""

from __future__ import annotations

import numpy as np

from benchmark.errors import NotApplicable, UsageError
from benchmark.kinds import TaskContext
from benchmark.kinds.interventions.params import InterventionParams, Side, group_items
from benchmark.kinds.passes import Passes, resolve_layer, steering
from benchmark.metrics.probing import fit_logistic, spread


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


class SideResults:
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


class Fold:
    """One fold: probes fitted on the other fold's unsteered states, steered passes over this
    fold's items, the effects written into each side's per-item arrays."""

    def __init__(self, run: Run, fold: int):
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
            states = run.passes.pooled(side.language, side.modality, run.items[self.ev], [run.read])
        return states[0]

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


class Run:
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
        self.pooling = ctx.reps.pooling
        self.passes = Passes(self.adapter, ctx.probes, stack, self.pooling, ctx.model.batch_size)
        self.alphas = sorted({0.0, *params.alphas})
        n = len(self.items)
        self.out = {
            s.name: SideResults(s, n, len(self.steer), len(self.alphas), params.n_null)
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

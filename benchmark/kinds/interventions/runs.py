"""The steered passes: two folds of items; per fold, the steering direction fitted on the other
fold's source states, each side's concept axis read on this fold's own unsteered states, and one
steered call per (side, steering layer) carrying every alpha (0 included) and every null
direction; per-item effects of every side in ONE unit, the source's group separation."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from benchmark.errors import NotApplicable, UsageError
from benchmark.kinds import TaskContext
from benchmark.kinds.interventions.params import InterventionParams, Side, group_items
from benchmark.kinds.interventions.steered import side_passes
from benchmark.kinds.passes import resolve_layer
from benchmark.metrics.probing import fit_logistic, spread


def _folds(labels: np.ndarray, seed: int) -> np.ndarray:
    """Fold 0/1 per item, stratified by label, deterministic in `seed`."""
    rng = np.random.default_rng([seed, 7])
    folds = np.zeros(len(labels), dtype=int)
    for value in (0, 1):
        idx = np.flatnonzero(labels == value)
        folds[rng.permutation(idx)[1::2]] = 1
    return folds


def _null_labels(labels: np.ndarray, seed: int, fold: int, n_null: int) -> list[np.ndarray]:
    """The null's relabellings of one fold's fit items: draw k shuffles the group labels, and its
    direction is fitted from them exactly as the concept direction is from the true labels, at
    every steering layer (so draw k's directions are related across layers as the concept's
    are, whatever the stack does between layers)."""
    return [np.random.default_rng([seed, 13, fold, k]).permutation(labels) for k in range(n_null)]


def _direction(x: np.ndarray, labels: np.ndarray, params: InterventionParams) -> np.ndarray:
    """The unit direction from the away group to the toward group: mean difference or probe."""
    if params.direction == "probe":
        return fit_logistic(x, labels, params.probe_l2).direction()
    gap = x[labels == 1].mean(0) - x[labels == 0].mean(0)
    return gap / (np.linalg.norm(gap) or 1.0)


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


@dataclass
class Axis:
    """A side's concept axis at the read layer on one fold's unsteered states: the unit vector
    from the away group's mean to the toward group's, the midpoint between the two means on it
    (the side's own toward/away boundary) and the distance between the means."""

    unit: np.ndarray
    midpoint: float
    separation: float

    @classmethod
    def of(cls, x: np.ndarray, labels: np.ndarray) -> Axis:
        toward, away = x[labels == 1].mean(0), x[labels == 0].mean(0)
        gap = toward - away
        norm = float(np.linalg.norm(gap))
        unit = gap / norm if norm > 0 else np.zeros_like(gap)
        return cls(unit, float((toward + away) @ unit / 2), norm)


class SideResults:
    """Per-item results of one side (source or target), filled fold by fold. Effects are the
    shift of the item's read-layer state along the side's own concept axis, in units of the
    SOURCE's group separation (the same unit for every side)."""

    def __init__(self, side: Side, n: int, layers: int, alphas: int, n_null: int):
        self.side = side
        self.effect = np.full((layers, alphas, n), np.nan)
        self.flip = np.zeros((layers, alphas, n))
        self.null_effect = np.full((layers, n_null, n), np.nan)
        self.null_flip = np.zeros((layers, n_null, n))
        self.eligible = np.zeros(n, dtype=bool)  # away-group items on the away side, unsteered
        self.separation: list[float] = []  # the side's group gap, in source separations, per fold
        self.accuracy: list[float] = []  # nearest-mean accuracy on its own axis, per fold
        self.zero_change = 0.0  # largest |change| of a read-layer value at alpha = 0
        # first-order null: per steering layer and fold, (exact effects [alphas + checks, n], their
        # first-order predictions): how linear the response is where the null is taken
        self.first_order: list[list[tuple]] = [[] for _ in range(layers)]
        # kept for the intervals, which refit the read axes on every replicate: the unsteered
        # read-layer states [n, D] and the concept vector's shifts at main_alpha [layers, n, D]
        self.states: np.ndarray | None = None
        self.shifts: np.ndarray | None = None


@dataclass
class Plan:
    """What one fold steers with (fitted on the other fold's source states) and its unit."""

    vectors: list[np.ndarray]  # per steering layer: [alphas + n_null, D] (concept, then null)
    spread: list[float]  # the alpha unit per steering layer
    separation_in_spread: list[float]  # the source's group gap at the steering layer, in it
    source_axis: Axis  # the source's concept axis at the read layer (this fold)


@dataclass
class Run:
    """Everything one task's scoring shares: items, folds, layers, passes, results."""

    ctx: TaskContext
    stack: str
    out: dict[str, SideResults] = field(default_factory=dict)
    item_passes: int = 0

    def __post_init__(self):
        params: InterventionParams = self.ctx.params
        self.params = params
        self.sides = [params.source, *params.targets]
        toward, away = group_items(self.ctx.probes, params.concepts, params.source.language)
        self.items = np.array(toward + away)
        self.labels = np.array([1] * len(toward) + [0] * len(away))
        self.folds = _folds(self.labels, params.seed)
        self.fold_items = [np.flatnonzero(self.folds == f) for f in (0, 1)]
        self.adapter = self.ctx.model.load()
        self.names = self.adapter.layer_names(params.source.modality, self.stack)
        for side in params.targets:
            if self.adapter.layer_names(side.modality, self.stack) != self.names:
                raise NotApplicable(f"{side.name}: stack {self.stack!r} has other layers for it")
        self.read = resolve_layer(params.read_layer, self.names, "metric.read_layer")
        self.steer = _steer_layers(params, self.names, self.read)
        self.needed = sorted({*self.steer, self.read}, key=self.names.index)
        self.read_index = self.needed.index(self.read)
        self.pooling = self.ctx.reps.pooling
        self.alphas = sorted({0.0, *params.alphas})
        # first-order null effects, unless every null direction is one of the checked ones
        self.first_order = (
            params.null_effects == "first_order" and params.n_null > params.first_order_checks
        )
        n = len(self.items)
        self.out = {
            s.name: SideResults(s, n, len(self.steer), len(self.alphas), params.n_null)
            for s in self.sides
        }
        self.plans: list[Plan] = []

    def passes(self, side: Side):
        model = self.ctx.model
        return side_passes(
            self.adapter, self.ctx.probes, side, self.items, self.stack, self.pooling,
            model.batch_size,
        )  # fmt: skip

    def run(self) -> None:
        """Every side, every fold, every steering layer: one steered call each."""
        source = self.params.source
        passes = self.passes(source)
        base = [passes.unsteered(self.needed, self.fold_items[f]) for f in (0, 1)]
        self.plans = [self._plan(base, f) for f in (0, 1)]
        for side in self.sides:
            if side != source:
                passes = self.passes(side)
                base = [passes.unsteered(self.needed, self.fold_items[f]) for f in (0, 1)]
            for f in (0, 1):
                self._measure(side, passes, base[f], f)
            self.item_passes += passes.item_passes
            passes.release()

    def _plan(self, base: list[np.ndarray], f: int) -> Plan:
        """Fold f's steering vectors, fitted on fold 1 - f's source states (no item is both
        fitted and measured): the concept direction and the null's relabelled directions, and
        the source's axis at the read layer on fold f."""
        params, fit = self.params, self.labels[self.fold_items[1 - f]]
        shuffled = _null_labels(fit, params.seed, f, params.n_null)
        vectors, units, seps = [], [], []
        for layer in self.steer:
            x = base[1 - f][self.needed.index(layer)]
            v = _direction(x, fit, params)
            unit = spread(x)
            rows = [a * unit * v for a in self.alphas]
            rows += [params.main_alpha * unit * _direction(x, y, params) for y in shuffled]
            vectors.append(np.stack(rows))
            units.append(unit)
            gap = np.linalg.norm(x[fit == 1].mean(0) - x[fit == 0].mean(0))
            seps.append(float(gap / unit) if unit > 0 else float("nan"))
        axis = Axis.of(base[f][self.read_index], self.labels[self.fold_items[f]])
        if axis.separation <= 0:
            raise NotApplicable(
                f"{params.source.name}: the two concept groups have the same mean state at "
                f"{self.read}; there is no concept axis to measure a transfer in"
            )
        return Plan(vectors, units, seps, axis)

    @staticmethod
    def _first_order(grads: np.ndarray, vectors, exact, a: int):
        """([alphas + n_null, n] shifts along the axis, the first-order shifts of the vectors
        steered exactly): the alphas' and the checked directions' shifts are exact, every other
        null direction's is the gradient of each item's axis coordinate with respect to the
        vector (`grads`, one backward pass per item), dotted with it, plus the item's mean
        second-order remainder over the checked directions (exact - first order: adding any
        vector of this norm moves an item by about the same amount, which the gradient alone
        misses)."""
        linear = vectors @ grads.T  # [K, n]
        remainder = (exact[a:] - linear[a : len(exact)]).mean(0)
        return np.concatenate([exact, linear[len(exact) :] + remainder]), linear[: len(exact)]

    def _measure(self, side: Side, passes, base: np.ndarray, f: int) -> None:
        """Fold f of one side: its own axis on its unsteered states, then one steered call per
        steering layer; effects along that axis in units of the source's separation."""
        ev, plan, record = self.fold_items[f], self.plans[f], self.out[side.name]
        labels = self.labels[ev]
        x0 = base[self.read_index]
        axis = Axis.of(x0, labels)
        p0 = x0 @ axis.unit
        unit = plan.source_axis.separation
        record.separation.append(axis.separation / unit)
        record.accuracy.append(float(((p0 >= axis.midpoint) == (labels == 1)).mean()))
        eligible = (labels == 0) & (p0 < axis.midpoint)
        record.eligible[ev] = eligible
        a = len(self.alphas)
        zero, main = self.alphas.index(0.0), self.alphas.index(self.params.main_alpha)
        if record.states is None:
            record.states = np.zeros((len(self.items), x0.shape[-1]))
            record.shifts = np.zeros((len(self.steer), len(self.items), x0.shape[-1]))
        record.states[ev] = x0
        for li, layer in enumerate(self.steer):
            vectors = plan.vectors[li]
            if self.first_order:
                exact = vectors[: a + self.params.first_order_checks]
                # one forward and backward pass: every direction's first-order effect, and its
                # forward (zero shift) is the zero vector's steered pass, alpha 0 (row `zero`,
                # the first: alphas are sorted) at no cost of its own
                cotangents = np.tile(axis.unit, (len(ev), 1))
                first = passes.gradients(layer, self.read, cotangents, ev)
                steered = passes.steered(layer, exact[zero + 1 :], [self.read], ev)[:, 0]
                states = np.concatenate([first.states[None], steered])  # [K, n, D]
            else:
                exact = vectors
                states = passes.steered(layer, exact, [self.read], ev)[:, 0]  # [K, n, D]
            delta = states - x0[None]
            record.zero_change = max(record.zero_change, float(np.abs(delta[zero]).max()))
            record.shifts[li][ev] = delta[main]
            shift = delta @ axis.unit  # [K, n]
            if self.first_order:
                shift, linear = self._first_order(first.gradients, vectors, shift, a)
                record.first_order[li].append((shift[: len(exact)] / unit, linear / unit))
            flips = eligible[None] & (p0[None] + shift >= axis.midpoint)
            record.effect[li][:, ev] = shift[:a] / unit
            record.flip[li][:, ev] = flips[:a]
            record.null_effect[li][:, ev] = shift[a:] / unit
            record.null_flip[li][:, ev] = flips[a:]

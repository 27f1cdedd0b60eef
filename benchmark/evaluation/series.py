"""What a task kind hands to the evaluator: estimates per (group, measure, layer), typed.

A kind scores its inputs layer by layer; each score is an `Estimate` (the value, its draws under
the null, its draws on replicates of the sentences: benchmark.metrics.statistics). It returns them
as `Series` — one per (group, measure), over one `LayerAxis` — in a `KindOutput`, with any
matrices, details and notes. The evaluator (benchmark.evaluation.evaluator) turns every series
into a curve and the configured one into the task's main score, the same way for every kind.

Every kind draws its nulls and replicates from one `Draws`, made by the evaluator from the task's
statistics settings, so the same permutations and sentence weights serve every pair, group and
layer of a task: means over pairs and the best layer are taken draw by draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from benchmark.core import Group
from benchmark.layers import LayerAxis
from benchmark.metrics.nulls import permutations
from benchmark.metrics.replicates import replicate_counts
from benchmark.metrics.statistics import Estimate


@dataclass(frozen=True)
class Measure:
    """What a number means: its range (None = unbounded), its direction, whether it ranks models
    (False: a descriptive property, such as which language a layer leans to, read against its
    `neutral` value) and its chance level where it has a closed form."""

    name: str
    bounds: tuple[float, float] | None = (0.0, 1.0)
    higher_is_better: bool = True
    ranked: bool = True
    neutral: float | None = None
    chance: float | None = None


@dataclass
class Series:
    """One curve's worth of estimates: `measure` of `group` at every layer of `layers`.
    `baselines`: reference values beside it (e.g. what length alone gives); an Estimate there
    (drawn with the same permutations and replicates) also gives the margin over it."""

    group: Group
    measure: Measure
    layers: LayerAxis
    estimates: list[Estimate]
    modalities: tuple[str, ...]
    baselines: dict[str, float | list[Estimate]] = field(default_factory=dict)
    # a share of 0/1 outcomes (accuracy@1: one per query and pair): how many it averages, for
    # intervals that keep their coverage near 0 and 1 (benchmark.metrics.intervals)
    outcomes: int | None = None
    # the measure over the selectable layers when `main_score.layer` is "mean", if it is not the
    # mean of the per-layer values (a ratio of means: benchmark.kinds.interventions); None: the
    # mean of the layers' estimates, draw by draw
    layer_mean: Estimate | None = None
    # the same measure with a meaning-free confound taken out (e.g. retrieval with what length
    # explains of each query's similarities removed), on the same axis and draws: the verdict is
    # above_null only when this clears its null too, at the layer the score is read at — a model
    # that knows only length must not beat the null because translations share their length
    verdict_control: Series | None = None
    # what this series takes out when it is another's verdict control ("length"): the verdict's
    # reason names it
    removes: str = ""

    def __post_init__(self):
        if len(self.estimates) != len(self.layers):
            raise ValueError(
                f"series {self.measure.name} of {self.group.label}: {len(self.estimates)} "
                f"estimates for {len(self.layers)} layers"
            )
        control = self.verdict_control
        if control is not None and control.layers.names != self.layers.names:
            raise ValueError(f"series {self.measure.name}: its verdict control has other layers")


@dataclass
class KindOutput:
    """Everything a kind computed for one task: its series, optional matrices (results'
    `Matrix`), kind-specific details and notes, the number of sentences its intervals are over,
    and why a (group, measure) the task could ask for is missing (said when it is asked for)."""

    series: list[Series]
    n: int
    matrices: list = field(default_factory=list)
    details: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)  # group label -> why it has no series
    null_method: str = ""  # how the nulls were drawn (recorded with the main score)
    # why the main score, whatever its value, cannot be read (e.g. a transfer whose source
    # effect does not clear its own null): its verdict is then "inconclusive", with this reason
    inconclusive: str | None = None


@dataclass
class Draws:
    """The task's permutations and replicate weights, made once from its statistics settings:
    every kind draws its nulls and intervals from here (the same seed -> the same draws for
    every pair, group and layer)."""

    n_null: int
    n_resamples: int
    ci_method: str
    seed: int

    @classmethod
    def of(cls, params) -> Draws:
        return cls(params.n_null, params.n_resamples, params.ci_method, params.seed)

    def permutations(self, n: int, strata=None) -> np.ndarray | None:
        """[n_null, n] permutations of n units (None when the task asks for no null); with
        `strata` (a label per unit) each unit moves only within its stratum."""
        return permutations(n, self.n_null, self.seed, strata).numpy() if self.n_null else None

    def weights(self, n: int) -> np.ndarray | None:
        """[n_resamples, n] replicate weights of n sentences (None when no interval)."""
        if not self.n_resamples:
            return None
        return replicate_counts(self.ci_method, n, self.n_resamples, self.seed).numpy()

"""The intervention-transfer task's settings and the checks that run before any model loads."""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field

from benchmark.config import StatsParams, Strict, TaskConfig
from benchmark.core import Group
from benchmark.errors import UsageError
from benchmark.kinds.passes import check_layer_spec
from benchmark.probes import ProbeSet

NULL_METHOD = (
    "directions fitted exactly as the concept direction is, from the fit items with their group "
    "labels shuffled (draw k: the k-th shuffle, at every steering layer), at main_alpha and the "
    "same norm; each direction's effect by metric.null_effects (first_order: the gradient of "
    "each item's axis coordinate with respect to the steering vector, dotted with the "
    "direction, plus the item's mean second-order remainder over the first_order_checks "
    "directions steered exactly; exact: a steered pass per direction); a transfer's null is "
    "such a direction's target effect over the concept direction's source effect"
)
MEASURES = (
    "transfer",
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
    # null directions per steering layer (shuffled-label directions, each steered like an alpha):
    # the null of every effect and transfer, and the check that the source effect is not noise.
    # 39: p down to 0.025 (the smallest p is 1 / (n_null + 1), and a verdict needs p < 0.05: 19
    # could never give one)
    n_null: int = Field(default=39, ge=0)
    # how each null direction's effect is measured: "first_order" (the gradient of each item's
    # axis coordinate with respect to the steering vector, one backward pass per item and layer
    # for every direction, plus the mean second-order remainder of `first_order_checks`
    # directions steered exactly; details.first_order) or "exact" (a steered pass per direction;
    # also what runs when n_null <= first_order_checks: every direction is a checked one)
    null_effects: Literal["first_order", "exact"] = "first_order"
    first_order_checks: int = Field(default=4, ge=1)
    source: Side
    targets: list[Side] = Field(min_length=1)
    concepts: Concepts
    # None: each side's default stack (they must coincide); "shared": the first stack of the
    # model that takes every side's modality (a role, whatever the family calls it); or a stack
    # name of one model (a user's own choice)
    stack: str | None = None
    steer_layers: Literal["all"] | list[str | float] = "all"  # names or relative depths
    read_layer: str | float = "last"
    direction: Literal["mean_difference", "probe"] = "mean_difference"
    alphas: list[float] = Field(min_length=1)  # the dose-response sweep, in spread units
    main_alpha: float = 1.0
    min_items: int = Field(default=10, ge=4)  # per concept group
    probe_l2: float = Field(default=0.01, gt=0)  # benchmark.metrics.probing


def pair_group(source: Side, target: Side | str) -> Group:
    """The group of a transfer: from the source to one target (or target="mean")."""
    return Group.of(source=source.name, target=target if isinstance(target, str) else target.name)


def side_group(side: Side) -> Group:
    """The group of one side's own effect or flips."""
    return Group.of(side=side.name)


def default_group(config: TaskConfig, params: InterventionParams) -> dict[str, str]:
    measure = config.main_score.measure
    if measure.endswith("_source"):
        return side_group(params.source).as_dict()
    if measure.endswith("_target"):
        return {}  # one of the targets: the task must name it
    return pair_group(params.source, "mean").as_dict()


def _allowed_groups(measure: str, params: InterventionParams) -> list[Group]:
    if measure.endswith("_source"):
        return [side_group(params.source)]
    if measure.endswith("_target"):
        return [side_group(t) for t in params.targets]
    return [pair_group(params.source, t) for t in [*params.targets, "mean"]]


def check_config(config: TaskConfig, params: InterventionParams) -> None:
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
    check_layer_spec(params.read_layer, "metric.read_layer")
    if params.steer_layers != "all":
        if not params.steer_layers:
            raise UsageError("metric.steer_layers: an empty list; give layers or `all`")
        for value in params.steer_layers:
            check_layer_spec(value, "metric.steer_layers")
    measure = config.main_score.measure
    if measure not in MEASURES:
        raise UsageError(f"main_score.measure {measure!r} is not one of {list(MEASURES)}")
    wanted = {**default_group(config, params), **config.main_score.group_fields()}
    allowed = _allowed_groups(measure, params)
    if not any(g.matches(wanted) for g in allowed):
        raise UsageError(
            f"main_score.group {wanted or '(none)'}: {measure} is read from one of "
            f"{[g.label for g in allowed]}"
        )


def _categories(probes: ProbeSet, language: str) -> list[str]:
    """Each item's semantic category in `language`, in ids order ("" when the set has none)."""
    if "category" not in probes.frame.columns:
        return [""] * len(probes.ids)
    frame = probes.frame[probes.frame["lang_code"] == language].set_index("id")
    return frame["category"].reindex(probes.ids).fillna("").astype(str).tolist()


def group_items(probes: ProbeSet, concepts: Concepts, language: str) -> tuple[list, list]:
    """Positions in probes.ids of the toward- and away-group items (an item in both is left out)."""
    if concepts.by == "category":
        category = _categories(probes, language)
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
        counts = pd.Series(_categories(probes, language)).value_counts()
    else:
        counts = pd.Series([w.get("label") for ws in probes.words(language) for w in ws])
        counts = counts.value_counts()
    top = ", ".join(f"{k} ({v})" for k, v in counts.head(8).items() if str(k).strip())
    return top or "none"


def fit(config: TaskConfig, params: InterventionParams, probes: ProbeSet):
    """Targets follow the probes: a target whose language the probes lack is left out."""
    kept = [t for t in params.targets if t.language in probes.languages]
    if len(kept) == len(params.targets) or not kept:
        return params, []  # all there, or none: check_probes says why
    gone = [t.name for t in params.targets if t not in kept]
    line = f"metric.targets: {gone} left out (not among the probe languages {probes.languages})"
    return params.model_copy(update={"targets": kept}), [line]


def check_probes(config: TaskConfig, params: InterventionParams, probes: ProbeSet) -> None:
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

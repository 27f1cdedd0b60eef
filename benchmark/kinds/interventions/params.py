"""The intervention-transfer task's settings and the checks that run before any model loads."""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field

from benchmark.config import StatsParams, Strict, TaskConfig
from benchmark.errors import UsageError
from benchmark.kinds.passes import check_layer_spec
from benchmark.probes import ProbeSet

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


def main_group(config: TaskConfig, params: InterventionParams) -> str:
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
    measure, group = config.main_score.measure, main_group(config, params)
    if measure.endswith("_source"):
        allowed = [params.source.name]
    elif measure.endswith("_target"):
        allowed = [t.name for t in params.targets]
    else:
        allowed = _groups(params)
    if measure.endswith(("_source", "_target")) and config.main_score.group is None:
        raise UsageError(f"main_score.group: {measure} needs one of {allowed}")
    if group not in allowed:
        raise UsageError(f"main_score.group {group!r}: {measure} is read from one of {allowed}")


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

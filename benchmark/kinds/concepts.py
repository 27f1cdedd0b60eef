"""Concept purity (latent concept analysis): do a model's layers organise words and sentences by
concept, or by language and modality?

Word level (Dalvi et al. 2022; ConceptX): per layer, the labelled words of every language (and
modality) of a group, each a vector in context (benchmark.representations.words), are clustered
with Ward's method into K clusters (`clusters`); a cluster is aligned with a concept when more than
`theta` of its members carry it. Reported per layer (benchmark.metrics.clustering): the share of
aligned clusters, the share of concepts covered, their mean (alignment_score), the mean cluster
purity, and the cross-lingual (cross-modal) overlap: aligned clusters whose members span several
languages (both text and speech).

Sentence level: the pooled sentence vectors of every language (and modality) of a group are
clustered into K clusters; purity with respect to the semantic category, the language and the
modality says whether a layer groups by meaning or by surface form.

Nulls: the same statistics with the labels permuted over points (clusters fixed). Intervals:
half-samples of the sentence ids (every language's copy kept or left together), clustering fixed.
Cost: Ward is O(N^2) in memory and about O(N^2) in time for N points; N is capped per group
(`cap`, a deterministic sample by sha256 of the point's key, recorded).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from benchmark.config import StatsParams, TaskConfig
from benchmark.errors import NotApplicable, UsageError
from benchmark.kinds import Kind, TaskContext, TaskOutput
from benchmark.kinds.reporting import curve, depths, inference_for, main_score
from benchmark.metrics.clustering import cap_indices, purity_estimates, ward_clusters
from benchmark.metrics.concepts import concept_estimates
from benchmark.metrics.nulls import permutations
from benchmark.metrics.replicates import replicate_counts
from benchmark.probes import ProbeSet

NULL_METHOD = "labels permuted over points, clusters fixed (the same permutations at every layer)"
WORD_MEASURES = (
    "alignment_score",
    "aligned_share",
    "concept_coverage",
    "mean_purity",
    "cross_lingual",
    "cross_modal",
)
SENTENCE_MEASURES = ("category_purity", "language_purity", "modality_purity")


class ConceptParams(StatsParams):
    level: Literal["word", "sentence"]
    # each group clusters the points of these modalities together (all languages)
    groups: list[list[Literal["text", "speech"]]] = Field(min_length=1)
    clusters: int = Field(ge=2)  # K, per layer
    theta: float = Field(default=0.9, gt=0, le=1)  # a cluster aligns when > theta carry a concept
    min_size: int = Field(default=2, ge=1)  # clusters with fewer members are not considered
    aggregation: Literal["last", "first", "mean"] = "last"  # subword tokens -> word (text)
    cap: int = Field(default=4000, ge=10)  # points per group at most (deterministic sample)

    @field_validator("groups")
    @classmethod
    def _distinct(cls, groups):
        names = [group_name(g) for g in groups]
        if len(set(names)) != len(names):
            raise ValueError(f"a group is listed twice: {names}")
        return [sorted(set(g)) for g in groups]


def group_name(modalities) -> str:
    return "+".join(sorted(set(modalities)))


def _measures(params: ConceptParams) -> tuple[str, ...]:
    return WORD_MEASURES if params.level == "word" else SENTENCE_MEASURES


def _main_group(config: TaskConfig, params: ConceptParams) -> str:
    return config.main_score.group or group_name(params.groups[0])


def check_config(config: TaskConfig) -> None:
    params = ConceptParams(**config.metric)
    if config.main_score.measure not in _measures(params):
        raise UsageError(
            f"main_score.measure {config.main_score.measure!r}: a {params.level}-level task "
            f"reports {list(_measures(params))}"
        )
    names = [group_name(g) for g in params.groups]
    if _main_group(config, params) not in names:
        raise UsageError(f"main_score.group must be one of metric.groups: {names}")
    for g in params.groups:
        if not set(g) <= set(config.modalities):
            raise UsageError(f"metric.groups: {group_name(g)} needs {g} in `modalities`")


def _labelled_words(probes: ProbeSet) -> dict[str, list[list[dict]]]:
    return {lang: probes.words(lang) for lang in probes.languages}


def check_probes(config: TaskConfig, probes: ProbeSet) -> None:
    """The fields the level needs, and K against the number of points: before any model loads."""
    params = ConceptParams(**config.metric)
    if params.level == "sentence":
        categories = probes.frame["category"].astype(str)
        if (categories.str.strip() == "").any():
            raise UsageError(
                f"task {config.name!r} needs a semantic `category` for every item; probe set "
                f"{probes.name!r} has none (the embedded `concepts` set has them)"
            )
        n_points = len(probes.ids) * len(probes.languages)
    else:
        words = _labelled_words(probes)
        n_points = sum(len(w) for items in words.values() for w in items)
        needed = {"label"}
        modalities = {m for g in params.groups for m in g}
        if "text" in modalities:
            needed |= {"char_start", "char_end"}  # a word's characters in the text
        if "speech" in modalities:
            needed |= {"start_s", "end_s"}  # its time span in the audio
        present = {k for items in words.values() for ws in items for w in ws for k in w}
        if n_points == 0 or not needed <= present:
            missing = sorted(needed - present) if n_points else sorted(needed)
            raise UsageError(
                f"task {config.name!r} needs labelled words with {sorted(needed)}; probe set "
                f"{probes.name!r} lacks {missing} (the embedded `concepts` set has them)"
            )
    smallest = min(min(n_points * len(g), params.cap) for g in params.groups)
    if params.clusters > smallest:
        raise UsageError(
            f"metric.clusters={params.clusters} exceeds the {smallest} points of the smallest "
            f"group; use fewer clusters or more probe items"
        )


# --- points ---------------------------------------------------------------------------------------


def _points(ctx: TaskContext, modalities: list[str]) -> dict:
    """Every point of a group: per layer the stacked vectors, and per point its sentence index,
    language, modality, concept label and a stable key (for the cap). When the modalities'
    stacks differ in depth (Seamless's speech encoder has an adaptor), layers are paired by
    relative depth as in the cross-modal gap task; `layers` names them."""
    from benchmark.kinds.gaps import align_layers

    params: ConceptParams = ctx.params
    probes = ctx.probes
    category = probes.frame.set_index(["lang_code", "id"])["category"]
    rows: dict[str, list] = {k: [] for k in ("item", "language", "modality", "label", "key")}
    arrays: dict[str, list] = {m: [] for m in modalities}  # per modality: [L, n, D] per language
    layer_names: dict[str, list[str]] = {}
    for modality in modalities:
        for lang in probes.languages:
            if params.level == "word":
                reps = ctx.words(lang, modality, params.aggregation)
                words = probes.words(lang)
                items = reps.item_index
                present = list(zip(items, reps.word_index, strict=True))
                labels = [words[i][j]["label"] for i, j in present]
                keys = [f"{modality}/{lang}/{probes.ids[i]}/{j}" for i, j in present]
            else:
                reps = ctx.representations(lang, modality)
                items = np.arange(len(probes.ids))
                labels = [category[(lang, i)] for i in probes.ids]
                keys = [f"{modality}/{lang}/{i}" for i in probes.ids]
            layer_names[modality] = reps.layers
            arrays[modality].append(reps.array)
            rows["item"] += list(items)
            rows["language"] += [lang] * len(items)
            rows["modality"] += [modality] * len(items)
            rows["label"] += labels
            rows["key"] += keys
    if len(modalities) == 2 and layer_names["speech"] != layer_names["text"]:
        pairs = align_layers(layer_names["speech"], layer_names["text"])
        layers = [f"speech:{s}|text:{t}" for s, t in pairs]
        index = {
            "speech": [layer_names["speech"].index(s) for s, _ in pairs],
            "text": [layer_names["text"].index(t) for _, t in pairs],
        }
    else:
        layers = layer_names[modalities[0]]
        index = {m: list(range(len(layers))) for m in modalities}
    keep = cap_indices(rows["key"], params.cap)
    vectors = {
        li: np.concatenate([a[index[m][li]] for m in modalities for a in arrays[m]])[keep]
        for li in range(len(layers))
    }
    return {
        "vectors": vectors,
        "layers": layers,
        "n_before_cap": len(rows["key"]),
        **{k: [v[i] for i in keep] for k, v in rows.items()},
    }


def score_concepts(ctx: TaskContext) -> TaskOutput:
    params: ConceptParams = ctx.params
    groups = [g for g in params.groups if set(g) <= set(ctx.modalities)]
    main_group = _main_group(ctx.config, params)
    if main_group not in [group_name(g) for g in groups]:
        raise NotApplicable(
            f"the main score reads {main_group}; the model takes {', '.join(ctx.modalities)}"
        )
    n = len(ctx.probes.ids)
    sentence_weights = (
        replicate_counts(params.ci_method, n, params.n_resamples, params.seed).numpy()
        if params.n_resamples
        else None
    )
    curves, main, details = [], None, {"groups": {}}
    for modalities in groups:
        name = group_name(modalities)
        points = _points(ctx, modalities)
        n_points, layers = len(points["key"]), points["layers"]
        perms = (
            permutations(n_points, params.n_null, params.seed).numpy() if params.n_null else None
        )
        weights = None if sentence_weights is None else sentence_weights[:, points["item"]]
        per_measure: dict[str, list] = {}
        for li in range(len(layers)):
            clusters = ward_clusters(points["vectors"][li], params.clusters)
            for measure, est in _layer_estimates(
                params, clusters, points, modalities, perms, weights
            ).items():
                per_measure.setdefault(measure, []).append(est)
        inference = inference_for(params, n)
        for measure, ests in per_measure.items():
            curves.append(curve(measure, name, modalities, layers, ests, inference))
            if name == main_group and measure == ctx.config.main_score.measure:
                main = main_score(
                    ctx.config.main_score,
                    params,
                    name,
                    modalities,
                    layers,
                    ests,
                    inference,
                    null_method=NULL_METHOD,
                    layer_depths=depths(layers),
                )
        details["groups"][name] = {
            "points": n_points,
            "points_before_cap": points["n_before_cap"],
            "concepts": len(set(points["label"])),
            "languages": sorted(set(points["language"])),
        }
    if main is None:
        raise NotApplicable(f"{ctx.config.main_score.measure} is undefined for {main_group}")
    details |= {
        "clusters": params.clusters,
        "theta": params.theta,
        "level": params.level,
        "cap": params.cap,
        "aggregation": params.aggregation,
    }
    return TaskOutput(main, curves, [], details, _notes(params))


def _layer_estimates(params, clusters, points, modalities, perms, weights) -> dict:
    if params.level == "word":
        return concept_estimates(
            clusters,
            points["label"],
            params.theta,
            params.min_size,
            languages=points["language"],
            modalities=points["modality"] if len(modalities) > 1 else None,
            permutations=perms,
            point_weights=weights,
        )
    out = {
        "category_purity": purity_estimates(
            clusters, points["label"], permutations=perms, point_weights=weights
        ),
        "language_purity": purity_estimates(
            clusters, points["language"], permutations=perms, point_weights=weights
        ),
    }
    if len(modalities) > 1:
        out["modality_purity"] = purity_estimates(
            clusters, points["modality"], permutations=perms, point_weights=weights
        )
    return out


def _notes(params: ConceptParams) -> list[str]:
    return [
        f"{params.level}-level Ward clusters, K={params.clusters} per layer; a cluster aligns "
        f"with a concept when more than theta={params.theta} of its members carry it.",
        "Read every statistic against its null (labels permuted, clusters fixed): small clusters "
        "reach theta by chance, so the null is not zero.",
        "Sentence level: category purity high and language purity low = a layer that groups by "
        "meaning; the reverse = by surface form.",
        f"Points per group capped at {params.cap} (sha256 of each point's key); intervals from "
        "half-samples of the sentences with the clustering fixed.",
    ]


KINDS = {
    "concept_purity": Kind(
        name="concept_purity",
        score=score_concepts,
        params=ConceptParams,
        description="clusters of words or sentences against concepts, languages and modalities",
        needs="any",
        check_config=check_config,
        check_probes=check_probes,
    )
}

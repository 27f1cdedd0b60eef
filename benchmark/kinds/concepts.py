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
from benchmark.core import Group
from benchmark.errors import UsageError
from benchmark.evaluation import KindOutput, Measure, Series
from benchmark.kinds import Kind, TaskContext, register_kind
from benchmark.layers import LayerAxis, paired_axis
from benchmark.metrics.clustering import cap_indices, purity_estimates, ward_clusters
from benchmark.metrics.concepts import concept_estimates, form_units
from benchmark.probes import ProbeSet
from benchmark.representations import Pooled, Words

NULL_METHOD = (
    "word level: concepts permuted over (word form, concept) units, so identical forms move "
    "together; sentence level: labels permuted over points; clusters fixed (the same "
    "permutations at every layer)"
)
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
    # word level: a cluster aligns only when it holds at least this many distinct word forms
    # (written forms, lower-cased, in any language): repeats of one form are not a concept
    min_forms: int = Field(default=3, ge=1)
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


def word_form(word: dict) -> str:
    """A word's written form as the form-level statistics see it: lower-cased, stripped."""
    return str(word.get("word") or "").strip().lower()


def group_key(modalities) -> Group:
    return Group.of(modalities=group_name(modalities))


def default_group(config: TaskConfig, params: ConceptParams) -> dict[str, str]:
    return group_key(params.groups[0]).as_dict()


def check_config(config: TaskConfig, params: ConceptParams) -> None:
    if config.main_score.measure not in _measures(params):
        raise UsageError(
            f"main_score.measure {config.main_score.measure!r}: a {params.level}-level task "
            f"reports {list(_measures(params))}"
        )
    wanted = {**default_group(config, params), **config.main_score.group_fields()}
    if not any(group_key(g).matches(wanted) for g in params.groups):
        labels = [group_key(g).label for g in params.groups]
        raise UsageError(f"main_score.group {wanted} must be one of metric.groups: {labels}")
    for g in params.groups:
        if not set(g) <= set(config.modalities):
            raise UsageError(f"metric.groups: {group_name(g)} needs {g} in `modalities`")


def _labelled_words(probes: ProbeSet) -> dict[str, list[list[dict]]]:
    return {lang: probes.words(lang) for lang in probes.languages}


def check_probes(config: TaskConfig, params: ConceptParams, probes: ProbeSet) -> None:
    """The fields the level needs, and K against the number of points: before any model loads."""
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


def requests(config: TaskConfig, params: ConceptParams, probes: ProbeSet, modalities) -> list:
    used = sorted({m for g in params.groups if set(g) <= set(modalities) for m in g})
    if params.level == "word":
        return [Words(lang, m, params.aggregation) for m in used for lang in probes.languages]
    return [Pooled(lang, m, config.pooling) for m in used for lang in probes.languages]


def _points_per_group(params: ConceptParams, probes: ProbeSet) -> int:
    if params.level == "sentence":
        n_points = len(probes.ids) * len(probes.languages)
    else:
        n_points = sum(len(w) for lang in probes.languages for w in probes.words(lang))
    return min(min(n_points * len(g), params.cap) for g in params.groups)


def fit(config: TaskConfig, params: ConceptParams, probes: ProbeSet):
    """K follows what the probes hold: at most one cluster per three points of the smallest
    group, and (word level) at most one per labelled concept — with more clusters than concepts a
    perfect representation splits its concepts into clusters too small to count as aligned (the
    interlingua reference read 0.78 at n = 40: 120 clusters for 54 concepts)."""
    points = _points_per_group(params, probes)
    k, why = params.clusters, []
    if k > points and points // 3 >= 2:
        k, why = points // 3, [f"{points} points; at most one per three"]
    concepts = _concepts(params, probes)
    if params.level == "word" and 2 <= concepts < k:
        k, why = concepts, [f"{concepts} labelled concepts; at most one cluster per concept"]
    if k == params.clusters:
        return params, []
    line = f"metric.clusters: {params.clusters} -> {k} ({why[0]})"
    return params.model_copy(update={"clusters": k}), [line]


def _concepts(params: ConceptParams, probes: ProbeSet) -> int:
    if params.level != "word":
        return 0
    return len({w["label"] for lang in probes.languages for ws in probes.words(lang) for w in ws})


# --- points ---------------------------------------------------------------------------------------


def _points(ctx: TaskContext, modalities: list[str]) -> dict:
    """Every point of a group: per layer the stacked vectors, and per point its sentence index,
    language, modality, concept label and a stable key (for the cap). When the modalities'
    stacks differ in depth (Seamless's speech encoder has an adaptor), layers are paired by
    relative depth as in the cross-modal gap task; `layers` names them."""
    params: ConceptParams = ctx.params
    probes = ctx.probes
    category = probes.frame.set_index(["lang_code", "id"])["category"]
    fields = ("item", "language", "modality", "label", "form", "key")
    rows: dict[str, list] = {k: [] for k in fields}
    arrays: dict[str, list] = {m: [] for m in modalities}  # per modality: [L, n, D] per language
    layer_names: dict[str, list[str]] = {}
    for modality in modalities:
        for lang in probes.languages:
            if params.level == "word":
                reps = ctx.reps.words(lang, modality, params.aggregation)
                words = probes.words(lang)
                items = reps.item_index
                present = list(zip(items, reps.word_index, strict=True))
                labels = [words[i][j]["label"] for i, j in present]
                forms = [word_form(words[i][j]) for i, j in present]
                keys = [f"{modality}/{lang}/{probes.ids[i]}/{j}" for i, j in present]
            else:
                reps = ctx.reps.pooled(lang, modality)
                items = np.arange(len(probes.ids))
                labels = [category[(lang, i)] for i in probes.ids]
                forms = [""] * len(items)
                keys = [f"{modality}/{lang}/{i}" for i in probes.ids]
            layer_names[modality] = reps.layers
            arrays[modality].append(reps.array)
            rows["item"] += list(items)
            rows["language"] += [lang] * len(items)
            rows["modality"] += [modality] * len(items)
            rows["label"] += labels
            rows["form"] += forms
            rows["key"] += keys
    if len(modalities) == 2 and layer_names["speech"] != layer_names["text"]:
        axis, pairs = paired_axis("speech", layer_names["speech"], "text", layer_names["text"])
        index = {
            "speech": [layer_names["speech"].index(s) for s, _ in pairs],
            "text": [layer_names["text"].index(t) for _, t in pairs],
        }
    else:
        axis = LayerAxis.of(layer_names[modalities[0]])
        index = {m: list(range(len(axis))) for m in modalities}
    keep = cap_indices(rows["key"], params.cap)
    vectors = {
        li: np.concatenate([a[index[m][li]] for m in modalities for a in arrays[m]])[keep]
        for li in range(len(axis))
    }
    return {
        "vectors": vectors,
        "axis": axis,
        "n_before_cap": len(rows["key"]),
        **{k: [v[i] for i in keep] for k, v in rows.items()},
    }


def estimate_concepts(ctx: TaskContext) -> KindOutput:
    params: ConceptParams = ctx.params
    groups = [g for g in params.groups if set(g) <= set(ctx.modalities)]
    n = len(ctx.probes.ids)
    sentence_weights = ctx.draws.weights(n)
    series, details = [], {"groups": {}}
    for modalities in groups:
        points = _points(ctx, modalities)
        n_points, axis = len(points["key"]), points["axis"]
        if params.level == "word":  # the null moves identical forms together
            perms = ctx.draws.permutations(form_units(points["label"], points["form"]))
        else:
            perms = ctx.draws.permutations(n_points)
        weights = None if sentence_weights is None else sentence_weights[:, points["item"]]
        per_measure: dict[str, list] = {}
        for li in range(len(axis)):
            clusters = ward_clusters(points["vectors"][li], params.clusters)
            for measure, est in _layer_estimates(
                params, clusters, points, modalities, perms, weights
            ).items():
                per_measure.setdefault(measure, []).append(est)
        series += [
            Series(group_key(modalities), Measure(measure), axis, ests, tuple(modalities))
            for measure, ests in per_measure.items()
        ]
        details["groups"][group_name(modalities)] = {
            "points": n_points,
            "points_before_cap": points["n_before_cap"],
            "concepts": len(set(points["label"])),
            "languages": sorted(set(points["language"])),
            **(
                {"forms": len(set(points["form"])), "form_units": len(perms[0])}
                if params.level == "word" and perms is not None
                else {}
            ),
        }
    missing = {
        group_key(g).label: f"the main score reads {group_name(g)}; the model takes "
        f"{', '.join(ctx.modalities)}"
        for g in params.groups
        if g not in groups
    }
    details |= {
        "clusters": params.clusters,
        "theta": params.theta,
        "level": params.level,
        "cap": params.cap,
        "aggregation": params.aggregation,
        "min_forms": params.min_forms,
    }
    return KindOutput(
        series, n, [], details, _notes(params), missing=missing, null_method=NULL_METHOD
    )


def _layer_estimates(params, clusters, points, modalities, perms, weights) -> dict:
    if params.level == "word":
        return concept_estimates(
            clusters,
            points["label"],
            params.theta,
            params.min_size,
            languages=points["language"],
            modalities=points["modality"] if len(modalities) > 1 else None,
            types=points["form"],
            min_forms=params.min_forms,
            permutations=perms,
            point_weights=weights,
            form_null=True,
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


register_kind(
    Kind(
        name="concept_purity",
        description="clusters of words or sentences against concepts, languages and modalities",
        params=ConceptParams,
        estimate=estimate_concepts,
        default_group=default_group,
        needs="any",
        version="3",  # 3: K at most one per labelled concept; 2: min_forms, form-level null
        check_config=check_config,
        check_probes=check_probes,
        requests=requests,
        fit=fit,
    )
)

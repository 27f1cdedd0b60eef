"""The findings kind's concept-coherence claim: are a model's spoken words organised into concepts
less coherently than its written words (the latent-concept study)?

The concept tasks' word-level measure (benchmark.kinds.concepts: Ward clusters per layer,
alignment score = (aligned share + concept coverage) / 2, a cluster aligning when more than theta
of its words carry one concept and it holds min_forms word forms), recomputed here on the same
cached word vectors (`Words` requests with the concept tasks' aggregation: the same cache
entries). It is recomputed rather than read from the concept tasks' results because the claim is
a difference of two best-layer scores, and its interval needs both on the same half-samples of
the sentences, draw by draw: a result file keeps only each score's interval. Text and speech use
the same words (those present in both, the same cap), so the two arms are paired.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from benchmark.kinds import TaskContext
from benchmark.metrics.clustering import cap_indices, ward_clusters
from benchmark.metrics.concepts import concept_estimates, form_units
from benchmark.metrics.statistics import Estimate, choose_layer, p_value


class ConceptSettings(BaseModel):
    """The concept tasks' word-level settings (tasks/concept_words_*.yaml)."""

    model_config = ConfigDict(extra="forbid")

    clusters: int = Field(default=120, ge=2)
    theta: float = Field(default=0.9, gt=0, le=1)
    min_size: int = Field(default=2, ge=1)
    min_forms: int = Field(default=3, ge=1)
    aggregation: Literal["last", "first", "mean"] = "last"
    cap: int = Field(default=4000, ge=10)


def has_labelled_words(probes) -> bool:
    return any(w.get("label") for lang in probes.languages for ws in probes.words(lang) for w in ws)


def labelled_points(probes) -> int:
    return sum(len(ws) for lang in probes.languages for ws in probes.words(lang))


def _word_key(lang: str, item: int, word: int) -> str:
    return f"{lang}/{item}/{word}"


def _points(ctx: TaskContext, settings: ConceptSettings) -> dict:
    """Per modality the word vectors per layer, with each point's sentence, language, concept
    and form; only words present in both modalities, capped the same way in both."""
    probes = ctx.probes
    reps = {
        (m, lang): ctx.reps.words(lang, m, settings.aggregation)
        for m in ("text", "speech")
        for lang in probes.languages
    }
    index = {}
    for (m, lang), r in reps.items():
        index[(m, lang)] = {
            _word_key(lang, int(i), int(j)): w
            for w, (i, j) in enumerate(zip(r.item_index, r.word_index, strict=True))
        }
    keys = [
        k
        for lang in probes.languages
        for k in index[("text", lang)]
        if k in index[("speech", lang)]
    ]
    keys = [keys[i] for i in cap_indices(keys, settings.cap)]
    words = {lang: probes.words(lang) for lang in probes.languages}
    meta = [k.split("/") for k in keys]
    out = {
        "items": np.array([int(item) for _, item, _ in meta]),
        "languages": [lang for lang, _, _ in meta],
        "labels": [words[lang][int(i)][int(j)]["label"] for lang, i, j in meta],
        "forms": [
            str(words[lang][int(i)][int(j)].get("word") or "").strip().lower()
            for lang, i, j in meta
        ],
    }
    for m in ("text", "speech"):
        first = reps[(m, probes.languages[0])]
        rows = {
            lang: [
                index[(m, lang)][k] for k, (la, _, _) in zip(keys, meta, strict=True) if la == lang
            ]
            for lang in probes.languages
        }
        out[m] = {
            "layers": list(first.layers),
            "vectors": [
                np.concatenate([reps[(m, lang)].array[li][rows[lang]] for lang in probes.languages])
                for li in range(len(first.layers))
            ],
        }
    return out


def _alignment_curve(ctx: TaskContext, points: dict, modality: str, settings) -> list[Estimate]:
    """The alignment score at every layer of one modality: null over (form, concept) units,
    replicates on the task's half-samples of the sentences (clusters fixed)."""
    perms = ctx.draws.permutations(form_units(points["labels"], points["forms"]))
    weights = ctx.draws.weights(len(ctx.probes.ids))
    weights = None if weights is None else weights[:, points["items"]]
    curve = []
    for x in points[modality]["vectors"]:
        clusters = ward_clusters(x, settings.clusters)
        estimates = concept_estimates(
            clusters,
            points["labels"],
            settings.theta,
            settings.min_size,
            languages=points["languages"],
            types=points["forms"],
            min_forms=settings.min_forms,
            permutations=perms,
            point_weights=weights,
            form_null=True,
        )
        curve.append(estimates["alignment_score"])
    return curve


def coherence(ctx: TaskContext, settings: ConceptSettings) -> dict:
    """Per modality the alignment curve, its best layer (chosen within every replicate and every
    permutation too) and that best score's p-value against its null; and text minus speech,
    draw by draw."""
    points = _points(ctx, settings)
    out: dict = {"points": len(points["labels"]), "concepts": len(set(points["labels"]))}
    for m in ("text", "speech"):
        curve = _alignment_curve(ctx, points, m, settings)
        layers = points[m]["layers"]
        best, choice = choose_layer(curve, layers, "best")
        out[m] = {
            "curve": curve,
            "layers": layers,
            "best": best,
            "layer": choice["layer"],
            "p_value": p_value(best.value, best.null),
        }
    text, speech = out["text"]["best"], out["speech"]["best"]
    reps = None
    if text.replicates is not None and speech.replicates is not None:
        reps = np.asarray(text.replicates) - np.asarray(speech.replicates)
    out["difference"] = Estimate(float(text.value - speech.value), None, reps)
    return out

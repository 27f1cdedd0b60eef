"""The findings kind: the source studies' claims, tested for one model, each as a statistic with
its interval and a verdict (holds / does not hold / inconclusive / not_applicable).

It reads the cached sentence vectors through the representation service with the gap tasks'
requests (`Pooled` of every language and modality, the task's pooling, the same probe items), so a
run that also scores the gap tasks shares their forward pass and cache entries; the concept claim
reads the concept tasks' `Words` entries the same way. Similarities are the gap kinds' SVCCA
(length regressed out, k fitted to n; benchmark.kinds.gaps), each pair with its null and its
half-sample replicates, the same for every pair and layer, so every statistic below is computed
draw by draw on the same sentences (benchmark.kinds.findings_stats):

  convergence        similarity in the last third of the stack minus the first third (slope
                     against relative depth beside it), for cross-lingual text, cross-lingual
                     speech and cross-modal (same-language speech vs text) similarity;
  modality_gap       modality gap - language gap: (1 - SVCCA(text_X, speech_X)) - (1 -
                     SVCCA(text_pivot, text_X)), mean over X, per layer and at the hub depth;
  speech_language_gap  speech language gap - text language gap, per layer and at the hub depth;
  hub_depth          the relative depth of the maximum similarity (cross-lingual per modality,
                     cross-modal): the claim is that it lies inside the stack;
  resource           per-language gaps against the languages' resource classes (Joshi et al.
                     2020): mean gap of low-resource languages minus high-resource ones;
  concept_coherence  best-layer concept alignment of written words minus spoken words
                     (benchmark.kinds.findings_concepts).

"The hub depth" of a comparison is where the two similarities it compares are jointly highest
(their mean's maximum), found again within every replicate: neutral to the difference itself.
The verdict rule, the claims' sources and how to read them: docs/tasks/findings.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from benchmark.config import TaskConfig
from benchmark.core import Group
from benchmark.errors import UsageError
from benchmark.evaluation import KindOutput, Measure, Series
from benchmark.kinds import Kind, TaskContext, register_kind
from benchmark.kinds import findings_concepts as word_concepts
from benchmark.kinds.findings_claims import CLAIMS, Reader
from benchmark.kinds.findings_curves import readable, similarities, similarity_curves
from benchmark.kinds.findings_stats import HOLDS, VERDICTS
from benchmark.kinds.gaps import GapParams, svcca_k_record
from benchmark.kinds.gaps import check_probes as gap_check_probes
from benchmark.kinds.gaps import fit as gap_fit
from benchmark.layers import LayerAxis
from benchmark.metrics.statistics import Estimate
from benchmark.probes import ProbeSet
from benchmark.representations import Pooled, Words

CLAIM_GROUPS = (
    "convergence",
    "modality_gap",
    "speech_language_gap",
    "hub_depth",
    "resource",
    "concept_coherence",
)
MAIN_MEASURE = "claims_holding"
MAIN_GROUP = {"summary": "verdicts"}
NULL_METHOD = "permutation of the sentence pairing (the same permutations for every pair and layer)"


class ResourceSettings(BaseModel):
    """Which Joshi et al. classes count as low- and high-resource (the middle is left out of the
    difference), and how many languages each side needs."""

    model_config = ConfigDict(extra="forbid")

    low_max: int = Field(default=2, ge=0, le=5)
    high_min: int = Field(default=4, ge=0, le=5)
    min_languages: int = Field(default=2, ge=1)


class FindingsParams(GapParams):
    """The `metric:` block of a findings task: the gap tasks' SVCCA settings, and the claims'."""

    measures: list[Literal["svcca"]] = Field(default=["svcca"], min_length=1)
    lexical_floor: bool = False  # not used: the claims compare the model's own similarities
    claims: list[Literal[CLAIM_GROUPS]] = Field(default=list(CLAIM_GROUPS), min_length=1)
    pivot: str = "en_us"  # the language gap's reference language: text_pivot vs text_X
    # a claim "statistic > 0" holds only when the interval clears this (similarity units): a
    # true zero effect can then come out `does not hold`, not forever `inconclusive`. 0.05: a
    # model that shares everything (the interlingua reference) still leaves gaps of 0.03-0.04 on
    # the concepts probes, and a difference of two such gaps has a half-sample interval about
    # +-0.035 wide at n = 200: smaller differences are within what sharing everything leaves
    min_effect: float = Field(default=0.05, ge=0)
    # convergence needs a gap to close: inconclusive when the first third's similarity may be
    # within min_gap of 1 (its interval's upper end)
    min_gap: float = Field(default=0.1, gt=0, lt=1)
    concepts: word_concepts.ConceptSettings = word_concepts.ConceptSettings()
    resource: ResourceSettings = ResourceSettings()


# --- checks before any model loads --------------------------------------------------------------


def default_group(config: TaskConfig, params: FindingsParams) -> dict[str, str]:
    return dict(MAIN_GROUP)


def check_config(config: TaskConfig, params: FindingsParams) -> None:
    if config.main_score.measure != MAIN_MEASURE or config.main_score.group_fields() not in (
        {},
        MAIN_GROUP,
    ):
        raise UsageError(
            f"task {config.name!r}: a findings task's main score is measure: {MAIN_MEASURE} "
            f"(group {MAIN_GROUP}); the claims' verdicts are in the result's details"
        )
    if params.resource.low_max >= params.resource.high_min:
        raise UsageError(
            f"task {config.name!r}: metric.resource.low_max ({params.resource.low_max}) must be "
            f"below metric.resource.high_min ({params.resource.high_min})"
        )


def _wants_words(params: FindingsParams, probes: ProbeSet, modalities) -> bool:
    return (
        "concept_coherence" in params.claims
        and {"text", "speech"} <= set(modalities)
        and word_concepts.has_labelled_words(probes)
    )


def requests(config: TaskConfig, params: FindingsParams, probes: ProbeSet, modalities) -> list:
    """The gap tasks' requests (the same cache entries), and the concept tasks' word vectors when
    the concept claim can be read."""
    out: list = [Pooled(lang, m, config.pooling) for m in modalities for lang in probes.languages]
    if _wants_words(params, probes, modalities):
        out += [
            Words(lang, m, params.concepts.aggregation)
            for m in modalities
            for lang in probes.languages
        ]
    return out


def fit(config: TaskConfig, params: FindingsParams, probes: ProbeSet):
    """SVCCA's k follows n (the gap tasks' rule); the concept clusters follow the labelled words
    (the concept tasks' rule: at most one cluster per three points)."""
    params, lines = gap_fit(config, params, probes)
    if "concept_coherence" in params.claims and word_concepts.has_labelled_words(probes):
        points = min(word_concepts.labelled_points(probes), params.concepts.cap)
        k = params.concepts.clusters
        if k > points and points // 3 >= 2:
            settings = params.concepts.model_copy(update={"clusters": points // 3})
            params = params.model_copy(update={"concepts": settings})
            lines.append(
                f"metric.concepts.clusters: {k} -> {points // 3} ({points} words; at most one "
                "per three)"
            )
    return params, lines


def check_probes(config: TaskConfig, params: FindingsParams, probes: ProbeSet) -> None:
    """Enough sentences for SVCCA's k and for half-samples (the gap tasks' check). A claim the
    probes cannot test (one language, no labelled words, too few low-resource languages) is not
    an error: its finding says why."""
    gap_check_probes(config, params, probes)


# --- scoring --------------------------------------------------------------------------------------


def estimate_findings(ctx: TaskContext) -> KindOutput:
    params: FindingsParams = ctx.params
    reps, unreadable = readable(ctx)
    sims = similarities(ctx, reps)
    curves = similarity_curves(ctx, sims)
    reader = Reader(ctx, sims, curves, unreadable)
    for name, (curve, axis) in curves.items():
        modalities = ("speech", "text") if name == "cross_modal" else (name.rsplit("_", 1)[1],)
        reader.series.append(
            Series(Group.of(similarity=name), Measure("svcca"), axis, curve, modalities)
        )
    for group in params.claims:
        CLAIMS[group](reader)
    counts = {v: sum(f["verdict"] == v for f in reader.findings) for v in VERDICTS}
    summary = Series(
        Group.of(**MAIN_GROUP),
        Measure(MAIN_MEASURE, bounds=None, ranked=False),
        LayerAxis.of(["claims"], [1.0]),
        [Estimate(float(counts[HOLDS]))],
        tuple(ctx.modalities),
    )
    details = {
        "findings": reader.findings,
        "verdict_counts": counts,
        "languages": list(ctx.probes.languages),
        "pivot": params.pivot,
        "min_effect": params.min_effect,
        "min_gap": params.min_gap,
        "svcca_k": svcca_k_record(ctx),
        "aligned_layers": [list(p) for p in sims["cross"].aligned] if "cross" in sims else None,
        "unreadable": unreadable,
    }
    return KindOutput(
        [summary, *reader.series],
        len(ctx.probes.ids),
        details=details,
        notes=notes(params),
        null_method=NULL_METHOD,
    )


def notes(params: FindingsParams) -> list[str]:
    return [
        "Each claim's verdict is in details.findings: holds when its interval lies above "
        f"min_effect={params.min_effect:g} (similarity units), does not hold when it lies at or "
        "below it, inconclusive otherwise or when the claim cannot be read (reason given); "
        "not_applicable when the model or probes cannot test it (docs/tasks/findings.md).",
        "The main score counts the claims that hold: a description of this model, not a rank.",
        "Intervals: paired half-samples of the sentences, the same in every arm of every "
        "comparison; a statistic read at a depth chosen on the data (the hub) chooses it again "
        "within every replicate.",
    ]


register_kind(
    Kind(
        name="findings",
        description="the source studies' claims tested for one model: statistic, interval, verdict",
        params=FindingsParams,
        estimate=estimate_findings,
        default_group=default_group,
        needs="any",
        version="1",
        check_config=check_config,
        check_probes=check_probes,
        requests=requests,
        fit=fit,
    )
)

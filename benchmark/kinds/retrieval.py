"""Retrieval: can the model find the same sentence across languages and modalities?

For each group of the YAML (`groups:`, e.g. text->text across languages, speech->text within a
language) and each layer, every query sentence is matched against all n target sentences by cosine
of their pooled vectors; the metrics (accuracy@1, recall@5, MRR, LASER's xSIM error with the ratio
margin, k = 4) are means over queries (benchmark.metrics.retrieval). A group's score at a layer is
the mean over its (query language, target language) pairs.

Every score carries (benchmark.metrics.statistics): the null (the gold target shuffled by the same
permutations for every pair and layer), an interval over sentences (half-samples of the queries;
the candidate pool stays all n, so chance does not move), the chance level, and a length-only
baseline (retrieval by standardised log length alone: duration for speech, characters for text).
The main score is one fixed (metric, group) from the YAML, at a layer chosen as for the gap tasks.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from benchmark.config import StatsParams, TaskConfig
from benchmark.errors import UsageError
from benchmark.evaluation import Group, KindOutput, Measure, Series
from benchmark.kinds import Kind, TaskContext, register_kind
from benchmark.layers import paired_axis
from benchmark.metrics.retrieval import (
    LENGTH_METRICS,
    LOWER_IS_BETTER,
    chance_level,
    cosine_similarity,
    retrieval_estimates,
)
from benchmark.metrics.statistics import Estimate, mean_of
from benchmark.probes import ProbeSet
from benchmark.representations import Pooled
from benchmark.results import Matrix

NULL_METHOD = "permutation of the gold targets (the same permutations for every pair and layer)"


class RetrievalGroup(BaseModel):
    """Queries in one modality, targets in another (or the same), across or within languages."""

    model_config = ConfigDict(extra="forbid")
    query: Literal["text", "speech"]
    target: Literal["text", "speech"]
    languages: Literal["cross", "same"] = "cross"

    @property
    def key(self) -> Group:
        return Group.of(query=self.query, target=self.target, languages=self.languages)


class RetrievalParams(StatsParams):
    groups: list[RetrievalGroup] = Field(min_length=1)
    metrics: list[str] = Field(default=["accuracy@1", "recall@5", "mrr", "xsim"], min_length=1)
    xsim_k: int = Field(default=4, ge=1)  # neighbours for LASER's ratio margin


def default_group(config: TaskConfig, params: RetrievalParams) -> dict[str, str]:
    return params.groups[0].key.as_dict()


def check_config(config: TaskConfig, params: RetrievalParams) -> None:
    labels = [g.key.label for g in params.groups]
    if len(set(labels)) != len(labels):
        raise UsageError(f"metric.groups lists a group twice: {labels}")
    for g in params.groups:
        if g.query == g.target and g.languages == "same":
            raise UsageError(
                f"metric.groups: {g.key.label} retrieves a sentence from itself; use "
                "languages: cross"
            )
        missing = {g.query, g.target} - set(config.modalities)
        if missing:
            raise UsageError(
                f"metric.groups: {g.key.label} needs {sorted(missing)} in `modalities`"
            )
    if config.main_score.measure not in params.metrics:
        raise UsageError(
            f"main_score.measure {config.main_score.measure!r} is not among metric.metrics "
            f"{params.metrics}"
        )
    wanted = {**default_group(config, params), **config.main_score.group_fields()}
    if not any(g.key.matches(wanted) for g in params.groups):
        raise UsageError(f"main_score.group {wanted} must be one of metric.groups: {labels}")
    try:
        for metric in params.metrics:
            chance_level(metric, 10)
    except ValueError as err:
        raise UsageError(f"metric.metrics: {err}") from None


def check_probes(config: TaskConfig, params: RetrievalParams, probes: ProbeSet) -> None:
    n = len(probes.ids)
    if any(g.languages == "cross" for g in params.groups) and len(probes.languages) < 2:
        raise UsageError(
            f"task {config.name!r} retrieves across languages but the probes have only "
            f"{probes.languages}; give at least two with --languages or probes.languages"
        )
    if "xsim" in params.metrics and n <= params.xsim_k:
        raise UsageError(f"metric.xsim_k={params.xsim_k} needs n > {params.xsim_k}, got n={n}")
    if params.ci_method == "subsample" and params.n_resamples and n < 8:
        raise UsageError(f"task {config.name!r}: half-sample intervals need n >= 8, got n={n}")


def requests(config: TaskConfig, params: RetrievalParams, probes: ProbeSet, modalities) -> list:
    used = {
        m
        for g in params.groups
        if {g.query, g.target} <= set(modalities)
        for m in (g.query, g.target)
    }
    return [Pooled(lang, m, config.pooling) for m in sorted(used) for lang in probes.languages]


def _pairs(group: RetrievalGroup, languages: list[str]) -> list[tuple[str, str]]:
    if group.languages == "same":
        return [(lang, lang) for lang in languages]
    return [(a, b) for a in languages for b in languages if a != b]


def _lengths(probes: ProbeSet, lang: str, modality: str) -> np.ndarray:
    raw = probes.durations(lang) if modality == "speech" else probes.text_lengths(lang)
    logs = np.log(np.maximum(np.asarray(raw, dtype=np.float64), 1e-3))
    return (logs - logs.mean()) / (logs.std() or 1.0)  # units differ across modalities


def _measure(metric: str, n: int) -> Measure:
    return Measure(
        metric,
        bounds=None if metric == "mean_rank" else (0.0, 1.0),
        higher_is_better=metric not in LOWER_IS_BETTER,
        chance=chance_level(metric, n),
    )


def estimate_retrieval(ctx: TaskContext) -> KindOutput:
    params: RetrievalParams = ctx.params
    probes, languages, n = ctx.probes, list(ctx.probes.languages), len(ctx.probes.ids)
    groups = [g for g in params.groups if {g.query, g.target} <= set(ctx.modalities)]
    draws = {
        "permutations": ctx.draws.permutations(n),
        "query_weights": ctx.draws.weights(n),
        "directions": ("q2t",),
    }
    series, matrices = [], []
    for group in groups:
        pairs = _pairs(group, languages)
        queries = {lang: ctx.reps.pooled(lang, group.query) for lang in languages}
        targets = {lang: ctx.reps.pooled(lang, group.target) for lang in languages}
        axis, aligned = paired_axis(
            group.query, queries[languages[0]].layers, group.target, targets[languages[0]].layers
        )
        per_metric: dict[str, list[Estimate]] = {m: [] for m in params.metrics}
        for (q_layer, t_layer), label in zip(aligned, axis.names, strict=True):
            by_pair = {
                (a, b): _estimates(
                    cosine_similarity(queries[a].layer(q_layer), targets[b].layer(t_layer)),
                    params,
                    draws,
                )
                for a, b in pairs
            }
            for metric in params.metrics:
                per_metric[metric].append(
                    mean_of([est[f"q2t/{metric}"] for est in by_pair.values()])
                )
                values = {pair: est[f"q2t/{metric}"].value for pair, est in by_pair.items()}
                matrices.append(
                    Matrix(
                        name=f"{metric}/{group.key.label}/{label}",
                        measure=metric,
                        group=group.key.label,
                        layer=label,
                        rows=languages,
                        columns=languages,
                        values=[[values.get((a, b)) for b in languages] for a in languages],
                    )
                )
        baselines = _length_baseline(probes, group, pairs, params)
        modalities = tuple(sorted({group.query, group.target}))
        series += [
            Series(
                group.key,
                _measure(metric, n),
                axis,
                ests,
                modalities,
                {"length_only": baselines[metric]} if metric in baselines else {},
            )
            for metric, ests in per_metric.items()
        ]
    missing = {
        g.key.label: f"the main score reads {g.key.label}; the model takes "
        f"{', '.join(ctx.modalities)}"
        for g in params.groups
        if g not in groups
    }
    details = {
        "languages": languages,
        "groups": [g.key.label for g in groups],
        "skipped_groups": list(missing),
        "xsim": {"k": params.xsim_k, "candidates": "the query's k cosine-nearest (LASER)"},
    }
    return KindOutput(
        series, n, matrices, details, _notes(params, n), missing=missing, null_method=NULL_METHOD
    )


def _estimates(sim: np.ndarray, params: RetrievalParams, draws: dict) -> dict[str, Estimate]:
    """All metrics for one (query language, target language) similarity matrix. LASER's ratio
    margin needs positive neighbour cosines; where they are not (two unrelated stacks can
    anti-align), xSIM is undefined at that layer (NaN -> no value) and the rest still counts."""
    try:
        return retrieval_estimates(sim, params.metrics, k=params.xsim_k, **draws)
    except ValueError as err:
        if "ratio margin undefined" not in str(err):
            raise
    rest = [m for m in params.metrics if m != "xsim"]
    out = retrieval_estimates(sim, rest, k=params.xsim_k, **draws) if rest else {}
    undefined = np.full(
        len(draws["permutations"]) if draws["permutations"] is not None else 0, np.nan
    )
    reps = draws["query_weights"]
    out["q2t/xsim"] = Estimate(np.nan, undefined, np.full(0 if reps is None else len(reps), np.nan))
    return out


def _length_baseline(
    probes, group: RetrievalGroup, pairs, params: RetrievalParams
) -> dict[str, float]:
    """Each rank metric when sentences are retrieved by length alone (mean over the pairs)."""
    metrics = [m for m in params.metrics if m in LENGTH_METRICS or m.startswith("recall@")]
    if not metrics:
        return {}
    values: dict[str, list[float]] = {m: [] for m in metrics}
    for a, b in pairs:
        lq, lt = _lengths(probes, a, group.query), _lengths(probes, b, group.target)
        sim = -np.abs(lq[:, None] - lt[None, :])
        est = retrieval_estimates(sim, metrics, directions=("q2t",))
        for m in metrics:
            values[m].append(est[f"q2t/{m}"].value)
    return {m: float(np.mean(v)) for m, v in values.items()}


def _notes(params: RetrievalParams, n: int) -> list[str]:
    return [
        f"Each query is matched against all n={n} targets by cosine; accuracy@1 by chance is "
        f"1/n = {1 / n:.3f} (each curve's `chance`).",
        f"xsim: LASER's error rate with the ratio margin (k={params.xsim_k}); lower is better.",
        "length_only: the same metric when sentences are retrieved by length alone "
        "(standardised log duration or characters): a score near it is carried by length.",
        "Intervals over queries (half-samples; the candidate pool stays all n). A best layer's "
        "null and interval are those of the best of all layers.",
    ]


register_kind(
    Kind(
        name="retrieval",
        description="find the same sentence across languages and modalities, per layer",
        params=RetrievalParams,
        estimate=estimate_retrieval,
        default_group=default_group,
        needs="any",
        check_config=check_config,
        check_probes=check_probes,
        requests=requests,
    )
)

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
from benchmark.errors import NotApplicable, UsageError
from benchmark.kinds import Kind, TaskContext, TaskOutput
from benchmark.kinds.reporting import curve, inference_for, main_score
from benchmark.metrics.nulls import permutations
from benchmark.metrics.replicates import replicate_counts
from benchmark.metrics.retrieval import (
    LENGTH_METRICS,
    LOWER_IS_BETTER,
    chance_level,
    cosine_similarity,
    retrieval_estimates,
)
from benchmark.metrics.statistics import Estimate, mean_of
from benchmark.probes import ProbeSet
from benchmark.results import Matrix

NULL_METHOD = "permutation of the gold targets (the same permutations for every pair and layer)"


class Group(BaseModel):
    """Queries in one modality, targets in another (or the same), across or within languages."""

    model_config = ConfigDict(extra="forbid")
    query: Literal["text", "speech"]
    target: Literal["text", "speech"]
    languages: Literal["cross", "same"] = "cross"

    @property
    def name(self) -> str:
        return f"{self.query}_to_{self.target}_{self.languages}"


class RetrievalParams(StatsParams):
    groups: list[Group] = Field(min_length=1)
    metrics: list[str] = Field(default=["accuracy@1", "recall@5", "mrr", "xsim"], min_length=1)
    xsim_k: int = Field(default=4, ge=1)  # neighbours for LASER's ratio margin


def _main_group(config: TaskConfig, params: RetrievalParams) -> str:
    return config.main_score.group or params.groups[0].name


def check_config(config: TaskConfig) -> None:
    params = RetrievalParams(**config.metric)
    names = [g.name for g in params.groups]
    if len(set(names)) != len(names):
        raise UsageError(f"metric.groups lists a group twice: {names}")
    for g in params.groups:
        if g.query == g.target and g.languages == "same":
            raise UsageError(
                f"metric.groups: {g.name} retrieves a sentence from itself; use languages: cross"
            )
        missing = {g.query, g.target} - set(config.modalities)
        if missing:
            raise UsageError(f"metric.groups: {g.name} needs {sorted(missing)} in `modalities`")
    if config.main_score.measure not in params.metrics:
        raise UsageError(
            f"main_score.measure {config.main_score.measure!r} is not among metric.metrics "
            f"{params.metrics}"
        )
    if _main_group(config, params) not in names:
        raise UsageError(f"main_score.group must be one of metric.groups: {names}")
    try:
        for metric in params.metrics:
            chance_level(metric, 10)
    except ValueError as err:
        raise UsageError(f"metric.metrics: {err}") from None


def check_probes(config: TaskConfig, probes: ProbeSet) -> None:
    params = RetrievalParams(**config.metric)
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


def _pairs(group: Group, languages: list[str]) -> list[tuple[str, str]]:
    if group.languages == "same":
        return [(lang, lang) for lang in languages]
    return [(a, b) for a in languages for b in languages if a != b]


def _lengths(probes: ProbeSet, lang: str, modality: str) -> np.ndarray:
    raw = probes.durations(lang) if modality == "speech" else probes.text_lengths(lang)
    logs = np.log(np.maximum(np.asarray(raw, dtype=np.float64), 1e-3))
    return (logs - logs.mean()) / (logs.std() or 1.0)  # units differ across modalities


def score_retrieval(ctx: TaskContext) -> TaskOutput:
    params: RetrievalParams = ctx.params
    probes, languages, n = ctx.probes, list(ctx.probes.languages), len(ctx.probes.ids)
    main_group = _main_group(ctx.config, params)
    groups = [g for g in params.groups if {g.query, g.target} <= set(ctx.modalities)]
    if main_group not in [g.name for g in groups]:
        raise NotApplicable(
            f"the main score reads {main_group}; the model takes {', '.join(ctx.modalities)}"
        )
    perms = permutations(n, params.n_null, params.seed).numpy() if params.n_null else None
    weights = (
        replicate_counts(params.ci_method, n, params.n_resamples, params.seed).numpy()
        if params.n_resamples
        else None
    )
    draws = {"permutations": perms, "query_weights": weights, "directions": ("q2t",)}
    curves, matrices, main = [], [], None
    for group in groups:
        pairs = _pairs(group, languages)
        queries = {lang: ctx.representations(lang, group.query) for lang in languages}
        targets = {lang: ctx.representations(lang, group.target) for lang in languages}
        layers = queries[languages[0]].layers
        target_layers = targets[languages[0]].layers
        if len(layers) != len(target_layers):  # two stacks: pair layers by relative depth
            from benchmark.kinds.gaps import align_layers

            aligned = align_layers(layers, target_layers)
        else:
            aligned = list(zip(layers, target_layers, strict=True))
        labels = [q if q == t else f"{group.query}:{q}|{group.target}:{t}" for q, t in aligned]
        per_metric: dict[str, list[Estimate]] = {m: [] for m in params.metrics}
        for (q_layer, t_layer), label in zip(aligned, labels, strict=True):
            by_pair = {
                (a, b): _estimates(
                    cosine_similarity(queries[a].layer(q_layer), targets[b].layer(t_layer)),
                    params,
                    draws,
                )
                for a, b in pairs
            }
            for metric in params.metrics:
                ests = [est[f"q2t/{metric}"] for est in by_pair.values()]
                per_metric[metric].append(mean_of(ests))
                values = {pair: est[f"q2t/{metric}"].value for pair, est in by_pair.items()}
                matrices.append(
                    Matrix(
                        name=f"{metric}/{group.name}/{label}",
                        measure=metric,
                        group=group.name,
                        layer=label,
                        rows=languages,
                        columns=languages,
                        values=[[values.get((a, b)) for b in languages] for a in languages],
                    )
                )
        baselines = _length_baseline(probes, group, pairs, params)
        depths = [i / max(1, len(labels) - 1) for i in range(len(labels))]
        for metric, ests in per_metric.items():
            inference = inference_for(
                params,
                n,
                bounds=None if metric == "mean_rank" else (0.0, 1.0),
                higher_is_better=metric not in LOWER_IS_BETTER,
            )
            extra = {
                "chance": chance_level(metric, n),
                "baselines": {"length_only": baselines[metric]} if metric in baselines else {},
            }
            modalities = sorted({group.query, group.target})
            curves.append(
                curve(
                    metric,
                    group.name,
                    modalities,
                    labels,
                    ests,
                    inference,
                    layer_depths=depths,
                    **extra,
                )
            )
            if group.name == main_group and metric == ctx.config.main_score.measure:
                main = main_score(
                    ctx.config.main_score,
                    params,
                    group.name,
                    modalities,
                    labels,
                    ests,
                    inference,
                    null_method=NULL_METHOD,
                    layer_depths=depths,
                    **extra,
                )
    details = {
        "languages": languages,
        "groups": [g.name for g in groups],
        "skipped_groups": [g.name for g in params.groups if g not in groups],
        "xsim": {"k": params.xsim_k, "candidates": "the query's k cosine-nearest (LASER)"},
    }
    return TaskOutput(main, curves, matrices, details, _notes(params, n))


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


def _length_baseline(probes, group: Group, pairs, params: RetrievalParams) -> dict[str, float]:
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


KINDS = {
    "retrieval": Kind(
        name="retrieval",
        score=score_retrieval,
        params=RetrievalParams,
        description="find the same sentence across languages and modalities, per layer",
        needs="any",
        check_config=check_config,
        check_probes=check_probes,
    )
}

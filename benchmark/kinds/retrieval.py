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

import dataclasses
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from benchmark.config import StatsParams, TaskConfig
from benchmark.errors import UsageError
from benchmark.evaluation import Group, KindOutput, Measure, Series
from benchmark.kinds import Kind, TaskContext, register_kind
from benchmark.kinds.pair_scoring import length_basis, residualize
from benchmark.kinds.retrieval_length import length_bases, paired_lengths, without_length
from benchmark.layers import paired_axis
from benchmark.metrics.nulls import length_strata
from benchmark.metrics.retrieval import (
    LENGTH_METRICS,
    LOWER_IS_BETTER,
    chance_level,
    cosine_similarity,
    retrieval_estimates,
)
from benchmark.metrics.statistics import Estimate, mean_of
from benchmark.probes import ProbeSet, length_features, sentence_lengths
from benchmark.probes.lexicon import disjoint_items, floor_vectors, form_overlap
from benchmark.probes.signal import signal_vectors
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
    # text -> text: what written forms alone retrieve (the lexical floor, on the same draws:
    # each score's margin over it) and each metric among lexically disjoint items only
    lexical_floor: bool = True
    # speech -> speech: what the audio signal alone retrieves (benchmark.probes.signal)
    signal_floor: bool = True
    # the null moves each target only among sentences of similar length (translations share
    # their length: a shuffle across lengths gives a null that length alone clears)
    length_matched_null: bool = True
    # "residualize": both sides' states minus their fit on the pair's length features (a cubic
    # of each). Off by default: shared covariates give noise a shared structure that nearest
    # neighbours pick up (a form-only model then "retrieves" among lexically disjoint items);
    # the length-matched null is the default control
    length_control: Literal["none", "residualize"] = "none"


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


def _measure(metric: str, n: int) -> Measure:
    return Measure(
        metric,
        bounds=None if metric == "mean_rank" else (0.0, 1.0),
        higher_is_better=metric not in LOWER_IS_BETTER,
        chance=chance_level(metric, n),
    )


def _binary(metric: str) -> bool:
    """Shares of 0/1 outcomes per query (their intervals get a binomial floor)."""
    return metric.startswith(("accuracy@", "recall@"))


def _pair_means(sims: dict, params: RetrievalParams, draws: dict) -> dict[str, tuple]:
    """Per metric, the mean over pairs of each pair's estimate, and each pair's value."""
    by_pair = {pair: _estimates(sim, params, draws) for pair, sim in sims.items()}
    return {
        m: (
            mean_of([est[f"q2t/{m}"] for est in by_pair.values()]),
            {pair: est[f"q2t/{m}"].value for pair, est in by_pair.items()},
        )
        for m in params.metrics
    }


def _floor_parts(ctx: TaskContext, group: RetrievalGroup, pairs, draws) -> tuple:
    """The floor of the group's surface alone, per metric, drawn on the same draws — for text ->
    text the lexical floor (written forms), for speech -> speech the signal floor (the audio
    without its words) — and, for text, the lexically disjoint items with their draws (None when
    there are too few). (None, None) for the other groups."""
    params: RetrievalParams = ctx.params
    languages = list(ctx.probes.languages)
    text = group.query == group.target == "text" and params.lexical_floor
    speech = group.query == group.target == "speech" and params.signal_floor
    if not (text or (speech and ctx.probes.has_audio)):
        return None, None
    if text:
        texts = {lang: ctx.probes.texts(lang) for lang in languages}
        vectors = {lang: floor_vectors(texts[lang]) for lang in languages}
    else:
        vectors = {lang: signal_vectors(ctx.probes.audio(lang)) for lang in languages}
    modality = group.query
    sims = {
        (a, b): cosine_similarity(
            *_controlled(ctx, (modality, a), vectors[a], (modality, b), vectors[b])
        )
        for a, b in pairs
    }  # measured as the model's states are, length control included
    means = {m: est for m, (est, _) in _pair_means(sims, params, draws).items()}
    rows = disjoint_items(texts) if text else []
    if len(rows) < max(8, params.xsim_k + 1):
        return means, None
    weights = draws["query_weights"]
    sub = {
        "permutations": ctx.draws.permutations(len(rows), _strata(ctx, [group], rows)),
        "query_weights": None if weights is None else weights[:, rows],
        "directions": ("q2t",),
    }
    return means, (np.asarray(rows), sub)


def _group_series(ctx: TaskContext, group: RetrievalGroup, draws: dict, matrices: list) -> list:
    params: RetrievalParams = ctx.params
    languages, n = list(ctx.probes.languages), len(ctx.probes.ids)
    pairs = _pairs(group, languages)
    queries = {lang: ctx.reps.pooled(lang, group.query) for lang in languages}
    targets = {lang: ctx.reps.pooled(lang, group.target) for lang in languages}
    axis, aligned = paired_axis(
        group.query, queries[languages[0]].layers, group.target, targets[languages[0]].layers
    )
    floor, disjoint = _floor_parts(ctx, group, pairs, draws)
    floor_name = "lexical_floor" if group.target == "text" else "signal_floor"
    rank_metrics = _rank_metrics(params)
    per_metric: dict[str, list[Estimate]] = {m: [] for m in params.metrics}
    controlled: dict[str, list[Estimate]] = {m: [] for m in params.metrics}
    length_free: dict[str, list[Estimate]] = {m: [] for m in rank_metrics}
    for (q_layer, t_layer), label in zip(aligned, axis.names, strict=True):
        sims = {
            (a, b): cosine_similarity(
                *_controlled(
                    ctx,
                    (group.query, a),
                    queries[a].layer(q_layer),
                    (group.target, b),
                    targets[b].layer(t_layer),
                )
            )
            for a, b in pairs
        }
        for metric, (mean, values) in _pair_means(sims, params, draws).items():
            per_metric[metric].append(mean)
            matrices.append(_matrix(metric, group, label, languages, values))
        if rank_metrics:
            # each pair's basis is n x n x k: made per layer rather than held for every pair
            # (cheap next to the similarities; held, 30 languages at n = 1000 need tens of GB)
            without = {
                pair: without_length(sim, length_bases(ctx.probes, group.query, group.target, pair))
                for pair, sim in sims.items()
            }
            ranked = params.model_copy(update={"metrics": rank_metrics})
            for metric, (mean, _) in _pair_means(without, ranked, draws).items():
                length_free[metric].append(mean)
        if disjoint is not None:
            rows, sub = disjoint
            subset = {pair: sim[np.ix_(rows, rows)] for pair, sim in sims.items()}
            for metric, (mean, _) in _pair_means(subset, params, sub).items():
                controlled[metric].append(mean)
    lengths = _length_floor(ctx.probes, group, pairs, params, draws)
    modalities = tuple(sorted({group.query, group.target}))
    out = []
    for metric, ests in per_metric.items():
        bases: dict = {"length_only": [lengths[metric]] * len(axis)} if metric in lengths else {}
        if floor is not None:
            bases[floor_name] = [floor[metric]] * len(axis)
        control = None
        if metric in length_free:
            control = _variant(
                group, metric, "length_controlled", n, len(pairs), axis, length_free[metric]
            )
            out.append(control)
        outcomes = n * len(pairs) if _binary(metric) else None
        out.append(
            Series(
                group.key,
                _measure(metric, n),
                axis,
                ests,
                modalities,
                bases,
                outcomes,
                verdict_control=control,
            )
        )
        if disjoint is not None:
            m = len(disjoint[0])
            out.append(
                _variant(
                    group, metric, "lexical_controlled", m, len(pairs), axis, controlled[metric]
                )
            )
    return out


def _matrix(metric: str, group: RetrievalGroup, layer: str, languages: list, values) -> Matrix:
    """One layer's query-language x target-language scores of `metric` (None on the diagonal
    of a cross-language group)."""
    return Matrix(
        name=f"{metric}/{group.key.label}/{layer}",
        measure=metric,
        group=group.key.label,
        layer=layer,
        rows=languages,
        columns=languages,
        values=[[values.get((a, b)) for b in languages] for a in languages],
    )


CONTROLS_REMOVE = {"length_controlled": "length", "lexical_controlled": "shared word forms"}


def _variant(group: RetrievalGroup, metric: str, control: str, n: int, pairs: int, axis, estimates):
    """`metric` computed again under a control, as series `<metric>_<control>`: n items in each
    of `pairs` language pairs."""
    measure = dataclasses.replace(_measure(metric, n), name=f"{metric}_{control}")
    outcomes = n * pairs if _binary(metric) else None
    modalities = tuple(sorted({group.query, group.target}))
    return Series(
        group.key, measure, axis, estimates, modalities, {}, outcomes,
        removes=CONTROLS_REMOVE[control],
    )  # fmt: skip


def _rank_metrics(params: RetrievalParams) -> list[str]:
    """The metrics that read ranks only (defined on any similarity, not just cosines)."""
    return [m for m in params.metrics if m in LENGTH_METRICS or m.startswith("recall@")]


def _controlled(ctx: TaskContext, query: tuple, x: np.ndarray, target: tuple, y: np.ndarray):
    """Both sides' states with the fit on the pair's length features (a cubic of each side's)
    removed (`length_control: residualize`): one set of covariates for both, so identical states
    stay identical."""
    if ctx.params.length_control != "residualize":
        return x, y
    shared = np.column_stack(
        [length_basis(length_features(ctx.probes, lang, m)) for m, lang in (query, target)]
    )
    return residualize(x, shared).astype(np.float32), residualize(y, shared).astype(np.float32)


def _strata(ctx: TaskContext, groups: list[RetrievalGroup], rows=None) -> np.ndarray | None:
    if not ctx.params.length_matched_null or not groups:
        return None
    modalities = {m for g in groups for m in (g.query, g.target)}
    keys = [(m, lang) for m in sorted(modalities) for lang in ctx.probes.languages]
    return length_strata(sentence_lengths(ctx.probes, keys, rows))


def estimate_retrieval(ctx: TaskContext) -> KindOutput:
    params: RetrievalParams = ctx.params
    languages, n = list(ctx.probes.languages), len(ctx.probes.ids)
    groups = [g for g in params.groups if {g.query, g.target} <= set(ctx.modalities)]
    draws = {
        "permutations": ctx.draws.permutations(n, _strata(ctx, groups)),
        "query_weights": ctx.draws.weights(n),
        "directions": ("q2t",),
    }
    series, matrices = [], []
    for group in groups:
        series += _group_series(ctx, group, draws, matrices)
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
    if any(g.query == g.target == "text" for g in groups) and params.lexical_floor:
        texts = {lang: ctx.probes.texts(lang) for lang in languages}
        details["lexical"] = {
            "form_overlap": form_overlap(texts),
            "floor": "each sentence as the mean of one random vector per written form "
            "(benchmark.probes.lexicon), retrieved by cosine like the model's vectors",
            "controlled": "each metric again among the lexically disjoint items only",
            "disjoint_items": len(disjoint_items(texts)),
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


def _length_floor(
    probes, group: RetrievalGroup, pairs, params: RetrievalParams, draws: dict
) -> dict[str, Estimate]:
    """Each rank metric when sentences are retrieved by length alone (nearest in standardised
    length features: log characters and words for text -> text, log duration for speech, the
    first of each across modalities), drawn on the task's draws and averaged over the pairs: a
    baseline with its margin."""
    metrics = _rank_metrics(params)
    if not metrics:
        return {}
    sims = {}
    for a, b in pairs:
        fq, ft = paired_lengths(probes, group.query, group.target, (a, b))
        sims[(a, b)] = -np.linalg.norm(fq[:, None, :] - ft[None, :, :], axis=-1)
    sub = params.model_copy(update={"metrics": metrics})
    return {m: est for m, (est, _) in _pair_means(sims, sub, draws).items()}


def _notes(params: RetrievalParams, n: int) -> list[str]:
    return [
        f"Each query is matched against all n={n} targets by cosine; accuracy@1 by chance is "
        f"1/n = {1 / n:.3f} (each curve's `chance`).",
        f"xsim: LASER's error rate with the ratio margin (k={params.xsim_k}); lower is better.",
        "length_only: the same metric when sentences are retrieved by length alone "
        "(standardised log characters and words, or log duration), on the same draws; "
        "signal_floor (speech -> speech): by the audio signal without its words. "
        "<metric>_length_controlled: the same with what the targets' lengths explain removed "
        "from each query's similarities; a score is above_null only when this clears its null "
        "too (translations share their length).",
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
        version="4",  # 4: verdict gated on the length-controlled score; 3: length-matched null
        check_config=check_config,
        check_probes=check_probes,
        requests=requests,
    )
)

"""The two gap kinds: how close are representations across languages, and across speech and text?

Both compare matrices whose rows are the same sentences (one row per probe id), layer by layer, with
SVCCA and/or linear CKA (benchmark.metrics). Every pair is scored on the same permutations (null)
and half-sample replicates (interval), so means over pairs and the best-layer choice carry their
own null and interval (benchmark.metrics.statistics). By default each item's length features are
regressed out of its representation first (`length_control: residualize`), so that length alone
cannot make languages or modalities look alike; a length-only baseline is reported beside CKA.

cross_lingual_gap: every language pair within a modality -> one series per modality (group
                   `modality=text`); the main score reads one (default: the task's only modality).
cross_modal_gap:   speech vs text of the same sentences, same language (group
                   `pairs=same_language`, the main score) and across languages, with the
                   within-modality cross-lingual series beside it (`pairs=within_text`, ...), so
                   one result says whether the modality gap exceeds the language gap.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from benchmark.config import StatsParams, TaskConfig
from benchmark.errors import UsageError
from benchmark.evaluation import Group, KindOutput, Measure, Series
from benchmark.kinds import Kind, TaskContext, register_kind
from benchmark.kinds.pair_scoring import pair_scores
from benchmark.layers import LayerAxis
from benchmark.metrics import cka_from, decompose
from benchmark.metrics.decomposition import measure_bounds
from benchmark.metrics.statistics import Estimate, mean_of
from benchmark.probes import ProbeSet, length_features
from benchmark.probes.lexicon import disjoint_items, floor_vectors, form_overlap
from benchmark.probes.signal import signal_vectors
from benchmark.representations import Pooled
from benchmark.results import Matrix

NULL_METHOD = "permutation of the sentence pairing (the same permutations for every pair and layer)"
CROSS_MODAL_GROUPS = ("same_language", "cross_language", "within_speech", "within_text")


class GapParams(StatsParams):
    """The `metric:` block of a gap task."""

    measures: list[Literal["svcca", "cka"]] = Field(default=["svcca", "cka"], min_length=1)
    svcca_k: int | None = Field(default=None, ge=1)
    svcca_variance: float | None = Field(default=None, gt=0, le=1)
    min_ratio: float = Field(default=4.0, ge=1)
    cka_debiased: bool = False
    # "residualize": regress each item's length features (a cubic in each) out of its
    # representation before scoring, so that length alone cannot make languages or modalities
    # look alike
    length_control: Literal["none", "residualize"] = "residualize"
    # text: score what word forms alone give (the lexical floor, drawn on the same draws: every
    # text score carries its margin over it) and each measure with the shared forms' leading
    # directions regressed out too (`<measure>_lexical_controlled`); benchmark.probes.lexicon
    lexical_floor: bool = True
    # speech: score what the signal alone gives (duration, energy, pauses; the signal floor,
    # benchmark.probes.signal) on the same draws: every speech score carries its margin over it
    signal_floor: bool = True

    @model_validator(mode="after")
    def _one_svcca_rule(self) -> GapParams:
        if "svcca" in self.measures and (self.svcca_k is None) == (self.svcca_variance is None):
            raise ValueError(
                "SVCCA needs exactly one of svcca_k (directions kept) or svcca_variance "
                "(share of s^2 kept), e.g. svcca_k: 10"
            )
        return self


# --- checks before any model loads -------------------------------------------------------------


def default_group(config: TaskConfig, params: GapParams) -> dict[str, str]:
    if config.kind == "cross_modal_gap":
        return {"pairs": "same_language"}
    if len(config.modalities) == 1:
        return {"modality": config.modalities[0]}
    return {}  # check_config asks the task to name one


def check_config(config: TaskConfig, params: GapParams) -> None:
    if config.main_score.measure not in params.measures:
        raise UsageError(
            f"main_score.measure {config.main_score.measure!r} is not among metric.measures "
            f"{params.measures}"
        )
    group = {**default_group(config, params), **config.main_score.group_fields()}
    if config.kind == "cross_modal_gap":
        if sorted(config.modalities) != ["speech", "text"]:
            raise UsageError(
                "cross_modal_gap compares speech with text: modalities: [text, speech]"
            )
        allowed = [{"pairs": g} for g in CROSS_MODAL_GROUPS[:2]]
    else:
        allowed = [{"modality": m} for m in config.modalities]
        if not group:
            raise UsageError(
                f"main_score.group must name one modality of {config.modalities} (a main score "
                "is one fixed measurement), e.g. group: {modality: text}"
            )
    if group not in allowed:
        raise UsageError(
            f"main_score.group {group or '(none)'} must be one of {allowed} (a main score is one "
            "fixed measurement)"
        )


def check_probes(config: TaskConfig, params: GapParams, probes: ProbeSet) -> None:
    """Enough sentences for k (and for half-samples), enough languages: refused before loading."""
    n = len(probes.ids)
    if config.kind == "cross_lingual_gap" and len(probes.languages) < 2:
        raise UsageError(
            f"task {config.name!r} compares languages but the probes have only "
            f"{probes.languages}; give at least two with --languages or probes.languages"
        )
    k = params.svcca_k if "svcca" in params.measures else None
    n_for_k = math.ceil(params.min_ratio * k) if k else 0
    n_for_ci = 8 if params.ci_method == "subsample" and params.n_resamples else 0
    problems = []
    if n < 3:
        problems.append("at least 3 are needed")
    if n < n_for_k:
        problems.append(
            f"metric.svcca_k={k} needs n >= {n_for_k} (metric.min_ratio={params.min_ratio:g}: "
            "SVCCA is biased upward as k nears n)"
        )
    if n < n_for_ci:
        problems.append("half-sample intervals (ci_method: subsample) need n >= 8")
    if not problems:
        return
    fixes = [f"--limit {max(3, n_for_k, n_for_ci)} or more (if the probe set has that many)"]
    k_fit = int(n // params.min_ratio)
    if n < n_for_k and n >= max(3, n_for_ci) and k_fit >= 1:  # a smaller k is the only fix needed
        fixes.append(f"--task-setting metric.svcca_k={k_fit}")
    if n < n_for_ci and n >= max(3, n_for_k):
        fixes.append("--task-setting metric.ci_method=jackknife")
    raise UsageError(
        f"task {config.name!r}: the probes give n={n} sentences per language; "
        + "; ".join(problems)
        + ". Use "
        + " or ".join(fixes)
    )


def requests(config: TaskConfig, params: GapParams, probes: ProbeSet, modalities) -> list:
    return [Pooled(lang, m, config.pooling) for m in modalities for lang in probes.languages]


def fit(config: TaskConfig, params: GapParams, probes: ProbeSet) -> tuple[GapParams, list[str]]:
    """SVCCA's k follows n: k <= n / min_ratio (SVCCA is biased upward as k nears n)."""
    n, k = len(probes.ids), params.svcca_k
    if "svcca" not in params.measures or not k or n >= math.ceil(params.min_ratio * k):
        return params, []
    k_fit = int(n // params.min_ratio)
    if k_fit < 1:
        return params, []  # nothing fits: check_probes says why
    line = (
        f"metric.svcca_k: {k} -> {k_fit} (n={n} sentences per language; k <= n / "
        f"metric.min_ratio={params.min_ratio:g})"
    )
    return params.model_copy(update={"svcca_k": k_fit}), [line]


# --- shared machinery --------------------------------------------------------------------------


def length_baseline(ctx: TaskContext, pairs: list[tuple]) -> float:
    """What length alone gives: linear CKA between the two sides' length features (log duration
    for speech, log characters and words for text), averaged over the pairs."""
    features = {
        key: decompose(length_features(ctx.probes, key[1], key[0]), name="/".join(key))
        for key in {k for pair in pairs for k in pair}
    }
    return float(np.mean([cka_from(features[a], features[b]) for a, b in pairs]))


def gap_measure(name: str, params: GapParams) -> Measure:
    return Measure(name, bounds=measure_bounds(name, params.cka_debiased))


def length_baselines(measure: str, value: float) -> dict[str, float]:
    return {"length_only_cka": value} if measure == "cka" else {}


def pair_matrix(measure, group, layer, rows, cols, values: dict) -> Matrix:
    return Matrix(
        name=f"{measure}/{group}/{layer}",
        measure=measure,
        group=group,
        layer=layer,
        rows=list(rows),
        columns=list(cols),
        values=[[values.get((r, c)) for c in cols] for r in rows],
    )


def svcca_k_record(ctx: TaskContext) -> dict:
    params: GapParams = ctx.params
    return {
        "rule": "fixed" if params.svcca_k is not None else "variance",
        "k": params.svcca_k,
        "variance": params.svcca_variance,
        "n": len(ctx.probes.ids),
        "min_ratio": params.min_ratio,
    }


def gap_notes(params: GapParams) -> list[str]:
    return [
        "Scores are similarities in [0, 1]: higher = closer. Read each against its null "
        "(sentence pairing shuffled; null_q95 is its 95th percentile): a score near its null "
        "carries no shared sentence structure.",
        f"length_control: {params.length_control}. length_only_cka: linear CKA of length "
        "features alone for the same pairs; pooled states carry length.",
        f"Intervals over sentences: {params.ci_method} ({params.n_resamples} replicates, level "
        f"{params.ci_level}), on the logit scale so they stay in [0, 1]. Means over pairs use "
        "the same replicates for every pair; a best layer takes the maximum over layers within "
        "each permutation and replicate.",
    ]


# --- cross-lingual gap -------------------------------------------------------------------------


def _needed_n(params: GapParams) -> int:
    """Items a score needs: n >= min_ratio * k for SVCCA, 8 for half-samples."""
    k = params.svcca_k if "svcca" in params.measures and params.svcca_k else 0
    return max(math.ceil(params.min_ratio * k), 8)


def floor_inputs(ctx: TaskContext, modality: str) -> dict[str, dict[str, np.ndarray]]:
    """Per floor, each language's vectors of what the surface alone gives: for text the written
    forms (the lexical floor, benchmark.probes.lexicon), for speech the audio signal without its
    words (the signal floor, benchmark.probes.signal)."""
    languages = ctx.probes.languages
    if _lexical(ctx, modality):
        return {
            "lexical_floor": {lang: floor_vectors(ctx.probes.texts(lang)) for lang in languages}
        }
    if modality == "speech" and ctx.params.signal_floor and ctx.probes.has_audio:
        return {
            "signal_floor": {lang: signal_vectors(ctx.probes.audio(lang)) for lang in languages}
        }
    return {}


def _lexical(ctx: TaskContext, modality: str) -> bool:
    return ctx.params.lexical_floor and modality == "text"


def _mean_estimates(ctx, matrices: dict, pairs: list[tuple], rows=None) -> dict:
    """Per measure, the mean over `pairs` of one layer's matrices, and every pair's estimate."""
    here = matrices if rows is None else {k: x[rows] for k, x in matrices.items()}
    scores = pair_scores(ctx, here, pairs, ctx.params.measures, rows)
    return {m: (mean_of(list(ests.values())), ests) for m, ests in scores.items()}


def _modality_series(ctx: TaskContext, modality: str, matrices: list, pair_details: dict):
    """Every series of one modality: each measure per layer (with the length-only baseline and
    the modality's floor — lexical for text, signal for speech — drawn on the same draws), and
    for text each measure again on the lexically disjoint items alone
    (`<measure>_lexical_controlled`, when enough of them)."""
    params: GapParams = ctx.params
    languages = list(ctx.probes.languages)
    reps = {lang: ctx.reps.pooled(lang, modality) for lang in languages}
    layers = reps[languages[0]].layers
    keys = [(modality, lang) for lang in languages]
    pairs = [(a, b) for i, a in enumerate(keys) for b in keys[i + 1 :]]
    baseline = length_baseline(ctx, pairs)
    by_measure: dict[str, list[Estimate]] = {m: [] for m in params.measures}
    controlled: dict[str, list[Estimate]] = {m: [] for m in params.measures}
    floors = {
        name: _mean_estimates(ctx, {k: vectors[k[1]] for k in keys}, pairs)
        for name, vectors in floor_inputs(ctx, modality).items()
    }
    disjoint = None
    if _lexical(ctx, modality):
        disjoint = disjoint_items({lang: ctx.probes.texts(lang) for lang in languages})
        if len(disjoint) < _needed_n(params):
            disjoint = None  # too few to score: said in the details
    for layer in layers:
        here = {key: reps[key[1]].layer(layer) for key in keys}
        for measure, (mean, ests) in _mean_estimates(ctx, here, pairs).items():
            by_measure[measure].append(mean)
            values = {(a[1], b[1]): e.value for (a, b), e in ests.items()}
            values |= {(b, a): v for (a, b), v in values.items()}
            matrices.append(pair_matrix(measure, modality, layer, languages, languages, values))
            pair_details.setdefault(measure, {}).setdefault(modality, {})[layer] = {
                f"{a[1]}|{b[1]}": round(e.value, 6) for (a, b), e in ests.items()
            }
        if disjoint is not None:
            for measure, (mean, _) in _mean_estimates(ctx, here, pairs, disjoint).items():
                controlled[measure].append(mean)
    axis, group = LayerAxis.of(layers), Group.of(modality=modality)
    out = []
    for measure, ests in by_measure.items():
        bases: dict = length_baselines(measure, baseline)
        for name, floor in floors.items():
            bases[name] = [floor[measure][0]] * len(layers)
        out.append(Series(group, gap_measure(measure, params), axis, ests, (modality,), bases))
        if disjoint is not None:
            name = f"{measure}_lexical_controlled"
            measure_ = dataclasses.replace(gap_measure(measure, params), name=name)
            out.append(Series(group, measure_, axis, controlled[measure], (modality,)))
    return out


def estimate_cross_lingual(ctx: TaskContext) -> KindOutput:
    params: GapParams = ctx.params
    languages = list(ctx.probes.languages)
    series, matrices, pair_details = [], [], {}
    for modality in ctx.modalities:
        series += _modality_series(ctx, modality, matrices, pair_details)
    missing = {
        Group.of(modality=m).label: f"the model has no {m} input; this task's main score is {m}"
        for m in ctx.config.modalities
        if m not in ctx.modalities
    }
    details = {"languages": languages, "pairs": pair_details, "svcca_k": svcca_k_record(ctx)}
    if "text" in ctx.modalities and params.lexical_floor:
        texts = {lang: ctx.probes.texts(lang) for lang in languages}
        details["lexical"] = {
            "form_overlap": form_overlap(texts),
            "floor": "each sentence as the mean of one random vector per written word form "
            "(benchmark.probes.lexicon): what word forms alone give, scored like the model",
            "controlled": "each measure again on the lexically disjoint items: those whose "
            "translations share no word form (punctuation aside)",
            "disjoint_items": len(disjoint_items(texts)),
            "needed": _needed_n(params),
        }
    return KindOutput(
        series,
        len(ctx.probes.ids),
        matrices,
        details,
        gap_notes(params),
        missing=missing,
        null_method=NULL_METHOD,
    )


register_kind(
    Kind(
        name="cross_lingual_gap",
        description="SVCCA/CKA between languages within each modality, per layer",
        params=GapParams,
        estimate=estimate_cross_lingual,
        default_group=default_group,
        needs="any",
        version="4",  # 4: a pair shares its covariates, length-matched null; 3: lexical floor
        check_config=check_config,
        check_probes=check_probes,
        requests=requests,
        fit=fit,
    )
)

"""The two gap kinds: how close are representations across languages, and across speech and text?

Both compare matrices whose rows are the same sentences (one row per probe id), layer by layer, with
SVCCA and/or linear CKA (benchmark.metrics). Every score comes with a permutation null (the sentence
pairing shuffled) and a CI over sentences (half-samples by default). Aggregates (means over
language pairs, layers or modalities) get their CI from the same replicates applied to every pair,
so the CI is that of the aggregate itself. A length-only baseline is reported beside the curves.

cross_lingual_gap: every language pair within each modality -> a pair matrix per layer.
cross_modal_gap:   speech vs text of the same sentences, same language (the main score) and across
                   languages; within-modality cross-lingual means are reported beside it, so one
                   result says whether the modality gap exceeds the language gap.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from benchmark.kinds import Kind, TaskContext, TaskOutput
from benchmark.metrics import (
    Decomposition,
    PairScore,
    cka_from,
    decompose,
    interval_from_replicates,
    pairwise_matrix,
)
from benchmark.probes import length_features


class GapParams(BaseModel):
    """The `metric:` block of a gap task."""

    model_config = ConfigDict(extra="forbid")

    measures: list[Literal["svcca", "cka"]] = Field(default=["svcca", "cka"], min_length=1)
    svcca_k: int | None = Field(default=None, ge=1)
    svcca_variance: float | None = Field(default=None, gt=0, le=1)
    min_ratio: float = Field(default=4.0, ge=1)
    cka_debiased: bool = False
    n_null: int = Field(default=100, ge=0)
    n_resamples: int = Field(default=200, ge=0)  # replicates for the CI (0: no CI)
    ci_method: Literal["subsample", "jackknife", "percentile"] = "subsample"
    ci_level: float = Field(default=0.95, gt=0, lt=1)
    seed: int = 0
    # "residualize": regress each item's length features out of its representation before
    # scoring, so that length alone cannot make languages or modalities look alike
    length_control: Literal["none", "residualize"] = "none"

    @model_validator(mode="after")
    def _one_svcca_rule(self) -> GapParams:
        if "svcca" in self.measures and (self.svcca_k is None) == (self.svcca_variance is None):
            raise ValueError(
                "SVCCA needs exactly one of svcca_k (directions kept) or svcca_variance "
                "(share of s^2 kept), e.g. svcca_k: 10"
            )
        return self


# --- shared machinery --------------------------------------------------------------------------


def _decompose_all(ctx: TaskContext, matrices: dict, params: GapParams) -> dict:
    """One decomposition per (modality, language) for a layer, reused by every pair."""
    need_basis = "svcca" in params.measures
    rule = {"k": params.svcca_k, "variance": params.svcca_variance} if need_basis else {}
    if params.length_control == "residualize":
        matrices = {
            key: residualize(x, length_features(ctx.probes, key[1], key[0]))
            for key, x in matrices.items()
        }
    return {
        key: decompose(x, min_ratio=params.min_ratio, name="/".join(key), **rule)
        for key, x in matrices.items()
    }


def residualize(x: np.ndarray, covariates: np.ndarray) -> np.ndarray:
    """x minus its least-squares fit on [1, covariates]: what the covariates cannot explain."""
    design = np.column_stack([np.ones(len(x)), covariates]).astype(np.float64)
    coef, *_ = np.linalg.lstsq(design, x.astype(np.float64), rcond=None)
    return x - design @ coef


def _score_pairs(
    decomps: dict[tuple, Decomposition], pairs: list[tuple], measure: str, params: GapParams
) -> dict[tuple, PairScore]:
    return pairwise_matrix(
        decomps,
        measure,
        pairs=pairs,
        debiased=params.cka_debiased,
        n_null=params.n_null,
        n_boot=params.n_resamples,
        ci_method=params.ci_method,
        ci=params.ci_level,
        seed=params.seed,  # same seed -> same permutations and resamples for every pair
        keep_draws=True,
    )


def _summary(scores: list[PairScore], params: GapParams) -> dict:
    """Mean over pairs, with the null and CI of that mean. Every pair was scored on the same
    permutations and replicates, so averaging their draws replicate by replicate gives the draws
    of the mean itself."""
    value = float(np.mean([s.score for s in scores]))
    draws = {
        "null": _average([s.null_draws for s in scores]),
        "boot": _average([s.boot_draws for s in scores]),
    }
    return {
        "mean": value,
        "n_pairs": len(scores),
        "draws": draws,
        **_draw_stats(draws, value, params, scores[0].n),
    }


def _average(arrays: list) -> np.ndarray | None:
    return None if any(a is None for a in arrays) else np.nanmean(np.stack(arrays), axis=0)


def _draw_stats(draws: dict, value: float, params: GapParams, n: int) -> dict:
    stats: dict = {"null_mean": None, "null_sd": None, "ci_low": None, "ci_high": None}
    if draws["null"] is not None:
        stats["null_mean"] = float(np.mean(draws["null"]))
        stats["null_sd"] = float(np.std(draws["null"]))
    boot = draws["boot"]
    if boot is not None and np.isfinite(boot).sum() >= 2:
        finite = torch.as_tensor(boot[np.isfinite(boot)], dtype=torch.float64)
        low, high, _ = interval_from_replicates(finite, value, params.ci_method, params.ci_level, n)
        stats["ci_low"], stats["ci_high"] = low, high
    return stats


def _public(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "draws"}


def _combine(points: list[dict], value_key: str, params: GapParams, n: int) -> dict:
    """Mean of several points (layers, or modalities) with the null and CI of that mean."""
    value = float(np.mean([p[value_key] for p in points]))
    draws = {kind: _average([p["draws"][kind] for p in points]) for kind in ("null", "boot")}
    return {"value": value, "draws": draws, **_draw_stats(draws, value, params, n)}


def _pick_layer(curve: list[dict], rule: str, params: GapParams, n: int) -> dict:
    """The main score from a per-layer curve: best / last / mean / a named layer."""
    names = [point["layer"] for point in curve]
    if rule == "best":
        point = max(curve, key=lambda p: p["mean"])
    elif rule == "last":
        point = curve[-1]
    elif rule == "mean":
        return {"layer": "mean", **_combine(curve, "mean", params, n)}
    elif rule in names:
        point = curve[names.index(rule)]
    else:
        raise ValueError(
            f"main_score.layer {rule!r} is not best, last, mean or one of the layers {names}"
        )
    return {**point, "value": point["mean"]}


def _main_score(
    name: str, picks: list[dict], params: GapParams, measure: str, n: int, **extra
) -> dict:
    """Average of one or more picked points (e.g. one per modality) with a joint CI."""
    combined = _combine(picks, "value", params, n)
    del combined["draws"]
    return {
        "name": name,
        **combined,
        "measure": measure,
        "ci_level": params.ci_level,
        "ci_method": params.ci_method,
        "n_resamples": params.n_resamples,
        "n_null": params.n_null,
        **extra,
    }


def _length_baseline(ctx: TaskContext, pairs: list[tuple]) -> dict:
    """What length alone gives: linear CKA between the two sides' length features (log duration
    for speech, log characters and words for text), averaged over the pairs. Pooled states carry
    length, so a representation score near this baseline may say little beyond length."""
    features = {
        key: decompose(length_features(ctx.probes, key[1], key[0]), name="/".join(key))
        for key in {k for pair in pairs for k in pair}
    }
    scores = [cka_from(features[a], features[b]) for a, b in pairs]
    return {"measure": "cka", "mean": float(np.mean(scores)), "n_pairs": len(scores)}


def _pair_key(pair: tuple) -> str:
    (_, a), (_, b) = pair
    return f"{a}|{b}"


# --- cross-lingual gap -------------------------------------------------------------------------


def score_cross_lingual(ctx: TaskContext) -> TaskOutput:
    params = GapParams(**ctx.config.metric)
    languages = list(ctx.probes.languages)
    if len(languages) < 2:
        raise ValueError(
            f"task {ctx.config.name!r} compares languages but the probes have only {languages}; "
            "list at least two in probes.languages"
        )
    main_measure = ctx.config.main_score.measure
    curves: dict = {m: {} for m in params.measures}
    matrices: dict = {m: {} for m in params.measures}
    picks: list[dict] = []
    length_baseline: dict = {}
    for modality in ctx.modalities:
        reps = {lang: ctx.representations(lang, modality) for lang in languages}
        layers = reps[languages[0]].layers
        pairs = [
            ((modality, a), (modality, b))
            for i, a in enumerate(languages)
            for b in languages[i + 1 :]
        ]
        for measure in params.measures:
            curves[measure][modality], matrices[measure][modality] = [], {}
        for layer in layers:
            decomps = _decompose_all(
                ctx, {(modality, lang): reps[lang].layer(layer) for lang in languages}, params
            )
            for measure in params.measures:
                scores = _score_pairs(decomps, pairs, measure, params)
                summary = _summary(list(scores.values()), params)
                curves[measure][modality].append({"layer": layer, **summary})
                matrices[measure][modality][layer] = {
                    _pair_key(p): s.to_dict() for p, s in scores.items()
                }
        pick = _pick_layer(
            curves[main_measure][modality], ctx.config.main_score.layer, params, len(ctx.probes.ids)
        )
        picks.append({**pick, "modality": modality})
        length_baseline[modality] = _length_baseline(ctx, pairs)

    main = _main_score(
        ctx.config.main_score.name,
        picks,
        params,
        main_measure,
        len(ctx.probes.ids),
        layer={p["modality"]: p["layer"] for p in picks},
        per_modality={p["modality"]: p["value"] for p in picks},
    )
    scores = {
        "languages": languages,
        "modalities": list(ctx.modalities),
        "curves": {
            m: {mod: [_public(p) for p in curve] for mod, curve in by_mod.items()}
            for m, by_mod in curves.items()
        },
        "pairs": matrices,
        "length_baseline": length_baseline,
        "svcca_k": _ks(ctx, params),
    }
    return TaskOutput(main_score=main, scores=scores, notes=_notes(params))


# --- cross-modal gap ---------------------------------------------------------------------------


def align_layers(speech: list[str], text: list[str]) -> list[tuple[str, str]]:
    """Pair layers of two stacks by relative depth (identity when the depths match)."""
    short, long_, speech_short = (
        (speech, text, True) if len(speech) <= len(text) else (text, speech, False)
    )
    if len(short) == 1:
        mapping = [(short[0], long_[-1])]
    else:
        mapping = [
            (s, long_[round(i * (len(long_) - 1) / (len(short) - 1))]) for i, s in enumerate(short)
        ]
    return mapping if speech_short else [(s, t) for t, s in mapping]


def score_cross_modal(ctx: TaskContext) -> TaskOutput:
    params = GapParams(**ctx.config.metric)
    languages = list(ctx.probes.languages)
    main_measure = ctx.config.main_score.measure
    speech = {lang: ctx.representations(lang, "speech") for lang in languages}
    text = {lang: ctx.representations(lang, "text") for lang in languages}
    aligned = align_layers(speech[languages[0]].layers, text[languages[0]].layers)

    same_pairs = [(("speech", lang), ("text", lang)) for lang in languages]
    cross_pairs = [(("speech", a), ("text", b)) for a in languages for b in languages if a != b]
    within = {
        mod: [((mod, a), (mod, b)) for i, a in enumerate(languages) for b in languages[i + 1 :]]
        for mod in ("speech", "text")
    }
    pair_groups = {
        "same_language": same_pairs,
        "cross_language": cross_pairs,
        **{f"within_{mod}": pairs for mod, pairs in within.items()},
    }
    all_pairs = [p for pairs in pair_groups.values() for p in pairs]
    curves: dict = {
        m: {"same_language": [], "cross_language": [], "within_speech": [], "within_text": []}
        for m in params.measures
    }
    matrices: dict = {m: {} for m in params.measures}
    for speech_layer, text_layer in aligned:
        label = f"speech:{speech_layer}|text:{text_layer}"
        matrices_here = {("speech", lang): speech[lang].layer(speech_layer) for lang in languages}
        matrices_here |= {("text", lang): text[lang].layer(text_layer) for lang in languages}
        decomps = _decompose_all(ctx, matrices_here, params)
        for measure in params.measures:
            # one call for every group: each language's bootstrap replicates are computed once
            scored = _score_pairs(decomps, all_pairs, measure, params)
            groups = {
                group: {p: scored[p] for p in pairs}
                for group, pairs in pair_groups.items()
                if pairs
            }
            same = groups["same_language"]
            for group, scores in groups.items():
                summary = _summary(list(scores.values()), params)
                curves[measure][group].append(
                    {
                        "layer": label,
                        "speech_layer": speech_layer,
                        "text_layer": text_layer,
                        **summary,
                    }
                )
            matrices[measure][label] = {
                "same_language": {
                    lang: same[p].to_dict() for lang, p in zip(languages, same_pairs, strict=True)
                },
                "cross_language": {
                    f"speech:{a}|text:{b}": s.to_dict()
                    for ((_, a), (_, b)), s in groups.get("cross_language", {}).items()
                },
            }

    n = len(ctx.probes.ids)
    pick = _pick_layer(
        curves[main_measure]["same_language"], ctx.config.main_score.layer, params, n
    )
    main = _main_score(
        ctx.config.main_score.name, [pick], params, main_measure, n, layer=pick["layer"]
    )
    gap = _gap_comparison(curves[main_measure])
    scores = {
        "languages": languages,
        "aligned_layers": [list(pair) for pair in aligned],
        "curves": {
            m: {group: [_public(p) for p in curve] for group, curve in by_group.items()}
            for m, by_group in curves.items()
        },
        "modality_vs_language_gap": gap,
        "pairs": matrices,
        "length_baseline": {
            group: _length_baseline(ctx, pairs) for group, pairs in pair_groups.items() if pairs
        },
        "svcca_k": _ks(ctx, params),
    }
    notes = _notes(params) + [
        "Layers of the speech and text stacks are paired by relative depth (aligned_layers).",
        "modality_vs_language_gap: per layer, 1 - same-language speech/text similarity (modality "
        "gap) against 1 - mean within-modality cross-lingual similarity (language gap).",
    ]
    return TaskOutput(main_score=main, scores=scores, notes=notes)


def _gap_comparison(curves: dict) -> list[dict]:
    rows = []
    for i, point in enumerate(curves["same_language"]):
        within = [curves[g][i]["mean"] for g in ("within_speech", "within_text") if curves[g]]
        language_gap = 1 - float(np.mean(within)) if within else None
        modality_gap = 1 - point["mean"]
        rows.append(
            {
                "layer": point["layer"],
                "modality_gap": modality_gap,
                "language_gap": language_gap,
                "modality_gap_exceeds_language_gap": None
                if language_gap is None
                else modality_gap > language_gap,
            }
        )
    return rows


def _ks(ctx: TaskContext, params: GapParams) -> dict:
    return {
        "rule": "fixed" if params.svcca_k is not None else "variance",
        "k": params.svcca_k,
        "variance": params.svcca_variance,
        "n": len(ctx.probes.ids),
        "min_ratio": params.min_ratio,
    }


def _notes(params: GapParams) -> list[str]:
    return [
        "Scores are similarities in [0, 1]: higher = closer. Compare each with its null_mean "
        "(sentence pairing shuffled); a score near its null carries no shared structure.",
        "length_baseline: linear CKA of length features alone (log duration / characters / words) "
        "for the same pairs; pooled states carry length, so compare CKA curves with it.",
        f"CIs over sentences: {params.ci_method} ({params.n_resamples} replicates, level "
        f"{params.ci_level}); means over pairs, layers or modalities use the same replicates for "
        "every pair, so their CI is that of the mean itself.",
    ]


KINDS = {
    "cross_lingual_gap": Kind(
        name="cross_lingual_gap",
        score=score_cross_lingual,
        params=GapParams,
        description="SVCCA/CKA between languages within each modality, per layer",
        needs="any",
    ),
    "cross_modal_gap": Kind(
        name="cross_modal_gap",
        score=score_cross_modal,
        params=GapParams,
        description="SVCCA/CKA between speech and text of the same sentences, per layer",
        needs="all",
    ),
}

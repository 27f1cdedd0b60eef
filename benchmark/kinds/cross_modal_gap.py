"""The cross-modal gap: how close are speech and text representations of the same sentences?

Speech vs text of the same sentences, same language (group `pairs=same_language`, the main score)
and across languages, with the within-modality cross-lingual series beside it (`pairs=within_text`,
...), so one result says whether the modality gap exceeds the language gap. The two stacks' layers
are paired by relative depth (benchmark.layers). Statistics, checks and settings are the gap
kinds' (benchmark.kinds.gaps).
"""

from __future__ import annotations

import numpy as np

from benchmark.core import Group
from benchmark.evaluation import KindOutput, Series
from benchmark.kinds import Kind, TaskContext, register_kind
from benchmark.kinds.gaps import (
    NULL_METHOD,
    GapParams,
    check_config,
    check_probes,
    default_group,
    fit,
    gap_measure,
    gap_notes,
    length_baseline,
    length_baselines,
    pair_matrix,
    requests,
    svcca_k_record,
)
from benchmark.kinds.pair_scoring import pair_scores
from benchmark.layers import paired_axis
from benchmark.metrics.statistics import Estimate, mean_of


def _cross_modal_pairs(languages: list[str]) -> dict[str, list[tuple]]:
    groups = {
        "same_language": [(("speech", lang), ("text", lang)) for lang in languages],
        "cross_language": [
            (("speech", a), ("text", b)) for a in languages for b in languages if a != b
        ],
        **{
            f"within_{m}": [
                ((m, a), (m, b)) for i, a in enumerate(languages) for b in languages[i + 1 :]
            ]
            for m in ("speech", "text")
        },
    }
    return {g: pairs for g, pairs in groups.items() if pairs}


def estimate_cross_modal(ctx: TaskContext) -> KindOutput:
    params: GapParams = ctx.params
    languages = list(ctx.probes.languages)
    speech = {lang: ctx.reps.pooled(lang, "speech") for lang in languages}
    text = {lang: ctx.reps.pooled(lang, "text") for lang in languages}
    axis, aligned = paired_axis(
        "speech", speech[languages[0]].layers, "text", text[languages[0]].layers
    )
    groups = _cross_modal_pairs(languages)
    all_pairs = [p for pairs in groups.values() for p in pairs]
    by_group = {m: {g: [] for g in groups} for m in params.measures}
    matrices = []
    for (speech_layer, text_layer), label in zip(aligned, axis.names, strict=True):
        here = {("speech", lang): speech[lang].layer(speech_layer) for lang in languages}
        here |= {("text", lang): text[lang].layer(text_layer) for lang in languages}
        scores = pair_scores(ctx, here, all_pairs, params.measures)
        for measure in params.measures:
            ests = scores[measure]
            for g, pairs in groups.items():
                by_group[measure][g].append(mean_of([ests[p] for p in pairs]))
            values = {
                (a[1], b[1]): e.value for (a, b), e in ests.items() if a[0] == "speech" != b[0]
            }
            matrices.append(
                pair_matrix(measure, "speech->text", label, languages, languages, values)
            )
    baselines = {g: length_baseline(ctx, pairs) for g, pairs in groups.items()}
    series = [
        Series(
            Group.of(pairs=g),
            gap_measure(measure, params),
            axis,
            ests,
            ("speech", "text") if not g.startswith("within_") else (g.removeprefix("within_"),),
            length_baselines(measure, baselines[g]),
        )
        for measure, per_group in by_group.items()
        for g, ests in per_group.items()
    ]
    measure = ctx.config.main_score.measure
    details = {
        "languages": languages,
        "aligned_layers": [list(pair) for pair in aligned],
        "modality_vs_language_gap": _gap_comparison(by_group[measure], list(axis.names)),
        "svcca_k": svcca_k_record(ctx),
    }
    notes = gap_notes(params) + [
        "Layers of the speech and text stacks are paired by relative depth (aligned_layers).",
        "modality_vs_language_gap: per layer, 1 - same-language speech/text similarity (modality "
        "gap) against 1 - mean within-modality cross-lingual similarity (language gap).",
    ]
    return KindOutput(
        series, len(ctx.probes.ids), matrices, details, notes, null_method=NULL_METHOD
    )


def _gap_comparison(by_group: dict[str, list[Estimate]], labels: list[str]) -> list[dict]:
    rows = []
    for i, label in enumerate(labels):
        within = [by_group[g][i].value for g in ("within_speech", "within_text") if g in by_group]
        language_gap = 1 - float(np.mean(within)) if within else None
        modality_gap = 1 - by_group["same_language"][i].value
        rows.append(
            {
                "layer": label,
                "modality_gap": modality_gap,
                "language_gap": language_gap,
                "modality_gap_exceeds_language_gap": None
                if language_gap is None
                else modality_gap > language_gap,
            }
        )
    return rows


register_kind(
    Kind(
        name="cross_modal_gap",
        description="SVCCA/CKA between speech and text of the same sentences, per layer",
        params=GapParams,
        estimate=estimate_cross_modal,
        default_group=default_group,
        needs="all",
        version="4",  # 4: a pair shares its covariates, length-matched null
        check_config=check_config,
        check_probes=check_probes,
        requests=requests,
        fit=fit,
    )
)

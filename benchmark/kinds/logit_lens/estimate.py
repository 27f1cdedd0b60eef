"""The lens's estimates for a task: per modality, language and lens, every measure at every layer
(benchmark.kinds.logit_lens.measures), and the mean over languages draw by draw."""

from __future__ import annotations

import time

import numpy as np
import torch

from benchmark.core import Group
from benchmark.errors import NotApplicable
from benchmark.evaluation import KindOutput, Series
from benchmark.kinds import TaskContext
from benchmark.kinds.logit_lens.lens import LENSES, describe_lens, head_stack, log_probs
from benchmark.kinds.logit_lens.measures import MEASURES, concept_swaps, layer_estimates
from benchmark.kinds.logit_lens.params import LogitLensParams, group_key, wanted_group
from benchmark.kinds.logit_lens.positions import POSITION_REASONS, hidden_before_words
from benchmark.kinds.logit_lens.words import Words, select_words
from benchmark.layers import LayerAxis
from benchmark.metrics.statistics import Estimate, mean_of

NULL_METHOD = (
    "english_share, english_log_odds, english_wins: the English and input-language labels "
    "swapped per concept (each concept with probability 1/2 in each draw; symmetric about the "
    "neutral value); p_input, p_english: words re-paired with other positions of the same "
    "language (the same permutations at every layer)"
)

# layer estimates of one language: lens -> per layer, measure -> Estimate
Layers = dict[str, list[dict[str, Estimate]]]


def estimate_logit_lens(ctx: TaskContext) -> KindOutput:
    params: LogitLensParams = ctx.params
    clock = time.perf_counter()
    adapter, stack, head = head_stack(ctx.model, params.stack)
    modalities = [m for m in ctx.modalities if m in adapter.stacks[stack]]
    wanted = wanted_group(ctx.config, params)
    if wanted["modality"] not in modalities:
        raise NotApplicable(
            f"the main score reads {wanted['modality']}; the {stack} stack takes "
            f"{', '.join(adapter.stacks[stack])}"
        )
    ref = params.reference_language
    languages = [lang for lang in ctx.probes.languages if lang != ref]
    words = {lang: select_words(ctx.probes, lang, ref, head.tokenizer) for lang in languages}
    series: list[Series] = []
    counts: dict[str, dict] = {}
    in_mean: dict[str, list[str]] = {}
    for modality in modalities:
        names = adapter.layer_names(modality, stack)
        # the embeddings read the current token, not a prediction: never the best layer
        axis = LayerAxis.of(names, stack=stack, selectable=[i > 0 for i in range(len(names))])
        by_language: dict[str, Layers] = {}
        for lang in languages:
            layers, counts[f"{modality}/{lang}"] = read_language(
                ctx, adapter, head, words[lang], lang, modality, stack, names
            )
            if layers is not None:
                by_language[lang] = layers
        in_mean[modality] = sorted(by_language)
        series += to_series(by_language, modality, axis)
    missing = {
        Group.of(**wanted).label: f"fewer than metric.min_words={params.min_words} usable words "
        f"in every language ({counts})"
    }
    details = {
        "stack": stack,
        "reference_language": ref,
        "languages": languages,
        "languages_in_mean": in_mean,
        "lenses": {LENSES[f]: describe_lens(head, f) for f in params.final_norm},
        "position": "the position before the word's token (its logits predict the word)",
        "tokens": "one token per side: the word as its sentence writes it and the English word "
        "of the same concept in the English sentence, each a single whole-word token, written "
        "alike (a leading space on both when the word follows a space)",
        "words": counts,
        "seconds": round(time.perf_counter() - clock, 2),
    }
    n = len(ctx.probes.ids)
    return KindOutput(series, n, [], details, notes(params), missing, NULL_METHOD)


def read_language(
    ctx: TaskContext, adapter, head, words: Words, lang, modality, stack, names
) -> tuple[Layers | None, dict]:
    """One language's layer estimates per lens (None: fewer than min_words usable words) and
    its word counts: labelled, used, and left out by reason."""
    params: LogitLensParams = ctx.params
    rows = hidden_before_words(
        adapter, ctx.probes, words, lang, modality, stack, names, params.batch_size
    )
    keep = [w for w, row in enumerate(rows) if not isinstance(row, str)]
    skipped = {**words.skipped, **dict.fromkeys(POSITION_REASONS, 0)}
    for row in rows:
        if isinstance(row, str):
            skipped[row] += 1
    count = {"labelled_words": words.total, "used": len(keep), "skipped": skipped}
    if len(keep) < params.min_words:
        return None, count
    count["concepts"] = len({words.label[w] for w in keep})
    hidden = torch.stack([rows[w] for w in keep], dim=1)  # [L, W, D]
    item = np.array([words.item[w] for w in keep])
    swaps = concept_swaps([words.label[w] for w in keep], ctx.draws)
    perms = ctx.draws.permutations(len(keep))
    weights = ctx.draws.weights(len(ctx.probes.ids))
    input_id = [words.input_id[w] for w in keep]
    english_id = [words.english_id[w] for w in keep]
    layers: Layers = {}
    for norm in params.final_norm:
        x, e = log_probs(head, hidden, input_id, english_id, norm)
        layers[LENSES[norm]] = [
            layer_estimates(x[li], e[li], item, swaps, perms, weights) for li in range(len(x))
        ]
    return layers, count


def to_series(by_language: dict[str, Layers], modality: str, axis: LayerAxis) -> list[Series]:
    """Every (lens, language, measure) curve of one modality, and each mean over languages."""
    out = []
    lenses = sorted({lens for layers in by_language.values() for lens in layers})
    for lens in lenses:
        curves = {lang: layers[lens] for lang, layers in by_language.items()}
        for name, measure in MEASURES.items():
            for lang, per_layer in curves.items():
                estimates = [e[name] for e in per_layer]
                out.append(
                    Series(group_key(modality, lens, lang), measure, axis, estimates, (modality,))
                )
            mean = [
                mean_of([per_layer[li][name] for per_layer in curves.values()])
                for li in range(len(axis))
            ]
            out.append(Series(group_key(modality, lens), measure, axis, mean, (modality,)))
    return out


def notes(params: LogitLensParams) -> list[str]:
    ref = params.reference_language
    return [
        f"english_share: the mean over words of p({ref} token) / (p({ref} token) + p(input "
        "token)), each word one token on each side: 0.5 = no lean (exactly 0.5 under a uniform "
        f"next-token distribution), above 0.5 = the layer leans to the {ref} word. A "
        "descriptive column: it does not rank models.",
        "english_log_odds: the mean of log p(English) - log p(input) (neutral 0); english_wins: "
        "the share of words where the English token is likelier (neutral 0.5).",
        "Null of the comparisons: the two labels swapped per concept (symmetric about the "
        "neutral value). Null of p_english and p_input: the words re-paired with other "
        "positions: only mass above it is about the concept.",
        "The embeddings layer reads the current token, not a prediction: it is drawn but never "
        "chosen as the best layer (nor counted in a mean over layers).",
        "Lenses: normed = the output head's final norm applied before W_U (the common logit "
        "lens); raw = h @ W_U directly (the semantic-hub code's variant).",
        f"Language {ref} itself is the reference and has no curve.",
    ]

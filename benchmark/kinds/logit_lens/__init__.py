"""Logit lens: in which language do a model's layers predict the next word?

For every labelled word of the probe sentences in language X (the `concepts` set labels words with
concepts across languages), take the position just before the word's first token and project each
layer's hidden state there onto the output vocabulary: softmax(final_norm(h_l) @ W_U^T) (lens
"normed", the common variant) or softmax(h_l @ W_U^T) (lens "raw", as in the semantic-hub code).
Compare the probability mass on the word itself (p_input: the first tokens of its written forms)
with the mass on the English word of the same concept in the same sentence's English translation
(p_english). The semantic hub finding: middle layers of English-dominant models put more mass on
the English word than on the input-language word; the last layer (normed) predicts the input
language.

Measures per layer: p_input, p_english (mean probabilities), english_share = sum p_english /
(sum p_english + sum p_input), english_wins = the share of words where p_english > p_input.
Null: the same statistic with the words re-paired with other positions of the same language and
modality (a random concept's words at each position: how much an unrelated word gets). Interval:
half-samples of the sentences. Forward passes are the kind's own (they read token positions, which
pooled caches do not hold) and are not cached; a word whose preceding position is not one the
adapter returns (the prompt or BOS before a sentence's first word) is left out.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from pydantic import Field, field_validator

from benchmark.config import StatsParams, TaskConfig
from benchmark.core import Group
from benchmark.errors import NotApplicable, UsageError
from benchmark.evaluation import KindOutput, Measure, Series
from benchmark.kinds import Kind, TaskContext, register_kind
from benchmark.kinds.logit_lens.lens import layer_estimates, lens_matrices
from benchmark.kinds.logit_lens.words import Words, hidden_before_words
from benchmark.layers import LayerAxis
from benchmark.metrics.statistics import Estimate, mean_of
from benchmark.probes import ProbeSet

NULL_METHOD = "words re-paired with other positions of the same language (same permutations)"
MEASURES = ("p_input", "p_english", "english_share", "english_wins")
LENSES = {True: "normed", False: "raw"}


class LogitLensParams(StatsParams):
    reference_language: str = "en_us"  # the "dominant" language the lens compares with
    # None: the first stack with an output head (a role, whatever the family calls it) that
    # takes the task's modality; or a stack name of one model (a user's own choice)
    stack: str | None = None
    final_norm: list[bool] = Field(default=[True, False], min_length=1)  # lenses to report
    min_words: int = Field(default=10, ge=1)  # usable words per language, else it is left out
    batch_size: int = Field(default=16, ge=1)

    @field_validator("final_norm")
    @classmethod
    def _distinct(cls, value):
        if len(set(value)) != len(value):
            raise ValueError(f"a lens is listed twice: {value}")
        return value


def group_key(modality: str, lens: str, language: str = "mean") -> Group:
    return Group.of(modality=modality, lens=lens, language=language)


def default_group(config: TaskConfig, params: LogitLensParams) -> dict[str, str]:
    return group_key(config.modalities[0], LENSES[params.final_norm[0]]).as_dict()


def _wanted(config: TaskConfig, params: LogitLensParams) -> dict[str, str]:
    return {**default_group(config, params), **config.main_score.group_fields()}


def check_config(config: TaskConfig, params: LogitLensParams) -> None:
    if config.main_score.measure not in MEASURES:
        raise UsageError(
            f"main_score.measure {config.main_score.measure!r} is not one of {list(MEASURES)}"
        )
    wanted = _wanted(config, params)
    if set(wanted) != {"modality", "lens", "language"}:
        raise UsageError(
            f"main_score.group {config.main_score.group}: fields are modality, lens and language"
        )
    if wanted["modality"] not in config.modalities:
        raise UsageError(
            f"main_score.group: modality {wanted['modality']!r} is not in modalities "
            f"{config.modalities}"
        )
    if wanted["lens"] not in [LENSES[f] for f in params.final_norm]:
        raise UsageError(
            f"main_score.group: lens {wanted['lens']!r} is not among metric.final_norm "
            f"{params.final_norm} ({', '.join(f'{f} = {LENSES[f]}' for f in LENSES)})"
        )


def check_probes(config: TaskConfig, params: LogitLensParams, probes: ProbeSet) -> None:
    ref = params.reference_language
    if ref not in probes.languages or len(probes.languages) < 2:
        raise UsageError(
            f"metric.reference_language {ref!r}: the probes need it and at least one other "
            f"language; they have {probes.languages}"
        )
    words = sum(len(ws) for ws in probes.words(ref))
    if words == 0:
        raise UsageError(
            f"task {config.name!r} needs concept-labelled words; probe set {probes.name!r} has "
            "none (the embedded `concepts` set has them)"
        )
    language = _wanted(config, params)["language"]
    if language != "mean" and (language not in probes.languages or language == ref):
        raise UsageError(
            f"main_score.group: language {language!r} must be mean or one of the probe languages "
            f"other than {ref}: {[lang for lang in probes.languages if lang != ref]}"
        )


def _head_stack(ctx: TaskContext, params: LogitLensParams):
    """(adapter, stack, head): the stack the lens reads, with its output head. Which stacks
    predict tokens is known from the plan (stack roles), before any weights load."""
    stacks = ctx.model.stacks
    wanted = [params.stack] if params.stack else [n for n, s in stacks.items() if s.head]
    wanted = [n for n in wanted if n in stacks and stacks[n].head]
    if not wanted:
        raise NotApplicable(
            f"no stack of this model predicts tokens (its stacks: {list(stacks)}"
            + (f", asked for {params.stack!r}" if params.stack else "")
            + "): no output vocabulary (unembedding) to project its layers onto"
        )
    adapter = ctx.model.load()
    for stack in wanted:
        head = adapter.output_head(stack)
        if head is not None:
            return adapter, stack, head
    raise NotApplicable(f"no output head (unembedding) on {wanted}: nothing to project onto")


def estimate_logit_lens(ctx: TaskContext) -> KindOutput:
    params: LogitLensParams = ctx.params
    probes = ctx.probes
    clock = time.perf_counter()
    adapter, stack, head = _head_stack(ctx, params)
    modalities = [m for m in ctx.modalities if m in adapter.stacks[stack]]
    wanted = _wanted(ctx.config, params)
    if wanted["modality"] not in modalities:
        raise NotApplicable(
            f"the main score reads {wanted['modality']}; the {stack} stack takes "
            f"{', '.join(adapter.stacks[stack])}"
        )
    ref = params.reference_language
    languages = [lang for lang in probes.languages if lang != ref]
    n = len(probes.ids)
    weights = ctx.draws.weights(n)
    words = {lang: Words(probes, lang, ref, head.tokenizer) for lang in languages}
    series: dict[tuple[Group, str], list[Estimate]] = {}  # (group, measure) -> per layer
    counts: dict = {}
    names: list[str] = []
    for modality in modalities:
        names = adapter.layer_names(modality, stack)
        per_lens: dict[str, dict[str, list]] = {}
        for lang in languages:
            rows = hidden_before_words(
                adapter, probes, words[lang], lang, modality, stack, names, params.batch_size
            )
            keep = [w for w, row in enumerate(rows) if row is not None]
            counts[f"{modality}/{lang}"] = {
                "labelled_words": words[lang].total,
                "used": len(keep),
                "skipped": {
                    **words[lang].skipped,
                    "no_token_starts_the_word": len(rows) - len(keep),
                },
            }
            if len(keep) < params.min_words:
                continue
            hidden = torch.stack([rows[w] for w in keep], dim=1)  # [L, W, D]
            item = np.array([words[lang].item[w] for w in keep])
            perms = ctx.draws.permutations(len(keep))
            for norm in params.final_norm:
                mx, me = lens_matrices(head, hidden, words[lang], keep, norm)
                lens = LENSES[norm]
                layers = [
                    layer_estimates(mx[li], me[li], item, perms, weights) for li in range(len(mx))
                ]
                per_lens.setdefault(lens, {})[lang] = layers
        for lens, by_lang in per_lens.items():
            for measure in MEASURES:
                for lang, layers in by_lang.items():
                    series[(group_key(modality, lens, lang), measure)] = [
                        e[measure] for e in layers
                    ]
                series[(group_key(modality, lens), measure)] = [
                    mean_of([layers[li][measure] for layers in by_lang.values()])
                    for li in range(len(names))
                ]
    missing = {
        Group.of(**wanted).label: f"fewer than metric.min_words={params.min_words} usable words "
        f"in every language ({counts})"
    }
    out = [
        Series(
            group,
            Measure(measure),
            LayerAxis.of(names, stack=stack),
            estimates,
            (group.as_dict()["modality"],),
        )
        for (group, measure), estimates in series.items()
    ]
    details = {
        "stack": stack,
        "reference_language": ref,
        "languages": languages,
        "lenses": {
            LENSES[f]: (
                f"softmax({type(head.final_norm).__name__}(h) @ W_U^T)"
                if f and head.final_norm is not None
                else "softmax(h @ W_U^T) (no final norm)"
            )
            for f in params.final_norm
        },
        "position": "the position before the word's first token (its logits predict the word)",
        "tokens": "first token of each written form (as written, lower-case, capitalised; with "
        "and without a leading space); the mass is summed over the distinct ids; words whose "
        "input-language and English sets share a token are left out",
        "words": counts,
        "seconds": round(time.perf_counter() - clock, 2),
    }
    return KindOutput(out, n, [], details, _notes(params), missing=missing, null_method=NULL_METHOD)


def _notes(params: LogitLensParams) -> list[str]:
    ref = params.reference_language
    return [
        f"english_share = sum p_english / (sum p_english + sum p_input): above 0.5, the layer "
        f"predicts the {ref} word of the concept more than the word of the input language.",
        "Lenses: normed = the output head's final norm applied before W_U (the common logit "
        "lens); raw = h @ W_U directly (the semantic-hub code's variant).",
        "Null: words re-paired with other positions of the same language: the mass an unrelated "
        "concept's words get. Read p_english against it: only mass above it is about the concept.",
        f"Language {ref} itself is the reference and has no curve.",
    ]


register_kind(
    Kind(
        name="logit_lens",
        description="per layer, next-word probability on the input language vs its English word",
        params=LogitLensParams,
        estimate=estimate_logit_lens,
        default_group=default_group,
        needs="any",
        check_config=check_config,
        check_probes=check_probes,
    )
)

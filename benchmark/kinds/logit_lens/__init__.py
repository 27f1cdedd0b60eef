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
from benchmark.errors import NotApplicable, UsageError
from benchmark.kinds import Kind, TaskContext, TaskOutput
from benchmark.kinds.logit_lens.lens import layer_estimates, lens_matrices
from benchmark.kinds.logit_lens.words import Words, hidden_before_words
from benchmark.kinds.reporting import curve, depths, inference_for, main_score
from benchmark.metrics.nulls import permutations
from benchmark.metrics.replicates import replicate_counts
from benchmark.metrics.statistics import Estimate, mean_of
from benchmark.probes import ProbeSet

NULL_METHOD = "words re-paired with other positions of the same language (same permutations)"
MEASURES = ("p_input", "p_english", "english_share", "english_wins")
LENSES = {True: "normed", False: "raw"}
# Families that have no output vocabulary at all (known from the plan, before any weights load).
# Other families are asked when loaded: `adapter.output_head(stack)` None -> not applicable.
NO_HEAD_FAMILIES = {
    "text-encoder": "a text encoder",
    "speech-encoder": "a speech encoder",
    "sonar": "SONAR's encoders",
}


class LogitLensParams(StatsParams):
    reference_language: str = "en_us"  # the "dominant" language the lens compares with
    # None: the first stack with an output head; or a name, or names (the first the model has)
    stack: str | list[str] | None = None
    final_norm: list[bool] = Field(default=[True, False], min_length=1)  # lenses to report
    min_words: int = Field(default=10, ge=1)  # usable words per language, else it is left out
    batch_size: int = Field(default=16, ge=1)

    @field_validator("final_norm")
    @classmethod
    def _distinct(cls, value):
        if len(set(value)) != len(value):
            raise ValueError(f"a lens is listed twice: {value}")
        return value


def _parse_group(group: str) -> tuple[str, str, str | None]:
    parts = group.split("/")
    if len(parts) not in (2, 3):
        raise UsageError(
            f"main_score.group {group!r}: expected MODALITY/LENS or MODALITY/LENS/LANGUAGE, "
            "e.g. text/normed"
        )
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def _main_group(config: TaskConfig, params: LogitLensParams) -> str:
    return config.main_score.group or f"{config.modalities[0]}/{LENSES[params.final_norm[0]]}"


def check_config(config: TaskConfig) -> None:
    params = LogitLensParams(**config.metric)
    if config.main_score.measure not in MEASURES:
        raise UsageError(
            f"main_score.measure {config.main_score.measure!r} is not one of {list(MEASURES)}"
        )
    modality, lens, _ = _parse_group(_main_group(config, params))
    if modality not in config.modalities:
        raise UsageError(f"main_score.group: {modality!r} is not in modalities {config.modalities}")
    if lens not in [LENSES[f] for f in params.final_norm]:
        raise UsageError(
            f"main_score.group: lens {lens!r} is not among metric.final_norm "
            f"{params.final_norm} ({', '.join(f'{f} = {LENSES[f]}' for f in LENSES)})"
        )
    if isinstance(params.stack, list) and not params.stack:
        raise UsageError("metric.stack: an empty list; give a stack name, a list of names, or null")


def check_probes(config: TaskConfig, probes: ProbeSet) -> None:
    params = LogitLensParams(**config.metric)
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
    _, _, language = _parse_group(_main_group(config, params))
    if language is not None and (language not in probes.languages or language == ref):
        raise UsageError(
            f"main_score.group: language {language!r} must be one of the probe languages other "
            f"than {ref}: {[lang for lang in probes.languages if lang != ref]}"
        )


def _head_stack(ctx: TaskContext, params: LogitLensParams):
    """(adapter, stack, head): the stack the lens reads, with its output head."""
    family = ctx.model.family
    if family in NO_HEAD_FAMILIES:
        raise NotApplicable(
            f"the model is {NO_HEAD_FAMILIES[family]} ({family}): no output vocabulary "
            "(unembedding) to project its layers onto"
        )
    wanted = [params.stack] if isinstance(params.stack, str) else params.stack
    if wanted is not None:
        wanted = [s for s in wanted if s in ctx.model.stacks]
        if not wanted:
            raise NotApplicable(
                f"no stack among {params.stack} in this model (its stacks: "
                f"{list(ctx.model.stacks)})"
            )
    adapter = ctx.model.load()
    for stack in wanted or list(adapter.stacks):
        head = adapter.output_head(stack)
        if head is not None:
            return adapter, stack, head
    raise NotApplicable(
        f"no output head (unembedding) on {'any of ' + str(wanted) if wanted else 'any stack'} "
        f"of this model ({ctx.model.family}): nothing to project onto"
    )


def score_logit_lens(ctx: TaskContext) -> TaskOutput:
    params: LogitLensParams = ctx.params
    probes = ctx.probes
    if ctx.model is None:
        raise NotApplicable("this kind runs its own forward passes and needs the model itself")
    clock = time.perf_counter()
    adapter, stack, head = _head_stack(ctx, params)
    modalities = [m for m in ctx.modalities if m in adapter.stacks[stack]]
    main_group = _main_group(ctx.config, params)
    if _parse_group(main_group)[0] not in modalities:
        raise NotApplicable(
            f"the main score reads {main_group}; the {stack} stack takes "
            f"{', '.join(adapter.stacks[stack])}"
        )
    ref = params.reference_language
    languages = [lang for lang in probes.languages if lang != ref]
    n = len(probes.ids)
    weights = (
        replicate_counts(params.ci_method, n, params.n_resamples, params.seed).numpy()
        if params.n_resamples
        else None
    )
    words = {lang: Words(probes, lang, ref, head.tokenizer) for lang in languages}
    series: dict[tuple[str, str], list[list[Estimate]]] = {}  # (group, measure) -> per layer
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
            perms = (
                permutations(len(keep), params.n_null, params.seed).numpy()
                if params.n_null
                else None
            )
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
                    series[(f"{modality}/{lens}/{lang}", measure)] = [e[measure] for e in layers]
                series[(f"{modality}/{lens}", measure)] = [
                    mean_of([layers[li][measure] for layers in by_lang.values()])
                    for li in range(len(names))
                ]
    if (main_group, ctx.config.main_score.measure) not in series:
        raise NotApplicable(
            f"{main_group}: fewer than metric.min_words={params.min_words} usable words in every "
            f"language ({counts})"
        )
    inference = inference_for(params, n)
    curves, main = [], None
    for (group, measure), estimates in series.items():
        modality = group.split("/")[0]
        curves.append(curve(measure, group, [modality], names, estimates, inference, stack=stack))
        if group == main_group and measure == ctx.config.main_score.measure:
            main = main_score(
                ctx.config.main_score,
                params,
                group,
                [modality],
                names,
                estimates,
                inference,
                null_method=NULL_METHOD,
                layer_depths=depths(names),
            )
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
    return TaskOutput(main, curves, [], details, _notes(params))


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


KINDS = {
    "logit_lens": Kind(
        name="logit_lens",
        score=score_logit_lens,
        params=LogitLensParams,
        description="per layer, next-word probability on the input language vs its English word",
        needs="any",
        check_config=check_config,
        check_probes=check_probes,
    )
}

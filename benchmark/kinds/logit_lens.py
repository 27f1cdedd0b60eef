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
half-samples of the sentences. Forward passes are the kind's own (hooks read every position, the
prompt's too) and are not cached.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from pydantic import Field, field_validator

from benchmark.config import StatsParams, TaskConfig
from benchmark.errors import NotApplicable, UsageError
from benchmark.kinds import Kind, TaskContext, TaskOutput
from benchmark.kinds.reporting import curve, depths, inference_for, main_score
from benchmark.metrics.nulls import permutations
from benchmark.metrics.replicates import replicate_counts
from benchmark.metrics.statistics import Estimate, mean_of
from benchmark.models.base import BatchInputs
from benchmark.models.hooks import capture
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


# --- words and their tokens -----------------------------------------------------------------------


def word_span(text: str, word: dict) -> tuple[int, int] | None:
    """The word's [start, end) characters in the text: the probe set's own offsets when it has
    them, else its first whole-word occurrence (else its first occurrence)."""
    if word.get("char_start") is not None and word.get("char_end") is not None:
        return int(word["char_start"]), int(word["char_end"])
    surface = str(word.get("word") or "")
    if not surface:
        return None
    start, found = 0, None
    while (at := text.find(surface, start)) >= 0:
        end = at + len(surface)
        whole = (at == 0 or not text[at - 1].isalnum()) and (
            end == len(text) or not text[end].isalnum()
        )
        if whole:
            return at, end
        found = found if found is not None else at
        start = at + 1
    return (found, found + len(surface)) if found is not None else None


def first_tokens(tokenizer, word: str) -> set[int]:
    """The first token of each written form of `word`: as written, lower-case, capitalised, each
    with and without a leading space (a lone whitespace token, e.g. SentencePiece's, is skipped)."""
    forms = {word, word.lower(), word[:1].upper() + word[1:]}
    out = set()
    for form in forms:
        for string in (form, " " + form):
            ids = tokenizer(string, add_special_tokens=False)["input_ids"]
            while ids and not tokenizer.decode([ids[0]]).strip():
                ids = ids[1:]
            if ids:
                out.add(int(ids[0]))
    return out


class _Words:
    """The usable words of one language: per word its item, its character span, and the token ids
    of its input-language and English forms (disjoint sets)."""

    def __init__(self, probes: ProbeSet, language: str, reference: str, tokenizer):
        texts = probes.texts(language)
        english = [{w.get("label"): w.get("word") for w in ws} for ws in probes.words(reference)]
        self.item, self.span, self.input_ids, self.english_ids = [], [], [], []
        self.skipped = {"no_english_word": 0, "not_in_text": 0, "shared_first_token": 0}
        self.total = 0
        for i, ws in enumerate(probes.words(language)):
            for w in ws:
                self.total += 1
                en = english[i].get(w.get("label"))
                if not en:
                    self.skipped["no_english_word"] += 1
                    continue
                span = word_span(texts[i], w)
                if span is None:
                    self.skipped["not_in_text"] += 1
                    continue
                x_ids, e_ids = first_tokens(tokenizer, str(w["word"])), first_tokens(tokenizer, en)
                if not x_ids or not e_ids or x_ids & e_ids:
                    self.skipped["shared_first_token"] += 1
                    continue
                self.item.append(i)
                self.span.append(span)
                self.input_ids.append(sorted(x_ids))
                self.english_ids.append(sorted(e_ids))


def _predicting_positions(
    states, b: int, text: str, spans: list[tuple[int, int]]
) -> list[int | None]:
    """For each word span of batch item b: the position before its first token. None when that
    token does not start the word (it also holds characters before it other than whitespace:
    byte-level BPE writes " Hund", which is fine; "的狗" is not), or is the sequence's first."""
    char = states.char_spans[b].cpu()
    mask = states.mask[b].cpu() & (char[:, 0] >= 0)
    out = []
    for start, end in spans:
        hit = (mask & (char[:, 0] < end) & (char[:, 1] > start)).nonzero().flatten()
        first = int(hit[0]) if len(hit) else 0
        ok = first > 0 and not text[int(char[first, 0]) : start].strip()
        out.append(first - 1 if ok else None)
    return out


def _hidden_before_words(adapter, probes, words: _Words, language, modality, stack, names, batch):
    """[L, W, D] hidden states at each word's predicting position (None rows: unusable)."""
    texts = probes.texts(language)
    audio = probes.audio(language) if modality == "speech" else None
    points = {name: adapter.layer_module(modality, name, stack) for name in names}
    by_item: dict[int, list[int]] = {}
    for w, i in enumerate(words.item):
        by_item.setdefault(i, []).append(w)
    items = sorted(by_item)
    rows: list = [None] * len(words.item)
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        inputs = BatchInputs(
            modality=modality,
            language=language,
            texts=[texts[i] for i in chunk],
            audio=[audio[i] for i in chunk] if audio is not None else None,
            stack=stack,
        )
        with capture(points) as got:  # every position, the prompt's too (the adapter masks them)
            states = adapter.forward(inputs)
        first = states[names[0]]
        if first.char_spans is None:
            raise NotApplicable(f"{stack} ({modality}) gives no character spans for its positions")
        for b, i in enumerate(chunk):
            spans = [words.span[w] for w in by_item[i]]
            found = _predicting_positions(first, b, texts[i], spans)
            for w, q in zip(by_item[i], found, strict=True):
                if q is not None:
                    rows[w] = torch.stack([got[name][b, q] for name in names])
    return rows


def _lens_matrices(head, hidden: torch.Tensor, words: _Words, keep: list[int], norm: bool):
    """Per layer, M_x[i, j] and M_e[i, j]: the probability at word i's position of word j's
    input-language and English first tokens ([L, W, W] each, float64)."""
    x_ids = [words.input_ids[w] for w in keep]
    e_ids = [words.english_ids[w] for w in keep]
    union = sorted({t for ids in x_ids + e_ids for t in ids})
    col = {t: c for c, t in enumerate(union)}
    ind_x = np.zeros((len(union), len(keep)))
    ind_e = np.zeros((len(union), len(keep)))
    for j, (xs, es) in enumerate(zip(x_ids, e_ids, strict=True)):
        ind_x[[col[t] for t in xs], j] = 1.0
        ind_e[[col[t] for t in es], j] = 1.0
    index = torch.tensor(union, device=head.unembedding.device)
    gathered = []
    with torch.no_grad():
        for layer in hidden:  # [W, D]
            probs = head.logits(layer, apply_final_norm=norm).float().softmax(-1)
            gathered.append(probs.index_select(-1, index).double().cpu().numpy())
    g = np.stack(gathered)  # [L, W, U]
    return g @ ind_x, g @ ind_e


def _estimates(mx, me, item, perms, weights) -> dict[str, Estimate]:
    """The four measures at one layer from M_x, M_e [W, W] (diagonal: the word's own tokens)."""
    rows = np.arange(len(mx))
    dx, de = np.diag(mx), np.diag(me)
    px = mx[rows[None, :], perms] if perms is not None else None  # [P, W]
    pe = me[rows[None, :], perms] if perms is not None else None
    w = weights[:, item] if weights is not None else None  # [R, W]

    def share(e, x):
        total = e + x
        return np.where(total > 0, e / np.where(total > 0, total, 1), np.nan)

    def est(value, null, reps):
        return Estimate(float(value), null, reps)

    def wmean(v):
        return None if w is None else (w @ v) / w.sum(1)

    wins = (de > dx).astype(float)
    return {
        "p_input": est(dx.mean(), None if px is None else px.mean(1), wmean(dx)),
        "p_english": est(de.mean(), None if pe is None else pe.mean(1), wmean(de)),
        "english_share": est(
            share(de.sum(), dx.sum()),
            None if px is None else share(pe.sum(1), px.sum(1)),
            None if w is None else share(w @ de, w @ dx),
        ),
        "english_wins": est(wins.mean(), None if px is None else (pe > px).mean(1), wmean(wins)),
    }


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
    words = {lang: _Words(probes, lang, ref, head.tokenizer) for lang in languages}
    series: dict[tuple[str, str], list[list[Estimate]]] = {}  # (group, measure) -> per layer
    counts: dict = {}
    names: list[str] = []
    for modality in modalities:
        names = adapter.layer_names(modality, stack)
        per_lens: dict[str, dict[str, list]] = {}
        for lang in languages:
            rows = _hidden_before_words(
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
                mx, me = _lens_matrices(head, hidden, words[lang], keep, norm)
                lens = LENSES[norm]
                layers = [_estimates(mx[li], me[li], item, perms, weights) for li in range(len(mx))]
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

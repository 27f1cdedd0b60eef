"""Where the lens reads: the hidden states, at every layer, at the position whose logits predict
each usable word (the kind's own forward passes: pooled caches do not hold token positions)."""

from __future__ import annotations

import torch

from benchmark.errors import NotApplicable
from benchmark.kinds.logit_lens.words import Words
from benchmark.models.base import BatchInputs
from benchmark.probes import ProbeSet

# why a usable word has no predicting position (counted with the words' own reasons)
POSITION_REASONS = ("split_in_context", "no_position_before")


def predicting_positions(
    states, b: int, text: str, spans: list[tuple[int, int]]
) -> list[int | str]:
    """For each word span of batch item b: the position before the word's token, or why there
    is none. "split_in_context": in the sentence the word is not exactly one token (the token
    that starts it also holds characters before it other than whitespace, "的狗", or it ends
    elsewhere: the sentence splits what the word alone writes as one token; byte-level BPE's
    " Hund" is fine). "no_position_before": the position before it is not one the adapter
    returns (a prompt or BOS before a sentence's first word)."""
    char = states.char_spans[b].cpu()
    real = states.mask[b].cpu()
    text_positions = real & (char[:, 0] >= 0)
    out: list[int | str] = []
    for start, end in spans:
        hit = (text_positions & (char[:, 0] < end) & (char[:, 1] > start)).nonzero().flatten()
        if not len(hit):
            out.append("split_in_context")
            continue
        first = int(hit[0])
        whole = int(char[first, 1]) == end and not text[int(char[first, 0]) : start].strip()
        if not whole:
            out.append("split_in_context")
        elif first == 0 or not bool(real[first - 1]):
            out.append("no_position_before")
        else:
            out.append(first - 1)
    return out


def _batch(language, modality, stack, chunk, texts, audio) -> BatchInputs:
    return BatchInputs(
        modality=modality,
        language=language,
        texts=[texts[i] for i in chunk],
        audio=[audio[i] for i in chunk] if audio is not None else None,
        stack=stack,
    )


def hidden_before_words(
    adapter, probes: ProbeSet, words: Words, language, modality, stack, names, batch
) -> list[torch.Tensor | str]:
    """Per word, its [L, D] hidden states at its predicting position, or why it has none. Read
    from what the adapter returns for the batch, so the result does not depend on how an adapter
    splits a batch internally (Whisper runs a pass per audio window)."""
    texts = probes.texts(language)
    audio = probes.audio(language) if modality == "speech" else None
    by_item: dict[int, list[int]] = {}
    for w, i in enumerate(words.item):
        by_item.setdefault(i, []).append(w)
    items = sorted(by_item)
    rows: list = ["no_position_before"] * len(words)
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        states = adapter.forward(_batch(language, modality, stack, chunk, texts, audio))
        first = states[names[0]]
        if first.char_spans is None:
            raise NotApplicable(f"{stack} ({modality}) gives no character spans for its positions")
        for b, i in enumerate(chunk):
            found = predicting_positions(first, b, texts[i], [words.span[w] for w in by_item[i]])
            for w, q in zip(by_item[i], found, strict=True):
                if isinstance(q, str):
                    rows[w] = q
                elif all(bool(states[n].mask[b, q]) for n in names):
                    rows[w] = torch.stack([states[n].hidden[b, q] for n in names])
    return rows

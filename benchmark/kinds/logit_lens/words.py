"""The logit lens's words: where each labelled word is in its sentence, the first tokens of its
written forms, and the hidden states at the position that predicts it (the kind's own forward
passes, not cached)."""

from __future__ import annotations

import torch

from benchmark.errors import NotApplicable
from benchmark.models.base import BatchInputs
from benchmark.probes import ProbeSet


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


class Words:
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


def predicting_positions(
    states, b: int, text: str, spans: list[tuple[int, int]]
) -> list[int | None]:
    """For each word span of batch item b: the position before its first token. None when that
    token does not start the word (it also holds characters before it other than whitespace:
    byte-level BPE writes " Hund", which is fine; "的狗" is not), or when the position before it
    is not one the adapter returns (a prompt or BOS token before a sentence's first word)."""
    char = states.char_spans[b].cpu()
    real = states.mask[b].cpu()
    text_positions = real & (char[:, 0] >= 0)
    out = []
    for start, end in spans:
        hit = (text_positions & (char[:, 0] < end) & (char[:, 1] > start)).nonzero().flatten()
        first = int(hit[0]) if len(hit) else 0
        ok = first > 0 and bool(real[first - 1]) and not text[int(char[first, 0]) : start].strip()
        out.append(first - 1 if ok else None)
    return out


def hidden_before_words(adapter, probes, words: Words, language, modality, stack, names, batch):
    """[L, D] hidden states at each word's predicting position, per word (None: unusable). Read
    from what the adapter returns for the batch, so the result does not depend on how an adapter
    splits a batch internally (Whisper runs a pass per audio window)."""
    texts = probes.texts(language)
    audio = probes.audio(language) if modality == "speech" else None
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
        states = adapter.forward(inputs)
        first = states[names[0]]
        if first.char_spans is None:
            raise NotApplicable(f"{stack} ({modality}) gives no character spans for its positions")
        for b, i in enumerate(chunk):
            spans = [words.span[w] for w in by_item[i]]
            found = predicting_positions(first, b, texts[i], spans)
            for w, q in zip(by_item[i], found, strict=True):
                if q is not None and all(bool(states[n].mask[b, q]) for n in names):
                    rows[w] = torch.stack([states[n].hidden[b, q] for n in names])
    return rows

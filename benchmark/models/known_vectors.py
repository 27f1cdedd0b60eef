"""The known-answer models of the representation tasks (gaps, retrieval, concepts): four
references that differ only in what a position's vector is made of (benchmark.models.known has
what they share).

- `known:interlingua` (the ceiling): meaning and nothing else. Each sentence id has one fixed
  vector, the same in every language and modality: its topic (the mean of the semantic-field
  vectors of its labelled concepts — the field is the label's prefix, ANIMAL in ANIMAL.dog; the
  labels are the same in every translation) plus a random part of its own. Each labelled word
  carries its concept's vector (its field's vector plus a random part of the concept's own).
  Text: the labelled words' positions carry their concepts, every other position the sentence;
  speech: the frames a labelled word's time span covers carry its concept, every other frame the
  sentence. Plus a little independent noise per position. Gaps, retrieval and concept alignment
  must come out near their maximum.
- `known:language` (the cross-lingual floor): one vector per language, plus independent noise per
  item and per position. Nothing about the sentence: every cross-lingual and cross-modal score
  must sit at its null.
- `known:word_form` (the lexical floor; text only): one fixed random vector per written word form
  (NFKC, lower-cased; the same string in any language is the same vector), per position. What
  shared spellings, names, numbers and punctuation alone give: expected above the null of the
  text gap and retrieval tasks (the floor a model must clear), at the null of the concept tasks.
- `known:signal` (length and signal only): text positions carry the text's length in characters
  and words and the position's relative place; speech frames carry the frame's log energy, a
  pause indicator, its relative place and the clip's duration; through a fixed random projection
  and a tanh (as a network could encode them), plus a little noise. Must sit at the null of every
  score: what it carries is what synthetic prosody and length give.
"""

from __future__ import annotations

import numpy as np

from benchmark.core import SAMPLE_RATE
from benchmark.models.known import (
    Built,
    Item,
    KnownAdapter,
    family_of,
    frame_log_energy,
    labelled_tokens,
    n_frames,
    rng_of,
    text_tokens,
    unit,
    word_form,
    word_frames,
)

NOISE = 0.25  # the interlingua model's per-position noise (vectors have norm about 1)


def field_of(label: str) -> str:
    """A concept label's semantic field: ANIMAL for ANIMAL.dog (the label itself if it has none)."""
    return str(label).split(".", 1)[0]


class Interlingua(KnownAdapter):
    name = "interlingua"
    reference = "ceiling"

    def concept(self, label: str) -> np.ndarray:
        return unit(0.6 * self.draw("field", field_of(label)) + 0.8 * self.draw("concept", label))

    def sentence(self, item: Item) -> np.ndarray:
        own = self.draw("sentence", self.need_ids(item))
        fields = [self.draw("field", field_of(w["label"])) for w in item.words if w.get("label")]
        topic = unit(np.mean(fields, axis=0)) if fields else np.zeros(self.dim)
        return unit(0.6 * own + 0.8 * topic)

    def build(self, item: Item) -> Built:
        sentence = self.sentence(item)
        if item.modality == "text":
            tokens = labelled_tokens(item.text, item.words)
            rows = [
                self.concept(w["label"]) if w is not None and w.get("label") else sentence
                for _, w in tokens
            ]
            noise = self.noise(len(rows), NOISE, item.language, "text", item.id)
            return Built(np.stack(rows) + noise, [span for span, _ in tokens])
        frames = n_frames(len(item.audio))
        states = np.repeat(sentence[None, :], frames, axis=0)
        for w in item.words:
            if w.get("label") and w.get("start_s") is not None:
                states[list(word_frames(w, frames))] = self.concept(w["label"])
        return Built(states + self.noise(frames, NOISE, item.language, "speech", item.id))

    def describe(self) -> dict:
        return {
            **super().describe(),
            "sentence": "0.6 * own random vector + 0.8 * mean field vector of its concepts (unit)",
            "concept": "0.6 * field vector + 0.8 * own random vector (unit)",
            "noise": f"N(0, {NOISE}^2/dim) per position",
        }


class Language(KnownAdapter):
    name = "language"
    reference = "floor:language"

    def build(self, item: Item) -> Built:
        if item.modality == "text":
            spans = text_tokens(item.text)
            rows = len(spans)
        else:
            spans, rows = None, n_frames(len(item.audio))
        key = (item.language, item.modality, self.need_ids(item))
        base = self.draw("language", item.language) + self.noise(1, 0.5, "item", *key)
        return Built(base + self.noise(rows, 1.0, "position", *key), spans)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "position": "language vector + N(0, 0.5^2/dim) per item + N(0, 1/dim) per position",
        }


class WordForm(KnownAdapter):
    name = "word_form"
    reference = "floor:word_form"
    takes = ("text",)
    dim = 256  # many forms: little accidental similarity between two of them

    def build(self, item: Item) -> Built:
        spans = text_tokens(item.text)
        if not spans:
            raise ValueError(f"{self.model_id}: an empty text ({item.language} id {item.id})")
        rows = [self.draw("form", word_form(item.text, span)) for span in spans]
        return Built(np.stack(rows), spans)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "position": "a fixed random vector per written form (NFKC, lower-cased)",
        }


class Signal(KnownAdapter):
    name = "signal"
    reference = "floor:signal"

    def project(self, features: np.ndarray, modality: str) -> np.ndarray:
        """tanh of a fixed random projection of the features (one per modality)."""
        rng = rng_of(self.name, self.seed, "projection", modality)
        return np.tanh(features @ rng.standard_normal((features.shape[1], self.dim)))

    def build(self, item: Item) -> Built:
        key = (item.language, item.modality, item.id if item.id is not None else item.text)
        if item.modality == "text":
            spans = text_tokens(item.text)
            count = max(len(spans), 1)
            words = sum(1 for a, b in spans if item.text[a:b][0].isalnum())
            rel = (np.arange(count) + 0.5) / count
            chars = np.log1p(len(item.text)) / 5
            features = np.column_stack(
                [
                    np.ones(count),
                    np.full(count, chars),
                    np.full(count, np.log1p(words) / 3),
                    rel,
                    rel**2,
                    rel * chars,
                ]
            )
        else:
            spans = None
            count = n_frames(len(item.audio))
            energy = frame_log_energy(item.audio, count)
            level = (energy - energy.max()) / 10
            pause = (energy < energy.max() - 6).astype(float)
            rel = (np.arange(count) + 0.5) / count
            duration = len(item.audio) / SAMPLE_RATE
            features = np.column_stack(
                [
                    np.ones(count),
                    level,
                    pause,
                    rel,
                    rel**2,
                    np.full(count, duration / 5),
                    np.gradient(level) if count > 1 else np.zeros(1),
                ]
            )
        states = self.project(features, item.modality) + self.noise(count, 0.1, *key)
        return Built(states, spans)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "text": "tanh(random projection of [1, log chars, log words, place, place^2, "
            "place * log chars]) + N(0, 0.1^2/dim) per position",
            "speech": "per 20 ms frame: tanh(random projection of [1, log energy, pause, place, "
            "place^2, duration, energy slope]) + N(0, 0.1^2/dim) per frame",
        }


FAMILIES = [
    family_of(Interlingua, "sentence and concept vectors the same in every language and modality"),
    family_of(Language, "one vector per language plus noise"),
    family_of(WordForm, "one random vector per written word form (text)"),
    family_of(Signal, "text length and place; speech energy, pauses, place and duration"),
]

"""Word-level representations: one vector per labelled word in context, per layer.

Text: an adapter's text layers carry each position's character span in the item's text
(`LayerStates.char_spans`, (-1, -1) for prompts, prefixes and special tokens). A word is the set of
positions whose span overlaps the word's [char_start, char_end) in the probe set; its subword
vectors are aggregated by `aggregation` (last — the LCA toolkits' default — first, or mean).
Speech: a speech layer's positions are `frame_seconds` apart; a word is the frames that overlap its
[start_s, end_s) time span in the probe set (at least one frame), averaged. Seamless's adaptor is
8x coarser than its encoder layers: each layer uses its own frame rate.

The vectors of one (language, modality) are stored flat: `array[l, w]` is word w at layer l,
`item_index[w]` the position in `ids` of the sentence it came from and `word_index[w]` its place
among that sentence's labelled words. A word no token covers (cut off by the model's maximum
length) has no vector: it is left out, and `word_index` says which words remain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from benchmark.core import Modality
from benchmark.models.base import LayerStates, ModelAdapter
from benchmark.representations.extract import run_batches

AGGREGATIONS = ("last", "first", "mean")


@dataclass
class WordRepresentations:
    layers: list[str]
    ids: list[int]
    item_index: np.ndarray  # [W] position in `ids` of each word's sentence
    array: np.ndarray  # [n_layers, n_words, dim], float32
    word_index: np.ndarray | None = None  # [W] place among its sentence's labelled words

    def __post_init__(self):
        if self.word_index is None:  # every word present: its rank within its item
            starts = np.searchsorted(self.item_index, self.item_index, side="left")
            self.word_index = np.arange(len(self.item_index)) - starts

    def layer(self, name: str) -> np.ndarray:
        return self.array[self.layers.index(name)]


def _text_word(states: LayerStates, b: int, span: tuple[int, int], aggregation: str, what: str):
    if states.char_spans is None:
        raise ValueError(f"{what}: the adapter gives no character spans for its text layers")
    spans = states.char_spans[b].to(states.hidden.device)
    valid = states.mask[b].to(spans.device) & (spans[:, 0] >= 0)
    start, end = span
    hit = (valid & (spans[:, 0] < end) & (spans[:, 1] > start)).nonzero().flatten()
    if len(hit) == 0:  # e.g. cut off by the model's maximum length: the word has no vector
        return None
    rows = states.hidden[b, hit].float()
    if aggregation == "last":
        return rows[-1]
    if aggregation == "first":
        return rows[0]
    return rows.mean(0)


def _speech_word(states: LayerStates, b: int, span: tuple[float, float], what: str):
    if states.frame_seconds is None:
        raise ValueError(f"{what}: the adapter gives no frame rate for its speech layers")
    n_real = int(states.mask[b].sum())
    step = states.frame_seconds
    first = min(int(span[0] // step), n_real - 1)
    last = max(first + 1, min(int(np.ceil(span[1] / step)), n_real))  # at least one frame
    return states.hidden[b, first:last].float().mean(0)


class WordCollector:
    """Takes every labelled word's vectors from the batches of a pass (`run_batches`), under each
    of `aggregations` (text: how a word's subword tokens become one vector; speech words are
    always the mean of their frames): one forward pass serves pooled and word-level requests."""

    def __init__(self, modality: Modality, language: str, names, words, ids, aggregations=None):
        self.modality, self.language, self.names = modality, language, list(names)
        self.words, self.ids = words, list(ids)
        self.counts = [len(w) for w in words]
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        if modality == "speech":
            self.aggregations: tuple[str, ...] = ("mean",)
        else:
            self.aggregations = tuple(aggregations or AGGREGATIONS)
            unknown = [a for a in self.aggregations if a not in AGGREGATIONS]
            if unknown:
                raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {unknown}")
        self.arrays: dict[str, np.ndarray] = {}
        self.missing: set[int] = set()  # flat rows of words no token covers
        self.seen = np.zeros(len(words), dtype=bool)  # items this pass (or shard) went over

    def __call__(self, states: dict[str, LayerStates], idx) -> None:
        self.seen[np.asarray(idx, dtype=int)] = True
        for li, name in enumerate(self.names):
            for b, item in enumerate(idx):
                for wi, word in enumerate(self.words[item]):
                    what = (
                        f"{self.language} {self.modality} item id {self.ids[item]} "
                        f"word {word.get('word')!r}"
                    )
                    for aggregation in self.aggregations:
                        # text positions (text, or speech read as its transcript by a decoder
                        # stack) by characters; audio frames by time
                        if states[name].char_spans is not None:
                            span = (int(word["char_start"]), int(word["char_end"]))
                            vec = _text_word(states[name], b, span, aggregation, what)
                        else:
                            span = (float(word["start_s"]), float(word["end_s"]))
                            vec = _speech_word(states[name], b, span, what)
                        if vec is None:
                            self.missing.add(int(self.offsets[item] + wi))
                            continue
                        self._store(aggregation, li, self.offsets[item] + wi, vec)

    def _store(self, aggregation: str, layer: int, row: int, vec: torch.Tensor) -> None:
        if aggregation not in self.arrays:
            shape = (len(self.names), int(self.offsets[-1]), vec.shape[-1])
            self.arrays[aggregation] = np.empty(shape, np.float32)
        self.arrays[aggregation][layer, row] = vec.detach().to("cpu", torch.float32).numpy()

    def result(self, aggregation: str = "last") -> WordRepresentations:
        key = aggregation if self.modality == "text" else "mean"
        if key not in self.arrays:
            why = "no token covers any labelled word" if self.missing else "no labelled words"
            raise ValueError(f"{self.language} {self.modality}: {why}")
        item_index = np.repeat(np.arange(len(self.words)), self.counts)
        word_index = np.concatenate([[0], *[np.arange(c) for c in self.counts]])[1:]
        word_index = word_index.astype(np.int64)
        keep = np.array([w not in self.missing for w in range(len(item_index))], dtype=bool)
        keep &= self.seen[item_index]  # a shard keeps its own items' words
        if not keep.any():
            raise ValueError(f"{self.language} {self.modality}: no token covers any labelled word")
        return WordRepresentations(
            self.names, self.ids, item_index[keep], self.arrays[key][:, keep], word_index[keep]
        )


def extract_words(
    adapter: ModelAdapter,
    modality: Modality,
    language: str,
    inputs: Sequence,
    lengths: Sequence[float],
    words: Sequence[Sequence[dict]],
    *,
    aggregation: str = "last",
    batch_size: int = 16,
    ids: Sequence[int] | None = None,
    texts: Sequence[str] | None = None,
    stack: str | None = None,
    progress: bool | None = None,
) -> WordRepresentations:
    """Per-layer vectors of every word in `words` (per item: dicts with char_start/char_end for
    text, start_s/end_s for speech), items batched longest first (one pass, see `run_batches`)."""
    ids = list(ids) if ids is not None else list(range(len(inputs)))
    names = adapter.layer_names(modality, stack)
    collector = WordCollector(modality, language, names, words, ids, [aggregation])
    run_batches(
        adapter,
        modality,
        language,
        inputs,
        lengths,
        [collector],
        batch_size=batch_size,
        ids=ids,
        texts=texts if modality == "speech" else None,
        words=words,
        stack=stack,
        progress=progress,
    )
    return collector.result(aggregation)

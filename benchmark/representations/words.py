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
from benchmark.representations.extract import extract

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
    """Takes every labelled word's vectors from the batches of a pooled extraction
    (`extract(..., on_states=collector)`): one forward pass serves pooled and word-level vectors.
    Text words are kept under every aggregation at once; speech words as the mean of their frames."""

    def __init__(self, modality: Modality, language: str, names, words, ids, strict: bool = True):
        self.modality, self.language, self.names = modality, language, list(names)
        # not strict: a word that cannot be taken (an adapter without spans) stops the collection
        # quietly and leaves the pooled pass alone; `failed` says why
        self.strict, self.failed = strict, None
        self.words, self.ids = words, list(ids)
        self.counts = [len(w) for w in words]
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self.aggregations = AGGREGATIONS if modality == "text" else ("mean",)
        self.arrays: dict[str, np.ndarray] = {}
        self.missing: set[int] = set()  # flat rows of words no token covers

    def __call__(self, states: dict[str, LayerStates], idx) -> None:
        if self.failed:
            return
        try:
            self._collect(states, idx)
        except ValueError as err:
            if self.strict:
                raise
            self.failed = str(err)

    def _collect(self, states: dict[str, LayerStates], idx) -> None:
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
        word_index = np.concatenate([np.arange(c) for c in self.counts]).astype(np.int64)
        keep = np.array([w not in self.missing for w in range(len(item_index))], dtype=bool)
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
    text, start_s/end_s for speech), items batched longest first like `extract`."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")
    ids = list(ids) if ids is not None else list(range(len(inputs)))
    collector = WordCollector(modality, language, adapter.layer_names(modality, stack), words, ids)
    extract(
        adapter,
        modality,
        language,
        inputs,
        lengths,
        batch_size=batch_size,
        ids=ids,
        progress=progress,
        texts=texts if modality == "speech" else None,
        stack=stack,
        on_states=collector,
        words=words,
    )
    return collector.result(aggregation)

"""Steered passes of one side (language, modality) through one stack, behind the interface of
`benchmark.representations.steering.SteeredPasses` (branch `speed`): `unsteered(layers, items)`
-> [L, n, D] and `steered(layer, vectors [K, D], read, items)` -> [K, len(read), n, D].

STOP-GAP until that module is on main: here every vector is a full forward pass with the
`steering` hook (benchmark.kinds.passes), the cost the speed work removes (only the layers above
the hook, the K vectors batched). The kind is written against the interface, so switching is
this file's deletion and one import. Nothing here goes through the representation cache.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from benchmark.kinds.passes import steering
from benchmark.models.base import ModelAdapter
from benchmark.probes import ProbeSet
from benchmark.representations.extract import extract


class SteeredPasses:
    """Pooled passes of one adapter over one (language, modality, stack)'s inputs, unsteered or
    with a vector added to one layer's output at every position."""

    def __init__(
        self,
        adapter: ModelAdapter,
        *,
        modality: str,
        language: str,
        stack: str | None,
        inputs: Sequence,
        lengths: Sequence[float],
        ids: Sequence[int],
        words: Sequence[Sequence[dict]] | None,
        texts: Sequence[str] | None = None,
        pooling: str = "mean",
        batch_size=16,
    ):
        self.adapter, self.modality, self.language, self.stack = adapter, modality, language, stack
        self.inputs, self.lengths = list(inputs), np.asarray(lengths, dtype=float)
        self.ids, self.texts = list(ids), list(texts) if texts is not None else None
        self.words = list(words) if words is not None else None
        self.pooling, self.batch_size = pooling, batch_size
        self.item_passes = 0  # items run through the model (one per item and vector)

    def _pass(self, items: Sequence[int] | None, layers: list[str]) -> np.ndarray:
        items = list(range(len(self.inputs))) if items is None else [int(i) for i in items]
        reps = extract(
            self.adapter,
            self.modality,
            self.language,
            [self.inputs[i] for i in items],
            self.lengths[items],
            pooling=self.pooling,
            batch_size=self.batch_size,
            layers=list(layers),
            ids=[self.ids[i] for i in items],
            progress=False,
            texts=[self.texts[i] for i in items] if self.texts is not None else None,
            stack=self.stack,
            words=[self.words[i] for i in items] if self.words is not None else None,
        )
        self.item_passes += len(items)
        return reps.array

    def unsteered(self, layers: list[str], items: Sequence[int] | None = None) -> np.ndarray:
        return self._pass(items, layers)

    def steered(
        self, layer: str, vectors: np.ndarray, read: list[str], items: Sequence[int] | None = None
    ) -> np.ndarray:
        module = self.adapter.layer_module(self.modality, layer, self.stack)
        out = []
        for vector in np.asarray(vectors, dtype=np.float32):
            with steering(module, vector):
                out.append(self._pass(items, read))
        return np.stack(out)

    def release(self) -> None:
        """Nothing is kept here (the real SteeredPasses drops its recordings)."""


def side_passes(adapter, probes: ProbeSet, side, items, stack: str, pooling: str, batch_size):
    """The passes of one side over `items` (positions in probes.ids); the passes' own item
    positions are then 0 .. len(items) - 1, in that order."""
    items = [int(i) for i in items]
    texts = probes.texts(side.language)
    if side.modality == "text":
        inputs = [texts[i] for i in items]
        lengths = probes.text_lengths(side.language)[items]
    else:
        audio = probes.audio(side.language)
        inputs = [audio[i] for i in items]
        lengths = probes.durations(side.language)[items]
    return SteeredPasses(
        adapter,
        modality=side.modality,
        language=side.language,
        stack=stack,
        inputs=inputs,
        lengths=lengths,
        ids=[probes.ids[i] for i in items],
        words=[probes.words(side.language)[i] for i in items],
        texts=[texts[i] for i in items] if side.modality == "speech" else None,
        pooling=pooling,
        batch_size=batch_size,
    )

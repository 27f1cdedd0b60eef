"""The steered passes of one side (language, modality) of an intervention task over some of the
probe items: `benchmark.representations.steering.SteeredPasses` over that side's inputs. Steered
passes are never cached."""

from __future__ import annotations

from benchmark.probes import ProbeSet
from benchmark.representations.steering import SteeredPasses


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

"""Forward passes that a kind runs itself (interventions, the logit lens), never through the
representation cache: a steered pass must not be stored, or read back, as if it were unsteered.

- `shared_stack`: the one stack a task's inputs go through, decided from the plan alone (no
  weights), or NotApplicable with the reason;
- `steering`: a forward hook on `adapter.layer_module(...)` that adds a vector to that layer's
  output at every position (the model is otherwise untouched; the hook is removed on exit);
- `Passes.pooled`: pooled per-layer states of some items of one (language, modality), by the
  same length-sorted batching as the cache's extraction (`benchmark.representations.extract`),
  but returned to the caller only;
- `resolve_layer` / `check_layer_spec`: layers named, or given as a relative depth in [0, 1].
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from benchmark.errors import NotApplicable, UsageError, did_you_mean
from benchmark.kinds import ModelAccess
from benchmark.models.base import ModelAdapter
from benchmark.probes import ProbeSet
from benchmark.representations.extract import extract

LAYER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")


def check_layer_spec(value: str | float, field: str) -> None:
    """What can be checked without the model: a relative depth in [0, 1], or a well-formed name
    ("last", "embeddings", "layer_3", ...). Names are checked against the model when it loads."""
    if isinstance(value, bool):
        raise UsageError(f"{field}: {value!r} is not a layer name or a relative depth in [0, 1]")
    if isinstance(value, (int, float)):
        if not 0.0 <= float(value) <= 1.0:
            raise UsageError(
                f"{field}: relative depth {value} is outside [0, 1] (0 = embeddings, 1 = last)"
            )
        return
    if not LAYER_NAME.match(str(value)):
        raise UsageError(
            f"{field}: {value!r} is not a layer name (e.g. embeddings, layer_3, last) or a "
            "relative depth in [0, 1]"
        )


def resolve_layer(value: str | float, names: Sequence[str], field: str) -> str:
    """A layer spec -> one of `names` (a depth d -> the layer at round(d * (L - 1)))."""
    names = list(names)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return names[int(round(float(value) * (len(names) - 1)))]
    if value == "last":
        return names[-1]
    if value == "first":
        return names[0]
    if value not in names:
        raise UsageError(f"{field}: " + did_you_mean("layer", str(value), names))
    return str(value)


def shared_stack(model: ModelAccess, modalities: Sequence[str], wanted: str | None) -> str:
    """The stack that every one of `modalities` goes through, from the plan's static stacks.

    `wanted` None: each modality's default stack, which must be one and the same; "shared": the
    first stack that takes every modality (a role: whatever the family calls it); a name: that
    stack. NotApplicable otherwise, naming the stacks that would work."""
    needed = sorted(set(modalities))
    takers = [name for name, s in model.stacks.items() if set(needed) <= set(s.takes)]
    if wanted is None:
        defaults = {m: model.default_stacks.get(m) for m in needed}
        chosen = set(defaults.values())
        if len(chosen) == 1 and None not in chosen:
            return chosen.pop()
        routes = ", ".join(f"{m} -> {s}" for m, s in defaults.items())
        hint = f"; metric.stack: shared would use {takers[0]}" if takers else ""
        raise NotApplicable(
            f"the source and target inputs share no stack ({routes}): a vector found in one "
            f"cannot be added to the other's layers{hint}"
        )
    if wanted == "shared" and takers:
        return takers[0]
    if wanted in takers:
        return wanted
    have = ", ".join(f"{name} ({'+'.join(s.takes)})" for name, s in model.stacks.items())
    which = "no stack" if wanted == "shared" else f"stack {wanted!r} does not, or is not one:"
    raise NotApplicable(f"{which} takes {' and '.join(needed)} in this model (its stacks: {have})")


def _add(output, vector: torch.Tensor):
    if isinstance(output, torch.Tensor):
        return output + vector.to(output.device, output.dtype)
    if isinstance(output, tuple) and output and isinstance(output[0], torch.Tensor):
        return (output[0] + vector.to(output[0].device, output[0].dtype), *output[1:])
    raise TypeError(f"cannot steer a layer output of type {type(output).__name__}")


@contextmanager
def steering(module: nn.Module, vector: np.ndarray | torch.Tensor | None) -> Iterator[None]:
    """Add `vector` [D] to `module`'s output at every position while the block runs (None: no
    hook at all). Registered before the adapter's own reading hooks, so what the adapter returns
    for this layer, and everything downstream of it, is the steered state."""
    if vector is None:
        yield
        return
    vec = torch.as_tensor(np.asarray(vector, dtype=np.float32))
    handle = module.register_forward_hook(lambda _m, _a, out: _add(out, vec))
    try:
        yield
    finally:
        handle.remove()


class Passes:
    """Pooled forward passes of one adapter through one stack, for a kind's own use: nothing is
    cached, so whatever hooks are installed apply. Decoded audio is kept per language (a kind
    runs many passes over the same items)."""

    def __init__(self, adapter: ModelAdapter, probes: ProbeSet, stack: str, pooling: str, batch):
        self.adapter, self.probes, self.stack = adapter, probes, stack
        self.pooling, self.batch_size = pooling, batch
        self._audio: dict[str, list[np.ndarray]] = {}
        self.item_passes = 0  # items run through the model so far

    def audio(self, language: str) -> list[np.ndarray]:
        if language not in self._audio:
            self._audio[language] = self.probes.audio(language)
        return self._audio[language]

    def pooled(
        self, language: str, modality: str, items: Sequence[int], layers: Sequence[str]
    ) -> np.ndarray:
        """[len(layers), len(items), D] pooled states of `items` (positions in probes.ids), in
        the order given, batched longest first like the cache's extraction."""
        items = [int(i) for i in items]
        texts = self.probes.texts(language)
        if modality == "text":
            inputs = [texts[i] for i in items]
            lengths = self.probes.text_lengths(language)[items]
        else:
            audio = self.audio(language)
            inputs = [audio[i] for i in items]
            lengths = self.probes.durations(language)[items]
        reps = extract(
            self.adapter,
            modality,
            language,
            inputs,
            lengths,
            pooling=self.pooling,
            batch_size=self.batch_size,
            layers=list(layers),
            ids=[self.probes.ids[i] for i in items],
            progress=False,
            texts=[texts[i] for i in items] if modality == "speech" else None,
            stack=self.stack,
            words=[self.probes.words(language)[i] for i in items],
        )
        self.item_passes += len(items)
        return reps.array

"""The contract between model adapters and the rest of the harness.

An adapter wraps one loaded model and turns raw probe inputs (strings, or 16 kHz float32 waveforms)
into the hidden states of every layer, each with its own validity mask. Layer outputs are taken with
forward hooks on the layer modules (not `output_hidden_states`, whose last entry is post-norm and,
for some encoders, post-adaptor and shorter): each layer has a stable name and a module that tasks
can hook to read or steer it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from benchmark.core import MODALITIES, SAMPLE_RATE, Modality  # noqa: F401 (re-exported)


@dataclass
class LayerStates:
    """Hidden states of one layer for a batch: `hidden` [B, T, D], `mask` [B, T] (True = real
    position). Speech layers give `frame_seconds` (seconds per position); text layers give
    `char_spans` [B, T, 2]: each position's (start, end) characters in the item's text as given,
    (-1, -1) where the position is not the text (prompt, prefix, special tokens)."""

    hidden: torch.Tensor
    mask: torch.Tensor
    frame_seconds: float | None = None
    char_spans: torch.Tensor | None = None


@dataclass
class BatchInputs:
    """Raw inputs of one batch. Exactly one of `texts` / `audio` is set, by modality."""

    modality: Modality
    language: str  # FLEURS code, e.g. "es_419"; adapters that need a language token map it
    texts: Sequence[str] | None = None
    audio: Sequence[np.ndarray] | None = None  # float32 mono at SAMPLE_RATE


@dataclass
class AdapterInfo:
    """What results record about the adapter: enough to reproduce the forward pass."""

    family: str
    adapter_version: str
    settings: dict = field(default_factory=dict)


class ModelAdapter(Protocol):
    info: AdapterInfo
    modalities: tuple[Modality, ...]

    def layer_names(self, modality: Modality) -> list[str]:
        """Stable, ordered layer names, e.g. ["embeddings", "layer_1", ..., "layer_6"]."""

    def layer_module(self, modality: Modality, name: str) -> torch.nn.Module:
        """The module whose forward output is layer `name` (hook it to read or add vectors)."""

    def forward(self, batch: BatchInputs) -> dict[str, LayerStates]:
        """Every layer's states for the batch, in `layer_names(modality)` order."""

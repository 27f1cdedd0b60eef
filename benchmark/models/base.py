"""The contract between model adapters and the rest of the harness (adapter interface v2).

An adapter wraps one loaded model and turns raw probe inputs (strings, or 16 kHz float32 waveforms)
into the hidden states of every layer, each with its own validity mask. Layer outputs are taken with
forward hooks on the layer modules (not `output_hidden_states`, whose last entry is post-norm and,
for some encoders, post-adaptor and shorter): each layer has a stable name and a module that tasks
can hook to read or steer it.

A *stack* is the set of layers an input passes through: a speech encoder, a text encoder, a shared
decoder, a language model over audio positions. Each family declares its stacks statically (the
registry in `benchmark.models`), so a run can plan without loading weights. The first stack that
lists a modality is that modality's default; a stack may take both modalities (Whisper's decoder:
text teacher-forced against silence, or the transcript teacher-forced against the real audio).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from benchmark.core import MODALITIES, SAMPLE_RATE, Modality  # noqa: F401 (re-exported)


@dataclass
class LayerStates:
    """Hidden states of one layer for a batch.

    `hidden` [B, T, D] on the model's device and in its dtype; `mask` [B, T] bool (True = a real
    position, on the same device). `frame_seconds`: for positions that are audio frames, the
    seconds each position covers (0.02 for Whisper's encoder, 0.16 after Seamless's stride-8
    adaptor); None for text positions. `char_spans` [B, T, 2] int64 (same device): for text
    positions, each position's (start, end) character span in the item's text exactly as given in
    `BatchInputs.texts`; (-1, -1) where the position is not the text (prompts, prefixes such as
    e5's `query: `, Whisper's added leading space, special tokens). None when the positions are
    not text.
    """

    hidden: torch.Tensor
    mask: torch.Tensor
    frame_seconds: float | None = None
    char_spans: torch.Tensor | None = None


@dataclass
class BatchInputs:
    """Raw inputs of one batch.

    A text batch sets `texts`. A speech batch sets `audio`, and may set `texts` too: the transcripts,
    which a stack that decodes text (Whisper's decoder, Seamless's text decoder) teacher-forces
    while attending to the audio; stacks that do not read them ignore them. `stack` None = the
    modality's default stack.
    """

    modality: Modality
    language: str  # FLEURS code, e.g. "es_419"; adapters that need a language token map it
    texts: Sequence[str] | None = None
    audio: Sequence[np.ndarray] | None = None  # float32 mono at SAMPLE_RATE
    stack: str | None = None
    # The probe items' ids and labelled words (dicts as in the probe set: word, label, char_start,
    # char_end, start_s, end_s). Trained models ignore them; the known-answer reference models
    # (benchmark.models.known*) build their states from them, by construction.
    ids: Sequence[int] | None = None
    words: Sequence[Sequence[dict]] | None = None
    # The layers the caller will read (None: all). Adapters may return more; the layered ones
    # capture and check only these (steered passes read one layer of many).
    layers: Sequence[str] | None = None


@dataclass
class OutputHead:
    """What turns a stack's hidden states into next-token logits (logit lens, steering by words).

    logits = final_norm(h) @ W_U.T (+ bias), then `logit_softcap` * tanh(logits / cap) if set.
    `unembedding` is W_U [V, D] on the model's device (the model's own tensor: do not modify it).
    """

    unembedding: torch.Tensor
    final_norm: nn.Module | None
    tokenizer: Any
    bias: torch.Tensor | None = None
    logit_softcap: float | None = None

    @property
    def W_U(self) -> torch.Tensor:  # noqa: N802 (the name used in the literature)
        return self.unembedding

    def logits(self, hidden: torch.Tensor, apply_final_norm: bool = True) -> torch.Tensor:
        """[..., D] -> [..., V] in the unembedding's dtype (the logit lens of the studies: with
        `apply_final_norm=False`, the semantic-hub code's variant)."""
        hidden = hidden.to(self.unembedding.device, self.unembedding.dtype)
        if apply_final_norm and self.final_norm is not None:
            hidden = self.final_norm(hidden)
        out = hidden @ self.unembedding.T
        if self.bias is not None:
            out = out + self.bias
        if self.logit_softcap:
            out = torch.tanh(out / self.logit_softcap) * self.logit_softcap
        return out


@dataclass
class AdapterInfo:
    """What results record about the adapter: enough to reproduce the forward pass."""

    family: str
    adapter_version: str
    settings: dict = field(default_factory=dict)


class ModelAdapter(Protocol):
    info: AdapterInfo
    modalities: tuple[Modality, ...]
    stacks: dict[str, tuple[Modality, ...]]  # stack name -> modalities it takes, in order

    def default_stack(self, modality: Modality) -> str:
        """The stack a `modality` input goes through when none is named."""

    def layer_names(self, modality: Modality, stack: str | None = None) -> list[str]:
        """Stable, ordered layer names, e.g. ["embeddings", "layer_1", ..., "layer_6"]."""

    def layer_module(self, modality: Modality, name: str, stack: str | None = None) -> nn.Module:
        """The module whose forward output is layer `name` (hook it to read or add vectors)."""

    def forward(self, batch: BatchInputs) -> dict[str, LayerStates]:
        """Every layer's states for the batch, in `layer_names(modality, stack)` order."""

    def output_head(self, stack: str | None = None) -> OutputHead | None:
        """The unembedding of a stack that predicts tokens (None: the adapter's decoding stack);
        None when the stack has no vocabulary."""

    # Optional (steered passes, benchmark/representations/steering.py):
    #
    # def replay_prefix(self, modality: Modality, stack: str | None = None) -> list[nn.Module] | None:
    #     """Modules that run before the stack's first layer on the batch's inputs alone and cost
    #     enough to skip (a speech front-end; the encoder a decoder cross-attends to, wrapped in a
    #     `hooks.Stage` if it is not one module): a steered pass replays their recorded outputs,
    #     as it replays the layers below the steering layer. [] (LayeredAdapter's default): only
    #     the layers. None, or no such method: the layers cannot be replayed (e.g. they are
    #     called in a way the replay cannot follow), and every steered pass runs the whole model
    #     with a forward hook, correct and slower."""
    #
    # def replay_shared(self, modality: Modality, stack: str | None = None) -> list[nn.Module]:
    #     """Modules above the steering layer that read only the replayed prefix's output, row by
    #     row (a decoder's cross-attention key and value projections of the encoder output): in
    #     a pass tiled K times their input is K copies of the batch, so a steered pass runs them
    #     on one copy and repeats the result (checked: inputs that are not copies run as usual).
    #     [] by default."""

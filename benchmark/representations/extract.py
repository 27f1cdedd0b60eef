"""Run an adapter over probe inputs in length-sorted batches and pool every layer per item."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from benchmark.models.base import BatchInputs, LayerStates, Modality, ModelAdapter


@dataclass
class Representations:
    """Pooled states of one (language, modality): `array[l, i]` is item `ids[i]` at `layers[l]`."""

    layers: list[str]
    ids: list[int]
    array: np.ndarray  # [n_layers, n_items, dim], float32

    def layer(self, name: str) -> np.ndarray:
        return self.array[self.layers.index(name)]


def bars_disabled(progress: bool | None) -> bool:
    """`progress` if given, else the usual switch: TQDM_DISABLE=1 hides progress bars."""
    if progress is not None:
        return not progress
    return os.environ.get("TQDM_DISABLE", "").strip().lower() in {"1", "true", "yes", "on"}


def pool(states: LayerStates, method: str) -> torch.Tensor:
    """[B, T, D] with mask [B, T] -> [B, D]; only masked-in positions count."""
    mask = states.mask.to(states.hidden.device)
    if not bool(mask.any(dim=1).all()):
        empty = (~mask.any(dim=1)).nonzero().flatten().tolist()
        raise ValueError(f"pooling: batch items {empty} have no valid positions (empty input?)")
    hidden = states.hidden.float()
    if method == "mean":
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1)
    if method == "max":
        return hidden.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(1).values
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)
    if method == "first":
        index = positions.masked_fill(~mask, mask.shape[1]).min(1).values
    elif method == "last":
        index = positions.masked_fill(~mask, -1).max(1).values
    else:
        raise ValueError(f"Unknown pooling {method!r}: use mean, first, last or max.")
    return hidden[torch.arange(hidden.shape[0]), index]


def extract(
    adapter: ModelAdapter,
    modality: Modality,
    language: str,
    inputs: Sequence,
    lengths: Sequence[float],
    pooling: str = "mean",
    batch_size: int = 16,
    layers: Sequence[str] | None = None,
    ids: Sequence[int] | None = None,
    progress: bool | None = None,
) -> Representations:
    """Pooled per-layer representations of `inputs` (strings or 16 kHz waveforms).

    Items are sorted by length (longest first, so a batch that would not fit in memory fails at
    once) and batched, which keeps padding small; results come back in input order.
    """
    names = list(layers) if layers is not None else adapter.layer_names(modality)
    order = np.argsort(-np.asarray(lengths, dtype=float), kind="stable")
    out: np.ndarray | None = None
    bar = tqdm(
        total=len(inputs),
        desc=f"{language} {modality}",
        unit="item",
        disable=bars_disabled(progress),
        leave=False,
    )
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        batch = [inputs[i] for i in idx]
        batch_inputs = BatchInputs(
            modality=modality,
            language=language,
            texts=batch if modality == "text" else None,
            audio=batch if modality == "speech" else None,
        )
        states = adapter.forward(batch_inputs)
        pooled = torch.stack([pool(states[name], pooling) for name in names])  # [L, B, D]
        if out is None:
            out = np.empty((len(names), len(inputs), pooled.shape[-1]), dtype=np.float32)
        out[:, idx] = pooled.cpu().numpy()
        bar.update(len(idx))
    bar.close()
    if out is None:
        raise ValueError(f"No inputs to extract for {language} {modality}.")
    return Representations(
        layers=names, ids=list(ids) if ids is not None else list(range(len(inputs))), array=out
    )

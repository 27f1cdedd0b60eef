"""Run an adapter over probe inputs in length-sorted batches and pool every layer per item.

States stay on the model's device, in its dtype, until pooled: only the pooled [L, B, D] of each
batch is copied to the host (as float32), so extraction needs about the model's own memory plus
one batch's states. `batch_size="auto"` finds the largest batch that fits by trying and halving on
out-of-memory errors.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from benchmark.models.base import BatchInputs, LayerStates, Modality, ModelAdapter

log = logging.getLogger(__name__)
AUTO_START = 64  # the first batch size "auto" tries


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


def is_out_of_memory(err: BaseException) -> bool:
    """An allocation failure: torch's OutOfMemoryError, or a RuntimeError saying so (CPU
    allocators say "can't allocate memory"; on CPU the system may also stop the process first)."""
    oom = getattr(torch, "OutOfMemoryError", None)
    if oom is not None and isinstance(err, oom):
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
    )


class BatchSize:
    """A fixed batch size, or "auto": start at AUTO_START, halve on out-of-memory until a batch
    fits, and keep that size for every later batch (the store keeps one for a whole run)."""

    def __init__(self, size: int | str = 16):
        self.auto = size == "auto"
        if not self.auto and (not isinstance(size, int) or size < 1):
            raise ValueError(f"batch size must be a whole number >= 1 or 'auto', got {size!r}")
        self.size = AUTO_START if self.auto else int(size)
        self.largest_run = 0  # the largest batch that ran (what "auto" settled on)

    @classmethod
    def of(cls, size: int | str | BatchSize) -> BatchSize:
        return size if isinstance(size, BatchSize) else cls(size)

    @property
    def used(self) -> int | str:
        """What results record: the size used (for "auto": the largest batch that ran)."""
        if not self.auto:
            return self.size
        return self.largest_run or "auto"

    def shrink(self, err: BaseException, tried: int) -> None:
        """After a batch of `tried` items failed: halve (if "auto" and out of memory), else raise."""
        if not self.auto or not is_out_of_memory(err) or tried <= 1:
            raise err
        self.size = max(1, min(self.size, tried) // 2)
        log.warning("batch of %d items ran out of memory; trying %d", tried, self.size)
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def length_order(lengths: Sequence[float]) -> np.ndarray:
    """Item indices, longest first (stable): the order batches are cut in."""
    return np.argsort(-np.asarray(lengths, dtype=float), kind="stable")


def extract(
    adapter: ModelAdapter,
    modality: Modality,
    language: str,
    inputs: Sequence,
    lengths: Sequence[float],
    pooling: str = "mean",
    batch_size: int | str | BatchSize = 16,
    layers: Sequence[str] | None = None,
    ids: Sequence[int] | None = None,
    progress: bool | None = None,
    *,
    texts: Sequence[str] | None = None,
    stack: str | None = None,
    items: Sequence[int] | None = None,
    on_states: Callable[[dict[str, LayerStates], np.ndarray], None] | None = None,
    words: Sequence[Sequence[dict]] | None = None,
) -> Representations:
    """Pooled per-layer representations of `inputs` (strings or 16 kHz waveforms).

    Items are sorted by length (longest first, so a batch that would not fit in memory fails at
    once) and batched, which keeps padding small; results come back in input order. `texts` gives
    speech items their transcripts (read by stacks that teacher-force them); `stack` None = the
    modality's default. `items` restricts the work to those input indices (a shard of a
    multi-process run); the result then holds only them, in input order. `on_states(states,
    item indices)` sees every batch's full states before they are dropped (word-level vectors are
    taken there, from the same forward pass). `ids` and `words` (each item's labelled words) go
    with every batch: known-answer reference models are built from them.
    """
    names = list(layers) if layers is not None else adapter.layer_names(modality, stack)
    sizer = BatchSize.of(batch_size)
    order = length_order(lengths)
    if items is not None:
        keep = set(int(i) for i in items)
        order = np.asarray([i for i in order if int(i) in keep], dtype=int)
    ids = list(ids) if ids is not None else list(range(len(inputs)))
    out: np.ndarray | None = None
    bar = tqdm(
        total=len(order),
        desc=f"{language} {modality}",
        unit="item",
        disable=bars_disabled(progress),
        leave=False,
    )
    start = 0
    while start < len(order):
        idx = order[start : start + sizer.size]
        batch = [inputs[i] for i in idx]
        transcripts = [texts[i] for i in idx] if texts is not None else None
        batch_inputs = BatchInputs(
            modality=modality,
            language=language,
            texts=batch if modality == "text" else transcripts,
            audio=batch if modality == "speech" else None,
            stack=stack,
            ids=[ids[i] for i in idx],
            words=[words[i] for i in idx] if words is not None else None,
        )
        try:
            states = adapter.forward(batch_inputs)
            # pooled on the model's device; only [L, B, D] goes to the host, as float32
            pooled = torch.stack([pool(states[name], pooling) for name in names])
            if on_states is not None:
                on_states(states, idx)
        except Exception as err:  # out of memory with "auto": halve and try again
            sizer.shrink(err, len(idx))
            continue
        del states
        if out is None:
            out = np.empty((len(names), len(inputs), pooled.shape[-1]), dtype=np.float32)
        out[:, idx] = pooled.float().cpu().numpy()
        sizer.largest_run = max(sizer.largest_run, len(idx))
        start += len(idx)
        bar.update(len(idx))
    bar.close()
    if out is None:
        raise ValueError(f"No inputs to extract for {language} {modality}.")
    if items is None:
        return Representations(layers=names, ids=ids, array=out)
    chosen = np.sort(order)
    return Representations(layers=names, ids=[ids[i] for i in chosen], array=out[:, chosen])

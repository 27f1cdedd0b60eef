"""One forward pass of an adapter over probe inputs, in length-sorted batches, with collectors
that take what each request needs from every batch (pooled sentence vectors here; word-level
vectors and the logit lens's positions in `words.py`).

States stay on the model's device, in its dtype, until collected: only the pooled [L, B, D] of
each batch is copied to the host (as float32), so a pass needs about the model's own memory plus
one batch's states. `batch_size="auto"` finds the largest batch that fits by trying and halving
on out-of-memory errors.
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


class PooledCollector:
    """Pools every layer of each batch (`pool`) into [L, n, D], rows in input order."""

    def __init__(self, names: Sequence[str], pooling: str, n: int, ids: Sequence[int]):
        self.names, self.pooling, self.n, self.ids = list(names), pooling, n, list(ids)
        self.out: np.ndarray | None = None
        self.seen = np.zeros(n, dtype=bool)

    def __call__(self, states: dict[str, LayerStates], idx: np.ndarray) -> None:
        # pooled on the model's device; only [L, B, D] goes to the host, as float32
        pooled = torch.stack([pool(states[name], self.pooling) for name in self.names])
        if self.out is None:
            self.out = np.empty((len(self.names), self.n, pooled.shape[-1]), dtype=np.float32)
        self.out[:, idx] = pooled.float().cpu().numpy()
        self.seen[idx] = True

    def result(self) -> Representations:
        if self.out is None:
            raise ValueError("no inputs were extracted")
        if self.seen.all():
            return Representations(layers=self.names, ids=self.ids, array=self.out)
        kept = np.flatnonzero(self.seen)  # a shard: only its items, in input order
        return Representations(self.names, [self.ids[i] for i in kept], self.out[:, kept])


def run_batches(
    adapter: ModelAdapter,
    modality: Modality,
    language: str,
    inputs: Sequence,
    lengths: Sequence[float],
    collectors: Sequence[Callable[[dict[str, LayerStates], np.ndarray], None]],
    *,
    batch_size: int | str | BatchSize = 16,
    ids: Sequence[int] | None = None,
    texts: Sequence[str] | None = None,
    words: Sequence[Sequence[dict]] | None = None,
    stack: str | None = None,
    items: Sequence[int] | None = None,
    progress: bool | None = None,
) -> None:
    """One pass of `adapter` over `inputs` (strings or 16 kHz waveforms), every batch's states
    handed to each collector (`collector(states, item indices)`) before they are dropped.

    Items are sorted by length (longest first, so a batch that would not fit in memory fails at
    once) and batched, which keeps padding small. `texts` gives speech items their transcripts
    (read by stacks that teacher-force them); `stack` None = the modality's default. `items`
    restricts the pass to those input indices (a shard of a multi-process run). `ids` and `words`
    (each item's labelled words) go with every batch: known-answer reference models are built
    from them. A batch that runs out of memory with batch_size "auto" is halved and run again
    (collectors write rows by index, so a repeated batch overwrites itself).
    """
    sizer = BatchSize.of(batch_size)
    order = length_order(lengths)
    if items is not None:
        keep = set(int(i) for i in items)
        order = np.asarray([i for i in order if int(i) in keep], dtype=int)
    if len(order) == 0:
        raise ValueError(f"No inputs to extract for {language} {modality}.")
    ids = list(ids) if ids is not None else list(range(len(inputs)))
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
        batch_inputs = BatchInputs(
            modality=modality,
            language=language,
            texts=batch if modality == "text" else [texts[i] for i in idx] if texts else None,
            audio=batch if modality == "speech" else None,
            stack=stack,
            ids=[ids[i] for i in idx],
            words=[words[i] for i in idx] if words is not None else None,
        )
        try:
            states = adapter.forward(batch_inputs)
            for collect in collectors:
                collect(states, idx)
        except Exception as err:  # out of memory with "auto": halve and try again
            sizer.shrink(err, len(idx))
            continue
        del states
        sizer.largest_run = max(sizer.largest_run, len(idx))
        start += len(idx)
        bar.update(len(idx))
    bar.close()


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
    words: Sequence[Sequence[dict]] | None = None,
) -> Representations:
    """Pooled per-layer representations of `inputs` (one pass, see `run_batches`); with `items`,
    only those, in input order."""
    names = list(layers) if layers is not None else adapter.layer_names(modality, stack)
    ids = list(ids) if ids is not None else list(range(len(inputs)))
    collector = PooledCollector(names, pooling, len(inputs), ids)
    run_batches(
        adapter,
        modality,
        language,
        inputs,
        lengths,
        [collector],
        batch_size=batch_size,
        ids=ids,
        texts=texts,
        words=words,
        stack=stack,
        items=items,
        progress=progress,
    )
    return collector.result()

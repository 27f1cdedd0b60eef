"""Steered forward passes at the cost of the layers above the steering layer.

A steered pass adds a vector to one layer's output at every position and reads later layers. Below
that layer nothing changes between passes, so `SteeredPasses` runs each batch once unsteered,
recording the steering layer's output (and the outputs of the adapter's declared prefix modules:
a speech front-end, the encoder a decoder cross-attends to), and then, for the steered passes,
temporarily replaces the forward of

- the prefix modules: by replays of their recorded outputs;
- the layer modules below the steering layer: by pass-throughs of their input (nothing reads them);
- the steering layer's module: by its recorded output plus each row's vector,

so the adapter's own forward pass (its input preparation, masks, the parent model's loop) runs as
always, but only the layers above the steering layer compute for real, and the adapter captures
only the layers read (`BatchInputs.layers`). The K vectors of one call share passes: each batch's
inputs are repeated K times (k-major, chunked so that a pass holds at most `rows_per_pass` rows)
and row k * B + b of the tiled batch gets vector k. Modules above the hook that read only the
prefix's output (`replay_shared`: a decoder's cross-attention projections of the encoder output)
run on one copy of the batch, their result repeated.

A replayed module may run several times in one adapter forward (Whisper runs one pass per encoder
window, some speech encoders one clip at a time): call i of the tiled pass replays recorded call
i mod n, repeated rows(call i) / rows(recorded call) times; the shapes are checked. Tensors in a
module's output whose first dimension is a multiple of the call's rows (hidden states, WavLM's
position bias of [rows x heads]) are tiled; other values are passed as recorded.

Batches are cut as `benchmark.representations.extract.extract` cuts them (longest first, the same
batch size), and also where the adapter's optional `batch_group(modality, item)` changes (Whisper:
the encoder window a clip runs in, so a batch runs its layers in one call), and every result comes
back in item order; the adapters' states do not depend on the
batch an item is in, so tiling changes nothing but the cost. A batch of one item is not tiled
(some kernels round differently for one row than for several) but run once per vector.

Adapters opt in with `replay_prefix(modality, stack)` (benchmark/models/base.py): a list of prefix
modules (possibly empty), or None when their layers cannot be replayed; an adapter without the
method is not replayed either. Those run every steered pass in full, with a forward hook adding
the vector (correct, slower). An adapter without layer modules (the generic fallback) cannot be
steered at all: `layer_module` raises, as it says.

Memory: the recordings of `unsteered(layers)` hold every requested layer's full states for the
items (n items x positions x D floats each) plus the prefix outputs; `release()` drops them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from benchmark.models.base import BatchInputs, Modality, ModelAdapter
from benchmark.models.hooks import differentiable
from benchmark.representations.extract import BatchSize, is_out_of_memory, length_order, pool
from benchmark.representations.replay import (
    Call,
    Replay,
    ReplayMismatch,
    adding,
    recording,
    replaced,
)

log = logging.getLogger(__name__)
ROWS_FACTOR = 4  # a tiled pass holds at most batch_size x ROWS_FACTOR rows by default
# ... and at most this many positions (rows x sequence length): Whisper's encoder steered with 8
# vectors over 16 clips of 1,500 frames took 17.5 CPU-s in passes of 64 rows, 15.3 s in passes of
# 16 (benchmarks/steering_cost.py); text (tens of tokens a row) is not limited by it
POSITIONS_PER_PASS = 24_000


def vectors_per_pass(rows: int, length: int, batch_size: int, rows_per_pass: int | None) -> int:
    """How many vectors share one tiled pass over a batch of `rows` items of `length` positions
    (`rows_per_pass`: the caller's own limit on a pass's rows)."""
    if rows == 1:
        return 1  # one row rounds differently from several in some kernels: never tiled
    limit = rows_per_pass or min(
        batch_size * ROWS_FACTOR, max(rows, POSITIONS_PER_PASS // max(length, 1))
    )
    return max(1, limit // rows)


@contextmanager
def frozen(adapter) -> Iterator[None]:
    """The adapter's weights out of autograd while the block runs (first-order passes need the
    gradient with respect to the shift alone; weight gradients would double the backward)."""
    params = {
        id(p): p
        for value in vars(adapter).values()
        if isinstance(value, nn.Module)
        for p in value.parameters()
        if p.requires_grad
    }
    try:
        for p in params.values():
            p.requires_grad_(False)
        yield
    finally:
        for p in params.values():
            p.requires_grad_(True)


# --- the passes -------------------------------------------------------------------------------


@dataclass
class Batch:
    """One batch of a run: its items (positions in the inputs) and its recordings."""

    idx: np.ndarray
    records: dict[str, list[Call]] = field(default_factory=dict)


@dataclass
class FirstOrder:
    """What `SteeredPasses.gradients` gives: per item, the gradient of its cotangent . pooled
    read state with respect to a steering vector, and that pooled read state itself from the
    same forward pass (zero shift: the zero vector's steered state, replayed as a steered pass
    replays)."""

    gradients: np.ndarray  # [n_items, D]
    states: np.ndarray  # [n_items, D]


@dataclass
class Run:
    """The batches of one list of items, with the pooled unsteered states computed so far."""

    items: list[int]
    batches: list[Batch]
    pooled: dict[str, np.ndarray] = field(default_factory=dict)  # layer -> [n_items, D]


class SteeredPasses:
    """Unsteered and steered pooled passes of one adapter over one (language, modality, stack)'s
    inputs (see the module docstring)."""

    def __init__(
        self,
        adapter: ModelAdapter,
        *,
        modality: Modality,
        language: str,
        stack: str | None,
        inputs: Sequence,
        lengths: Sequence[float],
        ids: Sequence[int],
        words: Sequence[Sequence[dict]] | None,
        texts: Sequence[str] | None = None,
        pooling: str = "mean",
        batch_size: int | str = 16,
        rows_per_pass: int | None = None,
    ):
        self.adapter, self.modality, self.language, self.stack = adapter, modality, language, stack
        self.inputs, self.lengths = list(inputs), np.asarray(lengths, dtype=float)
        self.ids = list(ids)
        self.words = list(words) if words is not None else None
        self.texts = list(texts) if texts is not None else None
        self.pooling, self.sizer = pooling, BatchSize.of(batch_size)
        self.rows_per_pass = rows_per_pass
        self.names = adapter.layer_names(modality, stack)
        declare = getattr(adapter, "replay_prefix", None)
        self.prefix = declare(modality, stack) if declare is not None else None
        self.replayable = self.prefix is not None
        declare = getattr(adapter, "replay_shared", None)
        self.shared = declare(modality, stack) if declare is not None and self.replayable else []
        self._runs: dict[tuple[int, ...], Run] = {}
        self.item_passes = 0  # item rows run through the model (tiled rows count once each)

    # --- public -----------------------------------------------------------------------------

    def unsteered(self, layers: list[str], items: Sequence[int] | None = None) -> np.ndarray:
        """[len(layers), n_items, D] pooled states, items in the order given (default: all). The
        layers' full states are recorded for later steered passes over the same items."""
        run = self._run(items)
        missing = [name for name in layers if name not in run.pooled]
        if missing:
            self._record(run, missing)
        return np.stack([run.pooled[name] for name in layers])

    def steered(
        self,
        layer: str,
        vectors: np.ndarray,
        read: list[str],
        items: Sequence[int] | None = None,
    ) -> np.ndarray:
        """[K, len(read), n_items, D] pooled states at the `read` layers (each at or after
        `layer`) with vectors[k] [D] added to `layer`'s output at every position."""
        self._check_layers(layer, read)
        vectors = torch.as_tensor(np.asarray(vectors, dtype=np.float32))
        if vectors.dim() != 2:
            raise ValueError(f"steered: vectors must be [K, D], got shape {tuple(vectors.shape)}")
        run = self._run(items)
        if self.replayable and any(layer not in b.records for b in run.batches):
            self._record(run, [layer])
        module = self.adapter.layer_module(self.modality, layer, self.stack)
        out = None
        for batch in run.batches:
            part = self._steer_batch(batch, layer, module, vectors, read)  # [K, R, B, D]
            if out is None:
                out = np.empty((*part.shape[:2], len(run.items), part.shape[-1]), np.float32)
            out[:, :, self._positions(run, batch)] = part
        return out

    def gradients(
        self,
        layer: str,
        read: str,
        cotangents: np.ndarray,
        items: Sequence[int] | None = None,
    ) -> FirstOrder:
        """First-order steering effects: row i of `.gradients` [n_items, D] is the gradient, with
        respect to a vector added to `layer`'s output at every position of item i, of
        cotangents[i] . (item i's pooled state at `read`). The effect of adding any vector v is
        then, to first order, gradients[i] . v: one forward and one backward pass above the hook
        for every vector. `.states` are the forward's pooled read states (the zero vector's).
        A batch whose steering layer runs in several calls (long audio in windows), and every
        batch of an adapter that does not replay, goes item by item through a full pass with the
        shift added by a hook."""
        self._check_layers(layer, [read])
        cotangents = np.asarray(cotangents, dtype=np.float32)
        run = self._run(items)
        if len(cotangents) != len(run.items):
            raise ValueError(f"gradients: {len(cotangents)} cotangents for {len(run.items)} items")
        if layer not in run.pooled or (
            self.replayable and any(layer not in b.records for b in run.batches)
        ):
            self._record(run, [layer])
        dim = run.pooled[layer].shape[-1]
        module = self.adapter.layer_module(self.modality, layer, self.stack)
        grads = np.zeros((len(run.items), dim), np.float32)
        states = np.zeros((len(run.items), dim), np.float32)
        for batch in run.batches:
            where = self._positions(run, batch)
            try:
                if not self.replayable:
                    raise ReplayMismatch("the adapter does not replay")
                grads[where], states[where] = self._gradient_pass(
                    batch, layer, module, cotangents[where], read, dim
                )
            except ReplayMismatch:
                # the layer runs in several calls per batch (Whisper's windows, one clip at a
                # time): item by item, a full pass with the shift added by a hook, which adds
                # it to every call of the item, as a steered pass does
                for b, item in enumerate(batch.idx):
                    one = Batch(np.asarray([item]))
                    grad, state = self._gradient_pass(
                        one, layer, module, cotangents[where[b : b + 1]], read, dim, hooked=True
                    )
                    grads[where[b]], states[where[b]] = grad[0], state[0]
            self.item_passes += len(batch.idx)
        return FirstOrder(grads, states)

    def _gradient_pass(self, batch: Batch, layer: str, module, cotangents, read, dim, hooked=False):
        """([B, dim] gradients of sum_b cotangents[b] . pooled read state of row b with respect
        to a shift of row b at `layer`, [B, dim] those pooled states): replayed above the hook,
        or a full pass with a hook."""
        delta = torch.zeros(len(batch.idx), dim, requires_grad=True)
        with differentiable(), frozen(self.adapter):
            if hooked:
                with adding(module, delta):
                    states = self.adapter.forward(self._inputs(batch.idx, [read]))
            else:
                zero = torch.zeros(1, dim)
                states = self._steer_pass(batch, layer, module, zero, [read], rows_delta=delta)
            pooled = pool(states[read], self.pooling)
            weights = torch.as_tensor(cotangents).to(pooled.device, pooled.dtype)
            (pooled * weights).sum().backward()
        return delta.grad.float().cpu().numpy(), pooled.detach().float().cpu().numpy()

    def release(self) -> None:
        """Drop every recording (and pooled state) kept so far."""
        self._runs.clear()

    # --- batches ----------------------------------------------------------------------------

    def _check_layers(self, layer: str, read: list[str]) -> None:
        for name in (layer, *read):
            if name not in self.names:
                raise KeyError(f"steered: no layer {name!r} in {self.names}")
        early = [r for r in read if self.names.index(r) < self.names.index(layer)]
        if early:
            raise ValueError(f"steered: read layers {early} come before the steering layer {layer}")

    def _run(self, items: Sequence[int] | None) -> Run:
        items = list(range(len(self.inputs))) if items is None else [int(i) for i in items]
        key = tuple(items)
        if key not in self._runs:
            self._runs[key] = Run(items, self._batches(items))
        return self._runs[key]

    def _batches(self, items: list[int]) -> list[Batch]:
        """Length-sorted batches of `items` (longest first), as extract() cuts them, also cut
        where the adapter's batch group changes (`batch_group`: Whisper's encoder window), so
        that each batch runs its layers in one call (replayed and differentiated as one)."""
        order = np.asarray(items, dtype=int)[length_order(self.lengths[items])]
        group = getattr(self.adapter, "batch_group", None)
        keys = (
            [group(self.modality, self.inputs[i]) for i in order] if group else [None] * len(order)
        )
        size, batches, start = self.sizer.size, [], 0
        for end in range(1, len(order) + 1):
            if end == len(order) or end - start == size or keys[end] != keys[start]:
                batches.append(Batch(order[start:end]))
                start = end
        return batches

    def _positions(self, run: Run, batch: Batch) -> np.ndarray:
        where = {item: i for i, item in enumerate(run.items)}
        return np.asarray([where[int(i)] for i in batch.idx])

    def _inputs(self, idx: Sequence[int], layers: list[str], times: int = 1) -> BatchInputs:
        """The batch of items `idx`, repeated `times` times (k-major), reading `layers`."""
        idx = [int(i) for i in idx] * times
        items = [self.inputs[i] for i in idx]
        transcripts = [self.texts[i] for i in idx] if self.texts is not None else None
        return BatchInputs(
            modality=self.modality,
            language=self.language,
            texts=items if self.modality == "text" else transcripts,
            audio=items if self.modality == "speech" else None,
            stack=self.stack,
            ids=[self.ids[i] for i in idx],
            words=[self.words[i] for i in idx] if self.words is not None else None,
            layers=list(layers),
        )

    def _pooled(self, states, names: Sequence[str]) -> torch.Tensor:
        return torch.stack([pool(states[name], self.pooling) for name in names]).float().cpu()

    def _record(self, run: Run, layers: list[str]) -> None:
        """One unsteered pass over the run's batches: pooled states of `layers`, and (when the
        adapter replays) each layer's and each prefix module's outputs, per batch. With batch
        size "auto", a batch that runs out of memory re-cuts the run's batches smaller and
        records everything again (recordings belong to their batches)."""
        modules = {}
        if self.replayable:
            modules = {n: self.adapter.layer_module(self.modality, n, self.stack) for n in layers}
            if run.batches and "prefix:0" not in run.batches[0].records:
                modules.update({f"prefix:{i}": m for i, m in enumerate(self.prefix)})
        pooled: dict[str, np.ndarray] = {}
        for batch in run.batches:
            try:
                with recording(modules) as got:
                    states = self.adapter.forward(self._inputs(batch.idx, layers))
            except Exception as err:
                self.sizer.shrink(err, len(batch.idx))  # raises unless "auto" and out of memory
                again = [*run.pooled, *(n for n in layers if n not in run.pooled)]
                run.batches, run.pooled = self._batches(run.items), {}
                return self._record(run, again)
            batch.records.update(got)
            rows = self._pooled(states, layers).numpy()  # [L, B, D]
            positions = self._positions(run, batch)
            for j, name in enumerate(layers):
                pooled.setdefault(name, np.zeros((len(run.items), rows.shape[-1]), np.float32))
                pooled[name][positions] = rows[j]
            self.sizer.largest_run = max(self.sizer.largest_run, len(batch.idx))
            self.item_passes += len(batch.idx)
        run.pooled.update(pooled)

    # --- steered passes ---------------------------------------------------------------------

    def _steer_batch(self, batch: Batch, layer: str, module, vectors, read) -> np.ndarray:
        """[K, len(read), B, D] for one batch, K vectors in chunks of tiled passes."""
        rows, parts, start = len(batch.idx), [], 0
        calls = batch.records.get(layer) or []
        length = max((c.shape[1] for c in calls if len(c.shape) >= 3), default=1)
        size = vectors_per_pass(rows, length, self.sizer.size, self.rows_per_pass)
        size = size if self.replayable else 1
        while start < len(vectors):
            chunk = vectors[start : start + size]
            try:
                states = self._steer_pass(batch, layer, module, chunk, read)
            except ReplayMismatch as err:
                log.warning("%s: replay failed (%s); steering by full passes", layer, err)
                self.replayable = False
                size = 1
                continue
            except Exception as err:  # out of memory: fewer vectors per pass
                if not is_out_of_memory(err) or size == 1:
                    raise
                size = max(1, size // 2)
                continue
            pooled = self._pooled(states, read).numpy()  # [R, k * B, D]
            pooled = pooled.reshape(len(read), len(chunk), rows, -1).transpose(1, 0, 2, 3)
            parts.append(pooled)
            self.item_passes += len(chunk) * rows
            start += len(chunk)
        return np.concatenate(parts)

    def _steer_pass(
        self, batch: Batch, layer: str, module, chunk: torch.Tensor, read, rows_delta=None
    ):
        """The adapter's states for the batch tiled len(chunk) times, row k * B + b steered by
        chunk[k] (plus rows_delta[b]: replayed, untiled passes only): replayed below the steering
        layer, or (fallback) a full pass per vector."""
        if not self.replayable:
            with adding(module, chunk[0]):
                return self.adapter.forward(self._inputs(batch.idx, read))
        replay = Replay(batch.records, layer, chunk, rows_delta)
        below = [
            self.adapter.layer_module(self.modality, name, self.stack)
            for name in self.names[: self.names.index(layer)]
        ]
        # identities (the taps at the embeddings) cost nothing and keep their own output type
        forwards = {m: replay.skipped() for m in below if not isinstance(m, nn.Identity)}
        forwards[module] = replay.steered()
        for i, prefix in enumerate(self.prefix):
            forwards[prefix] = replay.prefix(f"prefix:{i}")
        for shared in self.shared:
            forwards[shared] = replay.shared(shared, len(chunk))
        with replaced(forwards):
            states = self.adapter.forward(self._inputs(batch.idx, read, len(chunk)))
        if replay.calls.get(layer, 0) == 0:
            raise ReplayMismatch(f"{layer} was never called")
        return states

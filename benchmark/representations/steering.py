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
batch size) and every result comes back in item order; the adapters' states do not depend on the
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
from benchmark.representations.extract import BatchSize, is_out_of_memory, length_order, pool

log = logging.getLogger(__name__)
ROWS_FACTOR = 4  # a tiled pass holds at most batch_size x ROWS_FACTOR rows by default


# --- module outputs: clone, tile, rebuild ------------------------------------------------------


def _map_tensors(obj, fn):
    """`obj` (a tensor, a tuple/list, a dict or ModelOutput, or anything else) with `fn` applied
    to every tensor inside, the structure kept."""
    if isinstance(obj, torch.Tensor):
        return fn(obj)
    if isinstance(obj, (tuple, list)):
        return type(obj)(_map_tensors(x, fn) for x in obj)
    if isinstance(obj, dict):  # transformers' ModelOutput is an OrderedDict
        return type(obj)(**{k: _map_tensors(v, fn) for k, v in obj.items()})
    return obj


def _clone(obj):
    return _map_tensors(obj, lambda t: t.detach().clone())


def _tile(obj, rows: int, times: int):
    """Tensors whose first dimension is a multiple of `rows` repeated `times` times along it
    (k-major: the tiled batch is the batch, then the batch again, ...); always a copy."""

    def tile(t: torch.Tensor) -> torch.Tensor:
        if t.dim() and t.shape[0] % rows == 0:
            return t.repeat(times, *([1] * (t.dim() - 1)))
        return t.clone()

    return _map_tensors(obj, tile)


def _first_tensor(obj) -> torch.Tensor | None:
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, (tuple, list)) and obj and isinstance(obj[0], torch.Tensor):
        return obj[0]
    if isinstance(obj, dict):
        return next((v for v in obj.values() if isinstance(v, torch.Tensor)), None)
    return None


def _with_first(obj, first: torch.Tensor):
    """`obj`'s structure with its hidden states (the first tensor) replaced by `first`."""
    if isinstance(obj, torch.Tensor):
        return first
    if isinstance(obj, (tuple, list)):
        return type(obj)((first, *obj[1:]))
    if isinstance(obj, dict):
        key = next(k for k, v in obj.items() if isinstance(v, torch.Tensor))
        return type(obj)(**{**obj, key: first})
    raise TypeError(f"cannot replay a module output of type {type(obj).__name__}")


def _call_rows(args, kwargs) -> tuple[int, tuple]:
    """(rows, the shape beyond the rows) of a module call's batch-carrying input: the first
    positional argument, else the first keyword argument that is a tensor or a list."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor) and value.dim():
            return int(value.shape[0]), tuple(value.shape[1:])
        if isinstance(value, (list, tuple)) and value:
            return len(value), ()
    raise TypeError("a replayed module was called without a batch-carrying input")


def _hidden_input(args, kwargs) -> torch.Tensor:
    if args and isinstance(args[0], torch.Tensor):
        return args[0]
    if isinstance(kwargs.get("hidden_states"), torch.Tensor):
        return kwargs["hidden_states"]
    raise TypeError("a skipped layer was called without hidden states")


# --- recording and replaying ------------------------------------------------------------------


@dataclass
class Call:
    """One recorded call of a module: its input's rows and shape, its output (a copy)."""

    rows: int
    shape: tuple
    output: object


@contextmanager
def recording(modules: dict[str, nn.Module]) -> Iterator[dict[str, list[Call]]]:
    """Record every call of each module (name -> module) while the block runs."""
    got: dict[str, list[Call]] = {name: [] for name in modules}
    handles = []

    def hook(name: str):
        def record(module, args, kwargs, output):
            rows, shape = _call_rows(args, kwargs)
            got[name].append(Call(rows, shape, _clone(output)))

        return record

    try:
        for name, module in modules.items():
            handles.append(module.register_forward_hook(hook(name), with_kwargs=True))
        yield got
    finally:
        for handle in handles:
            handle.remove()


class ReplayMismatch(RuntimeError):
    """A tiled pass did not call a replayed module as the recorded pass did."""


class Replay:
    """The forwards that stand in for the modules at and below the steering layer during one
    tiled pass (see the module docstring)."""

    def __init__(self, records: dict[str, list[Call]], steer: str, vectors: torch.Tensor):
        self.records, self.steer, self.vectors = records, steer, vectors
        self.calls: dict[str, int] = {}

    def _recorded(self, name: str, args, kwargs) -> tuple[Call, int, int, int]:
        """(the recorded call, tile factor, call index, recorded calls) for this call."""
        index = self.calls.get(name, 0)
        self.calls[name] = index + 1
        recorded = self.records[name]
        if not recorded:
            raise ReplayMismatch(f"{name}: no recorded call to replay")
        call = recorded[index % len(recorded)]
        rows, shape = _call_rows(args, kwargs)
        if rows % call.rows or shape != call.shape:
            raise ReplayMismatch(
                f"{name}: call {index} has input rows {rows} x {shape}, the recorded call "
                f"{call.rows} x {call.shape}"
            )
        return call, rows // call.rows, index, len(recorded)

    def prefix(self, name: str):
        def forward(*args, **kwargs):
            call, times, _, _ = self._recorded(name, args, kwargs)
            return _tile(call.output, call.rows, times)

        return forward

    def steered(self):
        def forward(*args, **kwargs):
            call, times, index, n = self._recorded(self.steer, args, kwargs)
            out = _tile(call.output, call.rows, times)
            hidden = _first_tensor(out)
            k = (index // n) * times + torch.arange(call.rows * times) // call.rows
            if int(k.max()) >= len(self.vectors):
                raise ReplayMismatch(f"{self.steer}: call {index} reaches past the vectors")
            shift = self.vectors[k.to(self.vectors.device)]
            shift = shift.reshape(len(k), *([1] * (hidden.dim() - 2)), shift.shape[-1])
            return _with_first(out, hidden + shift.to(hidden.device, hidden.dtype))

        return forward

    def shared(self, module: nn.Module, times: int):
        """A module that reads only the replayed prefix (see `replay_shared`): run on one copy
        of its input when the input is `times` copies of it, the result repeated."""
        original = module.forward

        def forward(*args, **kwargs):
            x = args[0] if args and isinstance(args[0], torch.Tensor) else None
            if x is None or times == 1 or not x.dim() or x.shape[0] % times:
                return original(*args, **kwargs)
            rows = x.shape[0] // times
            if not torch.equal(x[:rows], x[rows : 2 * rows]):
                return original(*args, **kwargs)
            return _tile(original(x[:rows], *args[1:], **kwargs), rows, times)

        return forward

    def skipped(self):
        """A layer below the steering layer: its input, passed on in the output's structure
        (nothing reads it: the steering layer's replay ignores its input)."""

        def forward(*args, **kwargs):
            hidden = _hidden_input(args, kwargs)
            recorded = self.records[self.steer]
            index = self.calls.get(self.steer, 0)
            template = recorded[index % len(recorded)].output if recorded else hidden
            if isinstance(template, torch.Tensor):
                return hidden
            rows = recorded[index % len(recorded)].rows
            return _with_first(_tile(template, rows, max(1, hidden.shape[0] // rows)), hidden)

        return forward


@contextmanager
def replaced(forwards: dict[nn.Module, object]) -> Iterator[None]:
    """Each module's forward replaced while the block runs (hooks on the modules still fire)."""
    saved = {module: module.__dict__.get("forward") for module in forwards}
    try:
        for module, forward in forwards.items():
            module.forward = forward
        yield
    finally:
        for module, original in saved.items():
            if original is None:
                module.__dict__.pop("forward", None)
            else:
                module.forward = original  # e.g. accelerate's dispatch wrapper


@contextmanager
def adding(module: nn.Module, vector: torch.Tensor) -> Iterator[None]:
    """The full-pass fallback: `vector` added to `module`'s output at every position."""

    def hook(_module, _args, output):
        hidden = _first_tensor(output)
        return _with_first(output, hidden + vector.to(hidden.device, hidden.dtype))

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


# --- the passes -------------------------------------------------------------------------------


@dataclass
class Batch:
    """One batch of a run: its items (positions in the inputs) and its recordings."""

    idx: np.ndarray
    records: dict[str, list[Call]] = field(default_factory=dict)


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
        """Length-sorted batches of `items` (longest first), as extract() cuts them."""
        order = np.asarray(items, dtype=int)[length_order(self.lengths[items])]
        size = self.sizer.size
        return [Batch(order[start : start + size]) for start in range(0, len(order), size)]

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

    def _chunk(self, rows: int) -> int:
        """How many vectors share one pass over a batch of `rows` items."""
        if rows == 1:
            return 1  # one row rounds differently from several in some kernels: never tiled
        limit = self.rows_per_pass or self.sizer.size * ROWS_FACTOR
        return max(1, limit // rows)

    def _steer_batch(self, batch: Batch, layer: str, module, vectors, read) -> np.ndarray:
        """[K, len(read), B, D] for one batch, K vectors in chunks of tiled passes."""
        rows, parts, start = len(batch.idx), [], 0
        size = self._chunk(rows) if self.replayable else 1
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

    def _steer_pass(self, batch: Batch, layer: str, module, chunk: torch.Tensor, read):
        """The adapter's states for the batch tiled len(chunk) times, row k * B + b steered by
        chunk[k]: replayed below the steering layer, or (fallback) a full pass per vector."""
        if not self.replayable:
            with adding(module, chunk[0]):
                return self.adapter.forward(self._inputs(batch.idx, read))
        replay = Replay(batch.records, layer, chunk)
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

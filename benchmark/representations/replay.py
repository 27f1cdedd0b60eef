"""Recording and replaying module calls, for steered passes (benchmark.representations.steering):
a module's outputs recorded once (`recording`), then replayed, tiled for K steering vectors,
passed through, or run once on shared input while the adapter's forward runs again (`Replay`,
`replaced`), and a vector added to a module's output (`adding`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

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

    def __init__(
        self,
        records: dict[str, list[Call]],
        steer: str,
        vectors: torch.Tensor,
        rows_delta: torch.Tensor | None = None,
    ):
        self.records, self.steer, self.vectors = records, steer, vectors
        # [rows, D] added on top, row by row (the first-order passes differentiate through it):
        # only for an untiled pass whose steering layer runs once over the whole batch
        self.rows_delta = rows_delta
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
            if self.rows_delta is not None:
                if n != 1 or len(self.rows_delta) != len(k):
                    raise ReplayMismatch(
                        f"{self.steer}: a per-row shift needs one call over the whole batch "
                        f"({n} recorded calls of {call.rows} rows)"
                    )
                shift = shift + self.rows_delta.to(shift.device)
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
        shift = vector.to(hidden.device, hidden.dtype)
        if shift.dim() == 2:  # one vector per row: [B, D] -> [B, 1, ..., D]
            shift = shift.reshape(len(shift), *([1] * (hidden.dim() - 2)), shift.shape[-1])
        return _with_first(output, hidden + shift)

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()

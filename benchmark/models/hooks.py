"""Forward hooks that read every layer's output, shared by the adapters.

Layer states are taken from the layer modules themselves, so a task that hooks `layer_module(name)`
to add a vector sees (and changes) exactly what the adapter returns. The input of the first layer
(the embeddings after positional encoding) is not the output of any module in most models; a `Tap`
(an identity module) is spliced in front of the first layer during the forward pass so that this
point too has a module whose output is the state.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import torch
from torch import nn

from benchmark.models.base import LayerStates

_DIFFERENTIABLE: ContextVar[bool] = ContextVar("differentiable", default=False)


@contextmanager
def differentiable() -> Iterator[None]:
    """Adapters' forward passes inside the block keep the autograd graph (no inference mode, the
    captured states not detached): the first-order steering effects of
    `SteeredPasses.gradients` differentiate a read-out through the layers above the hook."""
    token = _DIFFERENTIABLE.set(True)
    try:
        with torch.enable_grad():
            yield
    finally:
        _DIFFERENTIABLE.reset(token)


def is_differentiable() -> bool:
    """Inside `differentiable`: tensors made once in inference mode and kept (Whisper's silence
    projections) must not enter the pass (autograd cannot save them)."""
    return _DIFFERENTIABLE.get()


def forward_mode():
    """The context an adapter's forward pass runs in: inference mode, unless `differentiable`."""
    return torch.inference_mode(not _DIFFERENTIABLE.get())


class Tap(nn.Identity):
    """A named point in the forward pass: its output is the tensor routed through it."""


class Stage(nn.Module):
    """A step of an adapter's forward pass that computes from the batch's inputs alone (features,
    the encoder output a decoder cross-attends to), made a module so that steered passes can
    record its output once and replay it (`replay_prefix`, benchmark/representations/steering.py).
    Calling it calls `fn` with the same arguments."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *args, **kwargs):
        return self.fn(*args, **kwargs)


def first_tensor(output: object) -> torch.Tensor:
    """A layer's hidden states out of whatever it returns (tensor, tuple, or ModelOutput)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    hidden = getattr(output, "last_hidden_state", None)
    if isinstance(hidden, torch.Tensor):
        return hidden
    raise TypeError(f"cannot find hidden states in a layer output of type {type(output).__name__}")


def _route_through_tap(tap: Tap):
    """A pre-hook that passes the layer's hidden-states input through `tap` (so hooks on it apply)."""

    def hook(module, args, kwargs):
        if args:
            return (tap(args[0]), *args[1:]), kwargs
        if "hidden_states" in kwargs:
            return args, {**kwargs, "hidden_states": tap(kwargs["hidden_states"])}
        raise TypeError(f"{type(module).__name__} was called without hidden states to tap")

    return hook


@contextmanager
def capture(
    points: dict[str, nn.Module], taps: Sequence[tuple[Tap, nn.Module]] = ()
) -> Iterator[dict[str, torch.Tensor]]:
    """Record the output of each module in `points` (name -> module) while the block runs.

    `taps` lists (tap, layer) pairs: the tap is spliced in front of `layer` for the duration. Hooks
    are registered after any the caller installed (so steering applies before reading) and are
    removed on exit, also when the forward pass raises. A module that runs more than once keeps
    its last output.
    """
    captured: dict[str, torch.Tensor] = {}
    handles = []

    def reader(name: str):
        def hook(module, args, output):
            # clone: a later in-place edit (e.g. a steering hook downstream) must not alter it
            hidden = first_tensor(output)
            captured[name] = (hidden if _DIFFERENTIABLE.get() else hidden.detach()).clone()

        return hook

    try:
        for tap, layer in taps:
            handles.append(
                layer.register_forward_pre_hook(_route_through_tap(tap), with_kwargs=True)
            )
        for name, module in points.items():
            handles.append(module.register_forward_hook(reader(name)))
        yield captured
    finally:
        for handle in handles:
            handle.remove()


@dataclass
class Positions:
    """What an adapter's forward pass says about one layer's positions: its mask [B, T] (True =
    real), the seconds per position for audio frames, the character spans for text positions."""

    mask: torch.Tensor
    frame_seconds: float | None = None
    char_spans: torch.Tensor | None = None  # [B, T, 2] int64, (-1, -1) where not the text


def finalize(
    captured: dict[str, torch.Tensor],
    positions: dict[str, Positions],
    names: Sequence[str],
    model_id: str,
) -> dict[str, LayerStates]:
    """Check, trim and package the captured states, in `names` order.

    Every layer needs its own positions (mask [B, T] bool, T = that layer's length). States stay
    on the model's device and in its dtype (pooling happens there; see representations/extract.py),
    cut after the last real position of any item (trailing all-padding columns dropped) and zeroed
    at padding positions, in place: the captured tensors are the hooks' own copies. A NaN/inf at a
    real position raises, naming model, layer and batch item.
    """
    out: dict[str, LayerStates] = {}
    for name in names:
        if name not in captured:
            raise RuntimeError(
                f"{model_id}: layer {name!r} did not run in the forward pass (its hook never fired)"
            )
        hidden = captured[name]
        where = positions[name]
        mask = where.mask.to(device=hidden.device, dtype=torch.bool)
        if hidden.shape[:2] != mask.shape:
            raise RuntimeError(
                f"{model_id}: layer {name!r} has states of shape {tuple(hidden.shape)} but a mask "
                f"of shape {tuple(mask.shape)}"
            )
        real = mask.any(0).nonzero()
        length = int(real[-1]) + 1 if len(real) else 0  # up to the last real position of any item
        hidden, mask = hidden[:, :length], mask[:, :length]
        bad = ~torch.isfinite(hidden).all(-1) & mask
        if bad.any():
            item, pos = (int(i) for i in bad.nonzero()[0])
            raise FloatingPointError(
                f"{model_id}: non-finite hidden states (NaN/inf) at layer {name!r}, batch item "
                f"{item}, position {pos}; check the model weights and dtype"
            )
        spans = where.char_spans
        if spans is not None:
            if spans.shape[:2] != where.mask.shape:
                raise RuntimeError(
                    f"{model_id}: layer {name!r} has char spans of shape {tuple(spans.shape)} "
                    f"but a mask of shape {tuple(where.mask.shape)}"
                )
            spans = spans[:, :length].to(device=hidden.device, dtype=torch.int64)
        out[name] = LayerStates(
            hidden=hidden.masked_fill_(~mask[..., None], 0.0),
            mask=mask,
            frame_seconds=where.frame_seconds,
            char_spans=spans,
        )
    return out


def lengths_to_mask(lengths: torch.Tensor | Sequence[int], width: int) -> torch.Tensor:
    """[B] lengths -> [B, width] bool mask, True for the first `length` positions."""
    lengths = torch.as_tensor(lengths, dtype=torch.long)
    return torch.arange(width)[None, :] < lengths[:, None]

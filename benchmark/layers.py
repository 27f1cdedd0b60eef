"""One layer axis for every kind: layer names, their relative depth in their stack, and the
pairing of two stacks' layers by depth (a speech encoder with an adaptor against a text encoder,
an encoder against a decoder). Everything may import this module; it imports nothing of the
project."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def relative_depth(index: int, n_layers: int) -> float:
    """0 for the first layer of a stack (its embeddings), 1 for the last."""
    return 0.0 if n_layers <= 1 else round(index / (n_layers - 1), 4)


@dataclass(frozen=True)
class LayerAxis:
    """The layers a series runs over: names (for two stacks paired by depth, the pair's label),
    relative depth of each (0 = embeddings, 1 = last layer), the stack, and which layers a
    best-layer choice may pick (the embeddings read the input itself, not a representation the
    model built: a kind may leave them out of the choice)."""

    names: tuple[str, ...]
    depths: tuple[float, ...]
    stack: str | None = None
    selectable: tuple[bool, ...] | None = None

    @classmethod
    def of(
        cls,
        names: Sequence[str],
        depths: Sequence[float] | None = None,
        stack: str | None = None,
        selectable: Sequence[bool] | None = None,
    ) -> LayerAxis:
        names = tuple(names)
        if depths is None:
            depths = [relative_depth(i, len(names)) for i in range(len(names))]
        return cls(names, tuple(depths), stack, None if selectable is None else tuple(selectable))

    def __len__(self) -> int:
        return len(self.names)


def pair_layers(a: Sequence[str], b: Sequence[str]) -> list[tuple[str, str]]:
    """Pair two stacks' layers by relative depth: every layer of the shorter stack with the
    longer stack's layer at the same depth (identity when the depths match)."""
    a, b = list(a), list(b)
    short, long_, a_short = (a, b, True) if len(a) <= len(b) else (b, a, False)
    if len(short) == 1:
        mapping = [(short[0], long_[-1])]
    else:
        mapping = [
            (s, long_[round(i * (len(long_) - 1) / (len(short) - 1))]) for i, s in enumerate(short)
        ]
    return mapping if a_short else [(x, y) for y, x in mapping]


def paired_axis(
    a_name: str, a_layers: Sequence[str], b_name: str, b_layers: Sequence[str]
) -> tuple[LayerAxis, list[tuple[str, str]]]:
    """The axis of two sides read together (speech and text, queries and targets): their layers
    paired by depth, each point labelled "a:x|b:y" when the sides differ (a name alone when the
    same layers serve both), at the depth of the shorter stack's layer."""
    pairs = pair_layers(a_layers, b_layers)
    same = a_name == b_name and list(a_layers) == list(b_layers)
    labels = [x if same else f"{a_name}:{x}|{b_name}:{y}" for x, y in pairs]
    return LayerAxis.of(labels), pairs

"""Whisper's speech passes by window: a batch run as one pass per window size, and audio longer
than the encoder's 30 s window encoded window by window, put back together per clip."""

from __future__ import annotations

import torch

from benchmark.models.base import LayerStates
from benchmark.models.hooks import lengths_to_mask


def merge_rows(parts: list[tuple[list[int], LayerStates]], n_items: int) -> LayerStates:
    """Batch rows computed in several passes, put back in batch order (padded to the widest)."""
    first = parts[0][1]
    width = max(s.hidden.shape[1] for _, s in parts)
    hidden = first.hidden.new_zeros((n_items, width, first.hidden.shape[-1]))
    mask = torch.zeros((n_items, width), dtype=torch.bool, device=first.mask.device)
    spans = None
    if first.char_spans is not None:
        spans = torch.full((n_items, width, 2), -1, dtype=first.char_spans.dtype)
        spans = spans.to(first.char_spans.device)
    for idx, states in parts:
        t = states.hidden.shape[1]
        hidden[idx, :t], mask[idx, :t] = states.hidden, states.mask
        if spans is not None:
            spans[idx, :t] = states.char_spans
    return LayerStates(hidden, mask, first.frame_seconds, spans)


def join_windows(states: LayerStates, owners: list[int], n_items: int) -> LayerStates:
    """Concatenate the real positions of the windows that belong to each item, in order."""
    rows = [
        torch.cat([states.hidden[j][states.mask[j]] for j, o in enumerate(owners) if o == i])
        for i in range(n_items)
    ]
    width = max(len(r) for r in rows)
    hidden = states.hidden.new_zeros((n_items, width, states.hidden.shape[-1]))
    for i, row in enumerate(rows):
        hidden[i, : len(row)] = row
    mask = lengths_to_mask([len(r) for r in rows], width)
    return LayerStates(hidden=hidden, mask=mask)

"""The lens itself: the stack it reads (one with an output head) and the projection of each
layer's states onto the output vocabulary, log_softmax(final_norm(h) @ W_U^T) (lens "normed")
or log_softmax(h @ W_U^T) (lens "raw")."""

from __future__ import annotations

import numpy as np
import torch

from benchmark.errors import NotApplicable

LENSES = {True: "normed", False: "raw"}


def head_stack(model, stack_asked: str | None):
    """(adapter, stack, head): the stack the lens reads, with its output head. Which stacks
    predict tokens is known from the plan (stack roles), before any weights load."""
    stacks = model.stacks
    wanted = [stack_asked] if stack_asked else [n for n, s in stacks.items() if s.head]
    wanted = [n for n in wanted if n in stacks and stacks[n].head]
    if not wanted:
        raise NotApplicable(
            f"no stack of this model predicts tokens (its stacks: {list(stacks)}"
            + (f", asked for {stack_asked!r}" if stack_asked else "")
            + "): no output vocabulary (unembedding) to project its layers onto"
        )
    adapter = model.load()
    for stack in wanted:
        head = adapter.output_head(stack)
        if head is not None:
            return adapter, stack, head
    raise NotApplicable(f"no output head (unembedding) on {wanted}: nothing to project onto")


def describe_lens(head, norm: bool) -> str:
    if norm and head.final_norm is not None:
        return f"log_softmax({type(head.final_norm).__name__}(h) @ W_U^T)"
    return "log_softmax(h @ W_U^T) (no final norm)"


def log_probs(
    head, hidden: torch.Tensor, input_id: list[int], english_id: list[int], norm: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per layer, X[i, j] and E[i, j]: the log-probability at word i's position of word j's
    input-language and English tokens ([L, W, W] each, float64; the diagonal: the word's own).
    Log-probabilities, not probabilities: middle layers give both words tiny mass, and their
    ratio must survive float32 (under a uniform distribution every entry is exactly -log V)."""
    union = sorted(set(input_id) | set(english_id))
    col = {t: c for c, t in enumerate(union)}
    index = torch.tensor(union, device=head.unembedding.device)
    gathered = []
    with torch.no_grad():
        for layer in hidden:  # [W, D]
            logp = head.logits(layer, apply_final_norm=norm).float().log_softmax(-1)
            gathered.append(logp.index_select(-1, index).double().cpu().numpy())
    g = np.stack(gathered)  # [L, W, U]
    return g[:, :, [col[t] for t in input_id]], g[:, :, [col[t] for t in english_id]]

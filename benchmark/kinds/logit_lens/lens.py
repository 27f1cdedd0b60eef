"""The projection itself and its statistics: per layer, the probability at each word's position
of its input-language and English first tokens, and the four measures with nulls and replicates."""

from __future__ import annotations

import numpy as np
import torch

from benchmark.kinds.logit_lens.words import Words
from benchmark.metrics.statistics import Estimate


def lens_matrices(head, hidden: torch.Tensor, words: Words, keep: list[int], norm: bool):
    """Per layer, M_x[i, j] and M_e[i, j]: the probability at word i's position of word j's
    input-language and English first tokens ([L, W, W] each, float64)."""
    x_ids = [words.input_ids[w] for w in keep]
    e_ids = [words.english_ids[w] for w in keep]
    union = sorted({t for ids in x_ids + e_ids for t in ids})
    col = {t: c for c, t in enumerate(union)}
    ind_x = np.zeros((len(union), len(keep)))
    ind_e = np.zeros((len(union), len(keep)))
    for j, (xs, es) in enumerate(zip(x_ids, e_ids, strict=True)):
        ind_x[[col[t] for t in xs], j] = 1.0
        ind_e[[col[t] for t in es], j] = 1.0
    index = torch.tensor(union, device=head.unembedding.device)
    gathered = []
    with torch.no_grad():
        for layer in hidden:  # [W, D]
            probs = head.logits(layer, apply_final_norm=norm).float().softmax(-1)
            gathered.append(probs.index_select(-1, index).double().cpu().numpy())
    g = np.stack(gathered)  # [L, W, U]
    return g @ ind_x, g @ ind_e


def layer_estimates(mx, me, item, perms, weights) -> dict[str, Estimate]:
    """The four measures at one layer from M_x, M_e [W, W] (diagonal: the word's own tokens)."""
    rows = np.arange(len(mx))
    dx, de = np.diag(mx), np.diag(me)
    px = mx[rows[None, :], perms] if perms is not None else None  # [P, W]
    pe = me[rows[None, :], perms] if perms is not None else None
    w = weights[:, item] if weights is not None else None  # [R, W]

    def share(e, x):
        total = e + x
        return np.where(total > 0, e / np.where(total > 0, total, 1), np.nan)

    def est(value, null, reps):
        return Estimate(float(value), null, reps)

    def wmean(v):
        return None if w is None else (w @ v) / w.sum(1)

    wins = (de > dx).astype(float)
    return {
        "p_input": est(dx.mean(), None if px is None else px.mean(1), wmean(dx)),
        "p_english": est(de.mean(), None if pe is None else pe.mean(1), wmean(de)),
        "english_share": est(
            share(de.sum(), dx.sum()),
            None if px is None else share(pe.sum(1), px.sum(1)),
            None if w is None else share(w @ de, w @ dx),
        ),
        "english_wins": est(wins.mean(), None if px is None else (pe > px).mean(1), wmean(wins)),
    }

"""The lens's measures at one layer, with their nulls and replicates.

Per word, d = log p(English token) - log p(input-language token) at its predicting position:
  english_share     mean of p_e / (p_e + p_x) = sigmoid(d)     neutral 0.5
  english_log_odds  mean of d                                    neutral 0
  english_wins      share of words with p_e > p_x (a tie: 1/2)   neutral 0.5
  p_input, p_english  mean probabilities of the two tokens       (no neutral value)
A uniform next-token distribution gives d = 0 for every word (both sides are one token), so the
first three read exactly their neutral value there.

Nulls. The three comparisons: the English and input-language labels swapped per concept, each
concept in each draw with probability exactly 1/2 (d -> -d for all its words together: a concept
recurs in several sentences with the same two tokens, so its words are not independent). The
null is symmetric about the neutral value by construction; a model with no preference between
the languages sits in it. p_input and p_english: the words re-paired with other positions of the
same language (word i's position scored on word j's token), the mass an unrelated word gets.
"""

from __future__ import annotations

import numpy as np

from benchmark.evaluation import Measure
from benchmark.metrics.statistics import Estimate

COMPARISONS = {  # descriptive (which language a layer reads in), read against `neutral`
    "english_share": Measure("english_share", (0.0, 1.0), ranked=False, neutral=0.5),
    "english_log_odds": Measure("english_log_odds", None, ranked=False, neutral=0.0),
    "english_wins": Measure("english_wins", (0.0, 1.0), ranked=False, neutral=0.5),
}
MASSES = {
    "p_input": Measure("p_input", (0.0, 1.0), ranked=False),
    "p_english": Measure("p_english", (0.0, 1.0), ranked=False),
}
MEASURES = {**COMPARISONS, **MASSES}


def concept_swaps(labels: list[str], draws) -> np.ndarray | None:
    """[P, W] True where draw k swaps the labels of word w: concept c (of C) is swapped when the
    k-th permutation of 2C units sends it into the first half (probability exactly 1/2; the
    swapped and kept sets are exchangeable, so the null is symmetric about the neutral value)."""
    concepts = sorted(set(labels))
    perms = draws.permutations(2 * len(concepts))
    if perms is None:
        return None
    index = np.array([concepts.index(label) for label in labels])
    return perms[:, index] < len(concepts)


def _share(d: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(d / 2.0))  # sigmoid(d), exactly 0.5 at d = 0, no overflow


def _wins(d: np.ndarray) -> np.ndarray:
    return (d > 0).astype(float) + 0.5 * (d == 0)


PER_WORD = {"english_share": _share, "english_log_odds": lambda d: d, "english_wins": _wins}


def layer_estimates(
    x: np.ndarray, e: np.ndarray, item: np.ndarray, swaps, perms, weights
) -> dict[str, Estimate]:
    """The measures at one layer from X, E [W, W] (log-probabilities; diagonal: the word's own
    tokens), the words' sentences `item`, `swaps` [P, W], re-pairings `perms` [P, W] and the
    sentences' replicate weights [R, n]."""
    d = np.diag(e) - np.diag(x)
    w = weights[:, item] if weights is not None else None  # [R, W]

    def wmean(v):
        if w is None:
            return None
        total = w.sum(1)
        return np.where(total > 0, w @ v / np.where(total > 0, total, 1), np.nan)

    out = {}
    for name, per_word in PER_WORD.items():
        signed = None if swaps is None else np.where(swaps, -d[None, :], d[None, :])
        null = None if signed is None else per_word(signed).mean(1)
        out[name] = Estimate(float(per_word(d).mean()), null, wmean(per_word(d)))
    rows = np.arange(len(d))[None, :]
    for name, logp in (("p_input", x), ("p_english", e)):
        own = np.exp(np.diag(logp))
        null = None if perms is None else np.exp(logp[rows, perms]).mean(1)
        out[name] = Estimate(float(own.mean()), null, wmean(own))
    return out

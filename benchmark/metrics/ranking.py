"""Scores between queries and targets and what retrieval reads from them: cosine and length
similarities, each candidate's rank with ties counted (`rank_table`), and LASER's ratio margin
(`margin_matrix`, `margin_scores`). benchmark.metrics.retrieval turns these into per-query
outcomes and estimates; the module doc there defines the rules.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
import torch

Direction = Literal["q2t", "t2q"]
Candidates = Literal["knn", "all"]
DIRECTIONS = ("q2t", "t2q")
TIE_DECIMALS = 12


class RankTable(NamedTuple):
    """For each query (row) and candidate (column): how many candidates score strictly higher
    (`above`) and how many OTHER candidates score the same (`tied`)."""

    above: np.ndarray
    tied: np.ndarray


def _matrix(x, name: str) -> np.ndarray:
    a = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D matrix, got shape {a.shape}")
    if not np.isfinite(a).all():
        i, j = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"{name}: non-finite value at row {i}, column {j}")
    return a


def cosine_similarity(q, t) -> np.ndarray:
    """S[i, j] = cos(q_i, t_j) (float64, rows L2-normalised); rows of q and t are paired."""
    q, t = _matrix(q, "q"), _matrix(t, "t")
    if q.shape[0] != t.shape[0]:
        raise ValueError(
            f"q has {q.shape[0]} rows but t has {t.shape[0]}; row i of q must match row i of t"
        )
    if q.shape[1] != t.shape[1]:
        raise ValueError(
            f"q and t must share one space to compare by cosine: dims {q.shape[1]} vs {t.shape[1]}"
        )
    out = []
    for name, m in (("q", q), ("t", t)):
        norm = np.linalg.norm(m, axis=1, keepdims=True)
        if (norm == 0).any():
            raise ValueError(f"{name}: row {int(np.argmin(norm))} is all zeros (no direction)")
        out.append(m / norm)
    return out[0] @ out[1].T


def length_similarity(len_q, len_t) -> np.ndarray:
    """Length-only scores S[i, j] = -|log len_q[i] - log len_t[j]| (durations for speech,
    characters for text). Retrieval on these shows how much of a score length alone carries."""
    lq = np.asarray(len_q, dtype=np.float64).reshape(-1)
    lt = np.asarray(len_t, dtype=np.float64).reshape(-1)
    if lq.shape != lt.shape:
        raise ValueError(f"len_q has {lq.size} lengths but len_t has {lt.size}; they are paired")
    for name, v in (("len_q", lq), ("len_t", lt)):
        if not (np.isfinite(v).all() and (v > 0).all()):
            raise ValueError(f"{name}: lengths must be positive and finite")
    return -np.abs(np.log(lq)[:, None] - np.log(lt)[None, :])


def _square(sim) -> np.ndarray:
    s = _matrix(sim, "sim")
    if s.shape[0] != s.shape[1] or s.shape[0] < 2:
        raise ValueError(
            f"sim must be a square n x n score matrix with n >= 2 (row i = query i, column i = "
            f"its target), got shape {s.shape}"
        )
    return s


def _oriented(sim: np.ndarray, direction: str) -> np.ndarray:
    if direction == "q2t":
        return sim
    if direction == "t2q":
        return sim.T
    raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")


def rank_table(scores, tie_decimals: int | None = TIE_DECIMALS) -> RankTable:
    """`above` and `tied` counts (int64, n x n) for every query row and candidate column.

    Scores are rounded to `tie_decimals` decimals before comparing (None: exact). -inf marks a
    candidate that is never chosen (see `margin_scores`). O(n^2 log n).
    """
    s = np.asarray(scores, dtype=np.float64)
    if tie_decimals is not None:
        s = np.round(s, tie_decimals)
    n = s.shape[1]
    order = np.argsort(s, axis=1, kind="stable")
    srt = np.take_along_axis(s, order, 1)
    pos = np.broadcast_to(np.arange(n), s.shape)
    starts = np.ones(s.shape, dtype=bool)  # first of a run of equal scores
    starts[:, 1:] = srt[:, 1:] != srt[:, :-1]
    ends = np.ones(s.shape, dtype=bool)  # last of a run
    ends[:, :-1] = starts[:, 1:]
    first = np.maximum.accumulate(np.where(starts, pos, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, pos, n)[:, ::-1], axis=1)[:, ::-1]
    above, tied = np.empty(s.shape, np.int64), np.empty(s.shape, np.int64)
    np.put_along_axis(above, order, n - 1 - last, 1)
    np.put_along_axis(tied, order, last - first, 1)
    return RankTable(above, tied)


def _knn_means(sim: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the k largest scores of each row (query side) and of each column (target side)."""
    n = sim.shape[0]
    rows = -np.partition(-sim, k - 1, axis=1)[:, :k] if k < n else sim
    cols = -np.partition(-sim, k - 1, axis=0)[:k, :] if k < n else sim
    return rows.mean(1), cols.mean(0)


def _check_k(k: int, n: int) -> None:
    if not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"k (neighbours for the margin) must be an integer in [1, n={n}], got {k}")


def margin_matrix(sim, k: int = 4) -> np.ndarray:
    """LASER's ratio margin for every pair: cos(x, y) / ((knn_x + knn_y) / 2), unmasked.

    knn_x: mean of query x's k largest cosines to the targets; knn_y: mean of target y's k
    largest cosines to the queries. Symmetric in its arguments: the "t2q" margins are the
    transpose. Raises if a kNN mean is not positive (the ratio is meaningless there).
    """
    s = _square(sim)
    _check_k(k, s.shape[0])
    kq, kt = _knn_means(s, k)
    den = (kq[:, None] + kt[None, :]) / 2
    if (den <= 0).any():
        i, j = np.argwhere(den <= 0)[0]
        raise ValueError(
            f"ratio margin undefined: mean of the k={k} nearest scores is not positive (pair "
            f"{i}, {j}); the margin needs cosine similarities, not e.g. length scores. Use the "
            "rank metrics (accuracy@1, recall@k, mrr) or xsim_absolute for such scores"
        )
    return s / den


def margin_scores(
    sim, k: int = 4, direction: Direction = "q2t", candidates: Candidates = "knn"
) -> np.ndarray:
    """Ratio margins oriented for `direction` (rows = queries), with -inf for candidates outside
    the query's k cosine-nearest targets when candidates="knn" (LASER). A target is a kNN
    candidate when fewer than k targets have a strictly higher cosine (all tied at the k-th
    place count)."""
    s = _square(sim)
    m = _oriented(margin_matrix(s, k), direction).copy()
    if candidates == "knn":
        above = rank_table(_oriented(s, direction)).above
        m[above >= k] = -np.inf
    elif candidates != "all":
        raise ValueError(f"candidates must be 'knn' (LASER) or 'all', got {candidates!r}")
    return m

"""Retrieval across languages and modalities: accuracy@1, recall@k, MRR and LASER's xSIM, with
permutation nulls and replicate draws over queries, and a length-only baseline.

Setting. Q (n x d) and T (n x d'), row i of Q matches row i of T (the same sentence in another
language or modality). `cosine_similarity` L2-normalises the rows (float64) and returns
S = Qn Tn^T; row i of S scores every target for query i (direction "q2t"); its transpose serves
the other direction ("t2q"). Every function below takes S, so any score matrix works (higher =
better), e.g. the length baseline.

Ranks and ties. For query i and any candidate j, `rank_table` counts above[i, j] = candidates
scoring strictly higher than j and tied[i, j] = OTHER candidates scoring exactly as j (scores
rounded to `tie_decimals` first, so float noise does not split a tie). The rank of candidate j
lies in [above, above + tied] (0 = first). Two rules turn that into outcomes:
  - "expected" (default): the expectation under a uniformly random order of the tied
    candidates: hit@k = clip(k - above, 0, tied + 1) / (tied + 1),
    RR = (H[above + tied + 1] - H[above]) / (tied + 1) (H = harmonic numbers),
    rank = above + tied / 2. Over the n candidates of one query these credits sum exactly as for
    a strict order, so chance levels stay exact with ties: acc@1 = 1/n, recall@k = k/n,
    MRR = H_n / n (`chance_level`). The length baseline has many ties (equal lengths): the
    pessimistic rule would make length look weaker than it is.
  - "pessimistic": rank = above + tied (a tie counts against the true target); chance levels
    are then upper bounds.
With continuous embeddings ties do not happen and the two rules agree.

xSIM (LASER, `source/xsim.py`; Artetxe & Schwenk 2019). Ratio margin
margin(x, y) = cos(x, y) / ((knn_x + knn_y) / 2), knn_x = mean cosine of x's k nearest targets,
knn_y = mean cosine of y's k nearest queries (k = 4; the true partner counts among them, as in
LASER). LASER takes the best-margin candidate among x's k cosine-nearest targets only
(`candidates="knn"`, default; with ties at the k-th cosine every tied target is a candidate);
`candidates="all"` takes it over all n targets. A query is an error when its best-margin
candidate is not its own target (ties: "expected" credit as above). xSIM = error share. The
"absolute" mode (`xsim_absolute`) is plain cosine top-1 error = 1 - accuracy@1. The margin
matrix is symmetric in its two arguments, so the reverse direction uses its transpose (with that
direction's own kNN candidate sets). The ratio margin needs positive kNN means (cosines): for
other scores (the length baseline) use the rank metrics.

Metrics (names for `metrics=`): "accuracy@1" (hit@1), "recall@K" for any K >= 1 (hit@K; MTEB's
FLEURS retrieval main score is hit rate at 5), "mrr", "mean_rank" (0-based; lower = better),
"xsim" (error, lower = better), "xsim_absolute" (error). Every metric is a mean over queries of a
per-query outcome (`query_outcomes`).

Statistics (`retrieval_estimates`): per metric a point value, null draws [P] and replicate draws
[R], the shapes the harness's statistics layer takes.
  - Null: the same metric with the pairing shuffled: permutation row p makes perm[p, i] the
    "true" target of query i (and query i the true partner of target perm[p, i] in "t2q"). The
    ranks of every candidate are computed once (`rank_table`) and gathered per permutation: no
    re-sorting. For xSIM the margin matrix and each query's best-margin candidate stay fixed;
    only the gold index changes. The mean of the null is the chance level (exactly, over all
    permutations).
  - Replicates: weighted means of the per-query outcomes with the weights of each row of
    `query_weights` [R, n] (e.g. 0/1 half-samples from `similarity.subsample_counts`). The
    candidate pool stays all n targets, so the chance level does not change across replicates.
    The two directions use the same weights for sentence i (query i in "q2t", target i in
    "t2q"), so a two-direction average is the elementwise mean of the two entries' value, null
    and replicates.

Complexity: similarity O(n^2 d); rank tables O(n^2 log n) (one argsort of every row, then
linear scans for the runs of ties; one table per direction for the cosines and one for the
masked margins when xSIM is asked for); each null draw or replicate O(n) per metric (P x n
gathers, R x n weighted sums). Memory: a few n x n arrays per direction. Measured (1 thread):
n = 200, d = 512, 13 layers, 5 metrics x 2 directions, P = R = 200: 0.6 s in all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np

from benchmark.metrics.ranking import (  # noqa: F401 (re-exported: the retrieval API)
    DIRECTIONS,
    TIE_DECIMALS,
    Candidates,
    Direction,
    RankTable,
    _oriented,
    _square,
    cosine_similarity,
    length_similarity,
    margin_matrix,
    margin_scores,
    rank_table,
)
from benchmark.metrics.statistics import Estimate
from benchmark.metrics.statistics import p_value as _p_value

Ties = Literal["expected", "pessimistic"]
DEFAULT_METRICS = ("accuracy@1", "recall@5", "mrr", "xsim")
LENGTH_METRICS = ("accuracy@1", "recall@5", "mrr")
# Metrics where lower is better (errors, ranks); the rest are hit rates.
LOWER_IS_BETTER = ("mean_rank", "xsim", "xsim_absolute")
_RECALL = re.compile(r"recall@([1-9][0-9]*)$")


# --------------------------------------------------------------------------------------------
# Outcomes from (above, tied)


def _harmonic(n: int) -> np.ndarray:
    """H[0..n+1]: H[m] = sum_{r=1}^{m} 1/r."""
    return np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, n + 2))])


def _hit(above: np.ndarray, tied: np.ndarray, k: int, ties: str) -> np.ndarray:
    if ties == "pessimistic":
        return (above + tied < k).astype(np.float64)
    return np.clip(k - above, 0, tied + 1) / (tied + 1)


def _reciprocal(above: np.ndarray, tied: np.ndarray, ties: str, h: np.ndarray) -> np.ndarray:
    if ties == "pessimistic":
        return 1.0 / (above + tied + 1)
    return (h[above + tied + 1] - h[above]) / (tied + 1)


def _rank(above: np.ndarray, tied: np.ndarray, ties: str) -> np.ndarray:
    return (above + tied if ties == "pessimistic" else above + tied / 2).astype(np.float64)


def _parse(metric: str) -> tuple[str, int]:
    m = _RECALL.match(metric)
    if m:
        return "recall", int(m.group(1))
    if metric in ("accuracy@1", "mrr", "mean_rank", "xsim", "xsim_absolute"):
        return metric, 1
    raise ValueError(
        f"unknown retrieval metric {metric!r}; use accuracy@1, recall@K (K >= 1), mrr, "
        "mean_rank, xsim or xsim_absolute"
    )


def _check_ties(ties: str) -> None:
    if ties not in ("expected", "pessimistic"):
        raise ValueError(f"ties must be 'expected' or 'pessimistic', got {ties!r}")


class _Tables:
    """The rank tables one direction needs, built lazily (the margin one only for xSIM)."""

    def __init__(self, sim, direction, k, candidates, tie_decimals):
        if candidates not in ("knn", "all"):
            raise ValueError(f"candidates must be 'knn' (LASER) or 'all', got {candidates!r}")
        self.sim, self.direction = sim, direction
        self.k, self.candidates, self.tie_decimals = k, candidates, tie_decimals
        self._cos: RankTable | None = None
        self._margin: RankTable | None = None

    @property
    def cos(self) -> RankTable:
        if self._cos is None:
            self._cos = rank_table(_oriented(self.sim, self.direction), self.tie_decimals)
        return self._cos

    @property
    def margin(self) -> RankTable:
        if self._margin is None:
            m = _oriented(margin_matrix(self.sim, self.k), self.direction).copy()
            if self.candidates == "knn":
                m[self.cos.above >= self.k] = -np.inf
            self._margin = rank_table(m, self.tie_decimals)
        return self._margin


def _outcome(metric: str, tables: _Tables, rows, cols, ties: str, h: np.ndarray) -> np.ndarray:
    """Per-query outcome of `metric` for queries `rows` with gold candidates `cols`."""
    kind, kk = _parse(metric)
    if kind == "xsim":
        tab = tables.margin
        return 1.0 - _hit(tab.above[rows, cols], tab.tied[rows, cols], 1, ties)
    tab = tables.cos
    a, t = tab.above[rows, cols], tab.tied[rows, cols]
    if kind in ("accuracy@1", "recall"):
        return _hit(a, t, kk, ties)
    if kind == "xsim_absolute":
        return 1.0 - _hit(a, t, 1, ties)
    if kind == "mrr":
        return _reciprocal(a, t, ties, h)
    return _rank(a, t, ties)


def query_outcomes(
    sim,
    direction: Direction = "q2t",
    *,
    recall_k: int = 5,
    k: int = 4,
    candidates: Candidates = "knn",
    ties: Ties = "expected",
    tie_decimals: int | None = TIE_DECIMALS,
    xsim: bool = True,
) -> dict[str, np.ndarray]:
    """Per-query outcomes (arrays of n, query i's true target = i) for one direction:
    rank (0 = first; float under "expected" ties), hit@1, hit@{recall_k}, rr (reciprocal rank),
    xsim_absolute (cosine top-1 error) and, if `xsim`, xsim (ratio-margin error, k neighbours)."""
    s = _square(sim)
    _check_ties(ties)
    n = s.shape[0]
    tables = _Tables(s, direction, k, candidates, tie_decimals)
    idx, h = np.arange(n), _harmonic(n)
    names = {
        "rank": "mean_rank",
        "hit@1": "accuracy@1",
        f"hit@{recall_k}": f"recall@{recall_k}",
        "rr": "mrr",
        "xsim_absolute": "xsim_absolute",
    }
    if xsim:
        names["xsim"] = "xsim"
    return {key: _outcome(m, tables, idx, idx, ties, h) for key, m in names.items()}


# --------------------------------------------------------------------------------------------
# Estimates


def _check_permutations(perms, n: int) -> np.ndarray:
    p = np.asarray(perms)
    if p.ndim != 2 or p.shape[1] != n or not np.issubdtype(p.dtype, np.integer):
        raise ValueError(f"permutations must be integer indices of shape [P, n={n}], got {p.shape}")
    if len(p) and not (np.sort(p, axis=1) == np.arange(n)).all():
        raise ValueError("each row of permutations must be a permutation of 0..n-1")
    return p.astype(np.int64)


def _check_weights(weights, n: int, name: str) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != n:
        raise ValueError(f"{name} must have shape [R, n={n}], got {w.shape}")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"{name} must be finite and non-negative")
    if len(w) and (w.sum(1) <= 0).any():
        raise ValueError(f"{name}: row {int(np.argmin(w.sum(1)))} has zero total weight")
    return w


def retrieval_estimates(
    sim,
    metrics: Iterable[str] = DEFAULT_METRICS,
    *,
    permutations=None,
    query_weights=None,
    directions: Sequence[Direction] = DIRECTIONS,
    k: int = 4,
    candidates: Candidates = "knn",
    ties: Ties = "expected",
    tie_decimals: int | None = TIE_DECIMALS,
) -> dict[str, Estimate]:
    """Point value, null draws and replicate draws of each metric in each direction.

    sim: n x n scores (row = query, column = target; true target of query i is i), e.g.
      `cosine_similarity(q, t)` or `length_similarity(...)`.
    permutations: [P, n] integer rows, each a permutation of 0..n-1 (e.g.
      `similarity.permutations(n, P, seed).numpy()`); row p pairs query i with target
      perm[p, i]. None: no null.
    query_weights: [R, n] non-negative weights per sentence (e.g. 0/1 half-samples); replicate r
      = sum_i w[r, i] * outcome_i / sum_i w[r, i]. None: no replicates.
    Returns {"q2t/accuracy@1": Estimate(value, null[P], replicates[R]), ...} for every direction
    and metric. Chance levels: `chance_level`.
    """
    s = _square(sim)
    _check_ties(ties)
    n = s.shape[0]
    metrics = list(metrics)
    for m in metrics:
        _parse(m)
    perms = (
        _check_permutations(permutations, n)
        if permutations is not None
        else np.empty((0, n), np.int64)
    )
    w = (
        _check_weights(query_weights, n, "query_weights")
        if query_weights is not None
        else np.empty((0, n))
    )
    idx, h = np.arange(n), _harmonic(n)
    out: dict[str, Estimate] = {}
    for direction in directions:
        tables = _Tables(s, direction, k, candidates, tie_decimals)
        if direction == "q2t":  # query i, gold perm[i]
            rows, cols = np.broadcast_to(idx, perms.shape), perms
        else:  # query = target perm[i], gold = query i
            rows, cols = perms, np.broadcast_to(idx, perms.shape)
        for m in metrics:
            own = _outcome(m, tables, idx, idx, ties, h)
            null = _outcome(m, tables, rows, cols, ties, h).mean(1)
            reps = (w @ own) / w.sum(1) if len(w) else np.empty(0)
            out[f"{direction}/{m}"] = Estimate(float(own.mean()), null, reps)
    return out


def retrieval_scores(sim, metrics: Iterable[str] = DEFAULT_METRICS, **options) -> dict[str, float]:
    """Point values only: {"q2t/accuracy@1": 0.93, ...} (options as `retrieval_estimates`)."""
    return {key: e.value for key, e in retrieval_estimates(sim, metrics, **options).items()}


def length_baseline_estimates(
    len_q, len_t, metrics: Iterable[str] = LENGTH_METRICS, **options
) -> dict[str, Estimate]:
    """`retrieval_estimates` on `length_similarity(len_q, len_t)`: the score length alone earns.
    Report it beside every retrieval score. The ratio margin (xsim) is undefined on these
    scores; xsim_absolute (= 1 - accuracy@1) is fine. Ties (equal lengths) are frequent: the
    default "expected" rule credits them at their expected value, keeping chance levels exact."""
    metrics = list(metrics)
    if "xsim" in metrics:
        raise ValueError(
            "xsim (ratio margin) is undefined on length scores; use accuracy@1 / xsim_absolute"
        )
    return retrieval_estimates(length_similarity(len_q, len_t), metrics, **options)


def chance_level(metric: str, n: int) -> float:
    """Expected value of `metric` with a random pairing of n queries and n targets: the mean of
    its null (exact under the "expected" tie rule). accuracy@1 = 1/n, recall@K = min(K, n)/n,
    mrr = H_n / n, mean_rank = (n - 1) / 2, xsim and xsim_absolute = 1 - 1/n."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    kind, kk = _parse(metric.split("/")[-1])
    if kind in ("accuracy@1", "recall"):
        return min(kk, n) / n
    if kind == "mrr":
        return float(_harmonic(n)[n]) / n
    if kind == "mean_rank":
        return (n - 1) / 2
    return 1.0 - 1.0 / n


def p_value(estimate: Estimate, metric: str) -> float | None:
    """One-sided permutation p-value of the observed value against the null draws: the share
    (with +1 smoothing) of draws at least as good (>= for hit rates, <= for errors and ranks)."""
    return _p_value(estimate.value, estimate.null, metric.split("/")[-1] not in LOWER_IS_BETTER)

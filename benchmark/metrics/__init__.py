"""Metrics: representation similarity (SVCCA, CKA) with permutation nulls and intervals, and the
statistics every task kind shares (benchmark.metrics.statistics).

    decomposition.py  centre + decompose each representation once; SVCCA and CKA point estimates
    nulls.py          permutation nulls (the same permutations for every pair and layer)
    replicates.py     half-sample / jackknife / bootstrap replicates of the sentences
    intervals.py      replicates -> an interval inside the score's bounds
    similarity.py     many pairs at once: PairScore, pairwise_matrix, compare
    statistics.py     Estimate, means draw by draw, the selection-aware best layer
    ranking.py        query x target scores, ranks with ties, LASER's ratio margin
    retrieval.py      per-query outcomes (accuracy@1, recall@k, MRR, xSIM) and their draws
    clustering.py     Ward clusters, purity, deterministic caps
    concepts.py       latent concept analysis: cluster alignment with concept labels
"""

from benchmark.metrics.decomposition import (
    Decomposition,
    cka_from,
    decompose,
    k_for_variance,
    svcca_correlations,
    svcca_from,
)
from benchmark.metrics.intervals import interval_from_replicates
from benchmark.metrics.nulls import null_draws, permutations
from benchmark.metrics.replicates import (
    bootstrap_draws,
    jackknife_counts,
    replicate_counts,
    replicate_draws,
    resamples,
    subsample_counts,
)
from benchmark.metrics.similarity import PairScore, compare, pairwise_matrix

__all__ = [
    "Decomposition",
    "PairScore",
    "bootstrap_draws",
    "cka_from",
    "compare",
    "decompose",
    "interval_from_replicates",
    "jackknife_counts",
    "k_for_variance",
    "null_draws",
    "pairwise_matrix",
    "permutations",
    "replicate_counts",
    "replicate_draws",
    "resamples",
    "subsample_counts",
    "svcca_correlations",
    "svcca_from",
]

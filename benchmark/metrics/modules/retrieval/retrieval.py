"""Cross-lingual / cross-modal retrieval as an `evaluate` metric module; loads offline with
evaluate.load("<path to this dir>").

The maths lives in `benchmark.metrics.retrieval` (installed with the benchmark package); the
permutations, half-samples and CI formula are those of `benchmark.metrics.similarity`, so this
module and the benchmark's own code give identical numbers.
"""

import evaluate
import numpy as np
import torch

from benchmark.metrics import (
    interval_from_replicates,
    permutations,
    subsample_counts,
)
from benchmark.metrics.evaluate_io import pair_features
from benchmark.metrics.retrieval import (
    DEFAULT_METRICS,
    LENGTH_METRICS,
    chance_level,
    cosine_similarity,
    length_similarity,
    p_value,
    retrieval_estimates,
)

_DESCRIPTION = """Retrieval between two representations of the same sentences (row i of each is
the same sentence, e.g. in two languages or as speech and text), by cosine similarity, in both
directions: accuracy@1, recall@K, MRR, mean rank, and LASER's xSIM (ratio margin, k = 4 nearest
neighbours each way; error rate) or its absolute mode. Optionally a permutation null (shuffled
pairing; its mean is the chance level), a CI over sentences (half-samples; the candidate pool
stays all n targets) and a length-only baseline (similarity -|log len_q - log len_t|)."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: query rows Q, one float sequence per sentence (n x d).
    references: target rows T for the same sentences in the same order (n x d).
    metrics: list of accuracy@1, recall@K, mrr, mean_rank, xsim, xsim_absolute
        (default accuracy@1, recall@5, mrr, xsim).
    directions: ["q2t", "t2q"] (default both). k: neighbours for the xSIM margin (default 4).
    candidates: "knn" (LASER: best margin among the k cosine-nearest targets) | "all".
    ties: "expected" (default; random tie order, exact chance levels) | "pessimistic".
    n_null: permutations for the null (0 = none). n_resamples: half-sample replicates (0 = none).
    ci: CI level (default 0.95). seed: seed for the null and the CI (default 0).
    query_lengths, target_lengths: per-sentence lengths (seconds for speech, characters for
        text) for the length-only baseline (rank metrics only).
Returns:
    "q2t/accuracy@1", ...: the scores; n; chance: chance level per score; with n_null:
    null_mean, null_sd, p_value (dicts per score); with n_resamples: ci_low, ci_high (dicts),
    ci_method, ci_level; with lengths: length_baseline (the same layout, nested).
Examples:
    >>> retrieval = evaluate.load("benchmark/metrics/modules/retrieval")
    >>> retrieval.compute(predictions=q.tolist(), references=t.tolist())["q2t/accuracy@1"]
"""

_CITATION = """@article{artetxe2019margin,
  title={Margin-based Parallel Corpus Mining with Multilingual Sentence Embeddings},
  author={Artetxe, Mikel and Schwenk, Holger}, journal={ACL}, year={2019}}"""


def _report(estimates: dict, n: int, n_null: int, n_resamples: int, ci: float) -> dict:
    out: dict = {key: e.value for key, e in estimates.items()}
    out["n"] = n
    out["chance"] = {key: chance_level(key, n) for key in estimates}
    if n_null:
        out["null_mean"] = {key: float(e.null.mean()) for key, e in estimates.items()}
        out["null_sd"] = {key: float(e.null.std()) for key, e in estimates.items()}
        out["p_value"] = {key: p_value(e, key) for key, e in estimates.items()}
    if n_resamples:
        low, high = {}, {}
        for key, e in estimates.items():
            lo, hi, _ = interval_from_replicates(
                torch.from_numpy(e.replicates), e.value, "subsample", ci, n
            )
            low[key], high[key] = lo, hi
        out.update(ci_low=low, ci_high=high, ci_method="subsample", ci_level=ci)
    return out


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Retrieval(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=pair_features(),
        )

    def _compute(
        self,
        predictions,
        references,
        metrics=DEFAULT_METRICS,
        n_null=0,
        n_resamples=0,
        ci=0.95,
        seed=0,
        query_lengths=None,
        target_lengths=None,
        **options,
    ):
        # options: directions, k, candidates, ties (see retrieval_estimates)
        sim = cosine_similarity(np.asarray(predictions), np.asarray(references))
        n = sim.shape[0]
        perms = permutations(n, n_null, seed).numpy() if n_null else None
        weights = subsample_counts(n, n_resamples, seed).numpy() if n_resamples else None
        draws = dict(permutations=perms, query_weights=weights, **options)
        out = _report(retrieval_estimates(sim, list(metrics), **draws), n, n_null, n_resamples, ci)
        if query_lengths is not None or target_lengths is not None:
            lsim = length_similarity(query_lengths, target_lengths)
            length_metrics = [m for m in metrics if m != "xsim"] or list(LENGTH_METRICS)
            est = retrieval_estimates(lsim, length_metrics, **draws)
            out["length_baseline"] = _report(est, n, n_null, n_resamples, ci)
        return out

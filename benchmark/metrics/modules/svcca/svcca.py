"""SVCCA as an `evaluate` metric module; loads offline with evaluate.load("<path to this dir>").

The maths lives in `benchmark.metrics.similarity` (installed with the benchmark package), so this
module and the benchmark's own code give identical numbers.
"""

import evaluate

from benchmark.metrics.evaluate_io import pair_features, pair_output
from benchmark.metrics.similarity import compare

_DESCRIPTION = """SVCCA (Raghu et al. 2017) between two representations of the same sentences:
centre each dimension, keep the top-k SVD directions of each side (fixed k, or the smallest k whose
share of the variance, of s^2, reaches `variance`), and average the canonical correlations of the
kept subspaces. Optionally a permutation null (shuffled sentence pairing) and a CI over sentences."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: rows of X, one float sequence per sentence (n x d_x).
    references: rows of Y for the same sentences in the same order (n x d_y).
    k: directions kept per side. Give k or variance.
    variance: share of the variance (of s^2) the kept directions must reach, e.g. 0.99.
    min_ratio: refuse n < min_ratio * k (SVCCA is biased upward as k approaches n). Default 4.
    n_null: permutations for the null (0 = none). n_resamples: CI replicates (0 = none).
    ci: CI level (default 0.95). ci_method: "subsample" (default; half-samples) |
        "jackknife" | "percentile" (bootstrap; shifted upward, see similarity.py).
    seed: seed for the null and the CI (default 0).
Returns:
    svcca: mean canonical correlation; correlations: per direction, descending; k_x, k_y, n;
    with n_null: null_mean, null_sd, p_value; with n_resamples: ci_low, ci_high, ci_method, ci_level.
Examples:
    >>> svcca = evaluate.load("benchmark/metrics/modules/svcca")
    >>> svcca.compute(predictions=x.tolist(), references=y.tolist(), k=20)["svcca"]
"""

_CITATION = """@inproceedings{raghu2017svcca,
  title={SVCCA: Singular Vector Canonical Correlation Analysis for Deep Learning Dynamics and
         Interpretability},
  author={Raghu, Maithra and Gilmer, Justin and Yosinski, Jason and Sohl-Dickstein, Jascha},
  booktitle={NeurIPS}, year={2017}}"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Svcca(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=pair_features(),
        )

    def _compute(self, predictions, references, **options):
        # options: k, variance, min_ratio, n_null, n_resamples, ci, ci_method, seed (see compare)
        res = compare(
            predictions, references, "svcca", names=("predictions", "references"), **options
        )
        head = {"svcca": res.score, "correlations": list(res.correlations)}
        return pair_output(res, {**head, "k_x": res.k_x, "k_y": res.k_y, "n": res.n})

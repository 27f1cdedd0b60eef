"""Linear CKA as an `evaluate` metric module; loads offline with evaluate.load("<path to this dir>").

The maths lives in `benchmark.metrics.similarity` (installed with the benchmark package), so this
module and the benchmark's own code give identical numbers.
"""

import evaluate

from benchmark.metrics.evaluate_io import pair_features, pair_output
from benchmark.metrics.similarity import compare

_DESCRIPTION = """Linear CKA (Kornblith et al. 2019) between two representations of the same
sentences: HSIC of the centred linear Gram matrices, normalised. `debiased=True` uses the unbiased
HSIC estimator (U-centring), which is ~0 for independent data at any n. Optionally a permutation
null (shuffled sentence pairing) and a CI over sentences."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: rows of X, one float sequence per sentence (n x d_x).
    references: rows of Y for the same sentences in the same order (n x d_y).
    debiased: use the unbiased HSIC estimator (default False).
    n_null: permutations for the null (0 = none). n_resamples: CI replicates (0 = none).
    ci: CI level (default 0.95). ci_method: "subsample" (default; half-samples) |
        "jackknife" | "percentile" (bootstrap; shifted upward, see similarity.py).
    seed: seed for the null and the CI (default 0).
Returns:
    cka (or cka_debiased): the score; n; with n_null: null_mean, null_sd, p_value;
    with n_resamples: ci_low, ci_high, ci_method, ci_level.
Examples:
    >>> cka = evaluate.load("benchmark/metrics/modules/cka")
    >>> cka.compute(predictions=x.tolist(), references=y.tolist())["cka"]
"""

_CITATION = """@inproceedings{kornblith2019similarity,
  title={Similarity of Neural Network Representations Revisited},
  author={Kornblith, Simon and Norouzi, Mohammad and Lee, Honglak and Hinton, Geoffrey},
  booktitle={ICML}, year={2019}}"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Cka(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=pair_features(),
        )

    def _compute(self, predictions, references, **options):
        # options: debiased, n_null, n_resamples, ci, ci_method, seed (see compare)
        res = compare(
            predictions, references, "cka", names=("predictions", "references"), **options
        )
        return pair_output(res, {res.measure: res.score, "n": res.n})

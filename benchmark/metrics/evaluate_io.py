"""What the `evaluate` metric modules in `modules/` share: their input features and output dict."""

from __future__ import annotations

import datasets

from benchmark.metrics.similarity import PairScore


def pair_features() -> datasets.Features:
    """Rows of X (predictions) and of Y (references) for the same sentences, as float sequences."""
    row = datasets.Sequence(datasets.Value("float64"))
    return datasets.Features({"predictions": row, "references": row})


def pair_output(res: PairScore, head: dict) -> dict:
    """`head` (the measure's own fields), plus the null and the CI when they were computed."""
    out = dict(head)
    if res.n_null:
        out.update(null_mean=res.null_mean, null_sd=res.null_sd, p_value=res.p_value)
    if res.n_resamples:
        out.update(
            ci_low=res.ci_low, ci_high=res.ci_high, ci_method=res.ci_method, ci_level=res.ci_level
        )
    return out

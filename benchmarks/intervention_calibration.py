"""Intervention transfer on a constructed model with a known answer (tests/steer_fixtures.py):
English and German carry the animals/food concept on one axis and share each sentence's content;
French carries it on an orthogonal axis with content of its own.
Over many seeds: the transfer English -> German (true: about 1) and English -> French (true:
about 0), and how often each main score (mean over steering layers, alpha = 1) exceeds the 95th
percentile of its random-direction null: the detection rate for German, the false-positive rate
for French (a fair null says about 5 %; with n_null = 8 draws, P(value > q95) under the null is
about 1/9).

    python benchmarks/intervention_calibration.py [--seeds 20] [--n-null 8]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from steer_fixtures import concept_toy, context, model_access  # noqa: E402

from benchmark.kinds import get_kind  # noqa: E402

SOURCE = {"language": "en_us", "modality": "text"}


def one(seed: int, target: str, n_null: int) -> tuple[float, bool, float]:
    adapter, probes = concept_toy(n_per_group=20, seed=seed)
    metric = {
        "source": SOURCE,
        "targets": [{"language": target, "modality": "text"}],
        "concepts": {"by": "category", "toward": "animals", "away_from": "food"},
        "alphas": [1.0],
        "n_null": n_null,
        "n_resamples": 0,
        "seed": seed,
    }
    main = {"name": "calibration", "measure": "transfer", "layer": "mean"}
    ctx = context("intervention_transfer", probes, model_access(adapter), ["text"], main, **metric)
    score = get_kind("intervention_transfer").score(ctx).main_score
    return score.value, score.value > score.null_q95, score.null_mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--n-null", type=int, default=8)
    args = parser.parse_args()
    clock = time.perf_counter()
    for target, truth in (("de_de", "shared axis"), ("fr_fr", "orthogonal axis, own content")):
        runs = [one(seed, target, args.n_null) for seed in range(args.seeds)]
        values = np.array([r[0] for r in runs])
        above = np.mean([r[1] for r in runs])
        nulls = np.array([r[2] for r in runs])
        print(
            f"en_us -> {target} ({truth}): transfer {values.mean():.3f} +- {values.std():.3f}, "
            f"null mean {nulls.mean():+.3f}, above null q95 in {above:.0%} of {args.seeds} seeds"
        )
    print(f"{time.perf_counter() - clock:.1f} s")


if __name__ == "__main__":
    main()

"""Intervention transfer on a constructed model with a known answer (tests/steer_fixtures.py):
English and German carry the animals/food concept on one axis and share each sentence's content;
French carries it on an orthogonal axis with content of its own.

Over many seeds, the main score (alpha = 1, over the three steering layers) of four cases:
  - en -> de, shared axis (true transfer about 1): detection rate = share of seeds above the null;
  - en -> de at half the scale (the same steering, German states halved): the same transfer;
  - en -> fr, orthogonal axis (true transfer about 0): false-positive rate (a fair null: ~5 %);
  - en -> de with no concept in English: the source effect is noise, so the verdict must be
    inconclusive (about 95 % of seeds: the source check is itself a 5 % test).
Each line: transfer mean +- sd over seeds, the null's mean, and the share of seeds per verdict.

    python benchmarks/intervention_calibration.py [--seeds 20] [--n-null 39]
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
CASES = [
    ("en_us -> de_de, shared axis", "de_de", {}),
    ("en_us -> de_de, shared axis, German at half the scale", "de_de", {"scales": {"de_de": 0.5}}),
    ("en_us -> fr_fr, orthogonal axis, own content", "fr_fr", {}),
    ("en_us -> de_de, no concept in English", "de_de", {"concept": {"en_us": 0.0}}),
]


def one(seed: int, target: str, toy: dict, n_null: int):
    adapter, probes = concept_toy(n_per_group=20, seed=seed, **toy)
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
    return get_kind("intervention_transfer").score(ctx).main_score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--n-null", type=int, default=39)
    args = parser.parse_args()
    clock = time.perf_counter()
    for label, target, toy in CASES:
        scores = [one(seed, target, toy, args.n_null) for seed in range(args.seeds)]
        values = np.array([s.value for s in scores])
        nulls = np.array([s.null_mean for s in scores])
        verdicts = [s.verdict for s in scores]
        shares = ", ".join(
            f"{v} {verdicts.count(v) / len(verdicts):.0%}"
            for v in ("above_null", "at_null", "inconclusive")
        )
        print(
            f"{label}: transfer {values.mean():.3f} +- {values.std():.3f}, null mean "
            f"{nulls.mean():+.3f}; {shares} of {args.seeds} seeds"
        )
    print(f"{time.perf_counter() - clock:.1f} s")


if __name__ == "__main__":
    main()

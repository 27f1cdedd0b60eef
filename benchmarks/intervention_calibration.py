"""Intervention transfer on the known-answer steering models (benchmark.models.known_steer) over
many seeds of their construction, on the embedded concepts probes (animals vs food, English text
-> German text): `known:steer_shared` carries the concept on one axis in every language (true
transfer about 1), `known:steer_orthogonal` on an axis of its own per language (true transfer
about 0). For each: the main score (mean over steering layers, alpha = 1), its spread over seeds,
and how often it beats its random-direction null (above the null's 95th percentile, and p < 0.05):
the detection rate for the shared axis, the false-positive rate for the orthogonal one (a fair
null says about 5 %; with n_null draws the smallest p is 1 / (n_null + 1)).

    python benchmarks/intervention_calibration.py [--seeds 20] [--n-null 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from steer_fixtures import context, model_access  # noqa: E402

from benchmark.kinds import get_kind  # noqa: E402
from benchmark.models.known import load_known  # noqa: E402
from benchmark.probes import ProbeSpec, load_probes  # noqa: E402

SOURCE = {"language": "en_us", "modality": "text"}
TARGET = {"language": "de_de", "modality": "text"}


def one(reference: str, seed: int, probes, n_null: int) -> tuple[float, bool, float, float]:
    adapter = load_known(f"known:{reference}", settings={"seed": seed})
    metric = {
        "source": SOURCE,
        "targets": [TARGET],
        "concepts": {"by": "category", "toward": "animals", "away_from": "food"},
        "alphas": [1.0],
        "n_null": n_null,
        "n_resamples": 0,
        "seed": seed,
    }
    main = {"name": "calibration", "measure": "transfer", "layer": "mean"}
    ctx = context("intervention_transfer", probes, model_access(adapter), ["text"], main, **metric)
    score = get_kind("intervention_transfer").score(ctx).main_score
    return score.value, score.value > score.null_q95, score.null_mean, score.p_value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--n-null", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the models are tiny: threads only add overhead
    probes = load_probes(ProbeSpec(source="concepts", languages=("en_us", "de_de")))
    clock = time.perf_counter()
    for reference, truth in (("steer_shared", "about 1"), ("steer_orthogonal", "about 0")):
        runs = [one(reference, seed, probes, args.n_null) for seed in range(args.seeds)]
        values = np.array([r[0] for r in runs])
        above = np.mean([r[1] for r in runs])
        nulls = np.array([r[2] for r in runs])
        significant = np.mean([r[3] < 0.05 for r in runs])
        print(
            f"known:{reference} (true transfer {truth}): {values.mean():.3f} +- "
            f"{values.std():.3f}, null mean {nulls.mean():+.3f}, above the null's q95 in "
            f"{above:.0%} and p < 0.05 in {significant:.0%} of {args.seeds} seeds"
        )
    print(f"{time.perf_counter() - clock:.1f} s")


if __name__ == "__main__":
    main()

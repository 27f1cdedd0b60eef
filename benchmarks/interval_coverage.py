"""Coverage of the 95 % interval of a retrieval accuracy near 1 (benchmark.metrics.intervals).

Each query of each language pair is retrieved correctly with probability p, independently; the
score is the mean over pairs and queries; its interval comes from 100 half-samples of the n
sentences, as the retrieval kind makes it. Printed: the share of simulations whose interval covers
p, for the interval as it is made now (clip edge at half an outcome of n x pairs outcomes and a
binomial floor) and as it was made before (edge at half a sentence, no floor).

    python benchmarks/interval_coverage.py [--sims 2000] [--n 40]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmark.metrics.intervals import interval_from_replicates
from benchmark.metrics.replicates import subsample_counts


def coverage(p: float, n: int, pairs: int, sims: int, outcomes: bool, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    weights = subsample_counts(n, 100, 1).numpy()  # [R, n] half-samples of the sentences
    covered = 0
    for _ in range(sims):
        x = (rng.random((pairs, n)) < p).astype(float)  # one outcome per pair and query
        replicates = (weights @ x.T).mean(1) / weights.sum(1)
        low, high, _ = interval_from_replicates(
            replicates,
            float(x.mean()),
            "subsample",
            0.95,
            n,
            (0.0, 1.0),
            outcomes=n * pairs if outcomes else None,
        )
        covered += low <= p <= high
    return covered / sims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=2000)
    parser.add_argument("--n", type=int, default=40)
    args = parser.parse_args()
    clock = time.perf_counter()
    for p in (0.99, 0.9, 0.5):
        for pairs in (1, 6, 20):
            now = coverage(p, args.n, pairs, args.sims, outcomes=True)
            before = coverage(p, args.n, pairs, args.sims, outcomes=False)
            print(
                f"accuracy {p}, n={args.n}, {pairs:>2} pair(s): 95 % interval covers "
                f"{now:.3f} (before: {before:.3f})"
            )
    print(f"{args.sims} simulations each; {time.perf_counter() - clock:.1f} s")


if __name__ == "__main__":
    main()

"""Seconds for a full language-pair SVCCA matrix: decomposition reused per (language, layer) vs.
naive per-pair recomputation, with and without permutation null and CI replicates.

Default size: 30 languages x 7 layers, n = 200 sentences, d = 512, k = 20 (435 pairs per layer,
3045 in all). Data are synthetic (a shared latent per layer, a random mixing per language, noise):
timing does not depend on the values. The naive route times `--naive-pairs` pairs and extrapolates
to all pairs (0 = time them all); it recomputes both decompositions (and, with a CI, both sides'
replicates) for every pair, which is what comparing pairs one by one costs.

    .venv/bin/python benchmarks/svcca_matrix.py [--measure cka] [--threads 1]
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import time

import torch

from benchmark.metrics import compare, decompose, pairwise_matrix


def make_data(langs: int, layers: int, n: int, d: int, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    data = {}
    for layer in range(layers):
        z = torch.randn(n, 64, generator=g)
        for lang in range(langs):
            mix = torch.randn(64, d, generator=g) / 8
            data[(f"l{lang:02d}", layer)] = z @ mix + torch.randn(n, d, generator=g)
    return data


def run_reuse(data, langs, layers, measure, k, stats) -> tuple[float, dict]:
    t0 = time.perf_counter()
    out = {}
    for layer in range(layers):
        kw = {"k": k} if measure == "svcca" else {}
        decs = {
            lang: decompose(data[(lang, layer)], name=f"{lang}/{layer}", **kw) for lang in langs
        }
        for pair, score in pairwise_matrix(decs, measure, **stats).items():
            out[(layer, *pair)] = score
    return time.perf_counter() - t0, out


def run_naive(data, langs, layers, measure, k, stats, sample: int, seed: int):
    all_pairs = [
        (layer, a, b) for layer in range(layers) for a, b in itertools.combinations(langs, 2)
    ]
    pairs = all_pairs if sample <= 0 else random.Random(seed).sample(all_pairs, sample)
    kw = {"k": k} if measure == "svcca" else {}
    t0 = time.perf_counter()
    out = {}
    for layer, a, b in pairs:
        out[(layer, a, b)] = compare(
            data[(a, layer)], data[(b, layer)], measure, names=(a, b), **kw, **stats
        )
    secs = time.perf_counter() - t0
    return secs * len(all_pairs) / len(pairs), len(pairs), len(all_pairs), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--langs", type=int, default=30)
    ap.add_argument("--layers", type=int, default=7)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--measure", choices=["svcca", "cka"], default="svcca")
    ap.add_argument("--n-null", type=int, default=200)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--ci-method", default="subsample")
    ap.add_argument("--naive-pairs", type=int, default=40, help="pairs timed for the naive route")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch default)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    langs = [f"l{i:02d}" for i in range(args.langs)]
    data = make_data(args.langs, args.layers, args.n, args.d, args.seed)
    n_pairs = args.layers * math.comb(args.langs, 2)
    print(
        f"{args.measure}: {args.langs} languages x {args.layers} layers = {n_pairs} pairs, "
        f"n={args.n}, d={args.d}"
        + (f", k={args.k}" if args.measure == "svcca" else "")
        + f", torch threads={torch.get_num_threads()}"
    )
    settings = [
        ("score only", {}),
        (
            f"+ null {args.n_null} + CI {args.n_resamples} ({args.ci_method})",
            {"n_null": args.n_null, "n_resamples": args.n_resamples, "ci_method": args.ci_method},
        ),
    ]
    for label, stats in settings:
        reuse_s, reuse = run_reuse(data, langs, args.layers, args.measure, args.k, stats)
        naive_s, timed, total, naive = run_naive(
            data, langs, args.layers, args.measure, args.k, stats, args.naive_pairs, args.seed
        )
        worst = max(abs(reuse[p].score - naive[p].score) for p in naive)
        if stats:  # same seed: the per-pair route must give the very same null and CI
            worst = max(
                worst,
                *(abs(reuse[p].null_mean - naive[p].null_mean) for p in naive),
                *(abs(reuse[p].ci_low - naive[p].ci_low) for p in naive),
            )
        how = "measured" if timed == total else f"extrapolated from {timed} pairs"
        print(
            f"  {label:<38} reuse {reuse_s:8.1f} s | naive per pair {naive_s:8.1f} s ({how}) | "
            f"ratio {naive_s / reuse_s:6.1f}x | max |diff| {worst:.1e}"
        )


if __name__ == "__main__":
    main()

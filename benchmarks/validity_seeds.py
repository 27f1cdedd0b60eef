"""The validity suite over several seeds of the known-answer references: for each task x reference,
how often its check holds. A floor sits at its null with probability about 1 - 1/(n_null + 1) per
seed even when the measure is right, so one failing seed is a lead, not a verdict: a check that
fails on most seeds is a confound (a measure to fix); one that fails on about 1 seed in 20 or 40
is chance.

    python benchmarks/validity_seeds.py [--seeds 10] [--tasks a,b] [--references x,y]
"""

from __future__ import annotations

import argparse
import time

from benchmark.validity import run_suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--tasks", help="comma-separated (default: all)")
    parser.add_argument("--references", help="comma-separated (default: all)")
    parser.add_argument("--all", action="store_true", help="print every check, not only failing")
    args = parser.parse_args()
    tasks = args.tasks.split(",") if args.tasks else None
    references = args.references.split(",") if args.references else None
    clock = time.perf_counter()
    held: dict[tuple[str, str], list[bool]] = {}
    expected: dict[tuple[str, str], str | None] = {}
    for seed in range(args.seeds):
        for check in run_suite(tasks, references, seed=seed).checks:
            held.setdefault(check.key, []).append(check.ok)
            expected[check.key] = check.expected
    print(f"{'task':36} {'reference':18} {'expected':15} holds on")
    for key, oks in held.items():
        if args.all or not all(oks):
            share = sum(oks) / len(oks)
            kind = "" if share == 1 else "  <- systematic" if share <= 0.5 else "  (chance?)"
            print(f"{key[0]:36} {key[1]:18} {expected[key]!s:15} {sum(oks)}/{len(oks)}{kind}")
    print(f"{args.seeds} seeds, {time.perf_counter() - clock:.0f} s")


if __name__ == "__main__":
    main()

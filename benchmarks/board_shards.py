"""`make board` over processes: the board's submissions run by 1 process, then split over N
(`interlingua submissions run --shard I/N`, each process with cores/N torch threads, as the
Makefile's JOBS=N does), each from an empty results folder and an empty representation cache
(model conversions stay cached: both runs start warm there). Prints the wall time of each, the
speed-up, and checks that both give the same results (keys, and main scores to 1e-5).

    python benchmarks/board_shards.py [--jobs 2] [--limit 20] [--languages en_us,de_de]
        [--tasks cross_lingual_gap_text,...] [--submissions submissions]

The default is a reduced board (two languages, 20 sentences, the nine representation tasks) so
that it finishes in minutes on 2 cores; `--limit 0 --languages '' --tasks ''` runs the full one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Each process has cores/N torch threads: sums over another number of threads may round
# differently in the last bits (the cache key does not include the thread count).
TOLERANCE = 1e-5
TASKS = (
    "cross_lingual_gap_text,cross_lingual_gap_speech,cross_modal_gap,retrieval_text,"
    "retrieval_speech,retrieval_speech_text,concept_words_text,concept_words_speech,"
    "concept_sentences"
)


def run_board(jobs: int, out: Path, cache: Path, args: argparse.Namespace) -> float:
    """Wall seconds for every submission, split over `jobs` processes started together."""
    flags = ["--output", str(out), "--cache-dir", str(cache), "--no-progress"]
    flags += ["--limit", str(args.limit)] if args.limit else []
    flags += ["--languages", args.languages] if args.languages else []
    flags += ["--tasks", args.tasks] if args.tasks else []
    threads = max(1, (os.cpu_count() or 1) // jobs)
    env = os.environ | {"OMP_NUM_THREADS": str(threads), "TQDM_DISABLE": "1"}
    clock = time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmark", "submissions", "run", str(args.submissions)]
            + ["--shard", f"{i}/{jobs}", *flags],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(jobs)
    ]
    for i, proc in enumerate(procs):
        output, _ = proc.communicate()
        if proc.returncode != 0:
            sys.exit(f"shard {i}/{jobs} failed ({proc.returncode}):\n{output[-3000:]}")
        print(f"  {output.splitlines()[0]}")
    return time.perf_counter() - clock


def scores(folder: Path) -> dict[str, float | None]:
    out = {}
    for path in folder.rglob("*.json"):
        data = json.loads(path.read_text())
        if "key" in data and "main_score" in data:
            main = data["main_score"] or {}
            out[data["key"]] = main.get("value")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--languages", default="en_us,de_de")
    parser.add_argument("--tasks", default=TASKS)
    parser.add_argument("--submissions", type=Path, default=ROOT / "submissions")
    args = parser.parse_args(argv)
    n = len(list(args.submissions.glob("*.yaml")))
    print(
        f"{n} submissions; tasks: {args.tasks or 'each submission own'}; "
        f"languages: {args.languages or 'each task own'}; limit: {args.limit or 'none'}; "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before"
    )
    with tempfile.TemporaryDirectory(prefix="interlingua-shards-") as tmp:
        root = Path(tmp)
        seconds = {}
        for jobs in (1, args.jobs):
            print(f"{jobs} process(es):")
            seconds[jobs] = run_board(jobs, root / f"r{jobs}", root / f"c{jobs}", args)
            print(f"  {seconds[jobs]:.1f} s wall")
        one, many = scores(root / "r1"), scores(root / f"r{args.jobs}")
    same_keys = set(one) == set(many)
    deltas = [abs(one[k] - many[k]) for k in set(one) & set(many) if None not in (one[k], many[k])]
    worst = max(deltas, default=0.0)
    print(
        f"board on {args.jobs} processes: {seconds[args.jobs]:.1f} s against {seconds[1]:.1f} s "
        f"on 1 ({seconds[1] / seconds[args.jobs]:.2f}x); {len(one)} results, "
        + ("the same result keys" if same_keys else f"KEYS DIFFER ({len(set(one) ^ set(many))})")
        + f", main scores equal to {worst:.1e} (max |diff|; {sum(d > 0 for d in deltas)} differ)"
        + f"; load average {os.getloadavg()[0]:.1f} after"
    )
    return 0 if same_keys and worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())

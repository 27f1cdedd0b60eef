"""Warm-cache re-run: both gap tasks on whisper-base, cold (empty cache) vs. warm (cache filled,
fresh results folder, so every task is scored again but nothing is extracted).
Target: warm <= 5 % of cold. Both runs are full processes of `interlingua run`, so start-up, model
resolution and loading are counted.

    python benchmarks/cache_rerun.py [--languages en_us,de_de,es_419] [--limit 50]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed_run(
    model: str, probes: str, languages: str, limit: int, output: Path, cache: Path
) -> float:
    command = [
        sys.executable,
        "-m",
        "benchmark",
        "run",
        "--model",
        model,
        "--tasks",
        "cross_lingual_gap,cross_modal_gap",
        "--languages",
        languages,
        "--limit",
        str(limit),
        "--output",
        str(output),
        "--cache-dir",
        str(cache),
        "--no-progress",
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="openai/whisper-base")
    parser.add_argument("--languages", default="en_us,de_de,es_419")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--probes", default="udhr")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run = (args.model, args.probes, args.languages, args.limit)
        cold = timed_run(*run, root / "r1", root / "cache")
        warm = timed_run(*run, root / "r2", root / "cache")
    print(
        f"{args.model}, {args.probes} {args.languages}, n={args.limit}: cold {cold:.1f} s, warm {warm:.1f} s, "
        f"ratio {warm / cold:.3f} (target <= 0.05)"
    )


if __name__ == "__main__":
    main()

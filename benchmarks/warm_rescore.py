"""Re-scoring without the model: the gap tasks on whisper-base, cold (empty cache) vs. warm (cache
filled, fresh results folder: every task is scored again, nothing is extracted, and the model is
never loaded). Both are whole `interlingua run` processes; the warm run's time is then split into
interpreter start-up and imports, model planning (resolution, config), task planning (task files,
probe selection, checks), model loading (should be 0) and scoring.

    python benchmarks/warm_rescore.py [--languages en_us,de_de,es_419] [--limit 50]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASKS = "cross_lingual_gap_text,cross_lingual_gap_speech,cross_modal_gap"


def command(args, output: Path, cache: Path) -> list[str]:
    return [
        *("run", "--model", args.model, "--tasks", TASKS, "--probes", args.probes),
        *("--languages", args.languages, "--limit", str(args.limit)),
        *("--output", str(output), "--cache-dir", str(cache), "--no-progress"),
    ]


def timed_process(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "benchmark", *argv], check=True, stdout=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="openai/whisper-base")
    parser.add_argument("--languages", default="en_us,de_de,es_419")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--probes", default="concepts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cold = timed_process(command(args, root / "r1", root / "cache"))
        warm = timed_process(command(args, root / "r2", root / "cache"))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import benchmark.runner, benchmark.cli"], check=True)
        imports = time.perf_counter() - start

        from benchmark.cli import build_parser
        from benchmark.cli.run_command import options_from
        from benchmark.runner import run

        summary = run(
            options_from(build_parser().parse_args(command(args, root / "r3", root / "cache")))
        )
    print(
        f"{args.model}, {args.probes} {args.languages}, n={args.limit}: cold {cold:.1f} s, "
        f"warm {warm:.1f} s (ratio {warm / cold:.3f}); model loaded on the warm run: "
        f"{summary.model_loaded}"
    )
    split = {"start-up and imports": imports, **summary.seconds}
    print("warm run, in process: " + ", ".join(f"{k} {v:.2f} s" for k, v in split.items()))


if __name__ == "__main__":
    main()

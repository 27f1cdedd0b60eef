"""CPU beyond extraction: score tasks from a warm representation cache and report the CPU time
scoring takes (clustering, nulls, intervals), per task and model. A first pass fills the cache
(its extraction time is reported apart); the second pass, into a fresh results folder, loads no
model and only scores. Target for the concept tasks on whisper-base and multilingual-e5-small:
under 5 minutes of CPU in all.

    python benchmarks/scoring_cost.py [--tasks concept_sentences,concept_words_text,...]
        [--models openai/whisper-base,intfloat/multilingual-e5-small] [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmark.runner import RunOptions, run

TASKS = "concept_sentences,concept_words_text,concept_words_speech"
MODELS = "openai/whisper-base,intfloat/multilingual-e5-small"
SETTINGS = {"intfloat/multilingual-e5-small": {"prefix": "query: "}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=TASKS)
    parser.add_argument("--models", default=MODELS)
    parser.add_argument("--cache-dir", type=Path, help="a warm cache to reuse (default: a new one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache_dir or Path(tmp) / "cache"
        total_cpu = 0.0
        for model in args.models.split(","):
            common = {
                "model": model,
                "tasks": args.tasks,
                "cache_dir": cache,
                "progress": False,
                "model_settings": SETTINGS.get(model, {}),
            }
            first = run(RunOptions(output=Path(tmp) / "warmup", **common))
            cpu = time.process_time()
            again = run(RunOptions(output=Path(tmp) / "scored", **common))
            cpu = time.process_time() - cpu
            total_cpu += cpu
            print(
                f"{model}: extraction {first.seconds.get('extraction', 0):.0f} s (first pass); "
                f"scoring from the cache {cpu:.1f} s CPU, model loaded: {again.model_loaded}"
            )
            for name, result in again.results.items():
                print(f"    {name:<24} {result.status:<15} {result.run.seconds_scoring or 0:.1f} s")
        print(f"CPU beyond extraction, all models: {total_cpu:.1f} s (target < 300 s)")


if __name__ == "__main__":
    main()

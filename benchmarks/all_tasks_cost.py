"""Every task against the representation tasks alone, from a cold representation cache: the CPU
seconds of `interlingua run` on one model with the nine representation tasks, then with every
task (the three steering tasks and the logit lens added), each in a fresh process with an empty
results folder and an empty representation cache (model conversions stay cached: both start warm
there). Prints both and the ratio (issue 18's target: <= 2x on whisper-base at default settings).

    python benchmarks/all_tasks_cost.py [--model openai/whisper-base] [--limit N]
        [--languages en_us,de_de] [--steering-setting FIELD=VALUE ...]

CPU seconds (user + system of the child), not wall time: a shared machine's other work does not
count against the run. `--limit` and `--languages` shrink both runs alike (the ratio is what the
script is for; the default runs each task's own sizes). `--steering-setting` (repeatable) prices
another configuration of the three steering tasks, e.g. `metric.first_order_checks=1` or
`metric.alphas=[1]`: the every-task run is then two processes on one cache (the nine tasks and the
logit lens, then the steering tasks with the settings), so one more model load is counted.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPRESENTATION_TASKS = (
    "cross_lingual_gap_text,cross_lingual_gap_speech,cross_modal_gap,retrieval_text,"
    "retrieval_speech,retrieval_speech_text,concept_words_text,concept_words_speech,"
    "concept_sentences"
)
STEERING_TASKS = (
    "intervention_cross_lingual_text,intervention_cross_lingual_speech,intervention_cross_modal"
)
EVERY_TASK = REPRESENTATION_TASKS + "," + STEERING_TASKS + ",logit_lens"


def cpu_seconds(
    tasks: str, args: argparse.Namespace, cache: str | None = None, settings: Sequence[str] = ()
) -> float:
    """User + system CPU seconds of one run of `tasks` in a child process: on an empty cache of
    its own, or on `cache` (another run's, shared)."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "benchmark", "run", "--model", args.model]
        command += ["--tasks", tasks, "--output", f"{tmp}/results"]
        command += ["--cache-dir", cache or f"{tmp}/cache", "--no-progress"]
        command += ["--limit", str(args.limit)] if args.limit else []
        command += ["--languages", args.languages] if args.languages else []
        for setting in settings:
            command += ["--task-setting", setting]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=os.environ)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="openai/whisper-base")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--languages", default=None)
    parser.add_argument(
        "--steering-setting",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a task setting of the three steering tasks only (repeatable)",
    )
    args = parser.parse_args()
    nine = cpu_seconds(REPRESENTATION_TASKS, args)
    if args.steering_setting:
        with tempfile.TemporaryDirectory() as cache:
            every = cpu_seconds(REPRESENTATION_TASKS + ",logit_lens", args, cache)
            every += cpu_seconds(STEERING_TASKS, args, cache, args.steering_setting)
    else:
        every = cpu_seconds(EVERY_TASK, args)
    print(
        f"model {args.model}, limit {args.limit or 'task default'}, "
        f"languages {args.languages or 'task default'}"
    )
    print(f"nine representation tasks, cold cache: {nine:8.1f} CPU-s")
    if args.steering_setting:
        print(f"steering tasks with: {' '.join(args.steering_setting)} (a second process)")
    print(f"all 13 tasks, cold cache:              {every:8.1f} CPU-s")
    print(f"ratio: {every / nine:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()

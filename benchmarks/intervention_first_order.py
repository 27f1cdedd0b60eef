"""The intervention null by first-order effects against the exact null: one intervention task on
one model run twice, `metric.null_effects=exact` (a steered pass per null direction) and
`first_order` (the default: the gradient of each item's axis coordinate dotted with each
direction, plus the mean second-order remainder of the directions steered exactly), each in a
fresh process with an empty results folder. Prints the CPU seconds of both, their ratio, the main
score's null and verdict both ways, and every curve point's null q95 and p-value side by side.

    python benchmarks/intervention_first_order.py [--model openai/whisper-base]
        [--task intervention_cross_lingual_text] [--n-null 39]

Both runs use the same null directions (the k-th shuffle of the group labels), so the two nulls
differ only by how each direction's effect is measured.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(args: argparse.Namespace, mode: str, out: Path) -> tuple[float, dict]:
    """(CPU seconds, result JSON) of one run in a child process."""
    command = [sys.executable, "-m", "benchmark", "run", "--model", args.model]
    command += ["--tasks", args.task, "--output", str(out), "--no-progress"]
    command += ["--task-setting", f"metric.null_effects={mode}"]
    command += ["--task-setting", f"metric.n_null={args.n_null}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=os.environ)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    (path,) = list(out.rglob(f"{args.task}/*.json"))
    seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, json.loads(path.read_text())


def points(result: dict) -> dict[tuple, dict]:
    return {
        (c["measure"], c["group"], p["layer"]): p
        for c in result["curves"]
        for p in c["points"]
        if p.get("null_q95") is not None
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="openai/whisper-base")
    parser.add_argument("--task", default="intervention_cross_lingual_text")
    parser.add_argument("--n-null", type=int, default=39)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        exact_s, exact = run(args, "exact", Path(tmp) / "exact")
        first_s, first = run(args, "first_order", Path(tmp) / "first")
    print(f"{args.model} / {args.task}, {args.n_null} null directions")
    print(
        f"CPU seconds: exact {exact_s:.1f}, first order {first_s:.1f}, "
        f"ratio {first_s / exact_s:.2f}"
    )
    for name, res in (("exact", exact), ("first order", first)):
        m, check = res["main_score"], res["details"]["source_check"]
        print(
            f"main score ({name}): {m['value']:.4f}, null q95 {m['null_q95']:.4f}, "
            f"p {m['p_value']}, {m['verdict']}; source check {check['source_effect']} vs "
            f"q95 {check['null_q95']}, p {check['p_value']}"
        )
    check = first["details"].get("first_order", {})
    print(
        f"largest |exact - first order| of a checked null direction (before the remainder): "
        f"{check.get('null_checks_max_abs_error')}"
    )
    a, b = points(exact), points(first)
    worst, flips = 0.0, 0
    print(
        f"{'measure':14} {'group':42} {'layer':10} {'q95 exact':>10} {'q95 1st':>9} "
        f"{'p exact':>8} {'p 1st':>7}"
    )
    for key in sorted(a):
        if key not in b:
            continue
        pa, pb = a[key], b[key]
        worst = max(worst, abs(pa["null_q95"] - pb["null_q95"]))
        flips += (pa["p_value"] < 0.05) != (pb["p_value"] < 0.05)
        print(
            f"{key[0]:14} {key[1][:42]:42} {key[2]:10} {pa['null_q95']:10.4f} "
            f"{pb['null_q95']:9.4f} {pa['p_value']:8.3f} {pb['p_value']:7.3f}"
        )
    print(
        f"largest |null q95 difference| over {len(a)} points: {worst:.4f}; "
        f"points whose p < 0.05 call differs: {flips}"
    )


if __name__ == "__main__":
    main()

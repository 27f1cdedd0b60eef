"""`interlingua run`: score a model on tasks and write results."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmark.errors import EXIT_OK, EXIT_TASK_FAILED


def csv_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def key_value(text: str) -> tuple[str, object]:
    """KEY=VALUE; the value is read as JSON when it parses (5, true, "x"), else kept as text."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def batch_size(text: str) -> int | str:
    """[models] A whole number, or "auto" (the largest that fits)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or auto, got {text!r}") from None


def task_setting(text: str) -> tuple[str, object]:
    from benchmark.taskfiles import parse_setting

    try:
        return parse_setting(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_parsers(sub) -> None:
    run = sub.add_parser("run", help="score a model on tasks and write results")
    run.set_defaults(handler=cmd_run)
    run.add_argument("--model", required=True, help="Hub id or local path")
    run.add_argument("--revision", help="Hub revision (branch, tag or commit)")
    run.add_argument("--tasks", default="all", help="comma-separated task names or files, or 'all'")
    run.add_argument(
        "--languages", type=csv_list, help="FLEURS codes, e.g. en_us,de_de (all tasks)"
    )
    run.add_argument("--probes", help="probe set for all tasks: embedded name, 'fleurs', or a path")
    run.add_argument("--limit", type=int, help="sentences per language (all tasks)")
    run.add_argument(
        "--task-setting",
        action="append",
        type=task_setting,
        default=[],
        metavar="FIELD=VALUE",
        help="override a task field for all tasks, e.g. metric.svcca_k=5 (repeatable; recorded)",
    )
    run.add_argument(
        "--batch-size",
        type=batch_size,
        default=16,
        help="items per forward pass, or auto: the largest that fits (halved on out-of-memory; "
        "the size used is recorded)",
    )
    run.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps")
    run.add_argument("--output", type=Path, default=Path("results"), help="results folder")
    run.add_argument("--cache-dir", type=Path, help="representation cache (default: user cache)")
    run.add_argument("--overwrite", action="store_true", help="recompute cached work and results")
    run.add_argument(
        "--model-setting",
        action="append",
        type=key_value,
        default=[],
        metavar="KEY=VALUE",
        help="adapter setting, e.g. window=full or prefix='query: ' (repeatable)",
    )
    run.add_argument(
        "--random-init",
        type=int,
        metavar="SEED",
        help="a control: the same architecture with seeded random weights",
    )
    run.add_argument(
        "--skip-undecodable",
        action="store_true",
        help="leave out items whose audio cannot be decoded (in every language; recorded)",
    )
    run.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow the model repository's own Python code to run (off by default)",
    )
    run.add_argument(
        "--no-progress", action="store_true", help="hide progress bars (also: TQDM_DISABLE=1)"
    )


def options_from(args: argparse.Namespace):
    from benchmark.runner import RunOptions

    return RunOptions(
        model=args.model,
        tasks=args.tasks,
        revision=args.revision,
        languages=args.languages,
        probes=args.probes,
        limit=args.limit,
        task_settings=dict(args.task_setting),
        batch_size=args.batch_size,
        device=args.device,
        output=args.output,
        cache_dir=args.cache_dir,
        overwrite=args.overwrite,
        trust_remote_code=args.trust_remote_code,
        model_settings=dict(args.model_setting),
        random_init=args.random_init,
        skip_undecodable=args.skip_undecodable,
        progress=False if args.no_progress else None,
    )


def cmd_run(args: argparse.Namespace) -> int:
    from benchmark.runner import run

    summary = run(options_from(args))
    for name, result in summary.results.items():
        print(describe(name, result))
        print(f"{'':<26} -> {summary.paths[name]}")
    return EXIT_TASK_FAILED if summary.failed else EXIT_OK


def describe(name: str, result) -> str:
    """One line: the main score with its interval, null and layer; or the status and reason."""
    score = result.main_score
    if result.status != "ok" or score is None:
        return f"{name:<26} {result.status}: {result.reason}"
    ci = f" [{score.ci_low:.3f}, {score.ci_high:.3f}]" if score.ci_low is not None else ""
    null = (
        f"  null {score.null_mean:.3f} (q95 {score.null_q95:.3f})"
        if score.null_q95 is not None
        else ""
    )
    layer = f"  at {score.layer.layer}" if score.layer.layer else f"  ({score.layer.rule})"
    return f"{name:<26} {score.name} = {score.value:.3f}{ci}{null}{layer}"

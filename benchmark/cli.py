"""The `interlingua` command line (also `python -m benchmark`)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _setting(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="interlingua",
        description="Interlingua Bench: how models represent meaning across languages and modalities.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="score a model on tasks and write results")
    run.add_argument("--model", required=True, help="Hub id or local path")
    run.add_argument("--revision", help="Hub revision (branch, tag or commit)")
    run.add_argument("--tasks", default="all", help="comma-separated task names or files, or 'all'")
    run.add_argument("--languages", type=_csv, help="FLEURS codes, e.g. en_us,de_de (all tasks)")
    run.add_argument("--probes", help="probe set for all tasks: embedded name, 'fleurs', or a path")
    run.add_argument("--limit", type=int, help="sentences per language (all tasks)")
    run.add_argument("--batch-size", type=int, default=16)
    run.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    run.add_argument("--output", type=Path, default=Path("results"), help="results folder")
    run.add_argument("--cache-dir", type=Path, help="representation cache (default: user cache)")
    run.add_argument("--overwrite", action="store_true", help="recompute cached work and results")
    run.add_argument(
        "--model-setting",
        action="append",
        type=_setting,
        default=[],
        metavar="KEY=VALUE",
        help="adapter setting, e.g. window=cropped or prefix='query: ' (repeatable)",
    )
    run.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow the model repository's own Python code to run (off by default)",
    )
    run.add_argument("--no-progress", action="store_true", help="hide progress bars")

    tasks = sub.add_parser("tasks", help="list or validate task files")
    tasks_sub = tasks.add_subparsers(dest="action", required=True)
    tasks_sub.add_parser("list", help="the tasks in tasks/")
    validate = tasks_sub.add_parser("validate", help="check task files against the schema")
    validate.add_argument("paths", nargs="*", type=Path, help="files (default: all in tasks/)")

    probes = sub.add_parser("probes", help="probe sets")
    probes_sub = probes.add_subparsers(dest="action", required=True)
    probes_sub.add_parser("list", help="available probe sets")
    show = probes_sub.add_parser("show", help="a probe set's card")
    show.add_argument("name")
    build = probes_sub.add_parser(
        "build",
        help="rebuild an embedded set (needs espeak-ng); options as `python -m benchmark.probes.build`",
    )
    build.add_argument("name", choices=["udhr", "concepts"])
    build.add_argument("options", nargs=argparse.REMAINDER, help="--out DIR, --languages ...")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return COMMANDS[args.command](args)
    except (ValueError, KeyError, FileNotFoundError, OSError) as err:
        # Bad input: one clear line, no traceback (use -v for the traceback).
        if args.verbose:
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {message}", file=sys.stderr)
        return 2


def cmd_run(args: argparse.Namespace) -> int:
    from benchmark.runner import RunOptions, run

    summary = run(
        RunOptions(
            model=args.model,
            tasks=args.tasks,
            revision=args.revision,
            languages=args.languages,
            probes=args.probes,
            limit=args.limit,
            batch_size=args.batch_size,
            device=args.device,
            output=args.output,
            cache_dir=args.cache_dir,
            overwrite=args.overwrite,
            trust_remote_code=args.trust_remote_code,
            model_settings=dict(args.model_setting),
            progress=not args.no_progress,
        )
    )
    for name, result in summary.results.items():
        score = result.main_score
        if result.status == "ok" and score is not None:
            ci = f" [{score.ci_low:.3f}, {score.ci_high:.3f}]" if score.ci_low is not None else ""
            null = getattr(score, "null_mean", None)
            null_text = f"  (null {null:.3f})" if null is not None else ""
            print(f"{name:<24} {score.name} = {score.value:.3f}{ci}{null_text}")
        else:
            print(f"{name:<24} {result.status}: {result.reason}")
        print(f"{'':<24} -> {summary.paths[name]}")
    return 1 if summary.failed else 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from benchmark.config import ConfigError, load_task, task_files

    if args.action == "list":
        for name in task_files():
            config = load_task(name)
            print(
                f"{name:<24} {config.kind:<20} {config.description.strip().splitlines()[0] if config.description else ''}"
            )
        return 0
    paths = args.paths or list(task_files().values())
    failures = 0
    for path in paths:
        try:
            config = load_task(path)
        except ConfigError as err:
            failures += 1
            print(err, file=sys.stderr)
        else:
            print(f"ok  {path} ({config.name} v{config.version}, kind {config.kind})")
    return 1 if failures else 0


def cmd_probes(args: argparse.Namespace) -> int:
    from benchmark import probes

    if args.action == "list":
        for entry in probes.list_probe_sets():
            n_languages = entry.get("n_languages", len(entry.get("languages") or []))
            print(f"{entry['name']:<10} {n_languages:>3} languages  {entry.get('description', '')}")
        return 0
    if args.action == "show":
        print(json.dumps(probes.show_probe_set(args.name), indent=2, ensure_ascii=False))
        return 0
    from benchmark.probes.build.__main__ import main as build_main

    return build_main([args.name, *args.options])


COMMANDS = {"run": cmd_run, "tasks": cmd_tasks, "probes": cmd_probes}

"""Submissions, regression tracking and the leaderboard: `submissions validate|run`, `submit`,
`compare`, `leaderboard build|publish`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmark.errors import EXIT_BAD_INPUT, EXIT_OK, EXIT_TASK_FAILED, UsageError

DEFAULT_SUBMISSIONS = Path("submissions")


def name_value(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE with a number, e.g. cross_modal_svcca=0.05; got {text!r}"
        ) from None


def shard(text: str) -> tuple[int, int]:
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
        if not sep or n < 1 or not 0 <= i < n:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected I/N with 0 <= I < N, e.g. 0/2 and 1/2 for two processes; got {text!r}"
        ) from None
    return i, n


def add_submission_paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths", nargs="*", type=Path, help="files or folders (default: submissions/)"
    )


def add_scoring_flags(parser: argparse.ArgumentParser) -> None:
    """How a submission is scored here: where, on what device, and (for a quick check of a pull
    request, or the board's private split) on which probes and how many sentences."""
    parser.add_argument("--output", type=Path, default=Path("results"), help="results folder")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cache-dir", type=Path, help="representation cache (default: user cache)")
    parser.add_argument(
        "--overwrite", action="store_true", help="recompute cached work and results"
    )
    parser.add_argument(
        "--tasks", help="comma-separated task names, or 'all' (default: the submission's own)"
    )
    parser.add_argument("--limit", type=int, help="sentences per language (a quick check)")
    parser.add_argument(
        "--probes",
        help="probe set for all tasks: an embedded name, or a FLEURS-format folder (e.g. the "
        "board's private split, docs/private_split.md)",
    )
    parser.add_argument("--languages", help="FLEURS codes, e.g. en_us,de_de (all tasks)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_parsers(sub) -> None:
    _add_submission_parsers(sub)
    _add_compare_parser(sub)
    _add_leaderboard_parsers(sub)


def _add_submission_parsers(sub) -> None:
    subs = sub.add_parser("submissions", help="check submission files")
    subs_sub = subs.add_subparsers(dest="action", required=True)
    validate = subs_sub.add_parser(
        "validate", help="check submission files: schema, pinned revision, file name, remote code"
    )
    add_submission_paths(validate)
    validate.set_defaults(handler=cmd_submissions_validate)

    submit = sub.add_parser("submit", help="score one submission file into a results folder")
    submit.add_argument("path", type=Path, help="a submissions/<org>__<model>.yaml file")
    add_scoring_flags(submit)
    submit.set_defaults(handler=cmd_submit)

    run_all = subs_sub.add_parser(
        "run",
        help="score every submission file (or a shard of them) into a results folder",
        description="Runs each submission as `submit` would, one after another. With --shard I/N "
        "only the files at positions I, I+N, I+2N, ... of the sorted list: N processes (or "
        "machines) with I = 0..N-1 together run every file once (make board JOBS=N).",
    )
    add_submission_paths(run_all)
    run_all.add_argument(
        "--shard", type=shard, default=(0, 1), metavar="I/N", help="this process's share: I of N"
    )
    add_scoring_flags(run_all)
    run_all.set_defaults(handler=cmd_submissions_run)

    pending = subs_sub.add_parser(
        "pending",
        help="list what `submissions run` would compute; exit 1 if anything (no model loads)",
        description="Every task of the submission files that has no finished result under "
        "today's key in the results folder: a new task, a changed task file or kind version, a "
        "failed run. Exit 0 when the folder is up to date (make board would compute nothing).",
    )
    add_submission_paths(pending)
    add_scoring_flags(pending)
    pending.set_defaults(handler=cmd_submissions_pending)


def _add_compare_parser(sub) -> None:
    compare = sub.add_parser(
        "compare",
        help="compare two results folders; exit 1 on a regression or a lost task",
        description="Pairs results by model and task and compares main scores and curve points: "
        "a change counts when it exceeds the tolerance and the intervals say it is real "
        "(docs/regressions.md).",
    )
    compare.add_argument("--baseline", type=Path, required=True, help="results folder (before)")
    compare.add_argument("--candidate", type=Path, required=True, help="results folder (after)")
    compare.add_argument("--tolerance", type=float, default=0.02, help="absolute (default 0.02)")
    compare.add_argument(
        "--tolerance-for",
        action="append",
        type=name_value,
        default=[],
        metavar="NAME=VALUE",
        help="tolerance for a main score name, a measure or a task (repeatable)",
    )
    compare.add_argument(
        "--match",
        choices=["model", "model-id", "task"],
        default="model",
        help="pair by model id+revision+settings (default), by id+settings (another checkpoint "
        "of the same repository), or by task alone (one model per folder)",
    )
    compare.add_argument(
        "--fail-on",
        choices=["regression", "change"],
        default="regression",
        help="change: exact bookkeeping (any moved value, interval or null fails; the golden suite)",
    )
    compare.add_argument(
        "--fail-on-curves", action="store_true", help="a regressed curve point fails too"
    )
    compare.add_argument("--all", action="store_true", help="print every compared value")
    compare.add_argument("--format", choices=["text", "markdown", "csv"], default="text")
    compare.set_defaults(handler=cmd_compare)


def _add_leaderboard_parsers(sub) -> None:
    board = sub.add_parser("leaderboard", help="build or publish the static leaderboard")
    board_sub = board.add_subparsers(dest="action", required=True)
    build = board_sub.add_parser("build", help="render the static site from a results folder")
    build.add_argument("--results", type=Path, required=True, help="results folder")
    build.add_argument("--out", type=Path, required=True, help="site folder (replaced)")
    build.add_argument(
        "--submissions",
        type=Path,
        help="submission files to show beside each model (submitter, license, languages)",
    )
    build.add_argument("--title", default="Interlingua Bench leaderboard")
    build.add_argument(
        "--split",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="results scored on a held-out probe split, shown in columns '<score> [NAME]' "
        "(repeatable; docs/private_split.md)",
    )
    build.add_argument(
        "--results-repo",
        metavar="ORG/NAME",
        help="link each raw result from this results dataset instead of copying it into the "
        "site (publish with the same --results-repo and --results; docs/leaderboard.md)",
    )
    build.set_defaults(handler=cmd_leaderboard_build)

    publish = board_sub.add_parser(
        "publish", help="upload a built site to a static Hugging Face Space (and the table)"
    )
    publish.add_argument("--site", type=Path, required=True, help="a folder `build` wrote")
    publish.add_argument("--repo-id", required=True, help="the Space, ORG/NAME")
    publish.add_argument("--results-repo", help="also a dataset repo ORG/NAME with the table")
    publish.add_argument(
        "--results",
        type=Path,
        help="the results folder the site was built from: its files linked by a site built with "
        "--results-repo are uploaded to the dataset",
    )
    publish.add_argument("--dry-run", action="store_true", help="print the planned operations only")
    publish.add_argument("--message", default="Update the leaderboard", help="commit message")
    publish.set_defaults(handler=cmd_leaderboard_publish)


def cmd_submissions_validate(args: argparse.Namespace) -> int:
    from benchmark.submissions import check_tasks, load_submission, submission_files

    failures = 0
    for path in submission_files(args.paths, DEFAULT_SUBMISSIONS):
        try:
            sub = load_submission(path)
            check_tasks(sub, path)
        except UsageError as err:
            failures += 1
            print(f"error: {err}", file=sys.stderr)
            continue
        kind = f"control (random_init={sub.random_init})" if sub.is_control else "pretrained"
        settings = ", ".join(f"{k}={v!r}" for k, v in sorted(sub.model_settings.items()))
        print(f"ok  {path}: {sub.model}@{sub.revision} {kind}{'  ' + settings if settings else ''}")
    return EXIT_BAD_INPUT if failures else EXIT_OK


def submission_options(sub, args: argparse.Namespace):
    """The `RunOptions` that score `sub` with this command's flags."""
    from benchmark.cli.run_command import csv_list

    opts = sub.run_options(
        args.output,
        batch_size=args.batch_size,
        device=args.device,
        cache_dir=args.cache_dir,
        overwrite=args.overwrite,
        progress=False if args.no_progress else None,
        limit=args.limit,
        probes=args.probes,
        languages=csv_list(args.languages) if args.languages is not None else None,
    )
    if args.tasks:
        opts.tasks = "all" if args.tasks == "all" else csv_list(args.tasks)
    return opts


def score_submission(path: Path, args: argparse.Namespace) -> bool:
    """Score one file; print its results; True when every task finished."""
    from benchmark.cli.run_command import describe
    from benchmark.runner import run
    from benchmark.submissions import check_tasks, load_submission

    sub = load_submission(path)
    check_tasks(sub, path)
    summary = run(submission_options(sub, args))
    for name, result in summary.results.items():
        print(describe(name, result))
        print(f"{'':<26} -> {summary.paths[name]}")
    return not summary.failed


def cmd_submit(args: argparse.Namespace) -> int:
    return EXIT_OK if score_submission(args.path, args) else EXIT_TASK_FAILED


def cmd_submissions_run(args: argparse.Namespace) -> int:
    from benchmark.submissions import load_submission, shard_files, submission_files

    files = submission_files(args.paths, DEFAULT_SUBMISSIONS)
    for path in files:  # every file checked before any model loads, as `validate` would
        load_submission(path)
    index, count = args.shard
    mine = shard_files(files, index, count)
    print(f"shard {index}/{count}: {len(mine)} of {len(files)} submission(s)", flush=True)
    failed = []
    for path in mine:
        print(f"== {path}", flush=True)
        if not score_submission(path, args):
            failed.append(path)
    if failed:
        print(f"{len(failed)} submission(s) with failed tasks: {', '.join(map(str, failed))}")
    return EXIT_TASK_FAILED if failed else EXIT_OK


def cmd_submissions_pending(args: argparse.Namespace) -> int:
    from benchmark.runner import still_to_run
    from benchmark.submissions import check_tasks, load_submission, submission_files

    files = submission_files(args.paths, DEFAULT_SUBMISSIONS)
    todo = 0
    for path in files:
        sub = load_submission(path)
        check_tasks(sub, path)
        for task, result in still_to_run(submission_options(sub, args)):
            print(f"{path}: {task} -> {result}")
            todo += 1
    print(f"{todo} task(s) to compute in {args.output} for {len(files)} submission(s)")
    return EXIT_TASK_FAILED if todo else EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from benchmark.compare import CompareOptions, Tolerances, compare_folders, render

    for name, value in [("--tolerance", args.tolerance), *args.tolerance_for]:
        if value < 0:
            raise UsageError(f"{name}: tolerance {value} is negative")
    opts = CompareOptions(
        tolerances=Tolerances(args.tolerance, dict(args.tolerance_for)),
        match=args.match,
        fail_on=args.fail_on,
        fail_on_curves=args.fail_on_curves,
    )
    comparison = compare_folders(args.baseline, args.candidate, opts)
    print(render(comparison, args.format, args.all))
    return comparison.exit_code


def cmd_leaderboard_build(args: argparse.Namespace) -> int:
    from leaderboard import build_site
    from leaderboard.splits import parse_split

    splits = [parse_split(text) for text in args.split]
    report = build_site(
        args.results,
        args.out,
        submissions=args.submissions,
        title=args.title,
        splits=splits,
        results_repo=args.results_repo,
    )
    for line in report.log:
        print(line, file=sys.stderr)
    print(report.summary())
    print(f"open {report.index.resolve().as_uri()}")
    return EXIT_OK


def cmd_leaderboard_publish(args: argparse.Namespace) -> int:
    from leaderboard.publish import publish

    for line in publish(
        args.site,
        args.repo_id,
        results_repo=args.results_repo,
        results=args.results,
        dry_run=args.dry_run,
        message=args.message,
    ):
        print(line)
    return EXIT_OK

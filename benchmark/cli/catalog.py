"""What there is: `tasks list|validate`, `probes list|show|build`, `models list`,
`results list|show`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmark.errors import EXIT_BAD_INPUT, EXIT_OK, UsageError


def add_parsers(sub) -> None:
    tasks = sub.add_parser("tasks", help="list or validate task files")
    tasks_sub = tasks.add_subparsers(dest="action", required=True)
    tasks_sub.add_parser("list", help="the tasks in tasks/").set_defaults(handler=cmd_tasks_list)
    validate = tasks_sub.add_parser(
        "validate", help="check task files, and their settings against their default probes"
    )
    validate.add_argument("paths", nargs="*", type=Path, help="files (default: all in tasks/)")
    validate.set_defaults(handler=cmd_tasks_validate)

    probes = sub.add_parser("probes", help="probe sets")
    probes_sub = probes.add_subparsers(dest="action", required=True)
    probes_sub.add_parser("list", help="available probe sets").set_defaults(handler=cmd_probes_list)
    show = probes_sub.add_parser("show", help="a probe set's card")
    show.add_argument("name")
    show.set_defaults(handler=cmd_probes_show)
    build = probes_sub.add_parser(
        "build",
        help="rebuild an embedded set (needs espeak-ng); options as `python -m benchmark.probes.build`",
    )
    build.add_argument("name", choices=["udhr", "concepts"])
    build.add_argument("options", nargs=argparse.REMAINDER, help="--out DIR, --languages ...")
    build.set_defaults(handler=cmd_probes_build)

    models = sub.add_parser("models", help="model families")
    models_sub = models.add_subparsers(dest="action", required=True)
    models_sub.add_parser(
        "list", help="adapter families, their modalities and settings"
    ).set_defaults(handler=cmd_models_list)

    results = sub.add_parser("results", help="results on disk")
    results_sub = results.add_subparsers(dest="action", required=True)
    listing = results_sub.add_parser("list", help="every result under a folder, with its key")
    listing.add_argument("--output", type=Path, default=Path("results"), help="results folder")
    listing.add_argument("--model", help="only this model id")
    listing.add_argument("--task", help="only this task")
    listing.set_defaults(handler=cmd_results_list)
    show_result = results_sub.add_parser("show", help="one result: a file, or a key (prefix)")
    show_result.add_argument("what", help="path of a result file, or the start of its key")
    show_result.add_argument("--output", type=Path, default=Path("results"))
    show_result.set_defaults(handler=cmd_results_show)


def cmd_tasks_list(args: argparse.Namespace) -> int:
    from benchmark.taskfiles import load_task, task_files

    for name in task_files():
        config = load_task(name)
        first = config.description.strip().splitlines()[0] if config.description else ""
        print(f"{name:<26} {config.kind:<22} {config.main_score.name:<28} {first}")
    return EXIT_OK


def cmd_tasks_validate(args: argparse.Namespace) -> int:
    """Everything a run would refuse for each task's own settings, with its default probes."""
    from benchmark.kinds import get_kind
    from benchmark.probes import ProbeSpec, load_probes
    from benchmark.taskfiles import load_task, task_files

    paths = args.paths or list(task_files().values())
    failures = 0
    for path in paths:
        try:
            config = load_task(path)
            p = config.probes
            spec = ProbeSpec(
                source=p.source,
                languages=tuple(p.languages) if p.languages else None,
                split=p.split,
                n=p.n,
                seed=p.seed,
                reading=p.reading,
                repo=p.repo,
            )
            probes = load_probes(spec)
            get_kind(config.kind).check_probes(config, config.params, probes)
        except UsageError as err:
            failures += 1
            text = str(err)
            print(text if text.startswith(str(path)) else f"{path}: {text}", file=sys.stderr)
        else:
            print(
                f"ok  {path} ({config.name} v{config.version}, kind {config.kind}, "
                f"{p.source}: {len(probes.languages)} languages x {len(probes.ids)})"
            )
    return EXIT_BAD_INPUT if failures else EXIT_OK


def cmd_probes_list(args: argparse.Namespace) -> int:
    from benchmark import probes

    for entry in probes.list_probe_sets():
        n_languages = entry.get("n_languages", len(entry.get("languages") or []))
        print(f"{entry['name']:<10} {n_languages:>3} languages  {entry.get('description', '')}")
    return EXIT_OK


def cmd_probes_show(args: argparse.Namespace) -> int:
    from benchmark import probes

    print(json.dumps(probes.show_probe_set(args.name), indent=2, ensure_ascii=False))
    return EXIT_OK


def cmd_probes_build(args: argparse.Namespace) -> int:
    from benchmark.probes.build.__main__ import main as build_main

    return build_main([args.name, *args.options])


def cmd_models_list(args: argparse.Namespace) -> int:
    from benchmark.models import default_stack, families
    from benchmark.models.common import COMMON_SETTINGS

    # the built-in families, then those registered by $INTERLINGUA_ADAPTERS modules
    for name, fam in families().items():
        print(f"{name}  [{', '.join(fam.modalities)}]  adapter v{fam.version}")
        print(f"    {fam.description}")
        claims = f"model ids {fam.id_prefix}" if fam.id_prefix else "(by fallback)"
        print(f"    model types: {', '.join(fam.model_types) or claims}")
        for stack_name, stack in fam.stacks.items():
            marks = [
                m + (" (default)" if default_stack(fam.stacks, m) == stack_name else "")
                for m in stack.takes
            ]
            head = ", output head" if stack.head else ""
            print(f"    stack {stack_name} [{', '.join(marks)}{head}]: {stack.layers}")
        settings = ", ".join(f"{k}={v!r}" for k, v in fam.defaults.items())
        print(f"    settings: {settings}")
    print(f"common settings (every family): {', '.join(COMMON_SETTINGS)}")
    return EXIT_OK


def _results(folder: Path):
    """Every result file under `folder` that can be vouched for; the others are named on stderr
    with the reason (benchmark.result_sets: the leaderboard reads the same way)."""
    from benchmark.result_sets import read_result_files

    files = read_result_files(folder, "--output")
    for line in files.log:
        print(line, file=sys.stderr)
    if not files.found:
        raise UsageError(f"no results under {folder}; write some with `interlingua run`")
    return files.found


def cmd_results_list(args: argparse.Namespace) -> int:
    from benchmark.cli.run_command import describe

    for path, result in _results(args.output):
        if args.model and result.model.id != args.model:
            continue
        if args.task and result.task.name != args.task:
            continue
        settings = ",".join(f"{k}={v}" for k, v in sorted(result.model.settings.items()))
        print(f"{result.key[:16]}  {result.model.id}@{result.model.revision}  [{settings}]")
        print(f"    {describe(result.task.name, result)}")
        print(f"    {path}")
    return EXIT_OK


def cmd_results_show(args: argparse.Namespace) -> int:
    """A result file (checked as every reader checks it: an invalid one is refused, exit 2), or
    the one result under --output whose key starts with the text given."""
    from benchmark.result_sets import read_checked

    path = Path(args.what)
    if path.is_file():
        read_checked(path)
    else:
        matches = [p for p, r in _results(args.output) if r.key.startswith(args.what)]
        if len(matches) != 1:
            raise UsageError(
                f"{args.what!r} matches {len(matches)} result keys under {args.output}; "
                "give a longer key prefix or a file path"
            )
        path = matches[0]
    print(path.read_text(encoding="utf-8"), end="")
    return EXIT_OK

"""`interlingua validity`: every shipped task on every known-answer reference model, each main
score checked against the task's `validity:` block (docs/validity.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmark.errors import EXIT_OK, EXIT_TASK_FAILED


def add_parsers(sub) -> None:
    from benchmark.cli.run_command import csv_list

    validity = sub.add_parser(
        "validity",
        help="run every task on the known-answer reference models and check their verdicts",
    )
    validity.set_defaults(handler=cmd_validity)
    validity.add_argument("--tasks", type=csv_list, help="only these tasks (default: all)")
    validity.add_argument(
        "--references", type=csv_list, help="only these references, e.g. interlingua,language"
    )
    validity.add_argument("--seed", type=int, default=0, help="the references' seed setting")
    validity.add_argument(
        "--write", type=Path, metavar="PAGE", help="write the table into PAGE (docs/validity.md)"
    )
    validity.add_argument(
        "--output", type=Path, help="keep the results here (default: a temporary folder)"
    )


def cmd_validity(args: argparse.Namespace) -> int:
    from benchmark.validity import markdown, run_suite, write_table

    suite = run_suite(args.tasks, args.references, output=args.output, seed=args.seed)
    if args.write:
        print(f"wrote {write_table(args.write, suite, args.seed)}")
    else:
        print(markdown(suite, args.seed), end="")
    for check in suite.failures:
        print(f"FAIL {check.task} known:{check.reference}: {check.why}")
    print(f"{len(suite.checks) - len(suite.failures)} of {len(suite.checks)} checks as expected")
    return EXIT_TASK_FAILED if suite.failures else EXIT_OK

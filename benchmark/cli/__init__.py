"""The `interlingua` command line (also `python -m benchmark`).

Each command group lives in its own module and adds its parser here. Expected failures (bad
flags, files, items; a model that cannot be had) print one line and exit with a documented code
(benchmark.errors, docs/errors.md); `--debug` shows the traceback. Ctrl-C exits quietly with 130.
Any other exception is a bug, never the user's mistake: one line asking for a report, exit 70.
"""

from __future__ import annotations

import argparse
import logging
import sys

from benchmark.cli import board, catalog, run_command, validity_command
from benchmark.errors import EXIT_BUG, EXIT_INTERRUPTED, REPORT_TO, InterlinguaError

GROUPS = (run_command, catalog, board, validity_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="interlingua",
        description="Interlingua Bench: how models represent meaning across languages and modalities.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="info logging")
    parser.add_argument(
        "--debug", action="store_true", help="debug logging, and full tracebacks on errors"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        group.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s")
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("interrupted; what finished is kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    except InterlinguaError as err:
        if args.debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except Exception as err:
        # Every input a user can get wrong is checked and raised as an InterlinguaError: what
        # reaches here is a bug, and saying "bad input" would send the user looking for one.
        if args.debug:
            raise
        print(f"error: {internal_error(err)}", file=sys.stderr)
        return EXIT_BUG


def internal_error(err: BaseException) -> str:
    """The one line for an unexpected exception: what it was, and where to report it."""
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    what = f"{type(err).__name__}: {first}" if first else type(err).__name__
    return (
        f"internal error ({what}); please report it at {REPORT_TO} with the command and "
        "`--debug` output"
    )

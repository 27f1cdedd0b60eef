"""The `interlingua` command line (also `python -m benchmark`).

Each command group lives in its own module and adds its parser here. Expected failures (bad
flags, files, items; a model that cannot be had) print one line and exit with a documented code
(benchmark.errors, docs/errors.md); `--debug` shows the traceback. Ctrl-C exits quietly with 130.
"""

from __future__ import annotations

import argparse
import logging
import sys

from benchmark.cli import board, catalog, run_command
from benchmark.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, InterlinguaError

GROUPS = (run_command, catalog, board)


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
    except (ValueError, KeyError, FileNotFoundError, OSError) as err:
        # Bad input found deeper down (a probe file, a model folder): still one line.
        if args.debug:
            raise
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT

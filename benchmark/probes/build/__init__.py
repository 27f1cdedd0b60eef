"""Building the embedded probe sets ("udhr", "concepts") with espeak-ng speech.

`build_set(name, out_dir=None, languages=None, **options)` writes `<out_dir>/<lang_code>.parquet`
per language plus `card.json` and `README.md`, and returns the card. The default `out_dir` is the
set's folder in the package, benchmark/probes/data/<name>/. Command line:
`python -m benchmark.probes.build udhr|concepts [--out DIR] [--languages ...]`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

SET_NAMES = ("udhr", "concepts")
DATA_ROOT = Path(__file__).resolve().parent.parent / "data"


def build_set(
    name: str,
    out_dir: Path | str | None = None,
    languages: Sequence[str] | None = None,
    command: str = "",
    log: Callable[[str], None] = print,
    **options,
) -> dict:
    """Build embedded set `name`; `options` go to the set's builder (udhr: tarball, ids;
    concepts: sources, ids)."""
    if name not in SET_NAMES:
        raise ValueError(
            f"unknown probe set {name!r} to build; buildable sets: {', '.join(SET_NAMES)}"
        )
    out = Path(out_dir) if out_dir is not None else DATA_ROOT / name
    if name == "udhr":
        from benchmark.probes.build import udhr

        return udhr.build(out, languages=languages, command=command, log=log, **options)
    from benchmark.probes.build import concepts

    return concepts.build(out, languages=languages, command=command, log=log, **options)

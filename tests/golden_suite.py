"""The golden suite: the repository's tasks, made tiny (`tests/golden/tasks/`), on config-built tiny
models with fixed seeds, compared with the results committed under `tests/golden/results/`.

A change anywhere in the pipeline (probes, adapters, pooling, metrics, statistics, task defaults)
that moves a number, an interval or a null fails `tests/test_compare.py` until the goldens are
regenerated on purpose, with one command that says what moved:

    make golden            # = python tests/golden_suite.py --write
    python tests/golden_suite.py          # check only: exit 1 and a table when something moved

Everything is seeded; values are compared with an absolute tolerance of 1e-4 (float noise between
CPUs and BLAS builds is far below it; a real change almost never is). The tiny text encoder is
committed (`tests/golden/models/tiny-bert`, 110 kB) rather than rebuilt: training its WordPiece
vocabulary (`tokenizers`) is not deterministic, so each build tokenizes differently (and sometimes
has another vocabulary size). The tiny Whisper's BPE vocabulary is reproducible: it is built here.
`--rebuild-models` rebuilds the committed one too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmark.compare import CompareOptions, Comparison, Tolerances, compare_folders, render

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_DIR = ROOT / "tests" / "golden"
TASKS = GOLDEN_DIR / "tasks"
RESULTS = GOLDEN_DIR / "results"
COMMITTED_MODELS = GOLDEN_DIR / "models"
TOLERANCE = 1e-4
# name (also the model id: a relative folder, so results do not carry a machine's paths) -> builder
MODELS = {"tiny-whisper": ("whisper", {}), "tiny-bert": ("text", {"model_type": "bert"})}


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def build_models(folder: Path, rebuild: bool = False) -> None:
    """Each tiny model in `folder`: copied from the committed ones, else built."""
    from tiny_models import build_tiny_text_encoder, build_tiny_whisper

    for name, (kind, kwargs) in MODELS.items():
        if (folder / name).is_dir():
            continue
        if (COMMITTED_MODELS / name).is_dir() and not rebuild:
            shutil.copytree(COMMITTED_MODELS / name, folder / name)
            continue
        if kind == "whisper":
            build_tiny_whisper(folder / name, seed=0, **kwargs)
        else:
            build_tiny_text_encoder(folder / name, seed=0, **kwargs)


def run_suite(output: Path, work: Path | None = None, rebuild: bool = False) -> Path:
    """Run every golden task on every tiny model into `output` (fresh caches: nothing reused)."""
    from benchmark.runner import RunOptions, run

    output = Path(output).resolve()
    tasks = [str(p) for p in sorted(TASKS.glob("*.yaml"))]
    with tempfile.TemporaryDirectory(prefix="interlingua-golden-") as tmp:
        work = Path(work or tmp).resolve()
        build_models(work, rebuild)
        if rebuild:
            for name in MODELS:
                if (COMMITTED_MODELS / name).is_dir():
                    shutil.rmtree(COMMITTED_MODELS / name)
                    shutil.copytree(work / name, COMMITTED_MODELS / name)
        with _cwd(work):
            for name in MODELS:
                summary = run(
                    RunOptions(
                        model=name,
                        tasks=tasks,
                        output=output,
                        cache_dir=work / "cache",
                        batch_size=8,
                        progress=False,
                    )
                )
                if summary.failed:
                    raise RuntimeError(f"golden suite: {name} failed on {summary.failed}")
    return output


def check(candidate: Path | None = None) -> Comparison:
    """Run the suite (or take `candidate`, a folder it wrote) and compare it with the goldens."""
    with tempfile.TemporaryDirectory(prefix="interlingua-golden-check-") as tmp:
        folder = Path(candidate) if candidate else run_suite(Path(tmp) / "results")
        return compare_folders(RESULTS, folder, golden_options())


def golden_options() -> CompareOptions:
    return CompareOptions(tolerances=Tolerances(default=TOLERANCE), fail_on="change")


def write(rebuild: bool = False) -> Comparison | None:
    """Regenerate the goldens; return what moved against the previous ones (None: first time)."""
    with tempfile.TemporaryDirectory(prefix="interlingua-golden-write-") as tmp:
        fresh = run_suite(Path(tmp) / "results", rebuild=rebuild)
        moved = compare_folders(RESULTS, fresh, golden_options()) if RESULTS.is_dir() else None
        if RESULTS.exists():
            shutil.rmtree(RESULTS)
        shutil.copytree(fresh, RESULTS)
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tests/golden_suite.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--write", action="store_true", help="regenerate tests/golden/results")
    parser.add_argument(
        "--rebuild-models",
        action="store_true",
        help="with --write: rebuild the committed tiny models too (their tokenizers change)",
    )
    args = parser.parse_args(argv)
    if args.write:
        moved = write(args.rebuild_models)
        if moved is not None:
            print(render(moved))
        print(f"golden results written to {RESULTS}; review the diff and commit it")
        return 0
    comparison = check()
    print(render(comparison))
    if comparison.exit_code:
        print("the numbers moved: if that is intended, run `make golden` and commit the result")
    return comparison.exit_code


if __name__ == "__main__":
    sys.exit(main())

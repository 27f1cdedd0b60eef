"""Where `leaderboard build` writes: a fresh folder beside `--out`, swapped in only when the build
is complete, so a build that fails (a bad result, a full disk, a bug, Ctrl-C) leaves the previous
site byte for byte.

    out/                      the published site (carries MARKER)
    .out.building-<pid>-xxxx  the build in progress (renamed to out/ when complete)
    .out.old-<pid>-xxxx       the previous site for the instant of the swap, then removed

Linux has no portable atomic swap of two directories: between the two renames `out/` is absent
for a moment, never half-written. A build killed outright leaves its `.building-` folder; the next
build removes such folders when the process that made them is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from benchmark.errors import UsageError

MARKER = ".interlingua-site"
MARKER_TEXT = "built by interlingua leaderboard build; replaced on rebuild\n"


def check_paths(results: Path, out: Path) -> None:
    """Refuse an `--out` that holds `--results`, or lies inside it: replacing the site would
    delete the results, or the site's copies would be read back as results."""
    r, o = Path(results).resolve(), Path(out).resolve()
    if r == o or r in o.parents or o in r.parents:
        raise UsageError(
            f"--out {out} and --results {results}: one contains the other, and the site replaces "
            "--out whole; choose an --out outside the results folder (e.g. build/site)"
        )


def check_out(out: Path) -> None:
    """`out` may be absent, empty, or a site built here before; never another folder."""
    if not out.exists():
        return
    if not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder")
    if any(out.iterdir()) and not (out / MARKER).is_file():
        raise UsageError(
            f"--out {out}: not empty and not a site built here before; choose a new folder"
        )


@contextlib.contextmanager
def staged(out: Path) -> Iterator[Path]:
    """A fresh folder beside `out` to build in; on success it replaces `out`, on any error
    (KeyboardInterrupt included) it is removed and `out` is untouched."""
    out = Path(out)
    check_out(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(out)
        stage = Path(
            tempfile.mkdtemp(prefix=f".{out.name}.building-{os.getpid()}-", dir=out.parent)
        )
    except OSError as err:
        raise UsageError(
            f"--out {out}: cannot build beside it in {out.parent} ({err.strerror or err}); "
            "choose a folder you can write"
        ) from None
    try:
        (stage / MARKER).write_text(MARKER_TEXT)
        yield stage
        check_out(out)  # another process may have put something there meanwhile
        _swap(stage, out)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _swap(stage: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-{os.getpid()}-", dir=out.parent))
        os.replace(out, old / "site")
    try:
        os.replace(stage, out)
    except OSError:
        if old is not None:
            os.replace(old / "site", out)  # put the previous site back
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def _remove_stale(out: Path) -> None:
    """Folders left beside `out` by builds killed outright (their process is gone)."""
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.(building|old)-(\d+)-")
    for path in out.parent.iterdir():
        match = pattern.match(path.name)
        if match and path.is_dir() and not _alive(int(match.group(2))):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True

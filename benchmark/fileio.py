"""Writing files safely: atomic replacement with the process's umask, and paths that stay inside
their root whatever a user-given name contains."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from benchmark.errors import UsageError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to `path` through a temporary file renamed into place: a reader never sees
    half a file, and a crash leaves the old file whole. Permissions follow the umask (mkstemp
    alone would make the file owner-only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_save(path: Path, write) -> Path:
    """Like atomic_write_bytes for writers that want a file name: `write(tmp_path)`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def slug(text: str) -> str:
    """A path-safe single name: `openai/whisper-base` -> `openai__whisper-base`. Never empty, never
    `.` or `..`, never starts with a dot."""
    out = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text).replace("/", "__")).strip("_").lstrip(".")
    return out or "unnamed"


def inside(root: Path, *parts: str) -> Path:
    """root/part/... as slugs, checked to stay inside `root` (raises UsageError otherwise)."""
    root = Path(root)
    path = root.joinpath(*(slug(p) for p in parts))
    resolved, base = path.resolve(), root.resolve()
    if resolved != base and base not in resolved.parents:
        raise UsageError(f"{path}: would be written outside {root}; rename the model or task")
    return path


def check_writable_dir(path: Path, flag: str) -> Path:
    """Create `path` if needed and check a file can be written in it, before any work is done."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-check.")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise UsageError(
            f"{flag} {path}: cannot write there ({err.strerror or err}); choose a folder you can "
            "write to"
        ) from None
    return path

"""Result files on disk: `<root>/<model>/<revision>/<task>/<key16>.json`, one per result key.

An ok (or not-applicable) result lives at its key's path; a failed run writes `<key16>.error.json`
beside it, so a failure never replaces a finished result. Every path is built from slugs and
checked to stay inside the root. Files are written atomically with the process's umask.
"""

from __future__ import annotations

import json
import math
import platform
import re
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from benchmark.errors import UsageError
from benchmark.fileio import atomic_write_text, inside
from benchmark.results.keys import key_problem
from benchmark.results.schema import SCHEMA_VERSION, TaskResult

_VERSION = re.compile(r'"schema_version"\s*:\s*"([^"]*)"')
KEY_CHARS = 16  # of the sha256 key, in file names
ERROR_SUFFIX = ".error.json"
_PACKAGES = (
    "interlingua-bench",
    "torch",
    "transformers",
    "datasets",
    "evaluate",
    "numpy",
    "scipy",
    "pandas",
    "huggingface_hub",
    "soundfile",
)


def environment() -> dict[str, Any]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"python": sys.version.split()[0], "platform": platform.platform(), "packages": versions}


def result_dir(root: Path, model_name: str, revision: str, task_name: str) -> Path:
    return inside(root, model_name, revision, task_name)


def result_path(root: Path, model_name: str, revision: str, task_name: str, key: str) -> Path:
    return result_dir(root, model_name, revision, task_name) / f"{key[:KEY_CHARS]}.json"


def error_path(path: Path) -> Path:
    return path.with_name(path.name[: -len(".json")] + ERROR_SUFFIX)


def write_result(path: Path, result: TaskResult) -> Path:
    """Write `result` at `path` (an error result goes beside it, never over it). A result whose key
    is not the key of its content would be refused by every reader: writing one is a bug."""
    problem = key_problem(result)
    if problem is not None:
        raise ValueError(f"refusing to write {path}: {problem}")
    target = error_path(path) if result.status == "error" else path
    data = _finite(result.model_dump(mode="json"))
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return atomic_write_text(target, text)


def _finite(value):
    """JSON has no NaN or infinity: an undefined number is written as null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def finished_result(path: Path, key: str) -> TaskResult | None:
    """The result already at `path` for `key`, if it finished (ok or not applicable) and its
    content still gives that key (an edited file is recomputed and replaced)."""
    if not path.is_file():
        return None
    try:
        previous = read_result(path)
    except UsageError:
        return None  # unreadable or another schema: recomputed and replaced
    if previous.key != key or previous.status == "error" or key_problem(previous) is not None:
        return None
    return previous


def read_result(path: Path) -> TaskResult:
    """A result file, validated. Files of another schema major are refused, saying how to redo
    them (there is no faithful migration from 1.x: its main scores averaged modalities)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: not a readable result file ({err})") from None
    head = _VERSION.search(text[:200])
    if head and head.group(1) == SCHEMA_VERSION:  # the fast path: validate the JSON text directly
        try:
            return TaskResult.model_validate_json(text)
        except ValidationError:
            pass  # reported below, with the field
    try:
        data = json.loads(text)
    except ValueError as err:
        raise UsageError(f"{path}: not a readable result file ({err})") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a result file (expected a JSON object)")
    version = str(data.get("schema_version", "?"))
    if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise UsageError(
            f"{path}: result schema {version}, this version reads {SCHEMA_VERSION}. "
            f"Redo it with: {_redo_command(data)}"
        )
    try:
        return TaskResult(**data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(x) for x in first["loc"])
        raise UsageError(f"{path}: field `{field}`: {first['msg']}") from None


def _redo_command(data: dict) -> str:
    model = (data.get("model") or {}).get("id") or "MODEL"
    task = (data.get("task") or {}).get("name") or "TASK"
    return f"interlingua run --model {model} --tasks {task} --overwrite"


def iter_result_files(root: Path) -> Iterator[Path]:
    """Every result file under `root` (error files excluded), in a stable order."""
    root = Path(root)
    for path in sorted(root.rglob("*.json")):
        if not path.name.endswith(ERROR_SUFFIX) and not path.name.startswith("."):
            yield path

"""Versioned result files: `<output>/<model-slug>/<revision>/<task>.json`, one per task run.

The schema is a pydantic model so that the leaderboard and regression checks read results through
the same validation that wrote them. Bump SCHEMA_VERSION on any incompatible change.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

SCHEMA_VERSION = "1.0"
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


class MainScore(BaseModel):
    model_config = ConfigDict(extra="allow")  # kinds add e.g. the chosen layer, the null

    name: str
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None


class TaskResult(BaseModel):
    schema_version: str = SCHEMA_VERSION
    status: Literal["ok", "not_applicable", "error"]
    reason: str | None = None  # why not applicable / what failed
    task: dict[str, Any]  # name, version, kind, config_sha256, config
    model: dict[
        str, Any
    ]  # id, revision, origin, weights_sha256, adapter {family, version, settings}
    probes: dict[str, Any]  # name, revision, languages, n, ids_sha256, selection rules
    main_score: MainScore | None = None
    scores: dict[str, Any] = {}
    notes: list[str] = []
    runtime: dict[str, Any] = {}
    environment: dict[str, Any] = {}


def slug(text: str) -> str:
    """A path-safe name: `openai/whisper-base` -> `openai__whisper-base`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text.replace("/", "__")).strip("_") or "model"


def result_path(output_dir: Path, model_id: str, revision: str, task_name: str) -> Path:
    return Path(output_dir) / slug(model_id) / slug(revision) / f"{task_name}.json"


def environment() -> dict[str, Any]:
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"python": sys.version.split()[0], "platform": platform.platform(), "packages": versions}


def write_result(path: Path, result: TaskResult) -> Path:
    """Atomic write: a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(result.model_dump(mode="json"), handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(tmp, path)
    return path


def read_result(path: Path) -> TaskResult:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    version = str(data.get("schema_version", "?"))
    if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise ValueError(
            f"{path}: result schema {version} is not readable by this version "
            f"(expects {SCHEMA_VERSION}); re-run the task or upgrade interlingua-bench."
        )
    return TaskResult(**data)

"""Typed task configuration: one YAML file per task in `tasks/`, validated before anything runs.

A task file may `include` another YAML file (relative to itself) holding shared defaults; the task's
own keys win, nested mappings are merged. Nothing in a YAML file is executed. Errors name the file,
the line and the field, and say what is allowed.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from benchmark.models.base import Modality

TASKS_DIR_ENV = "INTERLINGUA_TASKS_DIR"


class ConfigError(ValueError):
    """A task file is malformed; the message names file, line and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProbesConfig(_Strict):
    source: str = "udhr"
    languages: list[str] | None = None
    split: str = "test"
    n: int | None = Field(default=None, ge=2)
    seed: int = 0
    reading: int = Field(default=0, ge=0)
    repo: str = "google/fleurs"


class MainScoreConfig(_Strict):
    """Which number headlines the task. `layer` picks one layer of the per-layer curve:
    "best" (the layer where the summary peaks; the chosen layer is reported), "last", "mean"
    (averaged over layers), or a layer name such as "layer_4"."""

    name: str
    measure: Literal["svcca", "cka"] = "svcca"
    layer: str = "best"


class TaskConfig(_Strict):
    name: str
    version: int = Field(ge=1)
    kind: str
    description: str = ""
    probes: ProbesConfig = ProbesConfig()
    modalities: list[Modality] = Field(min_length=1)
    layers: Literal["all"] | list[str] = "all"
    pooling: Literal["mean", "first", "last", "max"] = "mean"
    metric: dict[str, Any] = Field(default_factory=dict)
    main_score: MainScoreConfig

    def config_hash(self) -> str:
        """sha256 of the resolved config: two results with the same hash ran the same task."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()


def tasks_dir() -> Path:
    """The folder of task YAML files: $INTERLINGUA_TASKS_DIR, else `tasks/` beside the package."""
    env = os.environ.get(TASKS_DIR_ENV)
    return Path(env) if env else Path(__file__).resolve().parent.parent / "tasks"


def task_files(directory: Path | None = None) -> dict[str, Path]:
    """Task name (file stem) -> path. Files starting with `_` hold shared defaults, not tasks."""
    directory = directory or tasks_dir()
    return {p.stem: p for p in sorted(directory.glob("*.yaml")) if not p.name.startswith("_")}


def load_task(name_or_path: str | Path) -> TaskConfig:
    path = Path(name_or_path)
    if not path.suffix:
        files = task_files()
        if str(name_or_path) not in files:
            raise ConfigError(unknown_name_message("task", str(name_or_path), list(files)))
        path = files[str(name_or_path)]
    raw, nodes = _read_with_includes(path)
    try:
        config = TaskConfig(**raw)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(path, err, nodes, TaskConfig)) from None

    from benchmark.kinds import get_kind  # the kind registry imports task kinds lazily

    try:
        kind = get_kind(config.kind)
    except KeyError as err:
        where = nodes.get(("kind",), (path, 1))
        raise ConfigError(f"{where[0]}:{where[1]}: field `kind`: {err.args[0]}") from None
    try:
        config.metric = kind.params(**config.metric).model_dump()
    except ValidationError as err:
        raise ConfigError(
            _format_validation_error(path, err, nodes, kind.params, prefix=("metric",))
        ) from None
    return config


def load_tasks(names: str | list[str]) -> list[TaskConfig]:
    """`"all"`, a comma-separated string, or a list of names/paths."""
    if names == "all":
        names = list(task_files())
    elif isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    return [load_task(n) for n in names]


def unknown_name_message(what: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"Unknown {what} {name!r}.{hint} Known: {', '.join(sorted(known)) or '(none)'}."


# --- YAML reading with line numbers ------------------------------------------------------------


def _read_with_includes(path: Path, seen: tuple[Path, ...] = ()) -> tuple[dict, dict]:
    """Parse `path`, resolving `include`; return (merged mapping, {key path: (file, line)})."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such task file.")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: include cycle ({' -> '.join(str(p) for p in seen)}).")
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: malformed YAML: {getattr(err, 'problem', err)}") from None
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: a task file must be a mapping of fields, got {type(data).__name__}."
        )
    lines: dict[tuple, tuple[Path, int]] = {}
    _collect_lines(node, (), path, lines)

    include = data.pop("include", None)
    if include is None:
        return data, lines
    if not isinstance(include, str):
        raise ConfigError(f"{path}:{lines[('include',)][1]}: `include` must be a file name.")
    base, base_lines = _read_with_includes(path.parent / include, (*seen, path.resolve()))
    return _merge(base, data), {**base_lines, **lines}


def _collect_lines(node: yaml.Node, prefix: tuple, path: Path, out: dict) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            here = (*prefix, key.value)
            out[here] = (path, key.start_mark.line + 1)
            _collect_lines(value, here, path, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            out[(*prefix, i)] = (path, value.start_mark.line + 1)
            _collect_lines(value, (*prefix, i), path, out)


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _format_validation_error(
    path: Path, err: ValidationError, nodes: dict, model: type[BaseModel], prefix: tuple = ()
) -> str:
    lines = []
    for e in err.errors():
        loc = prefix + tuple(e["loc"])
        field = ".".join(str(x) for x in loc) or "(top level)"
        hit = next((nodes[loc[:c]] for c in range(len(loc), 0, -1) if loc[:c] in nodes), None)
        where = f"{hit[0]}:{hit[1]}" if hit else f"{path}:1"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            allowed = _allowed_fields(model, tuple(e["loc"])[:-1])
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "."
            msg = f"unknown field{hint} Allowed: {', '.join(allowed)}"
        elif e["type"] == "missing":
            msg = "required field is missing"
        lines.append(f"{where}: field `{field}`: {msg}")
    return "Invalid task file:\n  " + "\n  ".join(lines)


def _allowed_fields(model: type[BaseModel], loc: tuple) -> list[str]:
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            break
    return list(model.model_fields)

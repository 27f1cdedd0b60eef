"""Task files: one YAML file per task in `tasks/`, read into a validated `TaskConfig`.

A task file may `include` another YAML file (relative to itself) holding shared defaults; the task's
own keys win, nested mappings are merged. Settings given on the command line (`--task-setting
metric.svcca_k=5`, and `--limit`, `--languages`, `--probes`, which set `probes.n`, `.languages`,
`.source`) override the file before validation and are recorded. Nothing in a YAML file is
executed. Errors name the file, the line (or the flag) and the field, and say what is allowed.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from benchmark.config import TaskConfig
from benchmark.errors import ConfigError, UsageError, close_matches, did_you_mean
from benchmark.kinds import get_kind
from benchmark.yaml_input import load as load_yaml
from benchmark.yaml_input import read_text

TASKS_DIR_ENV = "INTERLINGUA_TASKS_DIR"


def tasks_dir() -> Path:
    """The folder of task YAML files: $INTERLINGUA_TASKS_DIR, else `tasks/` beside the package."""
    env = os.environ.get(TASKS_DIR_ENV)
    return Path(env) if env else Path(__file__).resolve().parent.parent / "tasks"


def task_files(directory: Path | None = None) -> dict[str, Path]:
    """Task name (file stem) -> path. Files starting with `_` hold shared defaults, not tasks.
    A missing or empty folder is an error that says where it looked."""
    directory = Path(directory or tasks_dir())
    if not directory.is_dir():
        raise UsageError(
            f"no tasks folder at {directory}; set {TASKS_DIR_ENV} to a folder of task YAML files "
            "or run from a checkout of interlingua-bench"
        )
    files = {p.stem: p for p in sorted(directory.glob("*.yaml")) if not p.name.startswith("_")}
    if not files:
        raise UsageError(
            f"no task files in {directory} (looked for *.yaml not starting with '_'); add one, "
            f"or point {TASKS_DIR_ENV} at a folder that has them"
        )
    return files


def parse_setting(text: str) -> tuple[str, Any]:
    """`metric.svcca_k=5` -> ("metric.svcca_k", 5); values are read as YAML (5, 0.9, true, [a, b])."""
    if "=" not in text or not text.split("=", 1)[0].strip():
        raise UsageError(f"--task-setting {text!r}: expected FIELD=VALUE, e.g. metric.svcca_k=5")
    path, raw = text.split("=", 1)
    try:
        _, value = load_yaml(raw, f"--task-setting {text}")
    except yaml.YAMLError:
        value = raw
    return path.strip(), value


def load_task(name_or_path: str | Path, overrides: dict[str, Any] | None = None) -> TaskConfig:
    """A task by name (from `tasks_dir()`) or path, with `overrides` ({"metric.svcca_k": 5})."""
    path = Path(name_or_path)
    if not path.suffix:
        files = task_files()
        if str(name_or_path) not in files:
            raise ConfigError(did_you_mean("task", str(name_or_path), list(files)))
        path = files[str(name_or_path)]
    raw, nodes = _read_with_includes(path)
    for dotted, value in (overrides or {}).items():
        _set_dotted(raw, dotted)[dotted.split(".")[-1]] = copy.deepcopy(value)
        nodes[tuple(dotted.split("."))] = (f"--task-setting {dotted}={_shown(value)}", None)
    try:
        config = TaskConfig(**raw)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(path, err, nodes, TaskConfig)) from None
    try:
        kind = get_kind(config.kind)
    except UsageError as err:
        where = nodes.get(("kind",), (path, 1))
        raise ConfigError(f"{_where(where)}: field `kind`: {err}") from None
    try:
        config = config.with_params(kind.params(**config.metric))
    except ValidationError as err:
        raise ConfigError(
            _format_validation_error(path, err, nodes, kind.params, prefix=("metric",))
        ) from None
    try:
        kind.check_config(config, config.params)
    except UsageError as err:
        raise ConfigError(f"{path}: {err}") from None
    return config


def load_tasks(names: str | list[str], overrides: dict[str, Any] | None = None) -> list[TaskConfig]:
    """`"all"`, a comma-separated string, or a list of names/paths. Selecting nothing is an error."""
    if names == "all":
        names = list(task_files())
    elif isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    if not names:
        raise UsageError(
            f"--tasks selects no task; give task names ({', '.join(task_files())}) or 'all'"
        )
    return [load_task(n, overrides) for n in names]


def _set_dotted(raw: dict, dotted: str) -> dict:
    """The mapping that holds the last part of `dotted`, created along the way."""
    target = raw
    for part in dotted.split(".")[:-1]:
        nxt = target.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise UsageError(f"--task-setting {dotted}: `{part}` is not a mapping in the task")
        target = nxt
    return target


def _where(hit: tuple) -> str:
    origin, line = hit
    return f"{origin}:{line}" if line is not None else str(origin)


def _read_with_includes(path: Path, seen: tuple[Path, ...] = ()) -> tuple[dict, dict]:
    """Parse `path`, resolving `include`; return (merged mapping, {key path: (file, line)})."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such task file.")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: include cycle ({' -> '.join(str(p) for p in seen)}).")
    text = read_text(path, "task file")
    try:
        node, data = load_yaml(text, str(path))  # bounded: size, aliases (docs/errors.md)
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
    from_flags = True
    for e in err.errors():
        loc = prefix + tuple(e["loc"])
        field = ".".join(str(x) for x in loc) or "(top level)"
        hit = next((nodes[loc[:c]] for c in range(len(loc), 0, -1) if loc[:c] in nodes), None)
        where = _where(hit) if hit else f"{path}:1"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            allowed = _allowed_fields(model, tuple(e["loc"])[:-1])
            close = close_matches(str(loc[-1]), allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "."
            msg = f"unknown field{hint} Allowed: {', '.join(allowed)}"
        elif e["type"] == "missing":
            msg = "required field is missing"
        lines.append(f"{where}: field `{field}`: {msg}")
        from_flags = from_flags and hit is not None and hit[1] is None
    if from_flags:  # only the command line's settings are wrong: the file is not to blame
        return "; ".join(lines)
    return "Invalid task file:\n  " + "\n  ".join(lines)


def _shown(value: Any) -> str:
    """A setting's value as it would be typed: 0, 0.5, true, [a, b], text."""
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _allowed_fields(model: type[BaseModel], loc: tuple) -> list[str]:
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            break
    return list(model.model_fields)

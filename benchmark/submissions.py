"""Model submissions: `submissions/<org>__<model>[--<variant>].yaml`, one reviewed file per board
row, validated here and run with `interlingua submit`.

What a file may hold is `Submission` (unknown fields are errors, with a "did you mean"). Checks
beyond the schema:
  - the model is a Hub id (`org/name`): a local path cannot be reproduced by anyone else, and a
    name with `..` or more slashes could write outside the results folder;
  - the revision is pinned: a full 40-hex commit, or an offline asset `offline:<dist>==<version>`
    (an exact package version; see benchmark.models.offline); branch and tag names move;
  - the file name is the model id's slug (`openai/whisper-base` -> `openai__whisper-base.yaml`),
    optionally followed by `--<variant>` (e.g. `--random-init-0` for a control row);
  - `trust_remote_code: true` lets the model repository's own Python run on the scoring machine:
    refused unless a maintainer has added `maintainer_approval: {by, date}` naming someone listed
    in `submissions/MAINTAINERS` (reviewers check that the submitter did not add it themselves).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from benchmark.errors import UsageError, did_you_mean
from benchmark.fileio import slug
from benchmark.yaml_input import load as load_yaml
from benchmark.yaml_input import read_text

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")
OFFLINE_REVISION = re.compile(r"^offline:[A-Za-z0-9][A-Za-z0-9_.-]*==[A-Za-z0-9][A-Za-z0-9_.+!-]*$")
VARIANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MAINTAINERS_FILE = "MAINTAINERS"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class Approval(_Strict):
    """Added by a maintainer during review, never by the submitter."""

    by: str = Field(min_length=1)
    date: dt.date


class Submission(_Strict):
    model: str  # Hub id, org/name
    revision: str  # a full commit hash, or offline:<dist>==<version>
    model_settings: dict[str, Any] = Field(default_factory=dict)  # adapter settings
    random_init: int | None = Field(default=None, ge=0)  # a control row: seeded random weights
    tasks: Literal["all"] | list[str] = "all"
    submitter: str = Field(min_length=1)
    license: str = Field(min_length=1)  # the model's license (SPDX id or the Hub's license tag)
    languages: Literal["multilingual"] | list[str] = "multilingual"  # what the model was made for
    notes: str = ""
    trust_remote_code: bool = False
    maintainer_approval: Approval | None = None

    @field_validator("tasks")
    @classmethod
    def _some_tasks(cls, value):
        if isinstance(value, list) and not value:
            raise ValueError("an empty list; leave `tasks` out (or write `all`) to run every task")
        return value

    @property
    def is_control(self) -> bool:
        return self.random_init is not None

    @property
    def language_group(self) -> str:
        if self.languages == "multilingual":
            return "multilingual"
        return "+".join(sorted(self.languages)) + "-only"

    def run_options(self, output: Path, **more):
        """The `RunOptions` that score this submission into `output`."""
        from benchmark.runner import RunOptions

        return RunOptions(
            model=self.model,
            revision=self.revision,
            tasks=self.tasks,
            model_settings=dict(self.model_settings),
            random_init=self.random_init,
            trust_remote_code=self.trust_remote_code,
            output=Path(output),
            **more,
        )


def is_pinned(revision: str) -> bool:
    return bool(COMMIT.match(revision) or OFFLINE_REVISION.match(revision))


def expected_stem(model: str) -> str:
    return slug(model)


def load_submission(path: Path | str, maintainers: list[str] | None = None) -> Submission:
    """A submission file, read and checked; raises UsageError naming the file, line and field."""
    path = Path(path)
    if path.suffix not in (".yaml", ".yml"):
        raise UsageError(f"{path}: a submission is a .yaml file named <org>__<model>.yaml")
    text = read_text(path, "submission")
    try:
        node, raw = load_yaml(text, str(path))  # bounded: size, aliases (docs/errors.md)
        lines = _key_lines(node)
    except yaml.YAMLError as err:
        raise UsageError(f"{path}: not valid YAML ({err})".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise UsageError(f"{path}: expected a mapping of fields (model, revision, submitter, ...)")
    try:
        sub = Submission(**raw)
    except ValidationError as err:
        raise UsageError(_describe_error(path, err, lines)) from None

    where = _where(path, lines)
    if not HUB_ID.match(sub.model) or ".." in sub.model or "--" in sub.model:
        raise UsageError(
            f"{where('model')}: {sub.model!r} is not a Hub model id of the form 'org/name' "
            "(letters, digits, '-', '_', '.'; no '..' or '--'); local paths cannot be submitted"
        )
    if not is_pinned(sub.revision):
        raise UsageError(
            f"{where('revision')}: {sub.revision!r} is not pinned; give the full 40-character "
            "commit hash (the model page's 'Files and versions' history, or "
            "`huggingface_hub.model_info(ID).sha`), or an offline asset 'offline:<dist>==<version>'"
        )
    stem = path.name.rsplit(".", 1)[0]
    want = expected_stem(sub.model)
    variant = stem[len(want) + 2 :] if stem.startswith(want + "--") else None
    if stem != want and not (variant and VARIANT.match(variant)):
        raise UsageError(
            f"{path}: the file name must be the model id's slug: {want}.yaml (or "
            f"{want}--<variant>.yaml, e.g. --random-init-0 for a control), not {path.name}"
        )
    if sub.trust_remote_code:
        _check_approval(path, sub, where, maintainers)
    return sub


def _check_approval(path: Path, sub: Submission, where, maintainers: list[str] | None) -> None:
    if sub.maintainer_approval is None:
        raise UsageError(
            f"{where('trust_remote_code')}: trust_remote_code runs the model repository's own "
            "Python on the scoring machine; it is refused unless a maintainer reviews that code "
            "and adds `maintainer_approval: {by: <maintainer>, date: YYYY-MM-DD}` to this file"
        )
    allowed = maintainers if maintainers is not None else read_maintainers(path.parent)
    if sub.maintainer_approval.by not in allowed:
        raise UsageError(
            f"{where('maintainer_approval')}: {sub.maintainer_approval.by!r} is not a maintainer "
            f"(listed in {path.parent / MAINTAINERS_FILE}: {', '.join(allowed) or 'nobody'})"
        )


def read_maintainers(folder: Path) -> list[str]:
    """Maintainer handles, one per line (`#` comments), from `<folder>/MAINTAINERS`."""
    path = Path(folder) / MAINTAINERS_FILE
    if not path.is_file():
        return []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: cannot read the maintainers list ({err})") from None
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def submission_files(paths: list[Path] | None, default_dir: Path) -> list[Path]:
    """Files named on the command line (folders expanded), else every submission in default_dir."""
    found: list[Path] = []
    for path in paths or [default_dir]:
        path = Path(path)
        if path.is_dir():
            found += sorted(p for p in path.glob("*.y*ml") if not p.name.startswith("_"))
        else:
            found.append(path)
    if not found:
        raise UsageError(
            f"no submission files in {', '.join(str(p) for p in paths or [default_dir])}"
        )
    return found


def shard_files(files: list[Path], index: int, count: int) -> list[Path]:
    """Shard `index` of `count`: every count-th file of the sorted list, from position `index`.
    Sorted by name, so every process (or machine) given the same files agrees on the split."""
    return sorted(files, key=lambda p: (p.name, str(p)))[index::count]


def check_tasks(sub: Submission, path: Path) -> None:
    """The named tasks exist in the tasks folder (with a did-you-mean)."""
    if sub.tasks == "all":
        return
    from benchmark.taskfiles import task_files

    known = list(task_files())
    for name in sub.tasks:
        if name not in known:
            raise UsageError(f"{path}: tasks: " + did_you_mean("task", name, known))


# --- error messages with line numbers ---------------------------------------------------------


def _key_lines(root: yaml.Node | None) -> dict[tuple[str, ...], int]:
    """Line (1-based) of every mapping key, by its path of keys."""
    out: dict[tuple[str, ...], int] = {}

    def walk(node, prefix: tuple[str, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = (*prefix, str(key.value))
                out[name] = key.start_mark.line + 1
                walk(value, name)

    walk(root, ())
    return out


def _where(path: Path, lines: dict[tuple[str, ...], int]):
    def at(*keys: str) -> str:
        line = lines.get(tuple(keys))
        return f"{path}:{line}: field `{'.'.join(keys)}`" if line else f"{path}: field `{keys[0]}`"

    return at


def _describe_error(path: Path, err: ValidationError, lines: dict) -> str:
    # An unknown field first: a misspelt field is also reported missing under its right name.
    errors = sorted(err.errors(), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    loc = tuple(str(x) for x in first["loc"])
    where = _where(path, lines)(*loc) if loc else str(path)
    if first["type"] == "extra_forbidden":
        model: type[BaseModel] = Submission
        for part in loc[:-1]:
            annotation = model.model_fields.get(part)
            inner = getattr(annotation, "annotation", None)
            options = getattr(inner, "__args__", (inner,))
            model = next(
                (a for a in options if isinstance(a, type) and issubclass(a, BaseModel)), model
            )
        known = list(model.model_fields)
        return f"{where}: " + did_you_mean("field", loc[-1], known)
    if first["type"] == "missing":
        hint = {
            "revision": " (a full 40-character commit hash: results must name exact weights)",
            "model": " (the Hub id, org/name)",
        }.get(loc[-1], "")
        return f"{path}: field `{'.'.join(loc)}` is required{hint}"
    return f"{where}: {first['msg']}"

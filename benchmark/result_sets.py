"""A folder of results read as one set, the way `compare`, the golden suite, the leaderboard and
`results list|show` see it: every result file through `benchmark.results.read_result` and its key
checked against its content (`benchmark.results.keys`); a file that cannot be vouched for (not
UTF-8, not JSON, another schema major, a key its content does not give) is skipped with a reason
naming it, and one result per (model id, revision, settings, init, task) is kept — the newest by
`run.started` wins and the dropped files are named in the log. A skipped file never competes.

A results folder with no readable result is a UsageError (one line), not an empty table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from benchmark.errors import UsageError
from benchmark.results import TaskResult, iter_result_files, read_result
from benchmark.results.keys import key_problem

_OLDEST = datetime.min.replace(tzinfo=timezone.utc)


def settings_text(settings: dict) -> str:
    """Adapter settings as one canonical string (part of a row's identity)."""
    return json.dumps(settings, sort_keys=True, ensure_ascii=False, default=str)


def row_identity(result: TaskResult) -> tuple[str, str, str, str]:
    """What makes a leaderboard row: model id, revision, adapter settings, initialisation."""
    m = result.model
    return (m.id, m.revision, settings_text(m.settings), m.init)


def task_identity(result: TaskResult) -> tuple[str, str, str, str, str]:
    return (*row_identity(result), result.task.name)


def started(result: TaskResult) -> datetime:
    """When the result's run started (unknown: the oldest possible)."""
    text = result.run.started
    if not text:
        return _OLDEST
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return _OLDEST
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


class KeyMismatchError(UsageError):
    """A result file whose key is not the key of its content (edited, or its key overwritten)."""


def read_checked(path: Path | str) -> TaskResult:
    """One result file, validated, its key checked against its content. Raises UsageError naming
    the file and why it cannot be used (KeyMismatchError for a key its content does not give)."""
    result = read_result(path)
    problem = key_problem(result)
    if problem is not None:
        redo = f"interlingua run --model {result.model.id} --tasks {result.task.name} --overwrite"
        raise KeyMismatchError(
            f"{path}: {problem}: the file was edited or damaged; remove it, or redo it with: {redo}"
        )
    return result


@dataclass
class ResultFiles:
    """Every result file under a folder that could be read and vouched for, and why others not."""

    root: Path
    found: list[tuple[Path, TaskResult]] = field(default_factory=list)
    log: list[str] = field(default_factory=list)  # "skipped: <file>: <why>"
    mismatched: list[str] = field(default_factory=list)  # the skips whose key did not match
    seen: int = 0


def read_result_files(root: Path | str, what: str = "results folder") -> ResultFiles:
    """Read every result file under `root` (a missing folder is a UsageError)."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{what} {root}: no such folder")
    out = ResultFiles(root=root)
    for path in iter_result_files(root):
        out.seen += 1
        try:
            out.found.append((path, read_checked(path)))
        except KeyMismatchError as err:
            out.mismatched.append(str(err))
            out.log.append(f"skipped: {err}")
        except UsageError as err:
            out.log.append(f"skipped: {err}")
    return out


@dataclass
class ResultSet:
    root: Path
    results: list[TaskResult] = field(default_factory=list)
    paths: dict[str, Path] = field(default_factory=dict)  # result key -> file
    log: list[str] = field(default_factory=list)  # skipped files, dropped duplicates

    def by_task_identity(self) -> dict[tuple, TaskResult]:
        return {task_identity(r): r for r in self.results}


def load_result_set(
    root: Path | str, what: str = "results folder", refuse_mismatched: bool = False
) -> ResultSet:
    """Every result under `root`, one per task identity (newest wins). Raises UsageError when
    the folder is missing or holds no readable result, and with `refuse_mismatched` (`compare`:
    it vouches for what it compares) when a file's key does not match its content."""
    files = read_result_files(root, what)
    if refuse_mismatched and files.mismatched:
        more = f" (and {len(files.mismatched) - 1} more)" if len(files.mismatched) > 1 else ""
        raise UsageError(f"{what}: {files.mismatched[0]}{more}")
    root = files.root
    chosen: dict[tuple, tuple[TaskResult, Path]] = {}
    out = ResultSet(root=root, log=list(files.log))
    for path, result in files.found:
        ident = task_identity(result)
        if ident in chosen:
            other, other_path = chosen[ident]
            keep, drop = (result, path), (other, other_path)
            if started(result) < started(other):
                keep, drop = drop, keep
            out.log.append(
                f"duplicate: {result.model.id}@{result.model.revision} {result.task.name}: kept "
                f"{keep[1]} (started {keep[0].run.started}), dropped {drop[1]} "
                f"(started {drop[0].run.started}); the newest wins"
            )
            chosen[ident] = keep
        else:
            chosen[ident] = (result, path)
    if not chosen:
        seen = files.seen
        why = f"{seen} file(s) skipped; first: {out.log[0]}" if seen else "no result files"
        raise UsageError(
            f"{what} {root}: no results to read ({why}); write some with `interlingua run` "
            "or `interlingua submit`"
        )
    for result, path in chosen.values():
        out.results.append(result)
        out.paths[result.key] = path
    out.results.sort(key=lambda r: (task_identity(r), r.key))
    return out

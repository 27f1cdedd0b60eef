"""A folder of results read as one set, the way `compare`, the golden suite and the leaderboard
see it: every result file through `benchmark.results.read_result`, files of another schema major
skipped with the reader's message, and one result per (model id, revision, settings, init, task)
— the newest by `run.started` wins and the dropped files are named in the log.

A results folder with no readable result is a UsageError (one line), not an empty table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from benchmark.errors import UsageError
from benchmark.results import TaskResult, iter_result_files, read_result

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


@dataclass
class ResultSet:
    root: Path
    results: list[TaskResult] = field(default_factory=list)
    paths: dict[str, Path] = field(default_factory=dict)  # result key -> file
    log: list[str] = field(default_factory=list)  # skipped files, dropped duplicates

    def by_task_identity(self) -> dict[tuple, TaskResult]:
        return {task_identity(r): r for r in self.results}


def load_result_set(root: Path | str, what: str = "results folder") -> ResultSet:
    """Every result under `root`, one per task identity (newest wins). Raises UsageError when
    the folder is missing or holds no readable result."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{what} {root}: no such folder")
    chosen: dict[tuple, tuple[TaskResult, Path]] = {}
    out = ResultSet(root=root)
    seen = 0
    for path in iter_result_files(root):
        seen += 1
        try:
            result = read_result(path)
        except UsageError as err:
            out.log.append(f"skipped: {err}")
            continue
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

"""Held-out probe splits (issue 19 point 10): results scored on a probe set that is not in the
repository, shown in columns of their own beside the public ones.

Maintainers score the submissions on a FLEURS-format folder they keep private (`interlingua
submissions run --probes DIR --output PRIVATE_RESULTS`) and build the board with
`--split NAME=PRIVATE_RESULTS`. Each such result becomes task `<task> [NAME]` with main score
`<score> [NAME]`, so every column, task page and model section of the board shows it without a
change to the pages. What is published of the split is its card (languages, items per language,
the content hash of its files, the hash of its item ids); its items, its path and the folder's name
are not: the path is replaced by `NAME` in the task config, the probes record and the reproduce
command, and the raw download is this redacted record. docs/private_split.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from benchmark.errors import UsageError
from benchmark.result_sets import ResultSet, load_result_set
from benchmark.results import TaskResult

NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class Split:
    name: str
    results: Path


def parse_split(text: str) -> Split:
    """`NAME=DIR` from the command line."""
    name, sep, folder = text.partition("=")
    if not sep or not NAME.match(name) or not folder:
        raise UsageError(
            f"--split {text!r}: expected NAME=RESULTS_DIR with a lower-case name (letters, digits, "
            "'-', '_'), e.g. --split private=build/private-results"
        )
    return Split(name, Path(folder))


def label(text: str, split: str) -> str:
    return f"{text} [{split}]"


def redact(result: TaskResult, split: str) -> TaskResult:
    """The result as the board shows it: its task and score renamed for the split, and nothing
    that locates or names the split's files (its card stays: languages, n, hashes)."""
    data = result.model_dump(mode="json")
    config = data["task"]["config"]
    probes_cfg = config.get("probes") or {}
    hidden = f"<{split} split>"
    # where the split's files are: the path or repository given with --probes, wherever a run
    # recorded it (config, overrides, command, notes); the folder's name where it is a value
    paths = {str(probes_cfg.get(k)) for k in ("source", "repo") if probes_cfg.get(k)}
    paths |= {str(v) for k, v in data["task"].get("overrides", {}).items() if k == "probes.source"}
    names = {result.probes.name} if result.probes is not None else set()
    data = _replace(data, sorted(paths - {"", "None"}, key=len, reverse=True), names, hidden)
    task_name = label(result.task.name, split)
    data["task"]["name"] = data["task"]["config"]["name"] = task_name
    if data.get("probes"):
        data["probes"].update(name=split, source=hidden, skipped_items=[])
    if data.get("main_score"):
        data["main_score"]["name"] = label(result.main_score.name, split)
    data["notes"] = [
        *data["notes"],
        f"scored on the held-out {split} split (docs/private_split.md)",
    ]
    return TaskResult.model_validate(data)


def _replace(node, paths: list[str], names: set[str], hidden: str):
    """Every string value with the split's paths replaced, and the folder's name where it is the
    whole value; keys are left alone."""
    if isinstance(node, dict):
        return {k: _replace(v, paths, names, hidden) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace(v, paths, names, hidden) for v in node]
    if isinstance(node, str):
        if node in names:
            return hidden
        for path in paths:
            node = node.replace(path, hidden)
    return node


def merge_splits(public: ResultSet, splits: list[Split]) -> tuple[ResultSet, list[dict]]:
    """The public results plus every split's, redacted; and each split's card."""
    merged = ResultSet(root=public.root, results=list(public.results), paths=dict(public.paths))
    merged.log = list(public.log)
    cards = []
    for split in splits:
        found = load_result_set(split.results, f"--split {split.name}={split.results}")
        merged.log += [f"split {split.name}: {line}" for line in found.log]
        merged.results += [redact(r, split.name) for r in found.results]
        cards.append(card(split.name, found.results))
    return merged, cards


def card(name: str, results: list[TaskResult]) -> dict:
    """What is published of a split: per probe set version used, its languages, its number of
    items per language and overall, and the hashes that pin its content."""
    versions: dict[tuple, dict] = {}
    for r in results:
        p = r.probes
        if p is None:
            continue
        key = (p.revision, p.ids_sha256)
        entry = versions.setdefault(
            key,
            {
                "content_sha256": p.revision,
                "ids_sha256": p.ids_sha256,
                "languages": list(p.languages),
                "n_per_language": p.n,
                "n_items": p.n * len(p.languages),
                "tasks": [],
            },
        )
        entry["tasks"].append(r.task.name)
    return {
        "split": name,
        "held_out": True,
        "about": "scored on probes kept out of the repository; items not published "
        "(docs/private_split.md)",
        "versions": [v | {"tasks": sorted(set(v["tasks"]))} for v in versions.values()],
    }


def write_cards(cards: list[dict], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for c in cards:
        text = json.dumps(c, indent=2, ensure_ascii=False) + "\n"
        (folder / f"{c['split']}.json").write_text(text, encoding="utf-8")

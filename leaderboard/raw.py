"""Where each model page's "raw result" link points (issue 19: the raw copies were a third of a
200-model site).

* Copied (the default, offline): the result file as it is on disk, gzipped into the site at
  `data/raw/<row>/<task>.json.gz` (`gunzip` gives it back byte for byte at about a fifth of its
  size). A board built on a laptop links files that are in the folder.
* Linked (`leaderboard build --results-repo ORG/NAME`): nothing is copied; the link is the file in
  the results dataset, `https://huggingface.co/datasets/ORG/NAME/resolve/main/results/<path>`, where
  `<path>` is the file's path inside `--results`. The build lists the linked files in
  `data/raw-links.json`; `leaderboard publish --results-repo ORG/NAME --results DIR` uploads exactly
  those (and refuses a dataset or a folder that does not match), so every link resolves.

A held-out split's result is never in the results folder the dataset mirrors: its redacted record
is always a gzipped copy (leaderboard/splits.py).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from urllib.parse import quote

from benchmark.fileio import slug
from benchmark.result_sets import ResultSet
from benchmark.results import TaskResult

HUB = "https://huggingface.co"
FOLDER = "results"  # where the result files go in the dataset repository
MANIFEST = "data/raw-links.json"  # in the site: what publish must upload for the links to resolve


def dataset_url(repo_id: str, path: str) -> str:
    return f"{HUB}/datasets/{repo_id}/resolve/main/{quote(path, safe='/')}"


class RawResults:
    """Gives each (row, task) its raw link, writing a gzipped copy where nothing is linked."""

    def __init__(self, out: Path, result_set: ResultSet, results_repo: str | None = None):
        self.out, self.result_set, self.repo = Path(out), result_set, results_repo
        self.root = Path(result_set.root).resolve()
        self.linked: list[str] = []

    def href(self, row_id: str, task: str, result: TaskResult) -> str:
        """An absolute URL (linked) or a path from the site's root (copied)."""
        inside = self._in_results(result) if self.repo else None
        if inside is not None:
            path = f"{FOLDER}/{inside}"
            self.linked.append(path)
            return dataset_url(self.repo, path)
        local = f"data/raw/{row_id}/{slug(task)[:100]}.json.gz"
        self._copy(result, self.out / local)
        return local

    def _in_results(self, result: TaskResult) -> str | None:
        source = self.result_set.paths.get(result.key)
        if source is None:
            return None
        try:
            return Path(source).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None

    def _copy(self, result: TaskResult, target: Path) -> None:
        """The file as it is on disk (it was read and validated from there), gzipped; a split's
        redacted record is serialised. No name or time in the header: rebuilds are equal."""
        target.parent.mkdir(parents=True, exist_ok=True)
        source = self.result_set.paths.get(result.key)
        try:
            data = Path(source).read_bytes()
        except (OSError, TypeError):
            text = json.dumps(result.model_dump(mode="json"), indent=2, ensure_ascii=False)
            data = (text + "\n").encode("utf-8")
        target.write_bytes(gzip.compress(data, compresslevel=6, mtime=0))

    def write_manifest(self) -> None:
        if not self.repo:
            return
        manifest = {"results_repo": self.repo, "files": sorted(set(self.linked))}
        target = self.out / MANIFEST
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(manifest, indent=0) + "\n", encoding="utf-8")


def read_manifest(site: Path) -> dict | None:
    path = Path(site) / MANIFEST
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))

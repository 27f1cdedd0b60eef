"""`interlingua leaderboard publish`: a built site -> a static Hugging Face Space (and, with
`results_repo`, the results table -> a dataset repository anyone can `load_dataset`).

The commit is planned here — an add for every file of the site, a delete for every remote file the
site no longer has (`.gitattributes` is kept) — so `--dry-run` prints exactly what would be sent,
and the upload is one `HfApi.create_commit` with those operations. The token is whatever
huggingface_hub finds (`HF_TOKEN`, or the saved `hf auth login`); it is never read, printed or
logged here.

Before anything is planned the Hub is asked once per attempt (a single request, no retries inside)
at most ATTEMPTS times, with one warning line per failed attempt: without a network the command
ends in a few seconds with one error line, not in half a minute of huggingface_hub's own retries
and their log lines (which are kept quiet here).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from benchmark.errors import ModelUnavailableError, UsageError
from leaderboard.cards import dataset_card, space_readme
from leaderboard.output import MARKER
from leaderboard.raw import MANIFEST, read_manifest

REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")
KEEP_REMOTE = {".gitattributes"}
ATTEMPTS = 3  # requests to see whether the Hub answers
WAITS = (1.0, 2.0)  # seconds between them
TIMEOUT = 10.0  # seconds for each
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Planned:
    repo_id: str
    repo_type: str  # "space" | "dataset"
    operations: list  # CommitOperationAdd / CommitOperationDelete

    def lines(self) -> list[str]:
        from huggingface_hub import CommitOperationAdd

        out = [f"{self.repo_type} {self.repo_id}: {len(self.operations)} operation(s)"]
        for op in self.operations:
            if isinstance(op, CommitOperationAdd):
                out.append(f"  add     {op.path_in_repo} ({_size(op)} bytes)")
            else:
                out.append(f"  delete  {op.path_in_repo}")
        return out


def _size(op) -> int:
    source = op.path_or_fileobj
    return len(source) if isinstance(source, bytes) else Path(source).stat().st_size


def check_repo_id(repo_id: str, flag: str) -> str:
    if not REPO_ID.match(repo_id or "") or ".." in repo_id or "--" in repo_id:
        raise UsageError(f"{flag} {repo_id!r}: expected ORG/NAME (letters, digits, '-', '_', '.')")
    return repo_id


def site_files(site: Path) -> dict[str, Path]:
    site = Path(site)
    if not (site / "index.html").is_file() or not (site / MARKER).is_file():
        raise UsageError(
            f"--site {site}: not a site built by `interlingua leaderboard build` (no index.html "
            f"and {MARKER}); build it first"
        )
    return {
        p.relative_to(site).as_posix(): p
        for p in sorted(site.rglob("*"))
        if p.is_file() and p.name != MARKER and p.relative_to(site).as_posix() != MANIFEST
    }  # the manifest tells publish what to upload to the dataset; the Space does not need it


def linked_files(site: Path, results_repo: str | None, results: Path | None) -> dict[str, Path]:
    """The result files a site built with `--results-repo` links (path in the dataset -> file in
    `results`), all present; {} for a site that copies them. Refused, before any request, when
    the links would not resolve: another dataset, no --results, or a linked file missing."""
    manifest = read_manifest(site)
    if manifest is None:
        return {}
    repo = manifest["results_repo"]
    if results_repo != repo:
        raise UsageError(
            f"--site {site}: its raw-result links point at dataset {repo}; publish with "
            f"--results-repo {repo} --results DIR, or rebuild the site for the dataset you publish "
            "to (without --results-repo, raw results are copied into the site)"
        )
    if results is None:
        raise UsageError(
            f"--site {site}: it links raw results from {repo}; give --results DIR (the results "
            "folder it was built from) so that those files are uploaded there"
        )
    files = {}
    for path in manifest["files"]:
        local = Path(results) / path.split("/", 1)[1]
        if not local.is_file():
            raise UsageError(
                f"--results {results}: no {path.split('/', 1)[1]}, which the site links from {repo}; "
                "give the folder the site was built from, or rebuild the site"
            )
        files[path] = local
    return files


def plan(
    repo_id: str, repo_type: str, files: dict[str, Path | bytes], remote: list[str]
) -> Planned:
    """Adds for `files` (path in repo -> local file or bytes), deletes for stale `remote` files."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    ops: list = [
        CommitOperationAdd(
            path_in_repo=name, path_or_fileobj=source if isinstance(source, bytes) else str(source)
        )
        for name, source in sorted(files.items())
    ]
    ops += [
        CommitOperationDelete(path_in_repo=name)
        for name in sorted(remote)
        if name not in files and name not in KEEP_REMOTE
    ]
    return Planned(repo_id, repo_type, ops)


def reach_hub(api, repo_id: str, repo_type: str, sleep=time.sleep) -> Exception | None:
    """None once the Hub answers (a missing repository is an answer), else the last error after
    ATTEMPTS single requests, one warning line for each failed attempt but the last."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    for attempt in range(1, ATTEMPTS + 1):
        try:
            api.repo_info(repo_id, repo_type=repo_type, timeout=TIMEOUT)
            return None
        except HfHubHTTPError:
            return None  # it answered; what it said is for the calls that follow
        except OfflineModeIsEnabled as err:
            return err  # HF_HUB_OFFLINE: asking again changes nothing
        except Exception as err:
            if attempt == ATTEMPTS:
                return err
            wait = WAITS[min(attempt, len(WAITS)) - 1]
            log.warning(
                "publish: attempt %d of %d: cannot reach the Hugging Face Hub (%s); retrying in "
                "%.0f s",
                attempt,
                ATTEMPTS,
                _no_secrets(err),
                wait,
            )
            sleep(wait)
    return None


@contextlib.contextmanager
def quiet_hub():
    """huggingface_hub logs two lines per retry of its own; the command says what matters."""
    hub_log = logging.getLogger("huggingface_hub")
    level = hub_log.level
    hub_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        hub_log.setLevel(level)


def remote_files(
    api, repo_id: str, repo_type: str, offline_ok: bool = False, unreachable: str | None = None
) -> tuple[list[str], str | None]:
    """The repository's files now ([] when it does not exist yet), and a note when unknown.
    With `offline_ok` (a dry run) an unreachable Hub plans additions only, and says so;
    `unreachable` says why the Hub is known not to answer (it is not asked again)."""
    from huggingface_hub.errors import RepositoryNotFoundError

    if unreachable is not None and offline_ok:
        return [], (
            f"cannot list {repo_type} {repo_id} ({unreachable}): stale remote files "
            "unknown, so no deletions are planned"
        )
    try:
        return list(api.list_repo_files(repo_id, repo_type=repo_type)), None
    except RepositoryNotFoundError:
        return [], f"{repo_type} {repo_id} does not exist yet: it will be created"
    except Exception as err:
        if not offline_ok:
            raise
        return [], (
            f"cannot list {repo_type} {repo_id} ({_no_secrets(err)}): stale remote files "
            "unknown, so no deletions are planned"
        )


def plan_all(
    site: Path,
    repo_id: str,
    results_repo: str | None,
    api,
    offline_ok: bool = False,
    unreachable: str | None = None,
    results: Path | None = None,
) -> tuple[list[Planned], list[str]]:
    files: dict[str, Path | bytes] = dict(site_files(site))
    if "README.md" not in files:  # a site built before `build` wrote the Space's card
        files["README.md"] = space_readme(repo_id.split("/", 1)[1], 0, 0, []).encode()
    notes = []
    remote, note = remote_files(api, repo_id, "space", offline_ok, unreachable)
    notes += [note] if note else []
    plans = [plan(repo_id, "space", files, remote)]
    if results_repo:
        table = Path(site) / "data" / "results.parquet"
        if not table.is_file():
            raise UsageError(f"--site {site}: no data/results.parquet to publish")
        data: dict[str, Path | bytes] = {"data/results.parquet": table}
        cards = {
            f"splits/{p.name}": p for p in sorted((Path(site) / "data" / "splits").glob("*.json"))
        }
        linked = linked_files(site, results_repo, results)
        data |= cards | linked
        n_rows = pq.ParquetFile(table).metadata.num_rows
        split_cards = [json.loads(p.read_text(encoding="utf-8")) for p in cards.values()]
        card = dataset_card(results_repo, repo_id, n_rows, split_cards, len(linked))
        data["README.md"] = card.encode()
        remote, note = remote_files(api, results_repo, "dataset", offline_ok, unreachable)
        notes += [note] if note else []
        plans.append(plan(results_repo, "dataset", data, remote))
    return plans, notes


def publish(
    site: Path | str,
    repo_id: str,
    results_repo: str | None = None,
    dry_run: bool = False,
    message: str = "Update the leaderboard",
    api=None,
    results: Path | str | None = None,
) -> list[str]:
    from huggingface_hub import HfApi

    check_repo_id(repo_id, "--repo-id")
    if results_repo:
        check_repo_id(results_repo, "--results-repo")
    site_files(Path(site))  # a folder that is not a built site is refused before any request
    results = Path(results) if results is not None else None
    linked_files(Path(site), results_repo, results)  # and links that would not resolve
    with quiet_hub():
        unreachable = None
        api = api or HfApi()
        if hasattr(api, "repo_info"):  # the real client (a test's stand-in may lack it)
            err = reach_hub(api, repo_id, "space")
            if err is not None and not dry_run:
                raise ModelUnavailableError(
                    f"cannot reach the Hugging Face Hub: {_no_secrets(err)}"
                ) from None
            unreachable = _no_secrets(err) if err is not None else None
        return _publish(
            api, Path(site), repo_id, results_repo, dry_run, message, unreachable, results
        )


def _publish(
    api,
    site: Path,
    repo_id: str,
    results_repo: str | None,
    dry_run: bool,
    message: str,
    unreachable: str | None,
    results: Path | None = None,
) -> list[str]:
    try:
        plans, notes = plan_all(site, repo_id, results_repo, api, dry_run, unreachable, results)
    except UsageError:
        raise
    except Exception as err:  # network, offline mode, authentication
        raise ModelUnavailableError(
            f"cannot reach the Hugging Face Hub: {_no_secrets(err)}"
        ) from None
    out = [f"note: {n}" for n in notes]
    for planned in plans:
        out += planned.lines()
    if dry_run:
        return out + ["dry run: nothing was sent"]
    for planned in plans:
        try:
            if planned.repo_type == "space":
                api.create_repo(
                    planned.repo_id, repo_type="space", space_sdk="static", exist_ok=True
                )
            else:
                api.create_repo(planned.repo_id, repo_type="dataset", exist_ok=True)
            info = api.create_commit(
                planned.repo_id,
                operations=planned.operations,
                commit_message=message,
                repo_type=planned.repo_type,
            )
        except Exception as err:
            raise ModelUnavailableError(
                f"{planned.repo_type} {planned.repo_id}: upload failed: {_no_secrets(err)}"
            ) from None
        out.append(f"committed {planned.repo_type} {planned.repo_id}: {info.commit_url}")
    return out


def _no_secrets(err: Exception) -> str:
    """An error's first line with anything token-shaped removed."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return re.sub(r"hf_[A-Za-z0-9]{10,}", "hf_***", text)

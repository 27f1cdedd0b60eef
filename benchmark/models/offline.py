"""Resolve a model id to something `from_pretrained` can load, with or without the Hub.

Order: an existing local directory; else the Hugging Face Hub (the revision's commit sha, asked
with a short timeout); else, when the Hub is unreachable, a Hub snapshot already in the Hugging
Face cache, then the weights that registry packages ship (benchmark.models.offline_assets),
converted once into `cache_root()/models/<slug>/`.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from benchmark.errors import ModelUnavailableError, UsageError
from benchmark.models.offline_assets import ensure_offline_asset, offline_assets
from benchmark.models.resolved import WEIGHT_FILES, ResolvedModel, weights_sha256

log = logging.getLogger(__name__)

HUB_TIMEOUT_ENV = "INTERLINGUA_HUB_TIMEOUT"  # seconds; the Hub client waits forever without one
DEFAULT_HUB_TIMEOUT = 10.0
HUB_RETRY_AFTER = 300.0  # after a failed Hub attempt, skip the Hub for this long (per process)


# --- the Hub -----------------------------------------------------------------------------------

_hub_down: dict[str, float | str] = {}  # "until": monotonic deadline, "why": the failure


def reset_hub_state() -> None:
    """Forget an earlier failed Hub attempt (the next resolution tries the Hub again)."""
    _hub_down.clear()


def hub_timeout() -> float:
    raw = os.environ.get(HUB_TIMEOUT_ENV)
    if raw is None:
        return DEFAULT_HUB_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"{HUB_TIMEOUT_ENV}={raw!r}: expected a number of seconds") from None
    if value <= 0:
        raise UsageError(f"{HUB_TIMEOUT_ENV}={raw!r}: must be positive")
    return value


def hub_offline_reason() -> str | None:
    """Why the Hub is not to be tried now, or None to try it."""
    from huggingface_hub import constants

    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}:
        return "HF_HUB_OFFLINE is set"
    if constants.HF_HUB_OFFLINE:
        return "huggingface_hub is in offline mode (HF_HUB_OFFLINE)"
    if _hub_down and time.monotonic() < float(_hub_down["until"]):
        return f"an earlier attempt failed: {_hub_down['why']}"
    return None


def _is_unreachable(exc: BaseException) -> bool:
    """Connection failures, timeouts, offline mode and server errors (not 4xx answers)."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    if isinstance(exc, OfflineModeIsEnabled):
        return True
    if isinstance(exc, HfHubHTTPError):
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return status is None or status >= 500
    names = {c.__name__ for c in type(exc).__mro__}
    transport = {"TransportError", "ConnectionError", "Timeout", "TimeoutException", "TimeoutError"}
    return bool(names & transport)


def _hub_weights_sha(info) -> str | None:
    files = {s.rfilename: s for s in (info.siblings or [])}
    for name in WEIGHT_FILES:
        lfs = getattr(files.get(name), "lfs", None)
        if lfs is not None and getattr(lfs, "sha256", None):
            return lfs.sha256
    return None


def _from_hub(model_id: str, revision: str | None) -> ResolvedModel:
    from huggingface_hub import HfApi

    endpoint = os.environ.get("HF_ENDPOINT") or None  # read now, not at import
    info = HfApi(endpoint=endpoint).model_info(
        model_id, revision=revision, timeout=hub_timeout(), files_metadata=True
    )
    return ResolvedModel(model_id, info.sha, "hub", _hub_weights_sha(info))


def _from_hf_cache(model_id: str, revision: str | None) -> ResolvedModel | None:
    """A complete Hub snapshot already downloaded into the Hugging Face cache, if any."""
    from huggingface_hub import snapshot_download

    try:
        path = Path(snapshot_download(model_id, revision=revision, local_files_only=True))
    except Exception:  # not cached (or not a valid repo id): nothing to reuse
        return None
    sha = weights_sha256(path)
    if sha is None or not (path / "config.json").is_file():
        return None
    return ResolvedModel(str(path), path.name, "hub", sha)


# --- entry point -------------------------------------------------------------------------------


def _looks_like_path(model_id: str) -> bool:
    """Hub ids are "name" or "organisation/name"; anything else that is not a folder is a typo."""
    return model_id.startswith((".", "/", "~")) or model_id.count("/") > 1 or "\\" in model_id


def resolve_pretrained(model_id: str, revision: str | None = None) -> ResolvedModel:
    """Where to load `model_id` from; see the module docstring for the order."""
    local = Path(model_id).expanduser()
    if local.is_dir():
        return ResolvedModel(
            str(local.resolve()), revision or "local", "local", weights_sha256(local)
        )
    if _looks_like_path(model_id):
        raise ModelUnavailableError(
            f"{model_id}: no such directory (a local model is a folder written by save_pretrained; "
            "a Hub id has the form 'organisation/name')"
        )

    why = hub_offline_reason()
    if why is None:
        try:
            return _from_hub(model_id, revision)
        except Exception as exc:
            if not _is_unreachable(exc):
                raise ModelUnavailableError(f"{model_id}: the Hub answered: {exc}") from exc
            why = f"{type(exc).__name__}: {exc}"
            _hub_down.update(until=time.monotonic() + HUB_RETRY_AFTER, why=why)
            log.warning("Hub unreachable (%s); trying local copies of %s", why, model_id)

    cached = _from_hf_cache(model_id, revision)
    if cached is not None:
        return cached

    asset = offline_assets().get(model_id)
    if asset is None:
        available = "; ".join(
            f"{a.model_id} ({a.label}; install: {a.install_command})"
            for a in offline_assets().values()
        )
        raise ModelUnavailableError(
            f"{model_id}: the Hugging Face Hub is unreachable ({why}) and the model is neither a "
            f"local directory nor in the Hugging Face cache. Models available offline: "
            f"{available}; or pass the path of a folder written by save_pretrained."
        )
    if revision not in (None, "main", asset.revision):
        raise ModelUnavailableError(
            f"{model_id}: revision {revision!r} needs the Hub, which is unreachable ({why}); "
            f"offline only {asset.revision} is available (pass no revision to use it)"
        )
    return ensure_offline_asset(asset)

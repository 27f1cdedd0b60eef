"""The caches of representations: on disk, keyed by everything that changes them, and in
memory, up to a byte budget.

One safetensors file per (model key, probe set and ids, language, modality, pooling): pooled
vectors (layers x items x dims), or word-level vectors (layers x words x dims, with each word's
item) for the word-level kinds. Writes go to a
temporary file renamed into place, so an interrupted run never leaves a half-written entry and a
resumed run reuses every finished one. An entry stores its full key and a sha256 of its content;
on load both are checked, and the values must be finite: an entry that fails any check (another
key's file copied over it, edited floats, a truncated write) is reported and recomputed, never
silently reused.

In memory, recently used entries are kept up to a byte budget ($INTERLINGUA_MEMORY_MB, default
2048) and the least recently used beyond it dropped: a run over many languages and layers does not
grow without bound.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from benchmark.errors import UsageError
from benchmark.fileio import atomic_save
from benchmark.representations.extract import Representations
from benchmark.representations.words import WordRepresentations

log = logging.getLogger(__name__)
FORMAT = "3"  # 3: word-level entries carry word_index
MEMORY_ENV = "INTERLINGUA_MEMORY_MB"
DEFAULT_MEMORY_MB = 2048


def cache_key(fields: dict) -> str:
    return hashlib.sha256(_canonical(fields).encode()).hexdigest()[:32]


def _canonical(fields: dict) -> str:
    return json.dumps(fields, sort_keys=True, default=str)


def content_sha256(array: np.ndarray, ids: list[int], layers: list[str], *indexes) -> str:
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(array, dtype=np.float32).tobytes())
    digest.update(np.asarray(ids, dtype=np.int64).tobytes())
    digest.update(json.dumps(layers).encode())
    for index in indexes:  # word-level entries: which item and which of its words each row is
        digest.update(np.asarray(index, dtype=np.int64).tobytes())
    return digest.hexdigest()


def _indexes(reps) -> list[np.ndarray]:
    if getattr(reps, "item_index", None) is None:
        return []
    return [reps.item_index, reps.word_index]


class RepresentationCache:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.rejected: list[str] = []  # why entries were not reused, for the run's log

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.safetensors"

    def load(self, key: str, fields: dict) -> Representations | None:
        """The entry for `key` if it exists and passes every check, else None (recompute)."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt") as handle:
                meta = handle.metadata() or {}
            tensors = load_file(str(path))
            common = {
                "layers": json.loads(meta["layers"]),
                "ids": tensors["ids"].tolist(),
                "array": tensors["array"].numpy(),
            }
            if "item_index" in tensors:  # word-level: a variable number of vectors per item
                reps = WordRepresentations(
                    item_index=tensors["item_index"].numpy(),
                    word_index=tensors["word_index"].numpy(),
                    **common,
                )
            else:
                reps = Representations(**common)
        except (SafetensorError, OSError, KeyError, ValueError) as err:
            return self._reject(path, f"unreadable ({err})")
        if meta.get("format") != FORMAT:
            return self._reject(path, f"written by another cache format ({meta.get('format')})")
        if meta.get("key") != _canonical(fields):
            return self._reject(path, "its stored key is not this entry's key")
        if meta.get("sha256") != content_sha256(reps.array, reps.ids, reps.layers, *_indexes(reps)):
            return self._reject(path, "its content does not match its checksum")
        if not np.isfinite(reps.array).all():
            return self._reject(path, "it holds non-finite values")
        return reps

    def _reject(self, path: Path, why: str) -> None:
        message = f"representation cache: {path} not reused: {why}; recomputing it"
        log.warning(message)
        self.rejected.append(message)
        return None

    def save(self, key: str, reps: Representations | WordRepresentations, fields: dict) -> Path:
        array = np.ascontiguousarray(reps.array, dtype=np.float32)
        tensors = {
            "array": torch.from_numpy(array),
            "ids": torch.tensor(reps.ids, dtype=torch.int64),
        }
        indexes = _indexes(reps)
        for name, index in zip(("item_index", "word_index"), indexes, strict=False):
            tensors[name] = torch.from_numpy(np.asarray(index, dtype=np.int64))
        metadata = {
            "format": FORMAT,
            "layers": json.dumps(reps.layers),
            "key": _canonical(fields),
            "sha256": content_sha256(array, reps.ids, reps.layers, *indexes),
        }
        return atomic_save(self.path(key), lambda tmp: save_file(tensors, tmp, metadata=metadata))


class LruBytes:
    """A mapping that forgets its least recently used values beyond `budget` bytes."""

    def __init__(self, budget: int):
        self.budget = budget
        self._items: OrderedDict[str, Representations] = OrderedDict()
        self.size = 0

    def get(self, key: str) -> Representations | None:
        reps = self._items.get(key)
        if reps is not None:
            self._items.move_to_end(key)
        return reps

    def put(self, key: str, reps: Representations) -> None:
        if key in self._items:
            self.size -= self._items.pop(key).array.nbytes
        self._items[key] = reps
        self.size += reps.array.nbytes
        while self.size > self.budget and len(self._items) > 1:
            _, dropped = self._items.popitem(last=False)
            self.size -= dropped.array.nbytes

    def __len__(self) -> int:
        return len(self._items)


def memory_budget() -> int:
    raw = os.environ.get(MEMORY_ENV)
    try:
        mb = float(raw) if raw else DEFAULT_MEMORY_MB
    except ValueError:
        raise UsageError(f"{MEMORY_ENV}={raw!r}: expected a number of megabytes") from None
    return int(mb * 2**20)

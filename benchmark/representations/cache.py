"""On-disk cache of pooled representations, keyed by everything that changes them.

One safetensors file per (model, weights, adapter settings, probe set and ids, language, modality,
pooling). Writes go to a temporary file renamed into place, so an interrupted run never leaves a
half-written entry and a resumed run reuses every finished one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, safe_open, save_file

from benchmark.representations.extract import Representations


def cache_key(fields: dict) -> str:
    blob = json.dumps(fields, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


class RepresentationCache:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.safetensors"

    def load(self, key: str) -> Representations | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt") as handle:
                meta = handle.metadata()
            tensors = load_file(str(path))
        except Exception:  # a corrupt entry is recomputed, not trusted
            return None
        return Representations(
            layers=json.loads(meta["layers"]),
            ids=tensors["ids"].tolist(),
            array=tensors["array"].numpy(),
        )

    def save(self, key: str, reps: Representations, fields: dict) -> Path:
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {
            "array": torch.from_numpy(np.ascontiguousarray(reps.array)),
            "ids": torch.tensor(reps.ids, dtype=torch.int64),
        }
        metadata = {"layers": json.dumps(reps.layers), "key": json.dumps(fields, default=str)}
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        try:
            save_file(tensors, tmp, metadata=metadata)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

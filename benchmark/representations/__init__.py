"""Per-layer sentence representations: extraction (batched, pooled), the verified on-disk cache,
and the store that serves them to tasks (loading the model only when something is missing)."""

from benchmark.representations.cache import RepresentationCache, cache_key
from benchmark.representations.extract import Representations, extract, pool
from benchmark.representations.store import ModelHandle, RepresentationStore, select_layers

__all__ = [
    "ModelHandle",
    "RepresentationCache",
    "RepresentationStore",
    "Representations",
    "cache_key",
    "extract",
    "pool",
    "select_layers",
]

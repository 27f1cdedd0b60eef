"""Per-layer representations: one service with typed requests (`service.py`), one forward pass
per unit with collectors (`extract.py`, `words.py`), the verified caches (`cache.py`), multi-process
shards (`distributed.py`)."""

from benchmark.representations.cache import RepresentationCache, cache_key
from benchmark.representations.extract import Representations, extract, pool
from benchmark.representations.service import (
    ModelHandle,
    Pooled,
    RepresentationService,
    TaskRepresentations,
    Words,
    select_layers,
)

__all__ = [
    "ModelHandle",
    "Pooled",
    "RepresentationCache",
    "RepresentationService",
    "Representations",
    "TaskRepresentations",
    "Words",
    "cache_key",
    "extract",
    "pool",
    "select_layers",
]

"""Per-layer sentence representations: extraction (batched, pooled) and the on-disk cache."""

from benchmark.representations.cache import RepresentationCache, cache_key
from benchmark.representations.extract import Representations, extract, pool

__all__ = ["RepresentationCache", "Representations", "cache_key", "extract", "pool"]

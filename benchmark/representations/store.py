"""Where a task's representations come from: memory, the verified disk cache, or the model.

The model is loaded only when an entry is missing (`ModelHandle`), so a re-score whose
representations are all cached never loads weights. The in-memory store keeps recently used
entries up to a byte budget ($INTERLINGUA_MEMORY_MB, default 2048) and drops the least recently
used beyond it: a run over many languages and layers does not grow without bound.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from benchmark.core import Modality
from benchmark.errors import UsageError
from benchmark.models.base import ModelAdapter
from benchmark.probes import ProbeSet
from benchmark.representations.cache import RepresentationCache, cache_key
from benchmark.representations.extract import BatchSize, Representations, extract
from benchmark.representations.words import WordCollector, WordRepresentations, extract_words

log = logging.getLogger(__name__)
MEMORY_ENV = "INTERLINGUA_MEMORY_MB"
DEFAULT_MEMORY_MB = 2048


class ModelHandle:
    """Loads the model the first time it is asked for, and only then."""

    def __init__(self, load: Callable[[], ModelAdapter]):
        self._load = load
        self._adapter: ModelAdapter | None = None
        self.load_seconds = 0.0

    @property
    def loaded(self) -> bool:
        return self._adapter is not None

    def get(self) -> ModelAdapter:
        if self._adapter is None:
            clock = time.perf_counter()
            self._adapter = self._load()
            self.load_seconds = time.perf_counter() - clock
        return self._adapter


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


class RepresentationStore:
    """Pooled representations of (probe set, language, modality) for one planned model."""

    def __init__(
        self,
        model_key: dict,
        model: ModelHandle,
        cache_dir: Path,
        *,
        batch_size: int | str = 16,
        progress: bool | None = None,
        recompute: bool = False,
        pooling: str | None = None,
        stacks: dict[str, str] | None = None,
    ):
        self.model_key = model_key
        self.model = model
        self.cache = RepresentationCache(cache_dir)
        self.batch = BatchSize.of(batch_size)  # "auto": found once, kept for the run
        # [models] the model's own `pooling` setting wins over each task's; `stacks`: the stack
        # each modality goes through when a task names none (the plan's resolved defaults)
        self.pooling = pooling
        self.stacks = dict(stacks or {})
        self.progress = progress
        self.recompute = recompute  # --overwrite: extract again and replace the entries
        self.extraction_seconds = 0.0
        self._memory = LruBytes(memory_budget())
        self._fresh: set[str] = set()  # keys extracted in this run (reused even when recompute)

    @property
    def batch_size(self) -> int | str:
        """The batch size used (with "auto": the largest batch that ran; "auto" before any)."""
        return self.batch.used

    def resolve(
        self, modality: Modality, pooling: str, stack: str | None
    ) -> tuple[str, str | None]:
        """[models] The effective pooling (the model's setting, else the task's) and stack."""
        return self.pooling or pooling, stack or self.stacks.get(modality)

    def key_fields(
        self,
        probes: ProbeSet,
        lang: str,
        modality: Modality,
        pooling: str,
        stack: str | None = None,
    ) -> dict:
        described = probes.describe()
        return {
            "model": self.model_key,
            "probes": probes.name,
            "probes_revision": probes.revision,
            "ids_sha256": described["ids_sha256"],
            "reading": described["reading"],
            "language": lang,
            "modality": modality,
            "pooling": pooling,
            "stack": stack,  # [models] the resolved stack the inputs went through
        }

    def get(
        self,
        probes: ProbeSet,
        lang: str,
        modality: Modality,
        pooling: str = "mean",
        layers: str | list[str] = "all",
        stack: str | None = None,
    ) -> Representations:
        pooling, stack = self.resolve(modality, pooling, stack)
        fields = self.key_fields(probes, lang, modality, pooling, stack)
        key = cache_key(fields)
        reps = self._memory.get(key)
        if reps is None:
            reps = self.cached(key, fields)
        if reps is None:
            reps = self.extract(probes, lang, modality, pooling, stack)
            self.cache.save(key, reps, fields)
            self._fresh.add(key)
        self._memory.put(key, reps)
        return select_layers(reps, layers)

    def cached(self, key: str, fields: dict) -> Representations | None:
        """The verified disk entry for `key` (None when missing, rejected, or to be recomputed)."""
        if self.recompute and key not in self._fresh:
            return None
        return self.cache.load(key, fields)

    def extract(
        self,
        probes: ProbeSet,
        lang: str,
        modality: Modality,
        pooling: str,
        stack: str | None,
        items: list[int] | None = None,
    ) -> Representations:
        """Run the model (loading it if needed) over the unit's items (all, or a shard's). When
        the probe set labels words, the same pass also caches their word-level vectors (every
        aggregation), so a word-level task needs no second pass over the audio."""
        adapter = self.model.get()
        clock = time.perf_counter()
        if modality == "text":
            inputs, lengths = probes.texts(lang), probes.text_lengths(lang)
        else:
            inputs, lengths = probes.audio(lang), probes.durations(lang)
        words = probes.words(lang) if items is None else []
        collector = (
            WordCollector(modality, lang, adapter.layer_names(modality, stack), words, probes.ids)
            if any(words) and self._word_fields_missing(probes, lang, modality, stack)
            else None
        )
        reps = extract(
            adapter,
            modality,
            lang,
            inputs,
            lengths,
            pooling=pooling,
            batch_size=self.batch,
            ids=probes.ids,
            progress=self.progress,
            # [models] transcripts go with every speech batch: stacks that decode text
            # (Whisper's decoder, Seamless's text decoder) teacher-force them
            texts=probes.texts(lang) if modality == "speech" else None,
            stack=stack,
            items=items,
            on_states=collector,
            words=probes.words(lang),
        )
        if collector is not None and not collector.failed:
            for aggregation in collector.aggregations:
                fields = self.word_fields(probes, lang, modality, stack, aggregation)
                self.cache.save(cache_key(fields), collector.result(aggregation), fields)
                self._fresh.add(cache_key(fields))
        self.extraction_seconds += time.perf_counter() - clock
        return reps

    def word_fields(self, probes, lang, modality, stack, aggregation: str) -> dict:
        fields = self.key_fields(probes, lang, modality, "words", stack)
        fields["aggregation"] = aggregation if modality == "text" else "mean over frames"
        return fields

    def _word_fields_missing(self, probes, lang, modality, stack) -> bool:
        aggregations = ("last", "first", "mean") if modality == "text" else ("mean",)
        return any(
            not self.cache.path(
                cache_key(self.word_fields(probes, lang, modality, stack, a))
            ).is_file()
            for a in aggregations
        )

    def words(
        self,
        probes: ProbeSet,
        lang: str,
        modality: Modality,
        aggregation: str = "last",
        layers: str | list[str] = "all",
        stack: str | None = None,
    ) -> WordRepresentations:
        """Word-level vectors of the probe set's labelled words (benchmark.representations.words):
        cached and served like pooled representations, under their own key."""
        _, stack = self.resolve(modality, "words", stack)
        fields = self.word_fields(probes, lang, modality, stack, aggregation)
        key = cache_key(fields)
        reps = self._memory.get(key) or self.cached(key, fields)
        if reps is None:  # one pass gives the pooled vectors and every word's (see `extract`)
            self.get(probes, lang, modality, "mean", stack=stack)
            reps = self.cached(key, fields)
        if reps is None:  # the pooled pass could not take the words: this pass says why
            adapter = self.model.get()
            clock = time.perf_counter()
            speech = modality == "speech"
            reps = extract_words(
                adapter,
                modality,
                lang,
                probes.audio(lang) if speech else probes.texts(lang),
                probes.durations(lang) if speech else probes.text_lengths(lang),
                probes.words(lang),
                aggregation=aggregation,
                batch_size=self.batch.size,
                ids=probes.ids,
                texts=probes.texts(lang),
                stack=stack,
                progress=self.progress,
            )
            self.cache.save(key, reps, fields)
            self._fresh.add(key)
            self.extraction_seconds += time.perf_counter() - clock
        self._memory.put(key, reps)
        return select_layers(reps, layers)


def select_layers(reps, layers: str | list[str]):
    """The same representations (pooled or word-level) restricted to `layers`."""
    if layers == "all":
        return reps
    unknown = [name for name in layers if name not in reps.layers]
    if unknown:
        raise UsageError(
            f"Unknown layer(s) {unknown} in the task's `layers`; this model has {reps.layers}."
        )
    index = [reps.layers.index(name) for name in layers]
    return dataclasses.replace(reps, layers=list(layers), array=reps.array[index])

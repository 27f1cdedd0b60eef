"""The one representation service: typed requests, planned up front, one forward pass per unit.

A kind asks for what it reads as typed requests — `Pooled` sentence vectors, `Words` (one vector
per labelled word in context) — through its task's view (`TaskRepresentations`). The runner plans
the requests of every task of a run before any is scored, so requests that share a unit (one probe
set's items of one language and modality through one stack) are served by ONE forward pass that
takes each request's part from every batch (benchmark.representations.extract / words). Every
result is cached on disk under a key of everything that changes it (benchmark.representations.
cache) and kept in memory; the model loads only when something is missing (`ModelHandle`), so a
re-score whose representations are all cached never loads weights.

The pooling of a model's sentence vectors is decided here, once: the model's own `pooling`
setting (a decoder LM read at the end of its prompt) wins over the task's; results record both.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from benchmark.core import Modality
from benchmark.errors import UsageError
from benchmark.models.base import ModelAdapter
from benchmark.probes import ProbeSet
from benchmark.representations.cache import LruBytes, RepresentationCache, cache_key, memory_budget
from benchmark.representations.extract import (
    BatchSize,
    PooledCollector,
    Representations,
    run_batches,
)
from benchmark.representations.words import WordCollector, WordRepresentations


@dataclass(frozen=True)
class Pooled:
    """Sentence vectors: every layer's states pooled over each item's positions."""

    language: str
    modality: Modality
    pooling: str = "mean"
    stack: str | None = None


@dataclass(frozen=True)
class Words:
    """One vector per labelled word of the probe set, in context (text: its subword tokens
    aggregated by `aggregation`; speech: the frames of its time span, averaged)."""

    language: str
    modality: Modality
    aggregation: str = "last"
    stack: str | None = None


Request = Pooled | Words


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


@dataclass(frozen=True)
class Unit:
    """One forward pass: a probe set's items of one language and modality through one stack."""

    probes: str  # the probe items' identity (name, revision, ids hash, reading)
    language: str
    modality: Modality
    stack: str | None


def probes_identity(probes: ProbeSet) -> str:
    d = probes.describe()
    return f"{d['name']}@{d['revision']}/{d['ids_sha256']}/{d['reading']}"


class RepresentationService:
    """Every representation of one planned model (see the module doc)."""

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
        stacks: dict[str, str | None] | None = None,
    ):
        self.model_key = model_key
        self.model = model
        self.cache = RepresentationCache(cache_dir)
        self.batch = BatchSize.of(batch_size)  # "auto": found once, kept for the run
        self.pooling = pooling  # the model's own setting: wins over each task's
        self.stacks = dict(stacks or {})  # modality -> the stack it goes through by default
        self.progress = progress
        self.recompute = recompute  # --overwrite: extract again and replace the entries
        self.extraction_seconds = 0.0
        self._memory = LruBytes(memory_budget())
        self._fresh: set[str] = set()  # keys extracted in this run (reused even when recompute)
        self._planned: dict[Unit, tuple[ProbeSet, set[Request]]] = {}

    @property
    def batch_size(self) -> int | str:
        """The batch size used (with "auto": the largest batch that ran; "auto" before any)."""
        return self.batch.used

    # --- requests and their keys ----------------------------------------------------------------

    def resolve(self, request: Request) -> Request:
        """The request as it will run: its stack (the modality's default when none is named)
        and, for pooled vectors, the model's pooling setting over the task's."""
        stack = request.stack or self.stacks.get(request.modality)
        if isinstance(request, Pooled):
            return dataclasses.replace(
                request, stack=stack, pooling=self.pooling or request.pooling
            )
        return dataclasses.replace(request, stack=stack)

    def unit_of(self, probes: ProbeSet, request: Request) -> Unit:
        request = self.resolve(request)
        return Unit(probes_identity(probes), request.language, request.modality, request.stack)

    def key_fields(self, probes: ProbeSet, request: Request) -> dict:
        request = self.resolve(request)
        described = probes.describe()
        fields = {
            "model": self.model_key,
            "probes": probes.name,
            "probes_revision": probes.revision,
            "ids_sha256": described["ids_sha256"],
            "reading": described["reading"],
            "language": request.language,
            "modality": request.modality,
            "pooling": request.pooling if isinstance(request, Pooled) else "words",
            "stack": request.stack,
        }
        if isinstance(request, Words):
            text = request.modality == "text"
            fields["aggregation"] = request.aggregation if text else "mean over frames"
        return fields

    # --- planning and serving -------------------------------------------------------------------

    def plan(self, probes: ProbeSet, requests: Iterable[Request]) -> None:
        """Announce what tasks will ask for: a unit's pass then serves all of its requests."""
        for request in requests:
            unit = self.unit_of(probes, request)
            self._planned.setdefault(unit, (probes, set()))[1].add(self.resolve(request))

    def planned_units(self) -> list[tuple[Unit, ProbeSet, list[Request]]]:
        return [(u, p, sorted(r, key=repr)) for u, (p, r) in self._planned.items()]

    def cached(self, probes: ProbeSet, request: Request):
        """The entry of `request` from memory or the verified disk cache, or None."""
        fields = self.key_fields(probes, request)
        key = cache_key(fields)
        reps = self._memory.get(key)
        if reps is None and (not self.recompute or key in self._fresh):
            reps = self.cache.load(key, fields)
        if reps is not None:
            self._memory.put(key, reps)
        return reps

    def get(self, probes: ProbeSet, request: Request) -> Representations | WordRepresentations:
        """The representations of `request`; a missing one runs its unit's pass, which also
        serves every planned request of the unit that is not cached yet."""
        reps = self.cached(probes, request)
        if reps is not None:
            return reps
        unit = self.unit_of(probes, request)
        planned = self._planned.get(unit, (probes, set()))[1]
        todo = {self.resolve(request)} | {r for r in planned if self.cached(probes, r) is None}
        results = self.run_unit(probes, unit, sorted(todo, key=repr))
        for req, reps in results.items():
            self.store(probes, req, reps)
        return results[self.resolve(request)]

    def store(self, probes: ProbeSet, request: Request, reps) -> None:
        fields = self.key_fields(probes, request)
        key = cache_key(fields)
        self.cache.save(key, reps, fields)
        self._fresh.add(key)
        self._memory.put(key, reps)

    def run_unit(
        self, probes: ProbeSet, unit: Unit, requests: list[Request], items=None
    ) -> dict[Request, Representations | WordRepresentations]:
        """One forward pass over the unit's items (all, or a shard's) serving every request."""
        adapter = self.model.get()
        clock = time.perf_counter()
        lang, modality, stack = unit.language, unit.modality, unit.stack
        names = adapter.layer_names(modality, stack)
        ids, words = probes.ids, probes.words(lang)
        collectors: dict[Request, object] = {}
        aggregations = sorted({r.aggregation for r in requests if isinstance(r, Words)})
        word_collector = (
            WordCollector(modality, lang, names, words, ids, aggregations) if aggregations else None
        )
        for request in requests:
            if isinstance(request, Pooled):
                collectors[request] = PooledCollector(names, request.pooling, len(ids), ids)
            else:
                collectors[request] = word_collector
        speech = modality == "speech"
        run_batches(
            adapter,
            modality,
            lang,
            probes.audio(lang) if speech else probes.texts(lang),
            probes.durations(lang) if speech else probes.text_lengths(lang),
            list(dict.fromkeys(collectors.values())),
            batch_size=self.batch,
            ids=ids,
            # transcripts go with every speech batch: stacks that decode text (a speech model's
            # text decoder) teacher-force them
            texts=probes.texts(lang) if speech else None,
            words=words,
            stack=stack,
            items=items,
            progress=self.progress,
        )
        self.extraction_seconds += time.perf_counter() - clock
        return {
            r: c.result(r.aggregation) if isinstance(r, Words) else c.result()
            for r, c in collectors.items()
        }


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


@dataclass
class TaskRepresentations:
    """What one task sees: its probe set's representations, with its pooling and layers."""

    service: RepresentationService
    probes: ProbeSet
    task_pooling: str
    layers: str | list[str] = "all"

    @property
    def pooling(self) -> str:
        """The pooling used: the model's setting when it has one, else the task's."""
        return self.service.pooling or self.task_pooling

    def pooling_record(self) -> dict:
        return {
            "task": self.task_pooling,
            "model": self.service.pooling,
            "used": self.pooling,
            "rule": "the model's pooling setting, when given, wins over the task's",
        }

    def pooled(self, language: str, modality: Modality) -> Representations:
        reps = self.service.get(self.probes, Pooled(language, modality, self.task_pooling))
        return select_layers(reps, self.layers)

    def words(self, language: str, modality: Modality, aggregation: str) -> WordRepresentations:
        reps = self.service.get(self.probes, Words(language, modality, aggregation))
        return select_layers(reps, self.layers)

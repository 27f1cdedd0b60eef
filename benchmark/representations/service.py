"""What a task sees of the representations: pooled sentence vectors and word-level vectors of
its probe set, per (language, modality), with the task's pooling and layers applied.

The pooling of a model's sentence vectors is decided here, once: the model's own `pooling`
setting (a decoder LM read at the end of its prompt) wins over the task's, and the result records
both and the one used."""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.core import Modality
from benchmark.probes import ProbeSet
from benchmark.representations.extract import Representations
from benchmark.representations.store import RepresentationStore
from benchmark.representations.words import WordRepresentations


@dataclass
class TaskRepresentations:
    store: RepresentationStore
    probes: ProbeSet
    task_pooling: str
    layers: str | list[str] = "all"

    @property
    def pooling(self) -> str:
        """The pooling used: the model's setting when it has one, else the task's."""
        return self.store.pooling or self.task_pooling

    def pooling_record(self) -> dict:
        return {
            "task": self.task_pooling,
            "model": self.store.pooling,
            "used": self.pooling,
            "rule": "the model's pooling setting, when given, wins over the task's",
        }

    def pooled(self, language: str, modality: Modality) -> Representations:
        return self.store.get(self.probes, language, modality, self.pooling, self.layers)

    def words(self, language: str, modality: Modality, aggregation: str) -> WordRepresentations:
        return self.store.words(self.probes, language, modality, aggregation, self.layers)

"""Synthetic probe sets and task contexts for testing task kinds without a model."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from benchmark.config import MainScoreConfig, ProbesConfig, TaskConfig
from benchmark.evaluation import Draws
from benchmark.kinds import ModelAccess, TaskContext, get_kind
from benchmark.probes import ProbeSet


def stable_seed(*parts) -> int:
    return zlib.crc32(repr(parts).encode())


def probe_set(languages, n, categories=None, words=None, durations=None) -> ProbeSet:
    """Rows for every (language, id); optional categories [n] and words {lang: [[word dicts]]}."""
    durations = np.random.default_rng(1).uniform(1, 10, n) if durations is None else durations
    rows = []
    for lang in languages:
        for i in range(n):
            rows.append(
                {
                    "lang_code": lang,
                    "id": i,
                    "raw_transcription": f"sentence {i}",
                    "duration_s": float(durations[i]),
                    "n_chars": int(durations[i] * 15),
                    "n_words": 3,
                    "category": categories[i] if categories is not None else "",
                    "words": words[lang][i] if words is not None else [],
                }
            )
    frame = pd.DataFrame(rows)
    return ProbeSet(
        name="synthetic",
        revision="0",
        languages=list(languages),
        ids=list(range(n)),
        frame=frame,
        card={},
    )


def task_config(kind: str, probes: ProbeSet, modalities, main: dict, params) -> TaskConfig:
    """A task config for `params` over all of `probes`, checked as a task file would be."""
    config = TaskConfig(
        name=f"toy_{kind}",
        version=1,
        kind=kind,
        probes=ProbesConfig(languages=probes.languages, n=len(probes.ids)),
        modalities=list(modalities),
        metric=params.model_dump(),
        main_score=MainScoreConfig(**main),
    ).with_params(params)
    get_kind(kind).check_config(config, params)
    return config


@dataclass
class FakeReps:
    """What a kind sees of the representations (benchmark.representations.service), from
    functions: pooled(language, modality) and words(language, modality, aggregation)."""

    pooled_fn: Any = None
    words_fn: Any = None
    pooling: str = "mean"

    def pooled(self, language, modality):
        return self.pooled_fn(language, modality)

    def words(self, language, modality, aggregation):
        return self.words_fn(language, modality, aggregation)


def no_model() -> ModelAccess:
    def load():
        raise AssertionError("this kind must not load the model")

    return ModelAccess(load=load, stacks={}, default_stacks={})


def context(
    kind: str, probes: ProbeSet, reps, modalities, main: dict, available=None, words=None, **metric
) -> TaskContext:
    params = get_kind(kind).params(**{"n_null": 30, "n_resamples": 30, **metric})
    config = task_config(kind, probes, modalities, main, params)
    return TaskContext(
        config=config,
        params=params,
        probes=probes,
        modalities=list(available or modalities),
        reps=FakeReps(reps, words),
        model=no_model(),
        draws=Draws.of(params),
    )


def curve_of(out, measure: str, group: str):
    (found,) = [c for c in out.curves if c.measure == measure and c.group == group]
    return found

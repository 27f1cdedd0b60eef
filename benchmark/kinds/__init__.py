"""Task kinds: the registry that maps a task's `kind:` to the code that scores it.

A kind is a plain function `score(ctx: TaskContext) -> TaskOutput` plus a pydantic model of its
`metric:` parameters. Kinds register by name in `_KIND_MODULES`; the module is imported only when a
task of that kind is loaded, so adding a kind means adding one module and one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel

from benchmark.models.base import Modality

if TYPE_CHECKING:
    from benchmark.config import TaskConfig
    from benchmark.probes import ProbeSet
    from benchmark.representations import Representations

# kind name -> module defining it (lazy: imported on first use)
_KIND_MODULES: dict[str, str] = {
    "cross_lingual_gap": "benchmark.kinds.gaps",
    "cross_modal_gap": "benchmark.kinds.gaps",
}


@dataclass
class TaskContext:
    """Everything a kind needs: its config, the probes, and representations on demand."""

    config: TaskConfig
    probes: ProbeSet
    modalities: list[Modality]  # the task's modalities that the model has
    representations: Callable[[str, Modality], Representations]  # (language, modality) -> reps


@dataclass
class TaskOutput:
    main_score: dict  # {name, value, ci_low, ci_high, layer, null_mean, ...}
    scores: dict  # kind-specific detail: per-layer curves, pair matrices, nulls
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Kind:
    name: str
    score: Callable[[TaskContext], TaskOutput]
    params: type[BaseModel]
    description: str
    # Which of the task's modalities the model must have for the task to apply: "all" or "any".
    needs: str = "all"


def get_kind(name: str) -> Kind:
    if name not in _KIND_MODULES:
        from benchmark.config import unknown_name_message

        raise KeyError(unknown_name_message("task kind", name, list(_KIND_MODULES)))
    module = importlib.import_module(_KIND_MODULES[name])
    return module.KINDS[name]


def list_kinds() -> list[str]:
    return sorted(_KIND_MODULES)

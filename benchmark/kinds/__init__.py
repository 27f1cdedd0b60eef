"""Task kinds: the registry that maps a task's `kind:` to the code that scores it.

A kind is a plain `score(ctx) -> TaskOutput` function, a pydantic model of its `metric:` block
(derived from `benchmark.config.StatsParams`), and two checks that run before any model loads:
`check_config(config)` (the task file alone) and `check_probes(config, probes)` (the selected
items, e.g. enough sentences for k). A kind may raise `benchmark.errors.NotApplicable(reason)`
from `score` when the task does not apply (a language the model has no token for, ...).
Kinds that run their own forward passes (interventions, the logit lens) get the planned model
through `TaskContext.model` (`ModelAccess`): its static stacks decide applicability without
weights, and `load()` loads the weights only when called.
Kinds register by name in `_KIND_MODULES`; a module is imported only when a task of its kind is
loaded, so a new kind is one module and one line here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from benchmark.core import Modality
from benchmark.errors import did_you_mean

if TYPE_CHECKING:
    from benchmark.config import TaskConfig
    from benchmark.models.base import ModelAdapter
    from benchmark.probes import ProbeSet
    from benchmark.representations import Representations
    from benchmark.representations.words import WordRepresentations
    from benchmark.results import Curve, MainScore, Matrix

# kind name -> module defining it (lazy: imported on first use)
_KIND_MODULES: dict[str, str] = {
    "cross_lingual_gap": "benchmark.kinds.gaps",
    "cross_modal_gap": "benchmark.kinds.gaps",
    "retrieval": "benchmark.kinds.retrieval",
    "concept_purity": "benchmark.kinds.concepts",
    "intervention_transfer": "benchmark.kinds.interventions",
    "logit_lens": "benchmark.kinds.logit_lens",
}


@dataclass
class ModelAccess:
    """[steer] The planned model, for kinds that run their own forward passes (steering hooks,
    the logit lens) instead of reading cached representations. Everything but `load` is known
    from the plan, before any weights load."""

    load: Callable[[], ModelAdapter]  # the adapter, loaded on the first call (the run's handle)
    family: str
    stacks: dict[str, tuple[str, ...]]  # stack -> modalities it takes (static, from the plan)
    default_stacks: dict[str, str | None]  # modality -> the stack it goes through by default
    pooling: str | None = None  # the model's own `pooling` setting: wins over the task's
    batch_size: Any = 16  # the run's batch size (an int, or the store's BatchSize for "auto")


@dataclass
class TaskContext:
    """Everything a kind may ask for: its config and parameters, the probes, and representations
    on demand (from the cache, or extracted: the model loads only if something is missing)."""

    config: TaskConfig
    params: Any  # the kind's validated `metric:` model
    probes: ProbeSet
    modalities: list[Modality]  # the task's modalities that the model has
    representations: Callable[[str, Modality], Representations]  # (language, modality) -> reps
    # (language, modality, aggregation) -> word-level vectors of the probe set's labelled words
    words: Callable[[str, Modality, str], WordRepresentations] | None = None
    # [steer] the model itself, for kinds that run their own (e.g. steered) forward passes; such
    # passes never go through the representation cache
    model: ModelAccess | None = None


@dataclass
class TaskOutput:
    main_score: MainScore
    curves: list[Curve]
    matrices: list[Matrix] = field(default_factory=list)
    details: dict = field(default_factory=dict)  # kind-specific extras
    notes: list[str] = field(default_factory=list)


def _no_check(*_args) -> None:
    return None


@dataclass(frozen=True)
class Kind:
    name: str
    score: Callable[[TaskContext], TaskOutput]
    params: type[BaseModel]
    description: str
    # Which of the task's modalities the model must have for the task to apply: "all" or "any".
    needs: str = "all"
    # Bumped whenever the kind's code would change a score: part of every result's key.
    version: str = "1"
    check_config: Callable[[TaskConfig], None] = _no_check
    check_probes: Callable[[TaskConfig, ProbeSet], None] = _no_check


def get_kind(name: str) -> Kind:
    if name not in _KIND_MODULES:
        raise KeyError(did_you_mean("task kind", name, list(_KIND_MODULES)))
    module = importlib.import_module(_KIND_MODULES[name])
    return module.KINDS[name]


def list_kinds() -> list[str]:
    return sorted(_KIND_MODULES)

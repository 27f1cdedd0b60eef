"""Task kinds: the registry that maps a task's `kind:` to the code that scores it.

A kind declares, and the one evaluator (benchmark.evaluation) does the rest:
  - `params`: a pydantic model of its `metric:` block (derived from `benchmark.config.StatsParams`
    so nulls, intervals and seeds mean the same in every kind), parsed once when the task file is
    read and carried typed to the end;
  - `default_group(config, params)`: the fields of the group its main score reads when the task
    names none (groups are structured: benchmark.evaluation.Group);
  - `check_config(config, params)` (the task file alone) and `check_probes(config, params,
    probes)` (the selected items: enough sentences for k, labelled words, ...), both before any
    model loads; a task that cannot run on the probes is an error when the user named it, and a
    `not_applicable` result with the reason under `--tasks all`;
  - `fit(config, params, probes) -> (params, adjustments)`: sizes that depend on the data (SVCCA
    k, clusters, targets) fitted by the kind's documented rule to what the probes hold, each
    change said in a line that the result records;
  - `estimate(ctx) -> KindOutput`: estimates per (group, measure, layer), drawn from `ctx.draws`.
A kind registers itself with `register_kind(Kind(...))` when its module is imported. Built-in
kinds are imported on first lookup; plug-in kinds live in other packages, named in
$INTERLINGUA_KINDS (comma-separated modules) or the `interlingua.kinds` entry-point group: a new
kind is its module, its YAML, its doc page, its golden case and its row in the validity table.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from benchmark.core import Modality
from benchmark.errors import UsageError, did_you_mean

if TYPE_CHECKING:
    from benchmark.config import TaskConfig
    from benchmark.evaluation import Draws, Evaluation, KindOutput
    from benchmark.models.base import ModelAdapter
    from benchmark.probes import ProbeSet
    from benchmark.representations.service import TaskRepresentations

BUILTIN = (
    "benchmark.kinds.gaps",
    "benchmark.kinds.cross_modal_gap",
    "benchmark.kinds.retrieval",
    "benchmark.kinds.concepts",
    "benchmark.kinds.interventions",
    "benchmark.kinds.logit_lens",
    "benchmark.kinds.findings",
)
PLUGINS_ENV = "INTERLINGUA_KINDS"
ENTRY_POINTS = "interlingua.kinds"


@dataclass
class ModelAccess:
    """The planned model, for kinds that run their own forward passes (steering, the logit
    lens). Everything but `load` is known from the plan, before any weights load."""

    load: Callable[[], ModelAdapter]  # the adapter, loaded on the first call (the run's handle)
    stacks: dict  # stack name -> benchmark.models.family.Stack (its roles)
    default_stacks: dict[str, str | None]  # modality -> the stack it goes through by default
    pooling: str | None = None  # the model's own `pooling` setting (see TaskContext.pooling)
    batch_size: Any = 16  # the run's batch size (an int, or the store's BatchSize for "auto")


@dataclass
class TaskContext:
    """Everything a kind may ask for: its config and typed parameters, the probes, the model's
    modalities the task uses, representations on demand, the model itself, and the task's draws."""

    config: TaskConfig
    params: Any  # the kind's validated `metric:` model
    probes: ProbeSet
    modalities: list[Modality]
    reps: TaskRepresentations
    model: ModelAccess
    draws: Draws


def _no_check(*_args) -> None:
    return None


def _no_requests(*_args) -> list:
    return []


def _no_fit(_config, params, _probes) -> tuple[Any, list[str]]:
    return params, []


@dataclass(frozen=True)
class Kind:
    name: str
    description: str
    params: type[BaseModel]
    estimate: Callable[[TaskContext], KindOutput]
    default_group: Callable[[TaskConfig, Any], dict[str, str]]
    # which of the task's modalities the model must have for the task to apply: "all" or "any"
    needs: Literal["all", "any"] = "all"
    # bumped whenever the kind's code would change a score: part of every result's key
    version: str = "1"
    check_config: Callable[[TaskConfig, Any], None] = _no_check
    check_probes: Callable[[TaskConfig, Any, ProbeSet], None] = _no_check
    # what the kind will read, announced before any task is scored (representations.service:
    # Pooled, Words): requests of all tasks that share a unit are served by one forward pass
    requests: Callable[[TaskConfig, Any, ProbeSet, list[Modality]], list] = _no_requests
    fit: Callable[[TaskConfig, Any, ProbeSet], tuple[Any, list[str]]] = _no_fit

    def main_group(self, config: TaskConfig) -> dict[str, str]:
        """The fields of the group the task's main score reads: the task's over the kind's."""
        return {**self.default_group(config, config.params), **config.main_score.group_fields()}

    def score(self, ctx: TaskContext) -> Evaluation:
        """The kind's estimates, through the one evaluator: curves and the main score (raises
        NotApplicable when the task does not apply)."""
        from benchmark.evaluation import evaluate

        output = self.estimate(ctx)
        return evaluate(output, ctx.config.main_score, self.main_group(ctx.config), ctx.params)


_KINDS: dict[str, Kind] = {}
_loaded = False


def register_kind(kind: Kind) -> Kind:
    """Add a kind (built-in or plug-in); a different kind under a taken name is refused."""
    if kind.name in _KINDS and _KINDS[kind.name] is not kind:
        raise UsageError(f"a task kind named {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTIN:
        importlib.import_module(module)
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise UsageError(
                f"${PLUGINS_ENV}: cannot import kind module {module!r} ({err})"
            ) from None
    for entry in metadata.entry_points(group=ENTRY_POINTS):
        entry.load()


def reload_plugins() -> None:
    """Read $INTERLINGUA_KINDS again (tests set it after the first lookup)."""
    global _loaded
    _loaded = False
    _load_all()


def get_kind(name: str) -> Kind:
    _load_all()
    if name not in _KINDS:
        raise UsageError(did_you_mean("task kind", name, list(_KINDS)))
    return _KINDS[name]


def kinds() -> dict[str, Kind]:
    _load_all()
    return dict(_KINDS)

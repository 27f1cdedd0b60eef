"""The one result schema every task kind writes and every reader (CLI, compare, leaderboard) reads.

A result is found by its `key`: the sha256 of everything that changes it — the model (id, revision,
weights hash, config hash, adapter family, settings and version, initialisation), the resolved task
config (after includes, overrides and adjustments) and its kind's code version and the probe items (set, revision, languages,
reading, ids). Two runs that differ in any of these write two results side by side.

Every kind reports the same shapes: one `MainScore` (one fixed measurement: a leaderboard column
means the same for every model), per-layer `Curve`s whose points carry layer name, relative depth,
value, CI and null, and optional `Matrix`es (e.g. language x language) — so a reader can plot any
kind without knowing it. Kind-specific extras go in `details`.

SCHEMA_VERSION's major number changes when a reader of the old version would misread a new file;
`read_result` refuses other majors with a message that says how to redo the result.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "2.1"
Status = Literal["ok", "not_applicable", "error"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class LayerChoice(_Record):
    """Where a main score was read: `rule` best | last | mean | fixed; `layer` its name (None for
    a mean over layers); `depth` its relative depth; `selection` how a best-layer choice is paid
    for in the null and the interval (None when no choice was made on the data)."""

    rule: Literal["best", "last", "mean", "fixed"]
    layer: str | None = None
    depth: float | None = None
    selection: str | None = None


class Inference(_Record):
    """How the null and the interval were made."""

    null_method: str  # e.g. "permutation of the sentence pairing"
    n_null: int
    ci_method: str  # subsample | jackknife | percentile
    ci_level: float
    n_resamples: int
    ci_scale: Literal["logit", "identity"] = "logit"
    biased_ci_opt_in: bool = False  # percentile (bootstrap) CIs need an explicit opt-in


class Margin(_Record):
    value: float
    ci_low: float | None = None
    ci_high: float | None = None


class MainScore(_Record):
    name: str  # the leaderboard column
    measure: str  # svcca, cka, accuracy@1, ...
    group: str  # the curve it is read from, e.g. "text", "same_language", "text->speech"
    modalities: list[str]  # what it covers
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    null_mean: float | None = None
    null_sd: float | None = None
    null_q95: float | None = None  # 95th percentile of the null (5th when lower is better)
    p_value: float | None = None
    layer: LayerChoice
    higher_is_better: bool = True
    bounds: tuple[float, float] | None = (0.0, 1.0)
    chance: float | None = None  # the score's value by chance, where it has a closed form
    baselines: dict[str, float] = Field(default_factory=dict)  # e.g. length_only
    inference: Inference
    # False: a descriptive property (e.g. which language a layer leans to), shown against its
    # null and `neutral` value, never ranked; True: the column ranks models by higher_is_better
    ranked: bool = True
    neutral: float | None = None
    # "above_null" (p < 0.05 in the better direction and clear of every floor that is part of the
    # null), "at_null", or "inconclusive" (the kind says why in verdict_reason: e.g. the source
    # effect of a transfer did not clear its null). verdict_reason also says why a score that
    # clears its permutation null is at_null: a meaning-free floor (length, signal) it does not clear
    verdict: Literal["above_null", "at_null", "inconclusive"] | None = None
    verdict_reason: str | None = None
    # the score minus a baseline drawn on the same permutations and replicates, with its
    # interval: e.g. a text score's margin over the lexical floor
    margins: dict[str, Margin] = Field(default_factory=dict)


class CurvePoint(_Record):
    layer: str
    depth: float  # relative depth in its stack, 0 (embeddings) to 1 (last layer)
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    null_mean: float | None = None
    null_q95: float | None = None
    p_value: float | None = None


class Curve(_Record):
    measure: str
    group: str  # modality, direction or pair group
    modalities: list[str]
    stack: str | None = None  # the layers' stack (e.g. "encoder"), when the kind knows it
    higher_is_better: bool = True
    chance: float | None = None
    baselines: dict[str, float] = Field(default_factory=dict)
    points: list[CurvePoint]


class Matrix(_Record):
    """A labelled grid of values, e.g. the language x language SVCCA at one layer."""

    name: str
    measure: str
    group: str
    layer: str
    rows: list[str]
    columns: list[str]
    values: list[list[float | None]]


class TaskRecord(_Record):
    name: str
    version: int
    kind: str
    kind_version: str = "1"  # the kind's code version (bumped when a score would change)
    config: dict[str, Any]  # resolved: includes, overrides and adjustments applied
    config_sha256: str
    overrides: dict[str, Any] = Field(default_factory=dict)  # from --task-setting, --limit, ...
    adjustments: list[str] = Field(default_factory=list)  # what was fitted to the probe set


class ModelRecord(_Record):
    id: str
    revision: str
    origin: str  # hub | local | offline-asset | random-init
    weights_sha256: str | None = None
    config_sha256: str | None = None
    family: str
    adapter_version: str
    settings: dict[str, Any] = Field(default_factory=dict)  # adapter settings (in the key)
    init: str = "pretrained"  # or "random(seed=N)": a control row
    # how a control was built from its checkpoint (models.CONTROL_RECIPE; in the key); None for a
    # trained model and for controls built before the recipe was recorded
    control_recipe: str | None = None
    modalities: list[str] = Field(default_factory=list)
    n_parameters: int | None = None
    description: dict[str, Any] = Field(default_factory=dict)  # derived facts, not in the key
    # a known-answer reference model (benchmark.models.known*): "ceiling", "floor:language",
    # "floor:word_form", "floor:signal", "floor:uniform_head", ...; None for a real model
    reference: str | None = None

    @property
    def is_control(self) -> bool:
        return self.init != "pretrained"


class ProbesRecord(_Record):
    name: str
    revision: str
    source: str | None = None
    split: str | None = None
    languages: list[str]
    n: int
    ids_sha256: str
    reading: int = 0
    recording_rule: str | None = None
    selection: str | None = None
    skipped_items: list[str] = Field(default_factory=list)  # e.g. undecodable clips, dropped


class RunRecord(_Record):
    started: str | None = None
    seconds_total: float | None = None
    seconds_extraction: float | None = None
    seconds_scoring: float | None = None
    model_loaded: bool | None = None
    device: str | None = None
    batch_size: int | str | None = None
    command: str | None = None  # a command that reproduces this result


class TaskResult(_Record):
    schema_version: str = SCHEMA_VERSION
    key: str
    status: Literal["ok", "not_applicable", "error"]
    reason: str | None = None
    task: TaskRecord
    model: ModelRecord
    probes: ProbesRecord | None = None
    main_score: MainScore | None = None
    curves: list[Curve] = Field(default_factory=list)
    matrices: list[Matrix] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    run: RunRecord = Field(default_factory=RunRecord)
    environment: dict[str, Any] = Field(default_factory=dict)


def result_key(model_key: dict, task_key: dict, probes_key: dict) -> str:
    """sha256 over everything that changes a result (see the module doc)."""
    blob = json.dumps(
        {"model": model_key, "task": task_key, "probes": probes_key},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()

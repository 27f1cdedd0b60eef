"""Typed task configuration (the core type every part imports): what a task YAML file holds.

Reading YAML files (includes, line numbers, overrides) is `benchmark.taskfiles`; a kind's own
`metric:` block is a pydantic model of the kind (`benchmark.kinds`), derived from `StatsParams`
so that nulls, intervals and seeds mean the same in every kind.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from benchmark.core import Modality, parse_group
from benchmark.metrics.intervals import BIASED_CI_METHODS
from benchmark.results.keys import config_sha256


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProbesConfig(Strict):
    source: str = "concepts"
    languages: list[str] | None = None
    split: str = "test"
    n: int | None = Field(default=None, ge=2)
    seed: int = 0
    reading: int = Field(default=0, ge=0)
    repo: str = "google/fleurs"


class MainScoreConfig(Strict):
    """The one number that headlines the task (a leaderboard column): `measure` read from the
    series of `group` at `layer`: "best" (selection-aware: the null and interval are those of the
    best of all layers), "last", "mean" (over layers), or a layer name such as "layer_4".

    `group` names the fields of a structured group (benchmark.evaluation.Group), as a mapping
    ({query: speech, target: text, languages: same}) or its label ("query=speech, target=text,
    languages=same"); fields left out take the kind's defaults."""

    name: str
    measure: str = "svcca"
    group: dict[str, str] | str | None = None
    layer: str = "best"

    @field_validator("group")
    @classmethod
    def _group_fields(cls, value):
        if isinstance(value, str):
            return parse_group(value)
        return {str(k): str(v) for k, v in value.items()} if value is not None else None

    def group_fields(self) -> dict[str, str]:
        return dict(self.group or {})


class StatsParams(Strict):
    """What every kind's `metric:` block shares: the null, the interval, the seed."""

    n_null: int = Field(default=100, ge=0)  # permutations for the null
    n_resamples: int = Field(default=200, ge=0)  # replicates for the CI (0: no CI)
    ci_method: Literal["subsample", "jackknife", "percentile"] = "subsample"
    ci_level: float = Field(default=0.95, gt=0, lt=1)
    # percentile (bootstrap) CIs are biased upward here (benchmark.metrics.intervals): a result
    # may use one only when the task says so explicitly; the opt-in is recorded in the result
    allow_biased_ci: bool = False
    seed: int = 0

    @model_validator(mode="after")
    def _biased_ci_needs_opt_in(self):
        if self.ci_method in BIASED_CI_METHODS and not self.allow_biased_ci:
            raise ValueError(
                f"ci_method {self.ci_method!r} gives intervals biased upward for these scores "
                "(see docs/tasks); use subsample (the default), or set allow_biased_ci: true to "
                "opt in knowingly (recorded in the result)"
            )
        return self


# "described": a descriptive main score with no null (the findings' count of claims that hold);
# what it must say is in `claims`
Verdict = Literal["ceiling", "above_null", "at_null", "neutral", "not_applicable", "described"]
ClaimVerdict = Literal["holds", "does not hold", "inconclusive", "not_applicable"]


class ValidityConfig(Strict):
    """What the task's known-answer reference models must score (docs/validity.md): `expect`
    maps a reference model (`known:<name>`, written without the prefix) to its verdict, and
    `ceiling` is the region the ceiling model must reach. Not part of the result key: it changes
    no number, only the check."""

    ceiling: float | None = None
    expect: dict[str, Verdict] = Field(default_factory=dict)
    # per reference, the verdict each claim of a findings result must reach (a claim name, or
    # its family before the dot: `convergence` for every convergence claim)
    claims: dict[str, dict[str, ClaimVerdict]] = Field(default_factory=dict)


class TaskConfig(Strict):
    name: str
    version: int = Field(ge=1)
    kind: str
    description: str = ""
    probes: ProbesConfig = ProbesConfig()
    modalities: list[Modality] = Field(min_length=1)
    layers: Literal["all"] | list[str] = "all"
    pooling: Literal["mean", "first", "last", "max"] = "mean"
    metric: dict[str, Any] = Field(default_factory=dict)
    main_score: MainScoreConfig
    validity: ValidityConfig = ValidityConfig()
    # the kind's typed `metric:` model, parsed once when the task file is read
    # (benchmark.taskfiles) and carried to the end; `metric` keeps its plain form for the key
    _params: Any = PrivateAttr(default=None)

    @property
    def params(self) -> Any:
        if self._params is None:
            raise RuntimeError(f"task {self.name!r}: its metric block was never parsed")
        return self._params

    def with_params(self, params: BaseModel) -> TaskConfig:
        """This config with `params` as its metric block (typed and plain, kept in step)."""
        out = self.model_copy(update={"metric": params.model_dump(mode="json")})
        out._params = params
        return out

    def config_hash(self) -> str:
        """sha256 of the resolved config: two results with the same hash ran the same task (the
        validity expectations change no number and stay out of it: results.keys.OUTSIDE_KEY)."""
        return config_sha256(self.model_dump(mode="json"))

"""The logit-lens task's settings, its groups, and the checks that run before any model loads."""

from __future__ import annotations

from pydantic import Field, field_validator

from benchmark.config import StatsParams, TaskConfig
from benchmark.core import Group
from benchmark.errors import UsageError
from benchmark.kinds.logit_lens.lens import LENSES
from benchmark.kinds.logit_lens.measures import MEASURES
from benchmark.probes import ProbeSet


class LogitLensParams(StatsParams):
    reference_language: str = "en_us"  # the "dominant" language the lens compares with
    # None: the first stack with an output head (a role, whatever the family calls it) that
    # takes the task's modality; or a stack name of one model (a user's own choice)
    stack: str | None = None
    final_norm: list[bool] = Field(default=[True, False], min_length=1)  # lenses to report
    min_words: int = Field(default=10, ge=1)  # usable words per language, else it is left out
    batch_size: int = Field(default=16, ge=1)

    @field_validator("final_norm")
    @classmethod
    def _distinct(cls, value):
        if len(set(value)) != len(value):
            raise ValueError(f"a lens is listed twice: {value}")
        return value


def group_key(modality: str, lens: str, language: str = "mean") -> Group:
    return Group.of(modality=modality, lens=lens, language=language)


def default_group(config: TaskConfig, params: LogitLensParams) -> dict[str, str]:
    return group_key(config.modalities[0], LENSES[params.final_norm[0]]).as_dict()


def wanted_group(config: TaskConfig, params: LogitLensParams) -> dict[str, str]:
    return {**default_group(config, params), **config.main_score.group_fields()}


def check_config(config: TaskConfig, params: LogitLensParams) -> None:
    if config.main_score.measure not in MEASURES:
        raise UsageError(
            f"main_score.measure {config.main_score.measure!r} is not one of {list(MEASURES)}"
        )
    wanted = wanted_group(config, params)
    if set(wanted) != {"modality", "lens", "language"}:
        raise UsageError(
            f"main_score.group {config.main_score.group}: fields are modality, lens and language"
        )
    if wanted["modality"] not in config.modalities:
        raise UsageError(
            f"main_score.group: modality {wanted['modality']!r} is not in modalities "
            f"{config.modalities}"
        )
    if wanted["lens"] not in [LENSES[f] for f in params.final_norm]:
        raise UsageError(
            f"main_score.group: lens {wanted['lens']!r} is not among metric.final_norm "
            f"{params.final_norm} ({', '.join(f'{f} = {LENSES[f]}' for f in LENSES)})"
        )


def check_probes(config: TaskConfig, params: LogitLensParams, probes: ProbeSet) -> None:
    ref = params.reference_language
    if ref not in probes.languages or len(probes.languages) < 2:
        raise UsageError(
            f"metric.reference_language {ref!r}: the probes need it and at least one other "
            f"language; they have {probes.languages}"
        )
    words = sum(len(ws) for ws in probes.words(ref))
    if words == 0:
        raise UsageError(
            f"task {config.name!r} needs concept-labelled words; probe set {probes.name!r} has "
            "none (the embedded `concepts` set has them)"
        )
    language = wanted_group(config, params)["language"]
    if language != "mean" and (language not in probes.languages or language == ref):
        raise UsageError(
            f"main_score.group: language {language!r} must be mean or one of the probe languages "
            f"other than {ref}: {[lang for lang in probes.languages if lang != ref]}"
        )

"""The smallest shared vocabulary: modalities, the audio sample rate, and structured group keys.
Everything may import this module; it imports nothing of the project."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Modality = Literal["text", "speech"]
MODALITIES: tuple[Modality, ...] = ("text", "speech")
SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class Group:
    """A structured group key: named fields in a fixed order, e.g. (modality=text) or (query=
    speech, target=text, languages=same). Its label — the same grammar in every kind — is what
    results and the board show, and what a task's `main_score.group` is matched against."""

    fields: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, **fields: Any) -> Group:
        return cls(tuple((k, str(v)) for k, v in fields.items()))

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.fields)

    def as_dict(self) -> dict[str, str]:
        return dict(self.fields)

    def matches(self, wanted: Mapping[str, Any]) -> bool:
        """True when `wanted` names exactly this group's fields and values."""
        return self.as_dict() == {k: str(v) for k, v in wanted.items()}


def parse_group(text: str) -> dict[str, str]:
    """A group label ('query=speech, target=text') -> its fields."""
    out: dict[str, str] = {}
    for part in (p.strip() for p in str(text).split(",")):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(
                f"group {text!r}: expected FIELD=VALUE pairs separated by commas, e.g. "
                "'query=speech, target=text, languages=same'"
            )
        out[key.strip()] = value.strip()
    return out

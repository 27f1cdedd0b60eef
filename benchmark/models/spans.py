"""Character spans of token positions: which characters of the item's own text each token covers.

A tokenizer reads a *formatted* string (the text after a prefix such as e5's `query: `, inside a
prompt template, after Whisper's added leading space). `Formatted` keeps, for every character of
that string, the index of the character of the original text it is (or -1 for characters the
adapter added), so fast tokenizers' offset mappings become spans in the original text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

NOT_TEXT = (-1, -1)


@dataclass(frozen=True)
class Formatted:
    """A string built around an item's text, with each character's index in that text (or -1)."""

    string: str
    source: tuple[int, ...]

    @classmethod
    def around(cls, text: str, before: str = "", after: str = "") -> Formatted:
        """`before + text + after`."""
        source = (-1,) * len(before) + tuple(range(len(text))) + (-1,) * len(after)
        return cls(before + text + after, source)

    @classmethod
    def template(cls, template: str, text: str, field: str = "{text}") -> Formatted:
        """`template` with its one `field` replaced by `text` (no other formatting is applied)."""
        if template.count(field) != 1:
            raise ValueError(f"prompt template {template!r} must hold {field} exactly once")
        before, after = template.split(field)
        return cls.around(text, before, after)

    @classmethod
    def leading_space(cls, text: str, space: str) -> Formatted:
        """`space + text.lstrip()` (Whisper writes " Word" after its prompt)."""
        stripped = text.lstrip()
        lead = len(text) - len(stripped)
        source = (-1,) * len(space) + tuple(range(lead, len(text)))
        return cls(space + stripped, source)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original-text span of the formatted characters [start, end), or (-1, -1)."""
        inside = [i for i in self.source[max(start, 0) : max(end, 0)] if i >= 0]
        return (min(inside), max(inside) + 1) if inside else NOT_TEXT


def spans_of(formatted: Formatted, offsets: Sequence[Sequence[int]]) -> list[tuple[int, int]]:
    """Token offsets in `formatted.string` -> spans in the original text ((-1, -1) for special
    tokens, whose offsets are empty, and for tokens made only of added characters)."""
    return [formatted.span(int(a), int(b)) if b > a else NOT_TEXT for a, b in offsets]


def spans_tensor(rows: Sequence[Sequence[tuple[int, int]]], width: int) -> torch.Tensor:
    """Ragged rows of spans -> [B, width, 2] int64, (-1, -1) past each row."""
    out = torch.full((len(rows), width, 2), -1, dtype=torch.int64)
    for i, row in enumerate(rows):
        if row:
            out[i, : len(row)] = torch.tensor(row, dtype=torch.int64)
    return out


def token_offsets(tokenizer, strings: list[str]) -> tuple[list[list[int]], list | None]:
    """Token ids (no special tokens added) and offset mappings of `strings`; offsets None when the
    tokenizer cannot give them (a slow, Python tokenizer)."""
    try:
        enc = tokenizer(strings, add_special_tokens=False, return_offsets_mapping=True)
    except (NotImplementedError, TypeError, ValueError):
        enc = tokenizer(strings, add_special_tokens=False)
        return list(enc["input_ids"]), None
    return list(enc["input_ids"]), list(enc["offset_mapping"])

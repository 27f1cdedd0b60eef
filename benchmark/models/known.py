"""Known-answer reference models: what every `known:<name>` family shares.

A reference model has no trained weights. Its states are built, by construction, from what the
harness hands every adapter — the texts or clips of a batch and the probe items' ids and labelled
words (`BatchInputs.ids`, `.words`) — so the right answer of every task on it is known before it
runs: a floor must sit at its null, the ceiling must reach the task's ceiling (docs/validity.md).
It runs through the harness like any model: the states are the output of real `nn.Module` layers
(a `Tap` for the embeddings, then identity layers), so pooling, word-level collection, forward-hook
steering and layer replay treat it exactly as they treat a trained model.

Everything is deterministic: every random vector is drawn from a generator seeded by the
reference's name, its `seed` setting and what the vector stands for (a sentence id, a concept
label, a word form, a language), never by call order; batching and sharding change nothing.

Positions: text is split by `text_tokens` (words — letters, marks and digits — and each
punctuation mark; scripts written without spaces a character at a time) with character spans;
speech is cut in frames of 20 ms (`FRAME_SECONDS`), a labelled word covering the frames its time
span overlaps.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from benchmark.core import SAMPLE_RATE
from benchmark.errors import UsageError
from benchmark.models.base import AdapterInfo, BatchInputs
from benchmark.models.common import LayeredAdapter, layer_table, merge_settings, same_positions
from benchmark.models.hooks import Positions, Tap, lengths_to_mask
from benchmark.models.resolved import ResolvedModel
from benchmark.models.spans import spans_tensor

PREFIX = "known:"
ADAPTER_VERSION = "1"
DEFAULTS = {"seed": 0}  # the reference's random draws (its vectors), part of every result key
FRAME_SECONDS = 0.02
HOP = int(round(SAMPLE_RATE * FRAME_SECONDS))  # samples per frame (320)
N_LAYERS = 4  # identity layers after the embeddings


# --- deterministic draws ---------------------------------------------------------------------------


def seed_of(*parts) -> int:
    """A 64-bit seed from what a draw stands for (stable across runs, machines and versions)."""
    blob = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "little")


def rng_of(*parts) -> np.random.Generator:
    return np.random.default_rng(seed_of(*parts))


def random_vector(dim: int, *parts) -> np.ndarray:
    """A fixed N(0, 1/dim) vector (norm about 1) for what `parts` name."""
    return rng_of(*parts).standard_normal(dim) / np.sqrt(dim)


def unit(vec: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else vec


# --- positions ---------------------------------------------------------------------------------

# scripts written without spaces between words (Han, kana, Thai, Lao, Myanmar, Khmer): a
# character is a token
_UNSPACED = (
    (0x0E00, 0x0EFF),
    (0x1000, 0x109F),
    (0x1780, 0x17FF),
    (0x3040, 0x30FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
)


def _unspaced(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _UNSPACED)


def _word_char(char: str) -> bool:
    """Letters, combining marks (Devanagari vowel signs, viramas) and digits continue a word."""
    return char == "_" or unicodedata.category(char)[0] in "LMN"


def text_tokens(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """[start, end) character spans of `text[start:end]`'s tokens: words (letters, marks and
    digits), each punctuation mark or symbol, each character of a script written without spaces."""
    end = len(text) if end is None else end
    out: list[tuple[int, int]] = []
    i = start
    while i < end:
        char = text[i]
        if char.isspace():
            i += 1
        elif _unspaced(char) or not _word_char(char):
            out.append((i, i + 1))
            i += 1
        else:
            j = i + 1
            while j < end and _word_char(text[j]) and not _unspaced(text[j]):
                j += 1
            out.append((i, j))
            i = j
    return out


def word_form(text: str, span: tuple[int, int]) -> str:
    """A token's written form: NFKC, lower-cased (the same string in any language is one form)."""
    return unicodedata.normalize("NFKC", text[span[0] : span[1]]).lower()


def labelled_tokens(text: str, words: Sequence[dict]) -> list[tuple[tuple[int, int], dict | None]]:
    """The text's tokens with each labelled word's exact span as one token (and the word), the
    rest split by `text_tokens`; in text order."""
    spans = []
    for w in words:
        a, b = w.get("char_start"), w.get("char_end")
        if a is None or b is None or not 0 <= int(a) < int(b) <= len(text):
            continue
        if all(int(b) <= s or int(a) >= e for (s, e), _ in spans):  # not overlapping another
            spans.append(((int(a), int(b)), w))
    spans.sort(key=lambda s: s[0])
    out: list[tuple[tuple[int, int], dict | None]] = []
    at = 0
    for (a, b), w in spans:
        out += [(t, None) for t in text_tokens(text, at, a)]
        out.append(((a, b), w))
        at = b
    out += [(t, None) for t in text_tokens(text, at)]
    return out


def n_frames(n_samples: int) -> int:
    """20 ms frames of a clip (at least one)."""
    return max(1, int(np.ceil(n_samples / HOP)))


def word_frames(word: dict, frames: int) -> range:
    """The frames a word's [start_s, end_s) overlaps (at least one; the same rule the word-level
    collector reads them by)."""
    first = min(int(float(word["start_s"]) // FRAME_SECONDS), frames - 1)
    last = max(first + 1, min(int(np.ceil(float(word["end_s"]) / FRAME_SECONDS)), frames))
    return range(max(first, 0), last)


def frame_log_energy(audio: np.ndarray, frames: int) -> np.ndarray:
    """Per 20 ms frame, the log of the mean squared sample (the last frame zero-padded)."""
    padded = np.zeros(frames * HOP, dtype=np.float64)
    clip = np.asarray(audio, dtype=np.float64)[: frames * HOP]
    padded[: len(clip)] = clip
    return np.log(np.mean(padded.reshape(frames, HOP) ** 2, axis=1) + 1e-8)


# --- items and the adapter -----------------------------------------------------------------------


@dataclass
class Item:
    """One batch item as a reference model sees it."""

    language: str
    modality: str
    id: int | None
    text: str | None
    audio: np.ndarray | None
    words: list[dict] = field(default_factory=list)

    def key(self) -> tuple:
        size = len(self.audio) if self.audio is not None else None
        return (self.language, self.modality, self.id, self.text, size)


@dataclass
class Built:
    """One item's states [T, D] and, for text positions, their character spans."""

    states: np.ndarray
    spans: list[tuple[int, int]] | None = None


def batch_items(batch: BatchInputs, reads_text: bool) -> list[Item]:
    """The batch's items; speech items carry their transcript when the batch has one."""
    count = len(batch.texts if batch.modality == "text" else batch.audio)
    ids = list(batch.ids) if batch.ids is not None else [None] * count
    words = list(batch.words) if batch.words is not None else [[] for _ in range(count)]
    texts = list(batch.texts) if batch.texts is not None else [None] * count
    audio = list(batch.audio) if batch.audio is not None else [None] * count
    if batch.modality == "speech" and audio[0] is None:
        raise ValueError("a speech batch needs `audio`")
    return [
        Item(batch.language, batch.modality, ids[i], texts[i], audio[i], list(words[i] or []))
        for i in range(count)
    ]


class Identity(nn.Module):
    """A layer that passes its input on: states do not change with depth, while a forward hook
    on it (reading, or adding a steering vector) acts as on any layer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class KnownAdapter(LayeredAdapter):
    """A reference model: one stack, the embeddings (a Tap in front of the first layer) and
    `N_LAYERS` identity layers; `build(item)` makes an item's embeddings (subclasses)."""

    name = ""  # the reference's name (known:<name>)
    reference = ""  # its role: "ceiling", "floor:language", ...
    stack = "encoder"
    takes: tuple[str, ...] = ("text", "speech")
    has_head = False
    dim = 64

    def __init__(self, model_id: str, settings: dict | None = None, device: str = "cpu"):
        super().__init__()
        self.model_id = model_id
        self.settings = merge_settings(self.family_name, DEFAULTS, settings)
        self.seed = int(self.settings["seed"])
        self.device = torch.device(device)
        self.stacks = {self.stack: self.takes}
        tap = Tap()
        self.layers = nn.ModuleList(Identity() for _ in range(N_LAYERS))
        self._tables = {self.stack: layer_table(tap, self.layers)}
        self._taps = {self.stack: [(tap, self.layers[0])]}
        self._runners = {(self.stack, m): self._runner(m) for m in self.takes}
        self._memo: dict[tuple, Built] = {}
        self.info = AdapterInfo(
            family=self.family_name,
            adapter_version=ADAPTER_VERSION,
            settings={**self.settings, "reference": self.reference, **self.describe()},
        )

    @property
    def family_name(self) -> str:
        return f"known-{self.name}"

    def describe(self) -> dict:
        """What the construction is (recorded with the model's facts)."""
        return {"dim": self.dim, "layers": f"embeddings + {N_LAYERS} identity layers"}

    def draw(self, *parts) -> np.ndarray:
        """This reference's fixed random vector for what `parts` name."""
        return random_vector(self.dim, self.name, self.seed, *parts)

    def noise(self, rows: int, scale: float, *parts) -> np.ndarray:
        """[rows, dim] of N(0, scale^2/dim), fixed for what `parts` name."""
        rng = rng_of(self.name, self.seed, "noise", *parts)
        return rng.standard_normal((rows, self.dim)) * (scale / np.sqrt(self.dim))

    def need_ids(self, item: Item) -> int:
        if item.id is None:
            raise ValueError(
                f"{self.model_id}: builds its states from the probe items' ids, and this batch "
                "has none (BatchInputs.ids)"
            )
        return int(item.id)

    def build(self, item: Item) -> Built:
        raise NotImplementedError

    def _built(self, item: Item) -> Built:
        key = item.key()
        if key not in self._memo:
            self._memo[key] = self.build(item)
        return self._memo[key]

    def _runner(self, modality: str) -> Callable[[BatchInputs], dict[str, Positions]]:
        def run(batch: BatchInputs) -> dict[str, Positions]:
            built = [self._built(item) for item in batch_items(batch, modality == "text")]
            lengths = [len(b.states) for b in built]
            width = max(lengths)
            x = np.zeros((len(built), width, self.dim), dtype=np.float32)
            for i, b in enumerate(built):
                x[i, : len(b.states)] = b.states
            mask = lengths_to_mask(lengths, width)
            spans = None
            if modality == "text":
                spans = spans_tensor([b.spans or [] for b in built], width)
            h = torch.from_numpy(x).to(self.device)
            for layer in self.layers:
                h = layer(h)
            frame_seconds = FRAME_SECONDS if modality == "speech" else None
            return same_positions(self._tables[self.stack], mask, frame_seconds, spans)

        return run


# --- the family objects ------------------------------------------------------------------------


def resolve_known(model_id: str, revision: str | None = None) -> ResolvedModel:
    """A reference model has no files: its id is its source, its revision its construction's."""
    name = model_id[len(PREFIX) :] if model_id.startswith(PREFIX) else model_id
    if name not in load_all():
        from benchmark.errors import did_you_mean

        raise UsageError(f"{model_id}: " + did_you_mean("known-answer model", name, list(ADAPTERS)))
    return ResolvedModel(model_id, revision or f"known-v{ADAPTER_VERSION}", "reference", None)


def read_known_config(source: str, revision: str | None = None) -> dict:
    """What a reference model's plan records as its config: its name, role and construction."""
    cls = load_all()[source[len(PREFIX) :]]
    return {"model_type": "known", "name": cls.name, "reference": cls.reference, "dim": cls.dim}


def load_known(
    source: str,
    *,
    model_id: str | None = None,
    device: str = "cpu",
    settings=None,
    random_init: int | None = None,
    **_ignored,
) -> KnownAdapter:
    """The adapter of `known:<name>` (no weights to load)."""
    if random_init is not None:
        raise UsageError(f"{source}: a known-answer model has no weights to re-initialise")
    cls = ADAPTERS[resolve_known(source).source[len(PREFIX) :]]
    return cls(model_id or source, settings, device)


# name -> adapter class, filled by the family modules (benchmark.models.known_*)
ADAPTERS: dict[str, type[KnownAdapter]] = {}


def reference_of(model_id: str) -> str | None:
    """The role of a known-answer model id ("ceiling", "floor:language", ...); None for any
    other model. Known from the id alone, before anything loads."""
    if not model_id.startswith(PREFIX):
        return None
    load_all()
    cls = ADAPTERS.get(model_id[len(PREFIX) :])
    return cls.reference if cls is not None else None


MODULES = (
    "benchmark.models.known_vectors",
    "benchmark.models.known_head",
    "benchmark.models.known_steer",
)


def load_all() -> dict[str, type[KnownAdapter]]:
    """Every reference family (importing its module registers it)."""
    import importlib

    for module in MODULES:
        importlib.import_module(module)
    return dict(ADAPTERS)


def family_of(cls: type[KnownAdapter], description: str):
    """The reference's `Family` object (benchmark.models.family), registered."""
    from benchmark.models.family import Family, Stack
    from benchmark.models.registry import register_family

    layers = f"embeddings, layer_1 .. layer_{N_LAYERS} (identity layers)"
    stacks = {cls.stack: Stack(cls.takes, head=cls.has_head, layers=layers)}
    ADAPTERS[cls.name] = cls
    family = Family(
        name=f"known-{cls.name}",
        description=f"known-answer reference ({cls.reference}): {description}",
        version=ADAPTER_VERSION,
        stacks=stacks,
        load=load_known,
        defaults=dict(DEFAULTS),
        id_prefix=f"{PREFIX}{cls.name}",
        resolve=resolve_known,
        read_config=read_known_config,
        random_init=False,
        reference=cls.reference,
    )
    return register_family(family)

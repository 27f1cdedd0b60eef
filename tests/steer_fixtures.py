"""Constructed models for the intervention and logit-lens kinds: tiny torch models wrapped as
adapters (with a planted concept axis, or a planted 'thinks in English' layer), and a helper that
plants a concept direction in a config-built Hugging Face model's token embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from kind_fixtures import FakeReps, task_config
from torch import nn

from benchmark.evaluation import Draws
from benchmark.kinds import ModelAccess, TaskContext, get_kind
from benchmark.models.base import AdapterInfo, BatchInputs, OutputHead
from benchmark.models.common import LayeredAdapter, same_positions
from benchmark.models.family import Stack
from benchmark.models.hooks import Positions, Tap
from benchmark.probes import ProbeSet
from benchmark.runner import RunOptions


def model_access(adapter, heads=None, **overrides) -> ModelAccess:
    """The adapter as a planned model; `heads`: its stacks with an output head (default: those
    whose adapter builds one)."""
    heads = set(getattr(adapter, "_heads", {})) if heads is None else set(heads)
    fields = {
        "load": lambda: adapter,
        "stacks": {n: Stack(tuple(m), head=n in heads) for n, m in adapter.stacks.items()},
        "default_stacks": {m: adapter.default_stack(m) for m in adapter.modalities},
        "batch_size": 64,
    }
    return ModelAccess(**(fields | overrides))


def context(kind: str, probes: ProbeSet, access: ModelAccess, modalities, main: dict, **metric):
    params = get_kind(kind).params(**metric)
    config = task_config(kind, probes, modalities, main, params)
    get_kind(kind).check_probes(config, params, probes)
    return TaskContext(
        config=config,
        params=params,
        probes=probes,
        modalities=list(modalities),
        reps=FakeReps(pooling="mean"),
        model=access,
        draws=Draws.of(params),
    )


def text_probes(texts: dict[str, list[str]], categories=None, words=None) -> ProbeSet:
    """A probe set of the given texts per language (the same ids in every language)."""
    languages = sorted(texts)
    n = len(texts[languages[0]])
    rows = []
    for lang in languages:
        for i, text in enumerate(texts[lang]):
            rows.append(
                {
                    "lang_code": lang,
                    "id": i,
                    "raw_transcription": text,
                    "duration_s": 1.0 + 0.01 * len(text),
                    "n_chars": len(text),
                    "n_words": len(text.split()),
                    "category": categories[i] if categories is not None else "",
                    "words": words[lang][i] if words is not None else [],
                }
            )
    return ProbeSet("constructed", "0", languages, list(range(n)), pd.DataFrame(rows), {})


# --- a planted concept axis ----------------------------------------------------------------------


class ConceptToy(LayeredAdapter):
    """Items are vectors: x = c * axis[language] + item noise (shared by translations) + a little
    language noise, c = +1 / -1 for the two groups, 0 otherwise. Layers: embeddings (x), layer_1 =
    an orthogonal map, layer_2 = layer_1 + 0.1 tanh(a random map): nearly linear, so a direction
    added at any layer reaches layer_2 almost unchanged."""

    stacks = {"encoder": ("text",)}

    def __init__(self, vectors: dict[tuple[str, str], np.ndarray], dim: int, seed: int = 0):
        super().__init__()
        self.model_id = "toy"
        self.info = AdapterInfo(family="toy", adapter_version="1")
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g))
        self.layer1 = nn.Linear(dim, dim, bias=False)
        self.layer1.weight.data = q.contiguous()  # (a column-major weight is very slow here)
        self.mix = nn.Linear(dim, dim)
        nn.init.normal_(self.mix.weight, std=dim**-0.5, generator=g)
        self.layer2 = _Residual(self.mix)
        tap = Tap()
        self._tables = {
            "encoder": {"embeddings": tap, "layer_1": self.layer1, "layer_2": self.layer2}
        }
        self._taps = {"encoder": [(tap, self.layer1)]}
        self._runners = {("encoder", "text"): self._run}
        self.vectors = vectors
        self.calls = 0

    def _run(self, batch: BatchInputs) -> dict[str, Positions]:
        self.calls += 1
        x = torch.tensor(np.stack([self.vectors[(batch.language, t)] for t in batch.texts]))
        x = x.float()[:, None, :]
        self.layer2(self.layer1(x))
        return same_positions(self._tables["encoder"], torch.ones(x.shape[:2], dtype=torch.bool))


class _Residual(nn.Module):
    def __init__(self, mix: nn.Module):
        super().__init__()
        self.mix = mix

    def forward(self, x):
        return x + 0.1 * torch.tanh(self.mix(x))


def concept_toy(
    n_per_group: int = 24,
    dim: int = 64,
    seed: int = 0,
    noise: float = 0.8,
    scales: dict[str, float] | None = None,
    concept: dict[str, float] | None = None,
):
    """(adapter, probes): en_us and de_de carry the concept on the same axis and share each
    item's content (translations); fr_fr carries it on an orthogonal axis with content of its own
    (nothing shared: no transfer). 'animals' (+1) and 'food' (-1), and as many 'other' items.
    `scales`: a language's whole vectors multiplied (a target at another scale); `concept`: the
    strength of a language's concept axis (default 1; 0: the language carries no concept)."""
    rng = np.random.default_rng(seed)
    axis = rng.standard_normal(dim)
    axis /= np.linalg.norm(axis)
    other = rng.standard_normal(dim)
    other -= other @ axis * axis
    other /= np.linalg.norm(other)
    axes = {"en_us": axis, "de_de": axis, "fr_fr": other}
    categories = ["animals"] * n_per_group + ["food"] * n_per_group + ["other"] * n_per_group
    sign = {"animals": 1.0, "food": -1.0, "other": 0.0}
    n = len(categories)
    scale = noise / np.sqrt(dim) * 3
    item_noise = rng.standard_normal((n, dim)) * scale
    texts, vectors = {}, {}
    for lang, ax in axes.items():
        offset = rng.standard_normal(dim)
        texts[lang] = [f"{lang} sentence {i}" for i in range(n)]
        for i, c in enumerate(categories):
            lang_noise = rng.standard_normal(dim) * 0.3 / np.sqrt(dim)
            content = item_noise[i] if lang != "fr_fr" else rng.standard_normal(dim) * scale
            strength = (concept or {}).get(lang, 1.0)
            vec = strength * sign[c] * ax + offset + content + lang_noise
            vec = vec * (scales or {}).get(lang, 1.0)
            vectors[(lang, texts[lang][i])] = vec.astype(np.float32)
    return ConceptToy(vectors, dim, seed), text_probes(texts, categories)


# --- a planted logit lens ------------------------------------------------------------------------


class WordTokenizer:
    """Whitespace tokens, one id per lower-cased word (no special tokens)."""

    def __init__(self, words):
        self.vocab = {w: i for i, w in enumerate(sorted({w.lower() for w in words}))}
        self.inverse = {i: w for w, i in self.vocab.items()}

    def __call__(self, string, add_special_tokens=False):
        return {"input_ids": [self.vocab[w.lower().strip(".,")] for w in string.split()]}

    def decode(self, ids):
        return " ".join(self.inverse[i] for i in ids)


class _Planted(nn.Module):
    """A layer whose output is set before each forward pass (its input only fixes the shape)."""

    def __init__(self):
        super().__init__()
        self.out = None

    def forward(self, x):
        return x * 0 + self.out


class LensToy(LayeredAdapter):
    """A word-level 'decoder' over texts whose words are all in the vocabulary. One-hot
    unembedding (D = V). At position t: embeddings = the word at t; layer_1 = a strong vote for
    the ENGLISH word of the concept at t + 1 (when there is one, else the next word); layer_2 =
    a strong vote for the word at t + 1 itself. So layer_1 'thinks in English'."""

    stacks = {"decoder": ("text",)}

    def __init__(self, tokenizer: WordTokenizer, english_of: dict[str, str], final_norm=None):
        super().__init__()
        self.model_id = "lens-toy"
        self.info = AdapterInfo(family="lens-toy", adapter_version="1")
        self.tokenizer, self.english_of = tokenizer, english_of
        self.dim = len(tokenizer.vocab)
        tap, self.layer1, self.layer2 = Tap(), _Planted(), _Planted()
        self.embed = nn.Identity()
        self._tables = {
            "decoder": {"embeddings": tap, "layer_1": self.layer1, "layer_2": self.layer2}
        }
        self._taps = {"decoder": [(tap, self.layer1)]}
        self._runners = {("decoder", "text"): self._run}
        self._heads = {"decoder": lambda: OutputHead(torch.eye(self.dim), final_norm, tokenizer)}

    def _run(self, batch: BatchInputs) -> dict[str, Positions]:
        rows = [t.split() for t in batch.texts]
        width = max(map(len, rows))
        onehot = torch.zeros(len(rows), width, self.dim)
        l1, l2 = torch.zeros_like(onehot), torch.zeros_like(onehot)
        mask = torch.zeros(len(rows), width, dtype=torch.bool)
        spans = torch.full((len(rows), width, 2), -1, dtype=torch.long)
        for b, (text, words) in enumerate(zip(batch.texts, rows, strict=True)):
            at = 0
            for t, word in enumerate(words):
                start = text.index(word, at)
                at = start + len(word)
                spans[b, t] = torch.tensor([start, at])
                mask[b, t] = True
                onehot[b, t, self.tokenizer.vocab[word.lower().strip(".,")]] = 1.0
                if t + 1 < len(words):
                    nxt = words[t + 1].lower().strip(".,")
                    english = self.english_of.get(nxt, nxt)
                    l1[b, t, self.tokenizer.vocab[english]] = 8.0
                    l2[b, t, self.tokenizer.vocab[nxt]] = 8.0
        self.layer1.out, self.layer2.out = l1, l2
        self.layer2(self.layer1(onehot))
        return same_positions(self._tables["decoder"], mask, char_spans=spans)


# --- a planted concept in a config-built Hugging Face model ----------------------------------------


def plant_concept(
    path: Path,
    probes: ProbeSet,
    toward: str,
    away: str,
    scale: float = 2.0,
    words_only: bool = False,
):
    """Give a saved config-built model (tiny Whisper or decoder LM) a tokenizer trained on the
    probe sentences (so content words are single tokens), then add scale * score(token) * u to its
    input embeddings, score = (uses in `toward` sentences - uses in `away` sentences) / (all uses +
    1) over every language: its layers then carry the two groups apart along u in every language
    (a transferable axis). `words_only`: train the tokenizer on the sentences' words one by one (a
    SentencePiece-style tokenizer, which does not split at spaces, then learns no merges across
    words: each word alone is the token it is in its sentence)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, WhisperForConditionalGeneration

    path = Path(path)
    whisper = '"whisper"' in (path / "config.json").read_text()
    cls = WhisperForConditionalGeneration if whisper else AutoModelForCausalLM
    model = cls.from_pretrained(path)
    old = AutoTokenizer.from_pretrained(path)
    frame = probes.frame
    texts = [" " + t for t in frame["raw_transcription"]]
    added = [t for t in old.get_added_vocab() if t not in old.all_special_tokens]
    corpus = [" " + w for t in texts for w in t.split()] if words_only else texts
    tokenizer = old.train_new_from_iterator(corpus * 2, vocab_size=3000, new_special_tokens=added)
    if not whisper and old.bos_token:
        from tiny_models import _with_bos

        tokenizer = _with_bos(tokenizer)
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    for config in (model.config, model.generation_config):
        for key in ("pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id"):
            value = getattr(config, key, None)
            if isinstance(value, int):
                setattr(
                    config, key, tokenizer.convert_tokens_to_ids(old.convert_ids_to_tokens(value))
                )
    counts: dict[int, np.ndarray] = {}
    for text, category in zip(texts, frame["category"], strict=True):
        column = 0 if category == toward else 1 if category == away else 2
        for t in tokenizer(text, add_special_tokens=False)["input_ids"]:
            counts.setdefault(t, np.zeros(3))[column] += 1
    embed = model.model.decoder.embed_tokens if whisper else model.get_input_embeddings()
    u = torch.randn(embed.weight.shape[1], generator=torch.Generator().manual_seed(1))
    u = u / u.norm() * embed.weight.norm(dim=1).mean()
    with torch.no_grad():
        for t, c in counts.items():
            embed.weight[t] += scale * float((c[0] - c[1]) / (c.sum() + 1)) * u
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def run_options(model: Path, tmp_path: Path, **overrides) -> RunOptions:
    """Options of a quiet run of `model` into `tmp_path` (results and cache)."""
    base = {
        "model": str(model),
        "output": tmp_path / "results",
        "cache_dir": tmp_path / "cache",
        "progress": False,
    }
    return RunOptions(**(base | overrides))

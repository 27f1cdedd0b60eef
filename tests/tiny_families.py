"""Tiny config-built models of the families added by the model-coverage work, built once per test
session on first use (import the `families` fixture into a test module to use it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmark.models import testing as T

BUILDERS = {
    "llama": lambda p: T.build_tiny_decoder_lm(p, "llama"),
    "qwen2": lambda p: T.build_tiny_decoder_lm(p, "qwen2"),
    "gemma": lambda p: T.build_tiny_decoder_lm(p, "gemma"),
    "mistral": lambda p: T.build_tiny_decoder_lm(p, "mistral"),
    "gpt2": lambda p: T.build_tiny_decoder_lm(p, "gpt2"),
    "wav2vec2": lambda p: T.build_tiny_speech_encoder(p, "wav2vec2"),
    "wav2vec2-group": lambda p: T.build_tiny_speech_encoder(p, "wav2vec2", norm="group"),
    "hubert": lambda p: T.build_tiny_speech_encoder(p, "hubert", norm="group"),
    "wavlm": lambda p: T.build_tiny_speech_encoder(p, "wavlm"),
    "data2vec-audio": lambda p: T.build_tiny_speech_encoder(p, "data2vec-audio"),
    "qwen2_audio": T.build_tiny_qwen2_audio,
    "t5": T.build_tiny_t5,
    "whisper": T.build_tiny_whisper,
    "seamless_m4t_v2": lambda p: T.build_tiny_seamless(p, version=2),
    "seamless_m4t": lambda p: T.build_tiny_seamless(p, version=1),
    "bert": lambda p: T.build_tiny_text_encoder(p, "bert"),
    "xlm-roberta": lambda p: T.build_tiny_text_encoder(p, "xlm-roberta"),
}

RNG = np.random.default_rng(1)
# 2.0 s, 0.41 s and 0.375 s of noise (see test_adapters.py for why these lengths)
CLIPS = [RNG.standard_normal(n).astype(np.float32) * 0.1 for n in (32000, 6560, 6000)]
TEXTS = [
    "Todos los seres humanos nacen libres e iguales.",
    "Las humanidades, libertadosamente iguales!",
    "Hola",
]


class Built:
    def __init__(self, root: Path):
        self.root = root
        self._paths: dict[str, Path] = {}

    def __getitem__(self, name: str) -> Path:
        if name not in self._paths:
            self._paths[name] = BUILDERS[name](self.root / name)
        return self._paths[name]


@pytest.fixture(scope="session")
def families(tmp_path_factory) -> Built:
    return Built(tmp_path_factory.mktemp("tiny-families"))


@pytest.fixture(scope="session")
def loaded(families):
    """name -> adapter, loaded on first use through plan_model / load_adapter."""
    from benchmark.models import load_adapter

    cache: dict = {}

    def get(name: str):
        if name not in cache:
            cache[name] = load_adapter(str(families[name]))
        return cache[name]

    return get

"""Shared fixtures: tiny config-built models (random weights, saved and loaded back through the
normal path), built once per test session and only when a test asks for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.models.testing import (
    build_tiny_seamless,
    build_tiny_text_encoder,
    build_tiny_whisper,
)

BUILDERS = {
    "whisper": lambda p: build_tiny_whisper(p),
    "bert": lambda p: build_tiny_text_encoder(p, "bert"),
    "xlm-roberta": lambda p: build_tiny_text_encoder(p, "xlm-roberta"),
    "mpnet": lambda p: build_tiny_text_encoder(p, "mpnet"),
    "seamless_m4t_v2": lambda p: build_tiny_seamless(p, version=2),
    "seamless_m4t": lambda p: build_tiny_seamless(p, version=1),
}


class TinyModels:
    """tiny_models["whisper"] -> the folder of a tiny Whisper, built on first use."""

    def __init__(self, root: Path):
        self.root = root
        self._built: dict[str, Path] = {}

    def __getitem__(self, name: str) -> Path:
        if name not in self._built:
            self._built[name] = BUILDERS[name](self.root / name)
        return self._built[name]

    def items(self):
        return [(name, self[name]) for name in BUILDERS]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> TinyModels:
    return TinyModels(tmp_path_factory.mktemp("tiny-models"))

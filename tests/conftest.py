"""Shared fixtures: tiny config-built models (random weights, saved and loaded back through the
normal path; tests/tiny_models.py), built once per test session and only when a test asks for
them."""

from __future__ import annotations

import pytest
from tiny_models import TinyModels


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> TinyModels:
    return TinyModels(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def families(tiny_models) -> TinyModels:
    """The same tiny models, by the name the family tests use."""
    return tiny_models


@pytest.fixture(scope="session")
def loaded(tiny_models):
    """name -> adapter, loaded on first use through plan_model / load_adapter."""
    from benchmark.models import load_adapter

    cache: dict = {}

    def get(name: str):
        if name not in cache:
            cache[name] = load_adapter(str(tiny_models[name]))
        return cache[name]

    return get

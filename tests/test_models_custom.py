"""The worked example of docs/models.md: a SALMONN-style custom adapter (docs/examples/
custom_adapter.py) registered from outside the package, planned, loaded, steered and run."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    sys.path.insert(0, str(EXAMPLES))
    try:
        import custom_adapter
    finally:
        sys.path.remove(str(EXAMPLES))
    path = custom_adapter.build_toy_salmonn(tmp_path_factory.mktemp("toy") / "toy-salmonn")
    return custom_adapter, path


def test_the_custom_adapter_plugs_in(example, tmp_path, monkeypatch):
    from benchmark.models import families, load_adapter, plan_model
    from benchmark.models.base import BatchInputs
    from benchmark.runner import RunOptions, run

    module, path = example
    assert "toy_salmonn" in families()
    plan = plan_model(str(path), settings={"family": "toy_salmonn"})
    assert plan.family == "toy_salmonn" and plan.modalities == ("speech", "text")
    adapter = load_adapter(plan)
    clips = [
        np.random.default_rng(0).standard_normal(n).astype(np.float32) * 0.1 for n in (16000, 8000)
    ]
    speech = adapter.forward(BatchInputs("speech", "en_us", audio=clips, stack="llm"))
    assert speech["layer_2"].mask.sum(1).tolist() == [13, 7]  # 50, 25 frames in windows of 4
    assert speech["layer_2"].frame_seconds == pytest.approx(0.08)
    text = adapter.forward(BatchInputs("text", "en_us", texts=["Hola mundo", "Hello"]))
    assert text["layer_1"].char_spans is not None
    assert adapter.output_head("llm") is not None and adapter.output_head("speech_encoder") is None
    # steering through layer_module reaches the returned states
    vector = torch.full((32,), 0.25)
    handle = adapter.layer_module("speech", "layer_1", "llm").register_forward_hook(
        lambda m, a, out: (out[0] + vector, *out[1:]) if isinstance(out, tuple) else out + vector
    )
    try:
        steered = adapter.forward(BatchInputs("speech", "en_us", audio=clips, stack="llm"))
    finally:
        handle.remove()
    mask = speech["layer_1"].mask
    torch.testing.assert_close(
        steered["layer_1"].hidden[mask], speech["layer_1"].hidden[mask] + vector, atol=1e-5, rtol=0
    )
    # and a task end to end, through the shared LLM stack for both modalities
    summary = run(
        RunOptions(
            model=str(path),
            tasks="cross_modal_gap",
            languages=["en_us", "es_419"],
            limit=16,
            task_settings={"metric.svcca_k": 4, "metric.n_null": 10, "metric.n_resamples": 10},
            model_settings={"family": "toy_salmonn", "stacks": {"speech": "llm"}},
            output=tmp_path / "results",
            cache_dir=tmp_path / "cache",
            progress=False,
        )
    )
    result = summary.results["cross_modal_gap"]
    assert result.status == "ok", result.reason
    assert result.model.family == "toy_salmonn"


def test_adapter_modules_named_in_the_environment_are_loaded(example, monkeypatch, capsys):
    from benchmark.cli import main
    from benchmark.errors import UsageError
    from benchmark.models import load_plugins

    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("INTERLINGUA_ADAPTERS", "custom_adapter")
    assert main(["models", "list"]) == 0
    assert "toy_salmonn  [speech, text]" in capsys.readouterr().out
    monkeypatch.setenv("INTERLINGUA_ADAPTERS", "no_such_adapter_module")
    with pytest.raises(UsageError, match="cannot import adapter module 'no_such_adapter_module'"):
        load_plugins()

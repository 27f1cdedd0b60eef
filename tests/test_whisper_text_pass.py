"""Whisper's text pass reads the silence's cross-attention keys and values from a cache filled once
per adapter: the states equal the previous path's (the decoder projecting the silence in every
layer of every batch) at every layer and position, hooks on decoder layers work as before, hooks
on the encoder cannot reach the cache, and a change of the decoder's weights refills it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_models import CORPUS

from benchmark.models import load_adapter
from benchmark.models.base import BatchInputs

TEXTS = [CORPUS[1], CORPUS[0], "Hola", CORPUS[3][:30], CORPUS[2]]


@pytest.fixture()
def whisper(tiny_models):
    return load_adapter(str(tiny_models["whisper"]))


def text_batch(texts, language="es_419"):
    return BatchInputs("text", language, texts=list(texts))


def both_paths(adapter, batch):
    """(states with the cached projections, states of the previous path)."""
    adapter.reuse_silence_projections = True
    fast = adapter.forward(batch)
    adapter.reuse_silence_projections = False
    try:
        slow = adapter.forward(batch)
    finally:
        adapter.reuse_silence_projections = True
    return fast, slow


def max_delta(a, b) -> float:
    assert list(a) == list(b)
    out = 0.0
    for name in a:
        assert a[name].hidden.shape == b[name].hidden.shape, name
        assert torch.equal(a[name].mask, b[name].mask), name
        out = max(out, float((a[name].hidden - b[name].hidden).abs().max()))
    return out


def count_projections(adapter):
    """A counter of calls to the decoder's cross-attention key projections (and its handles)."""
    calls = []
    handles = [
        layer.encoder_attn.k_proj.register_forward_hook(lambda *_: calls.append(1))
        for layer in adapter.decoder.layers
    ]
    return calls, handles


@pytest.mark.parametrize("rows", [1, 2, 3, 5])
def test_text_states_equal_the_projecting_path(whisper, rows):
    fast, slow = both_paths(whisper, text_batch(TEXTS[:rows]))
    assert max_delta(fast, slow) <= 1e-5


def test_silence_is_projected_once_per_adapter(whisper):
    whisper.forward(text_batch(TEXTS[:3]))  # fills the cache (batches of several rows)
    calls, handles = count_projections(whisper)
    try:
        whisper.forward(text_batch(TEXTS[:3]))
        whisper.forward(text_batch(TEXTS[1:5]))
        assert calls == []  # no layer projected the silence again
        whisper.reuse_silence_projections = False
        whisper.forward(text_batch(TEXTS[:3]))
        assert len(calls) == len(whisper.decoder.layers)  # the previous path does, every batch
    finally:
        whisper.reuse_silence_projections = True
        for handle in handles:
            handle.remove()


def test_hooks_on_decoder_layers_read_and_steer_as_before(whisper):
    batch = text_batch(TEXTS[:4])
    vector = torch.from_numpy(np.random.default_rng(0).standard_normal(32).astype(np.float32))
    seen = {}

    def steer(module, args, output):
        return output + vector

    def read(module, args, output):
        seen.setdefault(whisper.reuse_silence_projections, []).append(output.clone())

    handles = [
        whisper.layer_module("text", "layer_1").register_forward_hook(steer),
        whisper.layer_module("text", "layer_2").register_forward_hook(read),
    ]
    try:
        fast, slow = both_paths(whisper, batch)
    finally:
        for handle in handles:
            handle.remove()
    plain = whisper.forward(batch)
    assert max_delta(fast, slow) <= 1e-5
    assert float((fast["layer_2"].hidden - plain["layer_2"].hidden).abs().max()) > 1e-2
    torch.testing.assert_close(seen[True][0], seen[False][0], atol=1e-5, rtol=0)


def test_encoder_hooks_before_the_first_text_pass_cannot_reach_the_cache(whisper):
    batch = text_batch(TEXTS[:3])
    handle = whisper.layer_module("speech", "layer_1").register_forward_hook(
        lambda m, a, out: out + 1.0
    )
    try:
        fast = whisper.forward(batch)  # the first text pass: the projections are taken here
    finally:
        handle.remove()
    whisper.reuse_silence_projections = False
    slow = whisper.forward(batch)
    assert max_delta(fast, slow) <= 1e-5


def test_new_decoder_weights_refill_the_cache(whisper):
    batch = text_batch(TEXTS[:3])
    before = whisper.forward(batch)
    with torch.no_grad():
        whisper.decoder.layers[-1].encoder_attn.v_proj.weight.mul_(1.5)
    fast, slow = both_paths(whisper, batch)
    assert max_delta(fast, slow) <= 1e-5
    assert float((fast["layer_2"].hidden - before["layer_2"].hidden).abs().max()) > 1e-3


def test_speech_through_the_decoder_is_unchanged(whisper):
    """The speech pass cross-attends to each clip's own audio: it never reads the silence cache."""
    clip = np.random.default_rng(1).standard_normal(16000).astype(np.float32) * 0.1
    batch = BatchInputs("speech", "es_419", audio=[clip], texts=[CORPUS[1]], stack="decoder")
    fast, slow = both_paths(whisper, batch)
    assert max_delta(fast, slow) == 0.0


@pytest.mark.slow
def test_real_whisper_base_text_states_equal_the_projecting_path():
    from benchmark.models.offline import resolve_pretrained

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        source = resolve_pretrained("openai/whisper-base").source
    adapter = load_adapter(source)
    texts = (TEXTS * 4)[:16]
    for rows in (16, 3, 1):
        fast, slow = both_paths(adapter, text_batch(texts[:rows]))
        assert max_delta(fast, slow) <= 1e-5, rows

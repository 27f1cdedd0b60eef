"""SteeredPasses: steered passes that run only the layers above the steering layer give the states
of today's full pass with a forward hook (kinds.passes.steering + a pooled extraction), for every
family with hookable layers; zero vectors give the unsteered states; the layers below the hook and
the declared prefix modules do not run; adapters that cannot replay fall back to full passes."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_models import CORPUS

from benchmark.kinds.passes import steering
from benchmark.models import load_adapter
from benchmark.representations.extract import extract
from benchmark.representations.steering import SteeredPasses

RNG = np.random.default_rng(3)
TEXTS = [CORPUS[i % 6][: 15 + 7 * i] for i in range(7)]
# seconds: 2.0, 0.41, 0.375, 0.56, 1.25, 0.44, 7.0 (Whisper's cropped windows: 5 s and 10 s)
CLIPS = [
    RNG.standard_normal(n).astype(np.float32) * 0.1
    for n in (32000, 6560, 6000, 9000, 20000, 7000, 112000)
]
ITEMS = [5, 0, 3, 1, 6, 2, 4]  # every item, in an order of their own: batches of 3, 3 and 1
BATCH = 3

CASES = [
    ("whisper", "encoder", "speech"),
    ("whisper", "decoder", "text"),
    ("whisper", "decoder", "speech"),
    ("bert", "encoder", "text"),
    ("xlm-roberta", "encoder", "text"),
    ("llama", "decoder", "text"),
    ("gpt2", "decoder", "text"),
    ("wav2vec2", "encoder", "speech"),
    ("hubert", "encoder", "speech"),  # group norm: the adapter runs one clip at a time
    ("wavlm", "encoder", "speech"),  # layers return (hidden states, position bias)
    ("seamless_m4t_v2", "speech_encoder", "speech"),
    ("seamless_m4t_v2", "text_encoder", "text"),
    ("seamless_m4t_v2", "text_decoder", "text"),
    ("seamless_m4t_v2", "text_decoder", "speech"),
    ("qwen2_audio", "audio_encoder", "speech"),
    ("qwen2_audio", "language_model", "text"),
    ("qwen2_audio", "language_model", "speech"),
]
IDS = [f"{n}-{s}-{m}" for n, s, m in CASES]


def inputs_of(modality: str):
    return TEXTS if modality == "text" else CLIPS


def passes(adapter, stack, modality, **kw) -> SteeredPasses:
    inputs = inputs_of(modality)
    return SteeredPasses(
        adapter,
        modality=modality,
        language="es_419",
        stack=stack,
        inputs=inputs,
        lengths=[len(x) for x in inputs],
        ids=list(range(100, 100 + len(inputs))),
        words=None,
        texts=TEXTS if modality == "speech" else None,
        batch_size=kw.pop("batch_size", BATCH),
        **kw,
    )


def hooked(adapter, stack, modality, layer, vector, read, items=ITEMS) -> np.ndarray:
    """Today's steered pass: a forward hook on the layer module, a full pooled extraction."""
    inputs = inputs_of(modality)
    with steering(adapter.layer_module(modality, layer, stack), vector):
        return extract(
            adapter,
            modality,
            "es_419",
            [inputs[i] for i in items],
            [len(inputs[i]) for i in items],
            batch_size=BATCH,
            layers=read,
            ids=[100 + i for i in items],
            progress=False,
            texts=[TEXTS[i] for i in items] if modality == "speech" else None,
            stack=stack,
        ).array


def calls_of(modules) -> tuple[list, list]:
    calls, handles = [], []
    for module in modules:
        handles.append(module.register_forward_hook(lambda *_, m=module: calls.append(m)))
    return calls, handles


@pytest.mark.parametrize(("name", "stack", "modality"), CASES, ids=IDS)
def test_steered_equals_the_hooked_full_pass(loaded, name, stack, modality):
    adapter = loaded(name)
    sp = passes(adapter, stack, modality)
    names = adapter.layer_names(modality, stack)
    base = sp.unsteered(names, ITEMS)
    dim = base.shape[-1]
    for layer in names:
        read = names[names.index(layer) :]
        vectors = RNG.standard_normal((3, dim)).astype(np.float32)
        got = sp.steered(layer, vectors, read, ITEMS)
        assert got.shape == (3, len(read), len(ITEMS), dim)
        for k in range(3):
            want = hooked(adapter, stack, modality, layer, vectors[k], read)
            assert np.abs(got[k] - want).max() <= 1e-5, (layer, k)
        moved = np.abs(got[0, -1] - base[-1]).max()
        assert moved > 1e-3, layer  # the vectors did change the read layer
        zeros = sp.steered(layer, np.zeros((2, dim), np.float32), read, ITEMS)
        assert np.abs(zeros - base[None, names.index(layer) :]).max() <= 1e-5, layer
    assert sp.replayable  # no family here fell back to full passes


@pytest.mark.parametrize(("name", "stack", "modality"), CASES, ids=IDS)
def test_layers_below_the_hook_and_the_prefix_do_not_run(loaded, name, stack, modality):
    adapter = loaded(name)
    sp = passes(adapter, stack, modality)
    names = adapter.layer_names(modality, stack)
    steer = names[-1]  # replayed, like every layer below it: no submodule of theirs may run
    replayed = [adapter.layer_module(modality, n, stack) for n in names[1:]]
    replayed += adapter.replay_prefix(modality, stack)
    inside = [m for module in replayed for m in module.modules() if m is not module]
    assert inside
    sp.unsteered([steer], ITEMS)
    calls, handles = calls_of(inside)
    try:
        got = sp.steered(steer, RNG.standard_normal((4, 32)).astype(np.float32), [steer], ITEMS)
    finally:
        for handle in handles:
            handle.remove()
    assert calls == []
    assert got.shape == (4, 1, len(ITEMS), 32)


def test_long_inputs_are_tiled_less():
    """A tiled pass holds at most ROWS_FACTOR batches of rows, and at most POSITIONS_PER_PASS
    positions: Whisper's 1,500 encoder frames in batches of 16 run one vector a pass, text of
    30 tokens four, and a single item is never tiled."""
    from benchmark.representations.steering import (
        POSITIONS_PER_PASS,
        ROWS_FACTOR,
        vectors_per_pass,
    )

    assert vectors_per_pass(16, 1500, 16, None) == 1
    assert vectors_per_pass(8, 1500, 16, None) == POSITIONS_PER_PASS // 1500 // 8 == 2
    assert vectors_per_pass(16, 30, 16, None) == ROWS_FACTOR == 4
    assert vectors_per_pass(1, 30, 16, None) == 1
    assert vectors_per_pass(3, 1500, 16, 12) == 4  # the caller's own limit wins


def test_vectors_share_tiled_passes(loaded):
    """22 vectors over 7 items (batches of 3, 3 and 1) at most 12 rows a pass: the batches of 3
    run 4 vectors a pass (6 passes), the batch of 1 one vector a pass (never tiled)."""
    adapter = loaded("bert")
    sp = passes(adapter, "encoder", "text", rows_per_pass=12)
    names = adapter.layer_names("text")
    sp.unsteered(names, ITEMS)
    rows, handles = [], []
    last = adapter.layer_module("text", names[-1])
    handles.append(last.register_forward_hook(lambda m, a, out: rows.append(out.shape[0])))
    vectors = RNG.standard_normal((22, 32)).astype(np.float32)
    try:
        got = sp.steered("layer_1", vectors, [names[-1]], ITEMS)
    finally:
        for handle in handles:
            handle.remove()
    # batches of 3 rows: 4 vectors (12 rows) a pass, 6 passes each; the batch of 1: 22 passes
    assert rows == [12] * 5 + [6] + [12] * 5 + [6] + [1] * 22
    want = hooked(adapter, "encoder", "text", "layer_1", vectors[17], [names[-1]])
    assert np.abs(got[17] - want).max() <= 1e-5


def test_items_come_back_in_the_order_given(loaded):
    adapter = loaded("llama")
    sp = passes(adapter, "decoder", "text")
    names = adapter.layer_names("text")
    vectors = RNG.standard_normal((2, 32)).astype(np.float32)
    some = [4, 1, 6]
    got = sp.steered("layer_1", vectors, names[1:], some)
    every = sp.steered("layer_1", vectors, names[1:], [0, 1, 2, 3, 4, 5, 6])
    # the same items in other batches: the same states (padding invariance)
    assert np.abs(got - every[:, :, some]).max() <= 1e-5
    assert np.abs(sp.unsteered(names, some) - sp.unsteered(names)[:, some]).max() <= 1e-5


def test_whisper_full_window_replays(families):
    adapter = load_adapter(str(families["whisper"]), settings={"window": "full"})
    for stack in ("encoder", "decoder"):
        sp = passes(adapter, stack, "speech")
        vectors = RNG.standard_normal((2, 32)).astype(np.float32)
        got = sp.steered("layer_1", vectors, ["layer_2"], ITEMS)
        for k in range(2):
            want = hooked(adapter, stack, "speech", "layer_1", vectors[k], ["layer_2"])
            assert np.abs(got[k] - want).max() <= 1e-5
        assert sp.replayable


def test_an_adapter_that_cannot_replay_runs_full_passes(loaded, monkeypatch):
    adapter = loaded("bert")
    monkeypatch.setattr(adapter, "replay_prefix", lambda modality, stack=None: None)
    sp = passes(adapter, "encoder", "text")
    assert not sp.replayable
    vectors = RNG.standard_normal((2, 32)).astype(np.float32)
    first = adapter.layer_module("text", "layer_1")
    calls, handles = calls_of([first])
    try:
        got = sp.steered("layer_2", vectors, ["layer_2"], ITEMS)
    finally:
        for handle in handles:
            handle.remove()
    assert len(calls) == 2 * 3  # every vector, every batch: the whole model ran
    for k in range(2):
        want = hooked(adapter, "encoder", "text", "layer_2", vectors[k], ["layer_2"])
        assert np.abs(got[k] - want).max() <= 1e-5


def test_the_generic_fallback_cannot_be_steered(families):
    adapter = load_adapter(str(families["t5"]))
    sp = SteeredPasses(
        adapter,
        modality="text",
        language="es_419",
        stack=None,
        inputs=TEXTS[:2],
        lengths=[1, 2],
        ids=[0, 1],
        words=None,
    )
    assert not sp.replayable  # it declares no replay
    with pytest.raises(NotImplementedError, match="no module to hook"):
        sp.steered("hidden_states_1", np.zeros((1, 32), np.float32), ["hidden_states_2"])


def test_read_layers_before_the_steering_layer_are_refused(loaded):
    adapter = loaded("bert")
    sp = passes(adapter, "encoder", "text")
    with pytest.raises(ValueError, match=r"come before the steering layer layer_2"):
        sp.steered("layer_2", np.zeros((1, 32), np.float32), ["layer_1"])
    with pytest.raises(ValueError, match=r"vectors must be \[K, D\]"):
        sp.steered("layer_1", np.zeros(32, np.float32), ["layer_2"])


def test_cross_attention_projections_run_on_one_copy_of_the_batch(loaded, monkeypatch):
    """Whisper's decoder over speech: the encoder output is replayed K times over, and the
    cross-attention key/value projections (replay_shared) run on one copy of it per pass."""
    adapter = loaded("whisper")
    sp = passes(adapter, "decoder", "speech", rows_per_pass=12)
    sp.unsteered(["layer_1", "layer_2"], ITEMS)
    shared = adapter.replay_shared("speech", "decoder")
    assert len(shared) == 2 * len(adapter.decoder.layers)
    rows = []  # the rows each projection computes (its forward, under the replay's stand-in)
    for module in shared:

        def forward(x, *args, _original=module.forward, **kwargs):
            rows.append(x.shape[0])
            return _original(x, *args, **kwargs)

        monkeypatch.setattr(module, "forward", forward)
    vectors = RNG.standard_normal((4, 32)).astype(np.float32)
    got = sp.steered("layer_1", vectors, ["layer_2"], ITEMS)
    # layer_2's projections only (layer_1 is replayed), on one copy of each pass's 4: the 7 s
    # clip (a 10 s window) is a batch of its own (Whisper's batch_group: batches never mix
    # windows), run untiled once per vector; the six 5 s-window clips in two batches of 3
    assert sorted(rows) == sorted([3, 3] * 2 + [1, 1] * 4)
    for k in (0, 3):
        want = hooked(adapter, "decoder", "speech", "layer_1", vectors[k], ["layer_2"])
        assert np.abs(got[k] - want).max() <= 1e-5


def test_the_custom_adapter_example_replays(tmp_path):
    """docs/examples/custom_adapter.py declares nothing: LayeredAdapter's default replays its
    layers, exactly."""
    import sys
    from pathlib import Path

    examples = Path(__file__).resolve().parents[1] / "docs" / "examples"
    sys.path.insert(0, str(examples))
    try:
        import custom_adapter
    finally:
        sys.path.remove(str(examples))
    path = custom_adapter.build_toy_salmonn(tmp_path / "toy-salmonn")
    adapter = load_adapter(str(path), settings={"family": "toy_salmonn"})
    for modality in ("speech", "text"):
        sp = passes(adapter, "llm", modality)
        names = adapter.layer_names(modality, "llm")
        vectors = RNG.standard_normal((2, 32)).astype(np.float32)
        got = sp.steered("layer_1", vectors, names[1:], ITEMS)
        for k in range(2):
            want = hooked(adapter, "llm", modality, "layer_1", vectors[k], names[1:])
            assert np.abs(got[k] - want).max() <= 1e-5
        assert sp.replayable


def _items_without_long_audio(modality: str) -> list[int]:
    # the 7 s clip is one cropped window; every item here runs its steering layer once per batch
    return ITEMS


@pytest.mark.parametrize(("name", "stack", "modality"), CASES, ids=IDS)
def test_first_order_effects_are_the_derivative_of_the_steered_pass(loaded, name, stack, modality):
    """gradients(layer, read, c).gradients[i] . v is d/de of c[i] . (item i's read state steered
    by e v) at e = 0: checked against a central difference of two exact steered passes, at every
    layer; its .states are the zero vector's steered states."""
    adapter = loaded(name)
    sp = passes(adapter, stack, modality)
    names = adapter.layer_names(modality, stack)
    read = names[-1]
    dim = sp.unsteered([read], ITEMS).shape[-1]
    cot = RNG.standard_normal((len(ITEMS), dim)).astype(np.float32)
    for layer in names:
        first_order = sp.gradients(layer, read, cot, ITEMS)
        grads = first_order.gradients
        assert grads.shape == (len(ITEMS), dim)
        # its forward is the zero vector's steered pass: the intervention kind's alpha 0
        zero = sp.steered(layer, np.zeros((1, dim), np.float32), [read], ITEMS)[0, 0]
        assert np.abs(first_order.states - zero).max() <= 1e-5, layer
        v = RNG.standard_normal((1, dim)).astype(np.float32)
        eps = 1e-2 / np.linalg.norm(v)
        up = sp.steered(layer, v * eps, [read], ITEMS)[0, 0]
        down = sp.steered(layer, -v * eps, [read], ITEMS)[0, 0]
        numeric = ((up - down) * cot).sum(-1) / (2 * eps)
        first = grads @ v[0]
        scale = max(np.abs(numeric).max(), 1e-3)
        assert np.abs(first - numeric).max() <= 2e-2 * scale, (layer, first, numeric)
        assert np.abs(first).max() > 1e-4, layer  # the read layer does depend on the vector
    # the weights stay out of autograd (frozen for the pass, then restored): no gradient kept
    layers = [adapter.layer_module(modality, n, stack) for n in names]
    params = [p for module in layers for p in module.parameters()]
    assert params and all(p.grad is None for p in params)


def test_whisper_batches_keep_one_window_and_its_gradients_replay(loaded):
    """Steered batches never mix Whisper's encoder windows (the 7 s clip runs alone), so each
    batch runs its layers in one call and the first-order passes replay the layers below the
    hook instead of running every item through the whole encoder."""
    adapter = loaded("whisper")
    sp = passes(adapter, "encoder", "speech")
    batches = sp._batches(ITEMS)
    windows = [{adapter.batch_group("speech", CLIPS[i]) for i in b.idx} for b in batches]
    assert all(len(w) == 1 for w in windows) and [len(b.idx) for b in batches] == [1, 3, 3]
    names = adapter.layer_names("speech", "encoder")
    below = [adapter.layer_module("speech", n, "encoder") for n in names[1:-1]]
    inside = [m for module in below for m in module.modules() if m is not module]
    sp.unsteered([names[-1]], ITEMS)
    calls, handles = calls_of(inside)
    try:
        grads = sp.gradients(
            names[-1], names[-1], np.ones((len(ITEMS), 32), np.float32), ITEMS
        ).gradients
    finally:
        for handle in handles:
            handle.remove()
    assert calls == [] and np.abs(grads).max() > 0


def test_whisper_first_order_text_passes_reuse_the_silence_projections(loaded):
    """A differentiated text pass reads the silence's kept keys and values (copies made outside
    inference mode) instead of projecting the 1,500 silent frames again in every layer."""
    adapter = loaded("whisper")
    sp = passes(adapter, "decoder", "text")
    names = adapter.layer_names("text", "decoder")
    sp.unsteered([names[-1]], ITEMS)
    projections = [
        proj for layer in adapter.decoder.layers
        for proj in (layer.encoder_attn.k_proj, layer.encoder_attn.v_proj)
    ]  # fmt: skip
    calls, handles = calls_of(projections)
    try:
        grads = sp.gradients(
            names[1], names[-1], np.ones((len(ITEMS), 32), np.float32), ITEMS
        ).gradients
    finally:
        for handle in handles:
            handle.remove()
    assert calls == [] and np.abs(grads).max() > 0

"""Model adapters on tiny random-weight models saved to disk and loaded back through load_adapter."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tiny_models import (
    CORPUS,
)

from benchmark.errors import NotApplicable
from benchmark.models import families, family_for_config, load_adapter
from benchmark.models.base import BatchInputs, LayerStates
from benchmark.models.hooks import capture
from benchmark.models.whisper import is_english_only, whisper_language_token

RNG = np.random.default_rng(0)
# 2.0 s, 0.41 s and 0.375 s. Seamless: the second gives 39 fbank frames, padded to 40 and stacked
# to 20 of which 19 are real (a masked frame even alone); the third 18 frames (18 % 8 = 2), so the
# adaptor's last window reaches past the item's end, where batching could leak padding into it.
CLIPS = [RNG.standard_normal(n).astype(np.float32) * 0.1 for n in (32000, 6560, 6000)]


# the models the adapter contract below is checked on
ADAPTER_MODELS = ("whisper", "bert", "xlm-roberta", "mpnet", "seamless_m4t_v2", "seamless_m4t")


@pytest.fixture(scope="session")
def tiny(tiny_models):
    return {name: tiny_models[name] for name in ADAPTER_MODELS}


@pytest.fixture(scope="session")
def adapters(tiny):
    # Whisper in its full 30 s window, the computation the model was trained on: the tests below
    # compare against transformers' own forward (the default, "cropped", is tested on its own)
    settings = {"whisper": {"window": "full"}}
    return {
        name: load_adapter(str(path), settings=settings.get(name)) for name, path in tiny.items()
    }


def batch(modality, items, language="es_419"):
    if modality == "text":
        return BatchInputs("text", language, texts=items)
    return BatchInputs("speech", language, audio=items)


def inputs(modality):
    """Three items of different lengths, longest first."""
    return CLIPS if modality == "speech" else [CORPUS[5], CORPUS[1], CORPUS[0][:20]]


def pooled(states: LayerStates, i: int) -> torch.Tensor:
    return states.hidden[i][states.mask[i]].mean(0)


CASES = [
    ("whisper", "speech"),
    ("whisper", "text"),
    ("bert", "text"),
    ("xlm-roberta", "text"),
    ("mpnet", "text"),
    ("seamless_m4t_v2", "speech"),
    ("seamless_m4t_v2", "text"),
    ("seamless_m4t", "speech"),
    ("seamless_m4t", "text"),
]


# --- registry ----------------------------------------------------------------------------------


def test_families_detected_from_config(adapters):
    assert adapters["whisper"].info.family == "whisper"
    assert adapters["bert"].info.family == "text-encoder"
    assert adapters["xlm-roberta"].info.family == "text-encoder"
    assert adapters["seamless_m4t_v2"].info.family == "seamless_m4t_v2"
    assert adapters["seamless_m4t"].info.family == "seamless_m4t"
    assert {"whisper", "seamless_m4t_v2", "seamless_m4t", "text-encoder"} <= set(families())


def test_unlisted_encoder_routes_to_text_encoder(adapters):
    # mpnet is in no family's list: the auto path sends encoder-only masked-LM types to text-encoder
    assert adapters["mpnet"].info.family == "text-encoder"
    assert adapters["mpnet"].info.settings["model_type"] == "mpnet"


def test_adapter_keeps_resolved_model(adapters, tiny):
    resolved = adapters["bert"].resolved
    assert resolved is not None and str(resolved.source) == str(tiny["bert"])


def test_unknown_family_did_you_mean(tiny):
    with pytest.raises(ValueError, match=r"Did you mean 'whisper'"):
        load_adapter(str(tiny["whisper"]), family="wisper")
    with pytest.raises(ValueError, match=r"Did you mean 'window'"):
        load_adapter(str(tiny["whisper"]), settings={"windw": "cropped"})


def test_unknown_model_types_route_to_decoder_lm_or_the_fallback():
    from types import SimpleNamespace

    from transformers import GPT2Config, T5Config

    assert family_for_config(GPT2Config()).name == "decoder-lm"  # any causal LM type
    # known to AutoModel, no family: the fallback
    assert family_for_config(T5Config()).name == "auto"
    unknown = SimpleNamespace(model_type="my-own-model", architectures=["MyModel"])
    with pytest.raises(
        ValueError, match=r"No adapter for model_type 'my-own-model'.*AutoModel.*whisper"
    ):
        family_for_config(unknown)


# --- layers and masks --------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "modality"), CASES)
def test_layer_names(adapters, name, modality):
    adapter = adapters[name]
    names = adapter.layer_names(modality)
    expected = ["embeddings", "layer_1", "layer_2"]
    if name.startswith("seamless") and modality == "speech":
        expected.append("adaptor")
    assert names == expected
    out = adapter.forward(batch(modality, inputs(modality)[:2]))
    assert list(out) == expected
    for states in out.values():
        assert states.hidden.dtype == torch.float32 and states.mask.dtype == torch.bool
        assert states.hidden.shape[:2] == states.mask.shape
        assert states.hidden.shape[0] == 2 and states.hidden.shape[2] == 32


def test_layer_module_names_are_exact(adapters):
    adapter = adapters["whisper"]
    assert adapter.layer_module("speech", "layer_2") is adapter.encoder.layers[1]
    assert adapter.layer_module("text", "layer_1") is adapter.decoder.layers[0]
    with pytest.raises(KeyError, match=r"Did you mean 'layer_2'"):
        adapter.layer_module("speech", "layer_22")
    with pytest.raises(ValueError, match=r"no 'speech' modality"):
        adapters["bert"].layer_names("speech")


def test_whisper_speech_mask_is_50_frames_per_second(adapters):
    out = adapters["whisper"].forward(batch("speech", CLIPS))
    expected = [math.ceil(len(c) / 320) for c in CLIPS]
    for states in out.values():
        assert states.mask.sum(1).tolist() == expected
        assert states.hidden.shape[1] == max(expected)  # trimmed to the longest real item
    assert expected[0] == 100  # 2 s of audio


def test_whisper_text_mask_excludes_prompt(adapters):
    adapter = adapters["whisper"]
    text = CORPUS[1]
    out = adapter.forward(batch("text", [text, "Hola"]))
    n_text = len(adapter.tokenizer(" " + text, add_special_tokens=False).input_ids)
    mask = out["layer_1"].mask
    assert mask[0].sum() == n_text
    assert not mask[:, :4].any()  # the 4 prompt tokens
    assert mask[0, 4 : 4 + n_text].all()
    assert out["layer_1"].hidden.shape[1] == 4 + n_text  # end token cut with the padding


def test_whisper_language_tokens(adapters):
    vocab = adapters["whisper"]._vocab
    assert whisper_language_token("cmn_hans_cn", vocab) == "<|zh|>"
    assert whisper_language_token("es_419", vocab) == "<|es|>"
    # a language the model cannot be prompted in: the task is not applicable to it (a result
    # that says why), not an error
    with pytest.raises(NotApplicable, match=r"'ast_es'.*<\|ast\|>"):
        whisper_language_token("ast_es", vocab)
    with pytest.raises(NotApplicable, match=r"'ast_es'"):
        adapters["whisper"].forward(batch("text", ["Hola"], language="ast_es"))


MULTILINGUAL_WHISPER_SETTINGS = {  # keys of info.settings (they key the representation cache)
    "window",
    "text_leading_space",
    "dtype",
    "attn_implementation",
    "speech_layers",
    "speech_mask",
    "text_layers",
    "text_prompt",
    "text_suffix",
    "text_mask",
    "text_cross_attention",
    "long_audio",
    "cropped_window",
    "decoder_speech",
    "language_aliases",
}


@pytest.fixture(scope="session")
def tiny_english_only(tiny, tmp_path_factory):
    """The tiny Whisper marked English-only as openai/whisper-*.en are: its vocabulary still has
    the language tokens, its generation config says is_multilingual=False."""
    import shutil

    from transformers import GenerationConfig

    path = tmp_path_factory.mktemp("tiny-en") / "whisper-en"
    shutil.copytree(tiny["whisper"], path)
    gen = GenerationConfig.from_pretrained(path)
    gen.is_multilingual = False
    gen._from_model_config = False  # else from_pretrained rebuilds it from the model config
    gen.save_pretrained(path)
    return path


def test_whisper_multilingual_settings_unchanged(adapters):
    adapter = adapters["whisper"]
    assert not adapter.english_only
    assert set(adapter.info.settings) == MULTILINGUAL_WHISPER_SETTINGS
    prompt = "<|startoftranscript|>{lang}<|transcribe|><|notimestamps|>"
    assert adapter.info.settings["text_prompt"] == prompt
    vocab = adapter._vocab
    assert adapter._text_prompt("es_419") == [
        vocab[t] for t in ("<|startoftranscript|>", "<|es|>", "<|transcribe|>", "<|notimestamps|>")
    ]


def test_is_english_only_detection():
    from types import SimpleNamespace

    def model(flag):
        return SimpleNamespace(generation_config=SimpleNamespace(is_multilingual=flag))

    with_en, without_en = {"<|en|>": 1, "<|es|>": 2}, {"<|startoftranscript|>": 0}
    assert is_english_only(model(False), with_en)  # the flag wins: *.en vocabularies hold <|en|>
    assert not is_english_only(model(True), without_en)
    assert not is_english_only(model(None), with_en)  # no flag: the vocabulary decides
    assert is_english_only(model(None), without_en)
    assert is_english_only(SimpleNamespace(), without_en)


def test_whisper_english_only_text_prompt(tiny_english_only):
    adapter = load_adapter(str(tiny_english_only))
    assert adapter.english_only
    settings = adapter.info.settings
    assert settings["text_prompt"] == "<|startoftranscript|><|notimestamps|>"
    assert settings["language_token"] == "none (English-only model)"
    assert settings["english_only"] is True
    vocab = adapter._vocab
    prompt = [vocab["<|startoftranscript|>"], vocab["<|notimestamps|>"]]
    text = CORPUS[1]
    # a language the vocabulary has no token for is read all the same, after the same prompt
    for language in ("es_419", "ast_es", "en_us"):
        out = adapter.forward(batch("text", [text, "Hola"], language=language))
        ids = adapter.tokenizer(" " + text, add_special_tokens=False).input_ids
        mask = out["layer_1"].mask
        assert mask[0].sum() == len(ids) and not mask[:, :2].any()
        assert mask[0, 2 : 2 + len(ids)].all()
        assert out["layer_1"].hidden.shape[1] == 2 + len(ids)
    # the states are those of the decoder reading exactly prompt + text + end
    row = torch.tensor([prompt + ids + [vocab["<|endoftext|>"]]])
    with torch.inference_mode():
        ref = adapter.decoder(
            input_ids=row, encoder_hidden_states=adapter._silence, output_hidden_states=True
        ).hidden_states
    got = out["layer_1"].hidden[0, 2 : 2 + len(ids)]
    torch.testing.assert_close(got, ref[1][0, 2 : 2 + len(ids)], atol=1e-5, rtol=1e-5)
    got = out["embeddings"].hidden[0, 2 : 2 + len(ids)]
    torch.testing.assert_close(got, ref[0][0, 2 : 2 + len(ids)], atol=1e-5, rtol=1e-5)


def test_seamless_adaptor_mask_is_8x_shorter(adapters):
    out = adapters["seamless_m4t_v2"].forward(batch("speech", CLIPS))
    frames = out["layer_2"].mask.sum(1)
    reduced = out["adaptor"].mask.sum(1)
    assert frames.tolist() == [99, 19, 18]  # 100 fbank frames per second, stacked 2 by 2
    assert (reduced == torch.div(frames, 8, rounding_mode="floor") + 1).all()
    assert out["adaptor"].hidden.shape[1] == int(reduced.max())


def test_seamless_text_language_token_and_mask(adapters):
    adapter = adapters["seamless_m4t_v2"]
    text = CORPUS[1]
    n = len(adapter.tokenizer(text, add_special_tokens=False).input_ids)
    out = adapter.forward(batch("text", [text], language="es_419"))
    assert out["embeddings"].mask.sum() == n + 2  # __spa__ + tokens + </s>
    with pytest.raises(NotApplicable, match=r"'ko_kr'.*__kor__"):
        adapter.forward(batch("text", [text], language="ko_kr"))


def test_text_encoder_settings(tiny):
    plain = load_adapter(str(tiny["bert"]))
    no_special = load_adapter(str(tiny["bert"]), settings={"pool_special_tokens": False})
    prefixed = load_adapter(str(tiny["bert"]), settings={"prefix": "query: ", "max_length": 8})
    text = CORPUS[0]
    a, b = plain.forward(batch("text", [text])), no_special.forward(batch("text", [text]))
    assert a["layer_2"].mask.sum() == b["layer_2"].mask.sum() + 2  # [CLS] and [SEP]
    assert prefixed.forward(batch("text", [text]))["layer_2"].mask.sum() == 8  # truncated
    assert prefixed.info.settings["prefix"] == "query: "
    assert prefixed.info.settings["max_length"] == 8 and prefixed.info.settings["truncation"]


# --- faithfulness ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "modality"), CASES)
def test_padding_invariance(adapters, name, modality):
    """An item's pooled states are the same alone and batched with longer items."""
    adapter = adapters[name]
    items = inputs(modality)
    together = adapter.forward(batch(modality, items))
    for i in (1, 2):
        alone = adapter.forward(batch(modality, items[i : i + 1]))
        for layer, states in together.items():
            assert states.mask[i].sum() == alone[layer].mask[0].sum(), layer
            torch.testing.assert_close(
                pooled(states, i), pooled(alone[layer], 0), atol=1e-4, rtol=1e-4, msg=layer
            )


@pytest.mark.parametrize(("name", "modality"), CASES)
def test_layer_module_output_is_the_state(adapters, name, modality):
    """A hook on layer_module(name) sees exactly the returned states (at real positions)."""
    adapter = adapters[name]
    seen = {}
    handles = [
        adapter.layer_module(modality, layer).register_forward_hook(
            lambda m, a, out, layer=layer: seen.__setitem__(
                layer, (out if isinstance(out, torch.Tensor) else out[0]).detach().clone()
            )
        )
        for layer in adapter.layer_names(modality)
    ]
    try:
        out = adapter.forward(batch(modality, inputs(modality)[:2]))
    finally:
        for h in handles:
            h.remove()
    for layer, states in out.items():
        width = states.hidden.shape[1]
        hooked = seen[layer][:, :width] * states.mask[..., None]
        torch.testing.assert_close(hooked, states.hidden, atol=0, rtol=0, msg=layer)


@pytest.mark.parametrize(("name", "modality"), [("whisper", "speech"), ("bert", "text")])
def test_steering_through_layer_module(adapters, name, modality):
    """A vector added at layer_1 shows in layer_1's states and changes the next layer."""
    adapter = adapters[name]
    b = batch(modality, inputs(modality)[:2])
    base = adapter.forward(b)
    vector = torch.full((32,), 0.5)
    handle = adapter.layer_module(modality, "layer_1").register_forward_hook(
        lambda m, a, out: (
            out + vector if isinstance(out, torch.Tensor) else (out[0] + vector, *out[1:])
        )
    )
    try:
        steered = adapter.forward(b)
    finally:
        handle.remove()
    mask = base["layer_1"].mask
    torch.testing.assert_close(
        steered["layer_1"].hidden[mask], base["layer_1"].hidden[mask] + vector, atol=1e-5, rtol=0
    )
    assert not torch.allclose(steered["layer_2"].hidden[mask], base["layer_2"].hidden[mask])
    torch.testing.assert_close(steered["embeddings"].hidden, base["embeddings"].hidden)


def test_text_encoder_embeddings_are_the_embeddings_module_output(adapters):
    adapter = adapters["bert"]
    seen = {}
    handle = adapter.model.embeddings.register_forward_hook(lambda m, a, out: seen.update(e=out))
    try:
        out = adapter.forward(batch("text", [CORPUS[0]]))
    finally:
        handle.remove()
    torch.testing.assert_close(seen["e"], out["embeddings"].hidden)


def test_nan_is_reported_with_model_layer_and_item(adapters):
    adapter = adapters["whisper"]
    layer = adapter.layer_module("speech", "layer_1")

    def poison(module, args, out):
        out = out.clone()
        out[1, 3, 0] = float("nan")
        return out

    n_hooks = (len(layer._forward_hooks), len(adapter.encoder.layers[0]._forward_pre_hooks))
    handle = layer.register_forward_hook(poison)
    try:
        with pytest.raises(FloatingPointError, match=r"layer 'layer_1', batch item 1") as err:
            adapter.forward(batch("speech", CLIPS[:2]))
    finally:
        handle.remove()
    assert adapter.model_id in str(err.value)
    # the adapter's own hooks are gone after the failed forward
    assert (len(layer._forward_hooks), len(adapter.encoder.layers[0]._forward_pre_hooks)) == n_hooks


def test_bad_inputs_name_the_item(adapters):
    with pytest.raises(ValueError, match=r"batch item 1 has 0.00 s"):
        adapters["whisper"].forward(batch("speech", [CLIPS[1], np.zeros(0, np.float32)]))
    with pytest.raises(ValueError, match=r"batch item 1 is an empty text"):
        adapters["bert"].forward(batch("text", ["fine", "  "]))
    with pytest.raises(ValueError, match=r"non-empty `audio`"):
        adapters["whisper"].forward(batch("speech", []))


# --- whisper windows ---------------------------------------------------------------------------


def test_whisper_own_encoder_forward_matches_transformers(adapters):
    """The cropped path re-implements WhisperEncoder.forward's few steps: on a full 30 s window
    it must agree with transformers' own forward, layer by layer."""
    adapter = adapters["whisper"]
    features = adapter._features([CLIPS[0]])
    runs = []
    for encode in (adapter._encode_cropped, adapter.encoder):
        with (
            torch.inference_mode(),
            capture(adapter._tables["encoder"], adapter._taps["encoder"]) as got,
        ):
            encode(features)
        runs.append(got)
    ours, theirs = runs
    assert list(ours) == list(theirs) == ["embeddings", "layer_1", "layer_2"]
    for layer in ours:
        torch.testing.assert_close(ours[layer], theirs[layer], atol=1e-6, rtol=1e-6, msg=layer)


def test_whisper_cropped_window_is_close_to_full(tiny, adapters):
    cropped = load_adapter(str(tiny["whisper"]))
    assert cropped.info.settings["window"] == "cropped"  # the default
    assert adapters["whisper"].info.settings["window"] == "full"
    full = adapters["whisper"].forward(batch("speech", CLIPS))
    crop = cropped.forward(batch("speech", CLIPS))
    for layer, states in full.items():
        assert torch.equal(states.mask, crop[layer].mask)
        for i in range(len(CLIPS)):
            cos = torch.nn.functional.cosine_similarity(
                pooled(states, i), pooled(crop[layer], i), dim=0
            )
            assert cos > 0.98, (layer, i, float(cos))
    # and it is not the same computation (the encoder saw less silence)
    assert not torch.allclose(full["layer_2"].hidden, crop["layer_2"].hidden)


def test_seamless_parts_equal_full_model(tiny, adapters):
    from transformers import SeamlessM4Tv2Model

    full = SeamlessM4Tv2Model.from_pretrained(str(tiny["seamless_m4t_v2"]))
    adapter = adapters["seamless_m4t_v2"]
    for part, loaded in (
        ("speech_encoder", adapter.speech_encoder),
        ("text_encoder", adapter.text_encoder),
    ):
        ref = getattr(full, part).state_dict()
        got = loaded.state_dict()
        assert set(ref) == set(got), part
        for key in ref:
            assert torch.equal(ref[key], got[key]), (part, key)


def test_whisper_cropped_features_equal_full_features(adapters):
    """The cropped window computes mel features on a short padding; they must equal the first
    frames of the 30 s features."""
    adapter = adapters["whisper"]
    clips = CLIPS[:2]
    width = math.ceil(len(clips[0]) / 320)
    full = adapter._features(clips)
    short = adapter._features(clips, samples=width * 320 + 400)
    assert short.shape[-1] < full.shape[-1]
    torch.testing.assert_close(short[..., : 2 * width], full[..., : 2 * width], atol=1e-5, rtol=0)


def test_whisper_text_ignores_hooks_on_the_encoder(adapters):
    """Text states cross-attend to cached silence: steering the speech encoder must not leak in."""
    adapter = adapters["whisper"]
    b = batch("text", [CORPUS[1]])
    base = adapter.forward(b)
    handle = adapter.layer_module("speech", "layer_1").register_forward_hook(
        lambda m, a, out: out + 1.0
    )
    try:
        steered = adapter.forward(b)
    finally:
        handle.remove()
    torch.testing.assert_close(steered["layer_2"].hidden, base["layer_2"].hidden, atol=0, rtol=0)


def test_missing_weights_raise_instead_of_random_init(tiny, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    broken = tmp_path / "broken-bert"
    shutil.copytree(tiny["bert"], broken)
    weights = load_file(broken / "model.safetensors")
    dropped = next(k for k in weights if "layer.1.attention" in k)
    del weights[dropped]
    save_file(weights, broken / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ValueError, match=r"lacks 1 weights of AutoModel.*layer\.1\.attention"):
        load_adapter(str(broken))


# --- real models (converted from the offline registry packages by benchmark.models.offline) ----


def _espeak(text: str, voice: str) -> np.ndarray:
    import io
    import subprocess

    import soundfile as sf
    from scipy.signal import resample_poly

    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "--stdout", text], check=True, capture_output=True
    ).stdout
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return resample_poly(audio, 16000, rate).astype(np.float32)


@pytest.mark.slow
def test_real_whisper_base():
    adapter = load_adapter("openai/whisper-base")
    assert adapter.layer_names("speech") == ["embeddings"] + [f"layer_{i}" for i in range(1, 7)]
    assert adapter.layer_names("text") == adapter.layer_names("speech")
    assert adapter._vocab["<|es|>"] == 50262  # the multilingual vocabulary
    clips = [_espeak("Todos los seres humanos nacen libres.", "es"), _espeak("Hola.", "es")]
    full = adapter.forward(batch("speech", clips))
    assert full["layer_6"].mask.sum(1).tolist() == [math.ceil(len(c) / 320) for c in clips]
    cropped = load_adapter("openai/whisper-base", settings={"window": "cropped"})
    crop = cropped.forward(batch("speech", clips))
    for layer, states in full.items():
        cos = torch.nn.functional.cosine_similarity(
            pooled(states, 0), pooled(crop[layer], 0), dim=0
        )
        assert cos > 0.9, (layer, float(cos))
    text = adapter.forward(batch("text", ["Todos los seres humanos nacen libres."]))
    n = len(
        adapter.tokenizer(
            " Todos los seres humanos nacen libres.", add_special_tokens=False
        ).input_ids
    )
    assert text["layer_6"].mask.sum() == n


@pytest.mark.slow
def test_a_control_is_prompted_as_its_model():
    """A random-weights control differs from its model in the weights only: the English-only
    whisper-tiny.en's control keeps the checkpoint's generation config, so it is English-only and
    reads text after the same prompt (it had been prompted as a multilingual model, with language
    tokens). Its key says how it was built (CONTROL_RECIPE); the model's key does not change."""
    from benchmark.models import CONTROL_RECIPE, plan_model

    trained = load_adapter("openai/whisper-tiny.en")
    plan = plan_model("openai/whisper-tiny.en", random_init=0)
    control = load_adapter(plan)
    assert control.english_only and control.model.generation_config.is_multilingual is False
    for key in ("text_prompt", "language_token", "english_only"):
        assert control.info.settings[key] == trained.info.settings[key], key
    pairs = zip(trained.model.parameters(), control.model.parameters(), strict=True)
    assert not all(torch.equal(a, b) for a, b in pairs)  # the weights are not the model's
    assert plan.key_fields()["control_recipe"] == CONTROL_RECIPE
    assert "control_recipe" not in plan_model("openai/whisper-tiny.en").key_fields()


@pytest.mark.slow
def test_real_whisper_tiny_en():
    adapter = load_adapter("openai/whisper-tiny.en")
    assert adapter.english_only and adapter.model.generation_config.is_multilingual is False
    assert adapter.layer_names("speech") == ["embeddings"] + [f"layer_{i}" for i in range(1, 5)]
    assert adapter.info.settings["text_prompt"] == "<|startoftranscript|><|notimestamps|>"
    assert adapter.info.settings["language_token"] == "none (English-only model)"
    assert "<|en|>" in adapter._vocab  # in the vocabulary, never in the model's training prompts
    clips = [_espeak("All human beings are born free.", "en-us")]
    speech = adapter.forward(batch("speech", clips, "en_us"))
    assert speech["layer_4"].mask.sum() == math.ceil(len(clips[0]) / 320)
    en = adapter.forward(batch("text", ["All human beings are born free."], "en_us"))
    es = adapter.forward(batch("text", ["Todos los seres humanos nacen libres."], "es_419"))
    n_es = len(
        adapter.tokenizer(
            " Todos los seres humanos nacen libres.", add_special_tokens=False
        ).input_ids
    )
    assert es["layer_4"].mask.sum() == n_es and en["layer_4"].mask[0, :2].sum() == 0


@pytest.mark.slow
def test_real_all_minilm_l6_v2():
    adapter = load_adapter("sentence-transformers/all-MiniLM-L6-v2")
    assert adapter.info.family == "text-encoder"
    assert adapter.layer_names("text") == ["embeddings"] + [f"layer_{i}" for i in range(1, 7)]
    texts = ["A man is playing a guitar.", "Someone is strumming a guitar.", "Stocks fell sharply."]
    out = adapter.forward(batch("text", texts, "en_us"))["layer_6"]
    pooled_ = torch.nn.functional.normalize(torch.stack([pooled(out, i) for i in range(3)]), dim=1)
    sim = pooled_ @ pooled_.T
    assert sim[0, 1] > sim[0, 2] + 0.3 and sim[0, 1] > sim[1, 2] + 0.3, sim


@pytest.mark.slow
def test_real_multilingual_e5_small():
    adapter = load_adapter("intfloat/multilingual-e5-small", settings={"prefix": "query: "})
    assert adapter.layer_names("text") == ["embeddings"] + [f"layer_{i}" for i in range(1, 13)]
    en = ["All human beings are born free and equal.", "The cat sleeps on the warm windowsill."]
    es = [
        "Todos los seres humanos nacen libres e iguales.",
        "El gato duerme en el alféizar caliente.",
    ]
    a = adapter.forward(batch("text", en, "en_us"))["layer_12"]
    b = adapter.forward(batch("text", es, "es_419"))["layer_12"]
    pa = torch.stack([pooled(a, i) for i in range(2)])
    pb = torch.stack([pooled(b, i) for i in range(2)])
    sim = torch.nn.functional.normalize(pa, dim=1) @ torch.nn.functional.normalize(pb, dim=1).T
    assert sim[0, 0] > sim[0, 1] + 0.1 and sim[1, 1] > sim[1, 0] + 0.1, sim


def test_whisper_speech_longer_than_30s_is_encoded_in_windows(adapters):
    adapter = adapters["whisper"]
    long_clip = RNG.standard_normal(16_000 * 31 + 800).astype(np.float32) * 0.1
    states = adapter.forward(batch("speech", [long_clip, CLIPS[1]]))
    first_window = adapter.forward(batch("speech", [long_clip[: 16_000 * 30]]))
    for name, layer in states.items():
        assert int(layer.mask[0].sum()) == math.ceil(long_clip.size / 320)
        assert int(layer.mask[1].sum()) == math.ceil(CLIPS[1].size / 320)
        torch.testing.assert_close(
            layer.hidden[0, :1500], first_window[name].hidden[0, :1500], atol=1e-4, rtol=1e-4
        )
    assert "long_audio" in adapter.info.settings


def test_whisper_long_speech_with_its_transcripts_in_cropped_windows(tiny):
    """The runner sends every speech batch with its transcripts. A clip over 30 s is split into
    windows of different cropped sizes (30 s and the rest), each a batch item of its own: the
    transcripts follow the pieces (an IndexError before), and the states are those without them."""
    adapter = load_adapter(str(tiny["whisper"]))
    long_clip = np.random.default_rng(5).standard_normal(16_000 * 33).astype(np.float32) * 0.1
    clips, texts = [long_clip, CLIPS[1]], ["un párrafo largo", "una frase"]
    plain = adapter.forward(batch("speech", clips))
    with_texts = adapter.forward(BatchInputs("speech", "es_419", audio=clips, texts=texts))
    for name, states in plain.items():
        assert int(with_texts[name].mask[0].sum()) == math.ceil(long_clip.size / 320)
        torch.testing.assert_close(with_texts[name].hidden, states.hidden)


def test_whisper_cropped_states_do_not_depend_on_the_batch(tiny):
    """The default window is the clip rounded up to 5 s: a clip's states are the same alone and in
    a batch with a clip of another window (which then runs as its own pass)."""
    adapter = load_adapter(str(tiny["whisper"]))
    long_clip = np.random.default_rng(3).standard_normal(16000 * 7).astype(np.float32) * 0.1
    alone = adapter.forward(batch("speech", [CLIPS[1]]))
    mixed = adapter.forward(batch("speech", [long_clip, CLIPS[1]]))
    for layer, states in alone.items():
        n = int(states.mask[0].sum())
        assert int(mixed[layer].mask[1].sum()) == n and int(mixed[layer].mask[0].sum()) == 350
        torch.testing.assert_close(mixed[layer].hidden[1, :n], states.hidden[0, :n])
    assert adapter._window(CLIPS[1]) == 250 and adapter._window(long_clip) == 500

"""Every adapter family on a tiny model built from its config (random weights, saved and loaded back
through plan_model / load_adapter, tokenizers and processors built offline): modalities and stacks,
layer counts, masks of each layer's own length, frame_seconds and char_spans, steering through
layer_module, output heads, random-init controls, and the fallback."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from tiny_models import CLIPS, TEXTS

from benchmark.models import Stack, get_family, load_adapter, plan_model, registry
from benchmark.models.base import BatchInputs, LayerStates

EMB2 = ["embeddings", "layer_1", "layer_2"]
CASES = [  # (model, stack, modality, layer names)
    ("whisper", "encoder", "speech", EMB2),
    ("whisper", "decoder", "text", EMB2),
    ("whisper", "decoder", "speech", EMB2),
    ("seamless_m4t_v2", "speech_encoder", "speech", [*EMB2, "adaptor"]),
    ("seamless_m4t_v2", "text_encoder", "text", EMB2),
    ("seamless_m4t_v2", "text_decoder", "text", ["embeddings", "layer_1"]),
    ("seamless_m4t_v2", "text_decoder", "speech", ["embeddings", "layer_1"]),
    ("seamless_m4t", "text_decoder", "speech", ["embeddings", "layer_1"]),
    ("bert", "encoder", "text", EMB2),
    ("xlm-roberta", "encoder", "text", EMB2),
    ("wav2vec2", "encoder", "speech", EMB2),
    ("wav2vec2-group", "encoder", "speech", EMB2),
    ("hubert", "encoder", "speech", EMB2),
    ("wavlm", "encoder", "speech", EMB2),
    ("data2vec-audio", "encoder", "speech", EMB2),
    ("llama", "decoder", "text", EMB2),
    ("qwen2", "decoder", "text", EMB2),
    ("gemma", "decoder", "text", EMB2),
    ("mistral", "decoder", "text", EMB2),
    ("gpt2", "decoder", "text", EMB2),
    ("qwen2_audio", "audio_encoder", "speech", [*EMB2, "pooled"]),
    ("qwen2_audio", "language_model", "text", EMB2),
    ("qwen2_audio", "language_model", "speech", EMB2),
]
IDS = [f"{m}-{s}-{mod}" for m, s, mod, _ in CASES]
FAMILY_OF = {
    "whisper": "whisper",
    "seamless_m4t_v2": "seamless_m4t_v2",
    "seamless_m4t": "seamless_m4t",
    "bert": "text-encoder",
    "xlm-roberta": "text-encoder",
    "wav2vec2": "speech-encoder",
    "wav2vec2-group": "speech-encoder",
    "hubert": "speech-encoder",
    "wavlm": "speech-encoder",
    "data2vec-audio": "speech-encoder",
    "llama": "decoder-lm",
    "qwen2": "decoder-lm",
    "gemma": "decoder-lm",
    "mistral": "decoder-lm",
    "gpt2": "decoder-lm",
    "qwen2_audio": "qwen2_audio",
}
# seconds per position of each speech-position layer (None: text positions)
FRAME = {
    ("seamless_m4t_v2", "adaptor"): 0.16,
    ("qwen2_audio", "pooled"): 0.04,
}


def batch(modality, stack=None, n=2, language="es_419"):
    if modality == "text":
        return BatchInputs("text", language, texts=TEXTS[:n], stack=stack)
    return BatchInputs("speech", language, texts=TEXTS[:n], audio=CLIPS[:n], stack=stack)


def pooled(states: LayerStates, i: int) -> torch.Tensor:
    return states.hidden[i][states.mask[i]].float().mean(0)


def text_positions(stack: str, modality: str) -> bool:
    """Whether the stack's positions are text tokens for this input (teacher-forced decoders)."""
    return modality == "text" or stack in ("decoder", "text_decoder")


# --- registry ----------------------------------------------------------------------------------


def test_every_family_is_registered_with_stacks(capsys):
    from benchmark.cli import main

    expected = {
        "whisper",
        "seamless_m4t_v2",
        "seamless_m4t",
        "text-encoder",
        "speech-encoder",
        "decoder-lm",
        "qwen2_audio",
        "sonar",
        "auto",
    }
    every = registry.families()
    assert set(every) >= expected  # (a test may have registered a custom family too)
    whisper = every["whisper"].stacks
    assert {n: (s.takes, s.head) for n, s in whisper.items()} == {
        "encoder": (("speech",), False),
        "decoder": (("text", "speech"), True),
    }
    assert list(every["seamless_m4t_v2"].stacks) == [
        "speech_encoder",
        "text_encoder",
        "text_decoder",
    ]
    assert every["qwen2_audio"].stacks["language_model"] == Stack(
        ("text", "speech"), head=True, layers=every["qwen2_audio"].stacks["language_model"].layers
    )
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for name, fam in every.items():
        assert out.count(f"{name}  [") == 1
        for stack in fam.stacks:
            assert f"stack {stack} [" in out
    assert "speech (default)" in out and "common settings" in out and "pooling" in out


@pytest.mark.parametrize("name", sorted(FAMILY_OF))
def test_plan_knows_stacks_without_loading(families, name, monkeypatch):
    monkeypatch.setattr("benchmark.models.load_adapter", None)  # planning never loads weights
    plan = plan_model(str(families[name]))
    assert plan.family == FAMILY_OF[name]
    assert plan.stacks == get_family(plan.family).stacks
    for modality in plan.modalities:
        assert plan.default_stack(modality) == next(
            name for name, s in plan.stacks.items() if modality in s.takes
        )


# --- layers, masks, positions --------------------------------------------------------------------


@pytest.mark.parametrize(("name", "stack", "modality", "layers"), CASES, ids=IDS)
def test_layers_masks_and_positions(loaded, name, stack, modality, layers):
    adapter = loaded(name)
    assert adapter.info.family == FAMILY_OF[name]
    roles = get_family(FAMILY_OF[name]).stacks
    assert adapter.stacks == {n: s.takes for n, s in roles.items()}
    for stack_name, role in roles.items():  # the declared head is the adapter's head
        assert (adapter.output_head(stack_name) is not None) == role.head, stack_name
    assert modality in adapter.modalities
    assert adapter.layer_names(modality, stack) == layers
    out = adapter.forward(batch(modality, stack))
    assert list(out) == layers
    for layer, states in out.items():
        assert states.hidden.shape[:2] == states.mask.shape and states.mask.dtype == torch.bool
        assert states.hidden.device == states.mask.device
        lengths = states.mask.sum(1)
        last_real = int(states.mask.any(0).nonzero()[-1]) + 1
        assert (lengths > 0).all() and states.hidden.shape[1] == last_real  # padding trimmed
        if text_positions(stack, modality):
            assert states.frame_seconds is None
            spans = states.char_spans
            assert spans is not None and spans.shape == (*states.mask.shape, 2)
            assert spans.dtype == torch.int64
            for i, text in enumerate(TEXTS[:2]):
                real = spans[i][spans[i, :, 0] >= 0]
                assert len(real) > 0
                assert (real[:, 0] < real[:, 1]).all() and int(real[:, 1].max()) <= len(text)
                assert not (spans[i][~states.mask[i]] >= 0).any() or name == "seamless_m4t_v2"
        else:
            expected = FRAME.get((name, layer), 0.02)
            if name == "qwen2_audio" and stack == "language_model":
                expected = 0.04
            assert states.frame_seconds == pytest.approx(expected)
            assert states.char_spans is None
            # the first clip is 2 s: its positions cover 2 s to within one position
            assert abs(float(lengths[0]) * expected - 2.0) <= expected + 1e-6, layer


@pytest.mark.parametrize(("name", "stack", "modality", "layers"), CASES, ids=IDS)
def test_padding_invariance(loaded, name, stack, modality, layers):
    """An item's pooled states are the same alone and batched with a longer item."""
    adapter = loaded(name)
    together = adapter.forward(batch(modality, stack))
    single = batch(modality, stack)
    single.texts = TEXTS[1:2]
    single.audio = CLIPS[1:2] if modality == "speech" else None
    alone = adapter.forward(single)
    for layer, states in together.items():
        assert states.mask[1].sum() == alone[layer].mask[0].sum(), layer
        torch.testing.assert_close(
            pooled(states, 1), pooled(alone[layer], 0), atol=1e-4, rtol=1e-4, msg=layer
        )


def _first(output):
    return output if isinstance(output, torch.Tensor) else output[0]


@pytest.mark.parametrize(("name", "stack", "modality", "layers"), CASES, ids=IDS)
def test_layer_module_reads_and_steers_the_returned_states(loaded, name, stack, modality, layers):
    adapter = loaded(name)
    b = batch(modality, stack)
    seen: dict[str, list] = {layer: [] for layer in layers}
    hooks = [
        adapter.layer_module(modality, layer, stack).register_forward_hook(
            lambda m, a, out, layer=layer: seen[layer].append(_first(out).detach().clone())
        )
        for layer in layers
    ]
    try:
        base = adapter.forward(b)
    finally:
        for h in hooks:
            h.remove()
    for layer, states in base.items():
        calls = seen[layer]  # one call, or one per clip for models run a clip at a time
        rows = [c[i] for c in calls for i in range(c.shape[0])]
        assert len(rows) == states.hidden.shape[0], layer
        for i, row in enumerate(rows):
            n = min(row.shape[0], states.mask.shape[1])
            real = states.mask[i, :n]
            assert not states.mask[i, n:].any()
            torch.testing.assert_close(
                row[:n][real], states.hidden[i, :n][real], atol=0, rtol=0, msg=layer
            )

    vector = torch.full((base["layer_1"].hidden.shape[-1],), 0.5)
    handle = adapter.layer_module(modality, "layer_1", stack).register_forward_hook(
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
    torch.testing.assert_close(steered["embeddings"].hidden, base["embeddings"].hidden)
    later = [layer for layer in layers if layer not in ("embeddings", "layer_1")]
    for layer in later:
        assert not torch.allclose(steered[layer].hidden, base[layer].hidden), layer


def test_a_stack_that_lacks_the_modality_or_an_unknown_stack_is_refused(loaded):
    adapter = loaded("whisper")
    with pytest.raises(ValueError, match=r"stack 'encoder' takes speech, not text"):
        adapter.forward(batch("text", "encoder"))
    with pytest.raises(KeyError, match=r"Did you mean 'decoder'"):
        adapter.layer_names("text", "decodr")
    with pytest.raises(ValueError, match=r"transcript"):
        adapter.forward(BatchInputs("speech", "es_419", audio=CLIPS[:2], stack="decoder"))
    with pytest.raises(ValueError, match=r"no 'speech' modality"):
        loaded("llama").layer_names("speech")


# --- char spans ------------------------------------------------------------------------------------


def _tokens_of_word(states: LayerStates, text: str, word: str, item: int = 0) -> torch.Tensor:
    """The spans of the tokens that overlap `word` (a token may also reach past the word where
    a tokenizer merged across a space)."""
    start = text.index(word)
    spans = states.char_spans[item]
    overlap = (spans[:, 0] < start + len(word)) & (spans[:, 1] > start) & (spans[:, 0] >= 0)
    return spans[overlap]


@pytest.mark.parametrize(
    ("name", "stack", "settings"),
    [
        ("bert", None, {"prefix": "query: "}),
        ("xlm-roberta", None, {"prefix": "query: "}),
        ("llama", None, {"prompt_template": "{text} This represents"}),
        ("qwen2", None, {"prompt_template": "Sentence: {text}\nMeaning:"}),
        ("whisper", "decoder", {}),
        ("seamless_m4t_v2", "text_encoder", {}),
        ("seamless_m4t_v2", "text_decoder", {}),
        ("qwen2_audio", "language_model", {"prompt_template": "Read: {text}"}),
    ],
)
def test_char_spans_cover_words_of_several_tokens(families, name, stack, settings):
    adapter = load_adapter(str(families[name]), settings=settings)
    text = TEXTS[1]  # words the tiny vocabularies split into several tokens
    states = adapter.forward(BatchInputs("text", "es_419", texts=[text, TEXTS[2]], stack=stack))
    last = states[list(states)[-1]]
    for word in ("humanidades", "libertadosamente"):
        pieces = _tokens_of_word(last, text, word)
        assert len(pieces) >= 2, (word, pieces)  # several subword tokens, each inside the word
        start = text.index(word)
        covered = set()
        for a, b in pieces.tolist():
            covered |= set(range(a, b))
        assert covered >= set(range(start, start + len(word))), word
    spans = last.char_spans[0]
    real = last.mask[0]
    n_not_text = int((spans[real][:, 0] < 0).sum())
    if "prefix" in settings or "prompt_template" in settings:
        assert n_not_text >= 2  # the prefix's / template's own tokens are not the text


def test_whisper_added_leading_space_is_not_text(loaded):
    adapter = loaded("whisper")
    out = adapter.forward(BatchInputs("text", "es_419", texts=["  Hola mundo"]))["layer_1"]
    spans = out.char_spans[0][out.mask[0]]
    text_spans = spans[spans[:, 0] >= 0]
    # a token made only of the added space is not the text; the text's tokens start at "Hola"
    assert int(text_spans[0, 0]) == 2 and int(text_spans[-1, 1]) == len("  Hola mundo")


# --- the shared stacks: speech and text through one decoder ---------------------------------------


def test_whisper_decoder_reads_the_transcript_over_the_audio(loaded):
    adapter = loaded("whisper")
    text_in = adapter.forward(batch("text", "decoder"))
    speech_in = adapter.forward(batch("speech", "decoder"))
    for layer in text_in:
        assert torch.equal(text_in[layer].mask, speech_in[layer].mask)
        assert torch.equal(text_in[layer].char_spans, speech_in[layer].char_spans)
    assert not torch.allclose(text_in["layer_2"].hidden, speech_in["layer_2"].hidden)
    # the states are those of the decoder cross-attending to the clip's own encoder output (in
    # the adapter's window: by default the clip rounded up to 5 s)
    encoded, _ = adapter._encode([CLIPS[0]])
    inputs, _, _ = adapter._teacher_forced([TEXTS[0]], "es_419")
    with torch.inference_mode():
        ref = adapter.decoder(
            **inputs, encoder_hidden_states=encoded, output_hidden_states=True
        ).hidden_states
    mask = speech_in["layer_1"].mask[0]
    got = speech_in["layer_1"].hidden[0][mask]
    start = int(mask.nonzero()[0])  # after the prompt
    want = ref[1][0, start : start + len(got)]
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


def test_seamless_text_decoder_reads_both_encoders(loaded, families):
    from transformers import SeamlessM4Tv2Model

    adapter = loaded("seamless_m4t_v2")
    text_in = adapter.forward(batch("text", "text_decoder", n=1))
    speech_in = adapter.forward(batch("speech", "text_decoder", n=1))
    assert torch.equal(text_in["layer_1"].mask, speech_in["layer_1"].mask)
    assert not torch.allclose(text_in["layer_1"].hidden, speech_in["layer_1"].hidden)
    full = SeamlessM4Tv2Model.from_pretrained(str(families["seamless_m4t_v2"])).eval()
    for part in ("text_decoder",):
        ref, got = getattr(full, part).state_dict(), adapter.text_decoder.state_dict()
        assert set(ref) == set(got) and all(torch.equal(ref[k], got[k]) for k in ref)
    # text input: the decoder over the text encoder's output, teacher-forced
    vocab = adapter._vocab
    ids = adapter.tokenizer(TEXTS[0], add_special_tokens=False).input_ids
    row = torch.tensor([[3, vocab["__spa__"], *ids, adapter.tokenizer.eos_token_id]])
    enc_row = torch.tensor([[vocab["__spa__"], *ids, adapter.tokenizer.eos_token_id]])
    with torch.inference_mode():
        encoded = full.text_encoder(input_ids=enc_row).last_hidden_state
        ref = full.text_decoder(
            input_ids=row, encoder_hidden_states=encoded, output_hidden_states=True
        ).hidden_states
    mask = text_in["layer_1"].mask[0]
    torch.testing.assert_close(
        text_in["embeddings"].hidden[0][mask], ref[0][0, : mask.shape[0]][mask], atol=1e-5, rtol=0
    )


def test_qwen2_audio_lm_reads_the_projected_audio_at_the_audio_positions(loaded):
    adapter = loaded("qwen2_audio")
    out = adapter.forward(batch("speech", "language_model"))
    audio = adapter.forward(batch("speech", "audio_encoder"))
    assert torch.equal(out["embeddings"].mask.sum(1), audio["pooled"].mask.sum(1))
    with torch.inference_mode():
        projected = adapter.projector(audio["pooled"].hidden)
    for i in range(2):
        got = out["embeddings"].hidden[i][out["embeddings"].mask[i]]
        want = projected[i][audio["pooled"].mask[i]]
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


# --- output heads -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["llama", "gemma", "gpt2", "qwen2_audio"])
def test_output_head_is_the_models_own_logit_lens(loaded, name):
    adapter = loaded(name)
    head = adapter.output_head()
    assert head is not None and head.W_U.shape[1] == 32 and head.tokenizer is adapter.tokenizer
    text = TEXTS[0]
    out = adapter.forward(BatchInputs("text", "en_us", texts=[text]))
    last = out[list(out)[-1]]
    ids = adapter.tokenizer(text, return_tensors="pt").input_ids
    real = last.mask[0]  # (a BOS is not a real position: its states are zeroed)
    with torch.inference_mode():
        model_logits = adapter.model(input_ids=ids).logits[0][: len(real)][real]
        lens = head.logits(last.hidden[0][real])
    torch.testing.assert_close(lens, model_logits, atol=1e-4, rtol=1e-4)
    without_norm = head.logits(last.hidden[0][real], apply_final_norm=False)
    assert not torch.allclose(without_norm, lens)


def test_output_heads_of_the_decoders_and_none_for_encoders(loaded):
    whisper = loaded("whisper")
    head = whisper.output_head("decoder")
    assert head.final_norm is whisper.decoder.layer_norm
    assert head.W_U.data_ptr() == whisper.decoder.embed_tokens.weight.data_ptr()  # tied
    assert whisper.output_head("encoder") is None
    seamless = loaded("seamless_m4t_v2")
    head = seamless.output_head()
    assert head.final_norm is seamless.text_decoder.layer_norm
    assert head.W_U.shape == seamless.text_decoder.embed_tokens.weight.shape
    for name in ("bert", "wav2vec2"):
        assert loaded(name).output_head() is None
    with pytest.raises(KeyError, match="stack"):
        whisper.output_head("nowhere")


# --- loading: dtype, device_map, random init ---------------------------------------------------


def test_dtype_is_kept_until_pooled(families):
    from benchmark.representations.extract import extract

    adapter = load_adapter(str(families["llama"]), settings={"dtype": "bfloat16"})
    out = adapter.forward(BatchInputs("text", "en_us", texts=TEXTS[:2]))
    assert all(s.hidden.dtype == torch.bfloat16 for s in out.values())
    reps = extract(adapter, "text", "en_us", TEXTS, [len(t) for t in TEXTS], progress=False)
    assert reps.array.dtype == np.float32 and np.isfinite(reps.array).all()


def test_device_map_auto_through_accelerate(families):
    plan = plan_model(str(families["llama"]), settings={"device_map": "auto"})
    assert plan.settings["device_map"] == "auto"
    adapter = load_adapter(plan)
    out = adapter.forward(BatchInputs("text", "en_us", texts=TEXTS[:2]))
    assert out["layer_2"].hidden.device.type == "cpu"
    with pytest.raises(ValueError, match="device_map must be one of"):
        plan_model(str(families["llama"]), settings={"device_map": "everywhere"})


@pytest.mark.parametrize(
    "name", ["whisper", "seamless_m4t_v2", "bert", "wavlm", "llama", "qwen2_audio"]
)
def test_random_init_control_for_every_family(families, loaded, name):
    plan = plan_model(str(families[name]), random_init=3)
    assert plan.init == "random(seed=3)"
    control = load_adapter(plan)
    again = load_adapter(plan_model(str(families[name]), random_init=3))
    trained = loaded(name)
    for modality in control.modalities:
        b = batch(modality)
        a, b2, t = control.forward(b), again.forward(b), trained.forward(b)
        last = list(a)[-1]
        torch.testing.assert_close(a[last].hidden, b2[last].hidden)  # seeded
        assert not torch.allclose(a[last].hidden, t[last].hidden)


# --- settings ----------------------------------------------------------------------------------


def test_stacks_and_pooling_settings_are_checked_at_plan_time(families):
    from benchmark.errors import UsageError

    plan = plan_model(
        str(families["whisper"]), settings={"stacks": {"speech": "decoder"}, "pooling": "last"}
    )
    assert plan.default_stack("speech") == "decoder" and plan.default_stack("text") == "decoder"
    assert plan.settings["pooling"] == "last"
    adapter = load_adapter(plan)
    assert adapter.default_stack("speech") == "decoder"
    plain = plan_model(str(families["whisper"]))
    assert "stacks" not in plain.settings and "pooling" not in plain.settings  # keys unchanged
    cases = {
        "stacks: stack 'encoder' takes speech, not text": {"stacks": {"text": "encoder"}},
        "Did you mean 'decoder'": {"stacks": {"text": "decodr"}},
        "pooling must be one of": {"pooling": "median"},
        "prompt_template must hold {text} exactly once": {"prompt_template": "no field"},
    }
    for needle, settings in cases.items():
        path = families["llama"] if "prompt" in needle else families["whisper"]
        with pytest.raises(UsageError, match=needle.replace("{", r"\{").replace("}", r"\}")):
            plan_model(str(path), settings=settings)


def test_decoder_lm_prompt_and_mask(loaded, families):
    adapter = load_adapter(
        str(families["llama"]), settings={"prompt_template": "{text} This represents"}
    )
    plain = loaded("llama")
    text = TEXTS[0]
    a = adapter.forward(BatchInputs("text", "en_us", texts=[text]))["layer_2"]
    b = plain.forward(BatchInputs("text", "en_us", texts=[text]))["layer_2"]
    assert int(a.mask.sum()) > int(b.mask.sum())  # the template's words count
    bos = adapter.tokenizer(text).input_ids[0] == adapter.tokenizer.bos_token_id
    assert bos and not bool(a.mask[0, 0])  # the BOS attention sink is not a real position
    assert a.char_spans[0, int(a.mask[0].nonzero()[-1])].tolist() == [-1, -1]  # "represents"
    assert adapter.info.settings["prompt_template"] == "{text} This represents"


# --- the fallback and bad input ----------------------------------------------------------------


def test_unknown_architecture_goes_through_the_fallback_with_a_warning(families, caplog):
    caplog.set_level(logging.WARNING)
    plan = plan_model(str(families["t5"]))
    assert plan.family == "auto" and {n: s.takes for n, s in plan.stacks.items()} == {
        "model": ("text",)
    }
    assert "no adapter family for model_type 't5'" in caplog.text
    assert "Guessed: modality text" in caplog.text and "encoder only" in caplog.text
    adapter = load_adapter(plan)
    out = adapter.forward(BatchInputs("text", "en_us", texts=TEXTS[:2]))
    assert list(out) == adapter.layer_names("text") == [f"hidden_states_{i}" for i in range(3)]
    for states in out.values():
        assert states.hidden.shape[:2] == states.mask.shape
    assert adapter.info.settings["guessed_modality"].startswith("text")
    with pytest.raises(NotImplementedError, match="output_hidden_states"):
        adapter.layer_module("text", "hidden_states_1")


def _write_config(folder, config: dict):
    import json

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_remote_code_is_refused_without_the_flag(tmp_path):
    from benchmark.errors import UsageError

    custom = _write_config(
        tmp_path / "custom",
        {
            "model_type": "my_custom_lm",
            "architectures": ["MyCustomLM"],
            "auto_map": {"AutoConfig": "configuration_my.MyConfig"},
        },
    )
    with pytest.raises(UsageError, match="--trust-remote-code"):
        plan_model(str(custom))
    known_type = _write_config(
        tmp_path / "patched",
        {
            "model_type": "llama",
            "architectures": ["MyPatchedLlama"],
            "auto_map": {"AutoModelForCausalLM": "modeling_my.MyPatchedLlama"},
        },
    )
    with pytest.raises(UsageError, match=r"MyPatchedLlama is defined by the repository's own code"):
        plan_model(str(known_type))


def test_a_model_type_nothing_knows_names_what_is_missing(tmp_path):
    from benchmark.errors import UsageError

    folder = _write_config(tmp_path / "alien", {"model_type": "alien-net", "hidden": 3})
    with pytest.raises(UsageError, match=r"model_type 'alien-net'.*does not know.*adapter"):
        plan_model(str(folder))


def test_sonar_says_clearly_that_its_extra_is_missing():
    from benchmark.errors import ModelUnavailableError
    from benchmark.models.sonar import extra_problem

    problem = extra_problem()
    if problem is None:
        pytest.skip("the sonar extra is installed and usable here")
    with pytest.raises(ModelUnavailableError) as err:
        plan_model("sonar:text_sonar_basic_encoder+sonar_speech_encoder_eng")
    message = str(err.value)
    assert "optional extra `sonar`" in message or "does not import" in message
    assert "interlingua-bench[sonar]" in message and "torch" in message


def test_a_model_id_that_does_not_resolve_offline_says_what_would_serve(monkeypatch):
    from benchmark.errors import ModelUnavailableError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelUnavailableError) as err:
        plan_model("nobody/no-such-model")
    message = str(err.value)
    assert "unreachable" in message and "openai/whisper-base" in message
    assert "save_pretrained" in message

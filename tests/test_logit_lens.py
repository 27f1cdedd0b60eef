"""The logit-lens kind: on a constructed decoder whose middle layer predicts the English word of
the next concept, the lens shows the English mass there and the input language's at the top;
not-applicable paths (no output vocabulary) without loading; bad input before any model loads;
end to end from YAML on a tiny Whisper (text and speech through its decoder) and a tiny Llama."""

from __future__ import annotations

import pytest
import torch
from steer_fixtures import LensToy, WordTokenizer, context, model_access, run_options, text_probes

from benchmark.errors import ConfigError, NotApplicable, UsageError
from benchmark.kinds import ModelAccess, get_kind
from benchmark.kinds.logit_lens.words import first_tokens, predicting_positions, word_span
from benchmark.models.base import LayerStates
from benchmark.models.family import Stack
from benchmark.results import read_result
from benchmark.runner import run
from benchmark.taskfiles import load_task

# (English, German, label) concept words; sentences "the <word> is here" / "der <Wort> ist hier"
PAIRS = [
    ("dog", "Hund", "ANIMAL.dog"),
    ("cat", "Katze", "ANIMAL.cat"),
    ("milk", "Milch", "FOOD.milk"),
    ("bread", "Brot", "FOOD.bread"),
    ("rain", "Regen", "WEATHER.rain"),
    ("snow", "Schnee", "WEATHER.snow"),
    ("house", "Haus", "HOME.house"),
    ("tree", "Baum", "NATURE.tree"),
]
N = 24


def lens_toy(final_norm=None):
    texts = {"en_us": [], "de_de": []}
    words = {"en_us": [], "de_de": []}
    for i in range(N):
        en, de, label = PAIRS[i % len(PAIRS)]
        texts["en_us"].append(f"the {en} is here")
        texts["de_de"].append(f"der {de} ist hier")
        words["en_us"].append([{"word": en, "label": label}])  # no offsets: found in the text
        words["de_de"].append(
            [{"word": de, "label": label, "char_start": 4, "char_end": 4 + len(de)}]
        )
    vocab = [w for t in texts.values() for s in t for w in s.split()]
    tokenizer = WordTokenizer(vocab)
    english_of = {de.lower(): en for en, de, _ in PAIRS}
    adapter = LensToy(tokenizer, english_of, final_norm)
    return adapter, text_probes(texts, words=words)


def lens_context(adapter, probes, access=None, **metric):
    main = {"name": "toy_share", "measure": "english_share", "group": "modality=text, lens=normed"}
    metric = {"n_null": 30, "n_resamples": 30, "min_words": 5} | metric
    return context("logit_lens", probes, access or model_access(adapter), ["text"], main, **metric)


def G(modality: str, lens: str, language: str = "mean") -> str:  # noqa: N802 (a group label)
    return f"modality={modality}, lens={lens}, language={language}"


def points(out, measure, group):
    (found,) = [c for c in out.curves if c.measure == measure and c.group == group]
    return {p.layer: p for p in found.points}


def test_a_layer_that_predicts_the_english_word_shows_it():
    adapter, probes = lens_toy()
    out = get_kind("logit_lens").score(lens_context(adapter, probes))
    share = points(out, "english_share", G("text", "normed"))
    english = points(out, "p_english", G("text", "normed", "de_de"))
    native = points(out, "p_input", G("text", "normed", "de_de"))
    assert share["layer_1"].value > 0.95  # the middle layer 'thinks in English'
    assert share["layer_2"].value < 0.05  # the top predicts the German word
    assert english["layer_1"].value > 0.9 and english["layer_1"].value > english["layer_1"].null_q95
    assert english["layer_1"].null_mean < 0.3  # unrelated English words get little
    assert native["layer_2"].value > 0.9
    assert out.main_score.layer.layer == "layer_1" and out.main_score.value > 0.95
    assert out.details["words"]["text/de_de"]["used"] == N
    # raw and normed agree when the head has no final norm
    raw = points(out, "english_share", G("text", "raw"))
    assert raw["layer_1"].value == pytest.approx(share["layer_1"].value)


def test_the_final_norm_is_applied_by_the_normed_lens_only():
    class Flip(torch.nn.Module):  # a 'final norm' that reverses the vocabulary's order
        def forward(self, h):
            return h.flip(-1)

    adapter, probes = lens_toy(final_norm=Flip())
    out = get_kind("logit_lens").score(lens_context(adapter, probes))
    assert points(out, "english_share", G("text", "raw"))["layer_1"].value > 0.95
    assert points(out, "p_english", G("text", "normed"))["layer_1"].value < 0.2
    assert out.details["lenses"]["normed"].startswith("softmax(Flip(h)")


def test_word_spans_and_first_tokens():
    assert word_span("Der Hund schläft.", {"word": "Hund"}) == (4, 8)
    assert word_span("Hundehütte und Hund", {"word": "Hund"}) == (15, 19)  # whole word first
    assert word_span("x", {"word": "Hund", "char_start": 2, "char_end": 6}) == (2, 6)
    tokenizer = WordTokenizer(["hund", "dog"])
    assert first_tokens(tokenizer, "Hund") == {tokenizer.vocab["hund"]}


def test_the_predicting_position_of_space_prefixed_and_merged_tokens():
    """Byte-level BPE writes " Hund" (the space belongs to the token: fine); a token that also
    holds another word's characters ("的狗") cannot stand for the word; the first word's
    predicting position is the prompt, which the adapter does not return."""
    text = "Der Hund sah 的狗"
    spans = torch.tensor([[[-1, -1], [0, 3], [3, 8], [8, 12], [12, 15]]])
    states = LayerStates(hidden=torch.zeros(1, 5, 2), mask=spans[..., 0] >= 0, char_spans=spans)
    words = [(4, 8), (0, 3), (14, 15)]  # Hund (in " Hund"), Der (after the prompt), 狗 (merged)
    assert predicting_positions(states, 0, text, words) == [1, None, None]


# --- not applicable ------------------------------------------------------------------------------


def _no_load():
    raise AssertionError("the model was loaded although the verdict needs no weights")


def test_a_text_encoder_has_no_vocabulary_and_is_not_loaded():
    adapter, probes = lens_toy()
    access = ModelAccess(
        load=_no_load,
        stacks={"encoder": Stack(("text",))},
        default_stacks={"text": "encoder"},
    )
    with pytest.raises(NotApplicable, match="no stack of this model predicts tokens"):
        get_kind("logit_lens").score(lens_context(adapter, probes, access))


def test_a_model_without_an_output_head_is_not_applicable():
    adapter, probes = lens_toy()
    access = model_access(adapter, heads=["decoder"])  # the plan says it predicts tokens
    adapter._heads = {}  # but the loaded adapter gives no head
    with pytest.raises(NotApplicable, match="no output head"):
        get_kind("logit_lens").score(lens_context(adapter, probes, access))


def test_a_named_stack_the_model_lacks_is_not_applicable():
    adapter, probes = lens_toy()
    with pytest.raises(NotApplicable, match="asked for 'text_decoder'"):
        get_kind("logit_lens").score(lens_context(adapter, probes, stack="text_decoder"))


# --- bad input -----------------------------------------------------------------------------------

TASK = """\
name: ll_bad
version: 1
kind: logit_lens
modalities: [text]
probes: {{source: concepts, languages: {languages}, n: 40}}
metric: {{final_norm: {final_norm}, reference_language: en_us}}
main_score: {{name: ll_bad_share, measure: {measure}, group: {group}}}
"""


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"final_norm": "[false]"},
            "main_score.group: lens 'normed' is not among metric.final_norm",
        ),
        (
            {"group": "'modality=speech'"},
            "main_score.group: modality 'speech' is not in modalities",
        ),
        ({"group": "normed"}, "expected FIELD=VALUE pairs"),
        ({"measure": "p_french"}, "main_score.measure 'p_french' is not one of"),
        ({"final_norm": "[true, true]"}, "a lens is listed twice"),
        ({"final_norm": "[]"}, "field `metric.final_norm`"),
    ],
)
def test_bad_settings_fail_with_one_line_naming_the_field(tmp_path, fields, message):
    values = {
        "languages": "[en_us, de_de]",
        "final_norm": "[true, false]",
        "measure": "english_share",
        "group": "'modality=text, lens=normed'",
    } | fields
    path = tmp_path / "ll_bad.yaml"
    path.write_text(TASK.format(**values))
    with pytest.raises(ConfigError) as err:
        load_task(path)
    assert message in str(err.value)


LL_TASK = """\
name: {name}
version: 1
kind: logit_lens
modalities: {modalities}
probes: {{source: concepts, languages: {languages}, n: 40}}
metric: {{n_null: 20, n_resamples: 20, min_words: 3}}
main_score: {{name: {name}_share, measure: english_share, group: {group}}}
"""


@pytest.fixture
def lens_tasks(tmp_path, monkeypatch):
    directory = tmp_path / "tasks"
    directory.mkdir()
    tasks = {
        "ll": ("[text, speech]", "[en_us, de_de]", "'modality=text'"),
        "ll_speech": ("[speech]", "[en_us, de_de]", "'modality=speech, lens=raw'"),
        "ll_no_english": ("[text]", "[de_de, es_419]", "'modality=text'"),
    }
    for name, (modalities, languages, group) in tasks.items():
        text = LL_TASK.format(name=name, modalities=modalities, languages=languages, group=group)
        (directory / f"{name}.yaml").write_text(text)
    monkeypatch.setenv("INTERLINGUA_TASKS_DIR", str(directory))
    return directory


def test_a_reference_language_missing_from_the_probes_fails_before_loading(
    tiny_models, lens_tasks, tmp_path, monkeypatch
):
    monkeypatch.setattr("benchmark.runner.load_adapter", lambda *a, **k: _no_load())
    with pytest.raises(UsageError, match="metric.reference_language 'en_us'"):
        run(run_options(tiny_models["whisper"], tmp_path, tasks="ll_no_english"))


def test_whisper_decoder_text_and_speech_end_to_end(tiny_models, lens_tasks, tmp_path):
    options = run_options(
        tiny_models["whisper"], tmp_path, tasks="ll,ll_speech", model_settings={"window": "cropped"}
    )
    summary = run(options)
    assert summary.failed == []
    result = read_result(summary.paths["ll"])
    assert result.status == "ok", result.reason
    groups = {c.group for c in result.curves}
    assert {
        G("text", "normed"),
        G("text", "raw"),
        G("speech", "normed"),
        G("speech", "raw"),
        G("text", "normed", "de_de"),
    } <= groups
    assert all(len(c.points) == 3 and c.stack == "decoder" for c in result.curves)
    assert 0 <= result.main_score.value <= 1 and result.main_score.null_q95 is not None
    assert result.details["words"]["speech/de_de"]["used"] >= 3
    speech = read_result(summary.paths["ll_speech"])
    assert speech.status == "ok" and speech.main_score.group == G("speech", "raw")


def test_decoder_lm_end_to_end_and_text_encoder_not_applicable(tiny_models, lens_tasks, tmp_path):
    from benchmark.models.testing import build_tiny_decoder_lm

    llama = build_tiny_decoder_lm(tmp_path / "llama", "llama")
    summary = run(run_options(llama, tmp_path, tasks="ll,ll_speech"))
    result = read_result(summary.paths["ll"])
    assert result.status == "ok", result.reason
    assert {c.group.split(",")[0] for c in result.curves} == {
        "modality=text"
    }  # no speech in a text LM
    assert "RMSNorm" in result.details["lenses"]["normed"]
    speech = read_result(summary.paths["ll_speech"])
    assert speech.status == "not_applicable" and "needs" in speech.reason
    bert = run(run_options(tiny_models["bert"], tmp_path / "bert", tasks="ll"))
    verdict = bert.results["ll"]
    assert verdict.status == "not_applicable" and "no output" in verdict.reason
    assert not bert.model_loaded

"""The logit-lens kind: on a constructed decoder whose middle layer predicts the English word of
the next concept, the lens shows the English mass there and the input language's at the top;
not-applicable paths (no output vocabulary) without loading; bad input before any model loads;
end to end from YAML on a tiny Whisper (text and speech through its decoder) and a tiny Llama."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from steer_fixtures import (
    LensToy,
    WordTokenizer,
    context,
    model_access,
    plant_concept,
    run_options,
    text_probes,
)

from benchmark.errors import ConfigError, NotApplicable, UsageError
from benchmark.evaluation import Draws
from benchmark.kinds import ModelAccess, get_kind
from benchmark.kinds.logit_lens.measures import MEASURES, concept_swaps, layer_estimates
from benchmark.kinds.logit_lens.positions import predicting_positions
from benchmark.kinds.logit_lens.words import select_words, single_token, word_span
from benchmark.models.base import LayerStates, OutputHead
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


def lens_context(adapter, probes, access=None, layer="best", measure="english_share", **metric):
    main = {
        "name": "toy_share",
        "measure": measure,
        "group": "modality=text, lens=normed",
        "layer": layer,
    }
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
    assert out.details["lenses"]["normed"].startswith("log_softmax(Flip(h)")


def test_a_uniform_head_reads_exactly_neutral_at_every_layer():
    """Every logit 0: every comparison is exactly its neutral value, at every layer, in its
    null and its interval; the main score says so (descriptive, at its null)."""
    adapter, probes = lens_toy()
    zero = OutputHead(torch.zeros(adapter.dim, adapter.dim), None, adapter.tokenizer)
    adapter._heads = {"decoder": lambda: zero}
    out = get_kind("logit_lens").score(lens_context(adapter, probes))
    for curve in out.curves:
        neutral = MEASURES[curve.measure].neutral
        for p in curve.points:
            if neutral is None:  # p_input, p_english: 1 / V
                assert p.value == pytest.approx(1 / adapter.dim, rel=1e-6)
                continue
            assert p.value == neutral and p.ci_low == neutral and p.ci_high == neutral
            assert p.null_mean == neutral and p.p_value == 1.0
    main = out.main_score
    assert (main.value, main.neutral, main.ranked, main.verdict) == (0.5, 0.5, False, "at_null")


def test_the_embeddings_are_never_the_chosen_layer():
    """The lens at the embeddings reads the current token: drawn, never chosen, not in a mean."""
    adapter, probes = lens_toy()
    output = get_kind("logit_lens").estimate(lens_context(adapter, probes))
    assert {s.layers.selectable for s in output.series} == {(False, True, True)}
    ctx = lens_context(adapter, probes, layer="mean", measure="p_english")
    out = get_kind("logit_lens").score(ctx)
    mass = points(out, "p_english", G("text", "normed"))
    two = (mass["layer_1"].value + mass["layer_2"].value) / 2
    assert out.main_score.value == pytest.approx(two)
    assert out.main_score.value != pytest.approx((two * 2 + mass["embeddings"].value) / 3)


def test_the_label_swap_null_swaps_a_concept_as_a_whole_with_probability_one_half():
    labels = ["a", "b", "a", "c", "b", "a"]
    swaps = concept_swaps(labels, Draws(4000, 0, "subsample", 0))
    assert swaps.shape == (4000, 6)
    assert (swaps[:, 0] == swaps[:, 2]).all() and (swaps[:, 0] == swaps[:, 5]).all()
    assert (swaps[:, 1] == swaps[:, 4]).all()
    assert np.abs(swaps[:, [0, 1, 3]].mean(0) - 0.5).max() < 0.03
    # a layer that always prefers English: value far above a null centred on 0.5
    x = np.full((6, 6), np.log(0.1))
    e = np.full((6, 6), np.log(0.3))
    est = layer_estimates(x, e, np.arange(6), swaps, None, None)
    assert est["english_share"].value == pytest.approx(0.75)
    assert est["english_share"].null.mean() == pytest.approx(0.5, abs=0.01)
    assert est["english_log_odds"].value == pytest.approx(np.log(3))
    assert est["english_wins"].value == 1.0
    assert concept_swaps(labels, Draws(0, 0, "subsample", 0)) is None


class PieceTokenizer(WordTokenizer):
    """Whole words, except the words in `split`, written as pieces of two characters."""

    def __init__(self, words, split):
        self.split = {w.lower() for w in split}
        pieces = [w[i : i + 2] for w in self.split for i in range(0, len(w), 2)]
        super().__init__([*words, *pieces])

    def __call__(self, string, add_special_tokens=False):
        ids = []
        for word in string.lower().split():
            parts = [word[i : i + 2] for i in range(0, len(word), 2)]
            ids += [self.vocab[p] for p in (parts if word in self.split else [word])]
        return {"input_ids": ids}


def test_only_words_that_are_one_token_on_both_sides_are_read_and_the_rest_counted():
    texts = {
        "en_us": ["the dog is here", "the cat is here", "the taxi is here", "the elephant is"],
        "de_de": ["der Hund ist hier", "die Katze ist hier", "das Taxi ist hier", "der Elefant"],
    }
    labels = ["dog", "cat", "taxi", "elephant"]
    words = {
        lang: [
            [{"word": t.split()[1], "label": label}] for t, label in zip(ts, labels, strict=True)
        ]
        for lang, ts in texts.items()
    }
    words["de_de"][0].append({"word": "hier", "label": "here"})  # no English word of its label
    probes = text_probes(texts, words=words)
    vocab = [w for ts in texts.values() for t in ts for w in t.split()]
    tokenizer = PieceTokenizer(vocab, split=["katze", "elephant"])
    chosen = select_words(probes, "de_de", "en_us", tokenizer)
    assert chosen.label == ["dog"] and chosen.item == [0] and chosen.span == [(4, 8)]
    assert (chosen.input_id, chosen.english_id) == (
        [tokenizer.vocab["hund"]],
        [tokenizer.vocab["dog"]],
    )
    assert chosen.total == 5
    assert chosen.skipped == {
        "no_english_word": 1,
        "not_in_text": 0,
        "input_not_one_token": 1,  # Katze: two pieces
        "english_not_one_token": 1,  # elephant
        "same_word": 1,  # Taxi / taxi
    }


def test_real_tokenizer_keeps_whole_word_tokens_only():
    """Whisper's byte-level BPE: "狗" is two partial UTF-8 bytes, " Katze" is " Kat" + "ze",
    " three" is " " + "three" (a spaced German " drei" is not predicted where "three" is)."""
    from benchmark.models.known_head import multilingual_tokenizer
    from benchmark.probes import ProbeSpec, load_probes

    tokenizer = multilingual_tokenizer()
    assert single_token(tokenizer, " Hund") == (tokenizer.convert_tokens_to_ids("ĠHund"), 0)
    assert single_token(tokenizer, "狗") is None and single_token(tokenizer, " Katze") is None
    assert single_token(tokenizer, " three")[1] == 1
    languages = ("en_us", "de_de", "cmn_hans_cn")
    probes = load_probes(ProbeSpec(source="concepts", languages=languages, n=60))
    for lang in languages[1:]:
        chosen = select_words(probes, lang, "en_us", tokenizer)
        assert len(chosen) >= 10 and chosen.total == len(chosen) + sum(chosen.skipped.values())
        texts = probes.texts(lang)
        for i, (a, b), x in zip(chosen.item, chosen.span, chosen.input_id, strict=True):
            assert tokenizer.decode([x]).strip() == texts[i][a:b]  # the whole word, no U+FFFD
        for e in chosen.english_id:
            assert "\ufffd" not in tokenizer.decode([e])
    assert ("ANIMAL.dog" in chosen.label) is False  # 狗: two byte tokens


def test_uniform_head_over_a_real_tokenizer_reads_exactly_neutral(tmp_path):
    """known:uniform_head (Whisper's tokenizer, all-zero unembedding) through the runner: the
    measure v1 read 0.558 here (tokenisation bias); every comparison now reads exactly neutral."""
    from benchmark.validity import run_suite

    suite = run_suite(tasks=["logit_lens"], references=["uniform_head"], output=tmp_path)
    (check,) = suite.checks
    assert check.ok and check.observed == "neutral", check.why
    assert check.value == 0.5 and check.ci == (0.5, 0.5)
    (path,) = tmp_path.rglob("logit_lens/*.json")
    result = read_result(path)
    for curve in result.curves:
        neutral = MEASURES[curve.measure].neutral
        assert neutral is None or {p.value for p in curve.points} == {neutral}, curve.group
    # at 40 sentences, 8-16 words per language are one token on both sides
    words = result.details["words"]
    assert all(v["used"] >= 5 for v in words.values()), words
    in_mean = [k.split("/")[1] for k, v in words.items() if v["used"] >= 10]
    assert result.details["languages_in_mean"]["text"] == sorted(in_mean)


def test_the_predicting_position_of_space_prefixed_and_merged_tokens():
    """Byte-level BPE writes " Hund" (the space belongs to the token: fine); a token that also
    holds another word's characters ("的狗") or ends past the word cannot stand for the word; the
    first word's predicting position is the prompt, which the adapter does not return."""
    text = "Der Hund sah 的狗"
    spans = torch.tensor([[[-1, -1], [0, 3], [3, 8], [8, 12], [12, 15]]])
    states = LayerStates(hidden=torch.zeros(1, 5, 2), mask=spans[..., 0] >= 0, char_spans=spans)
    words = [(4, 8), (0, 3), (14, 15), (4, 6)]  # Hund, Der (after the prompt), 狗, "Hu"
    assert predicting_positions(states, 0, text, words) == [
        1,
        "no_position_before",
        "split_in_context",
        "split_in_context",
    ]
    assert word_span("Der Hund schläft.", {"word": "Hund"}) == (4, 8)
    assert word_span("Hundehütte und Hund", {"word": "Hund"}) == (15, 19)  # whole word first
    assert word_span("x", {"word": "Hund", "char_start": 2, "char_end": 6}) == (2, 6)


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


def with_word_tokens(path):
    """A saved tiny model with a tokenizer trained on the concept sentences' words, so that content
    words are single tokens (plant_concept at scale 0: the tokenizer alone, no concept planted)."""
    from benchmark.probes import ProbeSpec, load_probes

    probes = load_probes(ProbeSpec(source="concepts", languages=("en_us", "de_de")))
    return plant_concept(path, probes, "animals", "food", 0.0, words_only=True)


@pytest.fixture(scope="module")
def word_whisper(tmp_path_factory):
    from tiny_models import build_tiny_whisper

    return with_word_tokens(build_tiny_whisper(tmp_path_factory.mktemp("lens") / "whisper"))


def test_whisper_decoder_text_and_speech_end_to_end(word_whisper, lens_tasks, tmp_path):
    options = run_options(
        word_whisper, tmp_path, tasks="ll,ll_speech", model_settings={"window": "cropped"}
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
    main = result.main_score
    assert 0 <= main.value <= 1 and main.null_q95 is not None
    assert (main.ranked, main.neutral) == (False, 0.5) and main.layer.layer != "embeddings"
    assert result.details["words"]["speech/de_de"]["used"] >= 3
    speech = read_result(summary.paths["ll_speech"])
    assert speech.status == "ok" and speech.main_score.group == G("speech", "raw")


def test_a_tokenizer_that_writes_every_word_in_pieces_is_not_applicable(
    tiny_models, lens_tasks, tmp_path
):
    """The tiny Whisper's own 400-token vocabulary writes the German concept words in pieces:
    nothing the lens can compare one token to one token, and the counts say so."""
    summary = run(run_options(tiny_models["whisper"], tmp_path, tasks="ll"))
    verdict = summary.results["ll"]
    assert verdict.status == "not_applicable"
    assert "fewer than metric.min_words=3" in verdict.reason
    assert "'input_not_one_token': " in verdict.reason


def test_decoder_lm_end_to_end_and_text_encoder_not_applicable(tiny_models, lens_tasks, tmp_path):
    from tiny_models import build_tiny_decoder_lm

    llama = with_word_tokens(build_tiny_decoder_lm(tmp_path / "llama", "llama"))
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

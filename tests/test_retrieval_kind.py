"""The retrieval kind on synthetic representations with known structure."""

import numpy as np
import pytest
from kind_fixtures import context, curve_of, probe_set, stable_seed

from benchmark.errors import ConfigError, NotApplicable, UsageError
from benchmark.kinds import get_kind
from benchmark.representations import Representations

N, D = 50, 32
LANGS = ["en_us", "de_de", "fr_fr"]
LAYERS = ["embeddings", "layer_1", "layer_2"]
SIGNAL = {"embeddings": 0.0, "layer_1": 3.0, "layer_2": 1.0}  # layer_1 aligns the languages
GROUPS_LABEL = "query=text, target=text, languages=cross"
GROUPS = [
    {"query": "text", "target": "text", "languages": "cross"},
    {"query": "speech", "target": "text", "languages": "same"},
]


def reps_fn(speech_flip: bool = False):
    meaning = np.random.default_rng(0).normal(size=(N, D))

    def reps(lang, modality):
        rng = np.random.default_rng(stable_seed(lang, modality))
        sign = -1.0 if (speech_flip and modality == "speech") else 1.0
        offset = 5 if speech_flip else 0  # with the flip, speech and text point opposite ways
        arrays = [
            sign * (SIGNAL[layer] * meaning + rng.normal(size=(N, D)) + offset) for layer in LAYERS
        ]
        return Representations(LAYERS, list(range(N)), np.stack(arrays))

    return reps


def run(reps=None, modalities=("text", "speech"), available=None, **main):
    ctx = context(
        "retrieval",
        probe_set(LANGS, N),
        reps or reps_fn(),
        modalities,
        {
            "name": "acc",
            "measure": "accuracy@1",
            "group": "query=text, target=text, languages=cross",
            **main,
        },
        available=available,
        groups=GROUPS,
    )
    return get_kind("retrieval").score(ctx)


def test_finds_translations_at_the_hub_layer_against_chance_and_length():
    out = run()
    main = out.main_score
    assert main.layer.layer == "layer_1" and main.value > 0.9
    assert main.chance == pytest.approx(1 / N) and main.null_q95 < 0.1
    assert main.ci_low < main.value <= main.ci_high <= 1
    acc = curve_of(out, "accuracy@1", "query=text, target=text, languages=cross")
    assert [round(p.value, 2) for p in acc.points][0] < 0.2  # the embeddings carry no meaning
    # the synthetic sentences have the same length in every language: length alone finds them
    assert acc.baselines["length_only"] > 0.5
    xsim = curve_of(out, "xsim", "query=text, target=text, languages=cross")
    assert not xsim.higher_is_better and xsim.points[1].value < 0.1  # an error rate
    assert xsim.points[1].null_q95 > 0.9  # its null sits near 1 - 1/n (5th percentile)
    # a language x language matrix per metric, group and layer; every ordered pair filled
    (matrix,) = [
        m
        for m in out.matrices
        if m.name == "accuracy@1/query=text, target=text, languages=cross/layer_1"
    ]
    off = [matrix.values[i][j] for i in range(3) for j in range(3) if i != j]
    assert all(v > 0.8 for v in off) and matrix.values[0][0] is None


def test_length_alone_is_reported_when_it_retrieves():
    # every sentence has its own duration, identical across languages and modalities
    out = run()
    same = curve_of(out, "accuracy@1", "query=speech, target=text, languages=same")
    # lengths: n_chars = 15 x duration for text; speech uses the duration itself
    assert same.baselines["length_only"] > 0.5


def test_a_missing_main_group_is_not_applicable_and_a_missing_side_group_is_skipped():
    with pytest.raises(NotApplicable, match="query=text, target=text, languages=cross"):
        run(available=("speech",))
    out = run(available=("text",))
    assert {c.group for c in out.curves} == {"query=text, target=text, languages=cross"}
    assert out.details["skipped_groups"] == ["query=speech, target=text, languages=same"]


def test_an_undefined_margin_leaves_a_gap_not_a_crash():
    out = run(reps=reps_fn(speech_flip=True), group="query=speech, target=text, languages=same")
    xsim = curve_of(out, "xsim", "query=speech, target=text, languages=same")
    assert any(p.value is None for p in xsim.points)  # anti-aligned stacks: margin undefined
    assert (
        curve_of(out, "accuracy@1", "query=speech, target=text, languages=same").points[0].value
        is not None
    )


def test_config_and_probe_checks():
    with pytest.raises(UsageError, match="needs \\['speech'\\] in `modalities`"):
        context(
            "retrieval",
            probe_set(LANGS, N),
            reps_fn(),
            ["text"],
            {"name": "a", "measure": "accuracy@1"},
            groups=GROUPS,
        )
    with pytest.raises(UsageError, match="retrieves a sentence from itself"):
        context(
            "retrieval",
            probe_set(LANGS, N),
            reps_fn(),
            ["text"],
            {"name": "a", "measure": "accuracy@1"},
            groups=[{"query": "text", "target": "text", "languages": "same"}],
        )
    with pytest.raises(UsageError, match="not among metric.metrics"):
        context(
            "retrieval",
            probe_set(LANGS, N),
            reps_fn(),
            ["text", "speech"],
            {"name": "a", "measure": "ndcg@10"},
            groups=GROUPS,
        )
    ctx = context(
        "retrieval",
        probe_set(LANGS[:1], N),
        reps_fn(),
        ["text", "speech"],
        {"name": "a", "measure": "accuracy@1"},
        groups=GROUPS,
    )
    with pytest.raises(UsageError, match="at least two"):
        get_kind("retrieval").check_probes(ctx.config, ctx.params, ctx.probes)
    assert issubclass(ConfigError, UsageError)


def _named_probes():
    """Every other sentence carries a name written alike in every language; the other words are
    each language's own, unrelated to the translations'."""
    probes = probe_set(LANGS, N)

    def text(i: int, lang: str) -> str:
        word = np.random.default_rng(stable_seed(lang, i)).integers(5)
        return (f"name{i} " if i % 2 == 0 else "") + f"{lang}word{word} {lang}verb."

    frame = probes.frame
    frame["raw_transcription"] = [
        text(i, lang) for i, lang in zip(frame["id"], frame["lang_code"], strict=True)
    ]
    return probes


def _lexical_run(reps):
    ctx = context(
        "retrieval",
        _named_probes(),
        reps,
        ("text",),
        {"name": "acc", "measure": "accuracy@1"},
        groups=[GROUPS[0]],
    )
    return get_kind("retrieval").score(ctx)


def test_forms_alone_retrieve_what_they_share_and_nothing_among_disjoint_items():
    from benchmark.probes.lexicon import floor_vectors

    probes = _named_probes()

    def forms_only(lang, modality):
        array = np.stack([floor_vectors(probes.texts(lang))] * len(LAYERS))
        return Representations(LAYERS, list(range(N)), array)

    out = _lexical_run(forms_only)
    main = out.main_score
    assert main.value > 0.45  # the named half is found by its name
    assert main.margins["lexical_floor"].value == pytest.approx(0.0, abs=1e-12)
    label = "query=text, target=text, languages=cross"
    disjoint = curve_of(out, "accuracy@1_lexical_controlled", label).points[1]
    assert disjoint.p_value > 0.05  # among items sharing no form, forms find nothing
    assert out.details["lexical"]["disjoint_items"] == N // 2


def test_a_shared_meaning_retrieves_beyond_the_lexical_floor():
    out = _lexical_run(reps_fn())
    margin = out.main_score.margins["lexical_floor"]
    assert margin.value > 0.3 and margin.ci_low > 0
    label = "query=text, target=text, languages=cross"
    disjoint = curve_of(out, "accuracy@1_lexical_controlled", label).points[1]
    assert disjoint.value > 0.8 and disjoint.p_value < 0.05


def _length_coded(with_meaning: float):
    """Probes whose translations are close in length (not equal), and a model whose states encode
    the length precisely (a cubic of log characters through a random map and tanh), plus
    `with_meaning` times a vector per sentence."""
    n = 60
    probes = probe_set(LANGS, n)
    frame, rng = probes.frame, np.random.default_rng(3)
    for lang in LANGS[1:]:
        rows = frame.lang_code == lang
        jitter = np.exp(rng.normal(0, 0.05, rows.sum()))
        frame.loc[rows, "n_chars"] = (frame.loc[rows, "n_chars"] * jitter).round().astype(int)
    mixing = np.random.default_rng(0).normal(size=(3, D))
    meaning = np.random.default_rng(1).normal(size=(n, D))

    def reps(lang, modality):
        z = np.log(frame[frame.lang_code == lang]["n_chars"].to_numpy(float)) - 3
        noise = np.random.default_rng(stable_seed(lang, modality)).normal(size=(n, D))
        states = np.tanh(np.column_stack([z, z**2, z**3]) @ mixing)
        states = states + with_meaning * meaning + 0.03 * noise
        return Representations(["layer_0"], list(range(n)), states[None])

    ctx = context(
        "retrieval",
        probes,
        reps,
        ("text",),
        {
            "name": "acc",
            "measure": "accuracy@1",
            "group": "query=text, target=text, languages=cross",
        },
        groups=[GROUPS[0]],
    )
    return get_kind("retrieval").score(ctx)


def test_a_model_that_knows_only_length_clears_the_length_matched_null_but_not_its_control():
    out = _length_coded(with_meaning=0.0)
    main = out.main_score
    # within strata of similar length a translation is still the closest in length...
    assert main.p_value < 0.05 and main.value > main.null_q95
    # ...but with what length explains taken out of each query's similarities, nothing is left
    control = curve_of(out, "accuracy@1_length_controlled", GROUPS_LABEL).points[0]
    assert control.p_value > 0.5 and control.value < control.null_q95
    assert main.verdict == "at_null" and "length taken out" in main.verdict_reason


def test_a_model_with_meaning_beside_length_clears_both():
    out = _length_coded(with_meaning=0.3)
    control = curve_of(out, "accuracy@1_length_controlled", GROUPS_LABEL).points[0]
    assert control.p_value < 0.05 and control.value > 5 * control.null_q95
    assert out.main_score.verdict == "above_null" and out.main_score.verdict_reason is None

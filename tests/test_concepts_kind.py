"""The concept purity kind on synthetic words and sentences with known structure."""

import numpy as np
import pytest
from kind_fixtures import context, curve_of, probe_set, stable_seed

from benchmark.errors import NotApplicable, UsageError
from benchmark.kinds import get_kind
from benchmark.representations import Representations
from benchmark.representations.words import WordRepresentations

LANGS = ["en_us", "de_de", "fr_fr"]
LAYERS = ["embeddings", "layer_1"]
CATEGORIES = [f"cat{i % 5}" for i in range(40)]
N = len(CATEGORIES)


def sentence_reps(lang, modality):
    """embeddings: by language (surface form); layer_1: by category (meaning)."""
    rng = np.random.default_rng(stable_seed(lang, modality))
    lang_centre = np.random.default_rng(stable_seed("L", lang)).normal(size=16) * 10
    cat_centres = {
        c: np.random.default_rng(stable_seed("C", c)).normal(size=16) * 10 for c in set(CATEGORIES)
    }
    surface = lang_centre + rng.normal(size=(N, 16))
    meaning = np.stack([cat_centres[c] for c in CATEGORIES]) + rng.normal(size=(N, 16))
    return Representations(LAYERS, list(range(N)), np.stack([surface, meaning]))


def sentences(**main):
    probes = probe_set(LANGS, N, categories=CATEGORIES)
    ctx = context(
        "concept_purity",
        probes,
        sentence_reps,
        ["text", "speech"],
        {"name": "p", "measure": "category_purity", "group": "modalities=text", **main},
        level="sentence",
        groups=[["text"], ["text", "speech"]],
        clusters=5,
    )
    return get_kind("concept_purity").score(ctx)


def test_sentence_layers_group_by_surface_then_by_meaning():
    out = sentences()
    category = curve_of(out, "category_purity", "modalities=text")
    language = curve_of(out, "language_purity", "modalities=text")
    assert category.points[1].value == pytest.approx(1.0)  # meaning layer: pure categories
    assert language.points[0].value == pytest.approx(1.0)  # surface layer: pure languages
    assert category.points[0].value < category.points[0].null_q95 + 0.05  # near chance there
    assert out.main_score.layer.layer == "layer_1"
    modality = curve_of(out, "modality_purity", "modalities=speech+text")
    assert modality.points[1].value < 0.75  # text and speech of a sentence cluster together


WORDS = {
    lang: [
        [
            {
                "word": f"w{i}",
                "label": f"concept{i % 8}",
                "char_start": 0,
                "char_end": 2,
                "start_s": 0.1,
                "end_s": 0.4,
            }
        ]
        for i in range(N)
    ]
    for lang in LANGS
}


def word_reps(tight: bool):
    def words(lang, modality, aggregation):
        rng = np.random.default_rng(stable_seed("w", lang, modality))
        centres = {
            c: np.random.default_rng(stable_seed("c", c)).normal(size=12) * 10
            for c in {w["label"] for ws in WORDS[lang] for w in ws}
        }
        labels = [w["label"] for ws in WORDS[lang] for w in ws]
        clustered = np.stack([centres[c] for c in labels]) + rng.normal(size=(len(labels), 12))
        noise = rng.normal(size=(len(labels), 12))
        array = np.stack([noise, clustered if tight else noise])
        return WordRepresentations(LAYERS, list(range(N)), np.arange(N), array)

    return words


def word_context(tight=True, **metric):
    probes = probe_set(LANGS, N, words=WORDS)
    return context(
        "concept_purity",
        probes,
        None,
        ["text"],
        {"name": "a", "measure": "alignment_score", "group": "modalities=text"},
        words=word_reps(tight),
        level="word",
        groups=[["text"]],
        **{"clusters": 8, **metric},
    )


def test_words_aligned_with_concepts_across_languages():
    out = get_kind("concept_purity").score(word_context())
    aligned = curve_of(out, "aligned_share", "modalities=text")
    assert aligned.points[1].value == pytest.approx(1.0)
    assert curve_of(out, "concept_coverage", "modalities=text").points[1].value == pytest.approx(
        1.0
    )
    assert curve_of(out, "cross_lingual", "modalities=text").points[1].value == pytest.approx(1.0)
    assert (
        out.main_score.value == pytest.approx(1.0)
        and out.main_score.value > out.main_score.null_q95
    )
    # the noise layer: no better than its null
    noise = curve_of(out, "alignment_score", "modalities=text").points[0]
    assert noise.value <= noise.null_q95 + 0.1


def test_unstructured_words_sit_at_their_null():
    out = get_kind("concept_purity").score(word_context(tight=False))
    point = curve_of(out, "alignment_score", "modalities=text").points[1]
    assert point.p_value > 0.05


def test_checks_before_any_model_loads():
    kind = get_kind("concept_purity")
    ctx = word_context(clusters=500)
    with pytest.raises(UsageError, match="metric.clusters=500 exceeds the 120 points"):
        kind.check_probes(ctx.config, ctx.params, ctx.probes)
    bare = probe_set(LANGS, N)  # no words, no categories
    with pytest.raises(UsageError, match="lacks .*char_end.*the embedded `concepts` set has them"):
        kind.check_probes(word_context().config, word_context().params, bare)
    sentence = sentences  # noqa: F841 - the sentence level needs categories
    ctx = context(
        "concept_purity",
        probe_set(LANGS, N, categories=CATEGORIES),
        sentence_reps,
        ["text"],
        {"name": "p", "measure": "category_purity"},
        level="sentence",
        groups=[["text"]],
        clusters=5,
    )
    with pytest.raises(UsageError, match="needs a semantic `category`"):
        kind.check_probes(ctx.config, ctx.params, bare)
    for theta in (0, 1.5):
        with pytest.raises(ValueError, match="theta"):
            kind.params(level="word", groups=[["text"]], clusters=5, theta=theta)
    with pytest.raises(NotApplicable, match="main score reads text"):
        kind.score(
            context(
                "concept_purity",
                probe_set(LANGS, N, categories=CATEGORIES),
                sentence_reps,
                ["text"],
                {"name": "p", "measure": "category_purity"},
                available=("speech",),
                level="sentence",
                groups=[["text"]],
                clusters=5,
            )
        )


# --- the lexical floor: repeats of one word form are not a concept ---------------------------------

FORM_WORDS = {  # each concept has its own form in each language; every form repeats 5 times
    lang: [
        [{"word": f"{lang[:2]}{i % 8}", "label": f"concept{i % 8}", "char_start": 0, "char_end": 3}]
        for i in range(N)
    ]
    for lang in LANGS
}


def form_context(represent: str, **metric):
    """Words represented by their form alone (one random vector per written form, as a model
    that only knows the token would), or by their concept (the same vector in every language)."""

    def words(lang, modality, aggregation):
        rng = np.random.default_rng(stable_seed("f", lang))
        keys = [w[represent] for ws in FORM_WORDS[lang] for w in ws]
        centre = {k: np.random.default_rng(stable_seed("v", k)).normal(size=12) * 10 for k in keys}
        array = np.stack([centre[k] for k in keys]) + rng.normal(size=(len(keys), 12))
        return WordRepresentations(LAYERS, list(range(N)), np.arange(N), np.stack([array, array]))

    probes = probe_set(LANGS, N, words=FORM_WORDS)
    return context(
        "concept_purity",
        probes,
        None,
        ["text"],
        {"name": "a", "measure": "alignment_score", "group": "modalities=text"},
        words=words,
        level="word",
        groups=[["text"]],
        **{"clusters": 24, "n_null": 60, **metric},
    )


def test_a_word_form_only_representation_sits_at_its_null():
    out = get_kind("concept_purity").score(form_context("word"))
    main = out.main_score
    # every cluster is one form repeated: perfectly 'pure', and no concept at all
    assert main.value == pytest.approx(0.0) and main.p_value > 0.05
    assert out.details["groups"]["text"]["forms"] == 24


def test_the_old_rule_let_repeated_forms_look_like_concepts():
    """With one form enough and labels shuffled point by point (the old measure), the same
    form-only representation scored far above its null: the confound this rule removes."""
    from benchmark.metrics.clustering import ward_clusters
    from benchmark.metrics.concepts import concept_estimates

    ctx = form_context("word")
    reps = ctx.reps.words("en_us", "text", "last")
    x = np.concatenate([ctx.reps.words(lang, "text", "last").array[1] for lang in LANGS])
    labels = [w["label"] for lang in LANGS for ws in FORM_WORDS[lang] for w in ws]
    clusters = ward_clusters(x, 24)
    perms = np.stack([np.random.default_rng(s).permutation(len(labels)) for s in range(60)])
    old = concept_estimates(clusters, labels, 0.9, 2, permutations=perms)["alignment_score"]
    assert old.value > 0.9 and old.value > np.quantile(old.null, 0.95)
    assert reps.array.shape[1] == N


def test_a_concept_representation_clears_the_form_level_null():
    out = get_kind("concept_purity").score(form_context("label"))
    main = out.main_score
    assert main.value > 0.7 and main.p_value < 0.05 and main.verdict == "above_null"


def test_word_level_k_is_at_most_one_cluster_per_labelled_concept():
    from benchmark.kinds import get_kind
    from benchmark.probes import ProbeSpec, load_probes
    from benchmark.taskfiles import load_task

    config = load_task("concept_words_text")
    probes = load_probes(ProbeSpec(source="concepts", languages=("en_us", "de_de"), n=40))
    labels = {w["label"] for lang in probes.languages for ws in probes.words(lang) for w in ws}
    assert len(labels) < config.params.clusters  # the case the rule exists for
    params, lines = get_kind("concept_purity").fit(config, config.params, probes)
    assert params.clusters == len(labels) and "per concept" in lines[0]

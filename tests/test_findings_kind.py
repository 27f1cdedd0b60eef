"""The findings kind on constructed representations whose answers are known: an interlingua (one
vector per sentence in every language and modality at every layer), a language-only model (one
vector per language, nothing about the sentence) and a converging model (meaning grows with
depth to a peak inside the stack; speech noisier than text). Stable seeds: the same data in every
process."""

import numpy as np
import pytest
from kind_fixtures import context, probe_set, stable_seed

from benchmark.errors import UsageError
from benchmark.kinds import findings_stats as fs
from benchmark.kinds import get_kind
from benchmark.metrics.statistics import Estimate
from benchmark.representations import Representations
from benchmark.representations.words import WordRepresentations

LANGS = ["en_us", "de_de", "es_419"]
N, D, CONCEPTS = 64, 40, 12
LAYERS = ["embeddings"] + [f"layer_{i}" for i in range(1, 7)]
# the converging model's share of the sentence's meaning per layer: a peak at layer_4
SIGNAL = [0.05, 0.15, 0.3, 0.5, 0.8, 0.55, 0.45]
WORDS = {
    lang: [
        [
            {
                "word": f"{lang}-{(2 * i + j) % CONCEPTS}",  # one form per concept and language
                "label": f"C.{(2 * i + j) % CONCEPTS}",
                "char_start": 0,
                "char_end": 1,
                "start_s": 0.1,
                "end_s": 0.3,
            }
            for j in range(2)
        ]
        for i in range(N)
    ]
    for lang in LANGS
}
MAIN = {"name": "findings", "measure": "claims_holding", "layer": "last"}


def meaning() -> np.ndarray:
    return np.random.default_rng(stable_seed("meaning")).normal(size=(N, 8))


def _stack(per_layer) -> Representations:
    return Representations(LAYERS, list(range(N)), np.stack(per_layer))


def interlingua(lang, modality):
    """Every sentence one vector in every language and modality, the same at every layer (plus
    a trace of noise, as the reference model has)."""
    shared = meaning() @ np.random.default_rng(stable_seed("mix")).normal(size=(8, D))
    noise = np.random.default_rng(stable_seed("i", lang, modality)).normal(size=(N, D))
    return _stack([shared + 0.05 * noise] * len(LAYERS))


def language_only(lang, modality):
    """One vector per language, and noise per item: nothing about the sentence."""
    rng = np.random.default_rng(stable_seed("l", lang, modality))
    x = np.random.default_rng(stable_seed("lang", lang)).normal(size=D) + rng.normal(size=(N, D))
    return _stack([x] * len(LAYERS))


def converging(lang, modality):
    """Meaning grows with depth to a peak inside the stack (SIGNAL), over noise; speech also
    carries a structured signal of its own in every language (think voice and prosody), so its
    language gap is wider than text's and its gap to text wider than text's between languages."""
    rng = np.random.default_rng(stable_seed("c", lang, modality))
    own = rng.normal(size=(N, 8))
    arrays = []
    for w in SIGNAL:
        x = w * meaning() @ rng.normal(size=(8, D)) + (1 - w) * 3 * rng.normal(size=(N, D))
        if modality == "speech":
            x = x + 0.5 * own @ rng.normal(size=(8, D))
        arrays.append(x)
    return _stack(arrays)


def concept_words(spoken_weight: float, shared: bool = True):
    """Each labelled word its concept's vector plus noise; spoken words carry `spoken_weight` of
    it. shared=False: one vector per language instead (no concept)."""
    centres = np.random.default_rng(stable_seed("concepts")).normal(size=(CONCEPTS, D)) * 4

    def words(lang, modality, aggregation):
        rng = np.random.default_rng(stable_seed("w", lang, modality))
        labels = [int(w["label"].split(".")[1]) for ws in WORDS[lang] for w in ws]
        weight = spoken_weight if modality == "speech" else 1.0
        if shared:
            x = weight * centres[labels] + rng.normal(size=(len(labels), D))
        else:
            x = np.random.default_rng(stable_seed("wl", lang)).normal(size=D) * 4 + rng.normal(
                size=(len(labels), D)
            )
        item = np.repeat(np.arange(N), 2)
        return WordRepresentations(LAYERS, list(range(N)), item, np.stack([x] * len(LAYERS)))

    return words


def run(reps, words, available=("text", "speech"), **metric):
    probes = probe_set(LANGS, N, words=WORDS)
    settings = {"svcca_k": 6, "length_control": "none", "concepts": {"clusters": CONCEPTS}}
    ctx = context(
        "findings",
        probes,
        reps,
        ["text", "speech"],
        MAIN,
        available=list(available),
        words=words,
        **{**settings, **metric},
    )
    return get_kind("findings").score(ctx)


def verdicts(out) -> dict[str, str]:
    return {f["claim"]: f["verdict"] for f in out.details["findings"]}


CLAIMS_SPEECH_TEXT = {
    "convergence.cross_lingual_text",
    "convergence.cross_lingual_speech",
    "convergence.cross_modal",
    "modality_gap_exceeds_language_gap",
    "speech_language_gap_exceeds_text",
    "hub_depth.cross_lingual_text",
    "hub_depth.cross_lingual_speech",
    "hub_depth.cross_modal",
    "concept_coherence_text_exceeds_speech",
}


def test_an_interlingua_has_no_gap_to_close_and_no_gap_to_compare():
    out = run(interlingua, concept_words(1.0), claims=_no_resource())
    got = verdicts(out)
    assert set(got) == CLAIMS_SPEECH_TEXT
    for name in ("cross_lingual_text", "cross_lingual_speech", "cross_modal"):
        assert got[f"convergence.{name}"] == "inconclusive"  # nothing to converge to
        assert got[f"hub_depth.{name}"] == "inconclusive"  # every layer ties
    assert got["modality_gap_exceeds_language_gap"] == "does not hold"
    assert got["speech_language_gap_exceeds_text"] == "does not hold"
    assert got["concept_coherence_text_exceeds_speech"] == "does not hold"
    found = {f["claim"]: f for f in out.details["findings"]}
    assert "no gap to close" in found["convergence.cross_modal"]["reason"]
    assert found["convergence.cross_modal"]["first_third"]["value"] > 0.95
    assert "tied" in found["hub_depth.cross_modal"]["reason"]
    assert out.main_score.value == 0 and out.main_score.ranked is False


def test_a_language_only_model_never_converges():
    out = run(language_only, concept_words(1.0, shared=False), claims=_no_resource())
    got = verdicts(out)
    for name in ("cross_lingual_text", "cross_lingual_speech", "cross_modal"):
        assert got[f"convergence.{name}"] == "does not hold"
    # the similarities sit at their nulls at every depth: a gap everywhere, nothing to compare
    curve = next(c for c in out.curves if c.group == "similarity=cross_lingual_text")
    assert all(p.p_value >= 0.05 for p in curve.points)
    assert got["modality_gap_exceeds_language_gap"] == "inconclusive"
    assert got["speech_language_gap_exceeds_text"] == "inconclusive"
    assert got["concept_coherence_text_exceeds_speech"] == "inconclusive"
    assert out.main_score.value == 0


def test_a_converging_model_shows_every_claim():
    out = run(converging, concept_words(0.1), claims=_no_resource())
    got = verdicts(out)
    assert got == {claim: "holds" for claim in CLAIMS_SPEECH_TEXT}, got
    assert out.main_score.value == len(CLAIMS_SPEECH_TEXT)
    found = {f["claim"]: f for f in out.details["findings"]}
    hub = found["hub_depth.cross_lingual_text"]
    assert 0 < hub["ci_low"] <= hub["value"] <= hub["ci_high"] < 1
    assert hub["value"] == pytest.approx(4 / 6, abs=1e-4)  # layer_4, the peak of SIGNAL
    assert found["convergence.cross_lingual_text"]["slope"]["value"] > 0
    gap = found["modality_gap_exceeds_language_gap"]
    arms = gap["arms"]
    # the statistic is the difference of its two arms at the hub (1 - modality) - (1 - language)
    assert gap["value"] == pytest.approx(
        arms["language_similarity"]["value"] - arms["modality_similarity"]["value"], abs=1e-5
    )
    # per-layer series beside the hub value, on the speech|text axis
    series = next(c for c in out.curves if c.group == "claim=modality_gap_exceeds_language_gap")
    assert [p.layer for p in series.points] == [f"speech:{x}|text:{x}" for x in LAYERS]


def test_a_text_only_model_gets_reasons_not_verdicts_for_speech_claims():
    out = run(converging, None, available=("text",), claims=_no_resource())
    found = {f["claim"]: f for f in out.details["findings"]}
    for claim in (
        "modality_gap_exceeds_language_gap",
        "speech_language_gap_exceeds_text",
        "convergence.cross_modal",
        "hub_depth.cross_lingual_speech",
        "concept_coherence_text_exceeds_speech",
    ):
        assert found[claim]["verdict"] == "not_applicable"
        assert "the model takes text" in found[claim]["reason"]
    assert found["convergence.cross_lingual_text"]["verdict"] == "holds"
    # every finding carries the fields the board reads
    keys = {"claim", "source", "statistic", "value", "ci_low", "ci_high", "verdict", "reason"}
    assert all(keys <= set(f) for f in found.values())


def test_the_resource_claim_needs_low_and_high_resource_languages():
    out = run(converging, None, claims=["resource"])
    found = {f["claim"]: f for f in out.details["findings"]}
    # en, de, es: all classes 5, no low-resource language among them
    assert {f["verdict"] for f in found.values()} == {"not_applicable"}
    assert "findings_udhr" in found["resource.language_gap_text"]["reason"]


def _no_resource() -> list[str]:
    return ["convergence", "modality_gap", "speech_language_gap", "hub_depth", "concept_coherence"]


def test_the_verdict_rule():
    summary = {"value": 0.1, "ci_low": 0.05, "ci_high": 0.15}
    assert fs.verdict(summary, 0.02) == ("holds", None)
    assert fs.verdict({**summary, "ci_low": 0.01}, 0.02)[0] == "inconclusive"
    assert fs.verdict({"value": 0.0, "ci_low": 0.0, "ci_high": 0.0}, 0.02)[0] == "does not hold"
    assert fs.verdict({"value": 0.0, "ci_low": -0.3, "ci_high": 0.02}, 0.02)[0] == "does not hold"
    depths = [0, 0.25, 0.5, 0.75, 1]
    assert fs.interior_verdict({"value": 0.5, "ci_low": 0.3, "ci_high": 0.7}, depths)[0] == "holds"
    end = {"value": 1.0, "ci_low": 0.99, "ci_high": 1.0}
    assert fs.interior_verdict(end, depths)[0] == "does not hold"
    wide = {"value": 0.75, "ci_low": 0.5, "ci_high": 1.0}
    assert fs.interior_verdict(wide, depths)[0] == "inconclusive"


def test_a_statistic_read_at_the_hub_chooses_the_hub_within_every_replicate():
    # two layers; replicate 0 peaks at layer 0, replicate 1 at layer 1
    joint = [Estimate(0.5, None, np.array([0.9, 0.1])), Estimate(0.6, None, np.array([0.2, 0.8]))]
    stat = [
        Estimate(1.0, None, np.array([10.0, 11.0])),
        Estimate(2.0, None, np.array([20.0, 21.0])),
    ]
    est, hub = fs.read_at_peak(stat, joint)
    assert hub == 1 and est.value == 2.0
    assert est.replicates.tolist() == [10.0, 21.0]
    depth = fs.peak_depth(joint, [0.0, 1.0])
    assert depth.value == 1.0 and depth.replicates.tolist() == [0.0, 1.0]
    tied = [Estimate(0.5, None, np.array([0.4])), Estimate(0.5, None, np.array([0.4]))]
    assert np.isnan(fs.peak_depth(tied, [0.0, 1.0]).value)


def test_a_findings_task_headlines_the_count_of_claims_that_hold():
    probes = probe_set(LANGS, N, words=WORDS)
    with pytest.raises(UsageError, match="claims_holding"):
        context("findings", probes, converging, ["text"], {**MAIN, "measure": "svcca"}, svcca_k=6)

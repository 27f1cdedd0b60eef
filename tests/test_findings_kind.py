"""The findings kind on constructed representations whose answers are known
(tests/findings_fixtures.py): the verdicts, the reasons, the statistics."""

import numpy as np
import pytest
from findings_fixtures import (
    LANGS,
    LAYERS,
    MAIN,
    WORDS,
    N,
    concept_words,
    converging,
    interlingua,
    language_only,
    run,
    verdicts,
)
from kind_fixtures import context, probe_set

from benchmark.errors import UsageError
from benchmark.kinds import findings_stats as fs
from benchmark.kinds import get_kind
from benchmark.metrics.statistics import Estimate

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
    # an interval that excludes 0 and 1 only numerically still reaches the end layers
    everywhere = {"value": 0.5, "ci_low": 0.02, "ci_high": 0.98}
    assert fs.interior_verdict(everywhere, depths)[0] == "inconclusive"


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


def test_the_findings_task_reads_the_gap_and_concept_tasks_cache_entries():
    """The shipped findings task asks for exactly the representations the gap tasks and the
    concept word tasks ask for, on the same probe items: one forward pass and one cache entry
    serve them all (requests are the cache key's only task-side part)."""
    from benchmark.probes import load_probes
    from benchmark.representations.service import probes_identity
    from benchmark.run_planning import RunOptions, probe_spec
    from benchmark.taskfiles import load_task

    def planned(name):
        config = load_task(name)
        probes = load_probes(probe_spec(config, RunOptions(model="x")))
        kind = get_kind(config.kind)
        modalities = ["text", "speech"]
        return probes_identity(probes), set(
            kind.requests(config, config.params, probes, modalities)
        )

    where, wanted = planned("findings")
    for task in (
        "cross_lingual_gap_text",
        "cross_lingual_gap_speech",
        "cross_modal_gap",
        "concept_words_text",
        "concept_words_speech",
    ):
        probes, requests = planned(task)
        assert probes == where, task
        assert requests and requests <= wanted, task


def test_a_modality_the_model_cannot_read_makes_its_claims_not_applicable():
    def long_texts(lang, modality):
        if modality == "text" and lang == "de_de":  # as Whisper's decoder refuses 686 tokens
            raise ValueError("model x: batch item 0 has 686 tokens; the decoder holds 443")
        return converging(lang, modality)

    out = run(long_texts, concept_words(0.1))
    found = {f["claim"]: f for f in out.details["findings"]}
    for claim in ("convergence.cross_lingual_text", "modality_gap_exceeds_language_gap"):
        assert found[claim]["verdict"] == "not_applicable"
        assert (
            "cannot read the text of 1 of the probes' languages (de_de)" in found[claim]["reason"]
        )
        assert "686 tokens" in found[claim]["reason"]
    assert found["convergence.cross_lingual_speech"]["verdict"] == "holds"
    assert set(out.details["unreadable"]) == {"text"}

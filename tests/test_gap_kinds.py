"""The gap kinds on synthetic representations with known structure."""

import numpy as np
import pandas as pd
import pytest

from benchmark.config import MainScoreConfig, ProbesConfig, TaskConfig
from benchmark.kinds import TaskContext, get_kind
from benchmark.kinds.gaps import align_layers
from benchmark.probes import ProbeSet
from benchmark.representations import Representations

N, D = 60, 48
LANGS = ["en_us", "de_de", "es_419"]
LAYERS = ["embeddings", "layer_1", "layer_2"]
# Share of the sentence signal per layer: layer_1 is the "hub" where languages merge.
SIGNAL = {"embeddings": 0.2, "layer_1": 0.9, "layer_2": 0.5}


def synthetic_reps(seed: int = 0, modality_shift: float = 0.0):
    rng = np.random.default_rng(seed)
    meaning = rng.normal(size=(N, 8))  # what every language shares about each sentence

    def reps(lang: str, modality: str) -> Representations:
        local = np.random.default_rng(abs(hash((lang, modality, seed))) % 2**32)
        arrays = []
        for layer in LAYERS:
            w = SIGNAL[layer] - (modality_shift if modality == "speech" else 0.0)
            mix = local.normal(size=(8, D))
            noise = local.normal(size=(N, D))
            arrays.append(w * meaning @ mix + (1 - w) * 3 * noise)
        return Representations(layers=LAYERS, ids=list(range(N)), array=np.stack(arrays))

    return reps


def context(kind: str, reps, modalities=("text", "speech"), layer="best") -> TaskContext:
    config = TaskConfig(
        name=f"toy_{kind}",
        version=1,
        kind=kind,
        probes=ProbesConfig(languages=LANGS, n=N),
        modalities=list(modalities),
        metric=get_kind(kind).params(svcca_k=6, n_null=30, n_resamples=40).model_dump(),
        main_score=MainScoreConfig(name="score", measure="svcca", layer=layer),
    )
    durations = np.random.default_rng(1).uniform(1, 10, N)
    frame = pd.DataFrame(
        [
            {
                "lang_code": lang,
                "id": i,
                "duration_s": d,
                "n_chars": int(d * 15),
                "n_words": int(d * 3),
            }
            for lang in LANGS
            for i, d in enumerate(durations)
        ]
    )
    probes = ProbeSet(
        name="synthetic", revision="0", languages=LANGS, ids=list(range(N)), frame=frame, card={}
    )
    return TaskContext(
        config=config, probes=probes, modalities=list(modalities), representations=reps
    )


def test_cross_lingual_finds_the_hub_layer_and_beats_the_null():
    out = get_kind("cross_lingual_gap").score(context("cross_lingual_gap", synthetic_reps()))
    main = out.main_score
    assert main["layer"] == {"text": "layer_1", "speech": "layer_1"}
    assert main["ci_low"] <= main["value"] <= main["ci_high"]
    assert main["value"] > main["null_mean"] + 0.2
    curve = out.scores["curves"]["svcca"]["text"]
    assert [p["layer"] for p in curve] == LAYERS
    assert curve[1]["mean"] > curve[2]["mean"] > curve[0]["mean"]
    pairs = out.scores["pairs"]["cka"]["speech"]["layer_1"]
    assert set(pairs) == {"en_us|de_de", "en_us|es_419", "de_de|es_419"}
    assert all(0 <= p["score"] <= 1 for p in pairs.values())
    # the same durations in every language: length alone "aligns" them perfectly
    assert out.scores["length_baseline"]["speech"]["mean"] == pytest.approx(1.0)


def test_main_score_layer_rules():
    reps = synthetic_reps()
    last = get_kind("cross_lingual_gap").score(context("cross_lingual_gap", reps, layer="last"))
    assert last.main_score["layer"]["text"] == "layer_2"
    mean = get_kind("cross_lingual_gap").score(context("cross_lingual_gap", reps, layer="mean"))
    curve = mean.scores["curves"]["svcca"]["text"]
    speech = mean.scores["curves"]["svcca"]["speech"]
    expected = np.mean([np.mean([p["mean"] for p in curve]), np.mean([p["mean"] for p in speech])])
    assert mean.main_score["value"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="layer_9"):
        get_kind("cross_lingual_gap").score(context("cross_lingual_gap", reps, layer="layer_9"))


def test_cross_modal_reports_modality_against_language_gap():
    # Speech carries less of the shared signal: the modality gap should exceed the language gap.
    out = get_kind("cross_modal_gap").score(
        context("cross_modal_gap", synthetic_reps(modality_shift=0.15))
    )
    assert out.main_score["layer"] == "speech:layer_1|text:layer_1"
    assert out.main_score["value"] > out.main_score["null_mean"]
    rows = out.scores["modality_vs_language_gap"]
    assert len(rows) == len(LAYERS)
    same = out.scores["pairs"]["svcca"]["speech:layer_1|text:layer_1"]["same_language"]
    assert set(same) == set(LANGS)


def test_text_only_model_runs_cross_lingual_on_text():
    out = get_kind("cross_lingual_gap").score(
        context("cross_lingual_gap", synthetic_reps(), modalities=("text",))
    )
    assert set(out.scores["curves"]["svcca"]) == {"text"}


def test_svcca_needs_exactly_one_rule():
    params = get_kind("cross_lingual_gap").params
    with pytest.raises(ValueError, match="exactly one of svcca_k"):
        params(svcca_k=5, svcca_variance=0.9)
    with pytest.raises(ValueError, match="exactly one of svcca_k"):
        params()
    assert params(measures=["cka"]).svcca_k is None


def test_align_layers_by_relative_depth():
    same = align_layers(["a", "b", "c"], ["x", "y", "z"])
    assert same == [("a", "x"), ("b", "y"), ("c", "z")]
    deeper_speech = align_layers(["e", "l1", "l2", "l3", "adaptor"], ["e", "l1", "l2"])
    assert deeper_speech == [("e", "e"), ("l2", "l1"), ("adaptor", "l2")]


def test_residualizing_length_removes_a_length_only_similarity():
    durations = np.random.default_rng(1).uniform(1, 10, N)  # the same as context() uses

    def length_only(lang: str, modality: str) -> Representations:
        local = np.random.default_rng(abs(hash((lang, modality))) % 2**32)
        arrays = [
            np.log(durations)[:, None] * local.normal(size=(1, D)) * 5 + local.normal(size=(N, D))
            for _ in LAYERS
        ]
        return Representations(layers=LAYERS, ids=list(range(N)), array=np.stack(arrays))

    def cka_curve(control: str) -> list[float]:
        ctx = context("cross_lingual_gap", length_only, modalities=("speech",))
        ctx.config.metric.update(length_control=control)
        out = get_kind("cross_lingual_gap").score(ctx)
        return [p["mean"] - p["null_mean"] for p in out.scores["curves"]["cka"]["speech"]]

    assert min(cka_curve("none")) > 0.3  # length alone makes the languages look alike
    assert max(cka_curve("residualize")) < 0.1  # gone once length is regressed out

"""The intervention-transfer kind: a planted shared concept axis transfers (about 1), an axis the
target does not use sits at its null; every side is measured in one unit, so a target at half the
scale transfers as much; a source effect within noise makes the verdict inconclusive, with its
reason; floored and undefined draws are counted; alpha = 0 goes through the hook like every alpha;
steered passes never touch the representation cache; not-applicable paths and bad input before any
model loads; end to end from YAML on tiny Whisper and Llama."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from steer_fixtures import concept_toy, context, model_access, plant_concept, run_options

from benchmark.errors import ConfigError, NotApplicable, UsageError
from benchmark.kinds import ModelAccess, get_kind
from benchmark.kinds.interventions import steered as steered_module
from benchmark.kinds.interventions.report import transfer
from benchmark.kinds.interventions.steered import side_passes
from benchmark.kinds.passes import steering
from benchmark.metrics.statistics import Estimate, choose_layer
from benchmark.models.base import BatchInputs
from benchmark.models.family import Stack
from benchmark.results import read_result
from benchmark.runner import run
from benchmark.taskfiles import load_task

MAIN = {"name": "toy_transfer", "measure": "transfer", "group": "target=de_de:text"}
DE = "source=en_us:text, target=de_de:text"
FR = "source=en_us:text, target=fr_fr:text"
SOURCE = {"language": "en_us", "modality": "text"}
TARGETS = [{"language": "de_de", "modality": "text"}, {"language": "fr_fr", "modality": "text"}]
CONCEPTS = {"by": "category", "toward": "animals", "away_from": "food"}


def toy_metric(**overrides):
    metric = {
        "source": SOURCE,
        "targets": TARGETS,
        "concepts": CONCEPTS,
        "alphas": [0.5, 1.0, 2.0],
        "main_alpha": 1.0,
        "n_null": 39,
        "n_resamples": 30,
    }
    return metric | overrides


def curve_points(out, measure, group):
    (found,) = [c for c in out.curves if c.measure == measure and c.group == group]
    return {p.layer: p for p in found.points}


def score_toy(main=None, toy=None, **metric):
    """The kind on a constructed model (concept_toy(**toy)), main score `main` over MAIN."""
    adapter, probes = concept_toy(**(toy or {}))
    ctx = context(
        "intervention_transfer",
        probes,
        model_access(adapter),
        ["text"],
        MAIN | (main or {}),
        **toy_metric(**metric),
    )
    return get_kind("intervention_transfer").score(ctx)


@pytest.fixture(scope="module")
def toy_result():
    return score_toy()


def test_planted_direction_transfers_and_null_directions_do_not(toy_result):
    out = toy_result
    same_axis = curve_points(out, "transfer", DE)
    other_axis = curve_points(out, "transfer", FR)
    for layer in ("embeddings", "layer_1", "layer_2"):
        point = same_axis[layer]
        assert point.value == pytest.approx(1.0, abs=0.1), layer
        assert abs(point.null_mean) < 0.1  # shuffled-label directions: no transfer
        assert point.ci_low <= point.value <= point.ci_high and point.ci_high - point.ci_low < 0.3
        assert point.p_value < 0.05
        # the target carries the concept on another axis: at its null
        assert abs(other_axis[layer].value) < 0.25 and other_axis[layer].p_value >= 0.05
    main = out.main_score
    assert main.value > main.null_q95 and main.verdict == "above_null"
    assert main.layer.rule == "best" and main.layer.selection
    # the source itself is moved: its effect grows with alpha and its away items flip
    (dose,) = [m for m in out.matrices if m.name == "effect/en_us:text"]
    column = [row[dose.columns.index("layer_1")] for row in dose.values]
    assert dose.rows == ["0", "0.5", "1", "2"] and abs(column[0]) < 1e-6
    assert column[1] < column[2] < column[3]
    flips = curve_points(out, "flips_source", "side=en_us:text")["layer_1"]
    assert flips.value > 0.8 and flips.null_mean < 0.5


def test_an_orthogonal_axis_sits_at_its_null_over_the_layers():
    out = score_toy({"group": "target=fr_fr:text", "layer": "mean"}, targets=TARGETS[1:])
    main = out.main_score
    assert main.layer.rule == "mean" and main.p_value >= 0.05 and main.verdict == "at_null"
    assert abs(main.value) < 0.2 and main.ci_low <= 0.0 <= main.ci_high + 0.05
    assert out.details["source_check"]["clears_null"]  # the source is moved: a real null result


def test_a_target_at_half_the_scale_gets_the_same_transfer():
    """The same steering of a target whose states are half as large moves it by the same
    distance along the same axis: one unit for every side, so the same transfer (each side in
    its own logit spread gave 1.00 -> 2.00 here)."""
    main = {"layer": "mean"}
    same = score_toy(main, targets=TARGETS[:1])
    half = score_toy(main, {"scales": {"de_de": 0.5}}, targets=TARGETS[:1])
    assert same.main_score.value == pytest.approx(1.0, abs=0.05)
    assert half.main_score.value == pytest.approx(same.main_score.value, abs=0.02)
    sides = half.details["sides"]["de_de:text"]["separation_in_source_units"]
    assert sides == pytest.approx([0.5, 0.5], abs=0.02)  # the target's groups ARE half as far
    effect = curve_points(half, "effect_target", "side=de_de:text")["layer_1"].value
    source = curve_points(half, "effect_source", "side=en_us:text")["layer_1"].value
    assert effect == pytest.approx(source, rel=0.03)  # in the source's separation, both sides


def test_a_source_effect_within_noise_is_inconclusive_and_says_why():
    """The source carries no concept: its 'concept direction' moves it no more than directions
    fitted from shuffled labels do, so no transfer can be read, whatever the ratio says."""
    out = score_toy({"layer": "mean"}, {"concept": {"en_us": 0.0}}, targets=TARGETS[:1])
    main = out.main_score
    assert main.verdict == "inconclusive"
    assert "does not clear its null" in main.verdict_reason
    assert "en_us:text" in main.verdict_reason and np.isfinite(main.value)
    check = out.details["source_check"]
    assert not check["clears_null"] and check["p_value"] >= 0.05
    assert check["at"] == "mean over the steering layers"


def test_floored_replicates_are_counted_in_details_and_the_series():
    out = score_toy({"layer": "mean"}, {"concept": {"en_us": 0.0}}, targets=TARGETS[:1])
    counts = out.details["transfer_denominator"]
    assert counts["n_resamples"] == 30
    floored = curve_points(out, "replicates_floored", "side=en_us:text")
    for layer in ("embeddings", "layer_1", "layer_2"):
        assert floored[layer].value == counts[layer]["replicates_floored"]
    assert sum(counts[layer]["replicates_floored"] for layer in floored) > 0
    assert out.main_score.inference.n_resamples == 30 - counts["mean"]["replicates_undefined"]


def test_the_transfer_denominator_is_floored_and_undefined_draws_are_counted():
    null = np.linspace(-0.1, 0.1, 21)  # the source effects of the null's directions: q95 0.09
    source = Estimate(0.5, null, np.array([0.6, 0.05, -0.2, 0.5]))
    target = Estimate(0.25, np.full(21, 0.01), np.array([0.3, 0.3, 0.3, 0.25]))
    got, counts = transfer(target, source)
    assert got.value == pytest.approx(0.5) and got.null == pytest.approx(np.full(21, 0.02))
    assert got.replicates == pytest.approx([0.5, 0.3 / 0.09, 0.3 / 0.09, 0.5])
    assert counts["floor"] == pytest.approx(0.09) and counts["replicates_floored"] == 2
    assert counts["replicates_undefined"] == 0 and not counts["point_floored"]
    # a source effect below the floor: the point is floored too, and says so
    weak, counts = transfer(target, Estimate(0.02, null, None))
    assert weak.value == pytest.approx(0.25 / 0.09) and counts["point_floored"]
    # without null directions and a source effect <= 0: undefined everywhere, and counted
    bad, counts = transfer(target, Estimate(-0.1, None, np.array([0.2, -0.1, 0.3, 0.0])))
    assert np.isnan(bad.value) and np.isnan(bad.replicates).all()
    assert counts["replicates_undefined"] == 4
    good, _ = transfer(target, Estimate(0.5, null, np.array([0.6, 0.4, 0.5, 0.5])))
    best, choice = choose_layer([bad, good], ["a", "b"], "best")
    assert choice["layer"] == "b" and np.isfinite(best.replicates).all()  # nothing from "a"


@pytest.mark.parametrize(
    ("n_null", "p", "verdict"), [(19, 0.05, "inconclusive"), (39, 0.025, "above_null")]
)
def test_enough_null_directions_for_a_verdict(n_null, p, verdict):
    """p = (1 + #as good) / (1 + n_null): 19 directions reach 0.05 at best, which is not below
    0.05 (the source check cannot pass either); the default 39 reach 0.025."""
    out = score_toy({"layer": "mean"}, targets=TARGETS[:1], n_null=n_null)
    assert out.main_score.inference.n_null == n_null
    assert out.main_score.p_value == pytest.approx(p) and out.main_score.verdict == verdict
    assert out.details["source_check"]["p_value"] == pytest.approx(p)


@pytest.mark.parametrize(("null_effects", "rows"), [("exact", 5), ("first_order", 3)])
def test_alpha_zero_goes_through_the_hook_and_is_measured(monkeypatch, null_effects, rows):
    calls, gradient_passes = [], []
    original = steered_module.SteeredPasses.steered
    original_gradients = steered_module.SteeredPasses.gradients

    def spy(self, layer, vectors, read, items=None):
        calls.append(np.asarray(vectors))
        return original(self, layer, vectors, read, items)

    def spy_gradients(self, layer, read, cotangents, items=None):
        gradient_passes.append(layer)
        return original_gradients(self, layer, read, cotangents, items)

    monkeypatch.setattr(steered_module.SteeredPasses, "steered", spy)
    monkeypatch.setattr(steered_module.SteeredPasses, "gradients", spy_gradients)
    out = score_toy(
        targets=TARGETS[:1],
        n_null=3,
        alphas=[1.0],
        n_resamples=0,
        null_effects=null_effects,
        first_order_checks=2,
    )
    # one call per side x fold x steering layer. Exact: alpha 0, 1 and the 3 directions. First
    # order: alpha 1 and the 2 checked directions, alpha 0 being the gradient pass's forward
    # (zero shift through the same replay), the other direction read off its gradient
    assert len(calls) == 2 * 2 * 3 and all(len(v) == rows for v in calls)
    if null_effects == "exact":
        assert gradient_passes == [] and all(np.abs(v[0]).max() == 0 for v in calls)
    else:
        assert len(gradient_passes) == len(calls)
        assert all(np.abs(row).max() > 0 for v in calls for row in v)  # no zero vector
    for name in ("effect/en_us:text", "effect/de_de:text"):
        (dose,) = [m for m in out.matrices if m.name == name]
        assert dose.rows[0] == "0" and all(v is not None and abs(v) < 1e-6 for v in dose.values[0])
    assert all(s["alpha_zero_effect_max_abs"] < 1e-6 for s in out.details["sides"].values())
    assert set(out.details["alpha_zero_max_abs_change"].values()) == {0.0}  # replayed exactly


def test_steered_passes_change_the_steered_layer_and_downstream_only():
    adapter, probes = concept_toy(n_per_group=6, dim=16)
    side = get_kind("intervention_transfer").params(**toy_metric()).source
    passes = side_passes(adapter, probes, side, range(12), "encoder", "mean", 8)
    layers = ["embeddings", "layer_1", "layer_2"]
    base = passes.unsteered(layers)
    vector = np.linspace(-1, 1, 16)
    got = passes.steered("layer_1", np.stack([np.zeros(16), vector]), ["layer_1", "layer_2"])
    assert got.shape == (2, 2, 12, 16)
    np.testing.assert_array_equal(got[0], base[1:])  # the zero vector changes nothing
    np.testing.assert_allclose(got[1, 0] - base[1], np.tile(vector, (12, 1)), atol=1e-5)
    assert np.abs(got[1, 1] - base[2]).max() > 0.5  # downstream: changed
    items = [3, 1]
    part = passes.steered("layer_1", vector[None], ["layer_2"], items)
    np.testing.assert_allclose(part[0, 0], got[1, 1][items], atol=1e-6)  # items in order given
    np.testing.assert_array_equal(passes.unsteered(layers), base)  # no hook left behind


def test_steering_a_config_built_decoder_lm_at_its_embeddings_tap(tiny_llama):
    from benchmark.models import load_adapter

    adapter = load_adapter(str(tiny_llama))
    batch = BatchInputs(modality="text", language="en_us", texts=["The old dog sleeps."])
    base = adapter.forward(batch)
    dim = base["layer_1"].hidden.shape[-1]
    with steering(adapter.layer_module("text", "embeddings"), torch.ones(dim)):
        moved = adapter.forward(batch)
    mask = base["embeddings"].mask
    delta = moved["embeddings"].hidden - base["embeddings"].hidden
    assert torch.allclose(delta[mask], torch.ones(dim), atol=1e-5)
    assert not torch.allclose(moved["layer_2"].hidden, base["layer_2"].hidden)
    again = adapter.forward(batch)
    assert torch.equal(again["layer_2"].hidden, base["layer_2"].hidden)


def test_probe_weight_direction_also_transfers():
    out = score_toy(
        {"layer": "layer_1"},
        {"seed": 1},
        direction="probe",
        targets=TARGETS[:1],
        steer_layers=[0.5],
    )
    assert out.main_score.layer.rule == "fixed" and out.main_score.layer.layer == "layer_1"
    assert out.main_score.value == pytest.approx(1.0, abs=0.25)
    assert out.details["direction"] == "probe"
    assert out.details["source_check"]["at"] == "steering layer layer_1"


# --- not applicable ------------------------------------------------------------------------------


def _no_load():
    raise AssertionError("the model was loaded although the verdict needs no weights")


def test_separate_encoders_without_a_shared_stack_are_not_applicable():
    """Seamless-like stacks: text and speech go through different encoders by default."""
    _, probes = concept_toy(n_per_group=12)
    stacks = {
        "speech_encoder": Stack(("speech",)),
        "text_encoder": Stack(("text",)),
        "text_decoder": Stack(("text", "speech"), head=True),
    }
    access = ModelAccess(
        load=_no_load,
        stacks=stacks,
        default_stacks={"speech": "speech_encoder", "text": "text_encoder"},
    )
    metric = toy_metric(targets=[{"language": "en_us", "modality": "speech"}])
    main = {"name": "x", "measure": "transfer"}
    ctx = context("intervention_transfer", probes, access, ["text", "speech"], main, **metric)
    with pytest.raises(NotApplicable, match="share no stack.*shared would use text_decoder"):
        get_kind("intervention_transfer").score(ctx)
    ctx.params.stack = "decoder"
    with pytest.raises(NotApplicable, match="stack 'decoder' does not, or is not one"):
        get_kind("intervention_transfer").score(ctx)


def test_text_encoder_asked_for_speech_is_not_applicable_without_loading(
    tiny_models, steer_tasks, tmp_path, monkeypatch
):
    monkeypatch.setattr("benchmark.runner.load_adapter", lambda *a, **k: _no_load())
    summary = run(run_options(tiny_models["bert"], tmp_path, tasks="iv_modality"))
    result = summary.results["iv_modality"]
    assert result.status == "not_applicable" and "needs text and speech" in result.reason
    assert not summary.model_loaded


# --- bad input, before any model loads -----------------------------------------------------------

TASK = """\
name: iv_bad
version: 1
kind: intervention_transfer
modalities: [text]
probes: {{source: concepts, languages: [en_us, de_de], n: 200}}
metric:
  source: {{language: en_us, modality: text}}
  targets: [{{language: de_de, modality: text}}]
  concepts: {{by: category, toward: animals, away_from: food}}
  alphas: {alphas}
  main_alpha: {main_alpha}
  steer_layers: {steer}
  read_layer: {read}
main_score: {{name: iv_bad_transfer, {main_fields}}}
"""


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"steer": "[1.5]"}, "metric.steer_layers: relative depth 1.5 is outside [0, 1]"),
        ({"steer": "['layer 3!']"}, "metric.steer_layers: 'layer 3!' is not a layer name"),
        ({"read": "-0.2"}, "metric.read_layer: relative depth -0.2 is outside [0, 1]"),
        ({"alphas": "[]"}, "field `metric.alphas`"),
        ({"alphas": "[0]", "main_alpha": "0"}, "metric.alphas [0.0]: give at least one alpha > 0"),
        ({"main_alpha": "3"}, "metric.main_alpha 3.0 must be one of metric.alphas"),
        ({"steer": "[]"}, "metric.steer_layers: an empty list"),
        ({"main": "{measure: effect_target, group: 'side=en_us:text'}"}, "effect_target is read"),
        ({"main": "{measure: transfer, group: 'target=de_de'}"}, "'target': 'de_de'}: transfer"),
        ({"main": "{measure: transfer, group: de_de}"}, "expected FIELD=VALUE pairs"),
    ],
)
def test_bad_settings_fail_with_one_line_naming_the_field(tmp_path, fields, message):
    values = {"alphas": "[0.5, 1]", "main_alpha": "1", "steer": "all", "read": "last"} | fields
    values["main_fields"] = values.pop("main", "{measure: transfer}")[1:-1]
    path = tmp_path / "iv_bad.yaml"
    path.write_text(TASK.format(**values))
    with pytest.raises(ConfigError) as err:
        load_task(path)
    assert message in str(err.value)


def test_small_concept_groups_fail_before_the_model_loads(
    tiny_models, steer_tasks, tmp_path, monkeypatch
):
    monkeypatch.setattr("benchmark.runner.load_adapter", lambda *a, **k: _no_load())
    settings = {
        "metric.concepts": {"by": "label", "toward": "ANIMAL.dog", "away_from": "FOOD.bread"}
    }
    with pytest.raises(
        UsageError, match=r"metric.concepts: label 'ANIMAL.dog' has \d items.*min_items=10"
    ):
        run(run_options(tiny_models["bert"], tmp_path, tasks="iv_text", task_settings=settings))


def test_a_layer_the_model_lacks_is_named_when_it_loads():
    adapter, probes = concept_toy(n_per_group=12)
    metric = toy_metric(targets=TARGETS[:1], steer_layers=["layer_9"], n_null=0)
    ctx = context("intervention_transfer", probes, model_access(adapter), ["text"], MAIN, **metric)
    with pytest.raises(UsageError, match="metric.steer_layers: Unknown layer 'layer_9'.*layer_1"):
        get_kind("intervention_transfer").score(ctx)


# --- end to end from YAML through the runner -----------------------------------------------------

TASKS = {
    "iv_text": """\
name: iv_text
version: 1
kind: intervention_transfer
modalities: [text]
probes: {source: concepts, languages: [en_us, de_de], n: 200}
metric:
  source: {language: en_us, modality: text}
  targets: [{language: de_de, modality: text}]
  concepts: {by: category, toward: animals, away_from: food}
  steer_layers: [embeddings, layer_1]
  alphas: [1, 4]
  main_alpha: 4
  n_null: 39
  # a steered pass per null direction: at alpha 4 this toy is far from where first-order
  # effects hold (its concept effect: 1.94 exact, 2.18 to first order)
  null_effects: exact
  n_resamples: 20
main_score: {name: iv_text_transfer, measure: transfer, layer: best}
""",
    "iv_modality": """\
name: iv_modality
version: 1
kind: intervention_transfer
modalities: [text, speech]
probes: {source: concepts, languages: [en_us], n: 200}
metric:
  source: {language: en_us, modality: text}
  targets: [{language: en_us, modality: speech}]
  concepts: {by: category, toward: animals, away_from: food}
  stack: shared
  steer_layers: [layer_1]
  alphas: [4]
  main_alpha: 4
  min_items: 6
  n_null: 2
  n_resamples: 20
main_score: {name: iv_modality_transfer, measure: transfer, layer: best}
""",
}


@pytest.fixture
def steer_tasks(tmp_path, monkeypatch):
    directory = tmp_path / "tasks"
    directory.mkdir()
    for name, text in TASKS.items():
        (directory / f"{name}.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("INTERLINGUA_TASKS_DIR", str(directory))
    return directory


def _concept_probes(languages, n=200):
    from benchmark.probes import ProbeSpec, load_probes

    return load_probes(ProbeSpec(source="concepts", languages=tuple(languages), n=n))


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory):
    from tiny_models import build_tiny_decoder_lm

    path = build_tiny_decoder_lm(tmp_path_factory.mktemp("steer") / "llama", "llama")
    return plant_concept(path, _concept_probes(["en_us", "de_de"]), "animals", "food", 3.0)


@pytest.fixture(scope="module")
def planted_whisper(tmp_path_factory):
    from tiny_models import build_tiny_whisper

    path = build_tiny_whisper(tmp_path_factory.mktemp("steer") / "whisper")
    return plant_concept(path, _concept_probes(["en_us", "de_de"]), "animals", "food", 3.0)


def _cache_files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_decoder_lm_end_to_end_and_the_cache_is_untouched(
    tiny_llama, steer_tasks, tmp_path, monkeypatch
):
    # a gap task first fills the cache for the same (language, modality) units
    (steer_tasks / "gap.yaml").write_text(
        "include: "
        + str(Path(__file__).resolve().parent.parent / "tasks" / "_defaults.yaml")
        + "\nname: gap\nversion: 1\nkind: cross_lingual_gap\nmodalities: [text]\n"
        "probes: {source: concepts, languages: [en_us, de_de], n: 40}\n"
        "metric: {svcca_k: 4, n_null: 5, n_resamples: 5}\nmain_score: {name: gap_svcca}\n"
    )
    assert run(run_options(tiny_llama, tmp_path, tasks="gap")).failed == []
    before = _cache_files(tmp_path / "cache")
    assert before

    def refuse(*args, **kwargs):
        raise AssertionError("the intervention kind went through the representation cache")

    monkeypatch.setattr("benchmark.representations.service.RepresentationService.get", refuse)
    monkeypatch.setattr("benchmark.representations.cache.RepresentationCache.save", refuse)
    monkeypatch.setattr("benchmark.representations.cache.RepresentationCache.load", refuse)
    summary = run(run_options(tiny_llama, tmp_path, tasks="iv_text"))
    result = read_result(summary.paths["iv_text"])
    assert result.status == "ok", result.reason
    assert _cache_files(tmp_path / "cache") == before  # nothing written, nothing changed
    main = result.main_score
    assert main.name == "iv_text_transfer" and main.layer.layer in ("embeddings", "layer_1")
    assert main.value > main.null_q95  # the planted axis is shared by English and German
    # on this 3-layer toy every direction transfers (English and German share all of it), so
    # the shuffled-label null reaches ~0.95: the planted axis clears its q95 but sits at p = 0.05
    # with 39 directions; the source check (its own null) is what must clear here
    assert main.p_value <= 0.05 and main.verdict in ("above_null", "at_null")
    assert result.details["source_check"]["clears_null"]
    assert main.inference.n_null == 39 and main.bounds is None
    assert {c.measure for c in result.curves} >= {"transfer", "effect_source", "flips_target"}
    assert {m.name for m in result.matrices} == {
        f"{m}/{s}:text" for m in ("effect", "flips") for s in ("en_us", "de_de")
    }
    assert result.details["stack"] == "decoder" and result.details["read_layer"] == "layer_2"


def test_whisper_decoder_text_to_speech_end_to_end(planted_whisper, steer_tasks, tmp_path):
    """Modality transfer inside one stack: text alone vs. the transcript over its audio."""
    options = run_options(
        planted_whisper, tmp_path, tasks="iv_modality", model_settings={"window": "cropped"}
    )
    summary = run(options)
    result = read_result(summary.paths["iv_modality"])
    assert result.status == "ok", result.reason
    assert result.details["stack"] == "decoder"
    assert result.main_score.group == "source=en_us:text, target=mean"
    assert result.main_score.value == pytest.approx(1.0, abs=0.5)
    # 2 null directions: too few for p < 0.05, so the source check cannot pass: inconclusive
    assert result.main_score.verdict == "inconclusive" and "p = 0.333" in (
        result.main_score.verdict_reason or ""
    )
    assert max(result.details["alpha_zero_max_abs_change"].values()) < 1e-5


def test_seamless_shared_decoder_is_chosen_and_default_stacks_are_not_applicable(
    tiny_models, steer_tasks, tmp_path
):
    """SeamlessM4T: text and speech share only its text decoder (named in the task's stack
    list); with each modality's default stack (separate encoders) nothing is shared."""
    model = tiny_models["seamless_m4t_v2"]
    small = {"limit": 80, "task_settings": {"metric.min_items": 4}}  # 4 to 10 items per group
    summary = run(run_options(model, tmp_path, tasks="iv_modality", **small))
    result = read_result(summary.paths["iv_modality"])
    assert result.status == "ok", result.reason
    assert result.details["stack"] == "text_decoder"
    defaults = run(
        run_options(
            model,
            tmp_path / "defaults",
            tasks="iv_modality",
            task_settings={"metric.stack": None},
        )
    )
    verdict = defaults.results["iv_modality"]
    assert verdict.status == "not_applicable"
    assert "share no stack" in verdict.reason and "text_decoder" in verdict.reason
    assert not defaults.model_loaded


def test_the_first_order_null_is_the_exact_null_where_the_response_is_nearly_linear():
    """The same 19 null directions measured both ways on the constructed model (a nearly linear
    response at main_alpha): every effect and transfer point's null q95 within 0.005 and its
    p-value equal (flip shares within one item); details.first_order says how far the 2 checked
    directions were from their exact effects."""
    exact = score_toy(n_null=19, null_effects="exact", n_resamples=0)
    first = score_toy(n_null=19, null_effects="first_order", first_order_checks=2, n_resamples=0)
    compared = 0
    for ce, cf in zip(exact.curves, first.curves, strict=True):
        assert (ce.measure, ce.group) == (cf.measure, cf.group)
        for pe, pf in zip(ce.points, cf.points, strict=True):
            if pe.null_q95 is None:
                continue
            if ce.measure.startswith("flips"):  # shares of items: one item near its midpoint
                # can cross it either way with the last digits of a pass
                assert pf.null_q95 == pytest.approx(pe.null_q95, abs=0.05), (ce.measure, pe.layer)
                continue
            assert pf.null_q95 == pytest.approx(pe.null_q95, abs=5e-3), (ce.measure, pe.layer)
            assert pf.p_value == pe.p_value, (ce.measure, ce.group, pe.layer)
            compared += 1
    assert compared >= 15
    check = first.details["first_order"]
    assert first.details["null_effects"] == "first_order" and "null_effects" in exact.details
    assert 0 < check["null_checks_max_abs_error"] < 0.01
    side = check["sides"]["en_us:text"]["layer_1"]
    assert len(side["null_checks_exact"]) == len(side["null_checks_first_order"]) == 2
    assert side["concept_first_order"] == pytest.approx(side["concept_exact"], rel=0.05)


def test_every_null_direction_checked_runs_and_says_exact():
    """n_null <= first_order_checks: every direction is steered exactly, and the details and
    the notes both say so (no first-order pass, no details.first_order)."""
    out = score_toy(n_null=3, first_order_checks=4, n_resamples=0)
    assert out.details["null_effects"] == "exact" and "first_order" not in out.details
    assert any("by a steered pass each" in note for note in out.notes)
    first = score_toy(n_null=5, first_order_checks=2, n_resamples=0)
    assert first.details["null_effects"] == "first_order" and "first_order" in first.details
    assert any("to first order" in note for note in first.notes)

"""The one evaluator, directly: curves, the main score's layer choice, verdicts, margins and
not-applicable, on estimates with known draws."""

import numpy as np
import pytest

from benchmark.config import MainScoreConfig, StatsParams
from benchmark.core import Group
from benchmark.errors import NotApplicable, UsageError
from benchmark.evaluation import KindOutput, LayerAxis, Measure, Series, evaluate
from benchmark.metrics.statistics import Estimate

PARAMS = StatsParams(n_null=50, n_resamples=40)
RNG = np.random.default_rng(0)


def estimate(value: float, null_centre: float = 0.2, spread: float = 0.02) -> Estimate:
    return Estimate(
        value,
        RNG.normal(null_centre, 0.02, 50),
        value + RNG.normal(0, spread, 40),
    )


TEXT = Group.of(modality="text")


def output(values, group=TEXT, **series_fields) -> KindOutput:
    names = [f"layer_{i}" for i in range(len(values))]
    axis = LayerAxis.of(names, selectable=series_fields.pop("selectable", None))
    series = Series(group, Measure("svcca"), axis, [estimate(v) for v in values], ("text",))
    for key, value in series_fields.items():
        setattr(series, key, value)
    return KindOutput([series], n=40, null_method="shuffled pairing")


def main(values, layer="best", **fields):
    config = MainScoreConfig(name="score", measure="svcca", layer=layer)
    return evaluate(output(values, **fields), config, {"modality": "text"}, PARAMS).main_score


def test_curves_carry_every_layer_with_interval_null_and_p():
    result = evaluate(
        output([0.3, 0.8, 0.5]),
        MainScoreConfig(name="s", measure="svcca"),
        {"modality": "text"},
        PARAMS,
    )
    (curve,) = result.curves
    assert [p.layer for p in curve.points] == ["layer_0", "layer_1", "layer_2"]
    assert [p.depth for p in curve.points] == [0.0, 0.5, 1.0]
    point = curve.points[1]
    assert point.ci_low < 0.8 < point.ci_high and point.null_q95 < 0.3 and point.p_value < 0.05
    assert curve.group == "modality=text"


def test_best_layer_pays_for_its_choice_and_respects_selectable_layers():
    best = main([0.3, 0.8, 0.5])
    assert best.layer.layer == "layer_1" and best.layer.selection
    assert best.verdict == "above_null" and best.ranked
    # the first layer may not be chosen: the best of the others
    chosen = main([0.9, 0.8, 0.5], selectable=[False, True, True])
    assert chosen.layer.layer == "layer_1" and chosen.value == pytest.approx(0.8)
    # a mean over the selectable layers only
    mean = main([0.9, 0.8, 0.4], layer="mean", selectable=[False, True, True])
    assert mean.value == pytest.approx(0.6) and mean.layer.layer is None


def test_a_score_at_its_null_is_said_to_be():
    flat = main([0.2, 0.2, 0.2])
    assert flat.verdict == "at_null" and flat.p_value > 0.05


def test_margins_over_a_baseline_drawn_on_the_same_draws():
    base = [estimate(0.5, spread=0.0)] * 3
    result = main([0.3, 0.8, 0.5], baselines={"lexical_floor": base, "length_only": 0.1})
    assert result.baselines == {"lexical_floor": 0.5, "length_only": 0.1}
    margin = result.margins["lexical_floor"]
    assert margin.value == pytest.approx(0.3) and margin.ci_low < 0.3 < margin.ci_high


def test_a_verdict_control_at_its_null_keeps_the_score_at_its_null_and_says_why():
    names = ["layer_0", "layer_1"]
    axis = LayerAxis.of(names)

    def control_of(values):
        ests = [estimate(v) for v in values]
        return Series(TEXT, Measure("svcca_controlled"), axis, ests, ("text",), removes="tokens")

    config = MainScoreConfig(name="score", measure="svcca")
    # the score clears its null at layer_1; its control does only at layer_0 (not where it is read)
    gated = evaluate(
        output([0.3, 0.8], verdict_control=control_of([0.8, 0.2])),
        config,
        {"modality": "text"},
        PARAMS,
    ).main_score
    assert gated.p_value < 0.05 and gated.verdict == "at_null"
    assert "svcca_controlled (the same with tokens taken out)" in gated.verdict_reason
    assert "p = " in gated.verdict_reason  # the control's own words: the kind says what it removes
    cleared = evaluate(
        output([0.3, 0.8], verdict_control=control_of([0.2, 0.7])),
        config,
        {"modality": "text"},
        PARAMS,
    ).main_score
    assert cleared.verdict == "above_null" and cleared.verdict_reason is None
    # a score at its null stays there with no reason read from the control
    flat = evaluate(
        output([0.2, 0.2], verdict_control=control_of([0.2, 0.2])),
        config,
        {"modality": "text"},
        PARAMS,
    ).main_score
    assert flat.verdict == "at_null" and flat.verdict_reason is None


def test_a_missing_group_is_not_applicable_with_the_kinds_reason_and_a_bad_layer_an_error():
    out = output([0.3, 0.8])
    out.missing = {"modality=speech": "the model has no speech input"}
    config = MainScoreConfig(name="s", measure="svcca")
    with pytest.raises(NotApplicable, match="no speech input"):
        evaluate(out, config, {"modality": "speech"}, PARAMS)
    with pytest.raises(UsageError, match="layer_9"):
        main([0.3, 0.8], layer="layer_9")


def test_an_inconclusive_result_says_why_and_keeps_its_value():
    out = output([0.3, 0.8])
    out.inconclusive = "the source effect did not clear its own null"
    result = evaluate(
        out, MainScoreConfig(name="s", measure="svcca"), {"modality": "text"}, PARAMS
    ).main_score
    assert result.verdict == "inconclusive" and "source effect" in result.verdict_reason
    assert result.value == pytest.approx(0.8)


def test_descriptive_measures_are_not_ranked():
    out = output([0.1, -0.2])
    out.series[0].measure = Measure("lean", bounds=None, ranked=False, neutral=0.0)
    config = MainScoreConfig(name="s", measure="lean")
    result = evaluate(out, config, {"modality": "text"}, PARAMS).main_score
    assert not result.ranked and result.neutral == 0.0 and result.bounds is None

"""Intervention transfer: does a concept direction found in one language or modality steer the
model on another? (The causal test of the semantic hub: activation addition across inputs.)

Items: the probe sentences of two concept groups (`concepts`: two semantic categories, e.g.
animals vs food, or two concept labels), the same ids in every language (translations). They are
split in two folds, stratified by group; each fold is evaluated with everything fitted on the
other (direction, probes, scales), so no item is both fitted and measured.

Per fold, steering layer L and side (the source, each target; one stack for all):
  - direction v at L from the SOURCE's unsteered pooled states of the fit items: the difference of
    the two groups' means ("mean_difference"), or a logistic probe's weight ("probe"), unit norm;
  - alpha unit: the spread of the source's pooled states at L (sqrt of the mean squared distance
    to their mean) on the fit items: alpha = 1 adds a vector as long as the typical distance of a
    sentence vector from the centroid;
  - read layer R (default: the last): a logistic probe per side, trained on that side's UNSTEERED
    states of the fit items at R (toward-group = 1);
  - steered passes: alpha * unit * v added at L at every position (a forward hook on
    `layer_module`), over the evaluation items; the effect on an item is its probe logit's shift
    toward the steered group, in units of the standard deviation of the side's unsteered logits
    over the evaluation items (a probe's logit scale is arbitrary; its spread is not); a flip: an
    away-group item predicted away unsteered, toward steered.
Transfer = target effect / source effect at the same alpha and layer (and the same for flips).
Controls: alpha = 0 (no change: checked once per side and recorded), and `n_null` random unit
directions at `main_alpha` (the same vector norm): their target effect over the source's concept
effect is the null of the transfer. Intervals: half-samples of the items (ids shared by every
side). Steered passes are never cached (benchmark.kinds.passes).
"""

from __future__ import annotations

import time

from benchmark.evaluation import KindOutput
from benchmark.kinds import Kind, TaskContext, register_kind
from benchmark.kinds.interventions.params import (
    InterventionParams,
    check_config,
    check_probes,
    default_group,
    fit,
)
from benchmark.kinds.interventions.report import report
from benchmark.kinds.interventions.runs import Fold, Run
from benchmark.kinds.passes import shared_stack


def estimate_interventions(ctx: TaskContext) -> KindOutput:
    params: InterventionParams = ctx.params
    sides = [params.source, *params.targets]
    stack = shared_stack(ctx.model, [s.modality for s in sides], params.stack)
    clock = time.perf_counter()
    run = Run(ctx, stack)
    control: dict[str, float] = {}
    for f in (0, 1):
        fold = Fold(run, f)
        fold.steer_all()
        if f == 0:
            control = fold.zero_control()
    extra = {
        "layers": run.layer_details,
        "alpha_zero_max_abs_change": control,
        "item_passes": run.passes.item_passes,
        "seconds_forward_and_fit": round(time.perf_counter() - clock, 2),
    }
    return report(ctx, run, extra)


register_kind(
    Kind(
        name="intervention_transfer",
        description="steer with a concept direction from one language/modality, measure another",
        params=InterventionParams,
        estimate=estimate_interventions,
        default_group=default_group,
        needs="all",
        check_config=check_config,
        check_probes=check_probes,
        fit=fit,
    )
)

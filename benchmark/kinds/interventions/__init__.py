"""Intervention transfer: does a concept direction found in one language or modality steer the
model on another? (The causal test of the semantic hub: activation addition across inputs.)

Items: the probe sentences of two concept groups (`concepts`: two semantic categories, e.g.
animals vs food, or two concept labels), the same ids in every language (translations). They are
split in two folds, stratified by group; each fold is steered with a direction fitted on the
other fold, so no item is both fitted and measured.

Per fold, steering layer L and side (the source, each target; one stack for all):
  - direction v at L from the SOURCE's unsteered pooled states of the fit fold: the difference of
    the two groups' means ("mean_difference"), or a logistic probe's weight ("probe"), unit norm;
  - alpha unit: the spread of the source's pooled states at L on the fit fold;
  - each side's concept axis at the read layer R: the unit vector from its away group's mean to
    its toward group's, on its OWN unsteered states of the evaluation fold (fitted on other items
    than v, so a direction's item content is not credited as concept);
  - one steered call per (side, L) with alpha * unit * v for each alpha (0 included, through the
    hook like the others); the n_null null directions v_k (main_alpha * unit * v_k), each fitted
    like v from the fit fold with its group labels shuffled (draw k: the same shuffle at every
    layer, so its directions relate across layers as v's do), measured to first order by
    default: one backward pass per item gives the gradient of its axis coordinate (below) with
    respect to the steering vector, so every direction costs a dot product; the first
    `first_order_checks` directions are also steered exactly, and their mean remainder (exact -
    first order, per item) is added to the others (`null_effects: exact` steers every one);
  - an item's effect: the shift of its state at R along its side's axis, in units of the
    SOURCE's group separation at R (one unit for every side: a target at another scale is not
    credited with more transfer); a flip: an away-group item on the away side of its side's
    midpoint unsteered, on the toward side steered.
Transfer = mean target effect / max(mean source effect, the source null's 95th percentile), draw
by draw (a source effect within noise cannot inflate it); over steering layers a ratio of means.
The main score is inconclusive when the source effect does not clear its own null at 5 % where
the main score reads. Intervals: half-samples of the items (ids shared by every
side). Steered passes are never cached (benchmark.representations.steering.SteeredPasses: only
the layers above the hook run, every vector of a layer in one tiled pass).
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
from benchmark.kinds.interventions.runs import Run
from benchmark.kinds.passes import shared_stack


def estimate_interventions(ctx: TaskContext) -> KindOutput:
    params: InterventionParams = ctx.params
    sides = [params.source, *params.targets]
    stack = shared_stack(ctx.model, [s.modality for s in sides], params.stack)
    clock = time.perf_counter()
    run = Run(ctx, stack)
    run.run()
    extra = {
        "item_passes": run.item_passes,
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
        # 3: one unit (the source's separation, each side's own axis), floored denominator,
        # ratio of means over layers, source effect checked against its null, alpha 0 measured;
        # 4: the null directions' effects to first order (null_effects), checked exactly
        version="4",
        check_config=check_config,
        check_probes=check_probes,
        fit=fit,
    )
)

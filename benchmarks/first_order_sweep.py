"""What a first-order dose-response would publish, against the exact sweep: from result files of
the intervention-transfer tasks (default: the committed board's), per model and task.

The steering tasks steer their alpha sweep exactly and only their null directions to first order
(docs/tasks/intervention_transfer.md). A first-order sweep would cost no steered pass at all, but
it prints alpha x (the gradient's effect of the concept vector): a straight line through 0, so
effect(2) / effect(1) = 2 and effect(0.5) / effect(1) = 0.5 for every model. This prints what the
exact sweep measured instead: the source side's ratios (mean over the steering layers), and the
largest gap between a published effect and its first-order value (every side, steering layer and
alpha; in the task's effect unit, the source's group separation), with the largest exact effect
for scale. Each result records both values at alpha 1 (`details.first_order.sides`).

    python benchmarks/first_order_sweep.py [RESULTS_DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def sweep_gaps(result: dict) -> dict | None:
    """The exact sweep against its first-order line, or None for a result without one."""
    if result.get("status") != "ok" or "first_order" not in result.get("details", {}):
        return None
    sides = result["details"]["first_order"]["sides"]
    matrices = {m["name"]: m for m in result["matrices"]}
    gaps, largest, ratios = [], 0.0, None
    for n, (side, layers) in enumerate(sides.items()):
        matrix = matrices[f"effect/{side}"]
        alphas = [float(a) for a in matrix["rows"]]
        exact = np.array(matrix["values"], dtype=float)  # [alpha, steering layer]
        linear = np.array([layers[c]["concept_first_order"] for c in matrix["columns"]])
        gaps.append(np.abs(exact - np.outer(alphas, linear)).max())
        largest = max(largest, float(np.abs(exact).max()))
        if n == 0:  # the source: the first side
            one = exact[alphas.index(1.0)]
            ratios = (
                float(np.mean(exact[alphas.index(2.0)] / one)),
                float(np.mean(exact[alphas.index(0.5)] / one)),
            )
    return {"ratios": ratios, "gap": float(max(gaps)), "largest": largest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", default=ROOT / "leaderboard" / "results", type=Path)
    args = parser.parse_args()
    print("first order prints effect(2)/effect(1) = 2.00 and effect(0.5)/effect(1) = 0.50")
    print(f"{'model':56} {'task':36} {'e(2)/e(1)':>9} {'e(.5)/e(1)':>10} {'gap':>6} {'max|e|':>6}")
    by_init: dict[bool, list[float]] = {True: [], False: []}
    for path in sorted(args.results.rglob("*.json")):
        result = json.loads(path.read_text())
        if result.get("task", {}).get("kind") != "intervention_transfer":
            continue
        found = sweep_gaps(result)
        if found is None or found["ratios"] is None:
            continue
        model, init = result["model"]["id"], result["model"].get("init", "pretrained")
        trained = init == "pretrained"
        by_init[trained].append(found["ratios"][0])
        name = model if trained else f"{model} [{init}]"
        two, half = found["ratios"]
        print(
            f"{name:56} {result['task']['name']:36} {two:9.2f} {half:10.2f} "
            f"{found['gap']:6.3f} {found['largest']:6.3f}"
        )
    for trained, values in by_init.items():
        if values:
            label = "trained weights" if trained else "random weights "
            print(f"{label}: source e(2)/e(1) from {min(values):.2f} to {max(values):.2f}")


if __name__ == "__main__":
    main()

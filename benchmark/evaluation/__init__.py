"""Evaluation: what a kind hands over (`series.py`: measures, structured groups, layer axes,
estimates, the task's draws) and the one evaluator that turns it into curves and a main score
(`evaluator.py`), the same way for every kind."""

from benchmark.core import Group, parse_group
from benchmark.evaluation.evaluator import Evaluation, evaluate
from benchmark.evaluation.series import Draws, KindOutput, Measure, Series
from benchmark.layers import LayerAxis

__all__ = [
    "Draws",
    "Evaluation",
    "Group",
    "KindOutput",
    "LayerAxis",
    "Measure",
    "Series",
    "evaluate",
    "parse_group",
]

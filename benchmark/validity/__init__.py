"""The validity suite (docs/validity.md): every shipped task on every known-answer reference
model, through the normal runner, each main score checked against the task's `validity:` block.

`suite` runs and judges (`run_suite` -> `Suite` of `Check`s); `report` writes the table."""

from benchmark.validity.report import markdown, write_table
from benchmark.validity.suite import (
    REFERENCES,
    SIZES,
    Check,
    Sizes,
    Suite,
    judge,
    observed_verdict,
    run_suite,
)

__all__ = [
    "REFERENCES",
    "SIZES",
    "Check",
    "Sizes",
    "Suite",
    "judge",
    "markdown",
    "observed_verdict",
    "run_suite",
    "write_table",
]

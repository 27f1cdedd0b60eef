"""The validity suite: every shipped task on every known-answer model, through the normal runner.

A column is only a benchmark when a model that should lose does lose. Each known-answer reference
model (`known:<name>`, benchmark.models.known*) has a right answer on every task, decided by its
construction and declared in the task's YAML (`validity:` — `ceiling`, and `expect:
{reference: verdict}`). The suite runs each reference through `benchmark.runner.run` like any
model, at small sizes (`SIZES`, recorded in each result's overrides and in the table), and checks
each main score against its expectation:

  ceiling         the value reaches the task's declared `ceiling` (at or above; at or below for a
                  score where lower is better)
  above_null      the main score's verdict: p < 0.05 against its null, in its better direction,
                  and clear of every meaning-free floor that is part of the null (length, signal)
  at_null         any other verdict (an "inconclusive" one counts: it claims nothing)
  neutral         a descriptive score whose interval contains its declared `neutral` value, p >= 0.05
  not_applicable  the result's status is not_applicable

A task or reference with no expectation, an error, or a null too small for p < 0.05 to be
reachable is a failure. `interlingua validity --write docs/validity.md` writes the table.

A floor sits at its null with probability about 1 - 1/(n_null + 1) per check even when the measure
is right: a failure on one seed of the references is a lead; `benchmarks/validity_seeds.py` says
whether it holds over seeds (a systematic failure) or is chance.
"""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.config import TaskConfig
from benchmark.errors import UsageError, did_you_mean
from benchmark.evaluation.evaluator import SIGNIFICANCE
from benchmark.results import TaskResult

log = logging.getLogger(__name__)

REFERENCES = (
    "interlingua",
    "language",
    "word_form",
    "signal",
    "uniform_head",
    "steer_shared",
    "steer_orthogonal",
)
VERDICTS = ("ceiling", "above_null", "at_null", "neutral", "not_applicable")


@dataclass(frozen=True)
class Sizes:
    """How small the suite runs a task: `limit` sentences per language (None: the task's own n)
    and task settings, per task kind (default: `"*"`)."""

    limit: int | None
    settings: dict

    def as_text(self) -> str:
        parts = [f"--limit {self.limit}" if self.limit else "the task's own n"]
        parts += [f"{k}={v}" for k, v in sorted(self.settings.items())]
        return ", ".join(parts)


# Small enough for CI, large enough for p < 0.05 to be reachable (1 / (n_null + 1) < 0.05). The
# steering kinds need their concept groups' items (the whole set: a limit of 40 leaves 2 animal
# sentences), and on these models, whose layers are identities, one steering depth and one alpha
# measure what three would.
SIZES = {
    "*": Sizes(40, {"metric.n_null": 39, "metric.n_resamples": 20}),
    # the lexical floor's retrieval is weak (a few shared names and numbers): at n = 40 or 80 it
    # cleared its null on 2 of 5 reference seeds; on every sentence of the probes (n = 200, the
    # board's size), with 99 null draws, floors and ceiling are tested at the board's power
    "retrieval": Sizes(None, {"metric.n_null": 99, "metric.n_resamples": 20}),
    "intervention_transfer": Sizes(
        None,
        {
            "metric.n_null": 20,
            "metric.n_resamples": 20,
            "metric.steer_layers": [0.5],
            "metric.alphas": [1.0],
        },
    ),
}


@dataclass
class Check:
    """One task x reference: the result's main score against the expected verdict."""

    task: str
    reference: str
    role: str | None
    expected: str | None
    status: str
    observed: str
    ok: bool
    why: str = ""
    value: float | None = None
    ci: tuple[float | None, float | None] = (None, None)
    null_q95: float | None = None
    p_value: float | None = None
    target: float | None = None  # the ceiling or neutral value checked against
    sizes: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.task, self.reference)


@dataclass
class Suite:
    checks: list[Check]
    sizes: dict[str, str] = field(default_factory=dict)  # kind -> sizes used

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def sizes_for(kind: str) -> Sizes:
    return SIZES.get(kind, SIZES["*"])


def observed_verdict(result: TaskResult, ceiling: float | None) -> str:
    """What a result shows, in the suite's words (the first that holds: not_applicable, error,
    ceiling, above_null, neutral, at_null)."""
    if result.status != "ok" or result.main_score is None:
        return result.status
    main = result.main_score
    if ceiling is not None and _reaches(main.value, ceiling, main.higher_is_better):
        return "ceiling"
    if main.p_value is not None and _above(main):
        return "above_null"
    if main.neutral is not None and _contains(main.ci_low, main.ci_high, main.neutral):
        return "neutral"
    if main.p_value is None and not main.ranked:
        return "described"
    return "at_null" if main.p_value is not None else "no_null"


def _above(main) -> bool:
    """The published verdict (it includes the floors that are part of the null); p alone for a
    result written before verdicts were recorded."""
    if main.verdict is not None:
        return main.verdict == "above_null"
    return main.p_value < SIGNIFICANCE


def _reaches(value: float, ceiling: float, higher_is_better: bool) -> bool:
    return value >= ceiling if higher_is_better else value <= ceiling


def _contains(low: float | None, high: float | None, point: float) -> bool:
    return low is not None and high is not None and low <= point <= high


def judge(
    result: TaskResult, expected: str | None, ceiling: float | None, claims: dict | None = None
) -> tuple[bool, str]:
    """(ok, why not) for one result against its expected verdict (and, for a findings result,
    each claim against `claims`)."""
    if expected is None:
        return False, "no expectation declared (validity.expect in the task's YAML)"
    if result.status == "error":
        return False, f"error: {result.reason}"
    if expected == "not_applicable":
        ok = result.status == "not_applicable"
        return ok, "" if ok else "ran, but is expected not to apply"
    if result.status != "ok" or result.main_score is None:
        return False, f"{result.status}: {result.reason}"
    main = result.main_score
    if expected == "described":
        return judge_claims(result, claims or {})
    p = main.p_value
    if p is None and expected != "ceiling":
        return False, "the score has no null (n_null = 0)"
    if expected == "ceiling":
        if ceiling is None:
            return False, "no ceiling declared (validity.ceiling in the task's YAML)"
        ok = _reaches(main.value, ceiling, main.higher_is_better)
        return ok, "" if ok else f"{main.value:.3f} does not reach the ceiling {ceiling}"
    if expected == "above_null":
        ok = _above(main)
        why = f"p = {p:.3f}: does not beat its null ({main.verdict}"
        return ok, "" if ok else why + (f": {main.verdict_reason})" if main.verdict_reason else ")")
    n_null = main.inference.n_null
    if 1 / (n_null + 1) >= SIGNIFICANCE:
        return False, f"n_null = {n_null}: p < {SIGNIFICANCE} is out of reach, nothing is tested"
    if expected == "at_null":
        ok = not _above(main)
        return ok, "" if ok else f"p = {p:.3f}: beats its null"
    if main.neutral is None:
        return False, "the score declares no neutral value (Measure.neutral)"
    inside = _contains(main.ci_low, main.ci_high, main.neutral)
    if inside and p >= SIGNIFICANCE:
        return True, ""
    return False, (
        f"interval [{_num(main.ci_low)}, {_num(main.ci_high)}] vs neutral {main.neutral}, p = {p:.3f}"
    )


def judge_claims(result: TaskResult, claims: dict[str, str]) -> tuple[bool, str]:
    """Every claim named in `claims` (a name or its family before the dot) has its verdict."""
    found = (result.details or {}).get("findings", [])
    wrong = []
    for name, verdict in claims.items():
        hits = [f for f in found if f["claim"] == name or f["claim"].split(".")[0] == name]
        if not hits:
            wrong.append(f"{name}: no such claim in the result")
        wrong += [
            f"{f['claim']}: {f['verdict']}, not {verdict}" for f in hits if f["verdict"] != verdict
        ]
    return not wrong, "; ".join(wrong)


def _num(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def role_of(result: TaskResult) -> str | None:
    from benchmark.models.known import reference_of

    return getattr(result.model, "reference", None) or reference_of(result.model.id)


def check_of(task: TaskConfig, reference: str, result: TaskResult, sizes: Sizes) -> Check:
    expected = task.validity.expect.get(reference)
    ceiling = task.validity.ceiling
    ok, why = judge(result, expected, ceiling, task.validity.claims.get(reference))
    main = result.main_score
    target = ceiling if expected == "ceiling" else main.neutral if main is not None else None
    return Check(
        task=task.name,
        reference=reference,
        role=role_of(result),
        expected=expected,
        status=result.status,
        observed=observed_verdict(result, ceiling),
        ok=ok,
        why=why,
        value=main.value if main is not None else None,
        ci=(main.ci_low, main.ci_high) if main is not None else (None, None),
        null_q95=main.null_q95 if main is not None else None,
        p_value=main.p_value if main is not None else None,
        target=target,
        sizes=sizes.as_text(),
    )


def check_names(tasks: Sequence[str] | None, references: Sequence[str] | None):
    """The task and reference names asked for, checked (UsageError naming the bad one)."""
    from benchmark.taskfiles import task_files

    known_tasks = list(task_files())
    for name in tasks or ():
        if name not in known_tasks:
            raise UsageError("validity --tasks: " + did_you_mean("task", name, known_tasks))
    for name in references or ():
        if name not in REFERENCES:
            raise UsageError(
                "validity --references: " + did_you_mean("reference", name, list(REFERENCES))
            )
    return list(tasks or known_tasks), list(references or REFERENCES)


def run_suite(
    tasks: Sequence[str] | None = None,
    references: Sequence[str] | None = None,
    *,
    output: Path | None = None,
    seed: int = 0,
    progress: bool | None = False,
) -> Suite:
    """Every task on every reference (or those named), each checked; results are written under
    `output` (a temporary folder when None) like any run's."""
    from benchmark.taskfiles import load_task

    task_names, reference_names = check_names(tasks, references)
    configs = {name: load_task(name) for name in task_names}
    by_kind: dict[str, list[str]] = {}
    for name, config in configs.items():
        by_kind.setdefault(config.kind, []).append(name)
    checks: list[Check] = []
    with tempfile.TemporaryDirectory(prefix="interlingua-validity-") as tmp, _one_thread():
        root = Path(output) if output is not None else Path(tmp)
        for reference in reference_names:
            for kind, names in by_kind.items():
                results = _run(reference, names, sizes_for(kind), root, seed, progress)
                checks += [
                    check_of(configs[n], reference, results[n], sizes_for(kind)) for n in names
                ]
    order = {name: i for i, name in enumerate(task_names)}
    checks.sort(key=lambda c: (order[c.task], reference_names.index(c.reference)))
    used = {kind: sizes_for(kind).as_text() for kind in by_kind}
    return Suite(checks, used)


@contextlib.contextmanager
def _one_thread():
    """The references' tensors are small: torch's intra-op threads only add overhead to them
    (five times the time of a [64, 500, 64] check on a busy 2-core machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _run(reference: str, tasks: list[str], sizes: Sizes, root: Path, seed: int, progress):
    from benchmark.runner import RunOptions, run

    opts = RunOptions(
        model=f"known:{reference}",
        tasks=tasks,
        limit=sizes.limit,
        task_settings=dict(sizes.settings),
        model_settings={"seed": seed} if seed else {},
        output=root / "results",
        cache_dir=root / "cache",
        progress=progress,
    )
    log.info("validity: known:%s on %s", reference, ", ".join(tasks))
    return run(opts).results

"""`interlingua compare`: two result folders, task by task and value by value.

Results are paired by model (id, revision, adapter settings, initialisation) and task name —
`match="model-id"` drops the revision (one checkpoint against the next), `match="task"` pairs by
task alone (one model per side). A pair whose task config or probe items differ is compared all
the same and the difference is said in a note.

A value (the main score, each curve point) has *changed* when
  1. |candidate - baseline| > the tolerance for it (absolute; `--tolerance`, or per main-score
     name, measure or task with `--tolerance-for NAME=VALUE`), and
  2. the intervals say the change is real: the candidate value lies outside the baseline's
     interval AND the baseline value lies outside the candidate's. (Non-overlapping intervals
     would be a much stricter test, roughly p < 0.006 for two independent estimates; each value
     outside the other's interval is roughly p < 0.05 when the intervals have similar widths.)
     Where a side has no interval only the other side's is used; with none, the tolerance alone.
A changed value is `improved` or `regressed` by its `higher_is_better`. A value that was a number
in the baseline and is NaN, infinite or missing in the candidate has `regressed`, whatever the
tolerance. Both folders are read through `benchmark.result_sets`: a file whose key its content does
not give is an error here (exit 2), not a skipped file.

Exit status (`Comparison.exit_code`): 1 when a main score regressed or a task disappeared (present
and ok in the baseline, missing or not ok in the candidate); also on a regressed curve point with
`fail_on_curves`. `fail_on="change"` (the golden suite) is exact bookkeeping instead: intervals are
not consulted, intervals and nulls are compared too, and any change, new or missing value fails.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from benchmark.errors import EXIT_OK, EXIT_TASK_FAILED, UsageError
from benchmark.result_sets import ResultSet, load_result_set, settings_text, started
from benchmark.results import Curve, TaskResult

Match = Literal["model", "model-id", "task"]
FailOn = Literal["regression", "change"]
COLUMNS = [
    "model",
    "task",
    "score",
    "baseline",
    "candidate",
    "delta",
    "baseline_ci",
    "candidate_ci",
    "tolerance",
    "verdict",
]
QUIET = {"same", "within tolerance", "not significant", "not applicable"}


@dataclass
class Tolerances:
    default: float = 0.02
    named: dict[str, float] = field(default_factory=dict)  # main score name, measure or task

    def pick(self, *names: str | None) -> float:
        for name in names:
            if name is not None and name in self.named:
                return self.named[name]
        return self.default


@dataclass
class CompareOptions:
    tolerances: Tolerances = field(default_factory=Tolerances)
    match: Match = "model"
    fail_on: FailOn = "regression"
    fail_on_curves: bool = False


@dataclass
class Comparison:
    rows: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # config differences, duplicates, skips
    failures: list[str] = field(default_factory=list)
    n_pairs: int = 0

    @property
    def exit_code(self) -> int:
        return EXIT_TASK_FAILED if self.failures else EXIT_OK

    def table(self, everything: bool = False) -> pd.DataFrame:
        rows = [
            r
            for r in self.rows
            if everything or r["score"].startswith("main") or r["verdict"] not in QUIET
        ]
        return pd.DataFrame(rows, columns=COLUMNS)


# --- pairing -------------------------------------------------------------------------------------


def match_key(result: TaskResult, match: Match) -> tuple:
    m = result.model
    if match == "model":
        return (m.id, m.revision, settings_text(m.settings), m.init, result.task.name)
    if match == "model-id":
        return (m.id, settings_text(m.settings), m.init, result.task.name)
    return (m.is_control, result.task.name)


def model_label(result: TaskResult) -> str:
    m = result.model
    label = f"{m.id}@{m.revision}"
    return label + (f" [{m.init}]" if m.is_control else "")


def _index(
    results: ResultSet, match: Match, side: str, notes: list[str]
) -> dict[tuple, TaskResult]:
    out: dict[tuple, TaskResult] = {}
    for result in results.results:
        key = match_key(result, match)
        other = out.get(key)
        if other is not None:
            if match == "task":
                raise UsageError(
                    f"{side} {results.root}: several models ran task {result.task.name!r} "
                    f"({model_label(other)}, {model_label(result)}); --match task needs one model "
                    "per side: use --match model or model-id"
                )
            keep = result if started(result) >= started(other) else other
            notes.append(
                f"{side}: {model_label(other)} and {model_label(result)} both match "
                f"{result.task.name} under --match {match}; the newest ({model_label(keep)}) is used"
            )
            out[key] = keep
        else:
            out[key] = result
    return out


# --- comparing -----------------------------------------------------------------------------------


def compare_folders(baseline: Path, candidate: Path, opts: CompareOptions) -> Comparison:
    # compare vouches for what it compares: a file whose key its content does not give is an
    # error here (the leaderboard and `results list` skip it with a warning)
    base = load_result_set(baseline, "--baseline", refuse_mismatched=True)
    cand = load_result_set(candidate, "--candidate", refuse_mismatched=True)
    return compare_sets(base, cand, opts)


def compare_sets(base: ResultSet, cand: ResultSet, opts: CompareOptions) -> Comparison:
    out = Comparison()
    out.notes += [f"baseline {line}" for line in base.log]
    out.notes += [f"candidate {line}" for line in cand.log]
    b_index = _index(base, opts.match, "baseline", out.notes)
    c_index = _index(cand, opts.match, "candidate", out.notes)
    strict = opts.fail_on == "change"
    for key in sorted(set(b_index) | set(c_index), key=lambda k: json.dumps(k, default=str)):
        b, c = b_index.get(key), c_index.get(key)
        if c is None:
            assert b is not None
            _lost(out, b, "missing in the candidate", fail=b.status == "ok" or strict)
            continue
        if b is None:
            _row(out, c, "(task)", None, None, None, "new")
            if strict:
                out.failures.append(f"{model_label(c)} {c.task.name}: new in the candidate")
            continue
        out.n_pairs += 1
        _compare_pair(out, b, c, opts)
    return out


def _lost(out: Comparison, b: TaskResult, why: str, fail: bool) -> None:
    _row(out, b, "(task)", None, None, None, "missing")
    if fail:
        out.failures.append(f"{model_label(b)} {b.task.name}: {why}")


def _compare_pair(out: Comparison, b: TaskResult, c: TaskResult, opts: CompareOptions) -> None:
    strict = opts.fail_on == "change"
    label = model_label(c)
    if b.model.revision != c.model.revision or b.model.weights_sha256 != c.model.weights_sha256:
        out.notes.append(
            f"{label} {c.task.name}: compared with {model_label(b)} "
            f"(weights {str(b.model.weights_sha256)[:12]} -> {str(c.model.weights_sha256)[:12]})"
        )
    if b.task.config_sha256 != c.task.config_sha256:
        diffs = config_differences(b.task.config, c.task.config)
        out.notes.append(
            f"{label} {c.task.name}: task configs differ ({'; '.join(diffs) or 'hash only'}); "
            "numbers compared all the same"
        )
        if strict:
            out.failures.append(f"{label} {c.task.name}: task config differs")
    if (b.probes and c.probes) and b.probes.ids_sha256 != c.probes.ids_sha256:
        out.notes.append(f"{label} {c.task.name}: the probe items differ")
    if b.status != "ok" or c.status != "ok":
        if b.status == c.status:
            _row(out, c, "(task)", None, None, None, _status_word(c.status))
        elif b.status == "ok":
            _lost(out, b, f"{c.status} in the candidate: {c.reason}", fail=True)
        else:
            _row(out, c, "(task)", None, None, None, f"now {c.status}")
            if strict:
                out.failures.append(f"{label} {c.task.name}: {b.status} -> {c.status}")
        return
    tol = opts.tolerances
    bs, cs = b.main_score, c.main_score
    if bs is None or cs is None:
        if bs is not None:
            _lost(out, b, "main score missing in the candidate", fail=True)
        return
    t = tol.pick(cs.name, cs.measure, c.task.name)
    verdict = _judge(bs, cs, t, cs.higher_is_better, strict)
    _row(out, c, f"main:{cs.name}", bs, cs, t, verdict)
    _count(out, verdict, f"{label} {c.task.name} main score {cs.name}", strict, True)
    if strict:
        _compare_fields(out, c, f"main:{cs.name}", bs, cs, t)
    _compare_curves(out, b, c, opts)


def _compare_curves(out: Comparison, b: TaskResult, c: TaskResult, opts: CompareOptions) -> None:
    strict = opts.fail_on == "change"
    label = model_label(c)
    b_points = dict(_points(b.curves))
    c_points = dict(_points(c.curves))
    for key in [k for k in b_points if k not in c_points] + [
        k for k in c_points if k not in b_points
    ]:
        gone = key in b_points
        name = _point_name(key)
        _row(out, c, name, None, None, None, "missing" if gone else "new")
        if strict or (gone and opts.fail_on_curves):
            out.failures.append(f"{label} {c.task.name} {name}: {'missing' if gone else 'new'}")
    for key, (curve, bp) in b_points.items():
        if key not in c_points:
            continue
        _, cp = c_points[key]
        t = opts.tolerances.pick(curve.measure, c.task.name)
        verdict = _judge(bp, cp, t, curve.higher_is_better, strict)
        name = _point_name(key)
        _row(out, c, name, bp, cp, t, verdict)
        _count(out, verdict, f"{label} {c.task.name} {name}", strict, opts.fail_on_curves)
        if strict:
            _compare_fields(out, c, name, bp, cp, t)


def _points(curves: Iterable[Curve]):
    for curve in curves:
        for point in curve.points:
            yield (curve.measure, curve.group, curve.stack, point.layer), (curve, point)


def _point_name(key: tuple) -> str:
    measure, group, stack, layer = key
    return f"{measure}/{group}@{(stack + ':') if stack else ''}{layer}"


def _count(out: Comparison, verdict: str, what: str, strict: bool, counts: bool) -> None:
    """A regression fails when this kind of value counts; in golden mode any change fails."""
    moved = verdict in ("improved", "regressed", "changed", "missing", "new")
    if (strict and moved) or (counts and verdict == "regressed"):
        out.failures.append(f"{what}: {verdict}")


def _judge(b, c, tolerance: float, higher_is_better: bool, strict: bool) -> str:
    bv, cv = b.value, c.value
    if _defined(bv) and not _defined(cv):
        return "regressed"  # a number became NaN, infinite or none: a broken checkpoint fails
    if bv is None or cv is None:
        return "same" if bv is cv else ("missing" if cv is None else "new")
    if any(map(_bad, (bv, cv))):
        return "same" if _same(bv, cv) else "changed"
    delta = cv - bv
    if delta == 0:
        return "same"
    if abs(delta) <= tolerance:
        return "within tolerance"
    if not strict and not intervals_say_real(b, c):
        return "not significant"
    return "improved" if (delta > 0) == higher_is_better else "regressed"


def intervals_say_real(b, c) -> bool:
    """Each value lies outside the other's interval (a side without one is not consulted)."""
    checks = []
    if b.ci_low is not None and b.ci_high is not None:
        checks.append(not (b.ci_low <= c.value <= b.ci_high))
    if c.ci_low is not None and c.ci_high is not None:
        checks.append(not (c.ci_low <= b.value <= c.ci_high))
    return all(checks)


def _compare_fields(out: Comparison, c: TaskResult, name: str, b_obj, c_obj, tol: float) -> None:
    """Golden mode: the interval and the null must stay put too."""
    for attr in ("ci_low", "ci_high", "null_mean", "null_q95"):
        bv, cv = getattr(b_obj, attr, None), getattr(c_obj, attr, None)
        if bv is None and cv is None:
            continue
        same = bv is not None and cv is not None and (_same(bv, cv) or abs(cv - bv) <= tol)
        if not same:
            _row(out, c, f"{name}.{attr}", _V(bv), _V(cv), tol, "changed")
            out.failures.append(f"{model_label(c)} {c.task.name} {name}.{attr}: changed")


@dataclass
class _V:
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None


def _row(out: Comparison, result: TaskResult, name: str, b, c, tol, verdict: str) -> None:
    bv = getattr(b, "value", None)
    cv = getattr(c, "value", None)
    out.rows.append(
        {
            "model": model_label(result),
            "task": result.task.name,
            "score": name,
            "baseline": bv,
            "candidate": cv,
            "delta": (cv - bv) if bv is not None and cv is not None else None,
            "baseline_ci": _ci(b),
            "candidate_ci": _ci(c),
            "tolerance": tol,
            "verdict": verdict,
        }
    )


def _ci(obj) -> str:
    low, high = getattr(obj, "ci_low", None), getattr(obj, "ci_high", None)
    return f"[{low:.4f}, {high:.4f}]" if low is not None and high is not None else ""


def _defined(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def _bad(x: float) -> bool:
    return math.isnan(x) or math.isinf(x)


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def _status_word(status: str) -> str:
    return "not applicable" if status == "not_applicable" else status


def config_differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    """`metric.svcca_k: 4 -> 5` for every leaf that differs."""
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key, "(unset)"), b.get(key, "(unset)")
        name = f"{prefix}{key}"
        if isinstance(va, dict) and isinstance(vb, dict):
            out += config_differences(va, vb, name + ".")
        elif va != vb:
            out.append(f"{name}: {json.dumps(va, default=str)} -> {json.dumps(vb, default=str)}")
    return out


# --- output ------------------------------------------------------------------------------------


def render(comparison: Comparison, fmt: str = "text", everything: bool = False) -> str:
    table = comparison.table(everything)
    shown = table.copy()
    for col in ("baseline", "candidate", "tolerance"):
        shown[col] = shown[col].map(lambda x: "" if x is None or pd.isna(x) else f"{x:.4f}")
    shown["delta"] = shown["delta"].map(lambda x: "" if x is None or pd.isna(x) else f"{x:+.4f}")
    if fmt == "csv":
        return table.to_csv(index=False)
    if fmt == "markdown":
        head = "| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"
        body = "".join(
            "| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |\n"
            for row in shown.itertuples(index=False)
        )
        text = head + body
    else:
        text = shown.to_string(index=False) if len(shown) else "(nothing to compare)"
    lines = [text, ""]
    lines += [f"note: {n}" for n in comparison.notes]
    verdicts = pd.Series([r["verdict"] for r in comparison.rows]).value_counts().to_dict()
    counts = ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items()))
    lines.append(f"{comparison.n_pairs} task result(s) paired; values: {counts or 'none'}")
    if comparison.failures:
        lines.append(f"FAILED: {len(comparison.failures)} problem(s)")
        lines += [f"  - {f}" for f in comparison.failures[:50]]
        if len(comparison.failures) > 50:
            lines.append(f"  ... and {len(comparison.failures) - 50} more")
    else:
        lines.append("OK: no regression, no task lost")
    return "\n".join(lines)

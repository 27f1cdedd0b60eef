"""Results -> tables (pandas): one row per result (the download), and the main table (one row per
model, revision, settings and initialisation; one column per main-score name).

Nothing here knows a task kind: every column, curve and heatmap comes from the shared schema
(`TaskResult.main_score`, `.curves`, `.matrices`).
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from benchmark.fileio import slug
from benchmark.result_sets import ResultSet, row_identity, settings_text
from benchmark.results import TaskResult

UNSPECIFIED = "unspecified"
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
OFFLINE_REVISION = re.compile(r"^offline:([A-Za-z0-9][A-Za-z0-9_.-]*)==(\S+)$")
NO_SCORE = "no score"  # status of a cell whose result finished without a finite main score


@dataclass
class Row:
    """A leaderboard row: one model at one revision with one set of settings and init."""

    row_id: str
    model: str
    revision: str
    settings: dict
    init: str
    control: bool
    modalities: list[str]
    family: str
    n_parameters: int | None
    results: dict[str, TaskResult] = field(default_factory=dict)  # task name -> result
    submission: dict | None = None  # the matching submission's fields, when given
    score: float | None = None  # ordering within charts: the row's mean main score
    color: str = "#888"
    origin: str = ""  # hub | local | offline-asset | random-init | reference
    # a known-answer reference model ("ceiling", "floor:language", ...): its own band
    reference: str | None = None
    pair: str = ""  # the row_id of the trained model a control row belongs to (itself otherwise)
    show_revision: bool = False  # another row has the same model at another revision

    @property
    def hub_url(self) -> str | None:
        """The model card on the Hub, where the id is a Hub id (not a local path or a
        known-answer reference)."""
        if self.reference is not None or not HUB_ID.match(self.model):
            return None
        if self.origin not in ("hub", "offline-asset", "random-init", ""):
            return None
        return f"https://huggingface.co/{self.model}"

    @property
    def offline_package(self) -> tuple[str, str] | None:
        """(distribution, version) of an `offline:<dist>==<version>` revision: weights that came
        from a package registry rather than the Hub (docs/models.md#offline-models)."""
        match = OFFLINE_REVISION.match(self.revision)
        return (match.group(1), match.group(2)) if match else None

    @property
    def page(self) -> str:
        return f"models/{slug(self.model)[:80]}--{self.row_id}.html"

    @property
    def settings_label(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in sorted(self.settings.items()))

    @property
    def language_group(self) -> str:
        return (self.submission or {}).get("language_group") or UNSPECIFIED

    @property
    def modality_label(self) -> str:
        return "+".join(sorted(self.modalities)) or "?"

    @property
    def short_revision(self) -> str:
        return self.revision[:10] if len(self.revision) == 40 else self.revision

    @property
    def kind_label(self) -> str:
        """What the row is, in words: a trained model, its random-weights control, a reference."""
        if self.reference is not None:
            return f"reference: {self.reference}"
        return f"control: {self.init}" if self.control else "trained"

    @property
    def params_label(self) -> str:
        n = self.n_parameters
        if not n:
            return ""
        return (
            f"{n / 1e9:.1f}B" if n >= 1e9 else f"{n / 1e6:.0f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"
        )

    @property
    def label(self) -> str:
        """The model id; its revision only where another row has the same model at another one
        (then whole unless it is a commit hash); the init of a control."""
        rev = f"@{self.short_revision}" if self.show_revision else ""
        return f"{self.model}{rev}" + (f" ({self.init})" if self.control else "")


def row_id(result: TaskResult) -> str:
    blob = "\x1f".join(row_identity(result)).encode()
    return hashlib.sha256(blob).hexdigest()[:10]


def build_rows(results: ResultSet, submissions: list | None = None) -> list[Row]:
    rows: dict[str, Row] = {}
    for result in results.results:
        rid = row_id(result)
        m = result.model
        row = rows.get(rid)
        if row is None:
            row = rows[rid] = Row(
                row_id=rid,
                model=m.id,
                revision=m.revision,
                settings=dict(m.settings),
                init=m.init,
                control=m.is_control,
                modalities=sorted(m.modalities),
                family=m.family,
                n_parameters=m.n_parameters,
                origin=m.origin,
                reference=m.reference,
            )
        row.results[result.task.name] = result
        row.n_parameters = row.n_parameters or m.n_parameters
    for row in rows.values():
        scores = [
            r.main_score.value
            for r in row.results.values()
            if r.status == "ok"
            and r.main_score
            and r.main_score.ranked
            and _finite(r.main_score.value)
        ]
        row.score = sum(scores) / len(scores) if scores else None
        row.submission = match_submission(row, submissions or [])
    revisions: dict[str, set[str]] = {}
    for row in rows.values():
        revisions.setdefault(row.model, set()).add(row.revision)
    for row in rows.values():
        row.show_revision = len(revisions[row.model]) > 1
    pair_controls(list(rows.values()))
    return sorted(rows.values(), key=lambda r: (r.model, r.revision, r.init, r.row_id))


def pair_controls(rows: list[Row]) -> None:
    """Each control row joins the trained row of the same model, revision and settings (its
    `pair` is that row's id); a control without one, and every other row, is its own pair."""
    trained = {
        (r.model, r.revision, r.settings_label): r.row_id
        for r in rows
        if not r.control and r.reference is None
    }
    for r in rows:
        key = (r.model, r.revision, r.settings_label)
        r.pair = trained.get(key, r.row_id) if r.control else r.row_id


def match_submission(row: Row, submissions: list) -> dict | None:
    """The submission that names this row (model, revision, init; its settings a subset)."""
    best, best_n = None, -1
    for sub in submissions:
        init = "pretrained" if sub.random_init is None else f"random(seed={sub.random_init})"
        if (sub.model, sub.revision, init) != (row.model, row.revision, row.init):
            continue
        if any(row.settings.get(k) != v for k, v in sub.model_settings.items()):
            continue
        if len(sub.model_settings) > best_n:
            best, best_n = sub, len(sub.model_settings)
    if best is None:
        return None
    fields = best.model_dump(mode="json", exclude={"maintainer_approval"})
    return fields | {"language_group": best.language_group}


def no_score_reason(r: TaskResult) -> str:
    """Why a finished result has no number to show (a broken checkpoint, a bug in a kind)."""
    s = r.main_score
    what = "no main score recorded" if s is None else f"main score {s.name} is {s.value}"
    why = r.reason or (s.verdict_reason if s is not None else None)
    return f"{what}" + (f": {why}" if why else "; see the result's notes")


def _finite(x) -> bool:
    return x is not None and not (isinstance(x, float) and (math.isnan(x) or math.isinf(x)))


# --- the long table (download) -------------------------------------------------------------------


def long_table(rows: list[Row]) -> pd.DataFrame:
    """One row per result: who, what, the main score with interval and null, how to redo it."""
    records = []
    for row in rows:
        for task, r in sorted(row.results.items()):
            s = r.main_score
            records.append(
                {
                    "model": row.model,
                    "revision": row.revision,
                    "settings": settings_text(row.settings),
                    "init": row.init,
                    "control": row.control,
                    "family": row.family,
                    "modalities": row.modality_label,
                    "language_group": row.language_group,
                    "n_parameters": row.n_parameters,
                    "task": task,
                    "task_version": r.task.version,
                    "kind": r.task.kind,
                    "config_sha256": r.task.config_sha256,
                    "status": r.status,
                    "reason": r.reason,
                    "score_name": s.name if s else None,
                    "measure": s.measure if s else None,
                    "group": s.group if s else None,
                    "value": s.value if s else None,
                    "ci_low": s.ci_low if s else None,
                    "ci_high": s.ci_high if s else None,
                    "null_mean": s.null_mean if s else None,
                    "null_q95": s.null_q95 if s else None,
                    "p_value": s.p_value if s else None,
                    "higher_is_better": s.higher_is_better if s else None,
                    "layer": s.layer.layer if s else None,
                    "layer_rule": s.layer.rule if s else None,
                    "depth": s.layer.depth if s else None,
                    "probes": r.probes.name if r.probes else None,
                    "probes_revision": r.probes.revision if r.probes else None,
                    "languages": ",".join(r.probes.languages) if r.probes else None,
                    "n": r.probes.n if r.probes else None,
                    "started": r.run.started,
                    "command": r.run.command,
                    "key": r.key,
                    "schema_version": r.schema_version,
                }
            )
    table = pd.DataFrame.from_records(records)
    for col in ("value", "ci_low", "ci_high", "null_mean", "null_q95", "p_value", "depth"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype("float64")
    table["n_parameters"] = table["n_parameters"].astype("Int64")
    table["n"] = table["n"].astype("Int64")
    return table


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """A text cell a spreadsheet would run as a formula (`=HYPERLINK(...)` as a model id), with a
    leading `'` so it is shown as text; numbers and other text unchanged (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_downloads(table: pd.DataFrame, folder: Path) -> dict[str, Path]:
    """The CSV is for spreadsheets (formula-like text neutralised); the Parquet keeps every value
    as it is in the results, for programs."""
    folder.mkdir(parents=True, exist_ok=True)
    csv, parquet = folder / "results.csv", folder / "results.parquet"
    text = [c for c in table.columns if pd.api.types.is_string_dtype(table[c].dtype)]
    safe = table.assign(**{c: table[c].map(spreadsheet_safe) for c in text})
    safe.to_csv(csv, index=False)
    table.to_parquet(parquet, index=False)
    return {"csv": csv, "parquet": parquet}


# --- the main table ------------------------------------------------------------------------------


@dataclass
class Column:
    name: str  # main-score name
    tasks: list[str]
    higher_is_better: bool = True


def columns(table: pd.DataFrame) -> list[Column]:
    """One column per main-score name, in task order."""
    named = table.dropna(subset=["score_name"])
    out = []
    for name, group in named.groupby("score_name", sort=False):
        hib = group["higher_is_better"].dropna()
        out.append(
            Column(
                name=str(name),
                tasks=sorted(group["task"].unique()),
                higher_is_better=bool(hib.iloc[0]) if len(hib) else True,
            )
        )
    return sorted(out, key=lambda c: (c.tasks[0], c.name))


def cell(row: Row, column: Column) -> dict:
    """What the main table shows for `row` under `column`: value, interval, null; or why not."""
    for task in column.tasks:
        r = row.results.get(task)
        if r is None:
            continue
        s = r.main_score
        if r.status != "ok":
            return {"status": r.status, "reason": r.reason or r.status, "task": task}
        if s is None or not _finite(s.value):
            return {"status": NO_SCORE, "reason": no_score_reason(r), "task": task, "layer": None}
        if s.name != column.name:
            continue
        above = None
        if _finite(s.value) and s.null_q95 is not None:
            above = s.value > s.null_q95 if s.higher_is_better else s.value < s.null_q95
        return {
            "status": "ok",
            "task": task,
            "value": s.value if _finite(s.value) else None,
            "ci_low": s.ci_low,
            "ci_high": s.ci_high,
            "null_mean": s.null_mean,
            "null_q95": s.null_q95,
            "p_value": s.p_value,
            "above_null": above,
            "layer": s.layer.layer or s.layer.rule,
        }
    return {"status": "missing", "reason": "not run", "task": column.tasks[0]}

"""The main table's model (index.html): task-group tabs, a documented aggregate and rank per group,
control rows paired with their trained model, margins over the control, modality filters.

Tabs group the columns by task kind. That is the one place the board names kinds, and only to
arrange columns: a kind it does not list lands in the "other" tab with its columns intact.

The aggregate of a group (its `group score`) is the mean, over the group's ranked public columns
(`main_score.ranked`; descriptive columns and held-out `[split]` columns never count), of each
score normalised to [0, 1] by its measure's bounds (flipped where lower is better; a measure
without finite bounds by the min and max over the board's rows), for rows that have all of those
columns. A row missing any of them has no group score, and says which it lacks. Trained models
are ranked by it (ties share a rank); controls and reference rows show it without a rank.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from benchmark.fileio import slug
from leaderboard.data import Column, Row, cell

TABS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("gaps", "Gaps", ("cross_lingual_gap", "cross_modal_gap")),
    ("retrieval", "Retrieval", ("retrieval",)),
    ("concepts", "Concepts", ("concept_purity",)),
    ("steering", "Steering", ("intervention_transfer",)),
    ("lens", "Logit lens", ("logit_lens",)),
    ("findings", "Findings", ("findings",)),
)
OTHER = ("other", "Other tasks")
KIND_TAB = {kind: tab for tab, _, kinds in TABS for kind in kinds}
SPLIT_COLUMN = re.compile(r" \[[a-z][a-z0-9_-]*\]$")  # a held-out split's column (splits.py)
AGGREGATE_TEXT = (
    "the mean, over the group's ranked columns, of each score normalised to [0, 1] by its "
    "measure's bounds (flipped where lower is better), for models that have every one of those "
    "columns"
)


@dataclass
class BoardColumn:
    """A score column of the main table with what the page needs to show, sort and rank it."""

    column: Column
    key: str  # the id in the URL (`sort=`) and in the cells' classes
    tab: str
    kind: str
    measure: str
    ranked: bool
    bounds: tuple[float, float] | None
    held_out: bool
    low: float | None = None  # the board's min and max, for measures without bounds
    high: float | None = None

    @property
    def name(self) -> str:
        return self.column.name

    @property
    def higher_is_better(self) -> bool:
        return self.column.higher_is_better

    @property
    def arrow(self) -> str:
        if not self.ranked:
            return "·"  # descriptive: no better direction
        return "↑" if self.higher_is_better else "↓"

    @property
    def direction(self) -> str:
        if not self.ranked:
            return "descriptive: not ranked, read against its null"
        return "higher is better" if self.higher_is_better else "lower is better"

    def normalised(self, value: float) -> float:
        lo, hi = self.bounds if self.bounds else (self.low, self.high)
        if lo is None or hi is None or hi <= lo:
            return 0.5
        t = min(max((value - lo) / (hi - lo), 0.0), 1.0)
        return t if self.higher_is_better else 1.0 - t


@dataclass
class Tab:
    key: str
    label: str
    columns: list[BoardColumn] = field(default_factory=list)

    @property
    def ranked(self) -> list[BoardColumn]:
        return [c for c in self.columns if c.ranked and not c.held_out]


@dataclass
class GroupScore:
    value: float | None
    rank: int | None = None
    why: str = ""  # why there is no value (or no rank)
    margin: float | None = None  # the trained model's group score minus its control's
    has: int = 0  # of the group's ranked columns, how many the row has
    needs: int = 0


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def board_columns(cols: list[Column], rows: list[Row]) -> list[BoardColumn]:
    out = []
    for c in cols:
        first = next(
            (
                r.results[t]
                for r in rows
                for t in c.tasks
                if t in r.results and r.results[t].main_score is not None
            ),
            None,
        )
        ms = first.main_score if first else None
        kind = first.task.kind if first else ""
        bounds = tuple(ms.bounds) if ms is not None and ms.bounds is not None else None
        if bounds is not None and not all(map(_finite, bounds)):
            bounds = None
        bc = BoardColumn(
            column=c,
            key=slug(c.name)[:80],
            tab=KIND_TAB.get(kind, OTHER[0]),
            kind=kind,
            measure=ms.measure if ms else "",
            ranked=bool(ms.ranked) if ms is not None else False,
            bounds=bounds,  # type: ignore[arg-type]
            held_out=bool(SPLIT_COLUMN.search(c.name)),
        )
        values = [v for r in rows if r.reference is None for v in [_value(r, c)] if v is not None]
        if values:
            bc.low, bc.high = min(values), max(values)
        out.append(bc)
    return out


def _value(row: Row, column: Column) -> float | None:
    x = cell(row, column)
    v = x.get("value") if x.get("status") == "ok" else None
    return v if _finite(v) else None


def tabs(columns: list[BoardColumn]) -> list[Tab]:
    """The tabs that have columns, in TABS order, then "other"."""
    out = []
    for key, label, _ in (*TABS, (*OTHER, ())):
        cols = [c for c in columns if c.tab == key]
        if cols:
            out.append(Tab(key, label, cols))
    return out


def group_scores(tab: Tab, rows: list[Row]) -> dict[str, GroupScore]:
    """Each row's group score for `tab` and each trained model's rank (module docstring)."""
    ranked = tab.ranked
    scores: dict[str, GroupScore] = {}
    for row in rows:
        if not ranked:
            scores[row.row_id] = GroupScore(None, why="this group has no ranked column")
            continue
        values = {c.name: _value(row, c.column) for c in ranked}
        lacking = [name for name, v in values.items() if v is None]
        if lacking:
            why = f"no group score: lacks {', '.join(lacking)} (has {len(ranked) - len(lacking)} of {len(ranked)})"
            has = len(ranked) - len(lacking)
            scores[row.row_id] = GroupScore(None, why=why, has=has, needs=len(ranked))
            continue
        normed = [c.normalised(values[c.name]) for c in ranked]  # type: ignore[arg-type]
        scores[row.row_id] = GroupScore(
            sum(normed) / len(normed), has=len(ranked), needs=len(ranked)
        )
    contenders = sorted(
        (
            (s.value, r.row_id)
            for r in rows
            for s in [scores[r.row_id]]
            if s.value is not None and not r.control and r.reference is None
        ),
        reverse=True,
    )
    rank, previous = 0, None
    for i, (value, row_id) in enumerate(contenders, start=1):
        if previous is None or value < previous - 1e-12:
            rank = i
        scores[row_id].rank, previous = rank, value
    for row in rows:
        s = scores[row.row_id]
        if s.value is not None and s.rank is None:
            s.why = "controls and reference rows are not ranked"
    _group_margins(scores, rows)
    return scores


def _group_margins(scores: dict[str, GroupScore], rows: list[Row]) -> None:
    controls: dict[str, list[float]] = {}
    for r in rows:
        v = scores[r.row_id].value
        if r.control and r.pair != r.row_id and v is not None:
            controls.setdefault(r.pair, []).append(v)
    for r in rows:
        s = scores[r.row_id]
        if not r.control and s.value is not None and r.row_id in controls:
            floor = controls[r.row_id]
            s.margin = s.value - sum(floor) / len(floor)


def margins(rows: list[Row], columns: list[BoardColumn]) -> dict[str, dict[str, float]]:
    """row_id -> column key -> the trained model's score minus its control's (the mean over its
    control seeds), where both have a value."""
    by_pair: dict[str, list[Row]] = {}
    for r in rows:
        if r.control and r.pair != r.row_id:
            by_pair.setdefault(r.pair, []).append(r)
    out: dict[str, dict[str, float]] = {}
    for r in rows:
        controls = by_pair.get(r.row_id)
        if r.control or not controls:
            continue
        for c in columns:
            v = _value(r, c.column)
            floor = [x for x in (_value(k, c.column) for k in controls) if x is not None]
            if v is not None and floor:
                out.setdefault(r.row_id, {})[c.key] = v - sum(floor) / len(floor)
    return out


@dataclass
class Pair:
    """A trained model and its control rows (or a lone control, or a reference row)."""

    lead: Row
    controls: list[Row]

    @property
    def rows(self) -> list[Row]:
        return [self.lead, *self.controls]


def pairs(rows: list[Row]) -> tuple[list[Pair], list[Pair]]:
    """(model pairs by model id, reference rows by their reference) in the page's first order."""
    by_id = {r.row_id: r for r in rows}
    groups: dict[str, Pair] = {}
    for r in sorted(rows, key=lambda r: (r.model.lower(), r.revision, r.init, r.row_id)):
        if r.pair == r.row_id:
            groups.setdefault(r.row_id, Pair(r, []))
    for r in rows:
        if r.pair != r.row_id:
            groups.setdefault(r.pair, Pair(by_id[r.pair], [])).controls.append(r)
    for g in groups.values():
        g.controls.sort(key=lambda r: (r.init, r.row_id))
    models = [g for g in groups.values() if g.lead.reference is None]
    references = sorted(
        (g for g in groups.values() if g.lead.reference is not None),
        key=lambda g: (g.lead.reference or "", g.lead.model),
    )
    return models, references


def assign_colors(rows: list[Row]) -> None:
    """One colour per pair (a control shares its trained model's hue), pairs ordered by their
    lead's mean ranked score so the best models get the first, most distinct palette colours."""
    leads = sorted(
        (r for r in rows if r.pair == r.row_id),
        key=lambda r: (r.reference is not None, r.score is None, -(r.score or 0.0), r.row_id),
    )
    from leaderboard.charts import color

    colours = {r.row_id: color(i) for i, r in enumerate(leads)}
    for r in rows:
        r.color = colours.get(r.pair, colours.get(r.row_id, "#888888"))


HEX = re.compile(r"#[0-9a-fA-F]{6}")
HUES_CSS = "hues.css"


def hues(rows: list[Row]) -> dict[str, str]:
    """row_id -> a class naming its pair's colour (`hue-N`): a control shares its model's. The
    colours live in a stylesheet (`hue_css`), as the CSP allows no inline style."""
    order: dict[str, str] = {}
    for r in rows:
        order.setdefault(r.color, f"hue-{len(order)}")
    return {r.row_id: order[r.color] for r in rows}


def hue_css(rows: list[Row]) -> str:
    """Each pair's colour (`--hue`), drawn as a bar beside its rows' Model cell (index, a card's
    edge on a phone) and beside its model page's title."""
    classes = hues(rows)
    colour = {classes[r.row_id]: r.color for r in rows}
    lines = ["/* written by leaderboard/build.py: one colour per model and its controls */"]
    for name, c in sorted(colour.items(), key=lambda kv: int(kv[0].split("-")[1])):
        if not HEX.fullmatch(c):  # only ever a palette colour; anything else is left grey
            continue
        lines.append(f".{name} {{ --hue: {c}; }}")
    return "\n".join(lines) + "\n"


MODALITY_CHOICES = (
    ("only", "{m} only", lambda has, m: has == {m}),
    ("has", "takes {m}", lambda has, m: m in has),
)


def modality_filters(rows: list[Row]) -> list[dict]:
    """Filters that each select a different, non-empty set of rows that is not every row:
    "text only" (takes text and nothing else), "takes speech", "takes speech and text"; a
    choice that would give the same rows as an earlier one, or all or none, is left out."""
    everyone = frozenset(r.row_id for r in rows)
    seen = {everyone, frozenset()}
    out = []
    modalities = sorted({m for r in rows for m in r.modalities})
    candidates = [
        (f"{code}:{m}", label.format(m=m), lambda r, m=m, test=test: test(set(r.modalities), m))
        for m in modalities
        for code, label, test in MODALITY_CHOICES
    ]
    if len(modalities) > 1:
        both = " and ".join(modalities)
        candidates.append(
            (
                "all:" + "+".join(modalities),
                f"takes {both}",
                lambda r: set(modalities) <= set(r.modalities),
            )
        )
    offered: dict[frozenset, dict] = {}
    for value, label, test in candidates:
        chosen = frozenset(r.row_id for r in rows if test(r))
        same = offered.get(chosen)
        if same is not None and value.startswith("all:") and same["value"].startswith("has:"):
            # every row that takes this modality takes them all: say so on the one choice
            others = [m for m in modalities if m != same["value"].split(":")[1]]
            same["label"] += f" (and {' and '.join(others)})"
        if chosen in seen:
            continue
        seen.add(chosen)
        offered[chosen] = {"value": value, "label": label, "n": len(chosen)}
        out.append(offered[chosen])
    return out


VERDICTS = {
    "above_null": ("holds", "above null"),
    "at_null": ("fails", "at null"),
    "inconclusive": ("inconclusive", "inconclusive"),
}


def verdict(result) -> dict | None:
    """The main score's verdict against its null: the result's own (`main_score.verdict`), else
    read from its null's 95th percentile as the faded values are. None without a score."""
    s = result.main_score if result.status == "ok" else None
    if s is None or not _finite(s.value):
        return None
    code = s.verdict
    reason = s.verdict_reason or ""
    if code is None and _finite(s.null_q95):
        clears = s.value > s.null_q95 if s.higher_is_better else s.value < s.null_q95
        code = "above_null" if clears else "at_null"
        reason = f"the null's 95th percentile is {s.null_q95:.3f}"
    if code is None:
        return None
    css, text = VERDICTS[code]
    if not s.ranked:
        text += " (descriptive)"
    return {"class": css, "text": text, "title": reason}

"""Score against size (SITE/sizes/<group>.html): for each ranked column, every row's main score
(with its interval) against its parameter count (`model.n_parameters`, recorded by the runner) on
a log axis. Trained models are filled dots in their pair's colour, controls hollow dashed rings in
the same colour, reference rows (no parameters: they are not networks) dashed horizontal lines.
Rows without a parameter count are listed under the chart, not placed. One page per task group of
the main table, one chart per ranked column, each with its own anchor (`#size-<column>`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from leaderboard import charts
from leaderboard import table as table_model
from leaderboard.data import Row, cell

FOLDER = "sizes"
WIDTH, HEIGHT = 560, 320
RIGHT, TOP, BOTTOM = 16, 14, 42
LABEL_POINTS_UP_TO = 12  # trained models named beside their dot up to this many


@dataclass
class SizePoint:
    row: Row
    n_parameters: int
    value: float
    ci_low: float | None
    ci_high: float | None


@dataclass
class SizeChart:
    column: table_model.BoardColumn
    points: list[SizePoint]
    references: list[tuple[Row, float]]
    unplaced: list[Row]  # a score but no parameter count
    x_ticks: list[dict] = field(default_factory=list)
    y_ticks: list[dict] = field(default_factory=list)
    marks: Markup = field(default_factory=Markup)
    left: int = 52
    width: int = WIDTH
    height: int = HEIGHT
    top: int = TOP
    plot_w: int = 0
    plot_h: int = HEIGHT - TOP - BOTTOM

    @property
    def anchor(self) -> str:
        return f"size-{self.column.key}"


def _ok(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def size_points(rows: list[Row], column: table_model.BoardColumn) -> SizeChart:
    """The rows with a finite main score under `column`: placed (trained and controls with a
    parameter count), reference lines, and the rest (no parameter count)."""
    points, references, unplaced = [], [], []
    for row in rows:
        c = cell(row, column.column)
        if c.get("status") != "ok" or not _ok(c.get("value")):
            continue
        if row.reference is not None:
            references.append((row, c["value"]))
        elif row.n_parameters:
            points.append(SizePoint(row, row.n_parameters, c["value"], c["ci_low"], c["ci_high"]))
        else:
            unplaced.append(row)
    return SizeChart(column, points, references, unplaced)


def params_label(n: float) -> str:
    if n >= 1e9:
        return f"{n / 1e9:g}B"
    if n >= 1e6:
        return f"{n / 1e6:g}M"
    return f"{n / 1e3:g}k" if n >= 1e3 else f"{n:g}"


def log_ticks(low: float, high: float) -> list[float]:
    """1, 2, 5 x powers of ten within [low, high]; only the powers of ten when that is many."""
    ticks = []
    for k in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        ticks += [m * 10**k for m in (1, 2, 5) if low <= m * 10**k <= high]
    return [t for t in ticks if math.log10(t).is_integer()] if len(ticks) > 8 else ticks


def x_domain(points: list[SizePoint]) -> tuple[float, float]:
    sizes = [p.n_parameters for p in points] or [1e6, 1e9]
    low, high = min(sizes) / 1.6, max(sizes) * 1.6
    return low, high


def layout(chart: SizeChart) -> SizeChart:
    """Ticks, scales and the marks (dots, interval bars, reference lines) of one chart."""
    values = [v for p in chart.points for v in (p.value, p.ci_low, p.ci_high) if _ok(v)]
    values += [v for _, v in chart.references]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    pad = (high - low) * 0.08 or 0.05
    ticks = charts.nice_ticks(low - pad, high + pad)
    y_low, y_high = min(low - pad, ticks[0]), max(high + pad, ticks[-1])
    chart.left = charts.left_margin([charts.tick_label(t) for t in ticks])
    chart.plot_w = WIDTH - chart.left - RIGHT
    x_low, x_high = x_domain(chart.points)
    span = math.log10(x_high) - math.log10(x_low)

    def sx(n: float) -> float:
        return round(chart.left + (math.log10(n) - math.log10(x_low)) / span * chart.plot_w, 1)

    def sy(v: float) -> float:
        return round(TOP + (y_high - v) / (y_high - y_low) * chart.plot_h, 1)

    chart.x_ticks = [{"x": sx(t), "label": params_label(t)} for t in log_ticks(x_low, x_high)]
    chart.y_ticks = [{"y": sy(t), "label": charts.tick_label(t)} for t in ticks]
    chart.marks = Markup(_marks(chart, sx, sy))
    return chart


def _marks(chart: SizeChart, sx, sy) -> str:
    parts, taken = [], []  # labels drawn: (x from, x to, y), so none is written over another

    def free(x_from: float, x_to: float, y: float) -> bool:
        if any(abs(y - ty) < 11 and x_from < b and a < x_to for a, b, ty in taken):
            return False
        taken.append((x_from, x_to, y))
        return True

    x0, x1 = chart.left, chart.left + chart.plot_w
    for row, v in sorted(chart.references, key=lambda rv: -rv[1]):
        title = escape(f"reference: {row.reference} ({row.model}): {v:.3f}")
        text = (
            f'<text x="{x1 - 2}" y="{sy(v) - 3}" text-anchor="end">{escape(row.reference)}</text>'
            if free(x1 - 6.4 * len(row.reference or ""), x1, sy(v) - 3)
            else ""
        )
        parts.append(
            f'<g class="sref"><title>{title}</title><line x1="{x0}" x2="{x1}" y1="{sy(v)}" '
            f'y2="{sy(v)}"/>{text}</g>'
        )
    trained = [p for p in chart.points if not p.row.control]
    named = len(trained) <= LABEL_POINTS_UP_TO
    for p in sorted(chart.points, key=lambda p: not p.row.control):  # controls drawn first
        x, y = sx(p.n_parameters), sy(p.value)
        interval = f" [{p.ci_low:.3f}, {p.ci_high:.3f}]" if _ok(p.ci_low) and _ok(p.ci_high) else ""
        title = escape(f"{p.row.label}: {p.value:.3f}{interval}; {p.row.params_label} parameters")
        bar = (
            f'<line class="ci" x1="{x}" x2="{x}" y1="{sy(p.ci_low)}" y2="{sy(p.ci_high)}" '
            f'stroke="{p.row.color}"/>'
            if interval
            else ""
        )
        kind = "ctl" if p.row.control else "trn"
        dot = (
            f'<circle cx="{x}" cy="{y}" r="5" stroke="{p.row.color}"/>'
            if p.row.control
            else f'<circle cx="{x}" cy="{y}" r="4.5" fill="{p.row.color}"/>'
        )
        label = ""
        if named and not p.row.control:
            name = p.row.model.split("/")[-1][:28]
            width = charts.CHAR_W * len(name)
            sides = [False, True]  # right of the dot first, unless near the right edge
            if x > chart.left + chart.plot_w * 0.7:
                sides.reverse()
            for left_side in sides:
                span = (x - 8 - width, x - 8) if left_side else (x + 8, x + 8 + width)
                if span[0] >= chart.left and span[1] <= WIDTH and free(*span, y + 4):
                    label = (
                        f'<text x="{x - 8 if left_side else x + 8}" y="{y + 4}" '
                        f'text-anchor="{"end" if left_side else "start"}">{escape(name)}</text>'
                    )
                    break
        parts.append(f'<g class="spt {kind}"><title>{title}</title>{bar}{dot}{label}</g>')
    return "".join(parts)


def group_pages(site) -> list[dict]:
    """One page per task group with a ranked column: its charts, in the main table's order."""
    bcols = table_model.board_columns(site.cols, site.rows)
    out = []
    for tab in table_model.tabs(bcols):
        ranked = [c for c in tab.columns if c.ranked]
        if ranked:
            out.append(
                {
                    "key": tab.key,
                    "label": tab.label,
                    "path": f"{FOLDER}/{tab.key}.html",
                    "columns": ranked,
                }
            )
    return out


def write_pages(site, groups: list[dict]) -> None:
    for g in groups:
        chart_list = [layout(size_points(site.rows, c)) for c in g["columns"]]
        site.render("sizes.html", g["path"], group=g, groups=groups, size_charts=chart_list)

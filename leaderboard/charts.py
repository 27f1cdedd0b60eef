"""Chart geometry for inline SVG: per-layer curves (x = relative depth, y = value, CI band, null
line) and heatmaps of `Matrix` results. Only numbers are computed here; the templates write the
SVG, so every label goes through jinja2's autoescape.

Why inline SVG drawn from Python rather than a vendored JS charting library: nothing to fetch, pin
or license-check; the pages render from `file://`, with scripts blocked, and in a screenshot the
moment they load; the output is deterministic and testable without a browser. The few
interactions (highlighting a model's curves) are a small hand-written script (static/board.js).

The two most repeated elements (a curve's point markers and a heatmap's cells: thousands per page)
are written here rather than in a template loop, for speed: numbers are formatted by Python and
every text (titles, labels) goes through `markupsafe.escape`, exactly as autoescape would.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from markupsafe import Markup, escape

from benchmark.results import Curve, Matrix

WIDTH, HEIGHT = 560, 300
LEFT, RIGHT, TOP, BOTTOM = 52, 14, 14, 40
TITLE_X = 11  # the rotated y-axis title's centre line; tick labels end 8 px before the plot
CHAR_W = 6.4  # width of one 11 px tick-label character, for the left margin
# Ten categorical colours readable on white and on the dark theme (>= 3:1 against both), then
# golden-angle hues at three lightness levels: no two model pairs share a colour up to hundreds.
PALETTE = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#e8710a",
    "#0f9d9a",
    "#8c564b",
    "#d6338a",
    "#8a8a0f",
    "#5c6bc0",
)
# viridis, 9 stops
VIRIDIS = (
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
)


def color(i: int) -> str:
    """The i-th series colour: the palette, then hues 137.5 degrees apart (the golden angle,
    so neighbours in order are far apart on the wheel) cycling through three lightness levels."""
    if i < len(PALETTE):
        return PALETTE[i]
    k = i - len(PALETTE)
    hue = (k * 137.508 + 20) % 360
    lightness = (0.42, 0.52, 0.34)[k % 3]
    saturation = (0.62, 0.85, 0.45)[(k // 3) % 3]
    return _hsl_hex(hue, saturation, lightness)


def _hsl_hex(h: float, s: float, lum: float) -> str:
    import colorsys

    r, g, b = colorsys.hls_to_rgb(h / 360, lum, s)
    return "#{:02x}{:02x}{:02x}".format(*(round(v * 255) for v in (r, g, b)))


def _ok(x) -> bool:
    return x is not None and math.isfinite(x)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        high = low + 1e-6
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw), default=raw)
    start = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = start
    while value <= high + 1e-9 and len(ticks) < 20:
        ticks.append(round(value, 10))
        value += step
    return ticks


def tick_label(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") if value != 0 else "0"


@dataclass
class Series:
    row_id: str
    label: str
    color: str
    control: bool
    on: bool  # highlighted by default (band, null, points); others are thin grey lines
    line: str = ""
    band: str = ""
    null: str = ""
    dots: str = ""  # every point as a zero-length round-capped segment of one path
    points_title: str = ""  # the points' values, one line each (the dots' <title>)


@dataclass
class CurveChart:
    key: str  # measure/group[/stack]
    measure: str
    group: str
    stack: str | None
    higher_is_better: bool
    series: list[Series]
    x_ticks: list[dict]
    y_ticks: list[dict]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_w: int = WIDTH - LEFT - RIGHT
    plot_h: int = HEIGHT - TOP - BOTTOM
    title_x: int = TITLE_X
    detail: bool = True  # False: lines only (see curve_chart)

    @property
    def grid(self) -> str:
        """Every gridline as one path."""
        rows = "".join(f"M{self.left},{t['y']:g}h{self.plot_w}" for t in self.y_ticks)
        return rows + "".join(f"M{t['x']:g},{self.top}v{self.plot_h}" for t in self.x_ticks)


def curve_key(curve: Curve) -> str:
    return "/".join(x for x in (curve.measure, curve.group, curve.stack) if x)


def curve_chart(entries: list[tuple], with_points: bool = True, detail: bool = True) -> CurveChart:
    """`entries`: (row_id, label, color, control, on, Curve) — the same curve key for each.
    `detail` False: lines only, no interval band or null line (a model page's secondary
    measures; their intervals and nulls are in the raw result)."""
    first = entries[0][5]
    values: list[float] = []
    for _, _, _, _, on, curve in entries:
        for p in curve.points:
            values += [v for v in (p.value, p.null_mean) if _ok(v)]
            if on:
                values += [v for v in (p.ci_low, p.ci_high) if _ok(v)]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    pad = (high - low) * 0.06 or 0.05
    low, high = low - pad, high + pad
    ticks = nice_ticks(low, high)
    low, high = min(low, ticks[0]), max(high, ticks[-1])
    left = left_margin([tick_label(t) for t in ticks])
    pw, ph = WIDTH - left - RIGHT, HEIGHT - TOP - BOTTOM
    scale = ph / (high - low)
    xs: dict[float, str] = {}

    def sx(depth: float) -> str:  # few distinct depths: formatted once
        if depth not in xs:
            xs[depth] = f"{left + min(max(depth, 0.0), 1.0) * pw:.0f}"
        return xs[depth]

    def sy(value: float) -> str:
        return f"{TOP + (high - value) * scale:.0f}"  # whole units: a unit is <= 1 px

    series = []
    for row_id, label, color, control, on, curve in entries:
        s = Series(row_id, label, color, control, on)
        points = curve.points
        s.line = _path([(sx(p.depth), sy(p.value)) if _ok(p.value) else None for p in points])
        if on and detail:  # grey context lines carry no band, null or markers (half a task page)
            s.null = _path(
                [(sx(p.depth), sy(p.null_mean)) if _ok(p.null_mean) else None for p in points]
            )
            s.band = _band(points, sx, sy)
        if with_points and on and detail:
            shown = [p for p in points if _ok(p.value)]
            # one path and one <title> per series, not a circle and a title per point: a third
            # of a model page's bytes on a 200-model board
            s.dots = "".join(f"M{sx(p.depth)},{sy(p.value)}h0" for p in shown)
            s.points_title = "\n".join([label, *(_point_line(p) for p in shown)])
        series.append(s)
    series.sort(key=lambda s: s.on)  # highlighted series drawn last (on top)
    return CurveChart(
        key=curve_key(first),
        measure=first.measure,
        group=first.group,
        stack=first.stack,
        higher_is_better=first.higher_is_better,
        series=series,
        x_ticks=[
            {"x": float(sx(float(d))), "label": tick_label(d)} for d in (0, 0.25, 0.5, 0.75, 1)
        ],
        y_ticks=[{"y": float(sy(t)), "label": tick_label(t)} for t in ticks if low <= t <= high],
        left=left,
        plot_w=pw,
        detail=detail,
    )


def left_margin(labels: list[str]) -> int:
    """Room for the y-axis title (centred on TITLE_X) and the longest tick label beside it, so
    the two never overlap (issue 19: a title overlapped a tick)."""
    longest = max((len(x) for x in labels), default=1)
    return max(40, math.ceil(TITLE_X + 18 + 8 + CHAR_W * longest))


def _point_line(p) -> str:
    """One point on hover: "layer_3: 0.512 [0.48, 0.54] null 0.35 q95 0.39"."""
    text = f"{p.layer}: {p.value:.3f}"
    if _ok(p.ci_low) and _ok(p.ci_high):
        text += f" [{tick_label(p.ci_low)}, {tick_label(p.ci_high)}]"
    if _ok(p.null_mean):
        text += f" null {tick_label(p.null_mean)}"
        text += f" q95 {tick_label(p.null_q95)}" if _ok(p.null_q95) else ""
    return text


def _path(points: list[tuple[str, str] | None]) -> str:
    parts, pen_down = [], False
    for pt in points:
        if pt is None:
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{pt[0]},{pt[1]}")
        pen_down = True
    return "".join(parts)


def _band(points: list, sx, sy) -> str:
    """Closed polygons through ci_high (left to right) and ci_low (back), per contiguous run."""
    runs, run = [], []
    for p in points:
        if _ok(p.ci_low) and _ok(p.ci_high):
            run.append(p)
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    out = []
    for run in runs:
        upper = [f"{sx(p.depth)},{sy(p.ci_high)}" for p in run]
        lower = [f"{sx(p.depth)},{sy(p.ci_low)}" for p in reversed(run)]
        out.append("M" + "L".join(upper + lower) + "Z")
    return "".join(out)


# --- heatmaps ------------------------------------------------------------------------------------

CELL, LABEL_W, LABEL_H = 30, 110, 70


def pick_matrix(matrices: list[Matrix], layer: str | None) -> Matrix:
    """Of matrices of one (measure, group): the one at `layer` (the main score's), else the last."""
    for m in matrices:
        if layer is not None and m.layer == layer:
            return m
    return matrices[-1]


@functools.lru_cache(maxsize=1024)  # a few dozen colour steps, asked for 10^5 times a build
def color_for(t: float) -> str:
    t = min(max(t, 0.0), 1.0) * (len(VIRIDIS) - 1)
    i = min(int(t), len(VIRIDIS) - 2)
    f = t - i
    rgb = [round(a + (b - a) * f) for a, b in zip(VIRIDIS[i], VIRIDIS[i + 1], strict=True)]
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def measure_domains(results) -> dict[str, tuple[float, float]]:
    """One colour scale per measure across every model: the min and max of that measure's
    matrices at each result's main layer (the ones the pages show), so a colour means the same
    value on every heatmap of the board (issue 19: each heatmap had its own scale)."""
    domains: dict[str, tuple[float, float]] = {}
    for result in results:
        for m in matrices_at_main_layer(result):
            values = [v for row in m.values for v in row if _ok(v)]
            if not values:
                continue
            low, high = domains.get(m.measure, (min(values), max(values)))
            domains[m.measure] = (min(low, *values), max(high, *values))
    return domains


LEVELS = 32  # colour steps of a heatmap: cells of one step share one <path>


def colour_step(v, low: float, span: float) -> float | None:
    """A value's place on its colour scale, rounded to one of LEVELS steps (None: no value)."""
    return round(min(max((v - low) / span, 0.0), 1.0) * LEVELS) / LEVELS if _ok(v) else None


def cell_paths(cells: list[tuple[int, int, float | None]], size: int) -> list[str]:
    """Square cells (x, y, colour step) as one <path> per colour: ~20 bytes a cell, not a <rect>
    and a <title> each (a 200-model board draws hundreds of thousands of cells)."""
    by_colour: dict[str, list[str]] = {}
    for x, y, step in cells:
        fill = color_for(step) if step is not None else "#eeeeee"
        by_colour.setdefault(fill, []).append(f"M{x} {y}h{size - 1}v{size - 1}h-{size - 1}z")
    return [f'<path fill="{c}" d="{"".join(d)}"/>' for c, d in by_colour.items()]


def heatmap(matrix: Matrix, domain: tuple[float, float] | None = None) -> dict:
    """`domain`: the measure's shared (low, high); without it, this matrix's own range. Hovering
    a row lists its values (one <title> per row)."""
    values = [v for row in matrix.values for v in row if _ok(v)]
    low, high = domain or ((min(values), max(values)) if values else (0.0, 1.0))
    span = (high - low) or 1.0
    show_text = len(matrix.rows) <= 14 and len(matrix.columns) <= 14
    half = CELL / 2
    cells, texts, rows = [], {"": [], " dark": []}, []
    for i, (rname, row) in enumerate(zip(matrix.rows, matrix.values, strict=False)):
        y = LABEL_H + i * CELL
        for j, v in enumerate(row[: len(matrix.columns)]):
            x, t = LABEL_W + j * CELL, colour_step(v, low, span)
            cells.append((x, y, t))
            if show_text and t is not None:
                texts[" dark" if t > 0.6 else ""].append(
                    f'<text x="{x + half:g}" y="{y + half + 3:g}">{v:.2f}</text>'
                )
        listing = ", ".join(
            f"{c} {v:.4f}" if _ok(v) else f"{c} -"
            for c, v in zip(matrix.columns, row, strict=False)
        )
        rows.append(
            f'<rect class="rowhit" x="{LABEL_W}" y="{y}" width="{CELL * len(row)}" '
            f'height="{CELL}"><title>{escape(f"{rname}: {listing}")}</title></rect>'
        )
    parts = cell_paths(cells, CELL)
    for dark, items in texts.items():
        if items:
            parts.append(f'<g class="celltext{dark}" text-anchor="middle">{"".join(items)}</g>')
    parts += rows
    cells = Markup("".join(parts))  # numbers formatted here; every label escaped above
    return {
        "name": matrix.name,
        "measure": matrix.measure,
        "group": matrix.group,
        "layer": matrix.layer,
        "rows": [
            {"y": LABEL_H + i * CELL + CELL / 2, "label": r} for i, r in enumerate(matrix.rows)
        ],
        "columns": [
            {"x": LABEL_W + j * CELL + CELL / 2, "label": c} for j, c in enumerate(matrix.columns)
        ],
        "cells": cells,
        "cell": CELL,
        "label_w": LABEL_W,
        "label_h": LABEL_H,
        "width": LABEL_W + CELL * len(matrix.columns) + 70,
        "height": LABEL_H + max(CELL * len(matrix.rows), 100) + 10,
        "low": low,
        "high": high,
        "legend_x": LABEL_W + CELL * len(matrix.columns) + 12,
        "legend": [color_for(i / 8) for i in range(9)][::-1],
    }


def matrices_at_main_layer(result) -> list[Matrix]:
    """One matrix per (measure, group) of a result: the one at its main score's layer."""
    groups: dict[tuple[str, str], list[Matrix]] = {}
    for m in result.matrices:
        groups.setdefault((m.measure, m.group), []).append(m)
    layer = result.main_score.layer.layer if result.main_score else None
    main_measure = result.main_score.measure if result.main_score else None
    ordered = sorted(groups.items(), key=lambda kv: (kv[0][0] != main_measure, kv[0]))
    return [pick_matrix(ms, layer) for _, ms in ordered]


# --- a model's own charts --------------------------------------------------------------------------


def group_keys(result) -> list[str]:
    """A result's curve groups (with their stack, and the control a measure was computed under),
    in order: the series of its model page's charts, and their legend."""
    return list(
        dict.fromkeys(
            _series_key(c.group, c.stack, _base_measure(c.measure)[1])
            for c in sorted(result.curves, key=lambda c: _base_measure(c.measure)[1] is not None)
        )
    )


def group_legend(result) -> list[dict]:
    return [
        {"row_id": f"g{i}", "label": g, "color": color(i), "control": False, "on": True}
        for i, g in enumerate(group_keys(result))
    ]


# a measure computed again under a control (benchmark.kinds.retrieval: the same metric with
# length taken out, or among lexically disjoint items) is drawn on its measure's chart
CONTROL_SUFFIXES = {
    "_length_controlled": "length controlled",
    "_lexical_controlled": "disjoint items",
}


def _base_measure(measure: str) -> tuple[str, str | None]:
    """(the measure a curve is drawn with, the control it was computed under or None)."""
    for suffix, control in CONTROL_SUFFIXES.items():
        if measure.endswith(suffix):
            return measure.removesuffix(suffix), control
    return measure, None


def model_charts(result) -> list[CurveChart]:
    """One chart per measure of one result; one series per curve group (and stack), and its
    controlled versions (`CONTROL_SUFFIXES`) as series of their measure's chart: one scale to
    compare them on. Intervals, nulls and point markers (each point's value, interval and null
    on hover) on the main measure's chart only: the other measures are drawn as lines, their
    intervals and nulls in the raw result."""
    keys = group_keys(result)
    main = result.main_score.measure if result.main_score else None
    by_measure: dict[str, list] = {}
    # plain curves first: a chart is named by its first curve's measure
    for curve in sorted(result.curves, key=lambda c: _base_measure(c.measure)[1] is not None):
        measure, control = _base_measure(curve.measure)
        g = _series_key(curve.group, curve.stack, control)
        i = keys.index(g)
        by_measure.setdefault(measure, []).append((f"g{i}", g, color(i), False, True, curve))
    return [
        curve_chart(entries, detail=measure == main or main is None)
        for measure, entries in by_measure.items()
    ]


def _series_key(group: str, stack: str | None, control: str | None) -> str:
    label = "/".join(filter(None, (group, stack)))
    return f"{label} ({control})" if control else label

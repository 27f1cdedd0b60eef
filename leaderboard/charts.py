"""Chart numbers: per-layer curves (x = relative depth, y = value, CI band, null line) and
heatmaps of `Matrix` results, decided here (which series, their colours, the scale and its
ticks, the shared colour domain of a measure) and drawn in the browser by static/charts.js from
a compact JSON block beside each chart's empty, labelled <svg>.

Why the browser draws them: a 200-model board holds ~30 charts on each of 200 model pages and a
language grid per task on each language page; as SVG markup they were 47 of the site's 57 MB,
their numbers a fifth of that (issue 19: the site under 40 MB; docs/leaderboard.md "Scale").
Every label reaches the page through `textContent`, never as markup. Nothing is fetched: the
numbers are in the page, the script is the board's own (no library), and with scripts off the
tables and raw results still give every number. The score-vs-size plots (sizes.py, one per
task group) are still written as SVG.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from markupsafe import Markup

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
class CurveChart:
    """A per-layer chart's numbers; static/charts.js draws it (`data`, written into the page as
    JSON beside the chart's empty <svg>). The scale (ticks, margins) is decided here, the same for
    every page that shows the curve; the browser only maps values to pixels."""

    key: str  # measure/group[/stack]
    group: str
    stack: str | None
    higher_is_better: bool
    data: dict
    width: int = WIDTH
    height: int = HEIGHT
    detail: bool = True  # False: lines only (see curve_chart)

    @property
    def measure(self) -> str:  # the y axis's title
        return self.data["m"]

    @property
    def series_labels(self) -> list[str]:
        return [s["lb"] for s in self.data["s"]]


def curve_key(curve: Curve) -> str:
    return "/".join(x for x in (curve.measure, curve.group, curve.stack) if x)


def curve_chart(entries: list[tuple], with_points: bool = True, detail: bool = True) -> CurveChart:
    """`entries`: (row_id, label, color, control, on, Curve) — the same curve key for each.
    Highlighted (`on`) series carry each point's interval and null (drawn as a band and a dotted
    line) and, `with_points`, a marker per point with its values on hover; the others are thin
    grey lines. `detail` False: lines only (a model page's secondary measures; their intervals
    and nulls are in the raw result). The data's keys are listed in static/charts.js."""
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

    def pixel(v: float) -> int:  # charts.js draws a value at this y (a unit is <= 1 px)
        return round(TOP + (high - v) * scale)

    def column(depth: float) -> int:  # ... and a depth at this x
        return round(left + min(max(depth, 0.0), 1.0) * pw)

    axes: dict[tuple, int] = {}  # the series' (depths, layers): most share one
    depths_of: dict[tuple, tuple] = {}
    series = []
    for row_id, label, color, control, on, curve in entries:
        full = on and detail
        raw = tuple(p.depth for p in curve.points)
        if raw not in depths_of:
            depths_of[raw] = tuple(page_number(d, (), column) for d in raw)
        axis = (depths_of[raw], tuple(p.layer for p in curve.points))
        s: dict = {"id": row_id, "lb": label, "c": color}
        if axes.setdefault(axis, len(axes)):
            s["a"] = axes[axis]
        if on:
            s["on"] = 1
        if control:
            s["ctl"] = 1
        s["p"] = [
            [
                page_number(x, same=pixel)
                for x in (p.value, p.ci_low, p.ci_high, p.null_mean, p.null_q95)
            ]
            if full
            else page_number(p.value, same=pixel)
            for p in curve.points
        ]
        series.append(s)
    series.sort(key=lambda s: "on" in s)  # highlighted series drawn last (on top)
    data = {
        "kind": "curve",
        "box": [WIDTH, HEIGHT, left, TOP, pw, ph, TITLE_X],
        "y": [low, high],
        "yt": [[t, tick_label(t)] for t in ticks if low <= t <= high],
        "m": first.measure,
        "d": int(detail),
        "pts": int(with_points and detail),
        "ax": [[list(depths), list(layers)] for depths, layers in axes],
        "s": series,
    }
    return CurveChart(
        key=curve_key(first),
        group=first.group,
        stack=first.stack,
        higher_is_better=first.higher_is_better,
        data=data,
        detail=detail,
    )


DIGITS = 4  # decimals a chart's numbers keep in the page (see page_number)


def page_number(x, shown: tuple[int, ...] = (3,), same=None) -> float | None:
    """`x` rounded to DIGITS decimals for the page, unless that would change what the page
    prints of it (the decimals in `shown`; `same`: another reading that must not change: the
    pixel a point is drawn at, a cell's colour step): then the exact value. The browser's
    formatting matches Python's (charts.js `fixed`), so every number the page prints is the one
    the server would print from the result."""
    if x is None or not math.isfinite(x):
        return None
    r = round(x, DIGITS)
    if same is not None and same(r) != same(x):
        return x
    for d in shown:  # x and r print alike unless r sits on a tie at d decimals (...5 after them)
        if d < DIGITS and abs(r * 10**d % 1 - 0.5) < 1e-6 and f"{r:.{d}f}" != f"{x:.{d}f}":
            return x
    return r


def script_json(data) -> Markup:
    """`data` as the text of a <script type="application/json">: compact, and with <, > and &
    escaped so no label can close the element."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def left_margin(labels: list[str]) -> int:
    """Room for the y-axis title (centred on TITLE_X) and the longest tick label beside it, so
    the two never overlap (issue 19: a title overlapped a tick)."""
    longest = max((len(x) for x in labels), default=1)
    return max(40, math.ceil(TITLE_X + 18 + 8 + CHAR_W * longest))


# --- heatmaps ------------------------------------------------------------------------------------

CELL, LABEL_W, LABEL_H = 30, 110, 70


def pick_matrix(matrices: list[Matrix], layer: str | None) -> Matrix:
    """Of matrices of one (measure, group): the one at `layer` (the main score's), else the last."""
    for m in matrices:
        if layer is not None and m.layer == layer:
            return m
    return matrices[-1]


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


def steps_css() -> str:
    """The heatmaps' colour steps as classes (`cs0` .. `cs32`, `csna` for no value), for the
    cells static/charts.js draws: the one place a step's colour is decided."""
    lines = [f".cs{i} {{ fill: {color_for(i / LEVELS)}; }}" for i in range(LEVELS + 1)]
    return (
        "\n".join(
            [
                "/* heatmap colour steps (leaderboard/charts.py steps_css) */",
                *lines,
                ".csna { fill: #eeeeee; }",
            ]
        )
        + "\n"
    )


def coloured_cells(
    rows: list[list[float | None]], domain: tuple[float, float] | None, shown: tuple[int, ...]
) -> tuple[float, float, list[list[float | None]]]:
    """A grid of values on its colour scale: (low, high, the values as the page carries them).
    `domain`: the measure's shared (low, high); without it, these values' own range. Each value
    keeps what it prints (`shown` decimals) and its colour step (page_number)."""
    values = [v for row in rows for v in row if _ok(v)]
    low, high = domain or ((min(values), max(values)) if values else (0.0, 1.0))
    span = (high - low) or 1.0
    cells = [
        [page_number(v, shown, lambda x: colour_step(x, low, span)) for v in row] for row in rows
    ]
    return low, high, cells


def heatmap(matrix: Matrix, domain: tuple[float, float] | None = None) -> dict:
    """One matrix as numbers for static/charts.js: its labels and values (4 decimals, the row's
    hover title), the colour domain (`domain`: the measure's shared (low, high); without it, this
    matrix's own range) and the layout. Values are printed in the cells up to 14 x 14."""
    n_rows, n_cols = len(matrix.rows), len(matrix.columns)
    low, high, cells = coloured_cells([row[:n_cols] for row in matrix.values], domain, (2, 4))
    data = {
        "kind": "heatmap",
        "box": [CELL, LABEL_W, LABEL_H],
        "y": [low, high],
        "text": int(n_rows <= 14 and n_cols <= 14),
        "rows": matrix.rows,
        "cols": matrix.columns,
        "v": cells,
        "levels": LEVELS,
    }
    return {
        "name": matrix.name,
        "measure": matrix.measure,
        "group": matrix.group,
        "layer": matrix.layer,
        "data": data,
        "width": LABEL_W + CELL * n_cols + 70,
        "height": LABEL_H + max(CELL * n_rows, 100) + 10,
        "low": low,
        "high": high,
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

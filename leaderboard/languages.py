"""The per-language view (SITE/languages/<model>--<id>.html): which languages a model merges and
which it leaves apart, layer by layer.

Built only from what results record: a result's `matrices` whose rows and columns are its probe
languages (the cross-lingual and cross-modal gaps and retrieval record one per layer; no kind is
named here). From each such matrix at each layer:

* off the diagonal (a language with another one): each language's mean over its pairs with the
  other languages, both directions (row and column) -> a language x layer grid; and at the main
  score's layer every language pair's value (the mean of its two directions), sorted;
* on the diagonal, where it is informative (speech vs text of the same language, same-language
  retrieval; not a self-similarity matrix's 1.0s) -> a second language x layer grid.

These are point values: results record no interval or null per language or pair, and the page
says so rather than inventing one. Colours: one scale per measure, shared by every model's view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from benchmark.fileio import slug
from benchmark.results import Matrix, TaskResult
from leaderboard import charts

FOLDER = "languages"
OFF, DIAGONAL = "with the other languages", "same language (diagonal)"
CELL, TOP, AXIS_W, LEGEND_W = 26, 10, 22, 64


def _ok(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _mean(values: list) -> float | None:
    values = [v for v in values if _ok(v)]
    return sum(values) / len(values) if values else None


@dataclass
class Grid:
    """One language x layer grid of a result: `values[i][j]` is language i at layer j."""

    task: str
    measure: str
    group: str
    what: str  # OFF or DIAGONAL
    languages: list[str]
    layers: list[str]
    values: list[list[float | None]]
    main_layer: str | None
    higher_is_better: bool = True
    pairs: list[tuple[str, str, float]] = field(default_factory=list)  # at the main layer

    def at_main(self) -> list[tuple[str, float]]:
        """(language, value) at the main layer (else the last), best first."""
        j = self.layers.index(self.main_layer) if self.main_layer in self.layers else -1
        out = [(lang, row[j]) for lang, row in zip(self.languages, self.values, strict=True)]
        out = [(lang, v) for lang, v in out if _ok(v)]
        return sorted(out, key=lambda x: -x[1] if self.higher_is_better else x[1])

    @property
    def shown_layer(self) -> str | None:
        return self.main_layer if self.main_layer in self.layers else (self.layers or [None])[-1]


def result_languages(result: TaskResult) -> set[str]:
    langs = set(result.probes.languages) if result.probes else set()
    details = result.details if isinstance(result.details, dict) else {}
    extra = details.get("languages")
    if isinstance(extra, list):
        langs |= {str(x) for x in extra}
    return langs


def language_matrices(result: TaskResult) -> dict[str, list[Matrix]]:
    """group -> the matrices of the main measure whose rows and columns are all probe languages,
    in the result's layer order."""
    if result.status != "ok" or not result.matrices:
        return {}
    langs = result_languages(result)
    main = result.main_score.measure if result.main_score else None
    out: dict[str, list[Matrix]] = {}
    for m in result.matrices:
        if main is not None and m.measure != main:
            continue
        if not m.rows or not langs.issuperset(m.rows) or not langs.issuperset(m.columns):
            continue
        out.setdefault(m.group, []).append(m)
    return out


def _off_diagonal(m: Matrix, lang: str) -> float | None:
    i = m.rows.index(lang) if lang in m.rows else None
    j = m.columns.index(lang) if lang in m.columns else None
    values = []
    if i is not None:
        values += [v for c, v in zip(m.columns, m.values[i], strict=False) if c != lang]
    if j is not None:
        values += [row[j] for r, row in zip(m.rows, m.values, strict=False) if r != lang]
    return _mean(values)


def _diagonal(m: Matrix, lang: str) -> float | None:
    if lang not in m.rows or lang not in m.columns:
        return None
    v = m.values[m.rows.index(lang)][m.columns.index(lang)]
    return v if _ok(v) else None


def _is_self_similarity(ms: list[Matrix]) -> bool:
    """A language x itself matrix (rows == columns, 1.0 or nothing on the diagonal): its
    diagonal says nothing."""
    for m in ms:
        if m.rows != m.columns:
            return False
        diagonal = [m.values[i][i] for i in range(len(m.rows))]
        if any(_ok(v) and abs(v - 1.0) > 1e-9 for v in diagonal):
            return False
    return True


def pair_values(m: Matrix) -> list[tuple[str, str, float]]:
    """Every unordered language pair of one matrix: the mean of its two directions."""
    out = []
    langs = [x for x in m.rows if x in m.columns]
    for a_i, a in enumerate(langs):
        for b in langs[a_i + 1 :]:
            i, j = m.rows.index(a), m.columns.index(b)
            k, n = m.rows.index(b), m.columns.index(a)
            v = _mean([m.values[i][j], m.values[k][n]])
            if v is not None:
                out.append((a, b, v))
    return out


def _higher_is_better(result: TaskResult, measure: str) -> bool:
    for c in result.curves:
        if c.measure == measure:
            return c.higher_is_better
    ms = result.main_score
    return ms.higher_is_better if ms is not None else True


def grids(result: TaskResult) -> list[Grid]:
    """The language x layer grids of one result (none when it records no language matrix)."""
    out = []
    main_layer = result.main_score.layer.layer if result.main_score else None
    for group, ms in language_matrices(result).items():
        languages = list(dict.fromkeys([*ms[0].rows, *ms[0].columns]))
        layers = [m.layer for m in ms]
        hib = _higher_is_better(result, ms[0].measure)
        kinds = [(OFF, _off_diagonal)]
        if not _is_self_similarity(ms):
            kinds.append((DIAGONAL, _diagonal))
        for what, fn in kinds:
            values = [[fn(m, lang) for m in ms] for lang in languages]
            if not any(_ok(v) for row in values for v in row):
                continue
            g = Grid(result.task.name, ms[0].measure, group, what, languages, layers, values,
                     main_layer, hib)  # fmt: skip
            if what == OFF:
                at = next((m for m in ms if m.layer == g.shown_layer), ms[-1])
                g.pairs = sorted(pair_values(at), key=lambda p: -p[2] if hib else p[2])
            out.append(g)
    return out


def domains(all_grids) -> dict[tuple[str, str], tuple[float, float]]:
    """One colour scale per (task, measure), shared by every trained model and control (the
    board's convention: a colour means one value on every model's view). Reference rows, whose
    known answers sit at the extremes (a ceiling of 1.0), do not stretch it: see `domain_for`."""
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for g in all_grids:
        values = [v for row in g.values for v in row if _ok(v)]
        if values:
            low, high = out.get((g.task, g.measure), (min(values), max(values)))
            out[(g.task, g.measure)] = (min(low, *values), max(high, *values))
    return out


def domain_for(g: Grid, shared: dict, reference: bool) -> tuple[float, float] | None:
    """The shared scale; on a reference row's page widened to hold its own values."""
    domain = shared.get((g.task, g.measure))
    values = [v for row in g.values for v in row if _ok(v)]
    if not reference or not values:
        return domain
    low, high = domain or (min(values), max(values))
    return min(low, *values), max(high, *values)


def short_layer(name: str) -> str:
    """A column label: "emb" for embeddings, the number of "layer_N"; a paired layer
    ("speech:layer_3|text:layer_3") by its first side. The full name is in each row's title."""
    first = name.split("|")[0]
    first = first.split(":", 1)[1] if ":" in first else first
    if first == "embeddings":
        return "emb"
    if first.startswith("layer_") and first[6:].isdigit():
        return first[6:]
    return first[:5]


def grid_chart(g: Grid, domain: tuple[float, float] | None) -> dict:
    """One grid's numbers for static/charts.js (kind "grid"): rows = languages, columns = layers
    (short names), the main score's layer outlined, a colour legend; hovering a language's row
    lists its values layer by layer (3 decimals)."""
    low, high, cells = charts.coloured_cells(g.values, domain, (3,))
    left = AXIS_W + math.ceil(charts.CHAR_W * max(len(x) for x in g.languages)) + 10
    plot_h = CELL * len(g.languages)
    plot_w = CELL * len(g.layers)
    main_j = g.layers.index(g.shown_layer) if g.shown_layer in g.layers else None
    data = {
        "kind": "grid",
        "box": [CELL, left, TOP],
        "y": [low, high],
        "rows": g.languages,
        "cols": [short_layer(x) for x in g.layers],
        "v": cells,
        "levels": charts.LEVELS,
        "main": main_j,
        "mainlayer": g.shown_layer,
    }
    return {
        "grid": g,
        "data": data,
        "width": left + plot_w + LEGEND_W,
        "height": TOP + max(plot_h, 95) + 44,
        "low": low,
        "high": high,
    }


def page_path(row) -> str:
    return f"{FOLDER}/{slug(row.model)[:80]}--{row.row_id}.html"


def row_grids(row) -> dict[str, list[Grid]]:
    """task -> its grids, for the tasks of a row that record any."""
    out = {}
    for task in sorted(row.results):
        found = grids(row.results[task])
        if found:
            out[task] = found
    return out


def without_figure(row, shown: dict) -> list[dict]:
    """The row's tasks with no per-language figure in their result, and why."""
    out = []
    for task in sorted(row.results):
        if task in shown:
            continue
        r = row.results[task]
        why = (
            f"{r.status}: {r.reason or ''}".rstrip(": ")
            if r.status != "ok"
            else "its result records no language x language matrix"
        )
        out.append({"task": task, "why": why})
    return out


def plan(site) -> dict[str, str]:
    """row id -> its language page, for the rows that have one (set before any page is drawn,
    so the model pages can link theirs)."""
    site.language_grids = {r.row_id: row_grids(r) for r in site.rows}
    site.language_domains = domains(
        g
        for r in site.rows
        if r.reference is None
        for gs in site.language_grids[r.row_id].values()
        for g in gs
    )
    return {r.row_id: page_path(r) for r in site.rows if site.language_grids[r.row_id]}


def write_pages(site, pages: dict[str, str]) -> None:
    for row in site.rows:
        if row.row_id not in pages:
            continue
        tasks, ref = [], row.reference is not None
        for task, gs in site.language_grids[row.row_id].items():
            r = row.results[task]
            tasks.append(
                {
                    "name": task,
                    "page": site.task_pages[task],
                    "result": r,
                    "charts": [
                        grid_chart(g, domain_for(g, site.language_domains, ref)) for g in gs
                    ],
                }
            )
        site.render(
            "languages.html",
            pages[row.row_id],
            row=row,
            tasks=tasks,
            missing=without_figure(row, site.language_grids[row.row_id]),
        )

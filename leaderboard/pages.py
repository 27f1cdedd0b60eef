"""What a task page and a model page show, computed from the site's rows (the templates only lay
it out): the ranking with verdicts and margins over the control, the charts (the main ones first,
the rest behind a picker when there are many), heatmaps on one colour scale per measure, a model's
score card, its links (Hub model card, control row) and how to reproduce it."""

from __future__ import annotations

import shlex

from benchmark.fileio import slug
from leaderboard import charts
from leaderboard import table as table_model
from leaderboard.data import Column, Row, cell

HIGHLIGHT_ALL_UP_TO = 10
HIGHLIGHT_TOP = 8
CHARTS_SHOWN = 4  # a task page shows its main charts and up to this many; the rest on demand


def _value(row: Row, task: str) -> float | None:
    r = row.results.get(task)
    if r is None or r.status != "ok" or r.main_score is None:
        return None
    c = cell(row, Column(r.main_score.name, [task]))
    return c.get("value") if c.get("status") == "ok" else None


def control_margin(site, row: Row, task: str) -> dict | None:
    """A trained row's score minus its controls' (their mean) on `task`, with the control rows."""
    controls = site.controls.get(row.row_id, [])
    v = _value(row, task)
    floor = [(c, x) for c in controls for x in [_value(c, task)] if x is not None]
    if row.control or v is None or not floor:
        return None
    mean = sum(x for _, x in floor) / len(floor)
    return {"value": v - mean, "control": mean, "rows": [c for c, _ in floor]}


def _ranks(entries: list[dict], higher_is_better: bool) -> None:
    """Competition ranks (ties share) for trained models with a value; others get None."""
    rank, previous, n = 0, None, 0
    for e in entries:
        v, row = e["cell"].get("value"), e["row"]
        e["rank"] = None
        if v is None or row.control or row.reference is not None:
            continue
        n += 1
        if previous is None or v != previous:
            rank = n
        e["rank"], previous = rank, v


def task_context(site, task: str) -> dict:
    info = site.task_info(task)
    entries, not_applicable = [], []
    for row in site.rows:
        r = row.results.get(task)
        if r is None:
            continue
        if r.status != "ok":
            not_applicable.append({"row": row, "reason": r.reason or r.status})
            continue
        column = Column(r.main_score.name if r.main_score else "", [task])
        c = cell(row, column)  # "no score" with its reason when the value is missing or NaN
        entries.append(
            {
                "row": row,
                "result": r,
                "cell": c,
                "verdict": table_model.verdict(r),
                "margin": control_margin(site, row, task),
            }
        )
    first = next((e["result"].main_score for e in entries if e["result"].main_score), None)
    hib = first.higher_is_better if first else True

    def rank_key(e):
        v = e["cell"].get("value")
        return (e["row"].reference is not None, v is None, -(v or 0) if hib else (v or 0))

    entries.sort(key=rank_key)
    _ranks(entries, hib)
    on = _highlighted(entries)
    shown, extra = _task_charts(entries, on)
    return {
        "task": info,
        "ranked": bool(first.ranked) if first else True,
        "ranking": entries,
        "not_applicable": not_applicable,
        "charts": shown,
        "extra_charts": extra,
        "chart_menu": _chart_menu(extra),
        "legend_items": [
            {
                "row_id": e["row"].row_id,
                "label": e["row"].label,
                "color": e["row"].color,
                "control": e["row"].control,
                "on": e["row"].row_id in on,
            }
            for e in entries
        ],
        "heatmaps": [
            {"label": e["row"].label, "map": charts.heatmap(m, site.domains.get(m.measure))}
            for e in entries
            if e["row"].row_id in on
            for m in charts.matrices_at_main_layer(e["result"])[:1]
        ],
    }


def _highlighted(entries: list[dict]) -> set[str]:
    if len(entries) <= HIGHLIGHT_ALL_UP_TO:
        return {e["row"].row_id for e in entries}
    trained = [e["row"] for e in entries if not e["row"].control]
    on = {r.row_id for r in trained[:HIGHLIGHT_TOP]}
    return on | {e["row"].row_id for e in entries if e["row"].control and e["row"].pair in on}


def _task_charts(entries: list[dict], on: set[str]) -> tuple[list, list]:
    """(charts shown, charts behind the picker): the main score's curve first; when a task has
    many curves (the logit lens: measure x modality x language), only CHARTS_SHOWN are open."""
    by_key: dict[str, list] = {}
    main_keys = []
    for e in entries:
        r, row = e["result"], e["row"]
        for curve in r.curves:
            key = charts.curve_key(curve)
            if r.main_score and (curve.measure, curve.group) == (
                r.main_score.measure,
                r.main_score.group,
            ):
                main_keys.append(key)
            by_key.setdefault(key, []).append(
                (row.row_id, row.label, row.color, row.control, row.row_id in on, curve)
            )
    main_measures = {k.split("/")[0] for k in main_keys}
    first_seen = list(by_key)

    def order_key(k: str) -> tuple:  # main curve, its measure's broadest groups, the rest
        curve = by_key[k][0][5]
        return (
            k not in main_keys,
            curve.measure not in main_measures,
            curve.group.count("/"),
            first_seen.index(k),
        )

    def chart(k: str, entries: list):  # point markers (values on hover) for the main measure
        return charts.curve_chart(entries, with_points=k.split("/")[0] in main_measures)

    keys = sorted(by_key, key=order_key)
    n_main = max(CHARTS_SHOWN, len(set(main_keys)))
    if len(keys) <= n_main + 2:
        return [chart(k, by_key[k]) for k in keys], []
    shown = [chart(k, by_key[k]) for k in keys[:n_main]]
    extra = []  # the highlighted models only: the grey context is on the charts shown
    for i, k in enumerate(keys[n_main:]):
        ch = chart(k, [e for e in by_key[k] if e[4]] or by_key[k])
        extra.append({"chart": ch, "id": f"chart-{i}-{slug(ch.key)[:100]}"})
    return shown, extra


def _chart_menu(extra: list[dict]) -> list[dict]:
    """The picker of the charts not shown: by measure, each a link to the chart's anchor (shown
    on :target, so it works without the script)."""
    menu: dict[str, list] = {}
    for e in extra:
        ch = e["chart"]
        label = "/".join(x for x in (ch.group, ch.stack) if x)
        menu.setdefault(ch.measure, []).append({"id": e["id"], "label": label})
    return [{"measure": m, "charts": items} for m, items in menu.items()]


# --- model pages -----------------------------------------------------------------------------------


def hub_command(row: Row, command: str | None) -> str | None:
    """The command without its `--revision offline:...`: where the Hub is reachable it runs the
    Hub's current revision of the same model id (None when the id is not a Hub id)."""
    if not command or row.offline_package is None or row.hub_url is None:
        return None
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    out, skip = [], False
    for w in words:
        if skip:
            skip = False
            continue
        if w == "--revision":
            skip = True
            continue
        if w.startswith("--revision="):
            continue
        out.append(w)
    return shlex.join(out)


def model_context(site, row: Row, raw_paths: dict[str, str]) -> dict:
    tasks = []
    for task in sorted(row.results):
        r = row.results[task]
        column = Column(r.main_score.name if r.main_score else "", [task])
        tasks.append(
            {
                "name": task,
                "anchor": slug(task),
                "page": site.task_pages[task],
                "result": r,
                "cell": cell(row, column),
                "verdict": table_model.verdict(r),
                "margin": control_margin(site, row, task),
                "score_name": r.main_score.name if r.main_score else "",
                "ranked": bool(r.main_score.ranked) if r.main_score else True,
                "command": r.run.command or "(not recorded)",
                "hub_command": hub_command(row, r.run.command),
                "charts": charts.model_charts(r),
                "legend": charts.group_legend(r),
                "heatmaps": [
                    charts.heatmap(m, site.domains.get(m.measure))
                    for m in charts.matrices_at_main_layer(r)
                    if r.main_score is None or m.measure == r.main_score.measure
                ],
                "notes": r.notes,
                "raw_path": raw_paths[task],
            }
        )
    trained = site.by_id.get(row.pair) if row.control and row.pair != row.row_id else None
    return {
        "row": row,
        "tasks": tasks,
        "controls": site.controls.get(row.row_id, []),
        "trained": trained,
        "offline": row.offline_package,
    }

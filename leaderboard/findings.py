"""The findings page (SITE/findings.html): which of the source studies' claims hold for each model.

Reads only result files of the `findings` kind (docs/tasks/findings.md): each result's
`details["findings"]` (one verdict per claim, with its statistic and interval) and its
`similarity=...` curves. A table of models x findings (verdict, effect size and interval; the
reason on hover), then per model one chart of its cross-lingual and cross-modal similarity against
relative depth, on a shared axis, with each curve's hub depth marked.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.results import TaskResult
from leaderboard import charts

KIND = "findings"
PAGE = "findings.html"
SIMILARITIES = {
    "similarity=cross_lingual_text": ("cross-lingual, text", charts.PALETTE[0]),
    "similarity=cross_lingual_speech": ("cross-lingual, speech", charts.PALETTE[1]),
    "similarity=cross_modal": ("cross-modal, same language", charts.PALETTE[2]),
}
VERDICT_CLASS = {
    "holds": "holds",
    "does not hold": "fails",
    "inconclusive": "inconclusive",
    "not_applicable": "na",
}


@dataclass
class FindingsRow:
    row: object  # leaderboard.data.Row
    reference: str | None
    cells: dict  # claim id -> finding
    chart: dict | None


def findings_results(row) -> list[TaskResult]:
    """A row's results of the findings kind that ran, in task order."""
    return [
        r
        for _, r in sorted(row.results.items())
        if r.task.kind == KIND and r.status == "ok" and isinstance(r.details.get("findings"), list)
    ]


def has_findings(rows) -> bool:
    return any(findings_results(row) for row in rows)


def _cells(results: list[TaskResult]) -> dict:
    cells: dict = {}
    for result in results:
        for f in result.details["findings"]:
            if isinstance(f, dict) and "claim" in f:
                cells.setdefault(str(f["claim"]), {**f, "task": result.task.name})
    return cells


def columns(rows: list[FindingsRow]) -> list[dict]:
    """Every claim seen, in the order results give them, with its label and source."""
    seen: dict[str, dict] = {}
    for fr in rows:
        for claim, f in fr.cells.items():
            seen.setdefault(claim, {"claim": claim, "label": f.get("label") or claim, **f})
    return [
        {
            "claim": c,
            "label": f["label"],
            "source": f.get("source"),
            "statistic": f.get("statistic"),
        }
        for c, f in seen.items()
    ]


def cell_text(f: dict | None) -> dict:
    """What a table cell shows: the verdict, and the statistic with its interval."""
    if f is None:
        return {"class": "missing", "verdict": "–", "value": "", "title": "not run"}
    verdict = str(f.get("verdict"))
    value = f.get("value")
    number = ""
    if isinstance(value, (int, float)):
        number = f"{value:+.3f}" if "depth" not in str(f.get("claim")) else f"{value:.2f}"
        low, high = f.get("ci_low"), f.get("ci_high")
        if isinstance(low, (int, float)) and isinstance(high, (int, float)):
            number += f" [{low:.3f}, {high:.3f}]"
    title = f"{f.get('statistic') or ''}"
    if f.get("reason"):
        title += f"\n{verdict}: {f['reason']}"
    return {
        "class": VERDICT_CLASS.get(verdict, "na"),
        "verdict": "n/a" if verdict == "not_applicable" else verdict,
        "value": number,
        "title": title.strip(),
    }


def similarity_chart(results: list[TaskResult], cells: dict) -> dict | None:
    """One chart: the row's similarity curves against relative depth (a shared axis), each
    curve's hub depth a vertical marker in its colour."""
    entries, seen = [], set()
    for result in results:
        for curve in result.curves:
            if curve.group in SIMILARITIES and curve.group not in seen:
                seen.add(curve.group)
                label, color = SIMILARITIES[curve.group]
                entries.append((curve.group.split("=", 1)[1], label, color, False, True, curve))
    if not entries:
        return None
    chart = charts.curve_chart(entries)
    chart.data["m"] = entries[0][5].measure  # the y axis: similarity, whichever curve
    hubs = []
    for series_id, label, color, *_ in entries:
        f = cells.get(f"hub_depth.{series_id}") or {}
        depth = f.get("depth")
        if isinstance(depth, (int, float)):
            verdict = f.get("verdict")
            hubs.append(
                {
                    "d": float(depth),
                    "c": color,
                    "t": f"hub of {label}: depth {depth:.2f} ({verdict})",
                }
            )
    chart.data["hubs"] = hubs  # a dashed vertical line each, in its curve's colour (charts.js)
    legend = [{"label": label, "color": color} for _, label, color, *_ in entries]
    return {"chart": chart, "legend": legend}


def findings_rows(rows) -> list[FindingsRow]:
    out = []
    for row in rows:
        results = findings_results(row)
        if not results:
            continue
        cells = _cells(results)
        reference = results[0].model.reference
        out.append(FindingsRow(row, reference, cells, similarity_chart(results, cells)))
    out.sort(key=lambda fr: (fr.reference is not None, fr.row.control, fr.row.model, fr.row.row_id))
    return out


def write_page(site) -> None:
    """SITE/findings.html, when any result is of the findings kind."""
    rows = findings_rows(site.rows)
    if not rows:
        return
    cols = columns(rows)
    table = [
        {"fr": fr, "cells": [cell_text(fr.cells.get(c["claim"])) for c in cols]} for fr in rows
    ]
    site.render("findings.html", PAGE, table=table, columns=cols, rows=rows)

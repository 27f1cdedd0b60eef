"""The main table's per-cell detail as one compact script, `data/index.js` (issue 19: at 200 models
the index was 772 kB, most of it every score's interval and null and every empty cell's reason
written out as markup).

The index's cells carry what sorting, filtering and the margin view read (the value, its sort key,
the margin over the control) and what a visitor sees first; the script fills in each score's
interval and null, and each empty cell's reason on hover, from this file when the page loads.
Without scripts the values show, and each model's page has every score with its interval, null
and verdict. The file is loaded by `<script src>`, which the pages' CSP (`script-src 'self'`)
allows; its strings are only ever set as text (`textContent`, `title`), never parsed as markup.

    window.BOARD_DETAIL = {
      "cols": [column key, ...],        the score columns, in the table's order
      "tabs": [tab key, ...],           the group-score columns, in the table's order
      "why": [text, ...],               each distinct reason once
      "rows": {row id: [[low, high, null] | why index | 0, ...], ...}   per score column
      "groups": {row id: [why index | 0, ...], ...}                   per group column
    }
"""

from __future__ import annotations

import json
import math
from pathlib import Path

PATH = "data/index.js"
CSS = "data/index.css"


def _num(x) -> float | None:
    return round(x, 3) if x is not None and math.isfinite(x) else None


def index_detail(rows, columns, cells, ranked_tabs, group_scores) -> dict:
    why: dict[str, int] = {}

    def reason(text: str | None) -> int:
        return why.setdefault(text, len(why) + 1) if text else 0  # 0: nothing to say

    detail, groups = {}, {}
    for r in rows:
        out = []
        for c in columns:
            x = cells[r.row_id][c.key]
            if x["status"] == "ok" and x.get("value") is not None:
                lo, hi, null = _num(x["ci_low"]), _num(x["ci_high"]), _num(x["null_mean"])
                out.append([lo, hi, null] if (lo, hi, null) != (None, None, None) else 0)
            else:
                out.append(reason(x.get("reason")))
        detail[r.row_id] = out
        groups[r.row_id] = [reason(group_scores[t.key][r.row_id].why) for t in ranked_tabs]
    texts = [""] + sorted(why, key=why.get)
    return {
        "cols": [c.key for c in columns],
        "tabs": [t.key for t in ranked_tabs],
        "why": texts,
        "rows": detail,
        "groups": groups,
    }


def write_index_detail(out: Path, detail: dict, css: str) -> None:
    target = Path(out) / PATH
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(detail, separators=(",", ":"), ensure_ascii=True)
    target.write_text(f"window.BOARD_DETAIL = {text};\n", encoding="utf-8")
    (Path(out) / CSS).write_text(css, encoding="utf-8")


def column_css(columns, ranked_tabs) -> str:
    """Which columns each group tab shows, by position (the model, the group's score, its score
    columns): the cells carry no tab class, 200 rows x 20 cells fewer bytes. A tab's columns are
    contiguous (the table lists them tab by tab)."""
    first = 3 + len(ranked_tabs)  # after the model, the parameters and the group scores
    spans: dict[str, list[int]] = {}
    for i, c in enumerate(columns):
        spans.setdefault(c.tab, []).append(first + i)
    group = {t.key: 3 + i for i, t in enumerate(ranked_tabs)}
    lines = ["/* written by leaderboard/build.py: the columns of each group tab, by position */"]
    for tab, at in spans.items():
        keep = f":not(:nth-child(n+{at[0]}):nth-child(-n+{at[-1]}))"
        if tab in group:
            keep += f":not(:nth-child({group[tab]}))"
        lines.append(f'#board[data-tab="{tab}"] tr > .c:not(.m){keep} {{ display: none; }}')
    return "\n".join(lines) + "\n"

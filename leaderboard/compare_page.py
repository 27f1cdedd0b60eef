"""The two-model comparison (SITE/compare.html#a=<row id>&b=<row id>): two rows' main scores side
by side, column by column, with their intervals, and which differences lie outside both
intervals (each model's score outside the other's interval: a difference the intervals do not
cover either way; not a paired test, as the two were not resampled together).

The page is drawn for a default pair (so it reads without the script); every row's scores are in
one escaped attribute per row (`data-s`: "value lo hi" per column, ";"-separated, in the table's
column order), and static/compare.js redraws the table for the pair in the URL's hash.
"""

from __future__ import annotations

import math

from leaderboard import table as table_model
from leaderboard.data import Row, cell

PAGE = "compare.html"


def _ok(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _num(x) -> float | None:
    """The value as the page carries it (6 significant digits), so the script and this module
    judge the same numbers."""
    return float(f"{x:.6g}") if _ok(x) else None


def score_triple(row: Row, column: table_model.BoardColumn) -> tuple | None:
    c = cell(row, column.column)
    if c.get("status") != "ok" or not _ok(c.get("value")):
        return None
    return (_num(c["value"]), _num(c.get("ci_low")), _num(c.get("ci_high")))


def encode(triples: list[tuple | None]) -> str:
    """`data-s`: "v lo hi" per column (empty for no score; "-" for a missing bound)."""

    def one(t):
        if t is None:
            return ""
        return " ".join("-" if x is None else f"{x:.6g}" for x in t)

    return ";".join(one(t) for t in triples)


def judge(a: tuple | None, b: tuple | None, higher_is_better: bool, ranked: bool) -> dict:
    """The comparison of one column: the difference a - b, and whether it is outside both
    intervals (a's score outside b's interval and b's outside a's), and who is ahead."""
    if a is None or b is None:
        return {"state": "missing", "diff": None, "text": "not both scored"}
    diff = a[0] - b[0]
    if None in (*a[1:], *b[1:]):
        return {"state": "nointerval", "diff": diff, "text": "no interval to judge by"}

    def outside(v, t):
        return _ok(t[1]) and _ok(t[2]) and not (t[1] <= v <= t[2])

    if not (outside(a[0], b) and outside(b[0], a)):
        return {"state": "within", "diff": diff, "text": "within the intervals"}
    if not ranked:
        return {"state": "outside", "diff": diff, "text": "differs (descriptive)"}
    a_ahead = (diff > 0) == higher_is_better
    return {
        "state": "a" if a_ahead else "b",
        "diff": diff,
        "text": f"{'A' if a_ahead else 'B'} better, outside both intervals",
    }


def default_pair(rows: list[Row]) -> tuple[Row, Row] | None:
    """The two trained models with the most scores (then by name); any two rows otherwise."""

    def n_scores(r: Row) -> int:
        return sum(1 for x in r.results.values() if x.status == "ok" and x.main_score)

    trained = [r for r in rows if not r.control and r.reference is None]
    pool = trained if len(trained) >= 2 else rows
    pool = sorted(pool, key=lambda r: (-n_scores(r), r.label, r.row_id))
    return (pool[0], pool[1]) if len(pool) >= 2 else None


def comparison(a: Row, b: Row, columns: list[table_model.BoardColumn]) -> list[dict]:
    out = []
    for c in columns:
        ta, tb = score_triple(a, c), score_triple(b, c)
        out.append({"column": c, "a": ta, "b": tb, **judge(ta, tb, c.higher_is_better, c.ranked)})
    return out


def write_page(site) -> None:
    bcols = table_model.board_columns(site.cols, site.rows)
    columns = [c for t in table_model.tabs(bcols) for c in t.columns]  # in tab order
    pair = default_pair(site.rows)
    data = [{"row": r, "s": encode([score_triple(r, c) for c in columns])} for r in site.rows]
    site.render(
        PAGE,
        PAGE,
        columns=columns,
        data=data,
        pair=pair,
        rows_compared=comparison(*pair, columns) if pair else [],
        task_pages=site.task_pages,
    )

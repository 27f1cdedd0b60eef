"""The board's extra views (leaderboard/views.py): the per-language grids, score vs size and the
two-model comparison, on the data each computes and on the pages built from it (the comparison's
URL state is in test_leaderboard_browser.py)."""

from __future__ import annotations

import re

import pytest
from test_leaderboard import TASKS, chart_data, make_results, put

from benchmark.results import Matrix
from leaderboard import build_site, compare_page, languages, sizes
from leaderboard import table as table_model
from leaderboard.data import Column, Row
from leaderboard.synthetic import synthetic_result, task_config

LANGS = ["de_de", "en_us", "ru_ru"]


def with_matrices(values_by_layer: list[list[list]], group="text", config=None):
    """A synthetic result whose only matrices are `values_by_layer` (LANGS x LANGS per layer)."""
    r = synthetic_result("org/m", config or TASKS[0], n_layers=len(values_by_layer) - 1,
                         languages=LANGS)  # fmt: skip
    layers = [p.layer for p in r.curves[0].points]
    ms = [
        Matrix(
            name=f"svcca/{group}/{lay}",
            measure="svcca",
            group=group,
            layer=lay,
            rows=LANGS,
            columns=LANGS,
            values=v,
        )  # fmt: skip
        for lay, v in zip(layers, values_by_layer, strict=True)
    ]
    return r.model_copy(update={"matrices": ms})


def test_off_diagonal_means_pairs_and_the_main_layer():
    # layer 0: de-en close (0.8), ru apart (0.2); layer 1 (made the main layer): all 0.5
    sym = [[None, 0.8, 0.2], [0.8, None, 0.2], [0.2, 0.2, None]]
    flat = [[None, 0.5, 0.5], [0.5, None, 0.5], [0.5, 0.5, None]]
    r = with_matrices([sym, flat])
    ms = r.main_score.model_copy(
        update={"layer": r.main_score.layer.model_copy(update={"layer": "embeddings"})}
    )
    grids = languages.grids(r.model_copy(update={"main_score": ms}))
    assert [g.what for g in grids] == [languages.OFF]  # no diagonal: nothing to show there
    g = grids[0]
    assert g.languages == LANGS and g.layers == ["embeddings", "layer_1"]
    assert g.values == [[pytest.approx(0.5), 0.5], [pytest.approx(0.5), 0.5], [0.2, 0.5]]
    assert g.shown_layer == "embeddings"
    assert [lang for lang, _ in g.at_main()][-1] == "ru_ru"  # left most apart
    assert g.pairs[0][:2] == ("de_de", "en_us") and g.pairs[0][2] == pytest.approx(0.8)
    assert g.pairs[-1][2] == pytest.approx(0.2) and len(g.pairs) == 3


def test_a_pair_is_the_mean_of_its_two_directions_and_a_language_of_its_row_and_column():
    asym = [[None, 0.6, 0.0], [0.2, None, 0.0], [0.0, 0.0, None]]  # de->en 0.6, en->de 0.2
    g = languages.grids(with_matrices([asym, asym]))[0]
    assert dict(((a, b), v) for a, b, v in g.pairs)[("de_de", "en_us")] == pytest.approx(0.4)
    assert g.values[0][0] == pytest.approx((0.6 + 0.0 + 0.2 + 0.0) / 4)


def test_an_informative_diagonal_gets_its_own_grid_a_self_similarity_one_does_not():
    cross = [
        [0.9, 0.3, 0.3],
        [0.3, 0.7, 0.3],
        [0.3, 0.3, 0.5],
    ]  # speech L vs text L on the diagonal
    grids = languages.grids(with_matrices([cross, cross], group="speech->text"))
    assert [g.what for g in grids] == [languages.OFF, languages.DIAGONAL]
    assert [row[0] for row in grids[1].values] == [0.9, 0.7, 0.5]
    self_sim = [[1.0, 0.3, 0.4], [0.3, 1.0, 0.5], [0.4, 0.5, 1.0]]
    assert [g.what for g in languages.grids(with_matrices([self_sim, self_sim]))] == [languages.OFF]


def test_only_language_matrices_of_the_main_measure_count():
    r = with_matrices([[[None, 0.5, 0.5]] * 3] * 2)
    other = [
        m.model_copy(update={"rows": ["0", "0.5", "1"]})
        for m in r.matrices  # alphas x layers
    ] + [m.model_copy(update={"measure": "cka"}) for m in r.matrices]
    assert languages.grids(r.model_copy(update={"matrices": other})) == []
    assert languages.short_layer("speech:layer_3|text:layer_3") == "3"
    assert languages.short_layer("embeddings") == "emb"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("views")
    make_results(root / "results")
    build_site(root / "results", root / "site")
    return root / "site"


def test_language_pages_share_one_scale_and_say_what_is_missing(site):
    pages = sorted((site / "languages").glob("*.html"))
    assert len(pages) == 4  # every row has gap_text's matrices
    scales = set()
    for page in pages:
        html = page.read_text()
        scales |= set(re.findall(r"svcca · text · with the other languages, language by layer; "
                                 r"colour scale (\S+) to (\S+),", html))  # fmt: skip
        assert "no interval and no null per" in html
        grids = [d for d in chart_data(html) if d["kind"] == "grid"]
        assert grids and all(len(d["v"]) == len(d["rows"]) for d in grids)
        assert all(len(row) == len(d["cols"]) for d in grids for row in d["v"])
    assert len(scales) == 1  # gap_text's scale: the same on every model's page
    e5 = next(p for p in pages if "multilingual" in p.name).read_text()
    # a text-only model: gap_modal is not applicable, and the page says so
    assert re.search(r"<strong>gap_modal</strong>: not_applicable: model takes text", e5)
    model_page = next((site / "models").glob("intfloat*.html")).read_text()
    assert 'href="../languages/intfloat__multilingual-e5-small--' in model_page


def test_no_language_matrix_no_language_page(tmp_path):
    r = synthetic_result("org/m", TASKS[0], n_layers=2)
    put(tmp_path / "results", r.model_copy(update={"matrices": []}))
    put(tmp_path / "results", synthetic_result("org/n", TASKS[0], n_layers=2))
    build_site(tmp_path / "results", tmp_path / "site")
    assert [p.name.split("--")[0] for p in (tmp_path / "site" / "languages").glob("*")] == [
        "org__n"
    ]
    m_page = next((tmp_path / "site" / "models").glob("org__m--*.html")).read_text()
    assert "Per-language view" not in m_page


def row(model, n, control=False, reference=None, value=0.5) -> Row:
    config = task_config("t", "cross_lingual_gap", ("text",), "t_svcca")
    r = synthetic_result(model, config, init="random(seed=0)" if control else "pretrained")
    ms = r.main_score.model_copy(update={"value": value, "ci_low": value - 0.1,
                                         "ci_high": value + 0.1})  # fmt: skip
    x = Row(model + str(control), model, "main", {}, r.model.init, control, ["text"], "f", n,
            reference=reference, color="#123456")  # fmt: skip
    x.results["t"] = r.model_copy(update={"main_score": ms})
    return x


def column() -> table_model.BoardColumn:
    return table_model.BoardColumn(Column("t_svcca", ["t"]), "t_svcca", "gaps", "k", "svcca",
                                   True, (0.0, 1.0), False)  # fmt: skip


def test_score_vs_size_places_models_on_a_log_axis_and_references_as_lines():
    rows = [
        row("a/small", 10**7, value=0.3),
        row("a/small", 10**7, control=True, value=0.1),
        row("a/mid", 10**8, value=0.5),
        row("a/big", 10**9, value=0.7),
        row("known:x", None, reference="ceiling", value=0.95),
        row("local/nosize", None, value=0.4),
    ]
    chart = sizes.layout(sizes.size_points(rows, column()))
    assert [p.row.model for p in chart.points] == ["a/small", "a/small", "a/mid", "a/big"]
    assert [r.reference for r, _ in chart.references] == ["ceiling"]
    assert [r.model for r in chart.unplaced] == ["local/nosize"]
    xs = {(m.group(2), m.group(1)) for m in re.finditer(
        r'<g class="spt (\w+)"><title>([^:]+):.*?<circle cx="([\d.]+)"', chart.marks)}  # fmt: skip
    cx = {
        m.group(1): float(m.group(2))
        for m in re.finditer(
            r'<g class="spt trn"><title>([^:]+):.*?<circle cx="([\d.]+)"', chart.marks
        )  # fmt: skip
    }
    assert {k for k, _ in xs} == {"a/small", "a/mid", "a/big", "a/small (random(seed=0))"}
    assert ("a/small (random(seed=0))", "ctl") in xs  # the control: its own (hollow) mark
    # log axis: 10M -> 100M is as far as 100M -> 1B
    assert cx["a/mid"] - cx["a/small"] == pytest.approx(cx["a/big"] - cx["a/mid"], abs=0.2)
    assert [t["label"] for t in chart.x_ticks] == ["10M", "20M", "50M", "100M", "200M", "500M",
                                                    "1B"]  # fmt: skip
    assert 'class="sref"' in chart.marks and ">ceiling</text>" in chart.marks


def test_size_pages_one_chart_per_ranked_column(site):
    html = (site / "sizes" / "gaps.html").read_text()
    assert sorted(re.findall(r'<figure class="chart sizechart" id="size-([^"]+)"', html)) == [
        "gap_text_svcca",
        "modal_svcca",
    ]
    assert html.count("parameters (log scale)</text>") == 2
    assert 'href="sizes/gaps.html"' in (site / "index.html").read_text()  # linked from the index


def test_compare_judges_differences_outside_both_intervals():
    assert compare_page.judge((0.5, 0.4, 0.6), (0.8, 0.7, 0.9), True, True)["state"] == "b"
    assert compare_page.judge((0.5, 0.4, 0.6), (0.8, 0.7, 0.9), False, True)["state"] == "a"
    # each inside the other's interval, or only one outside: not marked
    assert compare_page.judge((0.5, 0.3, 0.7), (0.6, 0.4, 0.8), True, True)["state"] == "within"
    assert compare_page.judge((0.5, 0.45, 0.55), (0.6, 0.3, 0.9), True, True)["state"] == "within"
    assert compare_page.judge((0.5, 0.4, 0.6), None, True, True)["state"] == "missing"
    assert compare_page.judge((3.0, None, None), (1.0, None, None), True, False)["state"] == (
        "nointerval"
    )
    assert compare_page.judge((0.5, 0.4, 0.6), (0.8, 0.7, 0.9), True, False)["state"] == "outside"
    assert compare_page.encode([(0.5, 0.4, None), None, (1.0, 0.9, 1.1)]) == (
        "0.5 0.4 -;;1 0.9 1.1"
    )


def test_compare_page_reads_without_the_script(site):
    html = (site / "compare.html").read_text()
    head = re.search(r'<th scope="col" id="cmp-head-a">(.*?)</th>', html, re.S).group(1)
    assert "multilingual-e5-small" in head or "whisper-base" in head  # a trained model
    assert len(re.findall(r'<li data-row="\w+"', html)) == 4
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    assert len(re.findall(r'<tr class="state-\w+"', body)) == 2  # a row per column
    assert 'src="assets/compare.js"' in html and " style=" not in html
    assert 'href="compare.html"' in (site / "index.html").read_text()
    model = next((site / "models").glob("openai__whisper-base--*.html")).read_text()
    assert re.search(r'href="../compare.html#a=\w+&amp;b=\w+"', model)


def test_a_measure_computed_under_a_control_is_drawn_on_its_measures_chart():
    from pathlib import Path

    from benchmark.results import TaskResult
    from leaderboard import charts

    root = Path(__file__).resolve().parents[1] / "leaderboard" / "results"
    path = next(
        p
        for p in sorted(root.glob("intfloat__multilingual-e5-small/*/retrieval_text/*.json"))
        if '"init": "pretrained"' in p.read_text()
    )
    result = TaskResult.model_validate_json(path.read_text())
    drawn = charts.model_charts(result)
    measures = {c.measure for c in result.curves}
    assert "accuracy@1_length_controlled" in measures  # the kind computes it...
    assert [c.measure for c in drawn] == ["accuracy@1", "recall@5", "mrr", "xsim"]  # ...no chart
    (acc,) = [c for c in drawn if c.measure == "accuracy@1"]
    labels = [s["lb"] for s in acc.data["s"]]
    assert any(label.endswith("(length controlled)") for label in labels)
    assert any(label.endswith("(disjoint items)") for label in labels)
    assert {x["label"] for x in charts.group_legend(result)} == set(labels)

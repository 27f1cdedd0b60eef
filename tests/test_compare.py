"""`interlingua compare`: a planted regression fails, an unchanged run passes, a lost task fails,
changes within the tolerance or the intervals pass; and the golden suite still gives the
committed numbers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.compare import CompareOptions, Tolerances, compare_folders, intervals_say_real
from benchmark.results import MainScore, TaskResult, read_result, result_path, write_result
from benchmark.results.keys import config_sha256, content_key
from leaderboard.synthetic import synthetic_result, task_config

TASKS = [
    task_config("gap_text", "cross_lingual_gap", ("text",), "gap_text_svcca"),
    task_config("gap_modal", "cross_modal_gap", ("text", "speech"), "modal_svcca"),
]


def write_folder(folder: Path, models=("org/a", "org/b"), revision=None) -> Path:
    for i, model in enumerate(models):
        for config in TASKS:
            r = synthetic_result(model, config, seed=i, n_layers=4, revision=revision)
            write_result(result_path(folder, model, r.model.revision, config["name"], r.key), r)
    return folder


def result_file(folder: Path, model_slug: str, task: str) -> Path:
    return next(folder.glob(f"{model_slug}/*/{task}/*.json"))


def edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def rekey(data: dict) -> None:
    """What a run of the edited config would have written: its hash and key follow the content."""
    data["task"]["config_sha256"] = config_sha256(data["task"]["config"])
    data["key"] = content_key(TaskResult(**data))


@pytest.fixture
def folders(tmp_path):
    base = write_folder(tmp_path / "base")
    cand = tmp_path / "cand"
    shutil.copytree(base, cand)
    return base, cand


def run_cli(capsys, base, cand, *more) -> tuple[int, str]:
    code = main(["compare", "--baseline", str(base), "--candidate", str(cand), *more])
    return code, capsys.readouterr().out


def test_unchanged_run_passes(folders, capsys):
    code, out = run_cli(capsys, *folders)
    assert code == 0
    assert "OK: no regression" in out and "4 task result(s) paired" in out
    assert out.count("main:") == 4  # the main scores are always listed


def test_planted_regression_fails(folders, capsys):
    base, cand = folders

    def lower(data):
        s = data["main_score"]
        for field in ("value", "ci_low", "ci_high"):
            s[field] -= 0.2

    edit(result_file(cand, "org__a", "gap_text"), lower)
    code, out = run_cli(capsys, base, cand)
    assert code == 1
    line = next(x for x in out.splitlines() if "main:gap_text_svcca" in x and "org/a" in x)
    assert "regressed" in line and "-0.2000" in line
    assert "FAILED: 1 problem(s)" in out


def test_improvement_passes_and_direction_follows_higher_is_better(folders, capsys):
    base, cand = folders
    path = result_file(cand, "org__a", "gap_text")

    def higher(data):
        for field in ("value", "ci_low", "ci_high"):
            data["main_score"][field] += 0.2

    edit(path, higher)
    code, out = run_cli(capsys, base, cand)
    assert code == 0 and "improved" in out

    def lower_is_better(data):
        data["main_score"]["higher_is_better"] = False

    edit(path, lower_is_better)
    edit(result_file(base, "org__a", "gap_text"), lower_is_better)
    code, out = run_cli(capsys, base, cand)
    assert code == 1 and "regressed" in out


def test_change_inside_tolerance_or_intervals_passes(folders, capsys):
    base, cand = folders
    path = result_file(cand, "org__a", "gap_text")
    value = read_result(path).main_score.value

    def nudge(delta, widen=0.0):
        def change(data):
            s = data["main_score"]
            s["value"] = value + delta
            s["ci_low"], s["ci_high"] = value + delta - widen, value + delta + widen

        return change

    edit(path, nudge(-0.01, 0.03))  # under the default tolerance of 0.02
    code, out = run_cli(capsys, base, cand)
    assert code == 0 and "within tolerance" in out
    edit(path, nudge(-0.05, 0.2))  # over it, but each value inside the other's interval
    code, out = run_cli(capsys, base, cand)
    assert code == 0 and "not significant" in out
    code, out = run_cli(capsys, base, cand, "--tolerance-for", "gap_text_svcca=0.1")
    assert code == 0 and "within tolerance" in out


def test_disappeared_task_fails(folders, capsys):
    base, cand = folders
    shutil.rmtree(result_file(cand, "org__b", "gap_modal").parent)
    code, out = run_cli(capsys, base, cand)
    assert code == 1
    assert "org/b" in out and "missing" in out and "missing in the candidate" in out


def test_task_no_longer_ok_fails(folders, capsys):
    base, cand = folders

    def fail(data):
        data.update(status="not_applicable", reason="speech dropped", main_score=None)
        data.update(curves=[], matrices=[])

    edit(result_file(cand, "org__a", "gap_modal"), fail)
    code, out = run_cli(capsys, base, cand)
    assert code == 1 and "not_applicable in the candidate: speech dropped" in out


def test_config_difference_is_said(folders, capsys):
    base, cand = folders

    def change_k(data):
        data["task"]["config"]["metric"]["svcca_k"] = 5
        rekey(data)

    edit(result_file(cand, "org__a", "gap_text"), change_k)
    code, out = run_cli(capsys, base, cand)
    assert code == 0
    assert "task configs differ (metric.svcca_k: 10 -> 5)" in out


def test_curve_point_regressions_are_listed_and_can_fail(folders, capsys):
    base, cand = folders

    def sink(data):
        p = data["curves"][1]["points"][2]
        for field in ("value", "ci_low", "ci_high"):
            p[field] -= 0.3

    edit(result_file(cand, "org__a", "gap_text"), sink)
    code, out = run_cli(capsys, base, cand)
    assert code == 0 and "regressed" in out and "cka/text@layer_2" in out
    code, out = run_cli(capsys, base, cand, "--fail-on-curves")
    assert code == 1


def test_match_model_id_pairs_two_checkpoints(tmp_path, capsys):
    base = write_folder(tmp_path / "base", models=("org/a",), revision="1" * 40)
    cand = write_folder(tmp_path / "cand", models=("org/a",), revision="2" * 40)
    code, out = run_cli(capsys, base, cand)
    assert code == 1 and "missing" in out  # another revision: nothing pairs by default
    code, out = run_cli(capsys, base, cand, "--match", "model-id", "--format", "markdown")
    assert code == 0 and out.startswith("| model |") and "compared with org/a@1111" in out


def test_golden_mode_fails_on_any_moved_number(folders):
    base, cand = folders

    def tweak_null(data):
        data["main_score"]["null_mean"] += 0.001

    edit(result_file(cand, "org__b", "gap_modal"), tweak_null)
    strict = CompareOptions(tolerances=Tolerances(1e-4), fail_on="change")
    assert compare_folders(base, cand, CompareOptions()).exit_code == 0
    result = compare_folders(base, cand, strict)
    assert result.exit_code == 1
    assert any("main:modal_svcca.null_mean: changed" in f for f in result.failures)


def test_empty_or_missing_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code = main(["compare", "--baseline", str(tmp_path / "empty"), "--candidate", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no results to read" in err


def test_interval_rule():
    def score(value, low, high):
        return MainScore.model_construct(value=value, ci_low=low, ci_high=high)

    assert intervals_say_real(score(0.5, 0.45, 0.55), score(0.6, 0.56, 0.64))
    assert not intervals_say_real(score(0.5, 0.40, 0.62), score(0.6, 0.56, 0.64))
    assert intervals_say_real(score(0.5, None, None), score(0.6, None, None))  # tolerance only


def test_golden_suite_reproduces_the_committed_results():
    """The tiny-model suite against tests/golden/results. If this fails because a change moved
    the numbers on purpose, regenerate with `make golden` and commit the diff."""
    from golden_suite import TASKS, check

    from benchmark.compare import render

    comparison = check()
    assert comparison.exit_code == 0, render(comparison)
    tasks = list(TASKS.glob("*.yaml"))
    assert len(tasks) == 13 and comparison.n_pairs == 2 * len(tasks)  # every task x 2 models

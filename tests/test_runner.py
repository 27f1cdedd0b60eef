"""End to end: `interlingua run` on tiny config-built models and the embedded concepts probes.

Covers result layout and schema, not-applicable tasks, cache reuse across tasks and runs, resume
after a failure, and --overwrite.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.models.testing import build_tiny_text_encoder, build_tiny_whisper
from benchmark.representations.extract import extract as real_extract
from benchmark.results import read_result
from benchmark.runner import RunOptions, run

LANGS = ["en_us", "de_de", "es_419"]
TASK = """\
include: {defaults}
name: {name}
version: 1
kind: {kind}
modalities: [text, speech]
probes: {{source: concepts, languages: [en_us, de_de, es_419], n: 16, seed: 3}}
metric: {{svcca_k: 4, n_null: 20, n_resamples: 20}}
main_score: {{name: {name}_svcca, layer: best}}
"""


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {
        "whisper": build_tiny_whisper(root / "whisper"),
        "bert": build_tiny_text_encoder(root / "bert", "xlm-roberta"),
    }


@pytest.fixture
def tasks_dir(tmp_path, monkeypatch):
    directory = tmp_path / "tasks"
    directory.mkdir()
    defaults = Path(__file__).resolve().parent.parent / "tasks" / "_defaults.yaml"
    for name in ("cross_lingual_gap", "cross_modal_gap"):
        text = TASK.format(defaults=defaults, name=name, kind=name)
        (directory / f"{name}.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("INTERLINGUA_TASKS_DIR", str(directory))
    return directory


def count_extractions(monkeypatch) -> list[tuple]:
    calls: list[tuple] = []
    original = real_extract

    def counting(adapter, modality, language, *args, **kwargs):
        calls.append((language, modality))
        return original(adapter, modality, language, *args, **kwargs)

    monkeypatch.setattr("benchmark.runner.extract", counting)
    return calls


def options(model: Path, tmp_path: Path, **overrides) -> RunOptions:
    base = {
        "model": str(model),
        "tasks": "all",
        "output": tmp_path / "results",
        "cache_dir": tmp_path / "cache",
        "progress": False,
    }
    return RunOptions(**(base | overrides))


def test_run_writes_versioned_results_and_reuses_representations(
    models, tasks_dir, tmp_path, monkeypatch
):
    calls = count_extractions(monkeypatch)
    summary = run(options(models["whisper"], tmp_path))
    assert summary.failed == []
    # Six (language, modality) units, each extracted once although two tasks read them.
    assert sorted(calls) == sorted((lang, mod) for lang in LANGS for mod in ("speech", "text"))

    path = summary.paths["cross_modal_gap"]
    assert path.parent.parent.parent == tmp_path / "results"  # <model-slug>/<revision>/<task>.json
    result = read_result(path)
    assert result.status == "ok" and result.task["kind"] == "cross_modal_gap"
    assert result.probes["n"] == 16 and result.probes["languages"] == sorted(LANGS)
    assert result.model["adapter"]["family"] == "whisper"
    assert result.model["adapter"]["settings"]["window"] == "full"
    main_score = result.main_score
    assert main_score.ci_low is not None and main_score.null_mean is not None
    curve = result.scores["curves"]["svcca"]["same_language"]
    assert len(curve) == 3  # embeddings + 2 layers of the tiny model, aligned speech/text
    assert result.environment["packages"]["torch"]

    # A second run into a fresh results folder reuses every cached representation.
    calls.clear()
    again = run(options(models["whisper"], tmp_path, output=tmp_path / "results2"))
    assert calls == []
    for name, res in again.results.items():
        assert res.runtime["seconds_extraction"] == 0
        first = summary.results[name].main_score.value
        assert res.main_score.value == pytest.approx(first)


def test_finished_tasks_are_skipped_and_overwrite_recomputes(
    models, tasks_dir, tmp_path, monkeypatch
):
    calls = count_extractions(monkeypatch)
    run(options(models["whisper"], tmp_path, tasks="cross_lingual_gap"))
    written = next((tmp_path / "results").rglob("cross_lingual_gap.json"))
    stamp = written.stat().st_mtime_ns
    calls.clear()
    run(options(models["whisper"], tmp_path, tasks="cross_lingual_gap"))
    assert calls == [] and written.stat().st_mtime_ns == stamp  # same config: skipped
    run(options(models["whisper"], tmp_path, tasks="cross_lingual_gap", overwrite=True))
    assert len(calls) == 6 and written.stat().st_mtime_ns != stamp


def test_interrupted_run_resumes_without_recomputing(models, tasks_dir, tmp_path, monkeypatch):
    original = real_extract
    done: list[tuple] = []

    def failing(adapter, modality, language, *args, **kwargs):
        if language == "es_419" and modality == "speech":
            raise RuntimeError("simulated crash")
        done.append((language, modality))
        return original(adapter, modality, language, *args, **kwargs)

    monkeypatch.setattr("benchmark.runner.extract", failing)
    summary = run(options(models["whisper"], tmp_path, tasks="cross_modal_gap"))
    assert summary.failed == ["cross_modal_gap"]
    assert "simulated crash" in summary.results["cross_modal_gap"].reason
    assert done == [("de_de", "speech"), ("en_us", "speech")]  # cached before the crash

    calls = count_extractions(monkeypatch)
    summary = run(options(models["whisper"], tmp_path, tasks="cross_modal_gap"))
    assert summary.failed == []
    assert not set(calls) & set(done)  # nothing finished was recomputed
    assert ("es_419", "speech") in calls


def test_text_model_gets_not_applicable_for_speech_task(models, tasks_dir, tmp_path):
    summary = run(options(models["bert"], tmp_path))
    modal = summary.results["cross_modal_gap"]
    assert modal.status == "not_applicable" and "speech" in modal.reason
    lingual = summary.results["cross_lingual_gap"]
    assert lingual.status == "ok"
    assert set(lingual.scores["curves"]["svcca"]) == {"text"}


def test_cli_run_and_bad_input_exit_codes(models, tasks_dir, tmp_path, capsys):
    code = main(
        [
            "run",
            "--model",
            str(models["bert"]),
            "--tasks",
            "cross_lingual_gap",
            "--languages",
            "en_us,de_de",
            "--limit",
            "16",
            "--output",
            str(tmp_path / "out"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "cross_lingual_gap_svcca" in out
    result = json.loads(next((tmp_path / "out").rglob("cross_lingual_gap.json")).read_text())
    assert result["probes"]["languages"] == ["de_de", "en_us"]

    code = main(["run", "--model", str(models["bert"]), "--tasks", "cross_lingual_gapp"])
    assert code == 2 and "Did you mean 'cross_lingual_gap'" in capsys.readouterr().err
    code = main(
        [
            "run",
            "--model",
            str(models["bert"]),
            "--languages",
            "xx_yy",
            "--no-progress",
            "--output",
            str(tmp_path / "o2"),
            "--cache-dir",
            str(tmp_path / "cache"),
        ]
    )
    assert code == 1  # the task records the error; the run reports failure
    result = json.loads(next((tmp_path / "o2").rglob("cross_lingual_gap.json")).read_text())
    assert result["status"] == "error" and "xx_yy" in result["reason"]

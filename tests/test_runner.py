"""End to end: `interlingua run` on tiny config-built models and the embedded concepts probes.

Results keyed by everything that changes them, side by side; nothing finished is lost or damaged
(failures beside results, verified cache entries); bad input fails before the model loads; a
re-score from the cache never loads the model. Interrupted, killed and concurrent runs, paths
that try to leave their root and file modes are in test_hostile_input.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file, safe_open, save_file

from benchmark.cli import main
from benchmark.representations import extract as real_extract
from benchmark.representations.extract import run_batches as real_run_batches
from benchmark.results import iter_result_files, read_result
from benchmark.runner import RunOptions, run

LANGS = ["en_us", "de_de", "es_419"]
TASK = """\
include: {defaults}
name: {name}
version: 1
kind: {kind}
modalities: {modalities}
probes: {{source: concepts, languages: [en_us, de_de, es_419], n: 16, seed: 3}}
metric: {{svcca_k: 4, n_null: 20, n_resamples: 20}}
main_score: {{name: {name}_svcca, layer: best}}
"""
TASKS = {
    "cross_lingual_gap_text": ("cross_lingual_gap", "[text]"),
    "cross_lingual_gap_speech": ("cross_lingual_gap", "[speech]"),
    "cross_modal_gap": ("cross_modal_gap", "[text, speech]"),
}


@pytest.fixture
def tasks_dir(tmp_path, monkeypatch):
    directory = tmp_path / "tasks"
    directory.mkdir()
    defaults = Path(__file__).resolve().parent.parent / "tasks" / "_defaults.yaml"
    for name, (kind, modalities) in TASKS.items():
        text = TASK.format(defaults=defaults, name=name, kind=kind, modalities=modalities)
        (directory / f"{name}.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("INTERLINGUA_TASKS_DIR", str(directory))
    return directory


def count_extractions(monkeypatch) -> list[tuple]:
    calls: list[tuple] = []

    def counting(adapter, modality, language, *args, **kwargs):
        calls.append((language, modality))
        return real_run_batches(adapter, modality, language, *args, **kwargs)

    monkeypatch.setattr("benchmark.representations.service.run_batches", counting)
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


def test_run_writes_keyed_results_and_rescores_without_the_model(
    tiny_models, tasks_dir, tmp_path, monkeypatch
):
    calls = count_extractions(monkeypatch)
    summary = run(options(tiny_models["whisper"], tmp_path))
    assert summary.failed == [] and summary.model_loaded
    # Six (language, modality) units, each extracted once although three tasks read them.
    assert sorted(calls) == sorted((lang, mod) for lang in LANGS for mod in ("speech", "text"))

    path = summary.paths["cross_modal_gap"]
    result = read_result(path)
    # <output>/<model>/<revision>/<task>/<key16>.json
    assert path.relative_to(tmp_path / "results").parts[2] == "cross_modal_gap"
    assert path.name == f"{result.key[:16]}.json"
    assert result.status == "ok" and result.task.kind == "cross_modal_gap"
    assert result.probes.n == 16 and result.probes.languages == sorted(LANGS)
    assert result.model.family == "whisper" and result.model.settings["window"] == "cropped"
    assert result.model.n_parameters > 0
    main_score = result.main_score
    assert main_score.ci_low < main_score.value < main_score.ci_high
    assert main_score.null_mean < main_score.null_q95  # (a tiny random model: no claim above it)
    assert main_score.verdict in ("above_null", "at_null")
    assert (
        main_score.layer.selection == "max over layers within each permutation and each replicate"
    )
    (curve,) = [
        c for c in result.curves if c.measure == "svcca" and c.group == "pairs=same_language"
    ]
    assert len(curve.points) == 3  # embeddings + 2 layers of the tiny model, aligned
    assert "--tasks cross_modal_gap" in result.run.command

    # A re-score into a fresh folder: every representation cached, the model never loaded.
    calls.clear()
    monkeypatch.setattr("benchmark.runner.load_adapter", _must_not_load)
    again = run(options(tiny_models["whisper"], tmp_path, output=tmp_path / "results2"))
    assert calls == [] and not again.model_loaded
    for name, res in again.results.items():
        assert res.run.seconds_extraction == 0 and res.run.model_loaded is False
        assert res.key == summary.results[name].key
        assert res.main_score.value == pytest.approx(summary.results[name].main_score.value)
        assert res.model.n_parameters == result.model.n_parameters  # kept from the first load


def _must_not_load(*args, **kwargs):
    raise AssertionError("the model was loaded although everything was cached")


def test_finished_tasks_are_skipped_and_overwrite_recomputes(
    tiny_models, tasks_dir, tmp_path, monkeypatch
):
    calls = count_extractions(monkeypatch)
    first = run(options(tiny_models["whisper"], tmp_path, tasks="cross_lingual_gap_speech"))
    written = first.paths["cross_lingual_gap_speech"]
    stamp = written.stat().st_mtime_ns
    calls.clear()
    run(options(tiny_models["whisper"], tmp_path, tasks="cross_lingual_gap_speech"))
    assert calls == [] and written.stat().st_mtime_ns == stamp  # same key: skipped
    run(options(tiny_models["whisper"], tmp_path, tasks="cross_lingual_gap_speech", overwrite=True))
    assert len(calls) == 3 and written.stat().st_mtime_ns != stamp


def test_interrupted_run_resumes_without_recomputing(tiny_models, tasks_dir, tmp_path, monkeypatch):
    done: list[tuple] = []

    def failing(adapter, modality, language, *args, **kwargs):
        if language == "es_419" and modality == "speech":
            raise RuntimeError("simulated crash")
        done.append((language, modality))
        return real_run_batches(adapter, modality, language, *args, **kwargs)

    monkeypatch.setattr("benchmark.representations.service.run_batches", failing)
    summary = run(options(tiny_models["whisper"], tmp_path, tasks="cross_modal_gap"))
    assert summary.failed == ["cross_modal_gap"]
    assert "simulated crash" in summary.results["cross_modal_gap"].reason
    assert summary.paths["cross_modal_gap"].name.endswith(".error.json")
    assert done == [("de_de", "speech"), ("en_us", "speech")]  # cached before the crash

    calls = count_extractions(monkeypatch)
    summary = run(options(tiny_models["whisper"], tmp_path, tasks="cross_modal_gap"))
    assert summary.failed == []
    assert not set(calls) & set(done)  # nothing finished was recomputed
    assert ("es_419", "speech") in calls


def test_text_model_gets_not_applicable_for_speech_tasks(tiny_models, tasks_dir, tmp_path):
    summary = run(options(tiny_models["bert"], tmp_path))
    for name in ("cross_modal_gap", "cross_lingual_gap_speech"):
        result = summary.results[name]
        assert result.status == "not_applicable" and "speech" in result.reason
    text = summary.results["cross_lingual_gap_text"]
    assert text.status == "ok" and {c.group for c in text.curves} == {"modality=text"}


def test_a_changed_setting_writes_a_new_result_beside_the_old(
    tiny_models, tasks_dir, tmp_path, capsys
):
    task = "cross_lingual_gap_text"
    plain = run(options(tiny_models["bert"], tmp_path, tasks=task))
    prefixed = run(
        options(tiny_models["bert"], tmp_path, tasks=task, model_settings={"prefix": "query: "})
    )
    a, b = plain.results[task], prefixed.results[task]
    assert a.key != b.key and plain.paths[task] != prefixed.paths[task]
    assert plain.paths[task].is_file() and prefixed.paths[task].is_file()
    assert (a.model.settings["prefix"], b.model.settings["prefix"]) == ("", "query: ")
    assert a.main_score.value != b.main_score.value
    # running the plain one again finds the plain result, not the newest
    again = run(options(tiny_models["bert"], tmp_path, tasks=task))
    assert again.results[task].key == a.key
    # a different task setting is a different result too
    other = run(
        options(tiny_models["bert"], tmp_path, tasks=task, task_settings={"metric.svcca_k": 3})
    )
    assert other.results[task].key not in (a.key, b.key)
    assert other.results[task].task.overrides == {"metric.svcca_k": 3}
    # all three can be listed and shown
    assert main(["results", "list", "--output", str(tmp_path / "results")]) == 0
    listing = capsys.readouterr().out
    for result in (a, b, other.results[task]):
        assert result.key[:16] in listing
    assert main(["results", "show", b.key[:12], "--output", str(tmp_path / "results")]) == 0
    assert json.loads(capsys.readouterr().out)["model"]["settings"]["prefix"] == "query: "


def test_a_failure_never_replaces_a_finished_result(tiny_models, tasks_dir, tmp_path, monkeypatch):
    task = "cross_lingual_gap_text"
    good = run(options(tiny_models["bert"], tmp_path, tasks=task))
    path = good.paths[task]
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory, say")

    monkeypatch.setattr("benchmark.representations.service.run_batches", broken)
    failed = run(options(tiny_models["bert"], tmp_path, tasks=task, overwrite=True))
    assert failed.failed == [task]
    assert path.read_bytes() == before  # the finished result is untouched
    assert failed.paths[task] == path.with_name(path.stem + ".error.json")
    assert "out of memory" in read_result(failed.paths[task]).reason
    assert [p for p in iter_result_files(tmp_path / "results")] == [path]


def _entries(cache: Path, pooled_only: bool = False) -> list[Path]:
    """Cache entries; `pooled_only` leaves out word-level entries."""
    paths = sorted(cache.rglob("*.safetensors"))
    if pooled_only:
        paths = [p for p in paths if "item_index" not in load_file(str(p))]
    return paths


def test_cache_entries_are_verified_on_load(tiny_models, tasks_dir, tmp_path, monkeypatch, caplog):
    task = "cross_lingual_gap_text"
    first = run(options(tiny_models["bert"], tmp_path, tasks=task))
    value = first.results[task].main_score.value
    entries = _entries(tmp_path / "cache", pooled_only=True)
    assert len(entries) == 3  # 3 languages, text
    assert len(_entries(tmp_path / "cache")) == 3  # only what the task asks for: no word entries
    originals = {p: p.read_bytes() for p in entries}

    def rescore(label: str) -> tuple[float, list]:
        calls = count_extractions(monkeypatch)
        res = run(options(tiny_models["bert"], tmp_path, tasks=task, output=tmp_path / label))
        return res.results[task].main_score.value, calls

    # another key's valid entry copied over one entry: its stored key gives it away
    entries[0].write_bytes(originals[entries[1]])
    score, calls = rescore("copied")
    assert len(calls) == 1 and score == pytest.approx(value)
    assert "its stored key is not this entry's key" in caplog.text

    # plausible floats written into an entry (a valid file, the right key): the checksum
    for label, edit in (("edited", lambda a: a * 1.01), ("nan", lambda a: a * np.nan)):
        tensors = load_file(str(entries[0]))
        with safe_open(str(entries[0]), framework="pt") as handle:
            meta = handle.metadata()
        tensors["array"] = edit(tensors["array"])
        save_file(tensors, str(entries[0]), metadata=meta)
        caplog.clear()
        score, calls = rescore(label)
        assert len(calls) == 1 and score == pytest.approx(value)
        assert "does not match its checksum" in caplog.text

    # a truncated entry
    entries[0].write_bytes(entries[0].read_bytes()[:100])
    score, calls = rescore("truncated")
    assert len(calls) == 1 and score == pytest.approx(value)


def test_bad_flags_fail_before_the_model_loads(
    tiny_models, tasks_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr("benchmark.runner.load_adapter", _must_not_load)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = str(tiny_models["bert"])
    capsys.readouterr()  # building the tiny model prints progress
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    common = ["--cache-dir", str(tmp_path / "cache"), "--no-progress"]
    cases = {
        "--batch-size 0": (["--batch-size", "0"], 2),
        "--limit 1": (["--limit", "1"], 2),
        "xx_yy": (["--languages", "en_us,xx_yy"], 2),
        "ko_kr": (["--languages", "en_us,ko_kr"], 2),
        "--probes": (["--probes", str(tmp_path / "nowhere")], 2),
        "--device cuda": (["--device", "cuda"], 2),
        "--output": (["--output", str(blocked / "sub")], 2),
        "half-sample intervals (ci_method: subsample) need n >= 8": (
            ["--limit", "6", "--tasks", "cross_lingual_gap_text"],  # named: an error
            2,
        ),
        "cross_lingual_gapp": (["--tasks", "cross_lingual_gapp"], 2),
        "--tasks selects no task": (["--tasks", ","], 2),
    }
    for needle, (flags, code) in cases.items():
        args = ["run", "--model", model, "--output", str(tmp_path / "o"), *common, *flags]
        assert main(args) == code, needle
        err = capsys.readouterr().err
        assert needle in err, (needle, err)
        assert err.count("\n") == 1 and "Traceback" not in err, err  # one line
    assert not list((tmp_path / "o").rglob("*.json"))  # nothing written
    # a model that cannot be had: its own exit code, and what would serve instead
    assert main(["run", "--model", "nobody/no-such-model", *common]) == 3
    assert "HF_HUB_OFFLINE" in capsys.readouterr().err


def test_the_advice_in_an_error_works(tiny_models, tasks_dir, tmp_path, capsys):
    flags = ["--tasks", "cross_lingual_gap_text", "--limit", "6", "--no-progress"]
    args = ["run", "--model", str(tiny_models["bert"]), "--output", str(tmp_path / "o"), *flags]
    args += ["--cache-dir", str(tmp_path / "cache")]
    assert main(args) == 2
    err = capsys.readouterr().err
    advice = err.split("--task-setting ")[1].split()[0]
    assert main([*args, "--task-setting", advice]) == 0


def test_user_probe_folder_with_other_languages_is_fitted(tiny_models, tmp_path, capsys):
    """The shipped tasks want six concept languages and n = 200; a user's folder has five
    languages (one of them shared) and 40 sentences: the run adapts, warns and records it."""
    from benchmark.probes import ProbeSpec, load_probes

    folder = tmp_path / "mine"
    folder.mkdir()
    langs = ["en_us", "fr_fr", "ja_jp", "sw_ke", "ar_eg"]
    source = load_probes(ProbeSpec(source="concepts", languages=tuple(langs), n=40))
    for lang in langs:
        rows = source.frame[source.frame["lang_code"] == lang].copy()
        rows["audio"] = source.encoded_audio(lang)
        rows.to_parquet(folder / f"{lang}.parquet")
    flags = ["--task-setting", "metric.n_null=10", "--task-setting", "metric.n_resamples=10"]
    flags += ["--task-setting", "metric.svcca_k=5"]  # the tiny model has rank 8 here
    code = main(
        [
            "run",
            "--model",
            str(tiny_models["bert"]),
            "--tasks",
            "cross_lingual_gap_text",
            "--probes",
            str(folder),
            "--output",
            str(tmp_path / "out"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-progress",
            *flags,
        ]
    )
    assert code == 0, capsys.readouterr()
    (path,) = list(iter_result_files(tmp_path / "out"))
    result = read_result(path)
    assert result.probes.languages == sorted(langs) and result.probes.n == 40
    assert any("probes.languages" in a for a in result.task.adjustments)
    assert any("probes.n: the task's 200 -> 40" in a for a in result.task.adjustments)
    # an explicit --limit that cannot be met still fails
    assert (
        main(
            [
                "run",
                "--model",
                str(tiny_models["bert"]),
                "--probes",
                str(folder),
                "--limit",
                "50",
                "--tasks",
                "cross_lingual_gap_text",
                "--output",
                str(tmp_path / "o2"),
            ]
        )
        == 2
    )
    assert "n=50" in capsys.readouterr().err


def test_progress_bars_honour_tqdm_disable(tiny_models, monkeypatch, capsys):
    from benchmark.models import load_adapter

    adapter = load_adapter(str(tiny_models["bert"]))
    capsys.readouterr()  # building and loading the tiny model print progress
    texts = ["one sentence", "another one"]
    monkeypatch.setenv("TQDM_DISABLE", "1")
    real_extract(adapter, "text", "en_us", texts, [1, 2], progress=None)
    assert "item" not in capsys.readouterr().err
    monkeypatch.delenv("TQDM_DISABLE")
    real_extract(adapter, "text", "en_us", texts, [1, 2], progress=None)
    assert "item" in capsys.readouterr().err


def test_pooled_and_word_level_vectors_come_from_one_pass(
    tiny_models, tasks_dir, tmp_path, monkeypatch
):
    """A word-level task and a pooled task over the same items: each (language, modality) runs
    through the model once, whichever task comes first."""
    defaults = Path(__file__).resolve().parent.parent / "tasks" / "_defaults.yaml"
    (tasks_dir / "concept_words_text.yaml").write_text(
        f"include: {defaults}\nname: concept_words_text\nversion: 1\nkind: concept_purity\n"
        "modalities: [text]\n"
        "probes: {source: concepts, languages: [en_us, de_de, es_419], n: 16, seed: 3}\n"
        "metric: {level: word, groups: [[text]], clusters: 8, n_null: 10, n_resamples: 10}\n"
        "main_score: {name: words, measure: alignment_score}\n",
        encoding="utf-8",
    )
    passes: list[tuple] = []
    real = real_run_batches

    def counting(adapter, modality, language, *args, **kwargs):
        passes.append((language, modality))
        return real(adapter, modality, language, *args, **kwargs)

    monkeypatch.setattr("benchmark.representations.service.run_batches", counting)
    monkeypatch.setattr("benchmark.representations.words.run_batches", counting)
    for order in (
        ["concept_words_text", "cross_lingual_gap_text"],
        ["cross_lingual_gap_text", "concept_words_text"],
    ):
        passes.clear()
        where = {"cache_dir": tmp_path / "c" / order[0], "output": tmp_path / "r" / order[0]}
        summary = run(options(tiny_models["bert"], tmp_path, tasks=order, **where))
        assert summary.failed == [], summary.results
        assert sorted(passes) == sorted((lang, "text") for lang in LANGS), order


# --- `--tasks all` runs what applies (issue 21) ----------------------------------------------------

SMALL = ["--task-setting", "metric.n_null=10", "--task-setting", "metric.n_resamples=10"]


def _all_tasks(model, tmp_path, *flags) -> dict:
    """Run every shipped task; the result (or not-applicable record) of each, by task name."""
    from benchmark.taskfiles import task_files

    out = tmp_path / "out"
    args = ["run", "--model", str(model), "--tasks", "all", "--output", str(out)]
    args += ["--cache-dir", str(tmp_path / "cache"), "--no-progress", *SMALL, *flags]
    assert main(args) == 0
    results = {read_result(p).task.name: read_result(p) for p in iter_result_files(out)}
    assert set(results) == set(task_files())  # a record for every task
    return results


def test_all_tasks_with_few_languages_and_sentences_record_what_cannot_run(tiny_models, tmp_path):
    results = _all_tasks(
        tiny_models["bert"], tmp_path, "--languages", "en_us,de_de", "--limit", "20"
    )
    assert all(r.status in ("ok", "not_applicable") for r in results.values())
    words = results["concept_words_text"]
    assert words.status == "ok" and any("metric.clusters" in a for a in words.task.adjustments)
    gap = results["cross_lingual_gap_text"]
    assert gap.status == "ok" and gap.task.config["metric"]["svcca_k"] == 5  # 20 / 4
    iv = results["intervention_cross_lingual_text"]
    assert iv.status == "not_applicable" and "cannot run on these probes" in iv.reason


def test_all_tasks_on_a_folder_without_categories_or_words(tiny_models, tmp_path):
    from benchmark.probes import ProbeSpec, load_probes

    folder = tmp_path / "fleurs-like"
    folder.mkdir()
    langs = ["en_us", "de_de", "fr_fr", "es_419", "ru_ru"]
    source = load_probes(ProbeSpec(source="concepts", languages=tuple(langs), n=40))
    for lang in langs:
        rows = source.frame[source.frame["lang_code"] == lang].copy()
        rows = rows.drop(columns=["category", "words"])
        rows["audio"] = source.encoded_audio(lang)
        rows.to_parquet(folder / f"{lang}.parquet")
    # (--limit: k = n / 4 = 6 fits the tiny model's rank of 8)
    results = _all_tasks(tiny_models["bert"], tmp_path, "--probes", str(folder), "--limit", "24")
    assert all(r.status in ("ok", "not_applicable") for r in results.values())
    sentences = results["concept_sentences"]
    assert sentences.status == "not_applicable" and "category" in sentences.reason
    assert results["cross_lingual_gap_text"].status == "ok"


def test_a_damaged_file_of_a_language_not_asked_for_is_not_read(tiny_models, tmp_path):
    from benchmark.probes import ProbeSpec, load_probes

    folder = tmp_path / "mine"
    folder.mkdir()
    source = load_probes(ProbeSpec(source="concepts", languages=("en_us", "de_de"), n=40))
    for lang in ("en_us", "de_de"):
        rows = source.frame[source.frame["lang_code"] == lang].copy()
        rows["audio"] = source.encoded_audio(lang)
        rows.to_parquet(folder / f"{lang}.parquet")
    (folder / "fr_fr.parquet").write_bytes(b"not parquet at all")
    args = ["run", "--model", str(tiny_models["bert"]), "--tasks", "cross_lingual_gap_text"]
    args += ["--probes", str(folder), "--languages", "en_us,de_de", *SMALL, "--no-progress"]
    args += ["--output", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]
    assert main(args) == 0
    assert main([*args[:-4], "--languages", "en_us,fr_fr", *args[-4:]]) == 2  # asked: named


def test_a_known_answer_model_records_its_role(tmp_path):
    from benchmark.results import read_result
    from benchmark.runner import RunOptions, run

    summary = run(
        RunOptions(
            model="known:language",
            tasks=["retrieval_text"],
            limit=12,
            output=tmp_path,
            progress=False,
        )
    )
    result = read_result(summary.paths["retrieval_text"])
    assert result.model.reference == "floor:language"  # the board's reference band reads it

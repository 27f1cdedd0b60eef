"""Runs on the new families end to end (`benchmark.runner.run`, the repository's own tasks, the
embedded concepts probes): every task writes a result (`ok` or a reasoned `not_applicable`) on the
tiny SeamlessM4T v2, Qwen2-Audio and Llama-style models; the model's own pooling and stacks enter
the keys; batch size "auto" halves on out-of-memory and records what it used."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tiny_models import TEXTS

from benchmark.representations.extract import BatchSize, extract
from benchmark.results import read_result
from benchmark.runner import RunOptions, run

ROOT = Path(__file__).resolve().parent.parent
LANGS = ["en_us", "es_419"]
QUICK = {"metric.n_null": 10, "metric.n_resamples": 10}
# one steering depth, one alpha, two random directions: 4 passes per item and side, not 34
STEER_QUICK = {
    "metric.n_null": 2,
    "metric.n_resamples": 10,
    "metric.steer_layers": [0.5],
    "metric.alphas": [1],
    "metric.min_items": 4,  # --limit 100 leaves fewer than 20 sentences per concept group
}


def options(model, tmp_path, **overrides) -> RunOptions:
    base = {
        "model": str(model),
        "tasks": "all",
        "languages": LANGS,
        "limit": 40,
        "task_settings": dict(QUICK),
        "output": tmp_path / "results",
        "cache_dir": tmp_path / "cache",
        "progress": False,
    }
    return RunOptions(**(base | overrides))


STEERING = ("intervention_", "logit_lens")  # kinds that run their own passes
ALL_TASKS = sorted(p.stem for p in (ROOT / "tasks").glob("[!_]*.yaml"))
READING = ",".join(t for t in ALL_TASKS if not t.startswith(STEERING))
STEERED = ",".join(t for t in ALL_TASKS if t.startswith("intervention_"))


@pytest.mark.parametrize("name", ["seamless_m4t_v2", "qwen2_audio", "llama"])
def test_all_tasks_run_and_write_results(families, tmp_path, name):
    # the kinds that read cached representations on two languages and 40 sentences; the steering
    # kinds on their own languages, 100 sentences
    summary = run(options(families[name], tmp_path, tasks=READING))
    steered = {}
    for tasks, settings in ((STEERED, STEER_QUICK), ("logit_lens", {"metric.n_null": 10})):
        done = run(
            options(
                families[name],
                tmp_path,
                tasks=tasks,
                languages=None,
                limit=100,
                task_settings=dict(settings),
            )
        )
        assert done.failed == []
        steered |= done.results
    assert set(summary.results) | set(steered) == set(ALL_TASKS)
    assert summary.failed == []
    for task, result in steered.items():
        # not applicable only for a reason: no speech (Llama), no Russian token (tiny Seamless),
        # no concept word that is one token in both languages (the logit lens reads only those;
        # the tiny models' 300-400-token vocabularies write every word in pieces)
        why = result.reason or ""
        pieces = task == "logit_lens" and "'input_not_one_token'" in why and "'used': 0" in why
        assert (
            result.status == "ok" or pieces or "speech" in why or "has no __rus__ token" in why
        ), task
    speech = name != "llama"
    for task in summary.results:
        assert summary.paths[task].is_file()
        on_disk = read_result(summary.paths[task])
        assert on_disk.status in ("ok", "not_applicable"), (task, on_disk.reason)
        if on_disk.status == "not_applicable":
            assert not speech and "speech" in on_disk.reason, (task, on_disk.reason)
        else:
            assert on_disk.main_score is not None and on_disk.curves
    if speech:
        assert {r.status for r in summary.results.values()} == {"ok"}
    modal = summary.results.get("cross_modal_gap")
    if speech and modal is not None:
        assert modal.model.family == name


def test_model_pooling_and_prompt_enter_the_key(families, tmp_path):
    task = "cross_lingual_gap_text"
    plain = run(options(families["llama"], tmp_path, tasks=task))
    hub = run(
        options(
            families["llama"],
            tmp_path,
            tasks=task,
            model_settings={"prompt_template": "{text} This represents", "pooling": "last"},
        )
    )
    a, b = plain.results[task], hub.results[task]
    assert a.key != b.key and a.main_score.value != b.main_score.value
    assert b.model.settings["pooling"] == "last" and a.task.config["pooling"] == "mean"
    assert "pooling" not in a.model.settings  # absent unless given: old keys unchanged


def test_a_stack_setting_runs_both_modalities_through_the_shared_decoder(families, tmp_path):
    settings = {"stacks": {"speech": "text_decoder", "text": "text_decoder"}}
    summary = run(
        options(
            families["seamless_m4t_v2"],
            tmp_path,
            tasks="cross_modal_gap",
            model_settings=settings,
        )
    )
    result = summary.results["cross_modal_gap"]
    assert result.status == "ok", result.reason
    assert result.model.settings["stacks"] == settings["stacks"]
    layers = {p.layer for c in result.curves for p in c.points}
    assert "adaptor" not in str(layers)  # the decoder's layers, not the speech encoder's
    default = run(options(families["seamless_m4t_v2"], tmp_path, tasks="cross_modal_gap"))
    assert default.results["cross_modal_gap"].key != result.key


def test_auto_batch_size_halves_on_out_of_memory(loaded, monkeypatch):
    adapter = loaded("llama")
    real = adapter.forward
    sizes = []

    def forward(batch):
        sizes.append(len(batch.texts))
        if len(batch.texts) > 5:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(batch)

    monkeypatch.setattr(adapter, "forward", forward)
    texts = [f"{TEXTS[i % 3]} {i}" for i in range(20)]
    lengths = [len(t) for t in texts]
    sizer = BatchSize("auto")
    reps = extract(adapter, "text", "en_us", texts, lengths, batch_size=sizer, progress=False)
    assert sizes[:3] == [20, 10, 5] and set(sizes[2:]) == {5}
    assert sizer.used == 5 and sizer.size == 5
    monkeypatch.setattr(adapter, "forward", real)
    fixed = extract(adapter, "text", "en_us", texts, lengths, batch_size=5, progress=False)
    assert (reps.array == fixed.array).all()  # the same batches as a fixed size of 5

    def broken(batch):
        raise RuntimeError("some other failure")

    monkeypatch.setattr(adapter, "forward", broken)
    with pytest.raises(RuntimeError, match="some other failure"):  # only OOM is retried
        extract(adapter, "text", "en_us", texts, lengths, batch_size="auto", progress=False)
    with pytest.raises(torch.OutOfMemoryError):  # a fixed size is never changed
        monkeypatch.setattr(adapter, "forward", forward)
        extract(adapter, "text", "en_us", texts, lengths, batch_size=16, progress=False)


def test_auto_batch_size_in_a_run_records_what_it_used(families, tmp_path, monkeypatch, capsys):
    from benchmark.cli import main
    from benchmark.models.decoder_lm import DecoderLMAdapter

    real = DecoderLMAdapter.forward

    def forward(self, batch):
        if len(batch.texts) > 12:
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried 9 GB")
        return real(self, batch)

    monkeypatch.setattr(DecoderLMAdapter, "forward", forward)
    summary = run(
        options(families["llama"], tmp_path, tasks="cross_lingual_gap_text", batch_size="auto")
    )
    result = summary.results["cross_lingual_gap_text"]
    assert result.status == "ok" and result.run.batch_size == 10  # 40 -> 20 -> 10
    args = ["run", "--model", str(families["llama"]), "--tasks", "cross_lingual_gap_text"]
    args += ["--languages", ",".join(LANGS), "--limit", "40", "--batch-size", "auto"]
    args += ["--output", str(tmp_path / "cli"), "--cache-dir", str(tmp_path / "cache2")]
    args += ["--no-progress", "--task-setting", "metric.n_null=10"]
    assert main(args) == 0
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--batch-size", "lots"])
    assert exit_.value.code == 2 and "whole number or auto" in capsys.readouterr().err

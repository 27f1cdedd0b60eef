"""A run split over two processes with `accelerate launch` (CPU, gloo) gives the same results as a
single-process run: each process extracts whole batches of the single-process batching, writes its
shard to the shared cache, process 0 merges and scores, the other exits 0."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
from safetensors.torch import load_file

from benchmark.representations.distributed import shard_items
from benchmark.results import iter_result_files
from benchmark.runner import RunOptions, run

ROOT = Path(__file__).resolve().parent.parent
TASKS = "cross_lingual_gap_text,cross_modal_gap"
SETTINGS = {"metric.n_null": 10, "metric.n_resamples": 10, "metric.svcca_k": 4}
FLAGS = ["--languages", "en_us,es_419", "--limit", "16", "--batch-size", "4", "--no-progress"]
FLAGS += ["--model-setting", "window=cropped"]
for _key, _value in SETTINGS.items():
    FLAGS += ["--task-setting", f"{_key}={_value}"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_shards_are_whole_batches_of_the_single_process_run():
    lengths = [5, 9, 1, 7, 3, 8, 2, 6, 4]
    shards = [shard_items(lengths, 2, rank, 2) for rank in range(2)]
    assert sorted(shards[0] + shards[1]) == list(range(9))
    # longest first: batches [1, 5], [3, 7], [0, 8], [4, 6], [2] -> ranks 0, 1, 0, 1, 0
    assert shards[0] == sorted([1, 5, 0, 8, 2]) and shards[1] == sorted([3, 7, 4, 6])
    assert shard_items(lengths, 100, 1, 2) == []  # one batch: process 1 has nothing to do


def test_two_processes_match_one(tiny_models, tmp_path):
    model = tiny_models["whisper"]
    single = run(
        RunOptions(
            model=str(model),
            tasks=TASKS,
            languages=["en_us", "es_419"],
            limit=16,
            batch_size=4,
            task_settings=dict(SETTINGS),
            model_settings={"window": "cropped"},
            output=tmp_path / "single",
            cache_dir=tmp_path / "cache1",
            progress=False,
        )
    )
    assert single.failed == []
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TQDM_DISABLE": "1",
        "HF_HUB_OFFLINE": "1",
        "ACCELERATE_LOG_LEVEL": "error",
    }
    env.pop("INTERLINGUA_TASKS_DIR", None)
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu"]
    command += ["--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]
    command += ["--dynamo_backend", "no", "--main_process_port", str(_free_port())]
    command += ["-m", "benchmark", "run", "--model", str(model), "--tasks", TASKS, *FLAGS]
    command += ["--output", str(tmp_path / "multi"), "--cache-dir", str(tmp_path / "cache2")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("cross_modal_gap") >= 1  # process 0 scored and printed

    multi = {
        p.parent.name: json.loads(p.read_text()) for p in iter_result_files(tmp_path / "multi")
    }
    assert set(multi) == set(TASKS.split(","))
    for name, result in single.results.items():
        other = multi[name]
        assert other["key"] == result.key and other["status"] == "ok"
        mine = json.loads(single.paths[name].read_text())
        assert other["main_score"] == mine["main_score"]
        assert other["curves"] == mine["curves"]
    # the merged representations are bitwise those of one process; no shard entry is left
    one = {p.name: p for p in (tmp_path / "cache1").rglob("*.safetensors")}
    two = {p.name: p for p in (tmp_path / "cache2").rglob("*.safetensors")}
    assert set(one) == set(two) and len(one) == 4  # 2 languages x (speech, text)
    for name in one:
        assert np.array_equal(load_file(one[name])["array"], load_file(two[name])["array"])

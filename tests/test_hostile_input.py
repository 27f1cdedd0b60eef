"""Hostile and unlucky input (issue 21): what a user gives is never lost or misread.

Each refusal below failed on the code before it (a file accepted, a wrong exit code, a traceback,
gigabytes of memory); the rest held already and must keep holding: a run interrupted by Ctrl-C or
killed outright, two identical runs at once into one folder, payloads in names and fields, paths
that try to leave their root, files that follow the umask. Runs use a tiny config-built BERT;
the signal and concurrency tests run the real command line in subprocesses.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import leaderboard.build as leaderboard_build
from benchmark.cli import main
from benchmark.results import iter_result_files, read_result, result_path, write_result
from leaderboard.synthetic import synthetic_result, task_config

ROOT = Path(__file__).resolve().parent.parent
TASK = """\
include: {defaults}
name: {name}
version: 1
kind: cross_lingual_gap
modalities: [text]
probes: {{source: concepts, languages: {languages}, n: 30, seed: 1}}
metric: {{svcca_k: 4, n_null: 50, n_resamples: 30}}
main_score: {{name: {name}_svcca, layer: best}}
"""
TASKS = {"gap_a": "[en_us, de_de, es_419]", "gap_b": "[ru_ru, hi_in, ja_jp]"}
LAUGHS = """\
name: lol
version: 1
kind: cross_lingual_gap
modalities: [text]
main_score: {name: x}
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""
PAYLOAD = "<img src=x onerror=alert(1)>\"'"


@pytest.fixture(scope="module")
def tasks(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("tasks")
    defaults = ROOT / "tasks" / "_defaults.yaml"
    for name, languages in TASKS.items():
        text = TASK.format(defaults=defaults, name=name, languages=languages)
        (directory / f"{name}.yaml").write_text(text, encoding="utf-8")
    return directory


@pytest.fixture
def env(tasks, tmp_path, monkeypatch) -> dict:
    """The environment of every run here: these tasks, no Hub, caches inside tmp_path."""
    values = {
        "INTERLINGUA_TASKS_DIR": str(tasks),
        "INTERLINGUA_CACHE": str(tmp_path / "user-cache"),
        "HF_HUB_OFFLINE": "1",
        "TQDM_DISABLE": "1",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return {**os.environ, **values}


def run_args(model: Path, out: Path, cache: Path, *more: str) -> list[str]:
    args = ["run", "--model", str(model), "--output", str(out), "--cache-dir", str(cache)]
    return [*args, "--no-progress", *more]


def cli(*args: str, env: dict, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmark", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,
    )


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _must_not_load(*args, **kwargs):
    raise AssertionError("the model was loaded for input that should have been refused")


@pytest.fixture
def reference(tiny_models, env, tmp_path, capsys) -> Path:
    """An uninterrupted run of both tasks: what every other run must reproduce."""
    out = tmp_path / "reference"
    assert main(run_args(tiny_models["bert"], out, tmp_path / "reference-cache")) == 0
    capsys.readouterr()
    return out


def same_results(reference: Path, other: Path, capsys) -> None:
    """Every value, interval and null identical (the golden suite's bookkeeping)."""
    code = main(
        ["compare", "--baseline", str(reference), "--candidate", str(other), "--fail-on", "change"]
    )
    out = capsys.readouterr().out
    assert code == 0 and "2 task result(s) paired" in out, out


def no_temporary_files(*folders: Path) -> None:
    left = [p for folder in folders for p in folder.rglob("*") if p.name.endswith(".tmp")]
    assert left == [], left


def wait_for(predicate, what: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while not predicate():
        assert proc.poll() is None, f"the run ended before {what}: {proc.communicate()}"
        assert time.monotonic() < end, f"no {what} after {seconds} s"
        time.sleep(0.02)


# --- results a reader cannot vouch for -----------------------------------------------------------


def synthetic_folder(folder: Path, seed: int = 0) -> list[Path]:
    config = task_config("gap_text", "cross_lingual_gap", ("text",), "gap_text_svcca")
    paths = []
    for i, model in enumerate(("org/a", "org/b")):
        r = synthetic_result(model, config, seed=seed + i, n_layers=3)
        paths.append(
            write_result(result_path(folder, model, r.model.revision, "gap_text", r.key), r)
        )
    return paths


def edited(source: Path, target: Path, change) -> Path:
    data = json.loads(source.read_text())
    change(data)
    target.write_text(json.dumps(data))
    return target


def compare(capsys, base: Path, cand: Path) -> tuple[int, str, str]:
    code = main(["compare", "--baseline", str(base), "--candidate", str(cand)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_nan_or_missing_candidate_score_is_a_regression(tmp_path, capsys):
    base = tmp_path / "base"
    good = synthetic_folder(base)
    cand = tmp_path / "cand"
    shutil.copytree(base, cand)
    target = cand / good[0].relative_to(base)

    def nan(data):
        data["main_score"]["value"] = float("nan")

    edited(target, target, nan)
    code, out, _ = compare(capsys, base, cand)
    line = next(x for x in out.splitlines() if "main:gap_text_svcca" in x and "org/a" in x)
    assert code == 1 and "regressed" in line and "FAILED" in out and "OK:" not in out

    def no_score(data):
        data["main_score"], data["curves"], data["matrices"] = None, [], []

    edited(target, target, no_score)
    code, out, _ = compare(capsys, base, cand)
    assert code == 1 and "main score missing in the candidate" in out


def test_a_result_whose_key_does_not_match_its_content_is_never_used(tmp_path, capsys):
    results = tmp_path / "results"
    good, _ = synthetic_folder(results)
    value = read_result(good).main_score.value

    def zero_key(data):  # another score under a key of zeros; same model, task and start time
        data["key"] = "0" * 64
        data["main_score"]["value"] = 0.999

    def other_settings(data):  # content edited, key left alone
        data["model"]["settings"] = {"prefix": "query: "}

    zeroed = edited(good, good.with_name("zz-zeroed.json"), zero_key)
    relabelled = edited(good, good.with_name("zz-relabelled.json"), other_settings)

    assert main(["results", "list", "--output", str(results)]) == 0
    captured = capsys.readouterr()
    for bad in (zeroed, relabelled):
        assert f"skipped: {bad}: its key" in captured.err and str(bad) not in captured.out
    assert main(["results", "show", str(zeroed)]) == 2
    assert f"{zeroed}: its key 0000000000000000 is not the key" in one_line(capsys.readouterr().err)

    site = tmp_path / "site"
    assert main(["leaderboard", "build", "--results", str(results), "--out", str(site)]) == 0
    err = capsys.readouterr().err
    assert str(zeroed) in err and str(relabelled) in err
    table = pd.read_csv(site / "data" / "results.csv")
    assert table.loc[table["model"] == "org/a", "value"].tolist() == [pytest.approx(value)]

    clean = tmp_path / "clean"
    synthetic_folder(clean)
    code, _, err = compare(capsys, clean, results)
    line = one_line(err)
    assert code == 2 and line.startswith(f"error: --candidate: {relabelled}: its key")
    assert line.endswith("(and 1 more)")  # the zeroed one


def test_an_undecodable_file_is_skipped_and_named(tmp_path, capsys):
    results = tmp_path / "results"
    good, _ = synthetic_folder(results)
    binary = results / "garbage.json"
    binary.write_bytes(b"\xff\xfe\x00not utf-8 \xc3\x28")
    key = read_result(good).key[:12]

    assert main(["results", "list", "--output", str(results)]) == 0
    captured = capsys.readouterr()
    assert (
        f"skipped: {binary}: not a readable result file" in captured.err and "org/a" in captured.out
    )
    assert main(["results", "show", key, "--output", str(results)]) == 0
    assert json.loads(capsys.readouterr().out)["key"].startswith(key)
    assert main(["results", "show", str(binary)]) == 2
    assert str(binary) in one_line(capsys.readouterr().err)

    code, out, _ = compare(capsys, results, results)
    assert code == 0 and f"skipped: {binary}" in out
    assert (
        main(["leaderboard", "build", "--results", str(results), "--out", str(tmp_path / "s")]) == 0
    )
    assert str(binary) in capsys.readouterr().err


def test_results_show_refuses_a_file_that_is_not_a_result(tmp_path, capsys):
    other = tmp_path / "other.json"
    other.write_text('{"schema_version": "2.0", "x": 1}')
    assert main(["results", "show", str(other)]) == 2
    assert str(other) in one_line(capsys.readouterr().err)


# --- the board: a failed build keeps the previous site (issue 21, section 2) ----------------------


def site_bytes(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*") if p.is_file()}


def build(results: Path, site: Path) -> int:
    return main(["leaderboard", "build", "--results", str(results), "--out", str(site)])


@pytest.mark.parametrize("failure", [OSError("No space left on device"), KeyboardInterrupt()])
def test_a_failed_build_leaves_the_previous_site_byte_for_byte(
    tmp_path, capsys, monkeypatch, failure
):
    results, site = tmp_path / "results", tmp_path / "board" / "site"
    synthetic_folder(results)
    assert build(results, site) == 0
    before = site_bytes(site)
    assert len(before) > 8

    def fail(self, row):  # the disk fills (or Ctrl-C) half way through the pages
        if self.report.n_pages > 2:  # the index, the task page and one model page are written
            raise failure
        return written(self, row)

    written = leaderboard_build.Site.write_model
    monkeypatch.setattr(leaderboard_build.Site, "write_model", fail)
    synthetic_folder(results, seed=5)  # new results, so the new site would differ
    assert build(results, site) == (130 if isinstance(failure, KeyboardInterrupt) else 70)
    capsys.readouterr()
    assert site_bytes(site) == before
    assert sorted(p.name for p in site.parent.iterdir()) == ["site"]  # no half-built folder left

    monkeypatch.setattr(leaderboard_build.Site, "write_model", written)
    assert build(results, site) == 0 and site_bytes(site) != before


def test_a_build_killed_outright_is_cleaned_up_by_the_next(tmp_path, capsys):
    results, site = tmp_path / "results", tmp_path / "site"
    synthetic_folder(results)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = tmp_path / f".site.building-{dead.pid}-abc"
    (left / "tasks").mkdir(parents=True)
    mine = tmp_path / f".site.building-{os.getpid()}-abc"  # a live process's build: kept
    mine.mkdir()
    assert build(results, site) == 0
    assert not left.exists() and mine.exists() and (site / "index.html").is_file()


def test_out_and_results_inside_one_another_are_refused(tmp_path, capsys):
    site = tmp_path / "site"
    inner = site / "myresults"
    synthetic_folder(inner)
    for results, out in ((inner, site), (site, inner), (inner, inner)):
        kept = sorted(p for p in tmp_path.rglob("*"))
        assert build(results, out) == 2
        line = one_line(capsys.readouterr().err)
        assert f"--out {out}" in line and f"--results {results}" in line, line
        assert sorted(p for p in tmp_path.rglob("*")) == kept  # nothing deleted or written


@pytest.mark.parametrize("broken", ["nan", "missing"])
def test_a_result_without_a_main_score_shows_no_score_and_why(tmp_path, capsys, broken):
    results, site = tmp_path / "results", tmp_path / "site"
    good = synthetic_folder(results)

    def no_score(data):
        if broken == "nan":
            data["main_score"]["value"] = float("nan")
        else:
            data["main_score"] = None

    edited(good[0], good[0], no_score)
    assert build(results, site) == 0, capsys.readouterr().err
    reason = "gap_text_svcca is nan" if broken == "nan" else "no main score recorded"
    pages = [site / "index.html", *site.glob("tasks/*.html"), *site.glob("models/org__a--*.html")]
    assert len(pages) == 3
    for page in pages:
        html = page.read_text(encoding="utf-8")
        if page.name == "index.html":  # the index reads each cell's reason from data/index.js
            detail = (site / "data" / "index.js").read_text(encoding="utf-8")
            assert reason in detail and reason not in html
        else:
            assert re.search(rf'<span class="na" title="main score {reason}|title="{reason}', html)
        assert ">no score</span>" in html, page
    index = (site / "index.html").read_text(encoding="utf-8")
    assert index.count(">no score</span>") == 1  # org/b keeps its score


def test_the_csv_download_neutralises_spreadsheet_formulas(tmp_path, capsys):
    config = task_config("gap_text", "cross_lingual_gap", ("text",), "gap_text_svcca")
    results = tmp_path / "results"
    models = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\t=1+1"]
    for i, model in enumerate(models):
        r = synthetic_result(model, config, seed=i, n_layers=3)
        write_result(result_path(results, model, r.model.revision, "gap_text", r.key), r)
    assert build(results, tmp_path / "site") == 0
    capsys.readouterr()
    table = pd.read_csv(tmp_path / "site" / "data" / "results.csv", keep_default_na=False)
    cells = [c for col in table.columns for c in table[col].astype(str)]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert sorted(table["model"]) == sorted("'" + m for m in models)
    exact = pd.read_parquet(tmp_path / "site" / "data" / "results.parquet")
    assert sorted(exact["model"]) == sorted(models)  # the Parquet keeps the values as they are


# --- input limits ---------------------------------------------------------------------------------


def _limit_memory():  # a regression must fail here, not take the machine's memory
    resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))


def test_yaml_alias_bombs_and_oversized_files_are_refused(
    tiny_models, env, tmp_path, monkeypatch, capsys
):
    model = tiny_models["bert"]
    capsys.readouterr()  # building the tiny model prints progress
    bomb = tmp_path / "laughs.yaml"
    bomb.write_text(LAUGHS)
    proc = cli("tasks", "validate", str(bomb), env=env, preexec_fn=_limit_memory)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert "aliases expand to more than" in one_line(err) and str(bomb) in err

    monkeypatch.setattr("benchmark.runner.load_adapter", _must_not_load)
    out = tmp_path / "out"
    assert main(run_args(model, out, tmp_path / "cache", "--tasks", str(bomb))) == 2
    assert "aliases expand to more than" in one_line(capsys.readouterr().err)

    recursive = tmp_path / "recursive.yaml"
    recursive.write_text("name: &a [*a]\n")
    big = tmp_path / "big.yaml"
    big.write_text("name: big\ndescription: " + "x" * 70_000 + "\n")
    for path, needle in ((recursive, "refers to a node that contains it"), (big, "bytes")):
        assert main(["tasks", "validate", str(path)]) == 2
        assert needle in one_line(capsys.readouterr().err)

    submission = tmp_path / "org__m.yaml"
    submission.write_text(LAUGHS.replace("name: lol", "model: org/m"))
    assert main(["submissions", "validate", str(submission)]) == 2
    assert "aliases expand to more than" in one_line(capsys.readouterr().err)
    assert not out.exists() or not list(out.rglob("*.json"))


def test_an_empty_language_list_is_an_error(tiny_models, env, tmp_path, monkeypatch, capsys):
    model = tiny_models["bert"]
    capsys.readouterr()
    monkeypatch.setattr("benchmark.runner.load_adapter", _must_not_load)
    out = tmp_path / "out"
    assert main(run_args(model, out, tmp_path / "cache", "--languages", "")) == 2
    assert "--languages names no language" in one_line(capsys.readouterr().err)
    assert not list(out.rglob("*.json"))


def test_a_bad_task_setting_names_the_flag(tiny_models, env, tmp_path, monkeypatch, capsys):
    model = tiny_models["bert"]
    capsys.readouterr()
    monkeypatch.setattr("benchmark.runner.load_adapter", _must_not_load)
    args = run_args(model, tmp_path / "out", tmp_path / "cache")
    assert main([*args, "--task-setting", "metric.svcca_k=0"]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("error: --task-setting metric.svcca_k=0: field `metric.svcca_k`")
    assert "Invalid task file" not in line


def test_a_users_damaged_files_and_settings_are_their_fault_not_a_bug(
    tiny_models, env, tmp_path, monkeypatch, capsys
):
    """Each is checked and named (exit 2, or 3 for a model that cannot be had), never exit 70."""
    bert = tiny_models["bert"]
    capsys.readouterr()
    monkeypatch.setattr("benchmark.runner.load_adapter", _must_not_load)
    probes = tmp_path / "probes"
    probes.mkdir()
    (probes / "en_us.parquet").write_bytes(b"PAR1 not really parquet")
    task = tmp_path / "latin1.yaml"
    task.write_bytes("name: caf\xe9\n".encode("latin-1"))
    sharded = tmp_path / "sharded"
    shutil.copytree(bert, sharded)
    (sharded / "model.safetensors").rename(sharded / "model-00001-of-00001.safetensors")
    (sharded / "model.safetensors.index.json").write_text("{not json")
    cases = [
        (bert, ["--model-setting", "dtype=float8"], 2, "dtype must be one of"),
        (bert, ["--probes", str(probes)], 2, f"{probes / 'en_us.parquet'}: not a readable"),
        (bert, ["--tasks", str(task)], 2, f"{task}: not UTF-8"),
        (sharded, [], 3, "model.safetensors.index.json: a damaged shard index"),
    ]
    for model, flags, code, needle in cases:
        assert main(run_args(model, tmp_path / "out", tmp_path / "cache", *flags)) == code, needle
        assert needle in one_line(capsys.readouterr().err)


def test_cache_dir_holds_everything_the_run_keeps(tiny_models, env, tmp_path, capsys):
    box = tmp_path / "box"
    box.mkdir()
    args = run_args(tiny_models["bert"], tmp_path / "out", box / "cache", "--tasks", "gap_a")
    assert main(args) == 0
    assert [p.name for p in box.iterdir()] == ["cache"]  # no model-facts/ beside it
    assert list((box / "cache" / "model-facts").glob("*.json"))
    # a re-score that never loads the model still reports what the model said of itself
    again = run_args(tiny_models["bert"], tmp_path / "again", box / "cache", "--tasks", "gap_a")
    assert main(again) == 0
    (path,) = iter_result_files(tmp_path / "again")
    result = read_result(path)
    assert result.run.model_loaded is False and result.model.n_parameters > 0


class _CountingServer:
    """A loopback 'Hub' that accepts each connection and hangs up at once, counting them."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def test_publish_without_the_hub_asks_a_few_times_one_line_each(env, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<!doctype html>")
    (site / ".interlingua-site").write_text("")
    server = _CountingServer()
    try:
        hub = {**env, "HF_HUB_OFFLINE": "0", "HF_ENDPOINT": f"http://127.0.0.1:{server.port}"}
        proc = cli("leaderboard", "publish", "--site", str(site), "--repo-id", "org/board", env=hub)
        _, err = proc.communicate(timeout=120)
    finally:
        server.close()
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 3 and lines[-1].startswith("error: cannot reach the Hugging Face Hub")
    # three attempts, and huggingface_hub's one fetch of its user-agent registry per process;
    # before, its own retries asked six times per call and logged two lines each
    assert 3 <= server.connections <= 4
    assert len(lines) == 3 and "Retrying in" not in err, err


# --- what holds and must keep holding --------------------------------------------------------------


def test_ctrl_c_mid_run_exits_130_and_keeps_what_finished(tiny_models, env, tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    proc = cli(*run_args(tiny_models["bert"], out, cache), env=env)
    wait_for(lambda: any(cache.rglob("*.safetensors")), "a cache entry", proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert _last(err) == "interrupted; what finished is kept" and "Traceback" not in err
    no_temporary_files(out, cache)
    for path in cache.rglob("*.safetensors"):  # what finished is whole
        assert path.stat().st_size > 0


def _last(err: str) -> str:
    return [line for line in err.splitlines() if line.strip()][-1]


def test_a_killed_run_run_again_gives_the_uninterrupted_results(
    tiny_models, env, reference, tmp_path, capsys
):
    out, cache = tmp_path / "out", tmp_path / "cache"
    args = run_args(tiny_models["bert"], out, cache)
    proc = cli(*args, env=env)
    wait_for(lambda: any(cache.rglob("*.safetensors")), "a cache entry", proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert len(list(iter_result_files(out))) < 2  # killed before the run was done
    assert main(args) == 0  # the same command again
    no_temporary_files(out, cache)
    same_results(reference, out, capsys)


def test_two_identical_runs_at_once_share_output_and_cache(
    tiny_models, env, reference, tmp_path, capsys
):
    out, cache = tmp_path / "out", tmp_path / "cache"
    args = run_args(tiny_models["bert"], out, cache)
    procs = [cli(*args, env=env) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    assert len(list(iter_result_files(out))) == 2
    no_temporary_files(out, cache)
    same_results(reference, out, capsys)


def test_payloads_in_names_settings_and_submissions_come_out_escaped(
    tiny_models, env, tmp_path, capsys
):
    model = tmp_path / f"m{PAYLOAD}"
    shutil.copytree(tiny_models["bert"], model)
    args = run_args(model, tmp_path / "results", tmp_path / "cache", "--tasks", "gap_a")
    assert main([*args, "--model-setting", f"prefix={PAYLOAD}"]) == 0
    config = task_config("gap_a", "cross_lingual_gap", ("text",), "gap_a_svcca")
    hub = synthetic_result("org/m", config, revision="a" * 40, settings={"prefix": PAYLOAD})
    write_result(result_path(tmp_path / "results", "org/m", "a" * 40, "gap_a", hub.key), hub)
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "org__m.yaml").write_text(
        f'model: org/m\nrevision: "{"a" * 40}"\nsubmitter: {json.dumps(PAYLOAD)}\n'
        f"license: {json.dumps(PAYLOAD)}\nnotes: {json.dumps(PAYLOAD)}\nlanguages: [en]\n"
    )
    site = tmp_path / "site"
    build = ["leaderboard", "build", "--results", str(tmp_path / "results"), "--out", str(site)]
    assert main([*build, "--submissions", str(subs)]) == 0
    pages = list(site.rglob("*.html"))
    assert len(pages) > 3
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert "<img" not in html and "onerror=alert(1)>" not in html, page
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in index
    assert "Content-Security-Policy" in index and "script-src 'self'" in index
    model_pages = "".join(p.read_text(encoding="utf-8") for p in site.glob("models/*.html"))
    assert model_pages.count("&lt;img src=x onerror=alert(1)&gt;") >= 3  # id, settings, fields


def test_task_files_cannot_reach_out_or_run_code(tmp_path, capsys):
    passwd = tmp_path / "passwd.yaml"
    passwd.write_text("include: /etc/passwd\nname: x\n")
    code = tmp_path / "code.yaml"
    code.write_text("name: !!python/object/apply:os.system ['touch pwned']\n")
    for path, needle in ((passwd, "/etc/passwd"), (code, "python/object")):
        assert main(["tasks", "validate", str(path)]) == 2
        assert needle in capsys.readouterr().err
    assert not (ROOT / "pwned").exists() and not Path("pwned").exists()


def test_paths_from_user_input_stay_inside_output(tiny_models, env, tmp_path):
    from benchmark.errors import UsageError
    from benchmark.fileio import inside, slug

    model = tmp_path / "my-model"
    shutil.copytree(tiny_models["bert"], model)
    (model / "sub").mkdir()
    out = tmp_path / "out"
    args = run_args(model / "sub" / "..", out, tmp_path / "cache", "--tasks", "gap_a")
    assert main(args) == 0
    (path,) = iter_result_files(out)
    assert out.resolve() in path.resolve().parents
    assert path.resolve().relative_to(out.resolve()).parts[0] == "my-model"

    assert slug("..") not in ("..", ".", "") and slug("../x") == "__x"
    assert inside(tmp_path, "..", "../../etc").resolve().parent.parent == tmp_path.resolve()
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "evil").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(UsageError, match="outside"):
        inside(tmp_path / "root", "evil", "task")  # a link out of the root is caught too


def test_results_and_cache_follow_the_umask(tiny_models, env, tmp_path):
    out, cache = tmp_path / "out", tmp_path / "cache"
    old = os.umask(0o022)
    try:
        assert main(run_args(tiny_models["bert"], out, cache, "--tasks", "gap_a")) == 0
    finally:
        os.umask(old)
    written = [p for folder in (out, cache) for p in folder.rglob("*")]
    assert any(p.suffix == ".safetensors" for p in written) and any(iter_result_files(out))
    for path in written:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))

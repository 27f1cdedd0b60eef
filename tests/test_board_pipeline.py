"""The board's pipeline and the maintainers' flow (issues 18 and 19): a held-out probe split in
columns of its own, submissions sharded over processes, the forge workflows, and what `publish`
writes for the Space and the results dataset."""

from __future__ import annotations

import gzip
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from benchmark.cli import main
from benchmark.probes.recordings import content_hash
from benchmark.results import iter_result_files, read_result

ROOT = Path(__file__).resolve().parent.parent
FAST = ["--task-setting", "metric.n_null=10", "--task-setting", "metric.n_resamples=10"]
FAST += ["--task-setting", "metric.svcca_k=5", "--no-progress"]


# --- a held-out (private) split ---------------------------------------------------------------


def private_folder(root: Path, languages=("en_us", "de_de"), n=24) -> tuple[Path, list[str]]:
    """A FLEURS-format folder whose sentences are in no file of the repository."""
    from benchmark.probes import ProbeSpec, load_probes

    folder = root / "held-out-9f3k"
    folder.mkdir(parents=True)
    source = load_probes(ProbeSpec(source="concepts", languages=tuple(languages), n=n))
    texts = []
    for lang in languages:
        rows = source.frame[source.frame["lang_code"] == lang].copy()
        marks = [f" qzv{lang[:2]}{i}x" for i in range(len(rows))]
        for column in ("transcription", "raw_transcription"):
            if column in rows:
                rows[column] = rows[column] + marks
        texts += list(rows.get("raw_transcription", marks))
        rows["audio"] = source.encoded_audio(lang)
        rows.to_parquet(folder / f"{lang}.parquet")
    return folder, texts


def score(model: Path, out: Path, cache: Path, *flags: str) -> None:
    args = ["run", "--model", str(model), "--tasks", "cross_lingual_gap_text", "--output", str(out)]
    args += ["--languages", "en_us,de_de", "--limit", "24", "--cache-dir", str(cache), *FAST]
    assert main([*args, *flags]) == 0


def test_a_held_out_split_has_its_own_columns_and_only_its_card_is_published(
    tiny_models, tmp_path, capsys
):
    model, cache = tiny_models["bert"], tmp_path / "cache"
    folder, texts = private_folder(tmp_path / "maintainers")
    score(model, tmp_path / "public", cache)
    score(model, tmp_path / "private", cache, "--probes", str(folder))
    capsys.readouterr()
    (path,) = iter_result_files(tmp_path / "private")
    held_out = read_result(path)
    assert held_out.status == "ok" and held_out.probes.name == folder.name
    assert held_out.task.config["probes"]["source"] == str(folder)  # the path is in the result

    site = tmp_path / "site"
    build = ["leaderboard", "build", "--results", str(tmp_path / "public"), "--out", str(site)]
    assert main([*build, "--split", f"private={tmp_path / 'private'}"]) == 0
    capsys.readouterr()

    index = (site / "index.html").read_text(encoding="utf-8")
    name = held_out.main_score.name
    headers = re.findall(r"<th[^>]*>(.*?)</th>", index, re.S)
    public_col = next(i for i, h in enumerate(headers) if name in h and "[private]" not in h)
    private_col = next(i for i, h in enumerate(headers) if f"{name} [private]" in h)
    assert private_col == public_col + 1  # beside the public column
    assert len([p for p in (site / "tasks").glob("*private*.html")]) == 1

    # its card, item count and content hash are published ...
    card = json.loads((site / "data" / "splits" / "private.json").read_text())
    (version,) = card["versions"]
    files = sorted(folder.glob("*.parquet"))
    assert version["content_sha256"] == held_out.probes.revision == content_hash(files, folder)
    assert version["n_items"] == 48 and version["languages"] == ["de_de", "en_us"]
    table = pd.read_parquet(site / "data" / "results.parquet")
    row = table[table["task"] == "cross_lingual_gap_text [private]"]
    assert len(row) == 1 and row["value"].iloc[0] == pytest.approx(held_out.main_score.value)
    assert row["probes_revision"].iloc[0] == held_out.probes.revision

    # ... its items, its path and its folder's name are not, in any file of the site
    secrets = [str(folder), folder.name, *texts[:5], *texts[-5:]]
    for page in site.rglob("*"):
        if page.is_file():
            data = page.read_bytes()
            data = gzip.decompress(data) if page.suffix == ".gz" else data
            text = data.decode("utf-8", errors="replace")
            assert not [s for s in secrets if s in text], page
    raw = [
        p for p in site.rglob("*.json.gz") if "private" in gzip.decompress(p.read_bytes()).decode()
    ]
    assert raw and all(
        json.loads(gzip.decompress(p.read_bytes()))["probes"]["name"] == "private"
        for p in raw
        if "[private]" in json.loads(gzip.decompress(p.read_bytes()))["task"]["name"]
    )


def test_split_flags_are_checked(tmp_path, capsys):
    results = tmp_path / "results"
    results.mkdir()
    for bad in ("Private=x", "private", "=x", "private="):
        code = main(
            ["leaderboard", "build", "--results", str(results), "--out", str(tmp_path / "s")]
            + ["--split", bad]
        )
        assert code == 2 and f"--split {bad!r}" in capsys.readouterr().err


# --- the Space's card and the results dataset's card --------------------------------------------


class ListingApi:
    """The one call planning makes: the repository's files (none: a new repository)."""

    def list_repo_files(self, repo_id, repo_type):
        return []


def front(text: str) -> dict:
    head, sep, _ = text.partition("\n---\n")
    assert text.startswith("---\n") and sep, text[:200]
    return yaml.safe_load(head[4:])


def synthetic_board(root: Path) -> tuple[Path, Path]:
    from benchmark.results import result_path, write_result
    from leaderboard.synthetic import synthetic_result, task_config

    config = task_config("gap_text", "cross_lingual_gap", ("text",), "gap_text_svcca")
    for folder, seed in (("public", 0), ("private", 7)):
        for i, model in enumerate(("org/a", "org/b")):
            r = synthetic_result(model, config, seed=seed + i, n_layers=3)
            write_result(result_path(root / folder, model, r.model.revision, "gap_text", r.key), r)
    return root / "public", root / "private"


def test_build_writes_the_static_space_card_and_publish_the_dataset_card(tmp_path, capsys):
    from leaderboard.publish import plan_all

    public, private = synthetic_board(tmp_path)
    site = tmp_path / "site"
    title = 'Board: "x" & <y>'
    args = ["leaderboard", "build", "--results", str(public), "--out", str(site)]
    assert main([*args, "--title", title, "--split", f"private={private}"]) == 0
    capsys.readouterr()
    space = front((site / "README.md").read_text(encoding="utf-8"))
    assert space["sdk"] == "static" and space["app_file"] == "index.html"
    assert space["title"] == title and (site / space["app_file"]).is_file()
    assert len(space["short_description"]) <= 60  # the Hub refuses longer ones

    plans, _ = plan_all(site, "org/board", "org/results", ListingApi())
    space_ops = {op.path_in_repo: op for op in plans[0].operations}
    assert space_ops["README.md"].path_or_fileobj == str(site / "README.md")  # the site's own
    data_ops = {op.path_in_repo: op for op in plans[1].operations}
    assert sorted(data_ops) == ["README.md", "data/results.parquet", "splits/private.json"]
    card_text = data_ops["README.md"].path_or_fileobj.decode()
    card = front(card_text)
    assert card["configs"] == [{"config_name": "default", "data_files": "data/results.parquet"}]
    assert card["license"] == "apache-2.0" and card["size_categories"] == ["n<1K"]
    assert 'load_dataset("org/results"' in card_text and "spaces/org/board" in card_text
    split = json.loads((site / "data" / "splits" / "private.json").read_text())
    assert split["versions"][0]["content_sha256"] in card_text  # the held-out split's hash
    rows = pd.read_parquet(site / "data" / "results.parquet")
    assert sorted(rows["task"]) == ["gap_text"] * 2 + ["gap_text [private]"] * 2


# --- the forge workflows -------------------------------------------------------------------------

WORKFLOWS = ROOT / ".github" / "workflows"


def workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def interlingua_commands(flow: dict) -> list[tuple[list[str], list[str]]]:
    """(subcommand words, flags) of every `interlingua ...` command of every step's script; in a
    step with one such command, every flag of the script is its (e.g. from a bash array)."""
    found = []
    for job in flow["jobs"].values():
        for step in job["steps"]:
            script = step.get("run", "").replace("\\\n", " ")
            matches = list(re.finditer(r"\.venv/bin/interlingua\s+([^\n;|&>]*)", script))
            for match in matches:
                command = []
                for word in match.group(1).split():
                    if not re.fullmatch(r"[a-z]+", word):
                        break
                    command.append(word)
                text = script if len(matches) == 1 else match.group(1)
                found.append((command, FLAG.findall(text)))
    return found


def test_the_pull_request_workflow_validates_scores_small_and_keeps_the_results():
    flow = workflow("submission-check.yml")
    assert flow["on"]["pull_request"]["paths"] == ["submissions/*.yaml"]
    steps = flow["jobs"]["check"]["steps"]
    commands = [" ".join(c) for c, _ in interlingua_commands(flow)]
    assert commands[:2] == ["submissions validate", "submissions run"]
    (_, flags) = next(x for x in interlingua_commands(flow) if x[0] == ["submissions", "run"])
    assert "--limit" in flags and "--output" in flags
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["path"] == "pr-results" and upload["if"] == "always()"
    assert "secrets." not in (WORKFLOWS / "submission-check.yml").read_text()  # forks get none


def test_the_merge_workflow_runs_builds_and_publishes_or_says_why_not():
    flow = workflow("board.yml")
    assert flow["on"]["push"]["branches"] == ["main"]
    shards = flow["jobs"]["score"]["strategy"]["matrix"]["shard"]
    assert shards == list(range(int(flow["env"]["SHARDS"])))
    commands = [" ".join(c) for c, _ in interlingua_commands(flow)]
    for needed in ("submissions run", "leaderboard build", "leaderboard publish"):
        assert needed in commands
    publish = next(
        s for s in flow["jobs"]["board"]["steps"] if "publish" in s.get("name", "").lower()
    )
    assert publish["env"]["HF_TOKEN"] == "${{ secrets.HF_TOKEN }}"
    assert 'if [ -z "$HF_TOKEN" ]' in publish["run"] and "publishing skipped" in publish["run"]
    # published with a dataset, the raw results are linked from it (and uploaded there), not copied
    build = next(s for s in flow["jobs"]["board"]["steps"] if s.get("name") == "Build the board")
    assert '--results-repo "$RESULTS_ID"' in build["run"]
    assert build["env"]["RESULTS_ID"] == publish["env"]["RESULTS_ID"] == "${{ vars.RESULTS_ID }}"
    assert '--results-repo "$RESULTS_ID" --results leaderboard/results' in publish["run"]


@pytest.mark.parametrize("name", ["submission-check.yml", "board.yml"])
def test_every_command_and_flag_a_workflow_names_exists(name):
    import subprocess
    import sys

    for command, flags in interlingua_commands(workflow(name)):
        proc = subprocess.run(
            [sys.executable, "-m", "benchmark", *command, "--help"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
        assert proc.returncode == 0, (command, proc.stderr)
        for flag in flags:
            assert re.search(rf"{flag}(?![\w-])", proc.stdout), (name, command, flag)
    makefile = (ROOT / "Makefile").read_text()
    for job in workflow(name)["jobs"].values():
        for step in job["steps"]:
            for target in re.findall(r"\bmake (\w+)", step.get("run", "")):
                assert re.search(rf"^{target}:", makefile, re.M), target


# --- make board over processes (issue 18, "Scale past one machine") ------------------------------


def test_make_board_splits_the_submissions_over_jobs_processes():
    import subprocess

    proc = subprocess.run(
        ["make", "-n", "--no-print-directory", "board", "JOBS=2", "NPROC=2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    script = proc.stdout.replace("\\\n", " ")
    line = next(x for x in script.splitlines() if "submissions run" in x and "--probes" not in x)
    assert "seq 0 $(( 2 - 1 )) | xargs -P 2 -I{} env OMP_NUM_THREADS=1" in line
    assert "submissions run --shard {}/2 --output leaderboard/results" in line
    shards = subprocess.run(
        ["bash", "-c", "seq 0 $(( 2 - 1 ))"], capture_output=True, text=True
    ).stdout.split()
    assert [f"{i}/2" for i in shards] == ["0/2", "1/2"]


def test_shards_partition_the_submissions():
    from benchmark.submissions import shard_files

    files = sorted((ROOT / "submissions").glob("*.yaml"))
    for count in (1, 2, 3, 8, 9):
        parts = [shard_files(list(reversed(files)), i, count) for i in range(count)]
        assert sorted(p for part in parts for p in part) == files  # each file exactly once
        assert max(map(len, parts)) - min(map(len, parts)) <= 1


@pytest.mark.slow
def test_two_shards_together_give_what_one_process_gives(tmp_path):
    """The real command line, two processes at once into one results folder and one cache,
    against one process: the same result keys and main scores."""
    import subprocess
    import sys

    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("sentence-transformers__all-MiniLM-L6-v2", "intfloat__multilingual-e5-small"):
        (subs / f"{name}.yaml").write_text((ROOT / "submissions" / f"{name}.yaml").read_text())
    flags = ["--tasks", "cross_lingual_gap_text", "--limit", "20", "--languages", "en_us,de_de"]
    flags += ["--no-progress"]

    def start(shard: str, out: Path) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "benchmark", "submissions", "run", str(subs), *flags]
        cmd += [
            "--shard",
            shard,
            "--output",
            str(out),
            "--cache-dir",
            str(tmp_path / f"c-{out.name}"),
        ]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)

    shards = [start(f"{i}/2", tmp_path / "two") for i in range(2)]
    outputs = [p.communicate(timeout=600)[0] for p in shards]
    assert [p.returncode for p in shards] == [0, 0], outputs
    assert [o.splitlines()[0] for o in outputs] == [
        "shard 0/2: 1 of 2 submission(s)",
        "shard 1/2: 1 of 2 submission(s)",
    ]
    alone = start("0/1", tmp_path / "one")
    assert alone.communicate(timeout=600)[0] and alone.returncode == 0

    def scores(folder: Path) -> dict:
        found = {}
        for path in iter_result_files(folder):
            r = read_result(path)
            found[r.key] = r.main_score.value
        return found

    two, one = scores(tmp_path / "two"), scores(tmp_path / "one")
    assert len(two) == 2 and two == one


def test_submissions_run_checks_its_flags_and_every_file_before_any_model(
    tmp_path, capsys, monkeypatch
):
    for bad in ("2/2", "x/2", "0/0", "1"):
        with pytest.raises(SystemExit) as stop:
            main(["submissions", "run", "--shard", bad])
        assert stop.value.code == 2 and "expected I/N" in capsys.readouterr().err
    subs = tmp_path / "subs"
    subs.mkdir()
    good = ROOT / "submissions" / "sentence-transformers__all-MiniLM-L6-v2.yaml"
    (subs / good.name).write_text(good.read_text())
    (subs / "zz__broken.yaml").write_text("model: zz/broken\nrevision: main\n")

    def must_not_run(opts):
        raise AssertionError("a model was scored before every file was checked")

    monkeypatch.setattr("benchmark.runner.run", must_not_run)
    code = main(["submissions", "run", str(subs), "--shard", "0/2", "--output", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "zz__broken.yaml" in err and err.count("\n") == 1

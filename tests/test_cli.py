"""The command line's listing and validation commands (`run` is covered in test_runner.py)."""

import json

from benchmark.cli import main


def test_tasks_list_and_validate(capsys, tmp_path):
    assert main(["tasks", "list"]) == 0
    out = capsys.readouterr().out
    assert "cross_lingual_gap" in out and "cross_modal_gap" in out

    assert main(["tasks", "validate"]) == 0
    assert capsys.readouterr().out.count("ok ") >= 2

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nversion: 1\nkind: cross_modal_gap\nmodalities: [smell]\n")
    assert main(["tasks", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:4: field `modalities.0`" in err and "main_score" in err


def test_probes_list_and_show(capsys):
    assert main(["probes", "list"]) == 0
    out = capsys.readouterr().out
    assert "udhr" in out and "concepts" in out and "fleurs" in out
    assert main(["probes", "show", "udhr"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert card["name"] == "udhr" and len(card["languages"]) >= 30
    assert main(["probes", "show", "udhrr"]) == 2
    assert "udhr" in capsys.readouterr().err

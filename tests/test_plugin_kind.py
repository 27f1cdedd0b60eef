"""A task kind is its module, its YAML, its doc page and its golden case: moved out of the
package into a plug-in module that registers itself, a shipped kind runs end to end with no edit
of the package (issue 17)."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TASK = """\
include: {defaults}
name: plugin_retrieval
version: 1
kind: plugin_retrieval
modalities: [text]
probes: {{languages: [en_us, de_de], n: 24}}
metric:
  groups: [{{query: text, target: text, languages: cross}}]
  metrics: [accuracy@1, mrr]
  n_null: 10
  n_resamples: 10
main_score: {{name: plugin_acc1, measure: accuracy@1}}
"""


def test_a_kind_moved_into_a_plugin_module_registers_itself_and_runs(tiny_models, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    source = (ROOT / "benchmark" / "kinds" / "retrieval.py").read_text(encoding="utf-8")
    assert source.count('name="retrieval"') == 1
    (plugins / "my_retrieval_kind.py").write_text(
        source.replace('name="retrieval"', 'name="plugin_retrieval"'), encoding="utf-8"
    )
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    defaults = ROOT / "tasks" / "_defaults.yaml"
    (tasks / "plugin_retrieval.yaml").write_text(TASK.format(defaults=defaults), encoding="utf-8")
    env = {
        **os.environ,
        "PYTHONPATH": f"{plugins}{os.pathsep}{ROOT}",
        "INTERLINGUA_KINDS": "my_retrieval_kind",
        "INTERLINGUA_TASKS_DIR": str(tasks),
    }
    out = tmp_path / "out"
    command = [sys.executable, "-m", "benchmark", "run", "--model", str(tiny_models["bert"])]
    command += ["--tasks", "plugin_retrieval", "--output", str(out), "--no-progress"]
    command += ["--cache-dir", str(tmp_path / "cache")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (path,) = [p for p in out.rglob("*.json") if not p.name.endswith(".error.json")]
    result = json.loads(path.read_text())
    assert result["status"] == "ok" and result["task"]["kind"] == "plugin_retrieval"
    assert result["main_score"]["name"] == "plugin_acc1" and result["curves"]
    # without the plug-in the kind is unknown: the package itself knows nothing of it
    env.pop("INTERLINGUA_KINDS")
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "plugin_retrieval" in refused.stderr

"""Task YAML: the shipped tasks validate; bad files are reported with file, line and field;
command-line overrides are applied, validated and named in errors; selecting no task is an error."""

from pathlib import Path

import pytest

from benchmark.errors import ConfigError, UsageError
from benchmark.taskfiles import load_task, load_tasks, parse_setting, task_files


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


VALID = """\
name: toy
version: 1
kind: cross_lingual_gap
modalities: [text]
probes: {source: udhr, languages: [en_us, de_de], n: 40}
metric: {svcca_k: 5}
main_score: {name: cross_lingual_svcca}
"""


def test_shipped_tasks_validate():
    names = set(task_files())
    assert {"cross_lingual_gap_text", "cross_lingual_gap_speech", "cross_modal_gap"} <= names
    for config in load_tasks("all"):
        if "svcca_k" in config.metric:
            assert config.metric["svcca_k"] * config.metric["min_ratio"] <= config.probes.n


def test_valid_file_and_config_hash(tmp_path):
    config = load_task(write(tmp_path, "toy.yaml", VALID))
    assert config.probes.languages == ["en_us", "de_de"]
    assert config.metric["svcca_k"] == 5 and config.metric["n_null"] > 0  # defaults filled
    again = load_task(write(tmp_path, "toy2.yaml", VALID))
    assert config.config_hash() == again.config_hash()
    changed = load_task(write(tmp_path, "toy3.yaml", VALID.replace("n: 40", "n: 41")))
    assert changed.config_hash() != config.config_hash()


def test_include_merges_nested_defaults(tmp_path):
    write(tmp_path, "_base.yaml", "probes: {source: udhr, n: 30, seed: 7}\nmetric: {svcca_k: 3}\n")
    text = VALID.replace("name: toy", "include: _base.yaml\nname: toy").replace(
        "probes: {source: udhr, languages: [en_us, de_de], n: 40}", "probes: {languages: [en_us]}"
    )
    config = load_task(write(tmp_path, "toy.yaml", text))
    assert config.probes.seed == 7 and config.probes.n == 30
    assert config.probes.languages == ["en_us"]
    assert config.metric["svcca_k"] == 5  # the task's own value wins


def test_unknown_field_names_file_line_and_suggestion(tmp_path):
    path = write(tmp_path, "bad.yaml", VALID.replace("modalities:", "modalitys:"))
    with pytest.raises(ConfigError) as err:
        load_task(path)
    message = str(err.value)
    assert f"{path}:4" in message and "modalitys" in message and "'modalities'" in message


def test_unknown_metric_parameter_is_named(tmp_path):
    path = write(tmp_path, "bad.yaml", VALID.replace("svcca_k: 5", "svcca_kk: 5"))
    with pytest.raises(ConfigError, match=r"bad.yaml:6: field `metric.svcca_kk`"):
        load_task(path)


def test_unknown_kind_did_you_mean(tmp_path):
    path = write(tmp_path, "bad.yaml", VALID.replace("cross_lingual_gap", "cross_lingual_gapp"))
    with pytest.raises(ConfigError, match=r"bad.yaml:3: .*Did you mean 'cross_lingual_gap'"):
        load_task(path)


def test_wrong_type_and_missing_field(tmp_path):
    path = write(tmp_path, "bad.yaml", VALID.replace("version: 1", "version: one"))
    with pytest.raises(ConfigError, match=r"bad.yaml:2: field `version`"):
        load_task(path)
    path = write(
        tmp_path, "bad2.yaml", VALID.replace("main_score: {name: cross_lingual_svcca}\n", "")
    )
    with pytest.raises(ConfigError, match=r"field `main_score`: required field is missing"):
        load_task(path)


def test_malformed_yaml_gives_line(tmp_path):
    path = write(tmp_path, "bad.yaml", VALID.replace("modalities: [text]", "modalities: [text"))
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: malformed YAML"):
        load_task(path)


def test_unknown_task_name_did_you_mean():
    with pytest.raises(ConfigError, match="Did you mean 'cross_modal_gap'"):
        load_task("cross_modal_gp")


def test_overrides_apply_before_validation_and_change_the_hash(tmp_path):
    path = write(tmp_path, "toy.yaml", VALID)
    base = load_task(path)
    changed = load_task(path, {"metric.svcca_k": 3, "probes.n": 12})
    assert changed.metric["svcca_k"] == 3 and changed.probes.n == 12
    assert changed.config_hash() != base.config_hash()
    with pytest.raises(
        ConfigError, match=r"^--task-setting metric.svcca_k=0: field `metric.svcca_k`"
    ):
        load_task(path, {"metric.svcca_k": 0})
    with pytest.raises(ConfigError, match=r"field `metric.svcca_kk`: unknown field"):
        load_task(path, {"metric.svcca_kk": 3})


def test_parse_setting_reads_yaml_values():
    assert parse_setting("metric.svcca_k=5") == ("metric.svcca_k", 5)
    assert parse_setting("metric.measures=[cka]") == ("metric.measures", ["cka"])
    assert parse_setting("probes.source=udhr") == ("probes.source", "udhr")
    with pytest.raises(UsageError, match="FIELD=VALUE"):
        parse_setting("svcca_k")


def test_biased_interval_needs_an_explicit_opt_in(tmp_path):
    text = VALID.replace("metric: {svcca_k: 5}", "metric: {svcca_k: 5, ci_method: percentile}")
    with pytest.raises(ConfigError, match="allow_biased_ci"):
        load_task(write(tmp_path, "bad.yaml", text))
    opted = text.replace("ci_method: percentile}", "ci_method: percentile, allow_biased_ci: true}")
    assert load_task(write(tmp_path, "ok.yaml", opted)).metric["allow_biased_ci"] is True


def test_a_main_score_is_one_modality(tmp_path):
    both = VALID.replace("modalities: [text]", "modalities: [text, speech]")
    with pytest.raises(ConfigError, match="main_score.group must name one modality"):
        load_task(write(tmp_path, "bad.yaml", both))
    fixed = both.replace("{name: cross_lingual_svcca}", "{name: x, group: {modality: speech}}")
    assert load_task(write(tmp_path, "ok.yaml", fixed)).main_score.group == {"modality": "speech"}


def test_no_tasks_is_an_error_that_says_where_it_looked(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    write(empty, "_defaults.yaml", "probes: {n: 5}\n")
    monkeypatch.setenv("INTERLINGUA_TASKS_DIR", str(empty))
    with pytest.raises(UsageError, match=f"no task files in {empty}"):
        task_files()
    monkeypatch.setenv("INTERLINGUA_TASKS_DIR", str(tmp_path / "missing"))
    with pytest.raises(UsageError, match="no tasks folder at .*missing"):
        load_tasks("all")
    monkeypatch.delenv("INTERLINGUA_TASKS_DIR")
    with pytest.raises(UsageError, match="--tasks selects no task"):
        load_tasks(",")

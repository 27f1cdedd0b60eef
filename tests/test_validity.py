"""The validity suite: every shipped task on every known-answer reference model, through the
normal runner, at small sizes; every verdict must be what the task's YAML expects.

KNOWN_FAILURES lists the (task, reference) checks that fail on the measures as they stand: each is
a measure to fix (its owner's job), and each must still fail here (a fixed measure makes this test
fail until its entry is removed, so the list cannot go stale silently). Numbers: docs/validity.md.
"""

from __future__ import annotations

import pytest
import torch

from benchmark.config import TaskConfig
from benchmark.results import (
    Inference,
    LayerChoice,
    MainScore,
    ModelRecord,
    TaskRecord,
    TaskResult,
)
from benchmark.taskfiles import load_task, task_files
from benchmark.validity import REFERENCES, judge, markdown, run_suite, write_table
from benchmark.validity.report import BEGIN, END

# (task, reference, why it fails today): the measure owners empty this list.
KNOWN_FAILURES: list[tuple[str, str, str]] = [
    # empty since retrieval v4 (the signal floor on text and speech retrieval now sits at its
    # null: the verdict is gated on the length-controlled score)
]


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    return run_suite(output=tmp_path_factory.mktemp("validity"))


def known() -> dict[tuple[str, str], str]:
    return {(task, ref): why for task, ref, why in KNOWN_FAILURES}


def test_every_task_declares_every_reference():
    for name in task_files():
        config = load_task(name)
        assert set(config.validity.expect) == set(REFERENCES), name
        if "ceiling" in config.validity.expect.values():
            assert config.validity.ceiling is not None, name


def test_the_table_has_every_task_on_every_reference(suite):
    assert {c.key for c in suite.checks} == {(t, r) for t in task_files() for r in REFERENCES}
    assert all(c.role is not None for c in suite.checks)
    assert all(c.status != "error" for c in suite.checks), [c.why for c in suite.checks]


def test_every_verdict_is_as_expected_except_the_known_failures(suite):
    unexpected = [c for c in suite.failures if c.key not in known()]
    assert not unexpected, "\n".join(
        f"{c.task} known:{c.reference} ({c.role}): {c.why}" for c in unexpected
    )


def test_each_known_failure_still_fails(suite):
    checks = {c.key: c for c in suite.checks}
    fixed = [key for key in known() if key[1] in REFERENCES and checks[key].ok]
    assert not fixed, f"now as expected: remove from KNOWN_FAILURES: {fixed}"


def test_the_table_is_written_between_its_markers_and_keeps_the_page(suite, tmp_path):
    page = tmp_path / "validity.md"
    page.write_text("# Validity\n\nProse.\n\n" + BEGIN + "\nold\n" + END + "\n\n## After\n")
    write_table(page, suite)
    text = page.read_text()
    assert text.startswith("# Validity\n\nProse.\n\n" + BEGIN)
    assert text.rstrip().endswith("## After") and "\nold\n" not in text
    assert text.count("| known:") == len(suite.checks)
    assert markdown(suite) in text


# --- the verdict rules, on results made by hand ----------------------------------------------


def result(status="ok", value=0.5, p=0.5, n_null=39, ci=(0.4, 0.6), neutral=None, **extra):
    main = None
    if status == "ok":
        main = MainScore(
            name="s",
            measure="m",
            group="g",
            modalities=["text"],
            value=value,
            ci_low=ci[0],
            ci_high=ci[1],
            p_value=p,
            layer=LayerChoice(rule="best", layer="layer_1"),
            inference=Inference(
                null_method="", n_null=n_null, ci_method="subsample", ci_level=0.95, n_resamples=20
            ),  # fmt: skip
            neutral=neutral,
            **extra,
        )
    return TaskResult(
        key="k",
        status=status,
        reason=None if status == "ok" else "why",
        task=TaskRecord(name="t", version=1, kind="k", config={}, config_sha256="x"),
        model=ModelRecord(
            id="known:language", revision="r", origin="reference", family="f", adapter_version="1"
        ),  # fmt: skip
        main_score=main,
    )


@pytest.mark.parametrize(
    "made, expected, ceiling, ok",
    [
        (result(p=0.025), "above_null", None, True),
        (result(p=0.05), "above_null", None, False),
        (result(p=0.025, verdict="inconclusive"), "above_null", None, False),
        (result(p=0.05), "at_null", None, True),
        (result(p=0.025), "at_null", None, False),
        (result(p=0.025, verdict="inconclusive"), "at_null", None, True),
        (result(p=0.2, n_null=8), "at_null", None, False),  # p < 0.05 out of reach
        (result(value=0.91), "ceiling", 0.9, True),
        (result(value=0.89), "ceiling", 0.9, False),
        (result(value=0.91), "ceiling", None, False),  # no ceiling declared
        (result(value=0.1, higher_is_better=False), "ceiling", 0.2, True),
        (result(neutral=0.5), "neutral", None, True),
        (result(neutral=0.7), "neutral", None, False),
        (result(neutral=0.5, p=0.01), "neutral", None, False),
        (result(), "neutral", None, False),  # no neutral value declared
        (result("not_applicable"), "not_applicable", None, True),
        (result(), "not_applicable", None, False),
        (result("not_applicable"), "at_null", None, False),
        (result("error"), "at_null", None, False),
        (result(p=0.5), None, None, False),  # nothing declared
    ],
)
def test_verdict_rules(made, expected, ceiling, ok):
    assert judge(made, expected, ceiling)[0] is ok


def test_an_undeclared_expectation_is_named():
    config = TaskConfig(name="t", version=1, kind="retrieval", modalities=["text"],
                        main_score={"name": "s"})  # fmt: skip
    assert config.validity.expect == {}
    ok, why = judge(result(), config.validity.expect.get("language"), None)
    assert not ok and "validity.expect" in why


# --- known answers built from real checkpoints (tests/references.py), loaded from a folder ------

# What the real builds must score (run like any user's model, at the suite's sizes). The token-
# only e5 keeps e5's TRAINED token embeddings: translations' tokens lie close (cosine 0.3-0.6 for
# dog/Hund/собака/कुत्ता/狗 against 0.07 for unrelated words), so it knows word meanings without
# context, and concept alignment of words is above its null by construction; it is the floor a
# contextual model must clear there, as the form-only model (known:word_form) is the null.
REAL_EXPECT = {
    "e5_token_only": {
        "cross_lingual_gap_text": "above_null",
        "retrieval_text": "above_null",
        "concept_words_text": "above_null",
        "concept_sentences": "at_null",
    },
    "whisper_zero_head": {"logit_lens": "neutral"},
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from references import BUILDERS

    root = tmp_path_factory.mktemp("reference-checkpoints")
    return {name: build(root / name) for name, build in BUILDERS.items()}


def run_real(path, tasks, tmp_path):
    from benchmark.runner import RunOptions, run
    from benchmark.validity import SIZES

    opts = RunOptions(model=str(path), tasks=tasks, limit=SIZES["*"].limit,
                      task_settings=SIZES["*"].settings, output=tmp_path / "results",
                      cache_dir=tmp_path / "cache", progress=False)  # fmt: skip
    return run(opts).results


@pytest.mark.slow
def test_token_only_e5_states_are_functions_of_their_token(built):
    from benchmark.models import load_adapter
    from benchmark.models.base import BatchInputs

    adapter = load_adapter(str(built["e5_token_only"]))  # the normal path: no weight missing
    texts = ["The dog sleeps.", "A big red dog runs after the dog."]
    states = adapter.forward(BatchInputs("text", "en_us", texts=texts))
    dog = adapter.tokenizer.convert_tokens_to_ids("▁dog")
    ids = adapter.tokenizer(texts, padding=True, return_tensors="pt")["input_ids"]
    where = (ids == dog).nonzero().tolist()
    assert len(where) == 3
    for name, layer in states.items():
        rows = [layer.hidden[b, t] for b, t in where]
        for row in rows[1:]:
            torch.testing.assert_close(row, rows[0], msg=name)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(REAL_EXPECT))
def test_real_checkpoint_verdicts(name, built, tmp_path):
    results = run_real(built[name], list(REAL_EXPECT[name]), tmp_path)
    failures = known()
    for task, expected in REAL_EXPECT[name].items():
        ok, why = judge(results[task], expected, load_task(task).validity.ceiling)
        assert ok is ((task, name) not in failures), f"{task} {name}: {why or 'now as expected'}"


@pytest.mark.slow
def test_zero_head_whisper_has_zero_logits_and_its_inputs_unchanged(built):
    from transformers import WhisperForConditionalGeneration

    from benchmark.models import load_adapter
    from benchmark.models.base import BatchInputs
    from benchmark.models.offline import resolve_pretrained

    adapter = load_adapter(str(built["whisper_zero_head"]))
    head = adapter.output_head()
    states = adapter.forward(BatchInputs("text", "de_de", texts=["Der Hund schläft."]))
    with torch.no_grad():
        for layer in states.values():
            assert torch.count_nonzero(head.logits(layer.hidden[0])) == 0
    original = WhisperForConditionalGeneration.from_pretrained(
        resolve_pretrained("openai/whisper-base").source
    )
    torch.testing.assert_close(
        adapter.model.model.decoder.embed_tokens.weight,
        original.model.decoder.embed_tokens.weight,
    )

"""The family registry: one object per family, found by a claimed id, a config, or by name."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from benchmark.errors import UsageError
from benchmark.models import plan_model, registry
from benchmark.models.family import Family, Stack


def test_ids_are_claimed_by_prefix_or_whole_id():
    assert registry.family_for_id("sonar:text_sonar_basic_encoder").name == "sonar"
    assert registry.family_for_id("known:signal").name == "known-signal"
    assert registry.family_for_id("openai/whisper-base") is None
    # a known: id that no reference model has: refused with the names, not sent to the Hub
    with pytest.raises(UsageError, match="known:signal"):
        registry.family_for_id("known:signa")
    assert not registry.get_family("known-signal").claims("known:signal2")


def test_configs_resolve_by_type_then_architecture_then_accepting_families():
    def config(model_type, *architectures, **kw):
        return SimpleNamespace(model_type=model_type, architectures=list(architectures), **kw)

    assert registry.family_for_config(config("whisper")).name == "whisper"
    # an unlisted type with a listed architecture
    assert registry.family_for_config(config("x-custom", "WhisperModel")).name == "whisper"
    assert registry.family_for_config(config("mpnet")).name == "text-encoder"  # masked LM
    assert registry.family_for_config(config("t5", is_encoder_decoder=True)).name == "auto"
    accepting = [f for f in registry.families().values() if f.accepts]
    assert max(accepting, key=lambda f: f.priority).name == "auto"  # the fallback is tried last


def test_a_second_family_of_the_same_name_is_refused():
    whisper = registry.get_family("whisper")
    assert registry.register_family(whisper) is whisper  # a module imported twice
    other = Family(name="whisper", description="", version="1", stacks={}, load=print)
    with pytest.raises(UsageError, match="already registered"):
        registry.register_family(other)
    with pytest.raises(UsageError, match="Did you mean 'whisper'"):
        registry.get_family("wisper")


def test_a_known_reference_plans_from_its_family_with_its_roles():
    plan = plan_model("known:uniform_head")
    assert plan.family == "known-uniform_head" and plan.name == "known-uniform_head"
    assert plan.stacks == {"decoder": registry.get_family("known-uniform_head").stacks["decoder"]}
    assert plan.stacks["decoder"].head and isinstance(plan.stacks["decoder"], Stack)
    assert plan.config_sha256 is None and plan.settings == {"seed": 0}
    with pytest.raises(UsageError, match="--random-init is not available"):
        plan_model("known:signal", random_init=1)

"""TEMPORARY: runs `known:<name>` model ids through the runner until the family registry
(benchmark.models.registry) that registers them lands on main. `installed()` patches the runner's
plan_model so a known id is planned from its Family object; every other id is planned as before.
"""

from __future__ import annotations

import contextlib
from unittest import mock

from benchmark.models import ModelPlan, families
from benchmark.models.known import PREFIX, load_all, read_known_config, resolve_known


def plan_known(model_id: str, revision=None, settings=None, *, random_init=None, **_kw):
    from benchmark.models.common import merge_settings
    from benchmark.models.known import DEFAULTS

    load_all()
    family = _family(model_id)
    resolved = resolve_known(model_id, revision)
    if random_init is not None:
        from benchmark.errors import UsageError

        raise UsageError(f"{model_id}: a known-answer model has no weights to re-initialise")
    return ModelPlan(
        model_id=model_id,
        name=model_id.replace(":", "-"),
        resolved=resolved,
        family=family.name,
        adapter_version=family.version,
        settings=merge_settings(family.name, DEFAULTS, settings),
        modalities=family.modalities,
        config_sha256=None,
        config=read_known_config(model_id),
        stacks={n: s.takes for n, s in family.stacks.items()},
    )


def _family(model_id: str):
    from benchmark.models import known_head, known_steer, known_vectors

    every = [*known_vectors.FAMILIES, known_head.FAMILY, *known_steer.FAMILIES]
    found = [f for f in every if f.claims(model_id)]
    resolve_known(model_id)  # an unknown name raises, naming the references
    family = found[0]
    if family.name not in families.FAMILIES:  # the old registry: load_adapter finds the loader
        families.FAMILIES[family.name] = families.Family(
            family.description, (), (), "benchmark.models.known:load_known",
            {n: s.takes for n, s in family.stacks.items()},
        )  # fmt: skip
    return family


@contextlib.contextmanager
def installed():
    import benchmark.runner as runner

    original = runner.plan_model

    def plan(model_id, *args, **kwargs):
        if model_id.startswith(PREFIX):
            return plan_known(model_id, *args, **kwargs)
        return original(model_id, *args, **kwargs)

    with mock.patch.object(runner, "plan_model", plan):
        yield

"""A result's key recomputed from what the result says about itself.

The runner keys a result by the model (`ModelPlan.key_fields`), the task (resolved config hash and
kind version) and the probe items (`ProbeSet.describe`); the result records every one of those
fields in its `model`, `task` and `probes` records. So a reader can recompute the key and refuse a
file whose key does not match its content: one edited by hand (another model id, settings or
task config) or whose key was overwritten. Measured values are not in the key: this catches files
that claim to be another run, not a changed number.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from benchmark.results.schema import ModelRecord, ProbesRecord, TaskRecord, TaskResult, result_key

# Fields of a resolved task config that change no number (the known-answer models' expected
# verdicts): recorded in the result, kept out of its key.
OUTSIDE_KEY = ("validity",)


def config_sha256(config: dict[str, Any]) -> str:
    """The hash of a resolved task config as a result records it (`TaskConfig.model_dump(mode=
    "json")`); `TaskConfig.config_hash` is this, so a reader can check `task.config_sha256`."""
    kept = {k: v for k, v in config.items() if k not in OUTSIDE_KEY}
    return hashlib.sha256(json.dumps(kept, sort_keys=True).encode()).hexdigest()


def model_key_fields(model: ModelRecord) -> dict:
    """What `ModelPlan.key_fields()` gave, as the model record keeps it."""
    return {
        "id": model.id,
        "revision": model.revision,
        "weights_sha256": model.weights_sha256,
        "config_sha256": model.config_sha256,
        "family": model.family,
        "adapter_version": model.adapter_version,
        "settings": model.settings,
        "init": model.init,
        **({"control_recipe": model.control_recipe} if model.control_recipe is not None else {}),
    }


def task_key_fields(task: TaskRecord) -> dict:
    return {"config_sha256": task.config_sha256, "kind_version": task.kind_version}


def probes_key_fields(probes: ProbesRecord | None) -> dict:
    """The probe items as they enter the key (`run_planning.plan_tasks`); none: {}."""
    if probes is None:
        return {}
    return {
        "name": probes.name,
        "revision": probes.revision,
        "languages": probes.languages,
        "ids_sha256": probes.ids_sha256,
        "reading": probes.reading,
    }


def content_key(result: TaskResult) -> str:
    """The key this result's content gives."""
    return result_key(
        model_key_fields(result.model),
        task_key_fields(result.task),
        probes_key_fields(result.probes),
    )


def key_problem(result: TaskResult) -> str | None:
    """Why the result's key does not vouch for its content, or None when it does."""
    config_hash = config_sha256(result.task.config)
    if config_hash != result.task.config_sha256:
        return (
            f"its task config hashes to {config_hash[:16]}, not the recorded "
            f"task.config_sha256 {result.task.config_sha256[:16]}"
        )
    key = content_key(result)
    if key != result.key:
        return f"its key {result.key[:16]} is not the key of its content ({key[:16]})"
    return None

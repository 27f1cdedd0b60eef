"""One run: a model against a list of tasks.

Everything that needs no model is checked first — flags, task files, probe sets, each kind's own
requirements (k against n, languages) and the model's resolution — so bad input fails in seconds
with one line. Each task's result key is then known (model plan + task config + probe items);
a task whose result already exists is skipped. Representations come from the verified cache, and
the model loads only if one is missing. A failing task writes an error file beside its result
(never over a finished one) and the other tasks still run.
"""

from __future__ import annotations

import json
import logging
import shlex
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch

from benchmark.config import TaskConfig
from benchmark.errors import NotApplicable
from benchmark.evaluation import Draws
from benchmark.fileio import atomic_write_text, check_writable_dir
from benchmark.kinds import ModelAccess, TaskContext, get_kind
from benchmark.models import ModelPlan, load_adapter, plan_model
from benchmark.models.registry import get_family
from benchmark.probes import ProbeSet
from benchmark.representations import (
    ModelHandle,
    RepresentationService,
    TaskRepresentations,
    distributed,
)
from benchmark.results import (
    ModelRecord,
    ProbesRecord,
    RunRecord,
    TaskRecord,
    TaskResult,
    environment,
    finished_result,
    result_key,
    result_path,
    write_result,
)
from benchmark.run_planning import PlannedTask, RunOptions, check_options, plan_tasks

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    results: dict[str, TaskResult]
    paths: dict[str, Path]
    model_loaded: bool = False
    seconds: dict[str, float] = field(default_factory=dict)  # where the run's time went

    @property
    def failed(self) -> list[str]:
        return [name for name, r in self.results.items() if r.status == "error"]


def plan_of(opts: RunOptions) -> ModelPlan:
    """The model of a run, resolved and planned (no weights load)."""
    return plan_model(
        opts.model,
        revision=opts.revision,
        settings=opts.model_settings,
        trust_remote_code=opts.trust_remote_code,
        random_init=opts.random_init,
    )


def run(opts: RunOptions) -> RunSummary:
    clock = time.perf_counter()
    check_options(opts)
    output = check_writable_dir(opts.output, "--output")
    plan = plan_of(opts)
    seconds = {"plan_model": time.perf_counter() - clock}
    planned = plan_tasks(opts, plan)  # every task checked against its probes: still no model
    seconds["plan_tasks"] = time.perf_counter() - clock - seconds["plan_model"]
    # [models] a multi-process run (accelerate launch): each process on its own device
    dist = distributed.current(opts.device)
    device = dist.device if dist is not None and opts.device != "cpu" else opts.device
    handle = ModelHandle(lambda: load_adapter(plan, device=device))
    service = RepresentationService(
        plan.key_fields(),
        handle,
        cache_dir(opts),
        batch_size=opts.batch_size,
        progress=opts.progress,
        recompute=opts.overwrite,
        pooling=plan.settings.get("pooling"),  # the model's pooling wins over the task's
        stacks={m: plan.default_stack(m) for m in plan.modalities},
    )
    summary = RunSummary(results={}, paths={}, seconds=seconds)
    todo = []
    for task, key, path, previous in scheduled(opts, plan, planned, output):
        if previous is not None:
            log.info("%s: done before with the same key (%s); skipping", task.config.name, path)
            summary.results[task.config.name], summary.paths[task.config.name] = previous, path
            continue
        todo.append((task, key, path))
    for task, _, _ in todo:  # what every task will read: one pass per unit serves them all
        if task.not_applicable:
            continue
        kind, config = get_kind(task.config.kind), task.config
        modalities = applicable_modalities(task, plan)
        service.plan(task.probes, kind.requests(config, config.params, task.probes, modalities))
    if dist is not None:  # every process extracts its shards; process 0 merges and scores
        distributed.extract_shards(service, dist)
        if not dist.is_main:
            summary.model_loaded = handle.loaded
            return summary
    for task, key, path in todo:
        result = run_task(task, key, plan, service, opts)
        summary.results[task.config.name] = result
        summary.paths[task.config.name] = write_result(path, result)
    summary.model_loaded = handle.loaded
    seconds["model_load"] = handle.load_seconds
    seconds["extraction"] = service.extraction_seconds
    seconds["total"] = time.perf_counter() - clock
    seconds["scoring_and_writing"] = seconds["total"] - sum(
        seconds[k] for k in ("plan_model", "plan_tasks", "model_load", "extraction")
    )
    log.info("run seconds: %s", {k: round(v, 2) for k, v in seconds.items()})
    return summary


def scheduled(opts: RunOptions, plan: ModelPlan, planned: list[PlannedTask], output: Path):
    """Per planned task: (task, its result key, its result path, the result finished before with
    that key or None). The key is everything that changes a score (the model plan, the task's
    config and kind version, the probe items), so a finished result is skipped, never redone."""
    out = []
    for task in planned:
        task_key = {
            "config_sha256": task.config.config_hash(),
            "kind_version": get_kind(task.config.kind).version,
        }
        key = result_key(plan.key_fields(), task_key, task.probes_key)
        path = result_path(output, plan.name, plan.revision_label, task.config.name, key)
        previous = None if opts.overwrite else finished_result(path, key)
        out.append((task, key, path, previous))
    return out


def still_to_run(opts: RunOptions) -> list[tuple[str, Path]]:
    """(task, result path) of every task of `opts` that has no finished result under today's key
    in `opts.output`: what `run` would compute, found without loading the model."""
    plan = plan_of(opts)
    planned = plan_tasks(opts, plan)
    return [
        (task.config.name, path)
        for task, _, path, previous in scheduled(opts, plan, planned, Path(opts.output))
        if previous is None
    ]


def cache_dir(opts: RunOptions) -> Path:
    from benchmark.models.resolved import cache_root

    return Path(opts.cache_dir) if opts.cache_dir else cache_root() / "representations"


def facts_dir(opts: RunOptions) -> Path:
    """Beside the representations; inside --cache-dir when one is given (nothing outside it)."""
    from benchmark.models.resolved import cache_root

    return Path(opts.cache_dir) / "model-facts" if opts.cache_dir else cache_root() / "model-facts"


def model_record(plan: ModelPlan, handle_facts: dict | None = None) -> ModelRecord:
    return ModelRecord(
        id=plan.model_id,
        revision=plan.resolved.revision,
        origin=plan.resolved.origin,
        weights_sha256=plan.resolved.weights_sha256,
        config_sha256=plan.config_sha256,
        family=plan.family,
        adapter_version=plan.adapter_version,
        settings=plan.settings,
        init=plan.init,
        control_recipe=plan.control_recipe,
        modalities=list(plan.modalities),
        n_parameters=(handle_facts or {}).get("n_parameters"),
        description=(handle_facts or {}).get("description", {}),
        reference=get_family(plan.family).reference,  # a known-answer model's role, else None
    )


def reproduce_command(opts: RunOptions, task: TaskConfig) -> str:
    """A command line that writes this result again."""
    parts = ["interlingua", "run", "--model", opts.model, "--tasks", task.name]
    if opts.revision:
        parts += ["--revision", opts.revision]
    for key, value in sorted(opts.model_settings.items()):
        parts += ["--model-setting", f"{key}={value}"]
    for key, value in sorted(opts.task_settings.items()):
        parts += ["--task-setting", f"{key}={value}"]
    if opts.probes:
        parts += ["--probes", opts.probes]
    if opts.languages:
        parts += ["--languages", ",".join(opts.languages)]
    if opts.limit:
        parts += ["--limit", str(opts.limit)]
    if opts.random_init is not None:
        parts += ["--random-init", str(opts.random_init)]
    if opts.skip_undecodable:
        parts += ["--skip-undecodable"]
    return shlex.join(parts)


@dataclass
class TaskRun:
    """One task being run: what its result records besides the scores."""

    task: PlannedTask
    key: str
    plan: ModelPlan
    service: RepresentationService
    opts: RunOptions
    started: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    clock: float = field(default_factory=time.perf_counter)
    extraction_before: float = 0.0

    def result(self, **fields) -> TaskResult:
        config, service = self.task.config, self.service
        total = time.perf_counter() - self.clock
        extraction = service.extraction_seconds - self.extraction_before
        facts = model_facts(self.plan, service.model, facts_dir(self.opts))
        return TaskResult(
            key=self.key,
            task=TaskRecord(
                name=config.name,
                version=config.version,
                kind=config.kind,
                kind_version=get_kind(config.kind).version,
                config=config.model_dump(mode="json"),
                config_sha256=config.config_hash(),
                overrides=self.task.overrides,
                adjustments=self.task.adjustments,
            ),
            model=model_record(self.plan, facts),
            probes=probes_record(self.task.probes),
            run=RunRecord(
                started=self.started.isoformat(),
                seconds_total=round(total, 3),
                seconds_extraction=round(extraction, 3),
                seconds_scoring=round(total - extraction, 3),
                model_loaded=service.model.loaded,
                device=self.opts.device,
                batch_size=service.batch_size,  # with "auto": the size that was used
                command=reproduce_command(self.opts, config),
            ),
            environment=environment(),
            **fields,
        )


def run_task(
    task: PlannedTask,
    key: str,
    plan: ModelPlan,
    service: RepresentationService,
    opts: RunOptions,
) -> TaskResult:
    """Score one planned task; a task that does not apply, or fails, is recorded as such."""
    record = TaskRun(task, key, plan, service, opts, extraction_before=service.extraction_seconds)
    config, kind = task.config, get_kind(task.config.kind)
    reason = task.not_applicable or _missing_modalities(task, plan)
    if reason:
        return record.result(status="not_applicable", reason=reason)
    ctx = task_context(task, plan, service)
    try:
        output = kind.score(ctx)
    except NotApplicable as verdict:
        return record.result(status="not_applicable", reason=str(verdict))
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as err:  # recorded beside the result; the run goes on with the next task
        log.exception("task %s failed", config.name)
        return record.result(status="error", reason=f"{type(err).__name__}: {err}")
    return record.result(
        status="ok",
        main_score=output.main_score,
        curves=output.curves,
        matrices=output.matrices,
        details={**output.details, "pooling": ctx.reps.pooling_record()},
        notes=output.notes,
    )


def _missing_modalities(task: PlannedTask, plan: ModelPlan) -> str | None:
    if applicable_modalities(task, plan):
        return None
    config = task.config
    both = get_kind(config.kind).needs == "all"
    needed = " and ".join(config.modalities) if both else "one of " + ", ".join(config.modalities)
    return f"model takes {', '.join(plan.modalities)}; task {config.name!r} needs {needed}"


def task_context(task: PlannedTask, plan: ModelPlan, service: RepresentationService):
    """What the task's kind may ask for (benchmark.kinds.TaskContext)."""
    config = task.config
    return TaskContext(
        config=config,
        params=config.params,
        probes=task.probes,
        modalities=applicable_modalities(task, plan),
        reps=TaskRepresentations(service, task.probes, config.pooling, config.layers),
        model=ModelAccess(
            load=service.model.get,
            stacks=dict(plan.stacks),
            default_stacks={m: plan.default_stack(m) for m in plan.modalities},
            pooling=plan.settings.get("pooling"),
            batch_size=service.batch,
        ),
        draws=Draws.of(config.params),
    )


def applicable_modalities(task: PlannedTask, plan: ModelPlan) -> list[str]:
    """The task's modalities the model has; none when the task's kind needs all and one lacks."""
    config = task.config
    available = [m for m in config.modalities if m in plan.modalities]
    missing = [m for m in config.modalities if m not in plan.modalities]
    return [] if get_kind(config.kind).needs == "all" and missing else available


def probes_record(probes: ProbeSet) -> ProbesRecord:
    d = probes.describe()
    return ProbesRecord(
        name=d["name"],
        revision=d["revision"],
        source=d.get("source"),
        split=d.get("split"),
        languages=d["languages"],
        n=d["n"],
        ids_sha256=d["ids_sha256"],
        reading=d.get("reading") or 0,
        recording_rule=d.get("recording_rule"),
        selection=str(d.get("selection", {}).get("rule")) if d.get("selection") else None,
        skipped_items=list(probes.card.get("skipped_items", [])),
    )


def model_facts(plan: ModelPlan, handle: ModelHandle, facts_dir: Path) -> dict | None:
    """What the model says of itself (parameter count, derived adapter settings): read from the
    loaded model and kept beside the cache, so a re-score that never loads it still reports them.
    Not part of the key."""
    path = facts_dir / f"{plan.key()}.json"
    if not handle.loaded:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
    adapter = handle.get()
    modules = [m for m in vars(adapter).values() if isinstance(m, torch.nn.Module)]
    unique = {id(p): p for m in modules for p in m.parameters()}
    facts = {
        "n_parameters": sum(p.numel() for p in unique.values()) or None,
        "description": json.loads(json.dumps(adapter.info.settings, default=str)),
    }
    atomic_write_text(path, json.dumps(facts, indent=2) + "\n")
    return facts

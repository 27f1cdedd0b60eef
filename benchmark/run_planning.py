"""Everything a run checks and decides before any model loads: the flags, the task configs with
their overrides, each task's probe items (fitted to a user's own probe set when its defaults do not
fit), and each kind's own requirements. Bad input fails here, in seconds, naming what to fix."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.config import TaskConfig
from benchmark.errors import NotApplicable, UsageError
from benchmark.kinds import get_kind
from benchmark.probes import ProbeSet, ProbeSpec, check_languages, load_recordings
from benchmark.probes.embedded import embedded_names
from benchmark.probes.selection import select
from benchmark.taskfiles import load_tasks

if TYPE_CHECKING:
    from benchmark.models import ModelPlan

log = logging.getLogger(__name__)


@dataclass
class RunOptions:
    model: str
    tasks: str | list[str] = "all"
    revision: str | None = None
    languages: list[str] | None = None  # overrides every task's probes.languages
    probes: str | None = None  # overrides every task's probes.source
    limit: int | None = None  # overrides every task's probes.n
    task_settings: dict = field(default_factory=dict)  # {"metric.svcca_k": 5}
    batch_size: int | str = 16  # or "auto": the largest that fits (tried, halved on OOM)
    device: str = "cpu"
    output: Path = Path("results")
    cache_dir: Path | None = None
    overwrite: bool = False
    trust_remote_code: bool = False
    model_settings: dict = field(default_factory=dict)
    random_init: int | None = None  # a control: the architecture with seeded random weights
    skip_undecodable: bool = False  # leave out items whose audio cannot be decoded
    progress: bool | None = None  # None: tqdm's own switches (TQDM_DISABLE) decide


@dataclass
class PlannedTask:
    config: TaskConfig  # overrides and adjustments applied
    probes: ProbeSet
    probes_key: dict  # the probe items, as they enter the result key
    overrides: dict[str, Any] = field(default_factory=dict)
    adjustments: list[str] = field(default_factory=list)
    # why the task cannot run on these probes, languages or sizes (only under `--tasks all`: a
    # task the user named is an error instead); the run records a not_applicable result
    not_applicable: str | None = None


def check_options(opts: RunOptions) -> None:
    """The run flags, each on its own (no model, no probes needed)."""
    auto = opts.batch_size == "auto"  # [models] the largest that fits, tried and halved on OOM
    if not auto and (not isinstance(opts.batch_size, int) or opts.batch_size < 1):
        raise UsageError(f"--batch-size {opts.batch_size!r}: must be a whole number >= 1 or auto")
    if opts.limit is not None and opts.limit < 2:
        raise UsageError(
            f"--limit {opts.limit}: must be at least 2 sentences per language (the gap tasks "
            "need many more: 40 with the default k = 10)"
        )
    _check_device(opts.device)
    named = opts.probes in (*embedded_names(), "fleurs")
    if opts.probes and not named and not Path(opts.probes).expanduser().exists():
        raise UsageError(
            f"--probes {opts.probes}: no such probe set or path; use one of "
            f"{', '.join([*embedded_names(), 'fleurs'])}, or a Parquet file or folder"
        )
    if opts.languages is not None and not opts.languages:
        raise UsageError(
            "--languages names no language; give FLEURS codes (e.g. en_us,de_de), or leave the "
            "flag out for each task's own languages"
        )
    if opts.languages:
        check_languages(list(opts.languages), where="--languages")


def _check_device(device: str) -> None:
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise UsageError(f"--device {device!r}: not a device; use cpu, cuda, cuda:1, mps") from None
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"--device {device}: this machine has no CUDA device; use --device cpu")
    if parsed.type == "cuda" and (parsed.index or 0) >= torch.cuda.device_count():
        raise UsageError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) here")
    if parsed.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"--device {device}: MPS is not available here; use --device cpu")


def task_overrides(opts: RunOptions) -> dict[str, Any]:
    """Run flags that change task fields, as task settings (recorded in each result)."""
    flags = {"probes.source": opts.probes, "probes.languages": opts.languages}
    flags["probes.n"] = opts.limit
    return {k: v for k, v in flags.items() if v is not None} | dict(opts.task_settings)


def probe_spec(config: TaskConfig, opts: RunOptions) -> ProbeSpec:
    p = config.probes
    return ProbeSpec(
        source=p.source,
        languages=tuple(p.languages) if p.languages else None,
        split=p.split,
        n=p.n,
        seed=p.seed,
        reading=p.reading,
        repo=p.repo,
        skip_undecodable=opts.skip_undecodable,
    )


def fit_to_probes(config: TaskConfig, opts: RunOptions) -> tuple[TaskConfig, list[str]]:
    """With `--probes`, a task's default languages and n may not fit the user's set: use the
    task's languages the set has (at least two, else all of the set's) and n = min(task n, shared
    ids). Explicit --languages / --limit are kept as given (and fail later if they cannot be met)."""
    if opts.probes is None:
        return config, []
    spec = probe_spec(config, opts)
    # without --languages the task may take any of the set's languages: read them all; with it,
    # only those asked for are read (a damaged file of another language cannot stop the run)
    recordings = load_recordings(spec if opts.languages else _replace(spec, languages=None))
    languages = list(config.probes.languages or recordings.languages)
    adjustments = []
    if opts.languages is None:
        keep = [lang for lang in languages if lang in recordings.languages]
        if len(keep) < 2:
            keep = list(recordings.languages)
        if keep != languages:
            adjustments.append(
                f"probes.languages: the task's {languages} -> {keep} (what {opts.probes} has)"
            )
            languages = keep
    n = config.probes.n
    if opts.limit is None and n is not None:
        shared = len(select(recordings, _replace(spec, languages=tuple(languages), n=None)).ids)
        if n > shared:
            adjustments.append(f"probes.n: the task's {n} -> {shared} (ids shared by {languages})")
            n = shared
    for line in adjustments:
        log.warning("%s: %s", config.name, line)
    probes = config.probes.model_copy(update={"languages": languages, "n": n})
    return config.model_copy(update={"probes": probes}), adjustments


def _replace(spec: ProbeSpec, **changes) -> ProbeSpec:
    from dataclasses import replace

    return replace(spec, **changes)


def plan_tasks(opts: RunOptions, plan: ModelPlan | None = None) -> list[PlannedTask]:
    """Every task of the run, checked against its probes before any model loads. Under
    `--tasks all` a task that cannot run on the probes, languages or sizes given is planned as
    not applicable, with the reason; a task the user named explicitly is an error."""
    overrides = task_overrides(opts)
    named = opts.tasks != "all"
    loaded: dict[ProbeSpec, ProbeSet] = {}
    planned = []
    for config in load_tasks(opts.tasks, overrides):
        config, adjustments = fit_to_probes(config, opts)
        spec = probe_spec(config, opts)
        if spec not in loaded:
            loaded[spec] = select(load_recordings(spec), spec)
        probes = loaded[spec]
        undecodable = probes.card.get("undecodable") or []
        reads_speech = "speech" in config.modalities and (
            plan is None or "speech" in plan.modalities
        )
        if undecodable and reads_speech:
            raise UsageError(
                f"{probes.name}: {len(undecodable)} item(s) whose audio cannot be decoded, e.g. "
                f"{undecodable[0]} Task {config.name!r} reads speech: fix the files, or pass "
                "--skip-undecodable to leave those items out of every language"
            )
        config, fitted = fit_to_data(config, probes)
        reason = None
        try:
            get_kind(config.kind).check_probes(config, config.params, probes)
        except (UsageError, NotApplicable) as err:
            if named:
                raise UsageError(str(err)) from None
            reason = f"cannot run on these probes: {err}"
            log.warning("%s: not applicable (%s)", config.name, err)
        described = probes.describe()
        probes_key = {
            k: described[k] for k in ("name", "revision", "languages", "ids_sha256", "reading")
        }
        task = PlannedTask(config, probes, probes_key, overrides, adjustments + fitted, reason)
        planned.append(task)
    return planned


def fit_to_data(config: TaskConfig, probes: ProbeSet) -> tuple[TaskConfig, list[str]]:
    """Sizes that depend on the data (SVCCA k, clusters, targets), fitted by the kind's rule to
    what the probes hold (benchmark.kinds `fit`); each change is a line the result records."""
    params, lines = get_kind(config.kind).fit(config, config.params, probes)
    for line in lines:
        log.warning("%s: %s", config.name, line)
    return (config.with_params(params) if lines else config), lines

"""One run: a model against a list of tasks. Validates every task first, loads the model once,
extracts each (language, modality) once through the cache, scores each task, writes one result per
task. A failing task writes an error result and the others still run; nothing extracted is lost.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from benchmark.config import TaskConfig, load_tasks
from benchmark.kinds import TaskContext, get_kind
from benchmark.models import load_adapter
from benchmark.models.base import Modality, ModelAdapter
from benchmark.probes import ProbeSet, ProbeSpec, load_probes
from benchmark.representations import RepresentationCache, Representations, cache_key, extract
from benchmark.results import TaskResult, environment, read_result, result_path, write_result

log = logging.getLogger(__name__)


@dataclass
class RunOptions:
    model: str
    tasks: str | list[str] = "all"
    revision: str | None = None
    languages: list[str] | None = None  # overrides every task's probes.languages
    probes: str | None = None  # overrides every task's probes.source
    limit: int | None = None  # overrides every task's probes.n
    batch_size: int = 16
    device: str = "cpu"
    output: Path = Path("results")
    cache_dir: Path | None = None
    overwrite: bool = False
    trust_remote_code: bool = False
    model_settings: dict = field(default_factory=dict)
    progress: bool = True


@dataclass
class RunSummary:
    results: dict[str, TaskResult]
    paths: dict[str, Path]

    @property
    def failed(self) -> list[str]:
        return [name for name, r in self.results.items() if r.status == "error"]


def apply_overrides(config: TaskConfig, opts: RunOptions) -> TaskConfig:
    probes = config.probes.model_copy(
        update={
            k: v
            for k, v in {
                "source": opts.probes,
                "languages": opts.languages,
                "n": opts.limit,
            }.items()
            if v is not None
        }
    )
    return config.model_copy(update={"probes": probes})


def run(opts: RunOptions) -> RunSummary:
    configs = [apply_overrides(c, opts) for c in load_tasks(opts.tasks)]  # fail before loading
    adapter = load_adapter(
        opts.model,
        revision=opts.revision,
        device=opts.device,
        trust_remote_code=opts.trust_remote_code,
        settings=opts.model_settings or None,
    )
    store = RepresentationStore(adapter, opts)
    resolved = adapter.resolved
    model_record = {
        "id": opts.model,
        "revision": resolved.revision,
        "origin": resolved.origin,
        "weights_sha256": resolved.weights_sha256,
        "adapter": dataclasses.asdict(adapter.info),
        "modalities": list(adapter.modalities),
        "device": opts.device,
        "batch_size": opts.batch_size,
    }
    summary = RunSummary(results={}, paths={})
    for config in configs:
        path = result_path(opts.output, *result_location(opts.model, resolved), config.name)
        previous = _finished_result(path, config) if not opts.overwrite else None
        if previous is not None:
            log.info("%s: already done with the same config (%s); skipping", config.name, path)
            summary.results[config.name], summary.paths[config.name] = previous, path
            continue
        result = run_task(config, adapter, store, model_record)
        summary.results[config.name] = result
        summary.paths[config.name] = write_result(path, result)
    return summary


def result_location(model_id: str, resolved) -> tuple[str, str]:
    """(model name, revision) for the results folder. A local directory is named by its folder
    name and the start of its weights hash, so two different local models never share a folder."""
    if resolved.origin != "local":
        return model_id, resolved.revision
    weights = (resolved.weights_sha256 or "unhashed")[:12]
    return Path(model_id).name or model_id, f"{resolved.revision}-{weights}"


def run_task(
    config: TaskConfig, adapter: ModelAdapter, store: RepresentationStore, model_record: dict
) -> TaskResult:
    kind = get_kind(config.kind)
    base = {
        "task": {
            "name": config.name,
            "version": config.version,
            "kind": config.kind,
            "config_sha256": config.config_hash(),
            "config": config.model_dump(mode="json"),
        },
        "model": model_record,
        "environment": environment(),
    }
    started = datetime.now(timezone.utc)
    available = [m for m in config.modalities if m in adapter.modalities]
    missing = [m for m in config.modalities if m not in adapter.modalities]
    if (kind.needs == "all" and missing) or not available:
        reason = (
            f"model takes {', '.join(adapter.modalities)}; task {config.name!r} needs "
            f"{' and '.join(config.modalities) if kind.needs == 'all' else 'one of ' + ', '.join(config.modalities)}"
        )
        return TaskResult(status="not_applicable", reason=reason, probes={}, **base)

    probes: ProbeSet | None = None
    extraction_before = store.extraction_seconds
    clock = time.perf_counter()
    try:
        probes = store.probes(config.probes)
        ctx = TaskContext(
            config=config,
            probes=probes,
            modalities=available,
            representations=lambda lang, modality: store.get(
                probes, lang, modality, config.pooling, config.layers
            ),
        )
        output = kind.score(ctx)
    except Exception as err:  # recorded, and the run goes on with the next task
        log.exception("task %s failed", config.name)
        return TaskResult(
            status="error",
            reason=f"{type(err).__name__}: {err}",
            probes=probes.describe() if probes is not None else {},
            **base,
        )
    total = time.perf_counter() - clock
    extraction = store.extraction_seconds - extraction_before
    return TaskResult(
        status="ok",
        probes=probes.describe(),
        main_score=output.main_score,
        scores=output.scores,
        notes=output.notes,
        runtime={
            "started": started.isoformat(),
            "seconds_total": round(total, 3),
            "seconds_extraction": round(extraction, 3),
            "seconds_scoring": round(total - extraction, 3),
        },
        **base,
    )


def _finished_result(path: Path, config: TaskConfig) -> TaskResult | None:
    """A previous ok result of the same resolved config, if any (resumed runs skip it)."""
    if not path.is_file():
        return None
    try:
        previous = read_result(path)
    except Exception:
        return None
    same = previous.task.get("config_sha256") == config.config_hash()
    return previous if same and previous.status == "ok" else None


class RepresentationStore:
    """Representations of (probe set, language, modality), from memory, the disk cache, or the model."""

    def __init__(self, adapter: ModelAdapter, opts: RunOptions):
        from benchmark.models.offline import cache_root

        self.adapter = adapter
        self.opts = opts
        self.cache = RepresentationCache(
            Path(opts.cache_dir) if opts.cache_dir else cache_root() / "representations"
        )
        self.extraction_seconds = 0.0
        self._memory: dict[str, Representations] = {}
        self._probes: dict[ProbeSpec, ProbeSet] = {}

    def probes(self, config_probes) -> ProbeSet:
        spec = ProbeSpec(
            source=config_probes.source,
            languages=tuple(config_probes.languages) if config_probes.languages else None,
            split=config_probes.split,
            n=config_probes.n,
            seed=config_probes.seed,
            reading=config_probes.reading,
            repo=config_probes.repo,
        )
        if spec not in self._probes:
            self._probes[spec] = load_probes(spec)
        return self._probes[spec]

    def key_fields(self, probes: ProbeSet, lang: str, modality: Modality, pooling: str) -> dict:
        resolved = self.adapter.resolved
        described = probes.describe()
        return {
            "model": self.opts.model,
            "revision": resolved.revision,
            "weights_sha256": resolved.weights_sha256,
            "adapter": dataclasses.asdict(self.adapter.info),
            "probes": probes.name,
            "probes_revision": probes.revision,
            "ids_sha256": described["ids_sha256"],
            "reading": described["reading"],
            "language": lang,
            "modality": modality,
            "pooling": pooling,
        }

    def get(
        self,
        probes: ProbeSet,
        lang: str,
        modality: Modality,
        pooling: str = "mean",
        layers: str | list[str] = "all",
    ) -> Representations:
        fields = self.key_fields(probes, lang, modality, pooling)
        key = cache_key(fields)
        reps = self._memory.get(key)
        if reps is None and not self.opts.overwrite:
            reps = self.cache.load(key)
        if reps is None:
            clock = time.perf_counter()
            if modality == "text":
                inputs, lengths = probes.texts(lang), probes.text_lengths(lang)
            else:
                inputs, lengths = probes.audio(lang), probes.durations(lang)
            reps = extract(
                self.adapter,
                modality,
                lang,
                inputs,
                lengths,
                pooling=pooling,
                batch_size=self.opts.batch_size,
                ids=probes.ids,
                progress=self.opts.progress,
            )
            self.cache.save(key, reps, fields)
            self.extraction_seconds += time.perf_counter() - clock
        self._memory[key] = reps
        return select_layers(reps, layers)


def select_layers(reps: Representations, layers: str | list[str]) -> Representations:
    if layers == "all":
        return reps
    unknown = [name for name in layers if name not in reps.layers]
    if unknown:
        raise ValueError(
            f"Unknown layer(s) {unknown} in the task's `layers`; this model has {reps.layers}."
        )
    index = [reps.layers.index(name) for name in layers]
    return Representations(layers=list(layers), ids=reps.ids, array=reps.array[index])

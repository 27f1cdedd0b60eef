"""Synthetic but valid results (the shared schema, no model): for tests and the scale benchmark.

`synthetic_result` makes a `TaskResult` with per-layer curves (value, interval, null) for each
modality group, language x language matrices at every layer, and a best-layer main score. The
numbers are smooth random curves, not measurements.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any

from benchmark.core import Group
from benchmark.results import (
    Curve,
    CurvePoint,
    Inference,
    LayerChoice,
    MainScore,
    Matrix,
    ModelRecord,
    ProbesRecord,
    RunRecord,
    TaskRecord,
    TaskResult,
    result_key,
)
from benchmark.results.keys import (
    config_sha256,
    model_key_fields,
    probes_key_fields,
    task_key_fields,
)

LANGUAGES = ["en_us", "de_de", "es_419", "ru_ru", "hi_in", "cmn_hans_cn"]


def _sha(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def task_config(
    name: str,
    kind: str | None = None,
    modalities: tuple[str, ...] = ("text",),
    score_name: str | None = None,
    measure: str = "svcca",
    group: str | None = None,
    description: str = "",
) -> dict:
    return {
        "name": name,
        "version": 1,
        "kind": kind or name,
        "description": description or f"synthetic task {name}",
        "modalities": list(modalities),
        "probes": {"source": "concepts", "languages": LANGUAGES, "n": 200, "seed": 0},
        "metric": {"measures": ["svcca", "cka"], "svcca_k": 10},
        "main_score": {
            "name": score_name or f"{name}_{measure}",
            "measure": measure,
            "group": group,
            "layer": "best",
        },
    }


def _group_label(group: Any) -> str | None:
    """A task's `main_score.group`: a label, or a mapping of fields (the structured key)."""
    if isinstance(group, dict):
        return Group.of(**group).label
    return group


def synthetic_result(
    model: str,
    config: dict,
    *,
    seed: int = 0,
    revision: str | None = None,
    settings: dict | None = None,
    init: str = "pretrained",
    model_modalities: tuple[str, ...] = ("speech", "text"),
    n_layers: int = 12,
    started: datetime | None = None,
    languages: list[str] | None = None,
) -> TaskResult:
    rng = random.Random(_sha(model, config["name"], seed, init))
    revision = revision or _sha(model)[:40]
    settings = dict(settings or {})
    languages = list(languages or config.get("probes", {}).get("languages") or LANGUAGES)
    modalities = list(config.get("modalities") or ["text"])
    started = started or datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=seed)
    model_record = ModelRecord(
        id=model,
        revision=revision,
        origin="hub",
        weights_sha256=_sha("weights", model, revision),
        family="synthetic",
        adapter_version="1",
        settings=settings,
        init=init,
        modalities=list(model_modalities),
        n_parameters=rng.choice([22, 39, 74, 118, 244, 769, 1550]) * 10**6,
    )
    task = TaskRecord(
        name=config["name"],
        version=config.get("version", 1),
        kind=config.get("kind", config["name"]),
        config=config,
        config_sha256=config_sha256(config),
    )
    run = RunRecord(
        started=started.isoformat(),
        seconds_total=1.0,
        command=f"interlingua run --model {model} --tasks {config['name']}",
    )
    # the key the content gives, as every reader checks it (benchmark.results.keys)
    keyed = model_key_fields(model_record), task_key_fields(task)
    common = {"key": result_key(*keyed, {}), "task": task, "model": model_record, "run": run}
    missing = [m for m in modalities if m not in model_modalities]
    if missing:
        reason = (
            f"model takes {', '.join(model_modalities)}; task {config['name']!r} needs {missing}"
        )
        return TaskResult(status="not_applicable", reason=reason, **common)

    ms_cfg = config.get("main_score", {})
    measure = ms_cfg.get("measure", "svcca")
    groups = (
        modalities if len(modalities) == 1 else ["same_language", "cross_language", *modalities]
    )
    main_group = _group_label(ms_cfg.get("group")) or groups[0]
    groups = groups if main_group in groups else [main_group, *groups]
    layers = ["embeddings"] + [f"layer_{i}" for i in range(1, n_layers + 1)]
    control = init != "pretrained"
    peak, height = rng.uniform(0.3, 0.9), (0.05 if control else rng.uniform(0.15, 0.45))
    null_level = rng.uniform(0.3, 0.4)
    curves, matrices = [], []
    for m in dict.fromkeys((measure, "cka")):
        for g in groups:
            offset = rng.uniform(-0.05, 0.05)
            points = []
            for i, layer in enumerate(layers):
                depth = i / n_layers
                bump = height * max(0.0, 1 - ((depth - peak) / 0.45) ** 2)
                value = min(0.99, null_level + 0.05 + offset + bump + rng.gauss(0, 0.01))
                half = rng.uniform(0.02, 0.05)
                points.append(
                    CurvePoint(
                        layer=layer,
                        depth=round(depth, 4),
                        value=value,
                        ci_low=value - half,
                        ci_high=value + half,
                        null_mean=null_level,
                        null_q95=null_level + 0.04,
                        p_value=0.01 if bump > 0.05 else 0.4,
                    )
                )
            curves.append(Curve(measure=m, group=g, modalities=modalities, points=points))
            if g == main_group:
                for p in points:
                    values = [
                        [
                            1.0 if a == b else min(1.0, p.value + rng.gauss(0, 0.03))
                            for b in languages
                        ]
                        for a in languages
                    ]
                    matrices.append(
                        Matrix(
                            name=f"{m}/{g}/{p.layer}",
                            measure=m,
                            group=g,
                            layer=p.layer,
                            rows=languages,
                            columns=languages,
                            values=values,
                        )
                    )
    main_curve = next(c for c in curves if c.measure == measure and c.group == main_group)
    best = max(main_curve.points, key=lambda p: p.value or 0)
    main = MainScore(
        name=ms_cfg.get("name", f"{config['name']}_{measure}"),
        measure=measure,
        group=main_group,
        modalities=modalities,
        value=best.value,
        ci_low=best.ci_low,
        ci_high=best.ci_high,
        null_mean=null_level + 0.02,
        null_sd=0.01,
        null_q95=null_level + 0.05,
        p_value=best.p_value,
        layer=LayerChoice(rule="best", layer=best.layer, depth=best.depth, selection="max"),
        inference=Inference(
            null_method="permutation of the sentence pairing",
            n_null=100,
            ci_method="subsample",
            ci_level=0.95,
            n_resamples=100,
        ),
    )
    probes = ProbesRecord(
        name="concepts",
        revision="sha256:synthetic",
        languages=languages,
        n=config.get("probes", {}).get("n") or 200,
        ids_sha256=_sha("ids", languages),
    )
    common["key"] = result_key(*keyed, probes_key_fields(probes))
    return TaskResult(
        status="ok",
        probes=probes,
        main_score=main,
        curves=curves,
        matrices=matrices,
        notes=["synthetic result (leaderboard.synthetic): not a measurement"],
        **common,
    )

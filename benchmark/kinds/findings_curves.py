"""The similarities the findings kind reads: SVCCA of language pairs within each modality and of
speech vs text of the same language, per layer, from the cached sentence vectors (the gap tasks'
entries) with the gap kinds' machinery (length regressed out, k fitted to n, every pair on the
same permutations and half-samples: benchmark.kinds.gaps)."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark.errors import InterlinguaError
from benchmark.kinds import TaskContext
from benchmark.kinds.pair_scoring import pair_scores
from benchmark.layers import LayerAxis, paired_axis
from benchmark.metrics.statistics import Estimate, mean_of


@dataclass
class Curves:
    """Per-pair SVCCA estimates over a layer axis (a stack's layers, or two stacks paired by
    depth: `aligned` holds each point's (speech layer, text layer))."""

    axis: LayerAxis
    pairs: dict[tuple, list[Estimate]]
    aligned: list[tuple[str, str]] = field(default_factory=list)


def pair_key(modality: str, a: str, b: str, languages: list[str]) -> tuple:
    """One key per unordered language pair: the earlier language (probe order) first."""
    a, b = sorted((a, b), key=languages.index)
    return ((modality, a), (modality, b))


def cross_key(language: str) -> tuple:
    return (("speech", language), ("text", language))


def _within_pairs(ctx: TaskContext, every: bool) -> list[tuple[str, str]]:
    """Every language pair, or only the pivot's (all the resource claim needs)."""
    languages, pivot = list(ctx.probes.languages), ctx.params.pivot
    if every:
        return [(a, b) for i, a in enumerate(languages) for b in languages[i + 1 :]]
    return [(pivot, x) for x in languages if x != pivot] if pivot in languages else []


def readable(ctx: TaskContext) -> tuple[dict, dict[str, str]]:
    """Every language's sentence vectors per modality, and the modalities the model could not
    read in some language, with why (e.g. Whisper's decoder holds 443 tokens, and a UDHR
    paragraph in Georgian script is 1,089): the claims that need them are not applicable."""
    reps: dict = {}
    unreadable: dict[str, str] = {}
    for m in ctx.modalities:
        failed = {}
        for x in ctx.probes.languages:
            try:
                reps.setdefault(m, {})[x] = ctx.reps.pooled(x, m)
            except ValueError as err:
                if isinstance(err, InterlinguaError):  # the user's setting: said as it is
                    raise
                failed[x] = str(err)
        if failed:
            reps.pop(m, None)
            first = next(iter(failed.values()))
            unreadable[m] = (
                f"the model cannot read the {m} of {len(failed)} of the probes' languages "
                f"({', '.join(failed)}): {first}"
            )
    return reps, unreadable


def similarities(ctx: TaskContext, reps: dict) -> dict[str, Curves]:
    """SVCCA of the pairs the asked claims read, per layer: `text` and `speech` (language pairs
    within the modality, on its stack's layers) and `cross` (speech vs text of the same
    language, the two stacks paired by depth). `reps`: the readable modalities' vectors."""
    params = ctx.params
    languages = list(ctx.probes.languages)
    layers = {m: list(reps[m][languages[0]].layers) for m in reps}

    def states(m: str, layer: str) -> dict:
        return {(m, x): reps[m][x].layer(layer) for x in languages}

    every = bool({"convergence", "hub_depth", "speech_language_gap"} & set(params.claims))
    out: dict[str, Curves] = {}
    for m in reps:
        pairs = [pair_key(m, a, b, languages) for a, b in _within_pairs(ctx, every)]
        if not pairs:
            continue
        per_layer = [
            pair_scores(ctx, states(m, layer), pairs, ["svcca"])["svcca"] for layer in layers[m]
        ]
        out[m] = Curves(LayerAxis.of(layers[m]), {p: [e[p] for e in per_layer] for p in pairs})
    if {"speech", "text"} <= set(reps):
        axis, aligned = paired_axis("speech", layers["speech"], "text", layers["text"])
        pairs = [cross_key(x) for x in languages]
        per_point = [
            pair_scores(ctx, {**states("speech", s), **states("text", t)}, pairs, ["svcca"])[
                "svcca"
            ]
            for s, t in aligned
        ]
        out["cross"] = Curves(axis, {p: [e[p] for e in per_point] for p in pairs}, aligned)
    return out


def mean_curve(curves: Curves, pairs: list[tuple]) -> list[Estimate]:
    """The mean over pairs at every layer, draw by draw."""
    return [mean_of([curves.pairs[p][i] for p in pairs]) for i in range(len(curves.axis))]


def on_cross_axis(curve: list[Estimate], own: Curves, cross: Curves, modality: str) -> list:
    """A curve of one stack read at the cross axis's points (their layer of that stack)."""
    side = 0 if modality == "speech" else 1
    names = list(own.axis.names)
    return [curve[names.index(pair[side])] for pair in cross.aligned]


def similarity_curves(ctx: TaskContext, sims: dict[str, Curves]) -> dict[str, tuple]:
    """The three similarities the claims read, each (curve, axis): cross-lingual per modality
    (mean over every language pair) and cross-modal (mean over languages)."""
    out = {}
    for m in ("text", "speech"):
        if m in sims and len(ctx.probes.languages) > 1 and _has_every_pair(ctx, sims[m]):
            out[f"cross_lingual_{m}"] = (mean_curve(sims[m], list(sims[m].pairs)), sims[m].axis)
    if "cross" in sims:
        out["cross_modal"] = (
            mean_curve(sims["cross"], list(sims["cross"].pairs)),
            sims["cross"].axis,
        )
    return out


def _has_every_pair(ctx: TaskContext, curves: Curves) -> bool:
    n = len(ctx.probes.languages)
    return len(curves.pairs) == n * (n - 1) // 2

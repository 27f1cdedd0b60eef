"""The findings kind's claims: each read from the similarity curves as a statistic with its
interval and verdict (benchmark.kinds.findings_stats), recorded as a finding and as series for the
evaluator. Sources, statistics and the verdict rule: docs/tasks/findings.md."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark.core import Group
from benchmark.evaluation import Measure, Series
from benchmark.kinds import TaskContext
from benchmark.kinds import findings_concepts as concepts
from benchmark.kinds import findings_stats as fs
from benchmark.kinds.findings_curves import Curves, cross_key, mean_curve, on_cross_axis, pair_key
from benchmark.layers import LayerAxis
from benchmark.metrics.statistics import Estimate, Inference, mean_of
from benchmark.probes.resources import SOURCE as RESOURCE_SOURCE
from benchmark.probes.resources import classify, resource_classes

SVCCA_STUDY = (
    "How do Multimodal Foundation Models Encode Text and Speech? An Analysis of Cross-Lingual "
    "and Cross-Modal Representations (NAACL 2025)"
)
HUB_STUDY = "The Semantic Hub Hypothesis (ICLR 2025)"
LCA_STUDY = "From Words to Waves (Interspeech 2025)"
SIGNIFICANCE = 0.05
LABELS = {
    "cross_lingual_text": "cross-lingual, text",
    "cross_lingual_speech": "cross-lingual, speech",
    "cross_modal": "cross-modal, same language",
}
GAPS = {
    "language_gap_text": "language gap, text",
    "language_gap_speech": "language gap, speech",
    "modality_gap": "modality gap",
}


@dataclass(frozen=True)
class Claim:
    id: str
    label: str
    source: str
    statistic: str


@dataclass
class Reader:
    """What every claim reads (the task, its similarity curves) and what they produce: one
    finding per claim and the series the evaluator turns into curves."""

    ctx: TaskContext
    sims: dict[str, Curves]
    curves: dict[str, tuple[list[Estimate], LayerAxis]]
    unreadable: dict[str, str] = field(default_factory=dict)  # modality -> why it is missing
    findings: list[dict] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)

    @property
    def params(self):
        return self.ctx.params

    def inference(self, bounds: tuple[float, float] | None) -> Inference:
        p = self.params
        return Inference(p.ci_method, p.ci_level, len(self.ctx.probes.ids), bounds)

    def record(self, claim: Claim, summary: dict | None, verdict: str, reason, **extra) -> dict:
        summary = summary or {"value": None, "ci_low": None, "ci_high": None}
        found = {
            "claim": claim.id,
            "label": claim.label,
            "source": claim.source,
            "statistic": claim.statistic,
            **{k: _round(summary[k]) for k in ("value", "ci_low", "ci_high")},
            "verdict": verdict,
            "reason": reason,
            **extra,
        }
        self.findings.append(found)
        return found

    def not_applicable(self, claim: Claim, reason: str) -> None:
        self.record(claim, None, fs.NOT_APPLICABLE, reason)

    def point(self, claim: Claim, measure: Measure, est: Estimate, depth: float, modalities):
        """A single-value claim as a series on a one-point axis (at the depth it was read)."""
        axis = LayerAxis.of([measure.name], [depth])
        self.series.append(Series(Group.of(claim=claim.id), measure, axis, [est], modalities))


def _round(v):
    return None if v is None else round(float(v), 6)


DIFFERENCE = (-1.0, 1.0)  # a difference of two similarities in [0, 1]


def _difference(name: str) -> Measure:
    return Measure(name, bounds=DIFFERENCE)


def missing_reason(reader: Reader, name: str) -> str:
    """Why a similarity cannot be read for this model and probe set."""
    have = reader.ctx.modalities
    needed = [m for m in ("speech", "text") if m in name or name == "cross_modal"]
    absent = [m for m in needed if m not in have]
    if absent:
        return f"the model takes {', '.join(have)}; this needs {' and '.join(needed)}"
    for m in needed:
        if m in reader.unreadable:
            return reader.unreadable[m]
    if len(reader.ctx.probes.languages) < 2:
        return "the probes hold one language; a cross-lingual similarity needs two"
    return "not computed for this task's claims"


# --- convergence and the hub depth ---------------------------------------------------------------


def convergence(r: Reader) -> None:
    for name, label in LABELS.items():
        claim = Claim(
            f"convergence.{name}",
            f"Converges with depth ({label})",
            f"{SVCCA_STUDY}, claim 1: representations of the same meaning converge with depth",
            "mean SVCCA over the last third of the stack minus the first third",
        )
        if name not in r.curves:
            r.not_applicable(claim, missing_reason(r, name))
            continue
        curve, axis = r.curves[name]
        early, late = fs.third_means(curve, axis.depths)
        stat = fs.difference(late, early)
        s = fs.interval(stat, r.inference(DIFFERENCE))
        bounded = r.inference((0.0, 1.0))
        e, last = fs.interval(early, bounded), fs.interval(late, bounded)
        if e["ci_high"] is not None and e["ci_high"] >= 1 - r.params.min_gap:
            verdict, reason = (
                fs.INCONCLUSIVE,
                f"no gap to close: the first third's similarity reaches {e['ci_high']:.3f} "
                f"(within metric.min_gap={r.params.min_gap:g} of 1)",
            )
        else:
            verdict, reason = fs.verdict(s, r.params.min_effect)
        slope = fs.interval(fs.slope(curve, axis.depths), r.inference(None))
        r.record(
            claim, s, verdict, reason, similarity=name, first_third=e, last_third=last, slope=slope
        )
        r.point(claim, _difference("last_minus_first_third"), stat, 1.0, _modalities(name))


def hub_depth(r: Reader) -> None:
    for name, label in LABELS.items():
        claim = Claim(
            f"hub_depth.{name}",
            f"Hub inside the stack ({label})",
            f"{HUB_STUDY}: a hub depth, middle layers where languages (and modalities) are most "
            "alike",
            "relative depth of the maximum SVCCA (found again within every replicate); the claim: "
            "it lies inside the stack, not at its first or last layer",
        )
        if name not in r.curves:
            r.not_applicable(claim, missing_reason(r, name))
            continue
        curve, axis = r.curves[name]
        est = fs.peak_depth(curve, axis.depths)
        s = fs.interval(est, r.inference((0.0, 1.0)))
        p = fs.peak_p_value(curve)
        peak = max(e.value for e in curve)
        if s["value"] is None:
            verdict, reason = fs.INCONCLUSIVE, "the maximum is tied between layers: none stands out"
        elif p is not None and p >= SIGNIFICANCE:
            verdict, reason = (
                fs.INCONCLUSIVE,
                f"the peak similarity {peak:.3f} does not clear its null (p = {p:.3f}): no hub "
                "to locate",
            )
        else:
            verdict, reason = fs.interior_verdict(s, axis.depths)
        r.record(
            claim,
            s,
            verdict,
            reason,
            similarity=name,
            depth=s["value"],
            peak=_round(peak),
            p_value=p,
        )
        if s["value"] is not None:
            r.point(claim, Measure("hub_depth"), est, s["value"], _modalities(name))


def _modalities(name: str) -> tuple[str, ...]:
    return ("speech", "text") if name == "cross_modal" else (name.rsplit("_", 1)[1],)


# --- comparisons of two similarities -------------------------------------------------------------


def compare(r: Reader, claim: Claim, arms: dict, axis: LayerAxis, measure: str, modalities):
    """The claim "gap of b - gap of a > min_effect" for arms {name_a: a, name_b: b} (similarity
    curves on `axis`), i.e. similarity a - similarity b, per layer and at the hub depth (where a
    and b are jointly highest, found again within every replicate). Inconclusive when neither
    similarity clears its null there. Returns the finding and the hub's index."""
    (name_a, a), (name_b, b) = arms.items()
    diff = fs.differences(a, b)
    joint = [mean_of([x, y]) for x, y in zip(a, b, strict=True)]
    stat, hub = fs.read_at_peak(diff, joint)
    s = fs.interval(stat, r.inference(DIFFERENCE))
    pa, pb = fs.p_at(a, hub), fs.p_at(b, hub)
    if pa is not None and pb is not None and min(pa, pb) >= SIGNIFICANCE:
        verdict, reason = (
            fs.INCONCLUSIVE,
            f"neither similarity clears its null at the hub depth (p = {pa:.3f}, {pb:.3f}): no "
            "sentence structure to compare",
        )
    else:
        verdict, reason = fs.verdict(s, r.params.min_effect)
    bounded = r.inference((0.0, 1.0))
    found = r.record(
        claim,
        s,
        verdict,
        reason,
        depth=axis.depths[hub],
        layer=axis.names[hub],
        arms={
            name_a: {**fs.interval(a[hub], bounded), "p_value": pa},
            name_b: {**fs.interval(b[hub], bounded), "p_value": pb},
        },
    )
    group = Group.of(claim=claim.id)
    r.series.append(Series(group, _difference(measure), axis, diff, modalities))
    r.point(claim, _difference(f"{measure}_at_hub"), stat, axis.depths[hub], modalities)
    return found, hub


def modality_gap(r: Reader) -> None:
    pivot = r.params.pivot
    claim = Claim(
        "modality_gap_exceeds_language_gap",
        "Modality gap exceeds language gap",
        f"{SVCCA_STUDY}, claim 2: the modality gap is larger than the language gap",
        f"(1 - SVCCA(text_X, speech_X)) - (1 - SVCCA(text_{pivot}, text_X)), mean over the "
        f"languages X other than {pivot}, at the hub depth",
    )
    languages = list(r.ctx.probes.languages)
    others = [x for x in languages if x != pivot]
    if "cross" not in r.sims or "text" not in r.sims:
        r.not_applicable(claim, missing_reason(r, "cross_modal"))
        return
    if pivot not in languages or not others:
        r.not_applicable(claim, f"metric.pivot {pivot} and another language must be in the probes")
        return
    text, cross = r.sims["text"], r.sims["cross"]
    language = mean_curve(text, [pair_key("text", pivot, x, languages) for x in others])
    language = on_cross_axis(language, text, cross, "text")
    modality = mean_curve(cross, [cross_key(x) for x in others])
    arms = {"language_similarity": language, "modality_similarity": modality}
    compare(r, claim, arms, cross.axis, "modality_minus_language_gap", ("speech", "text"))


def speech_language_gap(r: Reader) -> None:
    claim = Claim(
        "speech_language_gap_exceeds_text",
        "Language gap wider for speech than for text",
        f"{SVCCA_STUDY}, claim 3: the language gap is wider for speech than for text",
        "(1 - SVCCA between languages, speech) - (1 - SVCCA between languages, text), means over "
        "every language pair, at the hub depth",
    )
    names = ("cross_lingual_text", "cross_lingual_speech")
    if "cross" not in r.sims or any(n not in r.curves for n in names):
        missing = next((n for n in names if n not in r.curves), "cross_modal")
        r.not_applicable(claim, missing_reason(r, missing))
        return
    cross = r.sims["cross"]
    text = on_cross_axis(r.curves["cross_lingual_text"][0], r.sims["text"], cross, "text")
    speech = on_cross_axis(r.curves["cross_lingual_speech"][0], r.sims["speech"], cross, "speech")
    arms = {"text_similarity": text, "speech_similarity": speech}
    compare(r, claim, arms, cross.axis, "speech_minus_text_language_gap", ("speech", "text"))


# --- per-language gaps against the languages' resources ----------------------------------------


def _gap_curves(r: Reader, gap: str, candidates: list[str]) -> tuple[dict, LayerAxis] | None:
    """Per language, the similarity whose complement is the gap (pivot vs X within a modality,
    or speech vs text of X), on its axis; None when it was not computed."""
    languages, pivot = list(r.ctx.probes.languages), r.params.pivot
    if gap == "modality_gap":
        cross = r.sims.get("cross")
        return (
            None
            if cross is None
            else ({x: cross.pairs[cross_key(x)] for x in candidates}, cross.axis)
        )
    m = gap.rsplit("_", 1)[1]
    curves = r.sims.get(m)
    if curves is None or pivot not in languages:
        return None
    return {x: curves.pairs[pair_key(m, pivot, x, languages)] for x in candidates}, curves.axis


def resource(r: Reader) -> None:
    settings, pivot = r.params.resource, r.params.pivot
    low, high = f"0-{settings.low_max}", f"{settings.high_min}-5"
    for gap, label in GAPS.items():
        claim = Claim(
            f"resource.{gap}",
            f"Wider {label} for low-resource languages",
            f"{SVCCA_STUDY}, claim 4 (length adaptation closes the modality gap mainly for "
            "high-resource languages), read per model: are the gaps wider for low-resource "
            f"languages? Classes: {RESOURCE_SOURCE}",
            f"mean {label} (1 - SVCCA) of the low-resource languages (classes {low}) minus that "
            f"of the high-resource ones (classes {high}), at the hub depth",
        )
        candidates = [x for x in r.ctx.probes.languages if gap == "modality_gap" or x != pivot]
        groups = classify(candidates, settings.low_max, settings.high_min)
        curves = _gap_curves(r, gap, candidates)
        if curves is None:
            need = (
                "cross_modal" if gap == "modality_gap" else f"cross_lingual_{gap.rsplit('_', 1)[1]}"
            )
            r.not_applicable(claim, missing_reason(r, need))
            continue
        if min(len(groups["low"]), len(groups["high"])) < settings.min_languages:
            r.not_applicable(
                claim,
                f"the probes hold {len(groups['low'])} low-resource (classes {low}) and "
                f"{len(groups['high'])} high-resource (classes {high}) languages"
                + ("" if gap == "modality_gap" else f" besides the pivot {pivot}")
                + f"; the claim needs {settings.min_languages} of each (the udhr probes have 37 "
                "languages: task findings_udhr)",
            )
            continue
        per_language, axis = curves
        arms = {
            "high_resource_similarity": mean_of_curves([per_language[x] for x in groups["high"]]),
            "low_resource_similarity": mean_of_curves([per_language[x] for x in groups["low"]]),
        }
        modalities = ("speech", "text") if gap == "modality_gap" else (gap.rsplit("_", 1)[1],)
        found, hub = compare(r, claim, arms, axis, "low_minus_high_resource_gap", modalities)
        found["languages"] = _per_language(per_language, hub, groups)


def mean_of_curves(curves: list[list[Estimate]]) -> list[Estimate]:
    return [mean_of([c[i] for c in curves]) for i in range(len(curves[0]))]


def _per_language(per_language: dict, hub: int, groups: dict) -> dict:
    """Each language's class and gap at the hub depth, and the languages left out."""
    classes = resource_classes()
    return {
        "gaps_at_hub": {
            x: {"class": classes.get(x), "gap": _round(1 - curve[hub].value)}
            for x, curve in per_language.items()
        },
        "low": groups["low"],
        "high": groups["high"],
        "middle": groups["middle"],
        "unclassified": groups["unclassified"],
    }


# --- concept coherence ---------------------------------------------------------------------------


def concept_coherence(r: Reader) -> None:
    claim = Claim(
        "concept_coherence_text_exceeds_speech",
        "Concepts less coherent in speech than in text",
        f"{LCA_STUDY}: speech models form concepts, but less coherent than text models",
        "best-layer concept alignment score of written words minus that of the same words "
        "spoken (Ward clusters per layer; the concept tasks' settings)",
    )
    if not {"text", "speech"} <= set(r.ctx.modalities) - set(r.unreadable):
        r.not_applicable(claim, missing_reason(r, "cross_modal"))
        return
    if not concepts.has_labelled_words(r.ctx.probes):
        r.not_applicable(claim, f"probe set {r.ctx.probes.name!r} has no concept-labelled words")
        return
    c = concepts.coherence(r.ctx, r.params.concepts)
    s = fs.interval(c["difference"], r.inference(DIFFERENCE))
    ps = [c[m]["p_value"] for m in ("text", "speech")]
    if None not in ps and min(ps) >= SIGNIFICANCE:
        verdict, reason = (
            fs.INCONCLUSIVE,
            f"neither modality's concept alignment clears its null (p = {ps[0]:.3f}, {ps[1]:.3f})",
        )
    else:
        verdict, reason = fs.verdict(s, r.params.min_effect)
    bounded = r.inference((0.0, 1.0))
    arms = {
        f"{m}_alignment": {
            **fs.interval(c[m]["best"], bounded),
            "layer": c[m]["layer"],
            "p_value": c[m]["p_value"],
        }
        for m in ("text", "speech")
    }
    r.record(claim, s, verdict, reason, arms=arms, points=c["points"], concepts=c["concepts"])
    for m in ("text", "speech"):
        axis = LayerAxis.of(c[m]["layers"])
        group = Group.of(concepts=m)
        r.series.append(Series(group, Measure("alignment_score"), axis, c[m]["curve"], (m,)))
    r.point(
        claim, _difference("text_minus_speech_alignment"), c["difference"], 1.0, ("speech", "text")
    )


CLAIMS = {
    "convergence": convergence,
    "modality_gap": modality_gap,
    "speech_language_gap": speech_language_gap,
    "hub_depth": hub_depth,
    "resource": resource,
    "concept_coherence": concept_coherence,
}

"""Constructed representations whose findings are known, for the findings kind's tests and the
findings page's: an interlingua (one vector per sentence in every language and modality at every
layer), a language-only model (one vector per language, nothing about the sentence) and a
converging model (meaning grows with depth to a peak inside the stack; speech carries a signal of
its own). Stable seeds: the same data in every process."""

import numpy as np
from kind_fixtures import context, probe_set, stable_seed

from benchmark.kinds import get_kind
from benchmark.representations import Representations
from benchmark.representations.words import WordRepresentations

LANGS = ["en_us", "de_de", "es_419"]
N, D, CONCEPTS = 64, 40, 12
LAYERS = ["embeddings"] + [f"layer_{i}" for i in range(1, 7)]
# the converging model's share of the sentence's meaning per layer: a peak at layer_4
SIGNAL = [0.05, 0.15, 0.3, 0.5, 0.8, 0.55, 0.45]
WORDS = {
    lang: [
        [
            {
                "word": f"{lang}-{(2 * i + j) % CONCEPTS}",  # one form per concept and language
                "label": f"C.{(2 * i + j) % CONCEPTS}",
                "char_start": 0,
                "char_end": 1,
                "start_s": 0.1,
                "end_s": 0.3,
            }
            for j in range(2)
        ]
        for i in range(N)
    ]
    for lang in LANGS
}
MAIN = {"name": "findings", "measure": "claims_holding", "layer": "last"}


def meaning() -> np.ndarray:
    return np.random.default_rng(stable_seed("meaning")).normal(size=(N, 8))


def _stack(per_layer) -> Representations:
    return Representations(LAYERS, list(range(N)), np.stack(per_layer))


def interlingua(lang, modality):
    """Every sentence one vector in every language and modality, the same at every layer (plus
    a trace of noise, as the reference model has)."""
    shared = meaning() @ np.random.default_rng(stable_seed("mix")).normal(size=(8, D))
    noise = np.random.default_rng(stable_seed("i", lang, modality)).normal(size=(N, D))
    return _stack([shared + 0.05 * noise] * len(LAYERS))


def language_only(lang, modality):
    """One vector per language, and noise per item: nothing about the sentence."""
    rng = np.random.default_rng(stable_seed("l", lang, modality))
    x = np.random.default_rng(stable_seed("lang", lang)).normal(size=D) + rng.normal(size=(N, D))
    return _stack([x] * len(LAYERS))


def converging(lang, modality):
    """Meaning grows with depth to a peak inside the stack (SIGNAL), over noise; speech also
    carries a structured signal of its own in every language (think voice and prosody), so its
    language gap is wider than text's and its gap to text wider than text's between languages."""
    rng = np.random.default_rng(stable_seed("c", lang, modality))
    own = rng.normal(size=(N, 8))
    arrays = []
    for w in SIGNAL:
        x = w * meaning() @ rng.normal(size=(8, D)) + (1 - w) * 3 * rng.normal(size=(N, D))
        if modality == "speech":
            x = x + 0.5 * own @ rng.normal(size=(8, D))
        arrays.append(x)
    return _stack(arrays)


def concept_words(spoken_weight: float, shared: bool = True):
    """Each labelled word its concept's vector plus noise; spoken words carry `spoken_weight` of
    it. shared=False: one vector per language instead (no concept)."""
    centres = np.random.default_rng(stable_seed("concepts")).normal(size=(CONCEPTS, D)) * 4

    def words(lang, modality, aggregation):
        rng = np.random.default_rng(stable_seed("w", lang, modality))
        labels = [int(w["label"].split(".")[1]) for ws in WORDS[lang] for w in ws]
        weight = spoken_weight if modality == "speech" else 1.0
        if shared:
            x = weight * centres[labels] + rng.normal(size=(len(labels), D))
        else:
            x = np.random.default_rng(stable_seed("wl", lang)).normal(size=D) * 4 + rng.normal(
                size=(len(labels), D)
            )
        item = np.repeat(np.arange(N), 2)
        return WordRepresentations(LAYERS, list(range(N)), item, np.stack([x] * len(LAYERS)))

    return words


def run(reps, words, available=("text", "speech"), **metric):
    probes = probe_set(LANGS, N, words=WORDS)
    settings = {"svcca_k": 6, "length_control": "none", "concepts": {"clusters": CONCEPTS}}
    ctx = context(
        "findings",
        probes,
        reps,
        ["text", "speech"],
        MAIN,
        available=list(available),
        words=words,
        **{**settings, **metric},
    )
    return get_kind("findings").score(ctx)


def verdicts(out) -> dict[str, str]:
    return {f["claim"]: f["verdict"] for f in out.details["findings"]}


FINDINGS_TASK = {
    "name": "findings",
    "version": 1,
    "kind": "findings",
    "description": "the source studies' claims per model",
    "modalities": ["text", "speech"],
    "probes": {"source": "concepts", "languages": LANGS, "n": N, "seed": 0},
    "metric": {"svcca_k": 6},
    "main_score": {"name": "findings_holding", "measure": "claims_holding", "layer": "last"},
}


def findings_result(
    model,
    reps,
    words,
    *,
    init="pretrained",
    modalities=("speech", "text"),
    settings=None,
    reference=None,
):
    """A findings result file's content as the runner writes it: the kind scored on constructed
    representations (its curves, main score and details), in a result record."""
    from leaderboard.synthetic import synthetic_result

    record = synthetic_result(
        model,
        FINDINGS_TASK,
        init=init,
        settings=settings,
        model_modalities=tuple(modalities),
        languages=LANGS,
    )
    available = [m for m in ("text", "speech") if m in modalities]
    scored = run(reps, words if "speech" in available else None, available=available)
    record.model.reference = reference
    return record.model_copy(
        update={
            "status": "ok",  # the kind needs any of its modalities: a text-only model runs
            "reason": None,
            "main_score": scored.main_score,
            "curves": scored.curves,
            "details": scored.details,
            "matrices": [],
        }
    )

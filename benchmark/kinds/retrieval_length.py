"""What length explains of a retrieval's similarities (benchmark.kinds.retrieval): each
sentence's standardised length features, and for each query the basis over the targets of what
length can explain, projected out of its row of similarities (the length-controlled scores that
gate a retrieval verdict)."""

from __future__ import annotations

import numpy as np

from benchmark.kinds.pair_scoring import length_basis
from benchmark.probes import ProbeSet, length_features


def lengths(probes: ProbeSet, lang: str, modality: str) -> np.ndarray:
    """[n, f] length features (benchmark.probes.length_features), each standardised: units
    differ across modalities."""
    f = length_features(probes, lang, modality)
    return (f - f.mean(axis=0)) / np.where(f.std(axis=0) > 0, f.std(axis=0), 1.0)


def paired_lengths(probes: ProbeSet, query: str, target: str, pair: tuple[str, str]):
    """(query features, target features) of one language pair, comparable: every standardised
    feature when both sides are of one modality, only the first of each (log characters, log
    duration) when they differ."""
    fq, ft = lengths(probes, pair[0], query), lengths(probes, pair[1], target)
    if fq.shape[1] != ft.shape[1]:
        fq, ft = fq[:, :1], ft[:, :1]
    return fq, ft


def length_bases(probes: ProbeSet, query: str, target: str, pair: tuple[str, str]) -> np.ndarray:
    """[n, n, k]: for each query (row) an orthonormal basis over the targets of what length can
    explain of its similarities — a constant, a quadratic of each target length feature (a target
    near every query), and the length distance to the query, |d| and d^2 (a target near this
    query in length). `without_length` projects a row off its basis. One per (query language,
    target language), the same at every layer. Quadratic, not cubic: every term also takes out
    some of a true translation's lead (it is the target nearest in length), and with cubics the
    word-form floor lost its verdict on one reference seed in five."""
    fq, ft = paired_lengths(probes, query, target, pair)
    n = len(ft)
    shared = np.column_stack([np.ones(n), length_basis(ft, degree=2)])  # [n targets, c]
    distance = np.linalg.norm(fq[:, None, :] - ft[None, :, :], axis=-1)  # [n queries, n targets]
    own = np.stack([distance, distance**2], axis=-1)  # [q, t, 2]
    design = np.concatenate([np.broadcast_to(shared, (n, n, shared.shape[1])), own], axis=-1)
    q, _ = np.linalg.qr(design)  # batched over queries: [q, t, k]
    return q


def without_length(sim: np.ndarray, bases: np.ndarray) -> np.ndarray:
    """Each query's row of similarities minus its least-squares fit on its length basis: what a
    model knows of a target beyond how its length relates to the query's. A model that knows only
    length then ranks its targets by noise; the same sentence, or shared words, keep their rank."""
    sim = sim.astype(np.float64)
    coef = np.einsum("qtk,qt->qk", bases, sim)
    return sim - np.einsum("qtk,qk->qt", bases, coef)

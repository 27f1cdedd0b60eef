"""Retrieval metrics: known answers, independent MTEB- / LASER-style references, nulls at chance,
replicates, ties, the length baseline and the evaluate module."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import benchmark.metrics.retrieval as rt
from benchmark.metrics.retrieval import (
    chance_level,
    cosine_similarity,
    length_baseline_estimates,
    length_similarity,
    p_value,
    query_outcomes,
    rank_table,
    retrieval_estimates,
)

MODULES = Path(rt.__file__).parent / "modules"
ALL = ("accuracy@1", "recall@5", "mrr", "mean_rank", "xsim", "xsim_absolute")


def paired(n: int, d: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(n, d))
    return q, q + noise * rng.normal(size=(n, d))


def cyclic(n: int) -> np.ndarray:
    """All n cyclic shifts: every query meets every candidate as its 'gold' exactly once."""
    return (np.arange(n)[None, :] + np.arange(n)[:, None]) % n


# ---------------------------------------------------------------------------------------------
# Independent references (plain loops, from the definitions read in MTEB and LASER)


def cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def mteb_accuracy(q: np.ndarray, t: np.ndarray) -> float:
    """MTEB BitextMiningEvaluator: each query's cosine top-1 corpus item vs gold (i, i);
    accuracy_score(labels, predictions)."""
    correct = 0
    for i in range(len(q)):
        scores = [cos(q[i], t[j]) for j in range(len(t))]
        correct += int(np.argmax(scores) == i)
    return correct / len(q)


def laser_xsim(x: np.ndarray, y: np.ndarray, k: int = 4, margin: str = "ratio") -> float:
    """LASER source/xsim.py: kNN (k) cosines both ways, their means, ratio margin for x's k
    nearest y's, best by margin; error = share of x whose best is not its own y. "absolute":
    plain cosine top-1."""
    n = len(x)
    c = [[cos(x[i], y[j]) for j in range(n)] for i in range(n)]
    err = 0
    if margin == "absolute":
        for i in range(n):
            err += int(int(np.argmax(c[i])) != i)
        return err / n
    nn_xy = [sorted(range(n), key=lambda j, i=i: -c[i][j])[:k] for i in range(n)]
    avg_x = [sum(c[i][j] for j in nn_xy[i]) / k for i in range(n)]
    avg_y = [sum(sorted((c[i][j] for i in range(n)), reverse=True)[:k]) / k for j in range(n)]
    for i in range(n):
        best, best_score = None, -math.inf
        for j in nn_xy[i]:
            score = c[i][j] / ((avg_x[i] + avg_y[j]) / 2)
            if score > best_score:
                best, best_score = j, score
        err += int(best != i)
    return err / n


# ---------------------------------------------------------------------------------------------
# Known answers


def test_identical_embeddings_retrieve_perfectly():
    q, _ = paired(50, 32, 0.0, 1)
    est = retrieval_estimates(cosine_similarity(q, q), ALL)
    for d in ("q2t", "t2q"):
        assert est[f"{d}/accuracy@1"].value == 1.0
        assert est[f"{d}/recall@5"].value == 1.0
        assert est[f"{d}/mrr"].value == 1.0
        assert est[f"{d}/mean_rank"].value == 0.0
        assert est[f"{d}/xsim"].value == 0.0
        assert est[f"{d}/xsim_absolute"].value == 0.0


def test_hub_fools_cosine_but_not_the_margin():
    """Every query leans towards one 'hub' direction c; target 0 IS c, so it is the cosine
    nearest neighbour of nearly every query. Its kNN mean is high, so the margin discounts it."""
    rng = np.random.default_rng(7)
    n, d = 40, 256
    u = rng.normal(size=(n, d))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    hub = rng.normal(size=d)
    hub /= np.linalg.norm(hub)
    q = u + 1.5 * hub
    t = u + 0.05 * rng.normal(size=(n, d))
    t[0] = hub
    q[0] = hub + 0.05 * rng.normal(size=d)
    sim = cosine_similarity(q, t)
    nearest = sim.argmax(1)
    assert (nearest == 0).mean() > 0.9  # the hub is the cosine top-1 of most queries
    est = retrieval_estimates(sim, ALL, directions=["q2t"])
    assert est["q2t/accuracy@1"].value < 0.1
    assert est["q2t/xsim_absolute"].value > 0.9
    assert est["q2t/xsim"].value == 0.0
    assert laser_xsim(q, t) == 0.0 and laser_xsim(q, t, margin="absolute") > 0.9


@pytest.mark.parametrize("seed, noise, k", [(0, 1.2, 4), (1, 1.6, 4), (2, 1.4, 2), (3, 2.0, 6)])
def test_matches_mteb_and_laser_references(seed, noise, k):
    q, t = paired(40, 24, noise, seed)
    est = retrieval_estimates(cosine_similarity(q, t), ALL, k=k)
    acc = est["q2t/accuracy@1"].value
    assert 0.05 < acc < 0.95  # an informative case, not all right or all wrong
    assert acc == pytest.approx(mteb_accuracy(q, t), abs=1e-12)
    assert est["t2q/accuracy@1"].value == pytest.approx(mteb_accuracy(t, q), abs=1e-12)
    assert est["q2t/xsim"].value == pytest.approx(laser_xsim(q, t, k), abs=1e-12)
    assert est["t2q/xsim"].value == pytest.approx(laser_xsim(t, q, k), abs=1e-12)
    absolute = laser_xsim(q, t, k, margin="absolute")
    assert est["q2t/xsim_absolute"].value == pytest.approx(absolute, abs=1e-12)


def test_rank_metrics_match_a_loop():
    q, t = paired(30, 16, 1.5, 4)
    sim = cosine_similarity(q, t)
    out = query_outcomes(sim, "q2t")
    for i in range(30):
        rank = sum(sim[i, j] > sim[i, i] for j in range(30))
        assert out["rank"][i] == rank
        assert out["rr"][i] == pytest.approx(1 / (rank + 1))
        assert out["hit@5"][i] == float(rank < 5)


def test_margin_over_all_candidates_can_differ_from_knn():
    q, t = paired(60, 8, 2.0, 5)
    sim = cosine_similarity(q, t)
    knn = retrieval_estimates(sim, ["xsim"], candidates="knn")["q2t/xsim"].value
    full = retrieval_estimates(sim, ["xsim"], candidates="all")["q2t/xsim"].value
    m = rt.margin_matrix(sim)
    assert full == pytest.approx(np.mean(m.argmax(1) != np.arange(60)), abs=1e-12)
    assert knn == pytest.approx(laser_xsim(q, t), abs=1e-12)


# ---------------------------------------------------------------------------------------------
# Ties


def test_ties_expected_and_pessimistic():
    sim = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 0.5], [0.3, 0.3, 0.3]])
    e = query_outcomes(sim, xsim=False, recall_k=2)
    assert e["hit@1"].tolist() == [0.5, 1.0, pytest.approx(1 / 3)]
    assert e["hit@2"].tolist() == [1.0, 1.0, pytest.approx(2 / 3)]
    assert e["rr"].tolist() == [0.75, 1.0, pytest.approx((1 + 1 / 2 + 1 / 3) / 3)]
    assert e["rank"].tolist() == [0.5, 0.0, 1.0]
    p = query_outcomes(sim, xsim=False, recall_k=2, ties="pessimistic")
    assert p["hit@1"].tolist() == [0.0, 1.0, 0.0]
    assert p["rank"].tolist() == [1.0, 0.0, 2.0]
    assert p["rr"].tolist() == [0.5, 1.0, pytest.approx(1 / 3)]


def test_rank_table_matches_brute_force_with_ties_and_minus_inf():
    rng = np.random.default_rng(3)
    s = rng.integers(0, 4, size=(25, 25)).astype(float)
    s[s == 0] = -np.inf
    s[1] += 1e-14  # float noise below tie_decimals still ties
    tab = rank_table(s)
    assert (tab.above == (s[:, None, :] > s[:, :, None]).sum(2)).all()
    assert (tab.tied == (s[:, None, :] == s[:, :, None]).sum(2) - 1).all()


# ---------------------------------------------------------------------------------------------
# Null and replicates


def test_null_over_all_cyclic_shifts_is_exactly_chance_even_with_ties():
    rng = np.random.default_rng(2)
    n = 30
    q, t = paired(n, 16, 1.0, 2)
    lengths = rng.integers(5, 12, size=n)  # integer lengths: many exact ties
    for sim, metrics in (
        (cosine_similarity(q, t), ALL),
        (length_similarity(lengths, lengths + rng.integers(0, 3, size=n)), ALL[:4]),
    ):
        est = retrieval_estimates(sim, metrics, permutations=cyclic(n))
        for key, e in est.items():
            assert e.null.mean() == pytest.approx(chance_level(key, n), abs=1e-12), key


def test_random_null_draws_average_to_chance():
    n, draws = 50, 400
    q, t = paired(n, 32, 0.8, 3)
    rng = np.random.default_rng(9)
    perms = np.stack([rng.permutation(n) for _ in range(draws)])
    est = retrieval_estimates(cosine_similarity(q, t), permutations=perms)
    assert est["q2t/accuracy@1"].value > 0.8  # far from the null
    for key, e in est.items():
        se = e.null.std() / math.sqrt(draws)
        assert abs(e.null.mean() - chance_level(key, n)) < 5 * se + 1e-9, key
    assert abs(est["q2t/accuracy@1"].null.mean() - 1 / n) < 0.005
    assert p_value(est["q2t/accuracy@1"], "q2t/accuracy@1") == 1 / (draws + 1)
    assert p_value(est["q2t/xsim"], "q2t/xsim") == 1 / (draws + 1)


def test_null_gathers_what_a_relabelled_recomputation_gives():
    """Null draw p equals the metric recomputed with columns reordered so perm[i] is gold."""
    n = 20
    q, t = paired(n, 12, 1.3, 6)
    sim = cosine_similarity(q, t)
    rng = np.random.default_rng(1)
    perms = np.stack([rng.permutation(n) for _ in range(5)])
    est = retrieval_estimates(sim, ALL, permutations=perms)
    for p, perm in enumerate(perms):
        again = retrieval_estimates(sim[:, perm], ALL)  # column i now holds target perm[i]
        for key in again:
            assert est[key].null[p] == pytest.approx(again[key].value, abs=1e-12), key


def test_replicates_are_weighted_means_over_queries():
    n = 40
    q, t = paired(n, 16, 1.4, 8)
    sim = cosine_similarity(q, t)
    rng = np.random.default_rng(4)
    w = (rng.random((6, n)) < 0.5).astype(float)
    w[0] = 1.0
    w[1] = np.arange(n) % 3  # general weights
    est = retrieval_estimates(sim, ALL, query_weights=w)
    for d in ("q2t", "t2q"):
        out = query_outcomes(sim, d)
        for name, key in (("hit@1", "accuracy@1"), ("rr", "mrr"), ("xsim", "xsim")):
            reps = est[f"{d}/{key}"].replicates
            assert reps[0] == pytest.approx(est[f"{d}/{key}"].value, abs=1e-12)
            want = [np.sum(row * out[name]) / row.sum() for row in w]
            assert reps == pytest.approx(want, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# Length baseline, validation, chance levels


def test_length_baseline():
    rng = np.random.default_rng(5)
    lengths = rng.permutation(np.arange(10, 60)).astype(float)  # distinct lengths
    est = length_baseline_estimates(lengths, lengths * 1.001)
    assert est["q2t/accuracy@1"].value == 1.0 and est["t2q/mrr"].value == 1.0
    same = length_baseline_estimates(np.full(50, 3.0), np.full(50, 3.0))  # length says nothing
    assert same["q2t/accuracy@1"].value == pytest.approx(1 / 50)
    assert same["q2t/recall@5"].value == pytest.approx(5 / 50)
    with pytest.raises(ValueError, match="xsim"):
        length_baseline_estimates(lengths, lengths, ["accuracy@1", "xsim"])
    with pytest.raises(ValueError, match="ratio margin undefined"):
        retrieval_estimates(length_similarity(lengths, lengths), ["xsim"])
    with pytest.raises(ValueError, match="positive"):
        length_similarity([1.0, 0.0], [1.0, 2.0])


def test_validation_errors():
    sim = cosine_similarity(*paired(10, 4, 1.0, 0))
    with pytest.raises(ValueError, match="unknown retrieval metric"):
        retrieval_estimates(sim, ["ndcg@10"])
    with pytest.raises(ValueError, match="permutation"):
        retrieval_estimates(sim, permutations=np.zeros((2, 10), dtype=int))
    with pytest.raises(ValueError, match=r"\[P, n=10\]"):
        retrieval_estimates(sim, permutations=np.zeros((2, 9), dtype=int))
    with pytest.raises(ValueError, match="zero total weight"):
        retrieval_estimates(sim, query_weights=np.zeros((1, 10)))
    with pytest.raises(ValueError, match="k \\(neighbours"):
        retrieval_estimates(sim, ["xsim"], k=11)
    with pytest.raises(ValueError, match="square"):
        retrieval_estimates(sim[:, :5])
    with pytest.raises(ValueError, match="rows"):
        cosine_similarity(np.ones((3, 2)), np.ones((4, 2)))


def test_chance_levels():
    assert chance_level("accuracy@1", 200) == 1 / 200
    assert chance_level("q2t/recall@5", 200) == 5 / 200
    assert chance_level("recall@10", 4) == 1.0
    assert chance_level("mrr", 3) == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert chance_level("xsim", 4) == 0.75


# ---------------------------------------------------------------------------------------------
# evaluate module


def test_evaluate_module_matches_retrieval(monkeypatch):
    import evaluate

    from benchmark.metrics import permutations, subsample_counts

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    n = 40
    q, t = paired(n, 12, 1.2, 11)
    lq = np.arange(n) + 5.0
    module = evaluate.load(str(MODULES / "retrieval"))
    out = module.compute(
        predictions=q.tolist(),
        references=t.tolist(),
        n_null=30,
        n_resamples=20,
        seed=3,
        query_lengths=lq.tolist(),
        target_lengths=(lq * 1.01).tolist(),
    )
    ref = retrieval_estimates(
        cosine_similarity(q, t),
        permutations=permutations(n, 30, 3).numpy(),
        query_weights=subsample_counts(n, 20, 3).numpy(),
    )
    for key, e in ref.items():
        assert out[key] == pytest.approx(e.value, abs=1e-12)
        assert out["null_mean"][key] == pytest.approx(e.null.mean(), abs=1e-12)
        assert out["chance"][key] == chance_level(key, n)
        assert out["ci_low"][key] <= e.value <= out["ci_high"][key]
    assert out["length_baseline"]["q2t/accuracy@1"] == 1.0
    assert "q2t/xsim" not in out["length_baseline"]

"""SVCCA / CKA: correctness against independent formulas, invariances, nulls, CIs, evaluate modules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import benchmark.metrics.similarity as sim
from benchmark.metrics import (
    compare,
    decompose,
    k_for_variance,
    null_draws,
    pairwise_matrix,
    permutations,
    svcca_correlations,
    svcca_from,
)
from benchmark.metrics.decomposition import cka_from
from benchmark.metrics.replicates import (
    bootstrap_counts,
    jackknife_counts,
    replicate_draws,
    resamples,
    subsample_counts,
)

MODULES = Path(sim.__file__).parent / "modules"
F64 = torch.float64


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def aniso(n: int, d: int, seed: int) -> torch.Tensor:
    """Data with a decaying spectrum, so the top-k subspace is well separated."""
    scale = torch.arange(1, d + 1, dtype=F64) ** -0.7
    return torch.randn(n, d, generator=gen(seed), dtype=F64) * scale


def related(n: int, d: int, noise: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x, and y = x A + noise: a known, partial correlation."""
    g = gen(seed)
    x = aniso(n, d, seed)
    a = torch.randn(d, d + 7, generator=g, dtype=F64) / d**0.5
    return x, x @ a + noise * torch.randn(n, d + 7, generator=g, dtype=F64)


def whitened_cca(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Textbook CCA: singular values of Saa^-1/2 Sab Sbb^-1/2 (independent of similarity.py)."""
    a, b = a - a.mean(0), b - b.mean(0)

    def isqrt(c):
        w, v = torch.linalg.eigh(c)
        return v @ torch.diag(w**-0.5) @ v.T

    return torch.linalg.svdvals(isqrt(a.T @ a) @ a.T @ b @ isqrt(b.T @ b))


# ---------------------------------------------------------------------------------------------
# Point estimates against independent formulas


@pytest.mark.parametrize("d", [150, 30])  # d > n (Gram route) and d < n (SVD route)
def test_gram_route_equals_svd_route_and_textbook_cca(d):
    n, k = 80, 8
    x, y = related(n, d, 1.0, 1)
    dg = decompose(x, k=k, route="gram"), decompose(y, k=k, route="gram")
    ds = decompose(x, k=k, route="svd"), decompose(y, k=k, route="svd")
    assert decompose(x, k=k).route == ("gram" if d > n else "svd")
    cg, cs = svcca_correlations(*dg), svcca_correlations(*ds)
    assert torch.allclose(cg, cs, atol=1e-8)
    torch.testing.assert_close(dg[0].eigvals[: min(n, d) - 1], ds[0].eigvals[: min(n, d) - 1])
    # textbook: project on the top-k right singular vectors, then whitened CCA
    proj = []
    for m in (x, y):
        mc = m - m.mean(0)
        proj.append(mc @ torch.linalg.svd(mc, full_matrices=False)[2][:k].T)
    assert torch.allclose(cg, whitened_cca(*proj), atol=1e-8)
    assert 0.05 < svcca_from(*dg) < 0.99


def test_cka_matches_feature_space_formula_and_unbiased_hsic():
    n = 50
    x, y = related(n, 20, 2.0, 2)
    xc, yc = x - x.mean(0), y - y.mean(0)
    feat = (yc.T @ xc).norm() ** 2 / ((xc.T @ xc).norm() * (yc.T @ yc).norm())
    dx, dy = decompose(x), decompose(y)
    assert cka_from(dx, dy) == pytest.approx(float(feat), abs=1e-12)

    def hsic_u(k, m):  # Song et al. 2012, written out (K, L with zeroed diagonals)
        k, m = k.clone().fill_diagonal_(0), m.clone().fill_diagonal_(0)
        one = torch.ones(n, dtype=F64)
        return (
            torch.trace(k @ m)
            + (one @ k @ one) * (one @ m @ one) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * (one @ k @ m @ one)
        ) / (n * (n - 3))

    kx, ky = x @ x.T, y @ y.T  # uncentred: the unbiased estimator needs no centring
    ref = hsic_u(kx, ky) / (hsic_u(kx, kx) * hsic_u(ky, ky)).sqrt()
    assert cka_from(dx, dy, debiased=True) == pytest.approx(float(ref), abs=1e-10)
    assert cka_from(dx, dy, debiased=True) < cka_from(dx, dy)


# ---------------------------------------------------------------------------------------------
# Invariances


def transforms(x: torch.Tensor) -> dict[str, torch.Tensor]:
    d = x.shape[1]
    q = torch.linalg.qr(torch.randn(d, d, generator=gen(9), dtype=F64))[0]
    return {
        "rotation": x @ q,
        "scaling": 3.7 * x,
        "translation": x + torch.linspace(-5, 5, d, dtype=F64),
    }


@pytest.mark.parametrize("name", ["rotation", "scaling", "translation"])
def test_invariances_score_one(name):
    x = aniso(60, 40, 3)
    y = transforms(x)[name]
    assert compare(x, y, k=6).score == pytest.approx(1.0, abs=1e-9)
    assert compare(x, y, "cka").score == pytest.approx(1.0, abs=1e-9)
    assert compare(x, y, "cka", debiased=True).score == pytest.approx(1.0, abs=1e-9)


# ---------------------------------------------------------------------------------------------
# Null, related data, chance level


def test_independent_data_sits_at_its_null():
    n, d = 200, 100
    x, z = aniso(n, d, 4), aniso(n, d, 5)
    s = compare(x, z, k=10, n_null=300, seed=1)
    assert abs(s.score - s.null_mean) < 4 * s.null_sd
    assert s.score < 0.5 and s.p_value > 0.001
    c = compare(x, z, "cka", n_null=300, seed=1)
    assert abs(c.score - c.null_mean) < 4 * c.null_sd and c.score < 0.5
    u = compare(x, z, "cka", debiased=True, n_null=300, seed=1)
    assert abs(u.score) < 0.05 and abs(u.null_mean) < 0.01
    assert abs(u.score - u.null_mean) < 4 * u.null_sd


def test_related_data_lies_between_null_and_one():
    x, y = related(200, 60, 0.3, 6)
    for kw in ({"k": 10}, {"measure": "cka"}, {"measure": "cka", "debiased": True}):
        r = compare(x, y, n_null=200, seed=0, **kw)
        assert r.null_mean + 5 * r.null_sd < r.score < 0.99, (kw, r)
        assert r.p_value == pytest.approx(1 / 201)
        assert r.z > 5


def test_null_shortcut_equals_recomputation_and_is_seeded(monkeypatch):
    n = 60
    x, y = related(n, 30, 2.0, 7)
    dx, dy = decompose(x, k=5, name="x"), decompose(y, k=5, name="y")
    decs, pair = {"x": dx, "y": dy}, [("x", "y")]
    perms = permutations(n, 20, seed=3)
    assert torch.equal(perms, permutations(n, 20, seed=3))
    assert not torch.equal(perms, permutations(n, 20, seed=4))
    assert all(torch.equal(p.sort().values, torch.arange(n)) for p in perms)

    # no new decomposition: the null must never call eigh / svd
    def boom(*a, **k):
        raise AssertionError("the null recomputed a decomposition")

    with monkeypatch.context() as m:
        m.setattr(torch.linalg, "eigh", boom)
        m.setattr(torch.linalg, "svd", boom)
        sv = null_draws(decs, pair, "svcca", perms)[("x", "y")]
        ck = null_draws(decs, pair, "cka", perms)[("x", "y")]
        cu = null_draws(decs, pair, "cka", perms, debiased=True)[("x", "y")]
    for i in range(0, 20, 7):  # against full recomputation on shuffled y
        p = perms[i]
        assert sv[i] == pytest.approx(compare(x, y[p], k=5).score, abs=1e-9)
        assert ck[i] == pytest.approx(compare(x, y[p], "cka").score, abs=1e-12)
        assert cu[i] == pytest.approx(compare(x, y[p], "cka", debiased=True).score, abs=1e-12)
    a = compare(x, y, k=5, n_null=50, seed=11, keep_draws=True)
    b = compare(x, y, k=5, n_null=50, seed=11, keep_draws=True)
    c = compare(x, y, k=5, n_null=50, seed=12, keep_draws=True)
    assert np.array_equal(a.null_draws, b.null_draws) and a.null_mean == b.null_mean
    assert not np.array_equal(a.null_draws, c.null_draws)


# ---------------------------------------------------------------------------------------------
# Bootstrap and jackknife replicates


@pytest.mark.parametrize(
    "measure,kw", [("svcca", {"k": 5}), ("cka", {}), ("cka", {"debiased": True})]
)
def test_replicates_equal_recomputation_on_resampled_rows(measure, kw):
    n = 50
    x, y = related(n, 70, 1.0, 8)
    deb = kw.get("debiased", False)
    k = kw.get("k")
    decs = {"x": decompose(x, k=k), "y": decompose(y, k=k)}
    idx = resamples(n, 4, seed=5)
    boot = replicate_draws(decs, [("x", "y")], measure, bootstrap_counts(idx), deb)[("x", "y")]
    for i, ix in enumerate(idx):  # the reduced, weighted replicate == recomputing on x[ix]
        ref = compare(x[ix], y[ix], measure, min_ratio=1, **kw).score
        assert boot[i] == pytest.approx(ref, abs=1e-8)
    jk = jackknife_counts(n, 7, seed=5)  # unequal groups: 50 = 7 * 7 + 1
    assert sorted(set(jk.sum(1).tolist())) == [42.0, 43.0]
    assert torch.equal(jk.sum(0), torch.full((n,), 6.0, dtype=F64))  # each left out once
    half = subsample_counts(n, 3, seed=5)
    assert torch.equal(half.sum(1), torch.full((3,), 25.0, dtype=F64))
    for w in (jk, half):
        draws = replicate_draws(decs, [("x", "y")], measure, w, deb)[("x", "y")]
        for i, row in enumerate(w):
            keep = row.bool()
            ref = compare(x[keep], y[keep], measure, min_ratio=1, **kw).score
            assert draws[i] == pytest.approx(ref, abs=1e-8)


@pytest.mark.parametrize(
    "measure,kw,method",
    [
        ("svcca", {"k": 4}, "subsample"),
        ("svcca", {"k": 4}, "percentile"),
        ("svcca", {"k": 4}, "jackknife"),
        ("cka", {}, "subsample"),
        ("cka", {}, "jackknife"),
        ("cka", {"debiased": True}, "subsample"),
    ],
)
def test_ci_contains_strong_signal_and_narrows_with_n(measure, kw, method):
    widths = []
    for n in (60, 300):
        x, y = related(n, 30, 0.05, 10)
        r = compare(x, y, measure, n_resamples=50, ci_method=method, seed=2, **kw)
        assert r.ci_method == method and r.n_resamples == 50 and r.ci_level == 0.95
        assert r.ci_low <= r.score <= r.ci_high, r
        widths.append(r.ci_high - r.ci_low)
    assert widths[1] < widths[0]


def test_ci_seeded_and_default_method():
    x, y = related(80, 30, 0.2, 12)
    a = compare(x, y, k=5, n_resamples=30, seed=1, keep_draws=True)
    b = compare(x, y, k=5, n_resamples=30, seed=1, keep_draws=True)
    c = compare(x, y, k=5, n_resamples=30, seed=2, keep_draws=True)
    assert np.array_equal(a.replicate_draws, b.replicate_draws) and a.ci_low == b.ci_low
    assert not np.array_equal(a.replicate_draws, c.replicate_draws)
    assert a.ci_method == "subsample"

    # symmetric around the score on the logit scale (so inside [0, 1]), half-width z * se
    def logit(v):
        return np.log(v) - np.log1p(-v)

    assert logit(a.score) - logit(a.ci_low) == pytest.approx(logit(a.ci_high) - logit(a.score))
    assert 0 < a.ci_low < a.score < a.ci_high < 1
    assert logit(a.ci_high) - logit(a.score) == pytest.approx(1.959964 * a.se, rel=1e-5)
    # the null and the CI use separate streams: adding a null leaves the CI as it was
    assert compare(x, y, k=5, n_resamples=30, n_null=10, seed=1).ci_low == a.ci_low


def test_subsample_ci_is_centred_where_the_bootstrap_is_shifted():
    """Why the default is not the bootstrap: resampling with replacement weighs a duplicated
    sentence on both sides at once, which fakes shared structure in independent data."""
    n, d = 200, 256
    g = gen(19)
    x = torch.randn(n, d, generator=g, dtype=F64)
    z = torch.randn(n, d, generator=g, dtype=F64)
    boot = compare(x, z, k=20, n_resamples=40, ci_method="percentile", n_null=100)
    half = compare(x, z, k=20, n_resamples=40, ci_method="subsample", n_null=100)
    assert boot.ci_low > boot.score + 10 * boot.null_sd  # the whole bootstrap CI sits far above
    assert half.ci_low < half.score < half.ci_high
    assert half.ci_low < half.null_mean < half.ci_high  # chance level is not excluded
    u = compare(x, z, "cka", debiased=True, n_resamples=40)
    assert u.ci_low < 0 < u.ci_high


# ---------------------------------------------------------------------------------------------
# Decomposition rules and errors


def exact_spectrum(n: int, s: list[float], seed: int) -> torch.Tensor:
    """Centred n x len(s) data whose singular values are exactly s."""
    g = gen(seed)
    u = torch.randn(n, len(s), generator=g, dtype=F64)
    u = torch.linalg.qr(u - u.mean(0))[0]
    v = torch.linalg.qr(torch.randn(len(s), len(s), generator=g, dtype=F64))[0]
    return u @ torch.diag(torch.tensor(s, dtype=F64)) @ v.T


def test_variance_rule_counts_squared_singular_values():
    s = [3.0, 1.0, 1.0, 1.0, 1.0]  # s^2 shares 0.69, 0.77, ...; |s| shares 0.43, 0.57, 0.71, ...
    x = exact_spectrum(40, s, 13)
    share_abs = np.cumsum(s) / np.sum(s)
    assert int(np.argmax(share_abs >= 0.7)) + 1 == 3  # the |s| rule would keep 3
    dec = decompose(x, variance=0.7)
    assert dec.k == 2
    assert dec.variance_kept == pytest.approx(10 / 13)
    assert k_for_variance(torch.tensor([9.0, 1, 1, 1, 1], dtype=F64), 9 / 13) == 1
    assert decompose(x, variance=1.0).k == 5


def test_k_too_close_to_n_or_above_rank_is_refused():
    x = aniso(40, 100, 14)
    with pytest.raises(ValueError, match=r"n=40.*min_ratio") as e:
        decompose(x, k=15, name="es_419/layer_3")
    assert "k=15" in str(e.value) and "es_419/layer_3" in str(e.value)
    assert decompose(x, k=15, min_ratio=2).k == 15
    with pytest.raises(ValueError, match=r"variance=0.99.*n=40"):
        decompose(x, variance=0.99)
    low_rank = aniso(40, 3, 15) @ torch.randn(3, 20, generator=gen(1), dtype=F64)
    with pytest.raises(ValueError, match=r"k=5 exceeds the rank 3"):
        decompose(low_rank, k=5, min_ratio=1)


def test_bad_inputs_name_the_problem():
    x = aniso(30, 10, 16)
    x[4, 7] = float("nan")
    with pytest.raises(ValueError, match=r"fr_fr.*row 4, column 7"):
        decompose(x, name="fr_fr")
    with pytest.raises(ValueError, match="2-D"):
        decompose(torch.zeros(5), name="v")
    with pytest.raises(ValueError, match="constant"):
        cka_from(decompose(torch.ones(10, 3)), decompose(aniso(10, 3, 1)))
    with pytest.raises(ValueError, match="k .* or variance"):
        compare(aniso(30, 5, 1), aniso(30, 5, 2))
    decs = {"en": decompose(aniso(30, 5, 1), k=2), "de": decompose(aniso(31, 5, 2), k=2)}
    with pytest.raises(ValueError, match=r"n differs.*'en': 30.*'de': 31"):
        pairwise_matrix(decs)
    with pytest.raises(ValueError, match="decompose\\(x, k=...\\)"):
        svcca_from(decompose(aniso(30, 5, 1), name="en"), decs["en"])
    with pytest.raises(ValueError, match="no decomposition named 'xx'"):
        pairwise_matrix({"en": decs["en"]}, pairs=[("en", "xx")])


# ---------------------------------------------------------------------------------------------
# Matrix API and evaluate modules


def test_pairwise_matrix_reuses_and_matches_compare():
    n, langs = 60, ["en", "de", "sw", "ja"]
    g = gen(17)
    base = aniso(n, 40, 17)
    data = {
        lang: base @ torch.randn(40, 40, generator=g, dtype=F64) + torch.randn(n, 40, generator=g)
        for lang in langs
    }
    decs = {lang: decompose(v, k=6, name=lang) for lang, v in data.items()}
    res = pairwise_matrix(decs, n_null=40, n_resamples=20, seed=3)
    assert list(res) == [(a, b) for i, a in enumerate(langs) for b in langs[i + 1 :]]
    one = compare(
        data["de"], data["ja"], k=6, n_null=40, n_resamples=20, seed=3, names=("de", "ja")
    )
    got = res[("de", "ja")]
    for f in ("score", "null_mean", "null_sd", "ci_low", "ci_high", "p_value"):
        assert getattr(got, f) == pytest.approx(getattr(one, f), abs=1e-12), f
    ck = pairwise_matrix(decs, "cka", pairs=[("sw", "en")], n_null=10, n_resamples=10)
    assert list(ck) == [("sw", "en")] and ck[("sw", "en")].measure == "cka"
    rec = json.loads(json.dumps(got.to_dict()))
    assert rec["k_x"] == 6 and len(rec["correlations"]) == 6 and rec["ci_method"] == "subsample"


def _load(name: str):
    import evaluate  # a dependency of the benchmark; local modules load from a path, offline

    return evaluate.load(str(MODULES / name))


def test_evaluate_modules_match_similarity(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    x, y = related(60, 12, 1.0, 18)
    xs, ys = x.tolist(), y.tolist()
    svcca = _load("svcca").compute(predictions=xs, references=ys, k=5, n_null=20, n_resamples=20)
    ref = compare(x, y, k=5, n_null=20, n_resamples=20)
    assert svcca["svcca"] == pytest.approx(ref.score, abs=1e-12)
    assert svcca["correlations"] == pytest.approx(list(ref.correlations), abs=1e-12)
    assert svcca["null_mean"] == pytest.approx(ref.null_mean, abs=1e-12)
    assert svcca["ci_low"] == pytest.approx(ref.ci_low, abs=1e-12)
    cka = _load("cka")
    out = cka.compute(predictions=xs, references=ys)
    assert out["cka"] == pytest.approx(compare(x, y, "cka").score, abs=1e-12)
    deb = cka.compute(predictions=xs, references=ys, debiased=True)
    assert deb["cka_debiased"] == pytest.approx(
        compare(x, y, "cka", debiased=True).score, abs=1e-12
    )


def _coverage_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "interval_coverage.py"
    spec = importlib.util.spec_from_file_location("interval_coverage", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_accuracy_intervals_keep_their_coverage_near_one():
    """True accuracy 0.99, n = 40: the 95 % interval covers 93-97 % of the time with one pair,
    and no less than 93 % when the score averages many pairs (before: 84 % with 20 pairs)."""
    script = _coverage_script()
    assert 0.93 <= script.coverage(0.99, 40, 1, 1500, outcomes=True) <= 0.97
    assert script.coverage(0.99, 40, 20, 800, outcomes=True) >= 0.93
    assert script.coverage(0.99, 40, 20, 800, outcomes=False) < 0.9  # the old interval did not


def test_a_perfect_share_still_gets_an_interval_with_width():
    from benchmark.metrics.intervals import interval_from_replicates

    low, high, se = interval_from_replicates(np.ones(50), 1.0, "subsample", 0.95, 40, outcomes=40)
    assert se > 0 and 0.8 < low < 0.99 and high == 1.0  # (Clopper-Pearson: 0.91)


def test_length_matched_permutations_move_each_sentence_within_its_stratum():
    from benchmark.metrics.nulls import length_strata, permutations

    lengths = np.random.default_rng(0).normal(size=43)
    strata = length_strata(lengths, size=5)
    assert np.bincount(strata).min() >= 5  # no stratum too small to shuffle
    perms = permutations(43, 200, seed=3, strata=strata).numpy()
    assert all(sorted(row) == list(range(43)) for row in perms)  # permutations
    assert (strata[perms] == strata[None, :]).all()  # length kept
    assert (perms != np.arange(43)).all()  # a derangement: no pair kept in place
    again = permutations(43, 200, seed=3, strata=strata).numpy()
    assert (perms == again).all()  # the same draws for every pair and layer


def test_the_covariate_null_equals_residualising_each_permuted_side_again():
    # the null of a pair regressed on shared covariates: b permuted, then projected off them as
    # the data was; the fast CKA route (no n^3 product) and the SVCCA route against the explicit one
    from benchmark.kinds.pair_scoring import covariate_basis, length_basis, residualize
    from benchmark.metrics import decompose
    from benchmark.metrics.nulls import _projected_cka, null_draws, permutations
    from benchmark.metrics.similarity import svcca_correlations

    rng = np.random.default_rng(0)
    n = 50
    covariates = length_basis(rng.normal(size=(n, 2)))
    a = residualize(rng.normal(size=(n, 30)), covariates)
    b = residualize(rng.normal(size=(n, 20)), covariates)
    da, db = decompose(a, k=5), decompose(b, k=5)
    da.covariates = db.covariates = z = covariate_basis(covariates)
    perms = permutations(n, 7, 0)
    h = np.eye(n) - z.numpy() @ z.numpy().T
    explicit_cka, explicit_svcca = [], []
    for p in perms.numpy():
        gp = h @ db.gram.numpy()[np.ix_(p, p)] @ h
        ga = da.gram.numpy()
        explicit_cka.append((gp * ga).sum() / (np.linalg.norm(gp) * np.linalg.norm(ga)))
        again = decompose(residualize(b[p], covariates), k=5)
        explicit_svcca.append(float(svcca_correlations(da, again).mean()))
    assert np.allclose(_projected_cka(da, db, perms, False).numpy(), explicit_cka, atol=1e-12)
    svcca = null_draws({"a": da, "b": db}, [("a", "b")], "svcca", perms)[("a", "b")].numpy()
    # the permuted top-k basis projected and re-orthonormalised, against the top-k of the
    # re-residualised data: the same subspace up to what the projection mixes in
    assert np.abs(svcca - np.array(explicit_svcca)).max() < 0.05

"""Fitting an observed spectrum: the pieces against independent references, the contract.

References that do not share code with the fit: the core's forward maps (``rs.inverse``,
``rs.phi``, ``rr.phi``, ``rr.outliers`` with atoms for the finite-n deterministic
equivalent), the core's exact distribution functions of ``nu_eps ⊞ noise`` for the
linear response, exact moments of Gaussian ensembles and dense eigensolves for the
tridiagonal models, Pareto samples for the tail exponent. The statistical ground truth
(accuracy over seeds, coverage, calibration, verdicts, deconvolution) is in
``test_fit_accuracy.py``.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
from numpy.testing import assert_allclose

import rmtservice as rs
from rmtservice import rectangular as rr
from rmtservice.density import cdf as limit_cdf
from rmtservice.errors import InvalidParameter
from rmtservice.fit import Fit, fit
from rmtservice.fit._noise import UnitLaw, clt_variance, fit_bulk, response
from rmtservice.fit._replicates import pivots, wigner_spectrum, wishart_spectrum
from rmtservice.fit._spikes import (
    rectangular_limit,
    rectangular_spikes,
    wigner_limit,
    wigner_spikes,
)
from rmtservice.fit._tail import tail_fit


def goe(n: int, s2: float, rng: np.random.Generator) -> np.ndarray:
    """A dense Wigner matrix: off-diagonal variance s2/n, diagonal 2 s2/n."""
    g = rng.standard_normal((n, n))
    return (g + g.T) * math.sqrt(s2 / (2 * n))


def spiked(n: int, spikes: list[float], s2: float, seed: int) -> np.ndarray:
    """Eigenvalues of H + W, H of rank len(spikes) in random directions."""
    rng = np.random.default_rng(seed)
    u = np.linalg.qr(rng.standard_normal((n, len(spikes))))[0]
    return scipy.linalg.eigvalsh(goe(n, s2, rng) + (u * np.array(spikes)) @ u.T)


def spiked_rect(n: int, p: int, spikes: list[float], s2: float, seed: int) -> np.ndarray:
    """Y = S + X (n x p), S of rank len(spikes), X of variance s2/n."""
    rng = np.random.default_rng(seed)
    k = len(spikes)
    u = np.linalg.qr(rng.standard_normal((n, k)))[0]
    v = np.linalg.qr(rng.standard_normal((p, k)))[0]
    return (u * np.array(spikes)) @ v.T + rng.standard_normal((n, p)) * math.sqrt(s2 / n)


# --------------------------------------------------------------- inverse maps


def test_limit_maps_agree_with_the_core() -> None:
    """The closed-form limit spikes and overlaps are the core's inverse map and outlier
    report for nu = delta_center (symmetric) and delta_0 (rectangular, any aspect)."""
    c, s2 = 0.3, 0.5
    y = np.array([3.1, 2.0, -1.9, -4.0]) + c
    theta, overlap = wigner_limit(y, c, s2)
    core = [r.spike for r in rs.inverse(rs.Point(c), s2, y)]
    assert_allclose(theta, core, rtol=1e-12)
    report = rs.outliers(rs.Point(c), s2, theta)
    assert_allclose(overlap, [o.overlap for o in report.outliers], rtol=1e-12)
    for aspect in (0.25, 1.0):
        edge = math.sqrt(s2) * (1 + math.sqrt(aspect))
        sv = edge * np.array([1.1, 1.5, 3.0])
        theta, small, big = rectangular_limit(sv, s2, aspect)
        core = [r.spike for r in rr.inverse(rs.Point(0.0), s2, aspect, sv)]
        assert_allclose(theta, core, rtol=1e-10)
        out = rr.outliers(rs.Point(0.0), s2, aspect, theta).outliers
        assert_allclose(small, [o.right_overlap for o in out], rtol=1e-9)
        assert_allclose(big, [o.left_overlap for o in out], rtol=1e-9)


def test_finite_n_wigner_map_inverts_the_cores_phi_with_atoms() -> None:
    """Outliers made by the core's phi of nu_n^(i) (the bulk atom and the other spikes,
    deflated: n - 1 atoms, sigma2 (n - 1)/n) are mapped back to their spikes."""
    n, c, s2 = 400, 0.2, 1.0
    theta = np.array([3.0, 2.1, 1.6, -2.4]) + c
    k = theta.size
    y, slope = np.empty(k), np.empty(k)
    for i in range(k):
        others = np.delete(theta, i)
        nu = rs.Atoms(np.concatenate([[c], others]), np.concatenate([[n - k], np.ones(k - 1)]))
        y[i] = float(rs.phi(nu, s2 * (n - 1) / n, theta[i]))
        slope[i] = float(rs.phi_prime(nu, s2 * (n - 1) / n, theta[i]))
    out = wigner_spikes(y, c, s2, n)
    assert out.finite_n.all()
    assert_allclose(out.spike, theta, rtol=1e-10)
    assert_allclose(out.overlap, slope, rtol=1e-9)
    # the limit map ignores the others: it is off by O(1/n), more than the finite-n one
    assert np.max(np.abs(out.spike_limit - theta)) > 100 * np.max(np.abs(out.spike - theta))


@pytest.mark.parametrize(("big", "small"), [(600, 300), (300, 300)])
def test_finite_n_rectangular_map_inverts_the_cores_phi_with_atoms(big: int, small: int) -> None:
    """The same for singular values: the deflated (big - 1) x (small - 1) model with the
    other spikes as atoms of nu, through rr.phi and rr.outliers."""
    variance = 1.0 / big
    theta = np.array([3.0, 2.2, 1.7])
    k = theta.size
    y, right, left = [], [], []
    for i in range(k):
        nu = rs.Atoms(
            np.concatenate([[0.0], np.delete(theta, i)]),
            np.concatenate([[small - k], np.ones(k - 1)]),
        )
        s2, aspect = variance * (big - 1), (small - 1) / (big - 1)
        y.append(math.sqrt(float(rr.phi(nu, s2, aspect, theta[i] ** 2))))
        o = rr.outliers(nu, s2, aspect, [theta[i]]).outliers[0]
        right.append(o.right_overlap)
        left.append(o.left_overlap)
    out = rectangular_spikes(np.array(y), variance, big, small)
    assert out.finite_n.all()
    assert_allclose(out.spike, theta, rtol=1e-9)
    assert_allclose(out.overlap, right, rtol=1e-8)  # R^small: the canonical right side
    assert_allclose(out.overlap_big, left, rtol=1e-8)


# --------------------------------------------------------- noise-level pieces


def exact_bulk_quantiles(law: UnitLaw, eps: float, spike: float, count: int) -> np.ndarray:
    """Quantiles at the levels (i - 1/2)/count of the bulk component of the limit of
    nu_eps = (1 - eps) delta_0 + eps delta_spike plus unit noise, by the core's exact
    distribution functions (squared singular values for the rectangular model)."""
    nu = rs.Atoms([0.0, spike], [1.0 - eps, eps])
    if law.located:
        sup = rs.support(nu, 1.0)
        grid = np.linspace(sup.lower[0], sup.upper[0], 4001)
        f = limit_cdf(nu, 1.0, grid, sup=sup) / sup.mass[0]
    else:
        sup = rr.support(nu, 1.0, law.ratio)
        grid = np.linspace(sup.lower[0], sup.upper[0], 4001)
        f = rr.cdf(nu, 1.0, law.ratio, grid, sup=sup) / sup.mass[0]
        grid = grid * grid
    u = (np.arange(count) + 0.5) / count
    return np.interp(u, f, grid)


def test_linear_response_predicts_the_fit_of_the_deterministic_equivalent() -> None:
    """Moving mass eps from 0 to a spike changes the quantile fit of the bulk by the
    compression (mass eps fewer: sigma2 (1 - eps); rectangular: ratio and scale of the
    (big - k) x (small - k) noise) plus eps times the response, to O(eps^2)."""
    eps, count = 2e-3, 2000
    law = UnitLaw("semicircle")
    for x in (1.4, 3.0):
        center, scale = fit_bulk(law, exact_bulk_quantiles(law, eps, x, count))
        d_scale, d_center = response(law, np.array([x]))
        assert abs((scale**2 / (1 - eps) - 1) / eps - d_scale[0]) < 0.03 * (1 + abs(d_scale[0]))
        assert abs(center / eps - d_center[0]) < 0.03 * (1 + abs(d_center[0]))
    c = 0.5
    full = UnitLaw("marchenko_pastur", c)
    for theta in (1.1, 2.0):
        compressed = UnitLaw("marchenko_pastur", c * (1 - eps) / (1 - c * eps))
        _, scale = fit_bulk(compressed, exact_bulk_quantiles(full, eps, theta, count))
        d_scale = response(full, np.array([theta**2]))[0][0]
        assert abs((scale / (1 - c * eps) - 1) / eps - d_scale) < 0.03 * (1 + abs(d_scale))


@pytest.mark.parametrize(
    ("law", "dims"),
    [(UnitLaw("semicircle"), (300, 300)), (UnitLaw("marchenko_pastur", 0.5), (600, 300))],
)
def test_clt_variance_matches_the_simulated_pivot(law: UnitLaw, dims: tuple[int, int]) -> None:
    """N sd(scale_hat / scale) over 400 exact replicates agrees with the CLT variance of
    the quantile fit (a Lipschitz linear statistic) within 12 %."""
    ratios, _ = pivots(law, dims, 400, 11, False)
    simulated = float(np.std(ratios)) * dims[1]
    assert simulated == pytest.approx(math.sqrt(clt_variance(law)), rel=0.12)


def test_tridiagonal_models_have_the_exact_moments_and_law() -> None:
    """GOE (variance 1/n): E tr W^2 = n + 1; Wishart (big x small, variance 1/big):
    E tr = small, E tr^2 = small (big + small + 1) / big; and the largest eigenvalue's
    law is that of dense matrices (two-sample Kolmogorov-Smirnov)."""
    rng = np.random.default_rng(5)
    n, reps = 60, 400
    tr2 = np.array([np.sum(wigner_spectrum(n, rng) ** 2) for _ in range(reps)])
    assert abs(tr2.mean() - (n + 1)) < 4 * tr2.std() / math.sqrt(reps)
    big, small = 80, 30
    sq = np.array([wishart_spectrum(big, small, rng) for _ in range(reps)])
    t1, t2 = sq.sum(axis=1), (sq * sq).sum(axis=1)
    assert abs(t1.mean() - small) < 4 * t1.std() / math.sqrt(reps)
    assert abs(t2.mean() - small * (big + small + 1) / big) < 4 * t2.std() / math.sqrt(reps)
    top_tri = [wigner_spectrum(n, rng)[-1] for _ in range(reps)]
    top_dense = [scipy.linalg.eigvalsh(goe(n, 1.0, rng))[-1] for _ in range(reps)]
    assert scipy.stats.ks_2samp(top_tri, top_dense).pvalue > 1e-3
    top_tri = [wishart_spectrum(big, small, rng)[-1] for _ in range(reps)]
    dense = [
        scipy.linalg.svdvals(rng.standard_normal((big, small)) / math.sqrt(big))[0] ** 2
        for _ in range(reps)
    ]
    assert scipy.stats.ks_2samp(top_tri, dense).pvalue > 1e-3


def test_tail_exponent_of_pareto_samples() -> None:
    """Exact power-law tails are recovered: density x^(-alpha) above 1."""
    rng = np.random.default_rng(2)
    for alpha in (2.0, 3.5):
        x = rng.pareto(alpha - 1.0, 4000) + 1.0
        t = tail_fit(x)
        assert t is not None
        assert t.exponent == pytest.approx(alpha, abs=0.25)
    assert tail_fit(np.ones(8)) is None


# ------------------------------------------------------------------ the fit


def test_fit_of_a_spiked_wigner_matrix() -> None:
    """n = 600, sigma2 = 0.5, centre 0.4, spikes 3 and -2.5 sigma (both sides): both found
    with small p-values, the thresholds separate them from the bulk, sigma2 within 1 %,
    the spikes within 4 of their standard deviations sigma (2 / (n phi'))^(1/2)."""
    n, s2, c = 600, 0.5, 0.4
    sigma = math.sqrt(s2)
    spikes = [3.0 * sigma, -2.5 * sigma]
    lam = spiked(n, spikes, s2, seed=3) + c
    f = fit(lam, bootstrap=0)
    assert isinstance(f, Fit) and f.model == "wigner" and f.shape == (n, n)
    assert f.sigma2 == pytest.approx(s2, rel=0.01)
    assert f.center == pytest.approx(c, abs=0.01)
    assert f.rank == 2 and f.outliers[0].value > c > f.outliers[1].value
    for o, th in zip(f.outliers, spikes, strict=True):
        x = th / sigma
        sd = sigma * math.sqrt(2.0 / (n * (1 - 1 / x**2)))
        assert abs(o.spike - (th + c)) < 4 * sd
        assert o.p_value < 1e-6 and o.finite_n
        assert o.overlap == pytest.approx(1 - 1 / x**2, abs=0.05)
        assert o.left_overlap is None and o.right_overlap is None
        assert lam[o.index] == o.value
    bulk = np.delete(lam, [o.index for o in f.outliers])
    assert f.lower_edge_threshold is not None
    assert f.lower_edge_threshold < bulk.min() and bulk.max() < f.edge_threshold
    assert f.bulk.lower < f.center < f.bulk.upper < f.edge_threshold
    assert f.bulk.upper - f.bulk.lower == pytest.approx(4 * math.sqrt(f.sigma2))
    assert f.spike_threshold == pytest.approx(math.sqrt(f.sigma2))
    assert f.goodness_of_fit.bulk_values == n - 2
    assert f.verdict.noise_plus_spikes and "2 spikes" in f.verdict.message
    assert f.sigma2_interval.method == "asymptotic" and f.goodness_of_fit.p_value is None
    assert f.sigma2_interval.lower < f.sigma2 < f.sigma2_interval.upper


def test_declared_values_are_those_with_p_values_at_most_alpha() -> None:
    """Step-down p-values do not decrease from the most extreme value; a value is
    declared iff its p-value is at most alpha, and every declared value lies beyond
    edge_threshold while the largest bulk value does not."""
    lam = spiked(500, [1.4, 1.3, 1.2, 1.15], 1.0, seed=8)
    for alpha in (0.001, 0.05, 0.3):
        f = fit(lam, alpha=alpha, bootstrap=0)
        upper = [o for o in f.outliers if o.value > f.center]
        p = [o.p_value for o in upper]
        assert p == sorted(p) and all(q <= alpha for q in p)
        assert all(o.value > f.edge_threshold for o in upper)
        bulk = np.delete(lam, [o.index for o in f.outliers])
        assert bulk.max() < f.edge_threshold
    loose, strict = fit(lam, alpha=0.3, bootstrap=0), fit(lam, alpha=0.001, bootstrap=0)
    assert loose.rank >= strict.rank and loose.edge_threshold < strict.edge_threshold


def test_fit_of_singular_values_in_both_orientations() -> None:
    """Y (300 x 600) and Y^T give the same spikes, with the overlaps swapped and sigma2
    in each one's convention (rows times the entry variance)."""
    y = spiked_rect(300, 600, [2.5, 1.6], 0.8, seed=4)
    a = fit(y, bootstrap=0)
    b = fit(y.T, bootstrap=0)
    assert a.model == b.model == "rectangular" and a.shape == (300, 600)
    assert a.rank == b.rank == 2
    assert b.sigma2 == pytest.approx(a.sigma2 * 600 / 300, rel=1e-12)
    assert a.sigma2 == pytest.approx(0.8, rel=0.02)
    for oa, ob in zip(a.outliers, b.outliers, strict=True):
        assert oa.spike == pytest.approx(ob.spike, rel=1e-12)
        assert oa.left_overlap == pytest.approx(ob.right_overlap, rel=1e-12)
        assert oa.right_overlap == pytest.approx(ob.left_overlap, rel=1e-12)
        assert oa.overlap is None
    assert a.edge_threshold == pytest.approx(b.edge_threshold, rel=1e-12)
    sv = scipy.linalg.svdvals(y)
    c = fit(singular_values=sv[::-1], shape=(300, 600), bootstrap=0)
    assert c.sigma2 == pytest.approx(a.sigma2, rel=1e-12)
    assert [sv[::-1][o.index] for o in c.outliers] == [o.value for o in c.outliers]
    assert [o.index for o in a.outliers] == [0, 1]  # a matrix: descending order
    edges = rr.support(rs.Point(0.0), a.sigma2, 2.0)
    assert a.bulk.lower == pytest.approx(edges.lower[0], rel=1e-9)
    assert a.bulk.upper == pytest.approx(edges.upper[-1], rel=1e-9)
    assert a.spike_threshold == pytest.approx(math.sqrt(a.sigma2) * 2.0**0.25, rel=1e-12)


def test_matrix_input_matches_its_spectrum_and_the_model_override() -> None:
    rng = np.random.default_rng(1)
    m = goe(80, 1.0, rng)
    a, b = fit(m, bootstrap=0), fit(eigenvalues=np.linalg.eigvalsh(m), bootstrap=0)
    assert a.model == "wigner" and a.sigma2 == pytest.approx(b.sigma2, rel=1e-10)
    r = fit(matrix=m, model="rectangular", bootstrap=0)
    assert r.model == "rectangular" and r.shape == (80, 80)
    g = rng.standard_normal((80, 80)) / math.sqrt(80)
    assert fit(g, bootstrap=0).model == "rectangular"


def test_bootstrap_is_reproducible_and_shared_by_equal_shapes() -> None:
    """The same seed gives the same fit; the seed is reported; without replicates the
    interval is asymptotic and the goodness of fit has no p-value."""
    lam = spiked(300, [2.0], 1.0, seed=2)
    a, b = fit(lam, bootstrap=20, seed=5), fit(lam, bootstrap=20, seed=5)
    assert a.sigma2_interval == b.sigma2_interval and a.goodness_of_fit == b.goodness_of_fit
    assert a.seed == 5 and a.sigma2_interval.method == "bootstrap"
    assert a.goodness_of_fit.p_value is not None and 0 < a.goodness_of_fit.p_value <= 1
    c = fit(lam, bootstrap=20)
    assert c.seed is not None and 0 <= c.seed < 2**53
    d = fit(lam, bootstrap=0, seed=5)
    assert d.seed is None and d.sigma2_interval.method == "asymptotic"
    assert d.sigma2 == a.sigma2  # the bootstrap does not move the estimate


def test_verdict_without_replicates_uses_the_noise_bound() -> None:
    """Without a bootstrap the verdict compares the distance with ks_bound: pure noise
    stays below it (10 seeds, both models), a bulk of two lumps does not."""
    from rmtservice.fit._api import ks_bound

    for seed in range(10):
        rng = np.random.default_rng(seed)
        f = fit(scipy.linalg.eigvalsh(goe(300, 1.0, rng)), bootstrap=0)
        assert f.verdict.noise_plus_spikes and "no simulation" in f.verdict.message
        assert f.goodness_of_fit.ks <= ks_bound(f.goodness_of_fit.bulk_values)
        sv = scipy.linalg.svdvals(rng.standard_normal((300, 150)))
        assert fit(sv, shape=(300, 150), bootstrap=0).verdict.noise_plus_spikes
    lumps = np.concatenate([np.linspace(-1, 1, 150), np.linspace(3, 5, 150)])
    f = fit(lumps, bootstrap=0)
    assert not f.verdict.noise_plus_spikes and "above the noise bound" in f.verdict.message


def test_known_noise_level_and_deconvolution() -> None:
    """sigma2 given: not estimated, the interval is that point, and the deconvolved law
    of pure noise plus one spike is concentrated at 0 with mass 1/n near the spike."""
    n = 400
    lam = spiked(n, [3.0], 1.0, seed=6)
    f = fit(lam, sigma2=1.0, bootstrap=0)
    assert f.sigma2 == 1.0 and f.sigma2_interval.method == "given"
    assert f.sigma2_interval.lower == f.sigma2_interval.upper == 1.0
    nu = f.deconvolved
    assert isinstance(nu, rs.Atoms)
    assert nu.variance < 9.0 / n + 0.02  # the spike's own share is 9/n
    assert np.all(np.diff(nu.values) > 0)
    assert float(nu.cdf(2.0)) == pytest.approx(1 - 1 / n, abs=2.0 / n)
    assert fit(lam, sigma2=1.0, deconvolve=False, bootstrap=0).deconvolved is None
    assert fit(lam, bootstrap=0).deconvolved is None
    # a forward function accepts the result
    assert rs.support(nu, 1.0).upper[-1] > 2.0


def test_docstring_example() -> None:
    import doctest

    import rmtservice.fit._api as api

    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner()
    for test in finder.find(api.fit, "fit", globs={}):
        runner.run(test)
    assert runner.failures == 0 and runner.tries > 0


BAD = [
    ({}, "pass exactly one of values, eigenvalues, singular_values and matrix"),
    (
        {"eigenvalues": [1.0] * 20, "matrix": np.eye(20)},
        "pass exactly one of values, eigenvalues, singular_values and matrix",
    ),
    ({"eigenvalues": [1.0] * 9}, "a fit needs at least 10 values, got 9"),
    ({"eigenvalues": [1.0] * 19 + [math.nan]}, "eigenvalues must be finite numbers"),
    ({"matrix": np.arange(144.0).reshape(12, 12), "model": "wigner"}, "model wigner needs a"),
    ({"singular_values": [1.0] * 10}, "singular_values need shape=(rows, cols)"),
    (
        {"singular_values": [1.0] * 10, "shape": (20, 11)},
        "a 20 x 11 matrix has min(rows, cols) = 11 singular values, got 10",
    ),
    (
        {"singular_values": [1.0] * 9 + [-1.0], "shape": (10, 30)},
        "singular values must be >= 0",
    ),
    ({"singular_values": [1.0] * 10, "shape": (10,)}, "shape must be (rows, cols)"),
    ({"singular_values": [1.0] * 10, "shape": (0, 10)}, "shape rows must be an integer >= 1"),
    ({"singular_values": [1.0] * 10, "shape": (10, 30), "model": "wigner"}, "singular values"),
    ({"eigenvalues": [1.0] * 10, "shape": (10, 10)}, "shape goes with singular_values"),
    ({"eigenvalues": np.arange(10.0), "sigma2": 0.0}, "sigma2 must be > 0, got 0.0"),
    ({"eigenvalues": np.arange(10.0), "sigma2": -1}, "sigma2 must be > 0, got -1.0"),
    ({"eigenvalues": np.arange(10.0), "alpha": 1.0}, "alpha must be in (0, 1), got 1.0"),
    ({"eigenvalues": np.arange(10.0), "alpha": 0}, "alpha must be in (0, 1), got 0.0"),
    ({"eigenvalues": np.arange(10.0), "confidence": 1.5}, "confidence must be in (0, 1)"),
    ({"eigenvalues": np.arange(10.0), "bootstrap": -1}, "bootstrap must be an integer >= 0"),
    ({"eigenvalues": np.arange(10.0), "bootstrap": 3}, "bootstrap must be 0 (none) or at least"),
    ({"eigenvalues": np.arange(10.0), "deconvolve": True}, "deconvolution needs the noise"),
    ({"eigenvalues": np.arange(10.0), "model": "other"}, "model must be wigner or rectangular"),
    ({"matrix": np.zeros((0, 3))}, "matrix must be a non-empty 2-D array, got shape (0, 3)"),
    ({"matrix": np.zeros(30)}, "matrix must be a non-empty 2-D array, got shape (30,)"),
    ({"matrix": np.zeros((3, 3, 3))}, "matrix must be a non-empty 2-D array"),
    ({"matrix": np.ones((5, 40))}, "a fit needs at least 10 values: the matrix must be"),
    ({"matrix": np.full((12, 12), np.inf)}, "matrix entries must be finite numbers"),
    ({"eigenvalues": ["a"] * 10}, "eigenvalues must be a list of numbers"),
    ({"eigenvalues": np.ones(20)}, "the values have no spread"),
    ({"singular_values": np.zeros(20), "shape": (20, 40)}, "the values have no spread"),
    ({"eigenvalues": np.full(20, 1e200)}, "eigenvalues must be at most 1e+150 in absolute"),
    ({"matrix": np.full((20, 20), 1e149)}, "matrix entries must be at most"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD)
def test_bad_inputs(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidParameter) as err:
        fit(**kwargs)  # type: ignore[arg-type]
    assert str(err.value).startswith(message)


def test_fit_imports_no_web_stack() -> None:
    code = (
        "import sys, rmtservice.fit\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'fastapi', 'starlette', 'pydantic', 'pydantic_core', 'httpx', 'app'})\n"
        "print(','.join(bad))\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and out.stdout.strip() == ""


# ------------------------------------------------- extreme levels and noise levels


def test_tiny_levels_split_between_the_two_sides_exactly() -> None:
    """The symmetric model tests each side at 1 - sqrt(1 - alpha): computed without
    cancellation, so alpha = 1e-20 gives side levels 5e-21 (not 0, which isf refuses)
    and the threshold is the Tracy-Widom one at that level."""
    from rmtservice import tracy_widom as tw

    ev = wigner_spectrum(400, np.random.default_rng(5))
    f = fit(ev, alpha=1e-20, bootstrap=0)
    n, k = 400, 0
    center, scale = tw.wigner_edge(n - k, f.sigma2 * (n - k) / n)
    assert_allclose(f.edge_threshold - f.center, center + scale * tw.isf(5e-21), rtol=1e-12)
    with pytest.raises(InvalidParameter, match=r"alpha must be between 1e-300 and 0\.5"):
        fit(ev, alpha=1e-320)
    with pytest.raises(InvalidParameter, match=r"alpha must be between 1e-300 and 0\.5"):
        fit(ev, alpha=0.7)


def test_a_noise_level_far_too_small_leaves_half_the_values_as_bulk() -> None:
    """Both sides together declare at most half of the values (each side could take
    half on the way to the fixed point: no bulk was left, a division by zero)."""
    ev = np.linspace(-2.0, 2.0, 30)
    f = fit(ev, sigma2=1e-300, bootstrap=0)
    assert f.rank == 15 and f.goodness_of_fit.bulk_values == 15
    assert not f.verdict.noise_plus_spikes

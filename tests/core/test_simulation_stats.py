"""Monte Carlo against the theory (paper Theorems 2.1 and 2.2), seeded and bounded.

Tolerances come from the theory: outliers fluctuate on the scale n^{-1/2} (Gaussian),
the bulk edge on the scale n^{-2/3} (Tracy-Widom), the ESD of H + W with deterministic
quantile atoms is within O(log n / n) of the limit.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import rmtservice as rs
from rmtservice.simulate import h_spectrum, histogram, wigner

pytestmark = pytest.mark.slow

BULK = rs.Uniform(-1.0, 1.0)
S2 = 0.25


@pytest.mark.parametrize("seed", [1, 2])
def test_outliers_within_a_few_inverse_root_n_of_phi(seed: int) -> None:
    n = 1000
    spikes = [3.0, 2.2, -2.5]
    sim = rs.simulate(BULK, S2, n, spikes=spikes, seed=seed)
    for o in sim.outliers:
        assert o.predicted is not None and o.observed is not None
        assert abs(o.observed - o.predicted) < 5 / math.sqrt(n)
        assert o.difference == pytest.approx(o.observed - o.predicted)
    assert sim.separated_spikes == 3
    # exactly the three separated spikes leave the (slightly widened) support
    sup = rs.support(BULK, S2)
    ev = sim.eigenvalues[0]
    beyond = (ev > sup.upper[-1] + 0.05) | (ev < sup.lower[0] - 0.05)
    assert int(beyond.sum()) == 3


def test_swallowed_spike_gives_no_outlier() -> None:
    n = 1000
    sim = rs.simulate(BULK, S2, n, spikes=[1.05], seed=3)
    (o,) = sim.outliers
    assert o.predicted is None
    sup = rs.support(BULK, S2)
    assert sim.eigenvalues[0][0] < sup.upper[-1] + 4 * n ** (-2 / 3)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_top_bulk_eigenvalue_within_a_few_n_to_minus_two_thirds_of_the_edge(seed: int) -> None:
    # nu = delta_0: semicircle of radius 2 sigma; lambda_max - 2 sigma ~ sigma n^{-2/3} TW1
    n = 1500
    sigma = 0.7
    sim = rs.simulate(rs.Point(0.0), sigma**2, n, seed=seed, top=1)
    edge = rs.support(rs.Point(0.0), sigma**2).upper[-1]
    assert abs(sim.eigenvalues[0][0] - edge) < 5 * sigma * n ** (-2 / 3)


def test_kolmogorov_distance_shrinks_with_n() -> None:
    law = rs.MarchenkoPastur(0.5, 1.0)
    small = rs.simulate(law, 0.5, 200, seed=7, trials=2).kolmogorov
    large = rs.simulate(law, 0.5, 1600, seed=7, trials=2).kolmogorov
    assert small is not None and large is not None
    assert np.mean(large) < 0.5 * np.mean(small)
    assert max(large) < 0.02


@pytest.mark.parametrize(
    ("noise", "extra", "tol"),
    [
        ("gaussian", {}, 0.03),
        ("rademacher", {}, 0.03),
        ("uniform", {}, 0.03),
        ("student_t", {"df": 6.0}, 0.08),
        ("sparse", {"density": 0.2}, 0.06),
    ],
)
def test_noise_laws_have_the_wigner_variances(noise: str, extra: dict, tol: float) -> None:
    n, s2 = 600, 2.0
    a = wigner(n, s2, np.random.default_rng(11), noise=noise, **extra)
    low = a[np.tril_indices(n, -1)]
    diag = np.diag(a)
    assert abs(low.mean()) < 5 * math.sqrt(s2 / n / low.size)
    assert low.var() * n / s2 == pytest.approx(1.0, abs=tol)
    assert diag.var() * n / (2 * s2) == pytest.approx(1.0, abs=0.3)  # only n samples


def test_the_random_matrix_is_bitwise_reproducible() -> None:
    # PCG64 streams from SeedSequence are platform independent: the matrix is the same
    # everywhere; eigenvalues then agree to LAPACK's rounding of the BLAS build
    a = wigner(64, 1.0, np.random.default_rng(np.random.SeedSequence(5).spawn(1)[0]))
    b = wigner(64, 1.0, np.random.default_rng(np.random.SeedSequence(5).spawn(1)[0]))
    assert_array_equal(np.tril(a), np.tril(b))
    assert a[1, 0] == 0.003425131470137816  # pinned: a change of stream is a new version


def test_rademacher_entries_are_plus_minus_one_scaled() -> None:
    n, s2 = 50, 1.0
    a = wigner(n, s2, np.random.default_rng(0), noise="rademacher")
    low = a[np.tril_indices(n, -1)]
    assert_allclose(np.abs(low), math.sqrt(s2 / n), rtol=1e-15)


def test_seeds_are_deterministic_and_trials_independent() -> None:
    a = rs.simulate(BULK, S2, 300, seed=123, trials=3, compare=False)
    a2 = rs.simulate(BULK, S2, 300, seed=123, trials=3, compare=False)
    b = rs.simulate(BULK, S2, 300, seed=123, trials=3, compare=False, workers=2)
    for x, x2, y in zip(a.eigenvalues, a2.eigenvalues, b.eigenvalues, strict=True):
        assert_array_equal(x, x2)
        # other BLAS threading, same matrices: equal to LAPACK's rounding
        assert_allclose(x, y, rtol=0, atol=1e-12)
    assert not np.allclose(a.eigenvalues[0], a.eigenvalues[1])
    c = rs.simulate(BULK, S2, 300, seed=124, compare=False)
    assert not np.allclose(a.eigenvalues[0], c.eigenvalues[0])
    d = rs.simulate(BULK, S2, 300, compare=False)
    assert isinstance(d.seed, int)
    e = rs.simulate(BULK, S2, 300, seed=d.seed, compare=False)
    assert_array_equal(d.eigenvalues[0], e.eigenvalues[0])


def test_top_and_bottom_equal_the_full_spectrum() -> None:
    n = 800
    full = rs.simulate(BULK, S2, n, spikes=[3.0], seed=9, compare=False).eigenvalues[0]
    part = rs.simulate(BULK, S2, n, spikes=[3.0], seed=9, top=10, bottom=5, compare=False)
    assert_allclose(part.eigenvalues[0], full[:10], atol=1e-12)
    assert part.bottom is not None
    assert_allclose(part.bottom[0], full[-5:], atol=1e-12)


def test_float32_is_the_float64_matrix_rounded() -> None:
    a = rs.simulate(BULK, S2, 400, seed=2, compare=False).eigenvalues[0]
    b = rs.simulate(BULK, S2, 400, seed=2, compare=False, dtype="float32").eigenvalues[0]
    assert np.max(np.abs(a - b)) < 1e-5
    assert np.max(np.abs(a - b)) > 0


def test_eigenvector_overlaps_near_phi_prime() -> None:
    sim = rs.simulate(BULK, S2, 1000, spikes=[3.0, 2.0], seed=5, eigenvectors=True)
    for o in sim.outliers:
        assert o.overlap_predicted is not None and o.overlap_observed is not None
        assert abs(o.overlap_observed - o.overlap_predicted) < 0.05


def test_full_matrix_h_is_used_as_it_is() -> None:
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((200, 200)))
    hm = (q * np.linspace(-1, 1, 200)) @ q.T
    sim = rs.simulate(BULK, S2, 200, matrix=hm, seed=1, compare=False)
    h_diag = rs.simulate(rs.Atoms(np.linspace(-1, 1, 200)), S2, 200, seed=1, compare=False)
    # same spectrum of H, rotated: Gaussian noise is orthogonally invariant in law only,
    # so compare spectra statistically: the top eigenvalues agree to the edge scale
    assert abs(sim.eigenvalues[0][0] - h_diag.eigenvalues[0][0]) < 6 * 200 ** (-2 / 3)


def test_theorem_2_1_outliers_follow_the_pushforward_law() -> None:
    n, k = 2000, 44  # k ~ sqrt(n) spikes from a law
    spike_law = rs.Uniform(3.0, 4.0)
    sim = rs.simulate(BULK, S2, n, spike_law=spike_law, spike_count=k, seed=8, top=k)
    obs = np.sort(sim.eigenvalues[0])
    # the push-forward distribution function: G(phi^{-1}(y))
    theta = np.array([r.spike for r in rs.inverse(BULK, S2, obs)])
    model_cdf = spike_law.cdf(theta)
    emp = np.arange(1, k + 1) / k
    ks = max(np.max(emp - model_cdf), np.max(model_cdf - (emp - 1 / k)))
    assert ks < 1.5 / math.sqrt(k)
    # the histogram against the push-forward density, bin by bin in mass
    edges, dens = histogram(obs, bins=4)
    mid = 0.5 * (edges[1:] + edges[:-1])
    g = rs.pushforward_density(BULK, S2, spike_law, mid)
    assert_allclose(dens, g, rtol=0.5)


def test_histogram_is_a_density() -> None:
    edges, dens = histogram(np.random.default_rng(0).normal(size=1000))
    assert_allclose(np.sum(dens * np.diff(edges)), 1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"noise": "student_t", "df": 4.0}, "student_t noise needs df > 4 (finite fourth moment)"),
        ({"noise": "sparse", "density": 0.0}, "sparse noise needs density in (0, 1]"),
        ({"noise": "cauchy"}, "noise distribution must be one of"),
        ({"spikes": list(range(11))}, "11 spikes do not fit in a matrix of size 10"),
        ({"matrix": np.eye(3)}, "matrix must be 10 x 10, got shape (3, 3)"),
        ({"top": 11}, "top must be in [1, n] = [1, 10], got 11"),
        ({"trials": 0}, "trials must be >= 1, got 0"),
    ],
)
def test_refused_simulation_inputs(kwargs: dict, message: str) -> None:
    with pytest.raises(rs.InvalidParameter, match=re.escape(message)):
        rs.simulate(BULK, S2, 10, **kwargs)


def test_h_spectrum_places_spikes_by_rank() -> None:
    h, ranks = h_spectrum(BULK, 10, [5.0, -5.0, 0.5])
    assert h[0] == 5.0 and h[-1] == -5.0
    assert_array_equal(h[ranks], [5.0, -5.0, 0.5])
    assert np.all(np.diff(h) <= 0)

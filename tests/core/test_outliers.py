"""Outliers (docs/theory/outliers.md): phi, phi', the separation test, thresholds, overlaps,
inverse.

Exact checks against closed forms: for nu = delta_0, phi(theta) = theta + s2/theta,
threshold sigma, overlap 1 - s2/theta^2; for uniform laws and their mixtures phi and
phi' are logarithms and rational functions. A Monte Carlo cross-check (slow) builds
H + W itself and reads outliers and eigenvector overlaps off numpy's eigh.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
from numpy.testing import assert_allclose

import rmtservice as rs
from rmtservice.simulate import h_spectrum, wigner


@pytest.mark.parametrize("s2", [0.25, 1.0, 3.0])
def test_point_mass_peche(s2: float) -> None:
    """nu = delta_0: separated iff |theta| > sigma; location theta + s2/theta,
    slope = overlap = 1 - s2/theta^2; thresholds -+sigma; swallowed spikes have no
    location and no overlap, and a spike at 0 (on supp nu) has no slope either."""
    sigma = math.sqrt(s2)
    theta = sigma * np.array([3.0, 1.5, 1.01, 0.5, -0.99, -1.2, -4.0])
    rep = rs.outliers(rs.Point(0.0), s2, np.append(theta, 0.0))
    assert_allclose(rep.thresholds, (-sigma, sigma), rtol=1e-13)
    assert_allclose(rep.support.upper, [2 * sigma], rtol=1e-13)
    assert [o.spike for o in rep.outliers] == [*theta.tolist(), 0.0]
    sep = np.abs(theta) > sigma
    for o, t, s in zip(rep.outliers, theta, sep, strict=False):
        assert o.separated == s
        assert o.slope == pytest.approx(1 - s2 / t**2, rel=1e-13)
        if s:
            assert o.location == pytest.approx(t + s2 / t, rel=1e-14)
            assert o.overlap == pytest.approx(1 - s2 / t**2, rel=1e-13)
            assert abs(o.location) > 2 * sigma  # outside supp mu
        else:
            assert o.location is None and o.overlap is None
    last = rep.outliers[-1]
    assert not last.separated and last.slope is None and last.location is None
    assert_allclose(rs.phi(rs.Point(0.0), s2, theta), theta + s2 / theta, rtol=1e-15)
    assert_allclose(rs.phi_prime(rs.Point(0.0), s2, theta), 1 - s2 / theta**2, rtol=1e-13)


def test_spike_exactly_at_the_threshold_sticks_to_the_edge() -> None:
    """phi'(sigma) = 0: not separated (the eigenvalue sticks to the edge 2 sigma)."""
    rep = rs.outliers(rs.Point(0.0), 4.0, [2.0, -2.0])
    assert [o.separated for o in rep.outliers] == [False, False]
    assert [o.slope for o in rep.outliers] == [0.0, 0.0]


# nu: two uniform blocks with a gap (-1, 1); s2 = 0.1
BLOCKS = rs.Mixture([(0.5, rs.Uniform(-3.0, -1.0)), (0.5, rs.Uniform(1.0, 3.0))])
S2 = 0.1


def _phi_blocks(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """phi and phi' for BLOCKS in closed form: int_a^b dx / (2 (t - x)) = log|(t-a)/(t-b)|/2
    per unit-width law, and phi' = 1 - s2 sum_i p_i / ((t - a_i)(t - b_i))."""
    phi = t.copy()
    dphi = np.ones_like(t)
    for a, b in [(-3.0, -1.0), (1.0, 3.0)]:
        phi += S2 * 0.5 * np.log(np.abs((t - a) / (t - b))) / (b - a)
        dphi -= S2 * 0.5 / ((t - a) * (t - b))
    return phi, dphi


def test_spikes_above_below_and_in_a_gap() -> None:
    """Spikes above, below and inside the gap of supp nu: separated iff phi' > 0 (closed
    form), locations phi(theta) outside supp mu (in the gap for a gap spike)."""
    theta = np.array([5.0, 3.2, -3.4, -6.0, 0.0, 0.5, -0.8, 0.99, -0.999])
    phi, dphi = _phi_blocks(theta)
    assert_allclose(rs.phi(BLOCKS, S2, theta), phi, rtol=0, atol=1e-13)
    assert_allclose(rs.phi_prime(BLOCKS, S2, theta), dphi, rtol=0, atol=1e-12)
    rep = rs.outliers(BLOCKS, S2, theta)
    sup = rep.support
    assert len(sup) == 2 and sup.upper[0] < 0 < sup.lower[1]
    expected = dphi > 0
    assert expected.tolist() == [True, True, True, True, True, True, True, False, False]
    for o, p, d, e in zip(rep.outliers, phi, dphi, expected, strict=True):
        assert o.separated == e
        assert o.slope == pytest.approx(d, abs=1e-12)
        if e:
            assert o.location == pytest.approx(p, abs=1e-13)
            assert o.overlap == pytest.approx(d, abs=1e-12)
            _, inside = sup.locate(np.array([p]))
            assert not inside[0]
    gap_loc = [o.location for o in rep.outliers[4:7]]
    assert all(sup.upper[0] < y < sup.lower[1] for y in gap_loc)
    # the thresholds are the outer roots of phi' = 0 (a quadratic per side, solved here)
    lo_t, hi_t = rep.thresholds
    assert_allclose(_phi_blocks(np.array([lo_t, hi_t]))[1], 0, atol=1e-12)
    assert_allclose(rs.phi(BLOCKS, S2, [lo_t, hi_t]), [sup.lower[0], sup.upper[-1]], rtol=1e-14)


def test_uniform_thresholds_closed_form() -> None:
    """nu uniform on [a, b]: phi'(t) = 1 - s2/((t - a)(t - b)), so the thresholds are
    ((a + b) -+ sqrt((b - a)^2 + 4 s2)) / 2."""
    a, b, s2 = -1.0, 2.0, 0.3
    root = math.sqrt((b - a) ** 2 + 4 * s2)
    rep = rs.outliers(rs.Uniform(a, b), s2, [])
    assert rep.outliers == []
    assert_allclose(rep.thresholds, ((a + b - root) / 2, (a + b + root) / 2), rtol=1e-13)


def test_inverse_map() -> None:
    """inverse(phi(theta)) = theta for separated spikes (above, below, in the gap);
    observed values inside supp mu map to None; the spike found has phi' > 0."""
    theta = np.array([5.0, 3.2, -3.4, 0.0, 0.5, -0.8])
    y = rs.phi(BLOCKS, S2, theta)
    res = rs.inverse(BLOCKS, S2, y)
    assert [r.observed for r in res] == y.tolist()
    assert_allclose([r.spike for r in res], theta, rtol=0, atol=1e-12)
    sup = rs.support(BLOCKS, S2)
    inside = np.array([sup.lower[0] + 0.1, 0.5 * (sup.lower[1] + sup.upper[1]), sup.upper[1]])
    assert [r.spike for r in rs.inverse(BLOCKS, S2, inside)] == [None, None, None]
    near = 2.0 + 1e-6
    far = rs.inverse(rs.Point(0.0), 1.0, [10.0, -2.5, near, 2.0, 0.3])
    # y = theta + 1/theta  =>  theta = (y + sqrt(y^2 - 4)) / 2 (the root with phi' > 0)
    assert far[0].spike == pytest.approx((10 + math.sqrt(96)) / 2, rel=1e-14)
    assert far[1].spike == pytest.approx((-2.5 - math.sqrt(2.25)) / 2, rel=1e-14)
    # 1e-6 from the edge phi is nearly flat (sqrt conditioning): 1e-9 relative
    root = math.sqrt((near - 2.0) * (near + 2.0))
    assert far[2].spike == pytest.approx((near + root) / 2, rel=1e-9)
    assert far[3].spike is None and far[4].spike is None  # the edge belongs to supp mu


def test_pushforward_density_integrates_to_one() -> None:
    """Theorem 2.1: spikes with law Uniform(3.5, 4.5) give outliers with density
    g(phi^-1(y)) / phi'(phi^-1(y)) on [phi(3.5), phi(4.5)]: total mass 1."""
    law = rs.Uniform(3.5, 4.5)
    lo, hi = rs.phi(BLOCKS, S2, [3.5, 4.5])
    x, w = np.polynomial.legendre.leggauss(40)
    y = 0.5 * (lo + hi) + 0.5 * (hi - lo) * x
    dens = rs.pushforward_density(BLOCKS, S2, law, y)
    assert np.sum(w * dens) * 0.5 * (hi - lo) == pytest.approx(1.0, abs=1e-12)
    assert np.all(rs.pushforward_density(BLOCKS, S2, law, [lo - 0.01, 0.0, hi + 0.01]) == 0)


@pytest.mark.slow
def test_monte_carlo_outliers_and_overlaps() -> None:
    """H + W at n = 800 (seeded): each separated spike (above, below, in the gap) gives
    an eigenvalue within 4 n^(-1/2) of phi(theta) at its rank, whose eigenvector has a
    squared overlap with the spike's direction within 0.03 of phi'(theta); the swallowed
    gap spike gives nothing outside the support. H is diagonal, so the spike direction
    is a standard basis vector."""
    n = 800
    spikes = np.array([4.0, -3.6, 0.3, 0.99])
    h, ranks = h_spectrum(BLOCKS, n, spikes)
    a = wigner(n, S2, np.random.default_rng(2024))
    a.flat[:: n + 1] += h
    rep = rs.outliers(BLOCKS, S2, spikes)
    for o, r in zip(rep.outliers[:3], ranks[:3], strict=True):
        assert o.separated
        # rank r in descending order is index n - 1 - r in LAPACK's ascending order
        w, v = scipy.linalg.eigh(a, lower=True, subset_by_index=[n - 1 - r, n - 1 - r])
        assert abs(w[0] - o.location) < 4 / math.sqrt(n)
        assert abs(v[r, 0] ** 2 - o.overlap) < 0.03
    assert not rep.outliers[3].separated
    # exactly three eigenvalues lie clearly outside supp mu (edge fluctuations ~n^(-2/3))
    sup = rep.support
    windows = [
        (-np.inf, sup.lower[0] - 0.05),
        (sup.upper[0] + 0.05, sup.lower[1] - 0.05),
        (sup.upper[1] + 0.05, np.inf),
    ]
    counts = [
        scipy.linalg.eigh(a, lower=True, eigvals_only=True, subset_by_value=win).size
        for win in windows
    ]
    assert counts == [1, 1, 1]
    # the core's own simulation (same construction) agrees
    sim = rs.simulate(BLOCKS, S2, n, spikes=spikes, seed=7)
    for o in sim.outliers[:3]:
        assert abs(o.observed - o.predicted) < 4 / math.sqrt(n)
    assert sim.outliers[3].predicted is None

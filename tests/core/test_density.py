"""The limit on the real line: support components, edges, masses, the exact density.

The density is computed at Im z = 0 exactly (Biane's boundary values; docs/theory/symmetric.md), so
it is compared with closed forms right up to the edges and at a cusp, where any
``x + i eta`` smoothing would be visibly wrong. Edges are checked to 1e-10 against
closed forms computed independently in mpmath; masses to 1e-9 both as returned by
``support`` and as integrals of the density over each component.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

import rmtservice as rs
from rmtservice.density import cdf

from ._reference import density_moments, two_atom_edges, two_atom_f

EPS = float(np.finfo(float).eps)


@pytest.mark.parametrize("s2", [1e-8, 0.01, 1.0, 30.0])
@pytest.mark.parametrize("center", [0.0, -1.25])
def test_semicircle_edges(s2: float, center: float) -> None:
    """nu = delta_c: supp mu = [c - 2 sigma, c + 2 sigma], mass 1, thresholds c -+ sigma."""
    sup = rs.support(rs.Point(center), s2)
    sigma = math.sqrt(s2)
    assert len(sup) == 1
    assert_allclose(sup.lower, [center - 2 * sigma], rtol=0, atol=1e-10)
    assert_allclose(sup.upper, [center + 2 * sigma], rtol=0, atol=1e-10)
    assert_allclose(sup.mass, [1.0], rtol=0, atol=1e-15)
    assert_allclose(sup.thresholds, (center - sigma, center + sigma), rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    ("a", "s2"), [(1.0, 0.25), (2.0, 1.0), (1.0, 0.9), (1.0, 1.1), (3.0, 0.01), (0.5, 5.0)]
)
def test_two_atom_edges_and_masses(a: float, s2: float) -> None:
    """Edges are phi at the roots of phi' (a quadratic in u^2, solved in mpmath); two
    components of mass 1/2 each iff s2 < a^2, one otherwise; the density integrates
    to the same masses."""
    measure = rs.Atoms([-a, a])
    sup = rs.support(measure, s2)
    lower, upper = two_atom_edges(a, s2)
    assert len(sup) == len(lower) == (2 if s2 < a * a else 1)
    assert_allclose(sup.lower, lower, rtol=0, atol=1e-10)
    assert_allclose(sup.upper, upper, rtol=0, atol=1e-10)
    assert_allclose(sup.mass, np.full(len(sup), 1 / len(sup)), rtol=0, atol=1e-9)
    moments = density_moments(measure, s2, sup)
    assert_allclose(moments[:, 0], sup.mass, rtol=0, atol=1e-9)
    # outside the support the density is exactly zero and f is real
    gaps = [sup.lower[0] - 0.1, sup.upper[-1] + 1e-6]
    if len(sup) == 2:
        gaps += [0.0, sup.upper[0] + 1e-9, sup.lower[1] - 1e-9]
    bv = rs.boundary_values(measure, s2, gaps)
    assert np.all(bv.density == 0) and np.all(bv.f.imag == 0) and np.all(bv.omega.imag == 0)


def test_cusp_two_atoms() -> None:
    """Atoms -1, 1 and s2 = 1 = a^2: one component [-3 sqrt(3)/2, 3 sqrt(3)/2] whose
    density vanishes at 0 like (sqrt(3) / (2 pi)) |x|^(1/3) (phi(w) = -w^3 + O(w^5)).

    At x = 0 the root is triple: a residual at rounding level eps moves omega by
    ~eps^(1/3), so the computed rho(0) is ~1e-5, not 0; the tolerance 1e-4 allows for
    exactly this and nothing more (a smoothed density at eta = 1e-3 would give 0.09).
    """
    measure, s2 = rs.Atoms([-1.0, 1.0]), 1.0
    sup = rs.support(measure, s2)
    edge = 1.5 * math.sqrt(3)
    assert len(sup) == 1
    assert_allclose([sup.lower[0], sup.upper[0]], [-edge, edge], rtol=0, atol=1e-10)
    assert_allclose(sup.mass, [1.0], atol=1e-15)
    # the cusp is detected: rho = 0 exactly there (and at most the rounding level above
    # at the closed-form location 0.0, should the two differ in the last bit)
    assert_allclose(sup.cusp_x, [0.0], atol=1e-12)
    assert rs.density(measure, s2, sup.cusp_x)[0] == 0.0
    assert rs.density(measure, s2, [0.0])[0] <= 1e-4
    x = np.array([1e-3, 1e-5, 1e-7, 1e-9])
    c = math.sqrt(3) / (2 * math.pi)
    for xs in (x, -x):
        assert_allclose(rs.density(measure, s2, xs), c * np.abs(xs) ** (1 / 3), rtol=1e-3)
    # the distribution function is 1/2 at the cusp by symmetry
    assert_allclose(cdf(measure, s2, [0.0]), [0.5], atol=1e-8)
    # away from the cusp the exact cubic holds to 1e-12
    pts = np.concatenate([np.linspace(0.05, edge - 0.03, 15), -np.linspace(0.05, edge - 0.03, 15)])
    f = rs.stieltjes(measure, s2, pts + 0j).f
    assert_allclose(f, [two_atom_f(complex(p), 1.0, s2) for p in pts], rtol=0, atol=1e-12)
    mass = density_moments(measure, s2, sup)[:, 0]
    assert_allclose(mass, [1.0], atol=1e-9)


def test_light_atom_far_away_has_its_own_component() -> None:
    """Atoms -1, 1, 4 with weights 0.499, 0.499, 0.002 and s2 = 0.25: exactly three
    components, with masses 0.499, 0.499, 0.002 (returned and integrated)."""
    measure, s2 = rs.Atoms([-1.0, 1.0, 4.0], [0.499, 0.499, 0.002]), 0.25
    sup = rs.support(measure, s2)
    assert len(sup) == 3
    assert np.all(sup.lower < sup.upper) and np.all(sup.upper[:-1] < sup.lower[1:])
    assert_allclose(sup.mass, [0.499, 0.499, 0.002], rtol=0, atol=1e-9)
    assert sup.lower[2] < 4.0 + s2 * (0.499 / 5 + 0.499 / 3) < sup.upper[2]
    moments = density_moments(measure, s2, sup)
    assert_allclose(moments[:, 0], [0.499, 0.499, 0.002], rtol=0, atol=1e-9)
    # edges are phi at roots of phi' = 0; preimages are critical points of phi
    u = np.concatenate([sup.u_lower, sup.u_upper])
    assert_allclose(rs.phi_prime(measure, s2, u), 0, atol=1e-9)
    assert_allclose(rs.phi(measure, s2, u), np.concatenate([sup.lower, sup.upper]), rtol=1e-15)


def test_density_exact_near_edges() -> None:
    """No smoothing: within delta of a semicircle edge the density equals the closed form
    sqrt(4 s2 - x^2)/(2 pi s2) up to the root-finding tolerance.

    Tolerance: the solver accepts a residual |phi(omega) - x| <= 64 eps * scale
    (scale ~ |x| + |omega| + s2 |f| ~ 3 here) and |phi'(omega)| ~ 2 sqrt(delta) near an
    edge, so |d rho| <= 64 eps * 3 / (2 sqrt(delta) pi s2) ~ 2e-14 / sqrt(delta). The
    smoothed value Im f(x + 1e-8 i) / pi misses by far more than that at every point.
    """
    s2 = 0.5
    e = 2 * math.sqrt(s2)
    delta = np.array([1e-2, 1e-4, 1e-6, 1e-8, 1e-10])
    x = np.concatenate([e * (1 - delta), -e * (1 - delta)])
    d2 = np.concatenate([delta, delta])
    ref = np.sqrt((e - x) * (e + x)) / (2 * math.pi * s2)
    tol = 2e-14 / np.sqrt(d2)
    got = rs.density(rs.Point(0.0), s2, x)
    assert np.all(np.abs(got - ref) <= tol)
    smoothed = rs.stieltjes(rs.Point(0.0), s2, x + 1e-8j).f.imag / math.pi
    assert np.all(np.abs(smoothed - ref) > 10 * tol)
    # at the computed edges: density 0 and omega the thresholds u = -+sigma (a simple
    # root of phi', to rounding); at the rounded closed-form edges +-2 sigma omega is a
    # double root of phi(u) = x, so it moves by ~sqrt(eps): tolerance 1e-7
    sup = rs.support(rs.Point(0.0), s2)
    sigma = math.sqrt(s2)
    bv = rs.boundary_values(rs.Point(0.0), s2, [sup.lower[0], sup.upper[0]], sup=sup)
    assert_allclose(bv.density, 0, atol=0)
    assert_allclose(bv.omega, [-sigma, sigma], rtol=1e-15)
    bv = rs.boundary_values(rs.Point(0.0), s2, [-e, e])
    assert_allclose(bv.density, 0, atol=1e-8)
    assert_allclose(bv.omega, [-sigma, sigma], rtol=1e-7)


def test_density_against_closed_form_semicircle_grid() -> None:
    """rs.density over a full grid (edges included) vs the semicircle density, 1e-12."""
    s2 = 2.0
    sup = rs.support(rs.Point(0.0), s2)
    x = rs.grid(sup, 201)
    assert x[0] == sup.lower[0] and x[-1] == sup.upper[0]
    assert np.all(np.diff(x) > 0) and 195 <= x.size <= 201
    ref = np.sqrt(np.maximum(4 * s2 - x * x, 0)) / (2 * math.pi * s2)
    got = rs.density(rs.Point(0.0), s2, x)
    interior = (x > sup.lower[0] + 0.01) & (x < sup.upper[0] - 0.01)
    assert_allclose(got[interior], ref[interior], rtol=0, atol=1e-12)
    assert_allclose(got, ref, rtol=0, atol=1e-7)  # edge points: sqrt conditioning


@pytest.mark.parametrize("num", [2, 5, 6])
def test_grid_keeps_every_edge(num: int) -> None:
    """Fewer points asked than edges (the schema allows num >= 2): the edges alone
    (issue 13, item 12: num below twice the components was refused)."""
    sup = rs.support(rs.Atoms([-1.0, 1.0, 4.0], [0.499, 0.499, 0.002]), 0.25)
    x = rs.grid(sup, num)
    assert_allclose(x, np.sort(np.concatenate([sup.lower, sup.upper])), rtol=0, atol=0)


@pytest.mark.parametrize(
    "measure",
    [
        rs.Uniform(-1.0, 1.0),
        rs.MarchenkoPastur(1.0),
        rs.MarchenkoPastur(0.25, 3.0),
        rs.Mixture(
            [(0.3, rs.Uniform(-3.0, -1.0)), (0.5, rs.Semicircle(2.0, 1.0)), (0.2, rs.Point(5.0))]
        ),
    ],
    ids=["uniform", "mp_ratio_1", "mp", "mixture"],
)
def test_mass_mean_variance_by_integration(measure: rs.Measure) -> None:
    """Integrals of the exact density: masses match the support's (1e-9), total 1,
    mean(mu) = mean(nu), var(mu) = var(nu) + s2."""
    s2 = 0.1
    sup = rs.support(measure, s2)
    mom = density_moments(measure, s2, sup)
    assert_allclose(mom[:, 0], sup.mass, rtol=0, atol=1e-9)
    total = mom.sum(axis=0)
    assert_allclose(total[0], 1.0, atol=1e-9)
    assert_allclose(total[1], measure.mean, atol=1e-9)
    assert_allclose(total[2] - total[1] ** 2, measure.variance + s2, atol=1e-9)


def test_distribution_function() -> None:
    """rmtservice.density.cdf (documented to ~1e-8): the semicircle's closed-form CDF, and
    the cumulative masses in the gaps of a three-component support."""
    s2 = 0.7
    big = 2 * math.sqrt(s2)
    x = np.linspace(-big - 0.1, big + 0.1, 23)
    assert_allclose(cdf(rs.Point(0.0), s2, x), rs.Semicircle(0.0, big).cdf(x), atol=1e-8)
    measure = rs.Atoms([-1.0, 1.0, 4.0], [0.499, 0.499, 0.002])
    sup = rs.support(measure, 0.25)
    gaps = np.concatenate(
        [[sup.lower[0] - 1], 0.5 * (sup.upper[:-1] + sup.lower[1:]), [sup.upper[-1] + 1]]
    )
    assert_allclose(cdf(measure, 0.25, gaps), [0.0, 0.499, 0.998, 1.0], atol=1e-12)

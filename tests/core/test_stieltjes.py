"""The Stieltjes transform of the limit mu = nu boxplus semicircle(s2) (rs.stieltjes).

Closed forms (docs/theory/symmetric.md): the semicircle law (nu = a point), a semicircle law plus
noise (again a semicircle), two atoms (a cubic), and phi for the uniform law (a
logarithm). Away from the edges of supp mu the error is at most 1e-12 absolute
(|f| is of order 1 in these cases). Within delta of an edge the density has
square-root conditioning: both the closed form and any solver carry an error
~ eps / sqrt(delta) relative, so edge-adjacent points get a tolerance of that size.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from numpy.testing import assert_allclose

import rmtservice as rs

from ._reference import DPS, semicircle_f, two_atom_f, two_atom_roots

EPS = float(np.finfo(float).eps)
ATOL = 1e-12


def _interior(lo: float, hi: float, num: int = 41) -> np.ndarray:
    """Points of (lo, hi) at least 1% of the width away from both edges."""
    return lo + (hi - lo) * np.linspace(0.01, 0.99, num)


@pytest.mark.parametrize(("center", "s2"), [(0.0, 1.0), (0.0, 0.3), (1.5, 2.0), (-0.25, 0.05)])
def test_semicircle_closed_form(center: float, s2: float) -> None:
    """nu = delta_c: f(z) = (-(z - c) + sqrt((z - c)^2 - 4 s2)) / (2 s2), Im f > 0."""
    sigma = math.sqrt(s2)
    x = _interior(center - 2 * sigma, center + 2 * sigma)
    z = np.concatenate(
        [
            x + 0.5j,
            x + 1e-3j,
            x + 1e-9j,
            x + 0j,  # boundary values f(x + i0)
            center + np.array([-3, 2.5, 7.0]) * sigma + 0j,  # outside the support, real
            center + np.array([5 + 5j, -50 + 1j, 1e-3 + 100j]),
        ]
    )
    res = rs.stieltjes(rs.Point(center), s2, z)
    assert_allclose(res.f, semicircle_f(z, s2, center), rtol=0, atol=ATOL)
    # omega - s2 f_nu(omega) = z holds to the solver's residual, 64 eps times the scale
    assert np.all(np.abs(res.omega - (z + s2 * res.f)) <= 1e-13 * (1 + np.abs(z)))
    assert res.f.shape == z.shape and res.z.shape == z.shape


@pytest.mark.parametrize("delta", [1e-4, 1e-8, 1e-12])
def test_semicircle_at_the_edges(delta: float) -> None:
    """Right at the edges +-2 sigma the error is ~eps/sqrt(delta) relative (both sides);
    exactly at an edge f = -x/(2 s2) (the double root)."""
    s2 = 0.7
    e = 2 * math.sqrt(s2)
    x = np.array([e * (1 - delta), e * (1 + delta), -e * (1 - delta), -e * (1 + delta)])
    f = rs.stieltjes(rs.Point(0.0), s2, x.astype(complex)).f
    ref = semicircle_f(x, s2)
    tol = 8 * EPS / math.sqrt(delta) * np.abs(ref)
    assert np.all(np.abs(f - ref) <= tol)
    edges = rs.stieltjes(rs.Point(0.0), s2, [e + 0j, -e + 0j]).f
    assert_allclose(edges, [-e / (2 * s2), e / (2 * s2)], rtol=1e-15)


@pytest.mark.parametrize(
    ("center", "radius", "s2"), [(0.5, 1.5, 0.3), (0.0, 2.0, 1.0), (-1.0, 0.1, 2.0)]
)
def test_semicircle_plus_noise_is_a_semicircle(center: float, radius: float, s2: float) -> None:
    """semicircle(c, r) boxplus semicircle(s2) = semicircle(c, 2 sqrt(r^2/4 + s2))."""
    big = 2 * math.sqrt(radius**2 / 4 + s2)
    measure = rs.Semicircle(center, radius)
    sup = rs.support(measure, s2)
    assert len(sup) == 1
    assert_allclose([sup.lower[0], sup.upper[0]], [center - big, center + big], rtol=0, atol=1e-10)
    x = _interior(center - big, center + big)
    z = np.concatenate([x, x + 0.1j, x + 1e-7j, center + np.array([big + 0.5, -big - 3, 10 + 1j])])
    f = rs.stieltjes(measure, s2, z).f
    assert_allclose(f, semicircle_f(z, big**2 / 4, center), rtol=0, atol=ATOL)
    # and the exact density on the real line
    dens = rs.density(measure, s2, x)
    ref = np.sqrt((big - (x - center)) * (big + (x - center))) * 2 / (math.pi * big**2)
    assert_allclose(dens, ref, rtol=0, atol=ATOL)


TWO_ATOMS = [(1.0, 0.25), (1.0, 1.0), (2.0, 1.0), (1.0, 3.0), (0.5, 0.01)]


@pytest.mark.parametrize(("a", "s2"), TWO_ATOMS)
def test_two_atoms_cubic(a: float, s2: float) -> None:
    """nu = (delta_-a + delta_a)/2: f is the root with Im f > 0 of
    s2^2 f^3 + 2 z s2 f^2 + (z^2 - a^2 + s2) f + z = 0; on the real line outside the
    support f is real and one of the three real roots."""
    measure = rs.Atoms([-a, a])
    sup = rs.support(measure, s2)
    inside = np.concatenate(
        [_interior(lo, hi, 21) for lo, hi in zip(sup.lower, sup.upper, strict=True)]
    )
    if (a, s2) == (1.0, 1.0):
        # cusp at 0: the cube-root conditioning (error ~ eps^(1/3)) is tested separately
        inside = inside[np.abs(inside) > 0.05]
    z = np.concatenate([inside + 0j, inside + 0.2j, inside + 1e-6j, [3 + 4j, -0.1 + 0.01j]])
    f = rs.stieltjes(measure, s2, z).f
    ref = np.array([two_atom_f(complex(zi), a, s2) for zi in z])
    assert_allclose(f, ref, rtol=0, atol=ATOL)
    outside = np.array([sup.lower[0] - 1.0, sup.upper[-1] + 0.1, sup.upper[-1] + 20.0])
    if len(sup) == 2:
        outside = np.append(outside, 0.5 * (sup.upper[0] + sup.lower[1]))
    fo = rs.stieltjes(measure, s2, outside + 0j).f
    assert np.all(fo.imag == 0)
    for xi, fi in zip(outside, fo, strict=True):
        roots = two_atom_roots(complex(xi), a, s2)
        assert all(abs(r.imag) < 1e-25 for r in roots)
        assert min(abs(fi - r) for r in roots) <= ATOL


def test_uniform_phi_is_a_logarithm() -> None:
    """For nu uniform on [a, b]: phi(t) = t - s2 log((b - t)/(a - t)) / (b - a), and
    phi'(t) = 1 - s2 / ((t - a)(t - b)), at real t outside [a, b]."""
    a, b, s2 = -1.0, 2.0, 0.4
    measure = rs.Uniform(a, b)
    t = np.array([-40.0, -3.0, -1.5, -1.0001, 2.0001, 2.5, 4.0, 100.0])
    with mp.workdps(DPS):
        ref = [
            float(mp.mpf(ti) - s2 * mp.log((b - mp.mpf(ti)) / (a - mp.mpf(ti))) / (b - a))
            for ti in t
        ]
    assert_allclose(rs.phi(measure, s2, t), ref, rtol=0, atol=ATOL)
    assert_allclose(rs.phi_prime(measure, s2, t), 1 - s2 / ((t - a) * (t - b)), rtol=1e-14)


MEASURES = {
    "atoms": rs.Atoms([-2.0, -0.5, 1.0, 1.2], [0.25, 0.25, 0.4, 0.1]),
    "uniform": rs.Uniform(-1.0, 1.0),
    "marchenko_pastur": rs.MarchenkoPastur(0.5, 1.0),
    "mixture": rs.Mixture([(0.5, rs.Semicircle(-2.0, 0.5)), (0.5, rs.Point(2.0))]),
}


@pytest.mark.parametrize("name", sorted(MEASURES))
def test_subordination_equation(name: str) -> None:
    """omega = z + s2 f, f = f_nu(omega), phi(omega) = z, Im omega >= Im z, Im f > 0."""
    measure, s2 = MEASURES[name], 0.2
    rng = np.random.default_rng(1)
    z = rng.uniform(-4, 4, 200) + 1j * 10 ** rng.uniform(-10, 1, 200)
    res = rs.stieltjes(measure, s2, z)
    assert np.all(res.f.imag > 0)
    assert np.all(res.omega.imag >= z.imag)
    assert np.all(np.abs(res.f) <= 1 / z.imag)
    assert_allclose(res.omega, z + s2 * res.f, rtol=1e-13, atol=1e-15)
    assert_allclose(measure.stieltjes(res.omega), res.f, rtol=1e-12)
    phi = res.omega - s2 * measure.stieltjes(res.omega)
    scale = np.abs(z) + np.abs(res.omega) + s2 * np.abs(res.f) / np.sqrt(res.omega.imag)
    assert np.all(np.abs(phi - z) <= 1e-13 * np.maximum(scale, 1))


@pytest.mark.parametrize("name", sorted(MEASURES))
def test_boundary_values_are_the_limit_from_above(name: str) -> None:
    """Im z == 0 gives f(x + i0): it equals boundary_values(...).f, and f(x + i eta)
    tends to it as eta -> 0 (|difference| = O(eta) where the density is smooth)."""
    measure, s2 = MEASURES[name], 0.2
    sup = rs.support(measure, s2)
    x = np.concatenate([_interior(lo, hi, 9) for lo, hi in zip(sup.lower, sup.upper, strict=True)])
    x = np.concatenate([x, [sup.lower[0] - 1, sup.upper[-1] + 1]])
    f0 = rs.stieltjes(measure, s2, x + 0j).f
    bv = rs.boundary_values(measure, s2, x, sup=sup)
    assert_allclose(f0, bv.f, rtol=0, atol=0)
    assert_allclose(bv.density, np.maximum(f0.imag, 0) / math.pi, rtol=1e-12, atol=1e-15)
    errs = []
    for eta in [1e-4, 1e-6, 1e-8]:
        errs.append(np.max(np.abs(rs.stieltjes(measure, s2, x + 1j * eta).f - f0)))
    assert errs[2] < 1e-5 and errs[2] < errs[1] < errs[0]


def test_far_away_and_near_the_axis() -> None:
    """f ~ -1/z - mean/z^2 far away (relative precision kept), and a solve at
    Im z = 1e-300 agrees with the boundary value."""
    measure, s2 = MEASURES["atoms"], 0.2
    far = np.array([1e6 + 1j, 1e12j, -1e200 + 1e200j])
    f = rs.stieltjes(measure, s2, far).f
    assert_allclose(f, -1 / far - measure.mean / far / far, rtol=1e-11)
    x = np.array([-2.0, -0.4, 1.1])
    tiny = rs.stieltjes(measure, s2, x + 1e-300j).f
    assert_allclose(tiny, rs.stieltjes(measure, s2, x + 0j).f, rtol=1e-9)

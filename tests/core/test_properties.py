"""Property tests (Hypothesis) over random valid measures nu and noise variances s2.

For every example: Im f > 0 and |f| <= 1/Im z above the axis; phi(omega(z)) = z;
the density is >= 0 and zero outside the support; integrated over each support
component (sqrt-edge substitution + adaptive Gauss-Legendre, see _reference) it gives
the component masses, total mass 1, mean(mu) = mean(nu) and var(mu) = var(nu) + s2,
all to 1e-8.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import rmtservice as rs

from ._reference import density_moments

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# the full float range, subnormal gaps included (they overflow g = s2 int nu/(u - t)^2,
# which the core must handle without a warning)
coord = st.floats(-5.0, 5.0)
positive = st.floats(0.1, 3.0)


@st.composite
def atoms(draw: st.DrawFn) -> rs.Measure:
    n = draw(st.integers(1, 6))
    values = draw(st.lists(coord, min_size=n, max_size=n))
    weights = draw(st.lists(st.floats(1e-3, 1.0), min_size=n, max_size=n))
    return rs.Atoms(values, weights)


simple = st.one_of(
    atoms(),
    st.builds(rs.Point, coord),
    st.builds(lambda lo, w: rs.Uniform(lo, lo + w), coord, positive),
    st.builds(rs.Semicircle, coord, positive),
    st.builds(rs.MarchenkoPastur, st.floats(0.05, 1.0), positive),
)


@st.composite
def mixtures(draw: st.DrawFn) -> rs.Measure:
    parts = draw(st.lists(simple, min_size=2, max_size=3))
    weights = draw(st.lists(st.floats(0.05, 1.0), min_size=len(parts), max_size=len(parts)))
    return rs.Mixture(list(zip(weights, parts, strict=True)))


measures = st.one_of(simple, mixtures())
sigma2s = st.floats(-2.0, 1.0).map(lambda e: 10.0**e)  # 0.01 .. 10, log-uniform


@SETTINGS
@given(measures, sigma2s, st.integers(0, 2**32 - 1))
def test_stieltjes_in_the_upper_half_plane(measure: rs.Measure, s2: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    lo, hi, _ = measure.components()
    spread = hi[-1] - lo[0] + 4 * math.sqrt(s2)
    x = rng.uniform(lo[0] - spread, hi[-1] + spread, 40)
    z = x + 1j * spread * 10.0 ** rng.uniform(-9, 1, 40)
    res = rs.stieltjes(measure, s2, z)
    f, omega = res.f, res.omega
    assert np.all(f.imag > 0)
    assert np.all(np.abs(f) <= 1 / z.imag)
    assert np.all(omega.imag >= z.imag)
    # phi(omega) = z to the solver's acceptance level: 64 eps times the size of the terms
    d = measure.derivatives(omega, 0)[0]
    phi = omega - s2 * d
    scale = np.abs(z) + np.abs(omega) + s2 * np.sqrt(d.imag / omega.imag)
    assert np.all(np.abs(phi - z) <= 64 * np.finfo(float).eps * scale)
    assert_allclose(f, d, rtol=1e-14)


@SETTINGS
@given(measures, sigma2s)
def test_density_integrates_to_masses_mean_and_variance(measure: rs.Measure, s2: float) -> None:
    sup = rs.support(measure, s2)
    assert np.all(sup.lower < sup.upper)
    assert np.all(sup.upper[:-1] < sup.lower[1:])
    assert_allclose(sup.mass.sum(), 1.0, atol=1e-12)
    assert np.all(sup.mass > 0)
    # density >= 0 on a grid over the support, zero (and f real) in the gaps and outside
    x = rs.grid(sup, 120)
    bv = rs.boundary_values(measure, s2, x, sup=sup)
    assert np.all(bv.density >= 0)
    # phi(omega(x + i0)) = x where the density is positive (omega strictly complex)
    on = bv.omega.imag > 0
    w = bv.omega[on]
    d = measure.stieltjes(w)
    scale = np.abs(x[on]) + np.abs(w) + s2 * np.sqrt(d.imag / w.imag)
    assert np.all(np.abs(w - s2 * d - x[on]) <= 64 * np.finfo(float).eps * scale)
    assert_allclose(bv.density[on], d.imag / math.pi, rtol=1e-12)
    gaps = np.concatenate(
        [[sup.lower[0] - 1.0], 0.5 * (sup.upper[:-1] + sup.lower[1:]), [sup.upper[-1] + 1.0]]
    )
    out = rs.boundary_values(measure, s2, gaps, sup=sup)
    assert np.all(out.density == 0) and np.all(out.f.imag == 0)
    # integrals of the exact density over each component
    mom = density_moments(measure, s2, sup)
    scale = max(1.0, abs(measure.mean), math.sqrt(measure.variance + s2))
    assert_allclose(mom[:, 0], sup.mass, rtol=0, atol=1e-8)
    total = mom.sum(axis=0)
    mean = total[1]
    assert_allclose(total[0], 1.0, rtol=0, atol=1e-8)
    assert_allclose(mean, measure.mean, rtol=0, atol=1e-8 * scale)
    assert_allclose(total[2] - mean**2, measure.variance + s2, rtol=0, atol=1e-8 * scale**2)

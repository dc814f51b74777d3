"""Property tests (Hypothesis) of the rectangular model over random laws, sigma2 and c.

nu: atoms (1 to 50, random weights, sometimes one at 0), uniform on [a, b] with a >= 0,
semicircles with center >= radius, point masses, Marchenko-Pastur laws and mixtures of
two or three of these; sigma2 log-uniform in [1e-4, 1e2], c = p/n log-uniform in
[1e-3, 1e3]. For every example:

- the support: edges sorted and disjoint, masses positive and summing to 1;
- the density: >= 0, zero outside the support, integrating over each component (in the
  angle of ``x = a + (b - a)(1 - cos t)/2``, composite Gauss-Legendre) to its mass, with
  ``int x^2 rho = E s^2 + sigma2 max(1, c)`` and
  ``int x^4 rho = E s^4 + 2 sigma2 (1 + c) E s^2 + sigma2^2 (1 + c) max(1, c)``
  (the first two moments of ``Y^T Y``, or ``Y Y^T`` when p > n, from traces);
- the transforms: ``Im m > 0``, ``|m| <= 1/Im z`` for both laws (of ``Y^T Y`` and of
  ``Y Y^T``), ``m_ = c m - (1 - c)/z``, ``m(z) -> boundary value`` at ``Im z = 1e-10``;
- c = 1: the support is that of the symmetric model of the symmetrised law;
- outliers: a separated spike's outlier lies outside the support (above the top edge
  for a spike above the threshold), its overlaps are in (0, 1) with the one in the
  larger space the smaller, and the inverse map gives the spike back.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import rmtservice as rs
from rmtservice import rectangular as rr

from ._rect_reference import component_integrals, has_mp, moment, symmetrised

# (RMT_HYPOTHESIS_EXAMPLES raises the count for a longer hunt; 50 keeps the file ~15 s)
SETTINGS = settings(
    max_examples=int(os.environ.get("RMT_HYPOTHESIS_EXAMPLES", "50")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

width = st.floats(0.1, 3.0)
place = st.floats(0.0, 5.0)


@st.composite
def atoms(draw: st.DrawFn) -> rs.Measure:
    n = draw(st.integers(1, 50))
    values = draw(st.lists(place, min_size=n, max_size=n))
    if draw(st.booleans()):
        values[0] = 0.0
    weights = draw(st.lists(st.floats(1e-3, 1.0), min_size=n, max_size=n))
    return rs.Atoms(values, weights)


simple = st.one_of(
    atoms(),
    st.builds(rs.Point, place),
    st.builds(lambda lo, w: rs.Uniform(lo, lo + w), st.floats(0.0, 3.0), width),
    st.builds(lambda r, gap: rs.Semicircle(r + gap, r), width, st.floats(0.0, 3.0)),
    st.builds(rs.MarchenkoPastur, st.floats(0.05, 1.0), width),
)


@st.composite
def mixtures(draw: st.DrawFn) -> rs.Measure:
    parts = draw(st.lists(simple, min_size=2, max_size=3))
    weights = draw(st.lists(st.floats(0.05, 1.0), min_size=len(parts), max_size=len(parts)))
    return rs.Mixture(list(zip(weights, parts, strict=True)))


measures = st.one_of(simple, mixtures())
sigma2s = st.floats(-4.0, 2.0).map(lambda e: 10.0**e)
aspects = st.floats(-3.0, 3.0).map(lambda e: 10.0**e)
seeds = st.integers(0, 2**32 - 1)


# ------------------------------------------------------------------- properties


@SETTINGS
@given(measures, sigma2s, aspects)
def test_support_is_sorted_disjoint_with_unit_mass(nu: rs.Measure, s2: float, c: float) -> None:
    sup = rr.support(nu, s2, c)
    assert len(sup) >= 1
    assert np.all(np.isfinite(sup.lower)) and np.all(np.isfinite(sup.upper))
    assert sup.lower[0] >= 0
    assert np.all(sup.lower < sup.upper)
    assert np.all(sup.upper[:-1] < sup.lower[1:])
    assert np.all(sup.mass > 0)
    assert_allclose(sup.mass.sum(), 1.0, rtol=0, atol=1e-12)
    # a spike separates above the top edge: sqrt(Phi) at the threshold is that edge
    lower, upper = sup.thresholds
    assert upper >= math.sqrt(float(rr.squared(nu).components()[1][-1]))
    assert lower is None or (sup.zero_gap and 0 < lower)
    assert sup.atom_at_zero == max(0.0, 1 - 1 / c)
    assert sup.companion_atom_at_zero == max(0.0, 1 - c)


@SETTINGS
@given(measures, sigma2s, aspects)
def test_density_masses_and_moments(nu: rs.Measure, s2: float, c: float) -> None:
    """Each component integrates to its mass and the second and fourth moments match the
    trace identities, to 1e-8 (the quadrature is good to about 1e-10)."""
    sup = rr.support(nu, s2, c)

    def dens(x: np.ndarray) -> np.ndarray:
        return rr.boundary_values(nu, s2, c, x, sup=sup).density

    got = component_integrals(dens, sup)
    assert_allclose(got[:, 0], sup.mass, rtol=0, atol=1e-8)
    e2, e4 = moment(nu, 2), moment(nu, 4)
    second = e2 + s2 * max(1.0, c)
    fourth = e4 + 2 * s2 * (1 + c) * e2 + s2 * s2 * (1 + c) * max(1.0, c)
    total = got.sum(axis=0)
    assert_allclose(total[1], second, rtol=1e-8)
    assert_allclose(total[2], fourth, rtol=1e-8)


@SETTINGS
@given(measures, sigma2s, aspects, seeds)
def test_density_nonnegative_and_zero_outside(
    nu: rs.Measure, s2: float, c: float, seed: int
) -> None:
    sup = rr.support(nu, s2, c)
    rng = np.random.default_rng(seed)
    top = float(sup.upper[-1])
    x = np.concatenate([rng.uniform(0, 1.2 * top, 200), sup.lower, sup.upper, [0.0]])
    bv = rr.boundary_values(nu, s2, c, x, sup=sup)
    assert np.all(np.isfinite(bv.density)) and np.all(bv.density >= 0)
    # finite everywhere but at a pole at x = 0 (an atom at 0, or c = 1 reaching 0): inf
    zero = x == 0
    for m, pole in zip((bv.m, bv.m_companion), rr.poles_at_zero(sup), strict=True):
        assert np.all(np.isfinite(m[~zero]))
        assert np.all(m[zero] == np.inf) if pole else np.all(np.isfinite(m[zero]))
    _, inside = sup.locate(x)
    assert np.all(bv.density[~inside] == 0)
    # in every gap, above the top, and in the gap at zero
    gaps = np.concatenate([0.5 * (sup.upper[:-1] + sup.lower[1:]), [1.01 * top, 2 * top + 1]])
    if sup.zero_gap:
        gaps = np.concatenate([gaps, [0.5 * sup.lower[0]]])
    out = rr.boundary_values(nu, s2, c, gaps, sup=sup)
    assert np.all(out.density == 0)
    assert np.all(out.m.imag == 0) and np.all(np.isfinite(out.m))


@SETTINGS
@given(measures, sigma2s, aspects, seeds)
def test_stieltjes_in_the_upper_half_plane(nu: rs.Measure, s2: float, c: float, seed: int) -> None:
    """Both transforms are those of probability laws on [0, inf): Im m > 0 and
    |m| <= 1/Im z (down to Im z = 1e-12 of the scale), related by m_ = c m - (1 - c)/z."""
    sup = rr.support(nu, s2, c)
    rng = np.random.default_rng(seed)
    scale = float(sup.upper[-1]) ** 2 + s2
    z = rng.uniform(-scale, 2 * scale, 40) + 1j * scale * 10.0 ** rng.uniform(-12, 1, 40)
    r = rr.stieltjes(nu, s2, c, z, sup=sup)
    for m in (r.m, r.m_companion):
        assert np.all(np.isfinite(m))
        assert np.all(m.imag > 0)
        assert np.all(np.abs(m) * z.imag <= 1 + 1e-12)
    # (to 1e-9 of the size of the terms: c m and (1 - c)/z cancel when c is large)
    size = c * np.abs(r.m) + abs(1 - c) / np.abs(z) + np.abs(r.m_companion)
    assert np.all(np.abs(r.m_companion - (c * r.m - (1 - c) / z)) <= 1e-9 * size)


@SETTINGS
@given(measures, sigma2s, aspects, seeds)
def test_stieltjes_near_the_axis_meets_the_boundary_values(
    nu: rs.Measure, s2: float, c: float, seed: int
) -> None:
    """m(t + i eta) against m(t + i0) from the real-axis solver (t = x^2), at points inside
    the components (a fifth of a width from the edges) and in the gaps, with eta 1e-10 of
    the distance d from t to the nearest edge (in t): m is smooth on that scale, so they
    agree to about eta / d = 1e-10 relative (1e-6 allowed)."""
    sup = rr.support(nu, s2, c)
    rng = np.random.default_rng(seed)
    k = rng.integers(0, len(sup), 20)
    a, b = sup.lower[k], sup.upper[k]
    x = a + (b - a) * rng.uniform(0.2, 0.8, k.size)
    gaps = 0.5 * (sup.upper[:-1] + sup.lower[1:])
    x = np.concatenate([x, gaps, [1.5 * sup.upper[-1]]])
    t, edges = x * x, np.concatenate([sup.lower, sup.upper]) ** 2
    dist = np.min(np.abs(t[:, None] - edges[None, :]), axis=1)
    on = rr.boundary_values(nu, s2, c, x, sup=sup)
    above = rr.stieltjes(nu, s2, c, t + 1e-10j * dist, sup=sup)
    for m_above, m_on in ((above.m, on.m), (above.m_companion, on.m_companion)):
        assert np.all(np.abs(m_above - m_on) <= 1e-6 * np.abs(m_on))
    # the density counts the min(n, p) singular values: 2 x Im m(x^2) / pi, times c when
    # p > n (m is that of Y^T Y, whose n/p of the mass away from 0 are the singular values)
    expected = 2 * x * np.maximum(on.m.imag, 0) * max(1.0, c) / math.pi
    assert_allclose(on.density, expected, rtol=1e-9, atol=1e-14 * expected.max())


@SETTINGS
@given(
    measures.filter(lambda nu: not has_mp(nu)),
    st.floats(-4.0, 1.0).map(lambda e: 10.0**e),
)
def test_square_case_is_the_symmetric_model(nu: rs.Measure, s2: float) -> None:
    """c = 1: the components are the non-negative parts of those of the symmetric model
    of (nu + nu(-.))/2 (edges 1e-9 of the extent)."""
    sup = rr.support(nu, s2, 1.0)
    ref = rs.support(symmetrised(nu), s2)
    keep = ref.upper > 0
    extent = float(ref.upper[-1])
    assert len(sup) == int(keep.sum())
    assert_allclose(sup.lower, np.maximum(ref.lower[keep], 0), rtol=0, atol=1e-9 * extent)
    assert_allclose(sup.upper, ref.upper[keep], rtol=0, atol=1e-9 * extent)


@SETTINGS
@given(measures, sigma2s, aspects, st.lists(st.floats(1.0001, 5.0), min_size=1, max_size=4))
def test_top_spikes_separate_above_the_edge(
    nu: rs.Measure, s2: float, c: float, factors: list[float]
) -> None:
    """Spikes above the threshold give outliers above the top edge, in the same order,
    overlaps in (0, 1) (the vectors in the larger space overlap less); the inverse map
    recovers the spikes (1e-8)."""
    sup = rr.support(nu, s2, c)
    thr = sup.thresholds[1]
    theta = np.sort(thr * np.array(factors))
    report = rr.outliers(nu, s2, c, theta, sup=sup)
    assert report.threshold == thr
    loc = np.array([o.location for o in report.outliers])
    assert all(o.separated for o in report.outliers)
    assert np.all(loc > sup.upper[-1])
    assert np.all(np.diff(loc) >= -4 * np.finfo(float).eps * loc[1:])  # (equal spikes)
    for o in report.outliers:
        assert o.left_overlap is not None and o.right_overlap is not None
        assert 0 < o.left_overlap < 1 and 0 < o.right_overlap < 1
        if c < 1:
            assert o.left_overlap <= o.right_overlap
        elif c > 1:
            assert o.right_overlap <= o.left_overlap
    back = np.array([r.spike for r in rr.inverse(nu, s2, c, loc, sup=sup)])
    assert_allclose(back, theta, rtol=1e-8)
    # just below the threshold (and above the law's top) nothing separates
    below = max(0.999 * thr, math.sqrt(float(rr.squared(nu).components()[1][-1])) * 1.0001)
    if below < thr:
        assert not rr.outliers(nu, s2, c, [below], sup=sup).outliers[0].separated


@SETTINGS
@given(measures, sigma2s, aspects, seeds)
def test_any_separated_spike_lies_outside_and_inverts(
    nu: rs.Measure, s2: float, c: float, seed: int
) -> None:
    """Spikes anywhere in [0, 1.5 threshold]: each one reported separated (in a gap,
    in the gap at zero, or above) has its outlier outside the support, and the inverse
    map returns it wherever the outlier is one that a spike >= 0 explains."""
    sup = rr.support(nu, s2, c)
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0, 1.5 * sup.thresholds[1], 30)
    report = rr.outliers(nu, s2, c, theta, sup=sup)
    sep = [o for o in report.outliers if o.separated]
    if not sep:
        return
    loc = np.array([o.location for o in sep])
    assert np.all(~sup.locate(loc)[1])
    for o in sep:
        assert 0 <= o.left_overlap <= 1 and 0 <= o.right_overlap <= 1  # type: ignore[operator]
    back = rr.inverse(nu, s2, c, loc, sup=sup)
    for o, r in zip(sep, back, strict=True):
        assert r.spike is not None
        assert r.spike == pytest.approx(o.spike, rel=1e-7, abs=1e-9)

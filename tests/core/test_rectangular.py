"""The rectangular model S + X: closed forms, the square case, outliers, the squared laws.

References are independent of the solver under test: the Marchenko-Pastur law in closed
form (pure noise), the symmetric core applied to the symmetrised law ``(nu + nu(-.))/2``
(docs/theory/rectangular.md: for c = 1 the singular values of S + X, symmetrised, are the free
convolution of the symmetrised nu with a semicircle), the pure-noise outlier formulas of
Benaych-Georges and Nadakuditi, and mpmath quadrature for the squared laws.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from numpy.testing import assert_allclose

import rmtservice as rs
from rmtservice import rectangular as rr


def mp_singular_density(x: np.ndarray, s2: float, c: float) -> np.ndarray:
    """Singular-value density of pure noise (per min(n, p) values), in mpmath: 2x times
    the MP law of X^T X (ratio c, scale s2), times c when p > n (its atom 1 - 1/c is not
    a singular value)."""
    out = []
    with mp.workdps(40):
        s2m, cm = mp.mpf(s2), mp.mpf(c)
        a, b = s2m * (1 - mp.sqrt(cm)) ** 2, s2m * (1 + mp.sqrt(cm)) ** 2
        for xi in x:
            lam = mp.mpf(xi) ** 2
            rho = mp.sqrt(max((b - lam) * (lam - a), 0)) / (2 * mp.pi * s2m * cm * lam)
            out.append(float(2 * mp.mpf(xi) * rho * (cm if c > 1 else 1)))
    return np.array(out)


ASPECTS = [1e-3, 0.1, 0.5, 1.0, 2.0, 10.0, 1e3]


@pytest.mark.parametrize("c", ASPECTS)
@pytest.mark.parametrize("s2", [1e-6, 0.7, 50.0])
def test_pure_noise_is_marchenko_pastur(c: float, s2: float) -> None:
    """nu = delta_0: singular values fill [sigma |1 - sqrt c|, sigma (1 + sqrt c)]; the
    density is the Marchenko-Pastur one to 1e-12 (relative), up to the edges, where the
    problem itself is conditioned as ``x / dist(x, edge)``: there ``1e-12 + 4 eps x/dist``."""
    sup = rr.support(rs.Point(0.0), s2, c)
    sigma = math.sqrt(s2)
    assert len(sup) == 1
    assert_allclose(sup.lower, [sigma * abs(1 - math.sqrt(c))], rtol=1e-12, atol=1e-15 * sigma)
    assert_allclose(sup.upper, [sigma * (1 + math.sqrt(c))], rtol=1e-12)
    assert_allclose(sup.mass, [1.0], rtol=0, atol=1e-15)
    assert sup.zero_gap == (c != 1)
    assert sup.atom_at_zero == pytest.approx(max(0.0, 1 - 1 / c), abs=1e-15)
    x = sup.lower[0] + (sup.upper[0] - sup.lower[0]) * np.linspace(1e-6, 1 - 1e-6, 41)
    dist = np.minimum(x - sup.lower[0], sup.upper[0] - x)
    rel = np.abs(rr.density(rs.Point(0.0), s2, c, x) / mp_singular_density(x, s2, c) - 1)
    assert np.all(rel <= 1e-12 + 4 * np.finfo(float).eps * x / dist)
    edges = rr.density(rs.Point(0.0), s2, c, [sup.lower[0], sup.upper[0]])
    # (c = 1: the quarter-circle law, whose density at 0 is 2 / (pi sigma))
    assert edges[1] == 0 and edges[0] == (0.0 if c != 1 else pytest.approx(2 / (math.pi * sigma)))


@pytest.mark.parametrize("c", [0.25, 1.0, 4.0])
def test_pure_noise_stieltjes_solves_the_quadratic(c: float) -> None:
    """m of Y^T Y solves s2 c z m^2 + (z - s2 (1 - c)) m + 1 = 0 with Im m > 0, anywhere
    above the axis (Im z down to 1e-12) and on it; the companion is c m - (1 - c)/z."""
    s2 = 0.8
    z = np.array([0.3 + 0.2j, 2 + 1e-12j, -1 + 1j, 5 + 3j, 1.0 + 1e-9j, 40.0 + 0j, 0.5 + 0j])
    r = rr.stieltjes(rs.Point(0.0), s2, c, z)
    residual = s2 * c * z * r.m**2 + (z - s2 * (1 - c)) * r.m + 1
    assert np.max(np.abs(residual) / (1 + np.abs(z * r.m))) < 1e-12
    assert np.all(r.m.imag[z.imag > 0] > 0)
    assert_allclose(r.m_companion, c * r.m - (1 - c) / z, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("s2", [0.3, 2.0])
@pytest.mark.parametrize("c", [1e-3, 0.25, 0.9, 1.1, 4.0, 1e3])
def test_pure_noise_at_zero(c: float, s2: float) -> None:
    """At z = 0 only the law with the atom has a pole: for n > p the Marchenko-Pastur law
    of Y^T Y (ratio c, scale s2) has m(0) = E[1/t] = 1/(s2 (1 - c)) (the quadratic at
    z = 0), for p > n that of Y Y^T (ratio 1/c, scale s2 c) 1/(s2 (c - 1)); the other
    transform is inf and named."""
    r = rr.stieltjes(rs.Point(0.0), s2, c, [0j, 0.5j])
    finite, pole = (r.m, r.m_companion) if c < 1 else (r.m_companion, r.m)
    assert_allclose(finite[0], 1.0 / (s2 * abs(1.0 - c)), rtol=1e-12)
    assert pole[0] == np.inf and np.isfinite(pole[1])
    why = r.poles_at_zero if c < 1 else r.poles_at_zero[::-1]
    assert why[0] is None and "has an atom" in str(why[1])


def test_zero_is_refused_where_both_transforms_have_a_pole() -> None:
    """c = 1, support reaching 0: both densities blow up at 0, nothing finite there."""
    with pytest.raises(rs.InvalidParameter, match="pole of both m and m_companion"):
        rr.stieltjes(rs.Point(0.0), 1.0, 1.0, [1j, 0j])
    gap = rr.stieltjes(rs.Point(2.0), 1.0, 1.0, [0j])  # a gap at 0: both finite
    assert np.isfinite(gap.m[0]) and gap.m[0] == gap.m_companion[0]


LAWS_SQUARE = [
    rs.Atoms([0.5, 1.0, 1.1, 2.0]),
    rs.Atoms([0.0, 0.3, 2.0], [0.2, 0.5, 0.3]),
    rs.Point(1.5),
    rs.Uniform(0.5, 1.5),
    rs.Uniform(0.0, 2.0),
    rs.Semicircle(2.0, 1.0),
    rs.MarchenkoPastur(0.5, 1.0),
    rs.Mixture([(0.7, rs.Uniform(0.2, 0.8)), (0.3, rs.Point(2.5))]),
]


def symmetrised(nu: rs.Measure) -> rs.Measure:
    """(nu + nu(-.))/2 as a core measure."""
    if isinstance(nu, rs.Atoms):
        return rs.Atoms(np.concatenate([-nu.values, nu.values]), np.tile(nu.weights, 2))
    if isinstance(nu, rs.Point):
        return rs.Atoms([-nu.at, nu.at])
    if isinstance(nu, rs.Uniform):
        return rs.Mixture([(0.5, nu), (0.5, rs.Uniform(-nu.high, -nu.low))])
    if isinstance(nu, rs.Semicircle):
        return rs.Mixture([(0.5, nu), (0.5, rs.Semicircle(-nu.center, nu.radius))])
    if isinstance(nu, rs.Mixture):
        return rs.Mixture([(w, symmetrised(m)) for w, m in nu.parts])
    raise NotImplementedError(type(nu))


@pytest.mark.parametrize(
    "nu", [law for law in LAWS_SQUARE if not isinstance(law, rs.MarchenkoPastur)]
)
@pytest.mark.parametrize("s2", [0.01, 0.2, 2.0])
def test_square_case_is_the_symmetric_model(nu: rs.Measure, s2: float) -> None:
    """c = 1: the singular values' support is the non-negative part of the symmetric
    model's support for the symmetrised law (edges 1e-10, masses 1e-9), and their density
    is twice the symmetric density (1e-10 of its maximum)."""
    sym = symmetrised(nu)
    sup = rr.support(nu, s2, 1.0)
    ref = rs.support(sym, s2)
    keep = ref.upper > 0
    assert len(sup) == int(keep.sum())
    assert_allclose(sup.lower, np.maximum(ref.lower[keep], 0.0), rtol=0, atol=1e-10)
    assert_allclose(sup.upper, ref.upper[keep], rtol=0, atol=1e-10)
    # a component of the symmetric law around 0 holds its mass in singular values; one
    # on the positive side holds half of what it gives them (its mirror holds the rest)
    ref_mass = ref.mass[keep] * np.where(ref.lower[keep] < 0, 1.0, 2.0)
    assert_allclose(sup.mass, ref_mass, rtol=0, atol=1e-9)
    x = np.linspace(0.0, 1.1 * sup.upper[-1], 301)
    dens = rr.density(nu, s2, 1.0, x)
    expected = 2.0 * rs.density(sym, s2, x)
    assert np.max(np.abs(dens - expected)) <= 1e-10 * expected.max()


@pytest.mark.parametrize("c", [0.3, 1.0, 3.0])
def test_pure_noise_outliers(c: float) -> None:
    """nu = delta_0 (x = theta / sigma): Phi = (theta^2 + s2)(theta^2 + c s2)/theta^2,
    threshold sqrt(s2) c^(1/4), right overlap (x^4 - c)/(x^2 (x^2 + c)), left
    (x^4 - c)/(x^2 (x^2 + 1)) (Benaych-Georges and Nadakuditi); below the threshold no
    outlier; the inverse map returns the spike."""
    s2 = 0.6
    thr = math.sqrt(s2) * c**0.25
    theta = np.array([0.5 * thr, thr * (1 + 1e-6), 1.5, 3.0])
    report = rr.outliers(rs.Point(0.0), s2, c, theta)
    assert report.threshold == pytest.approx(thr, rel=1e-12)
    x = theta / math.sqrt(s2)
    loc = np.sqrt((theta**2 + s2) * (theta**2 + c * s2)) / theta
    right = (x**4 - c) / (x**2 * (x**2 + c))
    left = (x**4 - c) / (x**2 * (x**2 + 1))
    o = report.outliers
    assert not o[0].separated and o[0].location is None and o[0].left_overlap is None
    for i in (1, 2, 3):
        assert o[i].separated
        assert o[i].location == pytest.approx(loc[i], rel=1e-12)
        assert o[i].right_overlap == pytest.approx(right[i], rel=1e-9, abs=1e-15)
        assert o[i].left_overlap == pytest.approx(left[i], rel=1e-9, abs=1e-15)
    spikes = [r.spike for r in rr.inverse(rs.Point(0.0), s2, c, loc[2:])]
    assert_allclose(spikes, theta[2:], rtol=1e-12)
    inside = rr.inverse(rs.Point(0.0), s2, c, [0.5 * (report.support.lower[0] + thr)])
    assert inside[0].spike is None or report.support.lower[0] > 0


@pytest.mark.parametrize(
    "nu", [rs.Uniform(0.3, 1.2), rs.Semicircle(1.0, 0.4), rs.MarchenkoPastur(0.3, 0.5)]
)
def test_squared_law_matches_quadrature(nu: rs.Measure) -> None:
    """f_H^(k)(w) = k! int nu(ds) / (s^2 - w)^(k+1), k = 0..3, against mpmath quadrature of
    the base density, both far from 0 (partial fractions) and near it (Gauss nodes)."""
    from ._reference import mp_pdf

    h = rr.squared(nu)
    pdf, pieces = mp_pdf(nu)
    lo = float(pieces[0][0])
    w = np.array(
        [0.01 * lo * lo, -0.1 * lo * lo, 0.2 * lo * lo + 0.05j, 2.0 + 0.3j, -3.0, 30.0 + 1j]
    )
    got = h.derivatives(w, 3)
    with mp.workdps(30):
        for i, wi in enumerate(w):
            for k in range(4):
                ref = math.factorial(k) * mp.quad(
                    lambda s, k=k, wi=wi: pdf(s) / (s * s - mp.mpc(wi)) ** (k + 1),
                    [pieces[0][0], pieces[0][1]],
                )
                assert abs(complex(ref) - got[k, i]) <= 1e-12 * abs(complex(ref)) + 1e-300


def test_masses_and_mean_identity() -> None:
    """Each component's mass is the nu-mass it covers and the density integrates to it;
    int x^2 rho(x) dx = E_nu s^2 + s2 max(1, c) (the mean of Y^T Y is mean(H) + s2)."""
    nu = rs.Atoms([0.2, 1.0, 2.0], [0.25, 0.5, 0.25])
    for c in (0.3, 1.0, 3.0):
        s2 = 0.05
        sup = rr.support(nu, s2, c)
        assert len(sup) == 3
        assert_allclose(sup.mass, [0.25, 0.5, 0.25], rtol=0, atol=1e-12)
        t = np.linspace(0, np.pi, 2001)
        second = 0.0
        for a, b, mass in zip(sup.lower, sup.upper, sup.mass, strict=True):
            x = a + (b - a) * 0.5 * (1 - np.cos(t))
            integrand = rr.density(nu, s2, c, x) * (b - a) * 0.5 * np.sin(t)
            assert np.trapezoid(integrand, t) == pytest.approx(mass, abs=1e-6)
            second += np.trapezoid(integrand * x * x, t)
        expected = float(nu.weights @ nu.values**2) + s2 * max(1.0, c)
        assert second == pytest.approx(expected, rel=1e-6)


def test_transpose_invariance() -> None:
    """The singular values of Y and Y^T are the same: (nu, s2, c) and (nu, s2 c, 1/c) give
    the same support and density, and left/right overlaps swap."""
    nu = rs.Atoms([0.4, 1.3])
    a, b = rr.support(nu, 0.3, 2.5), rr.support(nu, 0.3 * 2.5, 1 / 2.5)
    assert_allclose(a.lower, b.lower, rtol=1e-13)
    assert_allclose(a.upper, b.upper, rtol=1e-13)
    x = np.linspace(0, 3, 50)
    assert_allclose(
        rr.density(nu, 0.3, 2.5, x), rr.density(nu, 0.75, 0.4, x), rtol=1e-12, atol=1e-15
    )
    oa = rr.outliers(nu, 0.3, 2.5, [3.0]).outliers[0]
    ob = rr.outliers(nu, 0.75, 0.4, [3.0]).outliers[0]
    assert oa.left_overlap == pytest.approx(ob.right_overlap, rel=1e-12)
    assert oa.right_overlap == pytest.approx(ob.left_overlap, rel=1e-12)


@pytest.mark.parametrize(
    ("measure", "kwargs", "message"),
    [
        (rs.Atoms([-0.5, 1.0]), {}, "no mass below 0"),
        (rs.Uniform(-1, 1), {}, "no mass below 0"),
        (rs.Point(1.0), {"aspect_ratio": 0.0}, "aspect_ratio = p/n must be in"),
        (rs.Point(1.0), {"aspect_ratio": -2.0}, "aspect_ratio = p/n must be in"),
        (rs.Point(1.0), {"sigma2": 0.0}, "sigma2 must be > 0"),
        (rs.Point(1e80), {}, "singular values of S reach"),
    ],
)
def test_bad_input(measure: rs.Measure, kwargs: dict, message: str) -> None:
    args = {"sigma2": 1.0, "aspect_ratio": 0.5} | kwargs
    with pytest.raises(rs.InvalidParameter, match=message):
        rr.support(measure, args["sigma2"], args["aspect_ratio"])


def test_bad_points() -> None:
    with pytest.raises(rs.InvalidParameter, match="singular values: they must be >= 0"):
        rr.density(rs.Point(1.0), 1.0, 0.5, [-0.1])
    with pytest.raises(rs.InvalidParameter, match="must be >= 0"):
        rr.outliers(rs.Point(1.0), 1.0, 0.5, [-2.0])
    with pytest.raises(rs.InvalidParameter, match="Im z must be >= 0"):
        rr.stieltjes(rs.Point(1.0), 1.0, 0.5, [1 - 1j])

"""Stieltjes transforms of the input laws nu and their derivatives (docs/theory/symmetric.md).

Every closed form is checked against an independent evaluation of

    f_nu^(k)(z) = k! int nu(dt) / (t - z)^(k + 1),   k = 0..3,

by mpmath quadrature (30 digits) of the law's density, or by exact sums over atoms,
at points of the upper half plane and at real points outside ``supp nu``. The
tolerance is relative to ``k! int nu(dt) / |t - z|^(k+1)`` (the size of the terms),
which is what floating point can promise when the integral cancels.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.integrate import quad

import rmtservice as rs
from rmtservice.measures import AtomSums

from ._reference import DPS, mp_pdf, stieltjes_quad

RTOL = 1e-12  # relative to the size of the terms, see the module docstring


def _abs_scale(measure: rs.Measure, z: complex, k: int) -> float:
    """``k! int nu(dt) / |t - z|^(k+1)``."""
    zz = mp.mpc(z)
    if isinstance(measure, rs.Point):
        return math.factorial(k) / float(abs(measure.at - zz)) ** (k + 1)
    if isinstance(measure, rs.Atoms):
        d = np.abs(measure.values - z)
        return math.factorial(k) * math.fsum(measure.weights / d ** (k + 1))
    if isinstance(measure, rs.Mixture):
        return sum(w * _abs_scale(m, z, k) for w, m in measure.parts)
    # a scale only: double-precision adaptive quadrature is plenty
    pdf, intervals = mp_pdf(measure)
    total = 0.0
    for a, b in intervals:
        a, b = float(a), float(b)
        pts = [z.real] if a < z.real < b else None
        total += quad(
            lambda t: float(pdf(mp.mpf(t))) / abs(t - z) ** (k + 1), a, b, points=pts, limit=200
        )[0]
    return math.factorial(k) * total


MEASURES = {
    "point": rs.Point(0.7),
    "atoms": rs.Atoms([-1.5, 0.0, 0.25, 2.0], [0.1, 0.4, 0.2, 0.3]),
    "uniform": rs.Uniform(-1.0, 2.0),
    "semicircle": rs.Semicircle(0.5, 1.5),
    "marchenko_pastur": rs.MarchenkoPastur(0.4, 1.5),
    "marchenko_pastur_ratio_1": rs.MarchenkoPastur(1.0, 2.0),
    "mixture": rs.Mixture(
        [
            (0.3, rs.Uniform(-3.0, -1.0)),
            (0.5, rs.Semicircle(2.0, 1.0)),
            (0.2, rs.Atoms([5.0, 6.0])),
        ]
    ),
    "nested_mixture": rs.Mixture(
        [
            (1.0, rs.Mixture([(1.0, rs.Point(-2.0)), (3.0, rs.MarchenkoPastur(0.5))])),
            (1.0, rs.Uniform(3, 4)),
        ]
    ),
}


def _points(measure: rs.Measure) -> list[complex]:
    """Upper half plane (near and far) and real points outside supp nu."""
    lo, hi, _ = measure.components()
    a, b = float(lo[0]), float(hi[-1])
    mid, w = 0.5 * (a + b), max(b - a, 1.0)
    pts = [
        mid + 0.3j,
        a + 0.05j,  # just above an edge
        b - 0.1 * w + 0.02j,  # close to the support from above
        mid + 10 * w + 5j,  # far away
        a - 0.5,
        b + 0.3,
    ]
    # real points inside gaps of supp nu
    for h, l_next in zip(hi[:-1], lo[1:], strict=True):
        pts.append(0.5 * (h + l_next) + 0j)
    return pts


@pytest.mark.parametrize("name", sorted(MEASURES))
def test_derivatives_match_quadrature(name: str) -> None:
    measure = MEASURES[name]
    pts = _points(measure)
    got = measure.derivatives(np.array(pts), 3)
    assert got.shape == (4, len(pts))
    for j, z in enumerate(pts):
        for k in range(4):
            ref = stieltjes_quad(measure, z, k)
            scale = _abs_scale(measure, z, k)
            assert abs(got[k, j] - ref) <= RTOL * scale, (name, z, k, got[k, j], ref)


@pytest.mark.parametrize("name", sorted(MEASURES))
def test_real_axis_outside_support_is_real(name: str) -> None:
    """Outside supp nu the transform and its derivatives are real, ``f' > 0``, and f is
    increasing on each gap (f' = int nu / (t - x)^2)."""
    measure = MEASURES[name]
    lo, hi, _ = measure.components()
    x = np.concatenate([lo[0] - np.array([5.0, 0.3, 1e-3]), hi[-1] + np.array([1e-3, 0.3, 5.0])])
    d = measure.derivatives(x.astype(complex), 2)
    assert np.all(d.imag == 0)
    assert np.all(d[1].real > 0)
    # f'' = 2 int nu / (t - x)^3: negative to the right of supp nu, positive to the left
    assert np.all(d[2].real[:3] > 0)
    assert np.all(d[2].real[3:] < 0)


@pytest.mark.parametrize("name", sorted(MEASURES))
def test_real_derivatives_are_the_real_parts(name: str) -> None:
    """``real_derivatives`` (real arithmetic where a law has it) gives the real parts of
    ``derivatives`` off supp nu, to rounding, in the shape of its input."""
    measure = MEASURES[name]
    x = np.array([p.real for p in _points(measure) if p.imag == 0])
    x = np.concatenate([x, x - 1e-6]).reshape(2, -1)
    got = measure.real_derivatives(x, 3)
    ref = measure.derivatives(x.astype(complex), 3)
    assert got.shape == ref.shape == (4, *x.shape)
    assert got.dtype == np.float64
    assert_allclose(got, ref.real, rtol=4e-15, atol=0)
    with pytest.raises(rs.InvalidParameter, match="order"):
        measure.real_derivatives(x, 4)


@pytest.mark.parametrize("name", sorted(MEASURES))
def test_upper_half_plane_and_conjugate_symmetry(name: str) -> None:
    """``Im f > 0`` above the axis, ``|f| <= 1/Im z``, ``f(conj z) = conj f(z)``,
    and ``f(z) ~ -1/z`` far away (to full relative precision: no cancellation)."""
    measure = MEASURES[name]
    rng = np.random.default_rng(7)
    z = rng.normal(0, 3, 50) + 1j * 10 ** rng.uniform(-6, 2, 50)
    f = measure.stieltjes(z)
    assert np.all(f.imag > 0)
    assert np.all(np.abs(f) <= 1 / z.imag)
    assert_allclose(measure.stieltjes(z.conj()), f.conj(), rtol=0, atol=0)
    far = np.array([1e8 + 1e7j, -3e12 + 1j, 1e150j, 2e200 + 0j])
    expansion = -1 / far - measure.mean / far / far
    assert_allclose(measure.stieltjes(far), expansion, rtol=1e-7)


@pytest.mark.parametrize(
    "name", ["uniform", "semicircle", "marchenko_pastur", "marchenko_pastur_ratio_1"]
)
def test_real_axis_inside_support_is_boundary_value(name: str) -> None:
    """On the support the value is ``f(x + i0)``: ``Im f = pi pdf(x)`` (Sokhotski-Plemelj),
    and f(x + i eta) -> f(x) (the off-axis closed form is checked against quadrature
    above; |f'| = O(1) away from the edges, so eta = 1e-10 moves f by ~1e-10)."""
    measure = MEASURES[name]
    lo, hi, _ = measure.components()
    x = np.linspace(lo[0], hi[-1], 9)[1:-1]
    f = measure.stieltjes(x.astype(complex))
    assert_allclose(f.imag, np.pi * measure.pdf(x), rtol=1e-13, atol=1e-14)
    near = measure.stieltjes(x + 1e-10j)
    assert np.all(np.abs(f - near) <= 1e-8 * (1 + np.abs(f)))
    assert np.all(np.abs(f - near) > 0)  # the two evaluations are really different paths


def test_uniform_close_to_its_edges() -> None:
    """Regression: the log1p form cancelled near the upper edge (error 3e-5 at distance
    1e-6, -inf within 1e-8). Compare with the logarithm in mpmath right up to both edges."""
    a, b = -1.0, 2.0
    measure = rs.Uniform(a, b)
    z = []
    for d in [1e-1, 1e-3, 1e-6, 1e-9, 1e-13]:
        z += [b + d, b + 1j * d, b + d * (1 + 1j), a - d, a + 1j * d, a - d * (1 - 1j)]
    z = np.array(z)
    got = measure.stieltjes(z)
    with mp.workdps(DPS):
        ref = np.array([complex(mp.log((b - mp.mpc(zi)) / (a - mp.mpc(zi))) / (b - a)) for zi in z])
    assert_allclose(got, ref, rtol=1e-14)


def test_from_matrix_is_the_normalised_resolvent_trace() -> None:
    """For nu = the spectrum of A: ``f^(k)(z) = k! tr (A - z)^-(k+1) / n``."""
    rng = np.random.default_rng(3)
    n = 40
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    lam = np.concatenate([rng.uniform(-2, 2, n - 4), [3.0, 3.0, 3.0, -4.0]])
    a = (q * lam) @ q.T
    a = 0.5 * (a + a.T)
    measure = rs.from_matrix(a.tolist())
    assert isinstance(measure, rs.Atoms)
    assert_allclose(measure.values, np.sort(lam), atol=1e-13)
    assert_allclose(measure.weights, 1 / n, rtol=1e-15)
    pts = np.array([0.1 + 0.5j, 3.0 + 1e-3j, 10.0 + 0j, -5.0 + 0j, 2.5 + 2j])
    got = measure.derivatives(pts, 3)
    for j, z in enumerate(pts):
        r = np.linalg.inv(a - z * np.eye(n))
        rk = np.eye(n)
        for k in range(4):
            rk = rk @ r
            ref = math.factorial(k) * np.trace(rk) / n
            scale = math.factorial(k) * np.mean(1 / np.abs(lam - z) ** (k + 1))
            assert abs(got[k, j] - ref) <= 1e-11 * scale, (z, k)


# ---------------------------------------------------------------------------- treecode


def _direct(t: np.ndarray, w: np.ndarray, z: complex, k: int) -> tuple[complex, float]:
    """``sum_j w_j / (t_j - z)^(k+1)`` summed exactly (fsum of the rounded terms), and
    ``sum_j w_j / |t_j - z|^(k+1)``."""
    d = t - z
    term = w / d ** (k + 1)
    val = complex(math.fsum(term.real), math.fsum(term.imag))
    return val, math.fsum(w / np.abs(d) ** (k + 1))


@pytest.mark.parametrize("n", [65, 1000, 4097])
def test_treecode_matches_direct_sums(n: int) -> None:
    """AtomSums (the treecode behind Atoms) against exact direct sums, orders 0..3,
    at points near atoms, between them on the axis, inside clusters and far away."""
    rng = np.random.default_rng(n)
    t = np.sort(
        np.concatenate(
            [
                rng.normal(0, 1, n - n // 4 - 3),
                5 + 1e-9 * rng.random(n // 4),  # a tight cluster
                [10.0, 10.0, 40.0],  # repeated and isolated atoms
            ]
        )
    )
    w = rng.uniform(1e-6, 1, t.size)
    w /= w.sum()
    sums = AtomSums(t, w)
    gaps = 0.5 * (t[1:] + t[:-1])[np.diff(t) > 1e-12]
    z = np.concatenate(
        [
            rng.choice(t, 20) + 1j * 10 ** rng.uniform(-8, 0, 20),
            rng.choice(gaps, 20) + 0j,
            [5 + 5e-10 + 1e-10j, 5 - 1e-3 + 0j, 10 + 1e-12j, 39.0 + 0j, 1e6 + 0j],
            rng.normal(0, 30, 20) + 1j * rng.uniform(0, 30, 20),
        ]
    )
    got = sums(z, 3)
    assert got.shape == (4, z.size)
    for j, zj in enumerate(z):
        for k in range(4):
            ref, scale = _direct(t, w, complex(zj), k)
            assert abs(got[k, j] - ref) <= 1e-13 * scale, (zj, k, got[k, j], ref)


def test_many_atoms_use_the_treecode_consistently() -> None:
    """An Atoms measure with 10^5 atoms: derivatives through the public API equal exact
    direct sums (orders 0..3), and a treecode on a permuted copy gives the same values."""
    rng = np.random.default_rng(11)
    x = rng.uniform(-1, 1, 100_000)
    measure = rs.Atoms(x)
    z = np.array([0.3 + 1e-4j, 0.999 + 1e-6j, 1.5 + 0j, -1.0001 + 0j, 0.0 + 0.5j, 100 + 0j])
    got = measure.derivatives(z, 3)
    w = np.full(x.size, 1 / x.size)
    for j, zj in enumerate(z):
        for k in range(4):
            ref, scale = _direct(x, w, complex(zj), k)
            assert abs(got[k, j] / math.factorial(k) - ref) <= 1e-13 * scale, (zj, k)
    shuffled = rs.Atoms(rng.permutation(x))
    assert_allclose(shuffled.derivatives(z, 3), got, rtol=1e-14)


# ------------------------------------------------------------------ moments and masses


@pytest.mark.parametrize("name", sorted(MEASURES))
def test_mean_variance_and_components(name: str) -> None:
    """``mean``, ``variance`` and the component masses against integrals of the law."""
    measure = MEASURES[name]
    lo, hi, mass = measure.components()
    assert np.all(lo <= hi) and np.all(hi[:-1] < lo[1:])
    assert_allclose(mass.sum(), 1.0, rtol=1e-15)
    # moments from the expansion f(z) = -sum_k m_k / z^(k+1) at a large real z: use
    # quadrature of the law instead for an independent value
    m1 = _moment(measure, 1)
    m2 = _moment(measure, 2)
    assert_allclose(measure.mean, m1, rtol=1e-13, atol=1e-14)
    assert_allclose(measure.variance, m2 - m1**2, rtol=1e-12, atol=1e-14)


def _moment(measure: rs.Measure, k: int) -> float:
    if isinstance(measure, rs.Point):
        return measure.at**k
    if isinstance(measure, rs.Atoms):
        return math.fsum(measure.weights * measure.values**k)
    if isinstance(measure, rs.Mixture):
        return sum(w * _moment(m, k) for w, m in measure.parts)
    pdf, intervals = mp_pdf(measure)
    with mp.workdps(DPS):
        return float(sum(mp.quad(lambda t: t**k * pdf(t), [a, b]) for a, b in intervals))


@pytest.mark.parametrize(
    "name", ["uniform", "semicircle", "marchenko_pastur", "marchenko_pastur_ratio_1", "mixture"]
)
def test_cdf_and_midpoint_quantiles(name: str) -> None:
    """``cdf`` against quadrature of the density; ``quantile`` inverts it."""
    measure = MEASURES[name]
    lo, hi, _ = measure.components()
    x = np.linspace(lo[0], hi[-1], 7)[1:-1]
    if name != "mixture":
        pdf, ((a, _b),) = mp_pdf(measure)
        with mp.workdps(DPS):
            ref = [float(mp.quad(pdf, [a, xi])) for xi in x]
        assert_allclose(measure.cdf(x), ref, atol=1e-13)
    p = (np.arange(200) + 0.5) / 200
    q = measure.midpoint_quantiles(200)
    assert np.all(np.diff(q) >= 0)
    if name == "mixture":  # atoms: cdf jumps, q is the smallest x with cdf(x) >= p
        assert np.all(measure.cdf(q) >= p - 1e-12)
        assert np.all(measure.cdf(q - 1e-9) < p + 1e-12)
    else:
        assert_allclose(measure.cdf(q), p, atol=1e-12)


def test_moments_and_cdf_of_huge_laws_do_not_raise() -> None:
    # Python floats raise OverflowError on 1e200 ** 2 (numpy gives inf): the moments of
    # a law past the range are inf, and the semicircle's cdf stays in [0, 1]
    huge = [
        rs.Semicircle(-1e220, 1.7976931348623157e308),
        rs.Uniform(-1e200, 1e200),
        rs.Mixture(((0.5, rs.Point(1e200)), (0.5, rs.Point(-1e200)))),
    ]
    for m in huge:
        assert m.variance == math.inf
    cdf = huge[0].cdf(np.array([-1e308, -1e220, 0.0, 1e308]))
    assert np.all((cdf >= 0) & (cdf <= 1)) and cdf[0] < 0.5 < cdf[-1]


def test_weights_whose_sum_passes_the_largest_double_are_normalised() -> None:
    # found by schemathesis: math.fsum raised OverflowError (a 500 from /v1/support)
    big = [7.1e307, 8.2e307, 8.8e307]
    atoms = rs.Atoms([1.0, 2.0, 3.0], big)
    assert_allclose(atoms.weights, np.array(big) / math.fsum(np.array(big) / 8.8e307) / 8.8e307)
    assert math.isclose(math.fsum(atoms.weights), 1.0, rel_tol=1e-15)
    mix = rs.Mixture(tuple((w, rs.Point(x)) for w, x in zip(big, [1.0, 2.0, 3.0], strict=True)))
    assert_allclose([w for w, _ in mix.parts], atoms.weights, rtol=1e-15)
    assert mix.mean == pytest.approx(atoms.mean, rel=1e-15)

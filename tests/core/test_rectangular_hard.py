"""Hard inputs of the rectangular model (issue 15): extreme aspect ratios, an atom at 0,
10^5 atoms, spikes at their threshold, sigma2 over twelve orders of magnitude, many gaps,
cusps; the exact messages of bad input; and the regressions of the bugs found here.

Each case is checked against a mathematical fact: masses and moments by integrating the
density, the transpose (``(nu, s2, c)`` and ``(nu, s2 c, 1/c)`` are the same model), the
symmetric core at c = 1, scaling, or an equivalent law.
"""

from __future__ import annotations

import math
import re
import time

import mpmath as mp
import numpy as np
import pytest
from numpy.testing import assert_allclose

import rmtservice as rs
from rmtservice import rectangular as rr

from ._rect_reference import component_integrals, moment, symmetrised


def check_masses_and_moments(nu: rs.Measure, s2: float, c: float, atol: float = 1e-8) -> None:
    """Components integrate to their masses, the total to 1, and the second moment is
    ``E s^2 + s2 max(1, c)`` (relative ``atol``)."""
    sup = rr.support(nu, s2, c)
    assert np.all(np.isfinite(sup.lower)) and np.all(np.isfinite(sup.upper))
    got = component_integrals(lambda x: rr.boundary_values(nu, s2, c, x, sup=sup).density, sup)
    assert_allclose(got[:, 0], sup.mass, rtol=0, atol=atol)
    assert_allclose(got[:, 0].sum(), 1.0, rtol=0, atol=atol)
    second = moment(nu, 2) + s2 * max(1.0, c)
    assert_allclose(got[:, 1].sum(), second, rtol=atol)


def check_transpose(nu: rs.Measure, s2: float, c: float, x: np.ndarray) -> None:
    """``Y`` and ``Y^T``: (nu, s2, c) and (nu, s2 c, 1/c) have the same singular values."""
    a, b = rr.support(nu, s2, c), rr.support(nu, s2 * c, 1.0 / c)
    assert_allclose(a.lower, b.lower, rtol=1e-12, atol=1e-300)
    assert_allclose(a.upper, b.upper, rtol=1e-12)
    assert_allclose(a.mass, b.mass, rtol=1e-12)
    da, db = rr.density(nu, s2, c, x), rr.density(nu, s2 * c, 1.0 / c, x)
    assert_allclose(da, db, rtol=1e-9, atol=1e-12 * da.max())


# ------------------------------------------------------------ extreme aspect ratios

EXTREME_LAWS = [
    rs.Atoms([0.5, 1.0, 2.0], [0.2, 0.5, 0.3]),
    rs.Point(1.0),
    rs.Uniform(0.5, 1.5),
    rs.Semicircle(2.0, 1.0),
    rs.MarchenkoPastur(0.5, 1.0),
    rs.Mixture([(0.6, rs.Uniform(0.2, 0.8)), (0.4, rs.Atoms([2.0, 3.0]))]),
]


@pytest.mark.parametrize("nu", EXTREME_LAWS, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("c", [1e-3, 1e3])
@pytest.mark.parametrize("s2", [0.01, 1.0])
def test_extreme_aspect_ratios(nu: rs.Measure, c: float, s2: float) -> None:
    """c = 1e-3 (a tall Y: the noise barely moves the singular values) and c = 1e3 (a
    wide Y: at s2 = 1 the noise's sqrt(s2 c) ~ 31 dominates): support and density finite,
    masses and the second moment from the density, the same model as its transpose."""
    check_masses_and_moments(nu, s2, c)
    sup = rr.support(nu, s2, c)
    x = np.linspace(0.0, 1.1 * sup.upper[-1], 301)
    d = rr.density(nu, s2, c, x)
    assert np.all(np.isfinite(d)) and np.all(d >= 0) and d.max() > 0
    check_transpose(nu, s2, c, x)


def test_tall_limit_is_the_law_itself() -> None:
    """c -> 0 with sigma2 fixed: Y^T Y = S^T S + O(sqrt(c)) noise; at c = 1e-3 the
    singular values of Y are those of S, broadened by about sqrt(s2) (1 +- sqrt c) in
    quadrature: the mean of x^2 is E s^2 + s2, to 1e-8."""
    nu = rs.Uniform(1.0, 2.0)
    s2 = 1e-4
    sup = rr.support(nu, s2, 1e-3)
    assert len(sup) == 1
    # edges within sqrt(s2) of 1 and 2 (the squared edges move by s2 (1 +- ...))
    assert abs(sup.lower[0] - 1.0) < 3 * math.sqrt(s2) and abs(sup.upper[0] - 2.0) < 3 * math.sqrt(
        s2
    )
    check_masses_and_moments(nu, s2, 1e-3)


# ------------------------------------------------------------------ an atom at 0

ZERO_LAWS = [
    rs.Atoms([0.0, 1.0, 2.0]),
    rs.Mixture([(0.3, rs.Point(0.0)), (0.7, rs.Uniform(1.0, 2.0))]),
    rs.Atoms([0.0, 1.5], [0.9, 0.1]),
]


@pytest.mark.parametrize("nu", ZERO_LAWS, ids=["atoms", "point-uniform", "mostly-zero"])
@pytest.mark.parametrize("c", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("s2", [0.05, 1.0])
def test_atom_at_zero(nu: rs.Measure, c: float, s2: float) -> None:
    """A rank-deficient S: masses and moments from the density, finite everywhere; the
    transpose agrees; for c = 1 the support is the symmetric model's of (nu + nu(-.))/2,
    whose component around 0 reaches 0 in singular values (density 2 rho_sym(0) there)."""
    check_masses_and_moments(nu, s2, c)
    sup = rr.support(nu, s2, c)
    x = np.linspace(0.0, 1.1 * sup.upper[-1], 201)
    bv = rr.boundary_values(nu, s2, c, x, sup=sup)
    assert np.all(np.isfinite(bv.density)) and np.all(bv.density >= 0)
    assert np.all(np.isfinite(bv.m[1:])) and np.all(np.isfinite(bv.m_companion[1:]))
    check_transpose(nu, s2, c, x)
    if c == 1.0:
        ref = rs.support(symmetrised(nu), s2)
        keep = ref.upper > 0
        assert_allclose(sup.lower, np.maximum(ref.lower[keep], 0.0), rtol=0, atol=1e-10)
        assert_allclose(sup.upper, ref.upper[keep], rtol=0, atol=1e-10)
        assert_allclose(bv.density, 2 * rs.density(symmetrised(nu), s2, x), rtol=1e-9, atol=1e-12)
        assert not sup.zero_gap and bv.density[0] > 0


def test_atom_at_zero_of_both_frames() -> None:
    """p > n: the law of Y^T Y has the atom 1 - n/p at 0 (not singular values) and that of
    Y Y^T none; n > p: the reverse. The transforms show it: m ~ -atom / z near 0."""
    nu = rs.Atoms([0.0, 1.0])
    for c, atom, companion in ((4.0, 0.75, 0.0), (0.25, 0.0, 0.75)):
        sup = rr.support(nu, 0.5, c)
        assert sup.atom_at_zero == pytest.approx(atom, abs=1e-15)
        assert sup.companion_atom_at_zero == pytest.approx(companion, abs=1e-15)
        eta = 1e-9
        r = rr.stieltjes(nu, 0.5, c, [1j * eta])
        # m(i eta) = i atom / eta + O(1) for a law with an atom at 0 and a gap after it
        assert r.m[0].imag * eta == pytest.approx(atom, abs=1e-6)
        assert r.m_companion[0].imag * eta == pytest.approx(companion, abs=1e-6)


# ------------------------------------------------------------------- 10^5 atoms


def test_hundred_thousand_atoms_against_the_equivalent_law() -> None:
    """10^5 atoms made of 1000 values repeated 100 times are the law of those 1000 values:
    support and a 200-point density agree to 1e-12; and 10^5 midpoint quantiles of
    U(0.5, 1.5) are within O(1/N) of the uniform law (2e-4 of the density's maximum,
    edges 1e-4), all in bounded time."""
    base = np.linspace(0.5, 1.5, 1000)
    many = rs.Atoms(np.repeat(base, 100))
    few = rs.Atoms(base)
    s2, c = 0.05, 0.5
    t0 = time.perf_counter()
    sup = rr.support(many, s2, c)
    x = np.linspace(0.0, 1.1 * sup.upper[-1], 200)
    d = rr.density(many, s2, c, x)
    elapsed = time.perf_counter() - t0
    ref = rr.support(few, s2, c)
    assert_allclose(sup.lower, ref.lower, rtol=1e-12)
    assert_allclose(sup.upper, ref.upper, rtol=1e-12)
    assert_allclose(d, rr.density(few, s2, c, x), rtol=0, atol=1e-12 * d.max())
    assert elapsed < 10.0
    quantiles = rs.Atoms(rs.Uniform(0.5, 1.5).midpoint_quantiles(100_000))
    law = rs.Uniform(0.5, 1.5)
    sa, sb = rr.support(quantiles, s2, c), rr.support(law, s2, c)
    assert len(sa) == len(sb) == 1
    assert_allclose(sa.lower, sb.lower, atol=1e-4)
    assert_allclose(sa.upper, sb.upper, atol=1e-4)
    da, db = rr.density(quantiles, s2, c, x), rr.density(law, s2, c, x)
    assert np.max(np.abs(da - db)) < 2e-4 * db.max()


# ------------------------------------------------------------ spikes at the threshold


@pytest.mark.parametrize("nu", [rs.Point(0.0), rs.Uniform(0.0, 1.0), rs.Atoms([0.5, 1.0])])
@pytest.mark.parametrize("c", [0.1, 1.0, 10.0])
def test_spike_just_above_its_threshold(nu: rs.Measure, c: float) -> None:
    """theta = threshold (1 + 1e-6): separated, overlaps O(1e-6) (Phi' vanishes linearly
    at the threshold), the outlier at the edge to O(1e-12) (Phi is flat there: the
    distance is quadratic in theta - threshold); theta = threshold (1 - 1e-6): not."""
    s2 = 0.5
    rep = rr.outliers(nu, s2, c, [0.0])
    thr = rep.threshold
    edge = float(rep.support.upper[-1])
    above, below = rr.outliers(nu, s2, c, [thr * (1 + 1e-6), thr * (1 - 1e-6)]).outliers
    assert above.separated and not below.separated and below.location is None
    assert above.location is not None and above.location >= edge
    assert above.location - edge < 1e-9 * edge
    assert above.left_overlap is not None and above.right_overlap is not None
    assert 0 < above.left_overlap < 1e-4 and 0 < above.right_overlap < 1e-4
    # the overlaps grow linearly from the threshold: 10x further, 10x larger
    far = rr.outliers(nu, s2, c, [thr * (1 + 1e-5)]).outliers[0]
    assert far.right_overlap / above.right_overlap == pytest.approx(10.0, rel=1e-3)  # type: ignore[operator]
    assert far.left_overlap / above.left_overlap == pytest.approx(10.0, rel=1e-3)  # type: ignore[operator]
    # the inverse map of an outlier that close to the edge: theta to about sqrt(eps / 1e-6)
    back = rr.inverse(nu, s2, c, [far.location])[0].spike
    assert back == pytest.approx(thr * (1 + 1e-5), rel=1e-6)


# ------------------------------------------------------------------ scaling


@pytest.mark.parametrize("k", [1e-4, 1e-2, 1.0, 10.0, 100.0])
@pytest.mark.parametrize("c", [0.2, 1.0, 5.0])
def test_scaling_sigma2_from_1e_minus_8_to_1e4(k: float, c: float) -> None:
    """nu scaled by k and sigma2 by k^2 (sigma2 = 1e-8 ... 1e4): the support scales by k,
    the density by 1/k, the masses stay (1e-11), the outliers of k theta scale by k."""
    laws = [
        (rs.Atoms([0.5, 1.0, 2.0]), rs.Atoms([0.5 * k, k, 2.0 * k])),
        (rs.Uniform(0.2, 1.0), rs.Uniform(0.2 * k, k)),
        (rs.MarchenkoPastur(0.5, 1.0), rs.MarchenkoPastur(0.5, k)),
    ]
    s2 = 0.3
    for base, scaled in laws:
        a, b = rr.support(base, s2, c), rr.support(scaled, s2 * k * k, c)
        assert len(a) == len(b)
        assert_allclose(b.lower, k * a.lower, rtol=1e-11, atol=1e-14 * k)
        assert_allclose(b.upper, k * a.upper, rtol=1e-11)
        assert_allclose(b.mass, a.mass, rtol=1e-11)
        x = np.linspace(0.0, 1.1 * a.upper[-1], 101)
        da, db = rr.density(base, s2, c, x), rr.density(scaled, s2 * k * k, c, k * x)
        assert_allclose(db * k, da, rtol=1e-9, atol=1e-12 * da.max())
        oa = rr.outliers(base, s2, c, [4.0]).outliers[0]
        ob = rr.outliers(scaled, s2 * k * k, c, [4.0 * k]).outliers[0]
        assert ob.location == pytest.approx(k * oa.location, rel=1e-11)  # type: ignore[operator]
        assert ob.right_overlap == pytest.approx(oa.right_overlap, rel=1e-9)


# ------------------------------------------------------------ many gaps, cusps


@pytest.mark.parametrize("c", [0.1, 1.0, 10.0])
def test_many_gaps(c: float) -> None:
    """30 atoms at 1, 2, ..., 30 with random weights and little noise: 30 components, each
    holding exactly its atom's weight (1e-12), integrated to it (1e-8), each within
    about sqrt(s2 max(1, c)) of its atom (the noise moves a singular value s to about
    sqrt(s^2 + s2 ...)); density zero in every gap."""
    rng = np.random.default_rng(3)
    values = np.arange(1.0, 31.0)
    weights = rng.uniform(0.01, 1.0, values.size)
    nu = rs.Atoms(values, weights)
    s2 = 0.01 / max(1.0, c)
    sup = rr.support(nu, s2, c)
    assert len(sup) == values.size
    assert_allclose(sup.mass, weights / weights.sum(), rtol=1e-12)
    reach = 3 * math.sqrt(s2 * max(1.0, c))
    assert np.all((sup.lower > values - reach) & (sup.upper < values + reach))
    check_masses_and_moments(nu, s2, c)
    gaps = 0.5 * (sup.upper[:-1] + sup.lower[1:])
    assert np.all(rr.density(nu, s2, c, gaps) == 0)


def _merge_point(nu: rs.Measure, c: float, lo: float, hi: float) -> float:
    """The sigma2 at which the two components of nu merge (bisection on their count)."""
    for _ in range(70):
        mid = 0.5 * (lo + hi)
        if len(rr.support(nu, mid, c)) == 2:
            lo = mid
        else:
            hi = mid
    return hi


@pytest.mark.parametrize("c", [0.3, 1.0, 3.0])
def test_cusp_where_two_components_touch(c: float) -> None:
    """Atoms 1 and 2 at the sigma2 where their components merge: one component with a
    cusp inside, the density there 0 and growing as |x - x_c|^(1/3) on both sides (10x
    further: 10^(1/3) x larger, to 1e-3); just below, two components that nearly touch.
    At c = 1 the merging sigma2 is the symmetric model's for (+-1, +-2)."""
    nu = rs.Atoms([1.0, 2.0])
    s2 = _merge_point(nu, c, 1e-3, 10.0)
    sup = rr.support(nu, s2, c)
    assert len(sup) == 1 and sup.cusp_x.size == 1
    xc = float(sup.cusp_x[0])
    assert rr.density(nu, s2, c, [xc])[0] == 0.0
    for side in (-1.0, 1.0):
        h = xc * np.array([1e-7, 1e-6, 1e-5])
        d = rr.density(nu, s2, c, xc + side * h)
        assert_allclose(d[1:] / d[:-1], 10 ** (1 / 3), rtol=1e-3)
    below = rr.support(nu, s2 * (1 - 1e-9), c)
    assert len(below) == 2 and below.lower[1] - below.upper[0] < 1e-3 * xc
    if c == 1.0:
        # the symmetric model of +-1, +-2: the pairs (1, 2) and (-2, -1) merge there
        sym = symmetrised(nu)
        assert len(rs.support(sym, s2 * (1 + 1e-9))) == 2
        assert len(rs.support(sym, s2 * (1 - 1e-9))) == 4


# ------------------------------------------------------------ never an unconverged value


HARD = [
    (rs.Atoms(np.geomspace(1e-3, 1e3, 40)), 1e-4, 0.5),
    (rs.Atoms([0.0, 1e-6, 1.0, 1.0 + 1e-9]), 1e-8, 2.0),
    (rs.Mixture([(1e-6, rs.Point(5.0)), (1.0, rs.Uniform(0.0, 1.0))]), 0.1, 1.0),
    (rs.MarchenkoPastur(1.0, 1.0), 1e-6, 1e-3),
    (rs.Semicircle(1.0, 1.0), 100.0, 1e3),
]


@pytest.mark.parametrize(("nu", "s2", "c"), HARD)
def test_results_finite_everywhere(nu: rs.Measure, s2: float, c: float) -> None:
    """Over a dense grid, every edge, gap and a far point: the density and both
    transforms (but at a pole at 0) are finite; the cdf is monotone from 0 to 1."""
    sup = rr.support(nu, s2, c)
    top = float(sup.upper[-1])
    x = np.unique(
        np.concatenate([np.linspace(0, 1.2 * top, 2001), sup.lower, sup.upper, [1e3 * top]])
    )
    bv = rr.boundary_values(nu, s2, c, x, sup=sup)
    assert np.all(np.isfinite(bv.density)) and np.all(bv.density >= 0)
    pos = x > 0
    assert np.all(np.isfinite(bv.m[pos])) and np.all(np.isfinite(bv.m_companion[pos]))
    f = rr.cdf(nu, s2, c, x, sup=sup)
    assert f[0] == 0.0 and f[-1] == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(f) >= -1e-12)
    z = x[pos] ** 2 + 1j * 10.0 ** np.linspace(-12, 2, pos.sum()) * (top * top + s2)
    r = rr.stieltjes(nu, s2, c, z, sup=sup)
    assert np.all(np.isfinite(r.m)) and np.all(r.m.imag > 0)


# ------------------------------------------------------------------ bad input


def exact(message: str) -> str:
    return "^" + re.escape(message) + "$"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: rr.support(rs.Atoms([-0.5, 1.0]), 1.0, 0.5),
            "the law of singular values must have no mass below 0; its support starts at -0.5",
        ),
        (
            lambda: rr.support(rs.Uniform(-1.0, 1.0), 1.0, 0.5),
            "the law of singular values must have no mass below 0; its support starts at -1.0",
        ),
        (
            lambda: rr.support(rs.Point(1.0), 1.0, 0.0),
            "aspect_ratio = p/n must be in [1e-06, 1e+06], got 0.0",
        ),
        (
            lambda: rr.support(rs.Point(1.0), 1.0, -2.0),
            "aspect_ratio = p/n must be in [1e-06, 1e+06], got -2.0",
        ),
        (
            lambda: rr.support(rs.Point(1.0), 1.0, math.inf),
            "aspect_ratio = p/n must be in [1e-06, 1e+06], got inf",
        ),
        (
            lambda: rr.support(rs.Point(1.0), 1.0, math.nan),
            "aspect_ratio = p/n must be in [1e-06, 1e+06], got nan",
        ),
        (lambda: rr.support(rs.Point(1.0), 1.0, "wide"), "aspect_ratio must be a number"),
        (lambda: rr.support(rs.Point(1.0), 0.0, 0.5), "sigma2 must be > 0, got 0.0"),
        (lambda: rr.support(rs.Point(1.0), math.nan, 0.5), "sigma2 must be finite, got nan"),
        (
            lambda: rr.outliers(rs.Point(1.0), 1.0, 0.5, [2.0, -1.0]),
            "spikes are singular values: they must be >= 0",
        ),
        (
            lambda: rr.outliers(rs.Point(1.0), 1.0, 0.5, [math.nan]),
            "spikes must contain finite numbers only",
        ),
        (
            lambda: rr.inverse(rs.Point(1.0), 1.0, 0.5, [-3.0]),
            "observed are singular values: they must be >= 0",
        ),
        (
            lambda: rr.density(rs.Point(1.0), 1.0, 0.5, [1.0, math.inf]),
            "x must contain finite numbers only",
        ),
        (
            lambda: rr.density(rs.Point(1.0), 1.0, 0.5, [math.nan]),
            "x must contain finite numbers only",
        ),
        (
            lambda: rr.density(rs.Point(1.0), 1.0, 0.5, [1.0, -0.1]),
            "x are singular values: they must be >= 0",
        ),
        (
            lambda: rr.stieltjes(rs.Point(1.0), 1.0, 0.5, [complex(1.0, math.nan)]),
            "z must contain finite numbers only",
        ),
        (
            lambda: rr.stieltjes(rs.Point(1.0), 1.0, 0.5, [1 - 1j]),
            "Im z must be >= 0 (use m(conj z) = conj m(z))",
        ),
        (
            lambda: rr.stieltjes(rs.Point(0.0), 1.0, 1.0, [0j]),
            "z = 0 is a pole of both m and m_companion: the density of Y^T Y = Y Y^T "
            "blows up like t^(-1/2) at 0; take Im z > 0",
        ),
        (
            lambda: rr.phi(rs.Uniform(1.0, 2.0), 1.0, 0.5, [2.0]),
            "t = 2.0 lies in the support of H, where Phi is not defined",
        ),
        (lambda: rr.simulate(rs.Point(1.0), 1.0, 0, 5), "rows must be >= 1, got 0"),
        (lambda: rr.simulate(rs.Point(1.0), 1.0, 5, -1), "cols must be >= 1, got -1"),
        (
            lambda: rr.simulate(rs.Point(1.0), 1.0, 3, 5, trials=0),
            "trials must be >= 1, got 0",
        ),
        (
            lambda: rr.simulate(rs.Point(1.0), 1.0, 3, 5, top=4),
            "top must be in [1, min(rows, cols)] = [1, 3], got 4",
        ),
        (
            lambda: rr.simulate(rs.Point(1.0), 1.0, 3, 5, top=0),
            "top must be in [1, min(rows, cols)] = [1, 3], got 0",
        ),
        (
            lambda: rr.simulate(rs.Point(1.0), 1.0, 4, 4, spikes=[-1.0]),
            "spikes are singular values: they must be >= 0",
        ),
        (
            lambda: rr.simulate(rs.Atoms([-1.0, 1.0]), 1.0, 4, 4),
            "the law of singular values must have no mass below 0; its support starts at -1.0",
        ),
        (
            lambda: rr.simulate(rs.Point(1.0), 1.0, 4, 4, matrix=np.zeros((4, 3))),
            "matrix must be 4 x 4, got shape (4, 3)",
        ),
        (
            lambda: rr.simulate(rs.Point(1.0), 1.0, 4, 4, noise="cauchy"),
            "noise distribution must be one of gaussian, rademacher, uniform, student_t, "
            "sparse, got 'cauchy'",
        ),
        (
            lambda: rr.simulate(rs.Point(1.0), 1.0, 4, 4, noise="student_t", df=3.0),
            "student_t noise needs df > 4 (finite fourth moment)",
        ),
    ],
)
def test_bad_input_messages(call, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(rs.InvalidParameter, match=exact(message)):
        call()


# ------------------------------------------------------------ regressions


def test_small_lower_edge_costs_no_dense_eigenproblem() -> None:
    """Regression: a continuous law with a lower edge small against its upper one (here
    MP(0.97): 0.0019 of 1.97) made every call build a 4096-node Gauss-Legendre rule by a
    dense eigenproblem (3 to 28 s a call) because the solvers ask for E s^2; E s^2 now
    comes from the law's mean and variance, and the near-zero quadrature uses graded
    panels of 40 nodes."""
    nu = rs.MarchenkoPastur(0.9725638486585847, 0.31877251734262146)
    t0 = time.perf_counter()
    for _ in range(3):
        sup = rr.support(nu, 18.46, 0.1553)
        rr.density(nu, 18.46, 0.1553, np.linspace(sup.lower[0], sup.upper[0], 100))
    assert time.perf_counter() - t0 < 3.0
    h = rr.squared(nu)
    assert h.mean == pytest.approx(moment(nu, 2), rel=1e-14)
    assert "_nodes" not in h.__dict__  # (the mean needs no nodes)
    assert h.variance == pytest.approx(moment(nu, 4) - moment(nu, 2) ** 2, rel=1e-10)


@pytest.mark.parametrize("lo", [1e-2, 1e-6, 1e-12, 1e-100, 1e-176])
def test_squared_law_near_zero_for_a_tiny_lower_edge(lo: float) -> None:
    """Regression: U(l, 1) with l = 1e-176 raised ZeroDivisionError (the number of
    quadrature nodes was 40 / log q with q = 1 in double precision; and s^2 underflows),
    and for l <= 1e-8 the transform near w = 0 lost digits (2e-3 relative at l = 1e-12).
    Now the transform and each derivative that is a double (``~ l^-(2k+1)``) at
    ``|w| <= l^2/4`` match mpmath to 1e-13; c = 1, which asks for f_H(0), is solved."""
    nu = rs.Uniform(lo, 1.0)
    h = rr.squared(nu)
    w = np.array([0.0, -1e-3 * lo * lo, 0.2 * lo * lo + 0.01j * lo * lo, 0.24 * lo * lo])
    orders = [k for k in range(4) if (2 * k + 1) * math.log10(1 / lo) < 300]
    got = h.derivatives(w, max(orders))
    with mp.workdps(25):
        a = mp.mpf(lo)
        top = mp.log(1 / a)
        cuts = [mp.mpf(0), *[mp.mpf(v) for v in (0.5, 2, 8, 32, 128) if v < top], top]
        for i, wi in enumerate(w):
            for k in orders:
                # s = l e^u: the peak at s ~ l becomes a smooth decay in u
                def f(u, k=k, wi=wi):  # type: ignore[no-untyped-def]
                    s = a * mp.exp(u)
                    return s / (s * s - mp.mpc(wi)) ** (k + 1)

                ref = complex(mp.factorial(k) * mp.quad(f, cuts) / (1 - a))
                assert abs(got[k, i] - ref) <= 1e-13 * abs(ref)
    sup = rr.support(nu, 0.1, 1.0)
    assert np.all(np.isfinite(sup.upper)) and np.all(np.isfinite(sup.lower))


@pytest.mark.parametrize(
    ("nu", "c"),
    [
        (rs.Atoms([0.0, 1.0], [0.9, 0.1]), 0.3),
        (rs.Atoms([0.0, 1.0, 2.0]), 0.9),
        (rs.Point(0.0), 1.0),
        (rs.Atoms([1.0]), 2.0),
    ],
)
def test_transforms_at_zero(nu: rs.Measure, c: float) -> None:
    """Regression: at x = 0 the transform with a pole there came out as inf + nan j or a
    finite number of any sign (1/A_ at a rounded zero of A_: -4.5e15, 9e15); now a pole is
    inf in boundary_values and in stieltjes (an exact error there only when both have
    one), and a transform without one is its finite value, the limit of m(i eta) (1e-6 at
    eta = 1e-12)."""
    s2 = 0.5
    sup = rr.support(nu, s2, c)
    bv = rr.boundary_values(nu, s2, c, [0.0], sup=sup)
    near = rr.stieltjes(nu, s2, c, [1e-12j], sup=sup)
    for value, limit, pole in zip(
        (bv.m[0], bv.m_companion[0]),
        (near.m[0], near.m_companion[0]),
        rr.poles_at_zero(sup),
        strict=True,
    ):
        if pole is None:
            assert np.isfinite(value) and value == pytest.approx(limit, rel=1e-6)
        else:
            assert value == np.inf and abs(limit) > 1e5
    if None in rr.poles_at_zero(sup):
        at = rr.stieltjes(nu, s2, c, [0j], sup=sup)
        assert at.m[0] == bv.m[0] and at.m_companion[0] == bv.m_companion[0]
        assert at.poles_at_zero == rr.poles_at_zero(sup)


@pytest.mark.parametrize("s2", [1e-4, 1.0, 100.0])
@pytest.mark.parametrize("c", [1e-3, 0.5, 1.0, 2.0, 1e3])
def test_gap_below_resolution_beside_an_atom_at_zero(s2: float, c: float) -> None:
    """Regression (found by the property tests once the root bracketing's cap raised):
    atoms at 0 and 9.4e-60 (a gap of 8.9e-119 in H) raised NoConvergence for every sigma2
    and c: the gap was 'resolved' against the extent of H alone, the bound ruling gaps
    out is 0 beside an atom at 0, and rho's derivatives overflow across it. Now the
    noise's scale counts: the law is that of a point mass at 0 to double precision."""
    tiny = rs.Atoms([0.0, 9.443516843534429e-60])
    sup, ref = rr.support(tiny, s2, c), rr.support(rs.Point(0.0), s2, c)
    assert len(sup) == len(ref) == 1
    assert_allclose(sup.lower, ref.lower, rtol=1e-12, atol=1e-15 * ref.upper[-1])
    assert_allclose(sup.upper, ref.upper, rtol=1e-12)
    x = np.linspace(0.0, 1.1 * ref.upper[-1], 50)
    assert_allclose(
        rr.density(tiny, s2, c, x), rr.density(rs.Point(0.0), s2, c, x), rtol=1e-9, atol=1e-12
    )
    mixed = rs.Mixture([(0.5, tiny), (0.5, rs.Uniform(0.0, 1.0))])
    assert np.all(np.isfinite(rr.support(mixed, s2, c).upper))

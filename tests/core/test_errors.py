"""Invalid input raises the core's own exceptions (rmtservice/errors.py) with exact
messages and the offending field."""

from __future__ import annotations

import re

import numpy as np
import pytest

import rmtservice as rs

NAN, INF = float("nan"), float("inf")


def _raises(message: str):  # type: ignore[no-untyped-def]
    return pytest.raises(rs.InvalidParameter, match=f"^{re.escape(message)}$")


MEASURE_CASES = [
    (lambda: rs.Atoms([]), "atoms: values must not be empty", "values"),
    (lambda: rs.Atoms([1.0, NAN]), "atoms: values must be finite numbers", "values"),
    (lambda: rs.Atoms([1.0, INF]), "atoms: values must be finite numbers", "values"),
    (
        lambda: rs.Atoms([1.0, 2.0], [1.0]),
        "atoms: weights has length 1 but values has length 2",
        "weights",
    ),
    (lambda: rs.Atoms([1.0, 2.0], [1.0, NAN]), "atoms: weights must be finite numbers", "weights"),
    (
        lambda: rs.Atoms([1.0, 2.0], [1.0, -1e-300]),
        "atoms: weights must be non-negative",
        "weights",
    ),
    (lambda: rs.Atoms([1.0, 2.0], [0.0, 0.0]), "atoms: weights must not all be zero", "weights"),
    (lambda: rs.Point(NAN), "at must be a finite number, got nan", "at"),
    (lambda: rs.Uniform(2.0, 1.0), "uniform: low must be < high, got low=2.0, high=1.0", "high"),
    (lambda: rs.Uniform(1.0, 1.0), "uniform: low must be < high, got low=1.0, high=1.0", "high"),
    (lambda: rs.Uniform(-INF, 1.0), "low must be a finite number, got -inf", "low"),
    (lambda: rs.Semicircle(0.0, 0.0), "semicircle: radius must be > 0, got 0.0", "radius"),
    (lambda: rs.Semicircle(INF, 1.0), "center must be a finite number, got inf", "center"),
    (
        lambda: rs.MarchenkoPastur(0.0),
        "marchenko_pastur: ratio must be in (0, 1], got 0.0",
        "ratio",
    ),
    (
        lambda: rs.MarchenkoPastur(1.5),
        "marchenko_pastur: ratio must be in (0, 1], got 1.5",
        "ratio",
    ),
    (
        lambda: rs.MarchenkoPastur(-0.5),
        "marchenko_pastur: ratio must be in (0, 1], got -0.5",
        "ratio",
    ),
    (
        lambda: rs.MarchenkoPastur(0.5, -1.0),
        "marchenko_pastur: scale must be > 0, got -1.0",
        "scale",
    ),
    (lambda: rs.MarchenkoPastur(NAN), "ratio must be a finite number, got nan", "ratio"),
    (lambda: rs.Mixture([]), "mixture: components must not be empty", "components"),
    (
        lambda: rs.Mixture([(-1.0, rs.Point(0.0)), (2.0, rs.Point(1.0))]),
        "mixture: weights must be non-negative",
        "components",
    ),
    (
        lambda: rs.Mixture([(0.0, rs.Point(0.0))]),
        "mixture: weights must not all be zero",
        "components",
    ),
    (
        lambda: rs.Mixture([(NAN, rs.Point(0.0))]),
        "weight must be a finite number, got nan",
        "weight",
    ),
    (
        lambda: rs.from_matrix([[1.0, 2.0], [3.0]]),
        "matrix: rows must all have the same length",
        None,
    ),
    (
        lambda: rs.from_matrix([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
        "matrix: must be square and non-empty, got shape (2, 3)",
        None,
    ),
    (lambda: rs.from_matrix([]), "matrix: must be square and non-empty, got shape (0,)", None),
    (
        lambda: rs.from_matrix([[0.0, NAN], [NAN, 0.0]]),
        "matrix: entries must be finite numbers",
        None,
    ),
    (
        lambda: rs.from_matrix([[0.0, 1.0], [0.0, 0.0]]),
        "matrix: must be symmetric (max |a_ij - a_ji| = 1)",
        None,
    ),
    (
        lambda: rs.from_matrix([[1.0, 1.0 + 1e-9], [1.0, 1.0]]),
        "matrix: must be symmetric (max |a_ij - a_ji| = 1e-09)",
        None,
    ),
]


@pytest.mark.parametrize(
    ("make", "message", "field"), MEASURE_CASES, ids=[c[1] for c in MEASURE_CASES]
)
def test_invalid_measures(make, message: str, field: str | None) -> None:  # type: ignore[no-untyped-def]
    with _raises(message) as info:
        make()
    assert info.value.message == message
    assert info.value.field == field
    assert isinstance(info.value, ValueError) and isinstance(info.value, rs.RMTError)
    assert info.value.slug == "invalid-parameter"


def test_valid_edge_cases_are_accepted() -> None:
    """ratio exactly 1, a zero weight among positive ones (dropped), a symmetric matrix
    up to rounding, a one-by-one matrix."""
    assert rs.MarchenkoPastur(1.0).ratio == 1.0
    atoms = rs.Atoms([3.0, 1.0, 2.0], [0.0, 1.0, 3.0])
    assert atoms.values.tolist() == [1.0, 2.0] and atoms.weights.tolist() == [0.25, 0.75]
    assert rs.from_matrix([[1.0, 2.0 + 1e-15], [2.0, 1.0]]).values.tolist() == pytest.approx(
        [-1.0, 3.0]
    )
    assert rs.from_matrix([[5.0]]).values.tolist() == [5.0]


SIGMA2_CASES = [
    (0.0, "sigma2 must be > 0, got 0.0"),
    (-1.0, "sigma2 must be > 0, got -1.0"),
    (NAN, "sigma2 must be finite, got nan"),
    (INF, "sigma2 must be finite, got inf"),
    ("abc", "sigma2 must be a number, got the string 'abc'"),
    (None, "sigma2 must be a number, got NoneType"),
]


@pytest.mark.parametrize(("s2", "message"), SIGMA2_CASES, ids=[c[1] for c in SIGMA2_CASES])
@pytest.mark.parametrize(
    "call",
    [
        lambda s2: rs.support(rs.Point(0.0), s2),
        lambda s2: rs.stieltjes(rs.Point(0.0), s2, [1j]),
        lambda s2: rs.density(rs.Point(0.0), s2, [0.0]),
        lambda s2: rs.outliers(rs.Point(0.0), s2, [3.0]),
        lambda s2: rs.inverse(rs.Point(0.0), s2, [3.0]),
        lambda s2: rs.phi(rs.Point(0.0), s2, [3.0]),
        lambda s2: rs.simulate(rs.Point(0.0), s2, 4, seed=0),
    ],
    ids=["support", "stieltjes", "density", "outliers", "inverse", "phi", "simulate"],
)
def test_invalid_sigma2(call, s2: object, message: str) -> None:  # type: ignore[no-untyped-def]
    with _raises(message) as info:
        call(s2)
    assert info.value.field == "sigma2"


POINT_CASES = [
    (lambda: rs.support(rs.Point(0.0), 1e151), "sigma2 must be at most 1e+150", "sigma2"),
    (lambda: rs.stieltjes(rs.Point(0.0), 1e151, [1j]), "sigma2 must be at most 1e+150", "sigma2"),
    (
        lambda: rs.stieltjes(rs.Point(0.0), 1.0, [1j, 0.5 - 1e-300j]),
        "Im z must be >= 0 (use f(conj z) = conj f(z))",
        "z",
    ),
    (
        lambda: rs.stieltjes(rs.Point(0.0), 1.0, [complex(NAN, 1.0)]),
        "z must contain finite numbers only",
        "z",
    ),
    (
        lambda: rs.stieltjes(rs.Point(0.0), 1.0, [complex(1.0, INF)]),
        "z must contain finite numbers only",
        "z",
    ),
    (lambda: rs.density(rs.Point(0.0), 1.0, [0.0, NAN]), "x must contain finite numbers only", "x"),
    (
        lambda: rs.boundary_values(rs.Point(0.0), 1.0, [INF]),
        "x must contain finite numbers only",
        "x",
    ),
    (
        lambda: rs.outliers(rs.Point(0.0), 1.0, [3.0, NAN]),
        "spikes must contain finite numbers only",
        "spikes",
    ),
    (lambda: rs.phi(rs.Point(0.0), 1.0, [INF]), "t must contain finite numbers only", "t"),
    (lambda: rs.phi_prime(rs.Point(0.0), 1.0, [NAN]), "t must contain finite numbers only", "t"),
    (
        lambda: rs.inverse(rs.Point(0.0), 1.0, [NAN]),
        "observed must contain finite numbers only",
        "observed",
    ),
    (
        lambda: rs.support(rs.Atoms([0.0, 1e151]), 1.0),
        "the spectrum of H reaches 1e+151; values must be at most 1e+150 in absolute value",
        "measure",
    ),
    (
        lambda: rs.stieltjes(rs.Atoms([0.0, 1e8]), 1e-14, [1j]),
        "the spectrum of H spans 1e+15 noise standard deviations (more than 1e+14): double "
        "precision cannot resolve the noise at that scale; rescale H and sigma2 together",
        "sigma2",
    ),
    (lambda: rs.Point(0.0).pdf([0.0]), "the point law has no density", "kind"),
    (
        lambda: rs.Mixture([(1.0, rs.Uniform(0.0, 1.0)), (1.0, rs.Point(0.0))]).pdf([0.0]),
        "mixture: the point law has no density",
        "components",
    ),
    (
        lambda: rs.pushforward_density(rs.Point(0.0), 1.0, rs.Point(3.0), [4.0]),
        "the point law has no density",
        "spike_law.kind",
    ),
    (
        lambda: rs.simulate(rs.Point(0.0), 1.0, 3, spikes=[1e150], seed=0),
        "the spikes reach 1e+150, 1e+150 noise standard deviations (more than 1e+14): double "
        "precision cannot resolve the noise, nor the bulk, beside them; rescale the spikes, "
        "H and sigma2 together",
        "spikes",
    ),
    (
        lambda: rs.simulate(
            rs.Point(0.0), 1.0, 8, spike_law=rs.Uniform(1e20, 2e20), spike_count=2, seed=0
        ),
        "the spike law reaches 2e+20, 2e+20 noise standard deviations (more than 1e+14): "
        "double precision cannot resolve the noise, nor the bulk, beside them; rescale the "
        "spikes, H and sigma2 together",
        "spike_law",
    ),
]


@pytest.mark.parametrize(
    ("call", "message", "field"), POINT_CASES, ids=[c[1][:40] for c in POINT_CASES]
)
def test_invalid_points_and_scales(call, message: str, field: str) -> None:  # type: ignore[no-untyped-def]
    with _raises(message) as info:
        call()
    assert info.value.field == field


def test_exception_tree() -> None:
    assert issubclass(rs.InvalidParameter, ValueError)
    assert issubclass(rs.LimitExceeded, ValueError)
    assert issubclass(rs.NoConvergence, ArithmeticError)
    assert issubclass(rs.DeadlineExceeded, TimeoutError)
    for cls in (rs.InvalidParameter, rs.LimitExceeded, rs.NoConvergence, rs.DeadlineExceeded):
        assert issubclass(cls, rs.RMTError)
    slugs = {
        c.slug
        for c in (
            rs.RMTError,
            rs.InvalidParameter,
            rs.LimitExceeded,
            rs.NoConvergence,
            rs.DeadlineExceeded,
        )
    }
    assert len(slugs) == 5
    assert np.isfinite(rs.support(rs.Point(0.0), 1.0).upper).all()  # valid input: no error


def test_derivative_order_is_bounded() -> None:
    with pytest.raises(rs.InvalidParameter, match=re.escape("order must be in 0..3, got 4")):
        rs.Atoms([0.0, 1.0]).derivatives([2 + 1j], 4)


@pytest.mark.parametrize(
    ("measure", "t", "message"),
    [
        (rs.Point(0.0), 0.0, "t = 0.0 lies in the support of nu, where phi is not defined"),
        (rs.Uniform(1.0, 3.0), 2.0, "t = 2.0 lies in the support of nu, where phi is not defined"),
        (rs.Uniform(1.0, 3.0), 3.0, "t = 3.0 lies in the support of nu, where phi is not defined"),
    ],
)
def test_phi_is_refused_on_the_support_of_nu(measure: rs.Measure, t: float, message: str) -> None:
    for fn in (rs.phi, rs.phi_prime):
        with pytest.raises(rs.InvalidParameter, match=re.escape(message)):
            fn(measure, 1.0, [t])


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: rs.Uniform(0.0, 5e-324), "uniform: high - low = 5e-324 is below the resolution"),
        (lambda: rs.Uniform(1.0, 1.0 + 2e-16), "is below the resolution of double precision"),
        (lambda: rs.Semicircle(0.0, 5e-324), "semicircle: radius 5e-324 is below the resolution"),
        (lambda: rs.MarchenkoPastur(5e-324), "marchenko_pastur: ratio 5e-324 is too small"),
        (lambda: rs.MarchenkoPastur(0.5, 1e-200), "scale must be in [1e-150, 1e150], got 1e-200"),
    ],
)
def test_laws_below_double_precision_resolution_are_refused(build, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(rs.InvalidParameter, match=re.escape(message)):
        build()


def test_spikes_the_noise_resolves_pass() -> None:
    """1e13 noise standard deviations: the bulk's eigenvalues stay within rounding
    (eps * 1e13, 2e-3) of the semicircle's support [-2, 2]."""
    sim = rs.simulate(rs.Point(0.0), 1.0, 200, spikes=[1e13], seed=1)
    bulk = sim.eigenvalues[0][1:]
    np.testing.assert_allclose(sim.eigenvalues[0][0], 1e13, rtol=1e-12)
    assert np.all(np.abs(bulk) < 2.5)


def test_spectrum_far_from_the_origin_relative_to_the_noise_is_refused() -> None:
    with pytest.raises(rs.InvalidParameter, match="noise standard deviations"):
        rs.support(rs.Point(1e10), 1e-10)

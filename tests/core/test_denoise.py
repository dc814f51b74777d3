"""Denoising (docs/theory/denoise.md): the formulas, the contracts, the errors.

The formulas are checked against independent references: the closed forms of a
pure-noise bulk (Benaych-Georges and Nadakuditi's outliers and overlaps, the semicircle),
the exact boundary values of the model cores (``rmtservice.density``,
``rmtservice.rectangular``), and the identity ``||S_hat - S||^2 = ||S||^2 - 2 sum v_i o_i
+ sum v_i^2``. The statistical ground truth is in ``test_denoise_oracle.py``.
"""

from __future__ import annotations

import doctest
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.optimize import brentq
from threadpoolctl import threadpool_limits

from rmtservice import InvalidParameter
from rmtservice import denoise as dn
from rmtservice.measures import Point, Uniform

ASPECTS = [0.25, 1.0, 4.0]


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread() -> Iterator[None]:
    """Small decompositions: one BLAS thread (two oversubscribe a busy machine)."""
    with threadpool_limits(1):
        yield


def pure_noise_outlier(theta: float, c: float) -> tuple[float, float, float]:
    """Outlier y and squared left/right overlaps of a spike theta over unit noise
    (docs/theory/rectangular.md)."""
    x2 = theta * theta
    y = math.sqrt((x2 + 1.0) * (x2 + c)) / theta
    return y, (x2 * x2 - c) / (x2 * (x2 + 1.0)), (x2 * x2 - c) / (x2 * (x2 + c))


def shape_for(m: int, c: float) -> tuple[int, int]:
    """An n x p shape with min(n, p) = m and p/n = c."""
    return (round(m / c), m) if c <= 1 else (m, round(m * c))


def noise(n: int, p: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, p)) / math.sqrt(n)


def wigner(n: int, seed: int) -> np.ndarray:
    g = np.random.default_rng(seed).standard_normal((n, n)) / math.sqrt(n)
    return (g + g.T) / math.sqrt(2.0)


# ----------------------------------------------------------------- the formulas


@pytest.mark.parametrize("c", [0.01, 0.25, 1.0, 4.0, 100.0])
def test_optimal_hard_threshold_is_the_break_even_of_keeping_a_spike(c: float) -> None:
    """Keeping the outlier y of a spike theta costs ``y^2 - 2 y theta <u,a><v,b>``
    against dropping it: lambda*(c) is the y where that is 0 (Gavish-Donoho's derivation),
    in the convention of docs/theory c = p/n for every c, and lambda*(1/c) sqrt(c) = lambda*(c)."""

    def cost(theta: float) -> float:
        y, left, right = pure_noise_outlier(theta, c)
        return y - 2.0 * theta * math.sqrt(left * right)

    theta = brentq(cost, c**0.25 * (1 + 1e-9), 100.0)
    y = pure_noise_outlier(theta, c)[0]
    assert_allclose(dn.optimal_hard_threshold(c), y, rtol=1e-10)
    assert_allclose(dn.optimal_hard_threshold(1 / c) * math.sqrt(c), y, rtol=1e-12)
    assert dn.optimal_hard_threshold(c) > 1 + math.sqrt(c)  # above the edge


def test_symmetric_threshold_is_the_break_even_of_a_wigner_spike() -> None:
    """Symmetric analogue: y = theta + 1/theta, squared overlap 1 - 1/theta^2: keeping
    costs ``y^2 - 2 y theta (1 - 1/theta^2)``, zero at theta = sqrt 3, y = 4/sqrt 3, the
    square rectangular case lambda*(1)."""
    theta = brentq(lambda t: t + 1 / t - 2 * t * (1 - 1 / t**2), 1.0 + 1e-9, 10.0)
    assert_allclose(theta, math.sqrt(3.0), rtol=1e-12)
    sh = dn.shrinkage(np.array([3.0, 2.0, 0.0]), 1.0, model="wigner", centre=0.0)
    assert_allclose(sh.threshold, 4 / math.sqrt(3.0), rtol=1e-15)
    assert_allclose(sh.threshold, dn.optimal_hard_threshold(1.0), rtol=1e-12)


@pytest.mark.parametrize("c", ASPECTS)
@pytest.mark.parametrize("s2", [1.0, 0.3])
def test_shrink_is_the_spike_times_both_overlaps(c: float, s2: float) -> None:
    """eta(y) = theta sqrt(left overlap * right overlap) at the outlier of theta, 0 below
    the edge (and continuous there)."""
    theta = np.array([c**0.25 * 1.05, 1.5, 3.0, 10.0])
    rows = [pure_noise_outlier(t, c) for t in theta]
    y = np.array([r[0] for r in rows]) * math.sqrt(s2)
    expected = theta * math.sqrt(s2) * np.sqrt([r[1] * r[2] for r in rows])
    edge = math.sqrt(s2) * (1 + math.sqrt(c))
    values = np.concatenate([y, [edge * 0.999, edge * 0.5]])
    sh = dn.shrinkage(values, s2, shape=shape_for(values.size, c), eta=0.1)
    assert_allclose(sh.values["shrink"][:4], np.sort(expected)[::-1], rtol=1e-12)
    assert np.all(sh.values["shrink"][4:] == 0)
    assert_allclose(sh.edge, edge, rtol=1e-15)


@pytest.mark.parametrize("s2", [1.0, 0.3])
def test_symmetric_shrink_is_the_spike_times_its_overlap(s2: float) -> None:
    """Over a semicircle of centre c0: c0 + theta (1 - s2/theta^2) at c0 + theta + s2/theta,
    on both sides."""
    c0 = 0.7
    theta = np.array([4.0, 1.5, -1.2, -3.0]) * math.sqrt(s2)
    values = np.concatenate([c0 + theta + s2 / theta, [c0 + 0.1, c0 - 0.5]])
    sh = dn.shrinkage(values, s2, model="wigner", centre=c0, eta=0.1)
    expected = np.sort(np.concatenate([c0 + theta * (1 - s2 / theta**2), [c0, c0]]))[::-1]
    assert_allclose(sh.values["shrink"], expected, rtol=1e-12)
    assert sh.rank["shrink"] == 4


@pytest.mark.parametrize("c", ASPECTS)
def test_limit_rie_of_a_pure_noise_bulk_is_zero_inside_and_eta_outside(c: float) -> None:
    """The rectangular RIE from the exact boundary values of Marchenko-Pastur (the core's
    ``m`` and ``m_companion``): 0 on the bulk, the optimal shrinker at every outlier."""
    s2 = 0.5
    lo, hi = math.sqrt(s2) * abs(1 - math.sqrt(c)), math.sqrt(s2) * (1 + math.sqrt(c))
    inside = np.linspace(lo, hi, 9)[1:-1]
    xi = dn.limit_rie(Point(0.0), s2, inside, aspect_ratio=c)
    assert_allclose(xi, 0.0, atol=1e-10)
    theta = math.sqrt(s2) * np.array([1.3 * c**0.25, 2.0, 5.0])
    y = np.array([pure_noise_outlier(t / math.sqrt(s2), c)[0] for t in theta]) * math.sqrt(s2)
    xi = dn.limit_rie(Point(0.0), s2, y, aspect_ratio=c)
    sh = dn.shrinkage(y, s2, shape=shape_for(3, c), eta=0.1)
    assert_allclose(np.sort(xi)[::-1], sh.values["shrink"], rtol=1e-9)


def test_limit_rie_of_a_semicircle_is_zero_inside_and_eta_outside() -> None:
    s2 = 0.5
    x = np.linspace(-1.9, 1.9, 9) * math.sqrt(s2)
    assert_allclose(dn.limit_rie(Point(0.0), s2, x), 0.0, atol=1e-12)
    y = np.array([2.5, -3.0, 6.0])
    assert_allclose(dn.limit_rie(Point(0.0), s2, y), np.sign(y) * np.sqrt(y * y - 4 * s2))


def test_limit_rie_square_case_matches_the_symmetrised_symmetric_model() -> None:
    """c = 1: the singular values of S + X, symmetrised, are the symmetric model of the
    symmetrised nu (docs/theory/rectangular.md), and the rectangular RIE ``y - s2 (g_n + g_p)`` is
    the symmetric ``y + 2 s2 Re f`` of that law, ``g_n = g_p = -Re f_sym``."""
    from rmtservice.measures import Mixture

    nu = Uniform(0.5, 1.5)
    sym = Mixture([(0.5, Uniform(0.5, 1.5)), (0.5, Uniform(-1.5, -0.5))])
    y = np.array([0.3, 0.9, 1.4, 2.0, 2.6])
    assert_allclose(
        dn.limit_rie(nu, 0.4, y, aspect_ratio=1.0), dn.limit_rie(sym, 0.4, y), rtol=1e-8
    )


@pytest.mark.parametrize(("n", "p"), [(1200, 300), (600, 600), (300, 1200)])
def test_observed_rie_follows_the_limit_on_pure_noise(n: int, p: int) -> None:
    """The observed-spectrum RIE is near 0 on a pure-noise bulk (its limit): root mean
    square below 0.1 noise standard deviations, against ~1 for the values themselves."""
    y = np.linalg.svd(noise(n, p, 7), compute_uv=False)
    sh = dn.shrinkage(y, 1.0, shape=(n, p))
    scale = math.sqrt(max(1.0, p / n))
    assert np.sqrt(np.mean(sh.values["rie"] ** 2)) < 0.1 * scale
    assert np.sqrt(np.mean(y**2)) > 0.9 * scale


def test_observed_symmetric_rie_follows_the_limit_on_pure_noise() -> None:
    lam = np.linalg.eigvalsh(wigner(600, 8))
    sh = dn.shrinkage(lam, 1.0, model="wigner")
    assert np.sqrt(np.mean(sh.values["rie"] ** 2)) < 0.1
    assert np.sqrt(np.mean(lam**2)) > 0.9


def test_square_rie_is_the_symmetric_rie_of_the_symmetrised_singular_values() -> None:
    """For c = 1 the rectangular transform ``g_n + c g_p`` over the singular values is
    ``-2 Re f`` of the symmetrised values ``+-y_j`` (same eta, same first-order term)."""
    y = np.linalg.svd(noise(200, 200, 3) + np.eye(200), compute_uv=False)
    rect = dn.shrinkage(y, 0.5, shape=(200, 200), eta=0.05).values["rie"]
    both = np.concatenate([y, -y])
    sym = dn.shrinkage(both, 0.5, model="wigner", eta=0.05)
    # f of the 2m symmetrised values is twice as dense as g's n: (1/2n) sum over 2n
    assert_allclose(rect, np.maximum(sym.values["rie"][: y.size], 0.0), rtol=1e-10, atol=1e-13)


# -------------------------------------------------------------------- contracts


def spiked(n: int, p: int, spikes: list[float], seed: int) -> tuple[np.ndarray, np.ndarray]:
    s = np.zeros((n, p))
    s[np.arange(len(spikes)), np.arange(len(spikes))] = spikes
    return s, s + noise(n, p, seed)


def test_predicted_error_identity_and_the_measured_error() -> None:
    """``Denoised.error`` (dense) equals ``sqrt(||S||^2 - 2 v.o + v.v) / ||S||`` with the
    oracle values o, and the oracle is the best of all methods."""
    s, y = spiked(300, 150, [4.0, 3.0, 2.0], 0)
    u, sv, vt = np.linalg.svd(y, full_matrices=False)
    o = dn.oracle_values(u, vt, s)
    errors = {}
    for method in (*dn.METHODS, "oracle"):
        d = dn.denoise_svd(u, sv, vt, 1.0, method=method, signal=s)
        v = d.values
        s2 = float(np.sum(s * s))
        assert d.error is not None
        assert_allclose(d.error, math.sqrt((s2 - 2 * v @ o + v @ v) / s2), rtol=1e-9)
        errors[method] = d.error
    assert errors["oracle"] == min(errors.values())


def test_values_are_aligned_with_the_observed_ones_descending() -> None:
    _, y = spiked(200, 100, [5.0, 3.0], 1)
    d = dn.denoise(y, 1.0, method="shrink")
    sv = np.linalg.svd(y, compute_uv=False)
    assert_allclose(d.observed, sv, rtol=1e-12)
    assert np.all(np.diff(d.observed) <= 0)
    assert d.values.shape == d.observed.shape
    assert d.rank == 2 and np.all(d.values[2:] == 0)
    # any order in, the same out
    perm = np.random.default_rng(0).permutation(sv.size)
    sh = dn.shrinkage(sv[perm], 1.0, shape=y.shape)
    assert_allclose(sh.values["shrink"], d.values, rtol=1e-15)


@pytest.mark.parametrize("method", ["hard", "shrink", "rie"])
def test_factors_and_matrix_agree_and_match_a_precomputed_svd(method: str) -> None:
    _, y = spiked(160, 120, [4.0, 2.5], 2)
    d = dn.denoise(y, 1.0, method=method, output="factors")
    m = dn.denoise(y, 1.0, method=method, output="matrix")
    assert d.factors is not None and m.matrix is not None and d.matrix is None
    assert d.factors.u.shape == (160, d.rank) and d.factors.vt.shape == (d.rank, 120)
    assert_allclose(d.factors.matrix(), m.matrix, atol=1e-12)
    u, sv, vt = np.linalg.svd(y, full_matrices=False)
    e = dn.denoise_svd(u, sv, vt, 1.0, method=method, output="matrix")
    assert e.matrix is not None
    assert_allclose(e.matrix, m.matrix, atol=1e-10)
    v = dn.denoise(y, 1.0, method=method)  # values only: no vectors computed
    assert v.factors is None and v.matrix is None
    assert_allclose(v.values, m.values, rtol=1e-10, atol=1e-13)
    assert v.predicted_error == pytest.approx(m.predicted_error, rel=1e-9)


def test_symmetric_factors_carry_the_centre() -> None:
    n = 200
    h = np.eye(n)
    h[0, 0] = 5.0
    mat = h + wigner(n, 4)
    d = dn.denoise(mat, 1.0, method="shrink", output="factors")
    assert d.model == "wigner" and d.factors is not None
    assert abs(d.centre - 1.0) < 0.1 and d.factors.centre == d.centre
    assert d.rank == 1 and d.factors.u.shape == (n, 1)
    full = dn.denoise(mat, 1.0, method="shrink", output="matrix").matrix
    assert full is not None
    assert_allclose(d.factors.matrix(), full, atol=1e-12)
    w, v = np.linalg.eigh(mat)
    e = dn.denoise_eigh(w, v, 1.0, method="shrink", output="matrix")
    assert e.matrix is not None
    assert_allclose(e.matrix, full, atol=1e-10)
    assert_allclose(np.linalg.eigvalsh(full)[::-1], d.values, atol=1e-10)


def test_model_defaults_and_override() -> None:
    sym = wigner(50, 5)
    assert dn.denoise(sym, 1.0).model == "wigner"
    assert dn.denoise(sym, 1.0, model="rectangular").model == "rectangular"
    assert dn.denoise(noise(50, 50, 5), 1.0).model == "rectangular"
    assert dn.denoise(noise(50, 20, 5), 1.0).shrinkage.shape == (50, 20)


def test_auto_says_why_and_other_methods_compare() -> None:
    _, y = spiked(300, 150, [4.0, 3.0], 6)
    d = dn.denoise(y, 1.0)
    assert d.method == "shrink" and d.shrinkage.noise_bulk
    assert "pure noise" in d.reason and "optimal shrinkage is predicted to give" in d.reason
    assert f"{d.predicted_error['shrink']:.3g}" in d.reason
    h = dn.denoise(y, 1.0, method="hard")
    assert h.method == "hard" and h.reason.startswith("pruning to the bulk edge was requested")
    assert "the best predicted: optimal shrinkage" in h.reason
    assert set(d.predicted_error) == set(dn.METHODS)


def test_a_full_rank_signal_picks_rie_and_says_pruning_is_worse_than_nothing() -> None:
    n, p = 400, 200
    sv = np.sqrt(2 * (np.arange(p)[::-1] + 0.5) / p)
    sv[:3] = [4.0, 3.0, 2.0]
    s = np.zeros((n, p))
    s[np.arange(p), np.arange(p)] = sv
    d = dn.denoise(s + noise(n, p, 9), 1.0)
    assert d.method == "rie" and not d.shrinkage.noise_bulk
    assert d.reason.startswith("the signal is not low rank")
    assert "worse than doing nothing" in d.reason
    assert d.rank > 0.9 * p  # (rectangular values below 0 are set to 0)


def test_the_caller_can_say_the_bulk_is_noise() -> None:
    _, y = spiked(300, 150, [4.0, 3.0], 6)
    a = dn.denoise(y, 1.0, noise_bulk=False)
    assert not a.shrinkage.noise_bulk and a.method == "rie"
    assert dn.denoise(y, 1.0, noise_bulk=True).method == "shrink"


def test_zero_matrix_and_tiny_inputs_stay_finite() -> None:
    for a in (np.zeros((5, 3)), np.ones((1, 1)), np.zeros((1, 4)), np.eye(2)):
        d = dn.denoise(a, 1.0, output="matrix")
        assert all(math.isfinite(v) for v in d.predicted_error.values())
        assert d.matrix is not None and np.all(np.isfinite(d.matrix))
    assert dn.denoise(np.zeros((5, 3)), 1.0).predicted_error["hard"] == 1.0


def test_huge_and_tiny_noise() -> None:
    """Values up to 1e50 noise standard deviations stay finite; beyond, a clear error."""
    s, y = spiked(60, 30, [4.0, 3.0], 12)
    d = dn.denoise(1e40 * s + y, 1.0, output="matrix")
    assert d.matrix is not None and np.all(np.isfinite(d.matrix))
    assert all(math.isfinite(v) for v in d.predicted_error.values())
    assert_allclose(d.values[:2], 1e40 * np.array([4.0, 3.0]), rtol=1e-12)
    with pytest.raises(InvalidParameter, match="span more than 1e"):
        dn.denoise(1e60 * s + y, 1.0)


def test_scale_equivariance() -> None:
    """Scaling the matrix by a and sigma2 by a^2 scales the values, keeps the errors."""
    _, y = spiked(200, 100, [4.0, 3.0], 10)
    a = dn.denoise(y, 1.0, method="rie")
    b = dn.denoise(1e-3 * y, 1e-6, method="rie")
    assert_allclose(b.values, 1e-3 * a.values, rtol=1e-9, atol=1e-15)
    assert b.predicted_error == pytest.approx(a.predicted_error, rel=1e-9)


# ----------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"matrix": [1.0, 2.0]}, "matrix must be 2-D, got shape (2,)"),
        ({"matrix": np.zeros((0, 3))}, "matrix must not be empty, got shape (0, 3)"),
        ({"matrix": [[1.0, np.nan]]}, "matrix entries must be finite numbers"),
        ({"matrix": [[1.0, np.inf]]}, "matrix entries must be finite numbers"),
        ({"sigma2": 0.0}, "sigma2 must be > 0, got 0.0"),
        ({"sigma2": -1.0}, "sigma2 must be > 0, got -1.0"),
        ({"sigma2": math.nan}, "sigma2 must be finite, got nan"),
        (
            {"method": "svt"},
            "method must be one of none, hard, optimal_hard, shrink, rie, auto, oracle; got 'svt'",
        ),
        ({"output": "dense"}, "output must be one of values, factors, matrix; got 'dense'"),
        ({"model": "gue"}, "model must be one of wigner, rectangular; got 'gue'"),
        ({"method": "oracle"}, "method oracle needs the true signal"),
        (
            {"matrix": [[1.0, 2.0], [0.0, 1.0]], "model": "wigner"},
            "model wigner needs a symmetric matrix; max |a_ij - a_ji| / max |a| = 1",
        ),
        (
            {"matrix": np.ones((2, 3)), "model": "wigner"},
            "model wigner needs a square symmetric matrix, got shape (2, 3)",
        ),
        ({"eta": -1.0}, "eta must be > 0, got -1.0"),
        (
            {"centre": math.inf, "model": "wigner", "matrix": np.eye(3)},
            "centre must be finite, got inf",
        ),
    ],
)
def test_invalid_inputs(kwargs: dict, message: str) -> None:
    args = {"matrix": np.eye(3) + np.triu(np.ones((3, 3)), 1), "sigma2": 1.0, **kwargs}
    matrix, sigma2 = args.pop("matrix"), args.pop("sigma2")
    with pytest.raises(InvalidParameter) as info:
        dn.denoise(matrix, sigma2, **args)
    assert str(info.value) == message


def test_invalid_spectra_and_decompositions() -> None:
    cases = [
        (
            lambda: dn.shrinkage([1.0, 2.0], 1.0),
            "shape = (rows, cols) is needed for singular values",
        ),
        (
            lambda: dn.shrinkage([1.0, 2.0], 1.0, shape=(5, 3)),
            "a 5 x 3 matrix has min(rows, cols) = 3 singular values; got 2",
        ),
        (lambda: dn.shrinkage([1.0, -2.0], 1.0, shape=(2, 2)), "singular values must be >= 0"),
        (
            lambda: dn.shrinkage([], 1.0, model="wigner"),
            "values must be a non-empty 1-D array, got shape (0,)",
        ),
        (
            lambda: dn.shrinkage([1.0, np.nan], 1.0, model="wigner"),
            "values must contain finite numbers only",
        ),
        (
            lambda: dn.denoise_svd(np.eye(3), [1.0, 1.0], np.eye(3), 1.0),
            "u must be n x 2 and vt 2 x p for 2 singular values; got (3, 3) and (3, 3)",
        ),
        (
            lambda: dn.denoise_eigh([1.0, 2.0], np.eye(3), 1.0),
            "eigenvectors must be 2 x 2 for 2 eigenvalues, got (3, 3)",
        ),
        (
            lambda: dn.denoise(np.eye(3), 1.0, signal=np.eye(2)),
            "signal must be 3 x 3, got shape (2, 2)",
        ),
        (lambda: dn.optimal_hard_threshold(0.0), "aspect_ratio must be > 0, got 0.0"),
    ]
    for call, message in cases:
        with pytest.raises(InvalidParameter) as info:
            call()
        assert str(info.value) == message


# ------------------------------------------------------------ docs and imports


def test_docstring_examples() -> None:
    result = doctest.testmod(dn, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5 and result.failed == 0


def test_denoise_imports_no_web_stack() -> None:
    code = (
        "import sys, rmtservice.denoise\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'fastapi', 'starlette', 'pydantic', 'pydantic_core', 'httpx', 'app'})))\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert out.stdout.strip() == ""

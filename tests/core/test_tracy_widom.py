"""Tracy-Widom laws and the finite-n soft edges, checked by independent facts.

References that do not share code with the Fredholm determinants: the Painleve II
representation (Hastings-McLeod, integrated by solve_ivp), one-dimensional Airy
integrals for the far upper tail, the leading tail asymptotics, the moments and
quantiles published by Bornemann (2010) and Tracy & Widom, and Monte Carlo.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import scipy.stats
from numpy.testing import assert_allclose
from scipy.integrate import quad, solve_ivp
from scipy.special import airy, airye

from rmtservice import tracy_widom as tw
from rmtservice.errors import InvalidParameter

BETAS = [1, 2, 4]


def zeta(s: float) -> float:
    return 2.0 / 3.0 * s**1.5


def painleve(s: np.ndarray, s0: float = 8.0) -> np.ndarray:
    """(q, q', i, u, j): i = int_s^inf (x - s) q^2, u = int_s^inf q^2 and
    j = int_s^inf q for the Hastings-McLeod solution
    q'' = s q + 2 q^3, q ~ Ai at +inf, integrated down from s0 (where q = Ai up to
    O(Ai^3)). F2 = exp(-i), F1 = exp(-j/2) sqrt(F2), F4(s / sqrt 2) = cosh(j/2) sqrt(F2)
    (Tracy & Widom 1994, 1996)."""
    ai, aip, _, _ = airy(s0)
    u0 = aip**2 - s0 * ai**2  # int_s0^inf Ai^2
    i0 = quad(lambda x: (x - s0) * airy(x)[0] ** 2, s0, np.inf, epsabs=0, epsrel=1e-13)[0]
    j0 = quad(lambda x: airy(x)[0], s0, np.inf, epsabs=0, epsrel=1e-13)[0]

    def rhs(x: float, y: np.ndarray) -> list[float]:
        q, dq, _, u, _ = y
        return [dq, x * q + 2 * q**3, -u, -q * q, -q]

    sol = solve_ivp(
        rhs,
        (s0, float(np.min(s))),
        [ai, aip, i0, u0, j0],
        method="DOP853",
        rtol=1e-13,
        atol=1e-30,
        dense_output=True,
    )
    return sol.sol(s)


def painleve_cdf(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    _, _, i, _, j = painleve(s)
    f2 = np.exp(-i)
    return np.exp(-j / 2) * np.sqrt(f2), f2, np.cosh(j / 2) * np.sqrt(f2)


def painleve_pdf(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The densities by the chain rule: i' = -int_s^inf q^2 = -u, j' = -q."""
    q, _, i, u, j = painleve(s)
    f1, f2, f4 = np.exp(-(i + j) / 2), np.exp(-i), np.cosh(j / 2) * np.exp(-i / 2)
    d4 = (u * f4 - q * np.sinh(j / 2) * np.exp(-i / 2)) / 2
    return f1 * (u + q) / 2, f2 * u, d4


def painleve_sf(s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The upper tails without cancellation: 1 - e^-x = -expm1(-x), and
    1 - cosh(j/2) e^(-i/2) = -expm1(-i/2) - 2 e^(-i/2) sinh(j/4)^2."""
    _, _, i, _, j = painleve(s)
    four = -np.expm1(-i / 2) - 2 * np.exp(-i / 2) * np.sinh(j / 4) ** 2
    return -np.expm1(-(i + j) / 2), -np.expm1(-i), four


def gauss(lo: float, hi: float, m: int = 120) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(m)
    return lo + (hi - lo) * (x + 1) / 2, w * (hi - lo) / 2


# ---------------------------------------------------------------- the distributions


def test_agreement_with_painleve_ii() -> None:
    """cdf, pdf and sf against the Painleve II representation, a different method."""
    s = np.array([-8.0, -6.0, -4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 6.0])
    f1, f2, f4 = painleve_cdf(s)
    assert_allclose(tw.cdf(s, 1), f1, rtol=0, atol=1e-13)
    assert_allclose(tw.cdf(s, 2), f2, rtol=0, atol=1e-13)
    assert_allclose(tw.cdf(s / math.sqrt(2), 4), f4, rtol=0, atol=1e-13)
    d1, d2, d4 = painleve_pdf(s)
    assert_allclose(tw.pdf(s, 1), d1, rtol=0, atol=1e-13)
    assert_allclose(tw.pdf(s, 2), d2, rtol=0, atol=1e-13)
    assert_allclose(tw.pdf(s / math.sqrt(2), 4), math.sqrt(2) * d4, rtol=0, atol=1e-13)
    s = np.array([0.0, 2.0, 4.0, 6.0])  # relative accuracy of the upper tails
    g1, g2, g4 = painleve_sf(s)
    assert_allclose(tw.sf(s, 1), g1, rtol=1e-11)
    assert_allclose(tw.sf(s, 2), g2, rtol=1e-11)
    assert_allclose(tw.sf(s / math.sqrt(2), 4), g4, rtol=1e-9)  # the reference cancels


@pytest.mark.parametrize("s", [8.0, 10.0, 20.0, 50.0, 100.0, 300.0])
def test_upper_tail_agrees_with_airy_integrals(s: float) -> None:
    """1 - F1 = 1 - exp(-(J + I)/2), 1 - F2 = 1 - exp(-I) with J = int_s^inf Ai and
    I = int_s^inf (x - s) Ai^2, exact up to a relative O(Ai(s)^2) (q = Ai + O(Ai^3));
    compared in logs, far beyond where the tails underflow."""

    def scaled(f: Callable[[float], float], k: int) -> float:
        def g(x: float) -> float:
            return f(x) * (airye(x)[0] * math.exp(-(zeta(x) - zeta(s)))) ** k

        return quad(g, s, np.inf, epsabs=0, epsrel=1e-13, limit=200)[0]

    j, i = scaled(lambda x: 1.0, 1), scaled(lambda x: x - s, 2)
    # log(1 - exp(-x)) = log x - x/2 + O(x^2), x = (J + I)/2 = J/2 (1 + I/J) for F1
    log_j = math.log(j / 2) - zeta(s)
    log_i = math.log(i) - 2 * zeta(s)
    first = math.log1p(math.exp(log_i - log_j) / 2) - math.exp(log_j) / 2
    assert_allclose(tw.logsf(s, 1), log_j + first, rtol=1e-13, atol=1e-12)
    assert_allclose(tw.logsf(s, 2), log_i - math.exp(log_i) / 2, rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("s", [10.0, 20.0, 50.0])
def test_upper_tail_leading_asymptotics(s: float) -> None:
    """1 - F1 ~ e^(-zeta) / (4 sqrt(pi) s^(3/4)), 1 - F2 ~ e^(-2 zeta) / (16 pi s^(3/2)),
    zeta = 2/3 s^(3/2), with relative corrections O(s^(-3/2)) (5% at s = 10)."""
    one = math.exp(-zeta(s)) / (4 * math.sqrt(math.pi) * s**0.75)
    two = math.exp(-2 * zeta(s)) / (16 * math.pi * s**1.5)
    tol = 0.5 * s**-1.5
    for beta, expected in [(1, one), (2, two)]:
        p = float(tw.sf(s, beta))
        assert 0 < p < 1 and math.isfinite(p)
        assert p == pytest.approx(expected, rel=tol)
    assert -np.inf < tw.logsf(s, 4) < tw.logsf(s, 2)  # 1 - F4 underflows at s = 50


@pytest.mark.parametrize("beta", BETAS)
def test_moments_from_the_density(beta: int) -> None:
    """Mass 1, mean and variance from integrating the density (Bornemann 2010, Table 10)."""
    (x1, w1), (x2, w2) = gauss(tw.S_MIN[beta], -3.0), gauss(-3.0, 25.0)
    x, w = np.concatenate([x1, x2]), np.concatenate([w1, w2])
    f = tw.pdf(x, beta)
    assert np.all(f >= 0)
    mass, mean = np.sum(w * f), np.sum(w * x * f)
    var = np.sum(w * (x - mean) ** 2 * f)
    assert_allclose(mass, 1.0, rtol=0, atol=1e-13)
    assert_allclose(mean, tw.MEAN[beta], rtol=0, atol=1e-11)
    assert_allclose(var, tw.VARIANCE[beta], rtol=0, atol=1e-11)


def test_published_values() -> None:
    """TW1 quantiles 0.9793 (95%), 2.0234 (99%) (docs/theory/fit.md; Tracy & Widom);
    TW1 mean -1.2065335745820, variance 1.6077810345810; TW2 -1.7710868074,
    0.8131947928 (Bornemann 2010) against the constants the module exports."""
    assert_allclose(tw.ppf([0.95, 0.99], 1), [0.9793, 2.0234], rtol=0, atol=5e-5)
    assert_allclose(tw.isf([0.05, 0.01], 1), [0.9793, 2.0234], rtol=0, atol=5e-5)
    assert_allclose([tw.MEAN[1], tw.VARIANCE[1]], [-1.2065335745820, 1.6077810345810])
    assert_allclose([tw.MEAN[2], tw.VARIANCE[2]], [-1.7710868074, 0.8131947928], atol=1e-10)


@pytest.mark.parametrize("beta", BETAS)
def test_cdf_monotone_and_complementary(beta: int) -> None:
    s = np.linspace(tw.S_MIN[beta] - 1, 30.0, 1201)
    f, g = tw.cdf(s, beta), tw.sf(s, beta)
    assert np.all(np.diff(f) >= 0) and np.all(np.diff(g) <= 0)
    assert np.all((f >= 0) & (f <= 1) & (g >= 0) & (g <= 1))
    assert_allclose(f + g, 1.0, rtol=0, atol=1e-14)
    assert np.all(tw.pdf(s, beta) >= 0)
    assert np.all(tw.cdf(s[s < tw.S_MIN[beta]], beta) == 0)


@pytest.mark.parametrize("beta", BETAS)
def test_density_is_the_derivative(beta: int) -> None:
    """pdf (Jacobi's formula) against central differences of cdf, and in the far tail
    -d log sf / ds = pdf / sf against differences of logsf."""
    s, h = np.linspace(-5.0, 5.0, 21), 1e-3
    fd = (tw.cdf(s + h, beta) - tw.cdf(s - h, beta)) / (2 * h)
    assert_allclose(tw.pdf(s, beta), fd, rtol=0, atol=1e-6)  # O(h^2 f''')
    for t in [10.0, 20.0, 40.0]:
        hazard = -(tw.logsf(t + h, beta) - tw.logsf(t - h, beta)) / (2 * h)
        assert_allclose(tw.pdf(t, beta) / tw.sf(t, beta), hazard, rtol=1e-6)


@pytest.mark.parametrize("beta", BETAS)
def test_quantiles_invert_the_distribution(beta: int) -> None:
    s = np.linspace(-6.0, 0.0, 13)  # F known to ~1.6e-14 / sqrt(F) relative: 1e-10 at -6
    assert_allclose(tw.ppf(tw.cdf(s, beta), beta), s, rtol=0, atol=1e-9)
    s = np.linspace(0.0, 40.0, 11)
    assert_allclose(tw.isf(tw.sf(s, beta), beta), s, rtol=1e-13, atol=1e-13)
    p = np.array([0.3, 1e-5, 1e-50, 1e-300])
    assert_allclose(tw.sf(tw.isf(p, beta), beta), p, rtol=1e-11)
    assert_allclose(tw.ppf(1 - p[:2], beta), tw.isf(p[:2], beta), rtol=0, atol=1e-10)
    assert np.shape(tw.ppf([[0.5]], beta)) == (1, 1) and np.ndim(tw.ppf(0.5, beta)) == 0


# ---------------------------------------------------------------- edges and p-values


def test_edge_constants() -> None:
    """The Wigner edge tends to 2 sigma with scale sigma n^(-2/3); the Wishart edge is
    symmetric in (n, p) up to the 1/n of the entry variance and tends to the
    Marchenko-Pastur edge sigma2 (1 + sqrt c)^2 (docs/theory/rectangular.md)."""
    c, sc = tw.wigner_edge(10**8, 0.49)
    assert_allclose([c, sc * 1e8 ** (2 / 3)], [1.4, 0.7], rtol=1e-8)
    n, p, s2 = 300, 120, 0.5
    assert_allclose(
        np.multiply(tw.wishart_edge(n, p, s2), n), np.multiply(tw.wishart_edge(p, n, s2), p)
    )
    c, _ = tw.wishart_edge(10**8, 5 * 10**7, s2)
    assert_allclose(c, s2 * (1 + math.sqrt(0.5)) ** 2, rtol=1e-7)


def test_threshold_and_p_values_are_inverse() -> None:
    center, scale = tw.wigner_edge(500, 0.3)
    for alpha in [0.05, 0.01, 1e-6]:
        t = tw.threshold(center, scale, alpha)
        assert_allclose(tw.p_values([t], center, scale), [alpha], rtol=1e-10)
    center, scale = tw.wishart_edge(400, 100, 2.0)
    y = tw.threshold(center, scale, 0.05, singular_values=True)
    assert_allclose(y, math.sqrt(center + scale * 0.9793160534695), rtol=1e-12)
    p = tw.p_values([0.0, y, 1.2 * y], center, scale, singular_values=True)
    assert_allclose(p[:2], [1.0, 0.05], rtol=1e-10)
    assert 0 < p[2] < 1e-20


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "field", "message"),
    [
        (lambda: tw.cdf([0.0, math.nan]), "s", "s must contain finite numbers only"),
        (lambda: tw.sf(math.inf), "s", "s must contain finite numbers only"),
        (lambda: tw.pdf("x"), "s", "s must be numbers"),
        (lambda: tw.cdf(0.0, beta=3), "beta", "beta must be 1, 2 or 4, got 3"),
        (lambda: tw.cdf(0.0, beta=True), "beta", "beta must be 1, 2 or 4, got True"),
        (lambda: tw.sf(0.0, beta=1.5), "beta", "beta must be 1, 2 or 4, got 1.5"),  # type: ignore[arg-type]
        (lambda: tw.logsf(1e101), "s", "s must be <= 1e+100 for logsf (beta = 1)"),
        (lambda: tw.logsf([0.0, 71.0], 4), "s", "s must be <= 70.0 for logsf (beta = 4)"),
        (lambda: tw.ppf(0.0), "q", "q must lie in (0, 1), got 0.0"),
        (lambda: tw.ppf([0.5, 1.0]), "q", "q must lie in (0, 1), got 1.0"),
        (
            lambda: tw.ppf(1e-20),
            "q",
            "q must be >= 1e-15: the lower tail is resolved to an absolute 1e-16 only, got 1e-20",
        ),
        (lambda: tw.isf(-0.1), "p", "p must lie in (0, 1), got -0.1"),
        (lambda: tw.wigner_edge(0, 1.0), "n", "n must be an integer >= 1, got 0"),
        (lambda: tw.wigner_edge(10.0, 1.0), "n", "n must be an integer >= 1, got 10.0"),  # type: ignore[arg-type]
        (lambda: tw.wigner_edge(10, -1.0), "sigma2", "sigma2 must be > 0, got -1.0"),
        (lambda: tw.wishart_edge(10, 0, 1.0), "p", "p must be an integer >= 1, got 0"),
        (lambda: tw.wishart_edge(1, 1, 1.0), "n", "a 1 x 1 matrix has no Tracy-Widom edge"),
        (lambda: tw.threshold(0.0, 1.0, 1.0), "alpha", "alpha must lie in (0, 1), got 1.0"),
        (lambda: tw.threshold(math.nan, 1.0, 0.1), "center", "center must be finite, got nan"),
        (
            lambda: tw.p_values([1.0], 0.0, 0.0),
            "scale",
            "scale must be finite and > 0, got 0.0",
        ),
        (
            lambda: tw.p_values([math.inf], 0.0, 1.0),
            "values",
            "values must contain finite numbers only",
        ),
        (
            lambda: tw.p_values([-1.0], 0.0, 1.0, singular_values=True),
            "values",
            "singular values must be >= 0",
        ),
    ],
)
def test_bad_inputs(call: Callable[[], object], field: str, message: str) -> None:
    with pytest.raises(InvalidParameter, match=f"^{re.escape(message)}$") as info:
        call()
    assert info.value.field == field


def test_module_imports_only_the_numeric_stack() -> None:
    code = (
        "import sys, rmtservice.tracy_widom\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'pydantic', 'httpx', 'fastapi', 'starlette', 'app'})))\n"
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


# ---------------------------------------------------------------- Monte Carlo


def goe_top(n: int, draws: int, sigma: float, seed: int) -> np.ndarray:
    """Largest eigenvalues of sigma (A + A^T) / sqrt(2n): off-diagonal variance
    sigma^2/n, diagonal 2 sigma^2/n (docs/theory/symmetric.md)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(0, draws, 100):
        a = rng.standard_normal((100, n, n))
        out.append(np.linalg.eigvalsh(sigma * (a + a.transpose(0, 2, 1)) / math.sqrt(2 * n))[:, -1])
    return np.concatenate(out)[:draws]


def wishart_top(n: int, p: int, draws: int, sigma2: float, seed: int) -> np.ndarray:
    """Squared largest singular values of n x p matrices with N(0, sigma2/n) entries."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(0, draws, 100):
        y = rng.standard_normal((100, n, p)) * math.sqrt(sigma2 / n)
        gram = np.swapaxes(y, 1, 2) @ y if p <= n else y @ np.swapaxes(y, 1, 2)
        out.append(np.linalg.eigvalsh(gram)[:, -1])
    return np.concatenate(out)[:draws]


def check_tw1(s: np.ndarray) -> None:
    """Mean and standard deviation within 4 standard errors of TW1's, Kolmogorov-Smirnov
    p-value above 1e-3, and the p-values below 5% about 5% of the time."""
    se = math.sqrt(tw.VARIANCE[1] / s.size)
    assert abs(s.mean() - tw.MEAN[1]) < 4 * se
    assert abs(s.std() - math.sqrt(tw.VARIANCE[1])) < 4 * se  # sd of the sd is ~0.7 se
    assert scipy.stats.kstest(s, tw.cdf).pvalue > 1e-3
    rate = np.mean(tw.sf(s) < 0.05)
    assert abs(rate - 0.05) < 4 * math.sqrt(0.05 * 0.95 / s.size)


@pytest.mark.slow
def test_goe_edge_by_monte_carlo() -> None:
    """n = 200 (400 draws) and n = 25 (4000 draws): at n = 25 the plain centring
    2 sigma + sigma n^(-2/3) TW1 fails this check (bias -0.2), wigner_edge passes."""
    sigma = 0.7
    for n, draws, seed in [(200, 400, 1), (25, 4000, 2)]:
        center, scale = tw.wigner_edge(n, sigma**2)
        check_tw1((goe_top(n, draws, sigma, seed) - center) / scale)
    plain = (goe_top(25, 4000, sigma, 2) - 2 * sigma) / (sigma * 25 ** (-2 / 3))
    assert scipy.stats.kstest(plain, tw.cdf).pvalue < 1e-3


@pytest.mark.slow
def test_wishart_edge_by_monte_carlo() -> None:
    """200 x 100 and 100 x 200 (300 draws each), 50 x 20 (2000 draws)."""
    s2 = 0.5
    for n, p, draws, seed in [(200, 100, 300, 3), (100, 200, 300, 4), (50, 20, 2000, 5)]:
        center, scale = tw.wishart_edge(n, p, s2)
        y2 = wishart_top(n, p, draws, s2, seed)
        check_tw1((y2 - center) / scale)
        assert_allclose(
            tw.p_values(np.sqrt(y2), center, scale, singular_values=True),
            tw.sf((y2 - center) / scale),
        )


# ------------------------------------------------------- quantiles at every level


def _levels(count: int) -> np.ndarray:
    """Upper-tail levels log-spaced in (1e-12, 1/2) and their complements (1/2, 1 - 1e-12)."""
    half = np.geomspace(1e-12, 0.5, count // 2)
    return np.unique(np.concatenate([half, 1.0 - half]))


def _assert_inverts(p: np.ndarray, s: np.ndarray, beta: int) -> None:
    """``sf(isf(p)) = p`` to a relative 1e-12 for p <= 1/2; above it ``cdf(isf(p)) =
    1 - p`` to a relative ``max(1e-12, 2e-13 / sqrt(1 - p))``: F itself is known to a
    relative ~1e-13 / sqrt(F) only in the lower tail (measured; see ppf)."""
    upper = p <= 0.5
    assert np.all(np.isfinite(s)) and np.all(np.diff(s) < 0)  # isf is decreasing
    assert_allclose(tw.sf(s[upper], beta), p[upper], rtol=1e-12)
    q = 1.0 - p[~upper]
    err = np.abs(tw.cdf(s[~upper], beta) / q - 1.0)
    assert np.all(err <= np.maximum(1e-12, 2e-13 / np.sqrt(q))), float(np.max(err))


@pytest.mark.parametrize(
    ("beta", "levels"),
    [
        (1, [0.07629943314438145, 0.21673991718992938, 0.3716657288341068]),
        (4, [1.3452948744251188e-12]),
    ],
)
def test_isf_levels_where_newton_stalled(beta: int, levels: list[float]) -> None:
    """Newton used to bounce between two neighbouring doubles at these levels (its
    bracket a few ulps wide, just over the tolerance) and raise NoConvergence."""
    p = np.array(levels)
    s = np.array([float(tw.isf(a, beta)) for a in p])  # one at a time, as _critical did
    assert_allclose(tw.sf(s, beta), p, rtol=1e-12)
    assert_allclose(tw.isf(p, beta), s, rtol=0, atol=1e-14)


@pytest.mark.parametrize("beta", BETAS)
def test_isf_inverts_at_many_levels(beta: int) -> None:
    p = _levels(200)
    _assert_inverts(p, tw.isf(p, beta), beta)


@pytest.mark.slow
@pytest.mark.parametrize("beta", BETAS)
def test_isf_inverts_at_2000_levels(beta: int) -> None:
    """2000 levels log-spaced in (1e-12, 1 - 1e-12): every one converges (the
    safeguarded Newton cannot stall) and inverts the distribution."""
    p = _levels(2000)
    _assert_inverts(p, tw.isf(p, beta), beta)

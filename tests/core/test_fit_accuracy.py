"""Ground truth for the fit: simulated matrices with known answers (dense eigensolves of
real H + W and S + X, seeded).

- Noise plus spikes of 0.8 to 5 thresholds, shapes 1000 x 1000, 2000 x 500, 500 x 2000 and
  symmetric n = 2000, three seeds each: sigma2 within 1 % (median over seeds), every spike
  from 1.5 thresholds found, none at 0.8 reported, the spikes within the n^(-1/2) scale,
  the verdict true. (At these sizes a spike at 1.2 thresholds puts its outlier about one
  standard deviation above the Tracy-Widom threshold: any level-0.01 test finds it only
  about 60 % of the time, so it is not part of "every spike found".)
- Coverage of the interval over 60 seeds (n = 300 and 400 x 200, with spikes).
- Calibration: pure noise, n = 200 (and 200 x 100), 300 seeds, alpha = 0.05.
- Verdicts: Student-t noise with 2.5 degrees of freedom, a bulk of n/4 spikes.
- Deconvolution: H uniform on [-1, 1] plus noise 0.25, n = 2000; a rectangular analogue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.linalg

import rmtservice as rs
from rmtservice.fit import Fit, fit

pytestmark = pytest.mark.slow

S2 = 0.7
MULTIPLES = np.array([5.0, 3.0, 2.0, 1.5, 0.8])  # of the detection threshold
FOUND = MULTIPLES >= 1.5
SHAPES = [(2000, 2000, "wigner"), (1000, 1000, ""), (2000, 500, ""), (500, 2000, "")]
SEEDS = (0, 1, 2)


def goe(n: int, s2: float, rng: np.random.Generator) -> np.ndarray:
    g = rng.standard_normal((n, n))
    return (g + g.T) * math.sqrt(s2 / (2 * n))


def frame(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return np.linalg.qr(rng.standard_normal((n, k)))[0]


@dataclass(frozen=True)
class Case:
    """A simulated matrix, its true spikes and noise level, and its fit."""

    rows: int
    cols: int
    wigner: bool
    spikes: np.ndarray
    sigma2: float
    result: Fit

    @property
    def m(self) -> int:
        return min(self.rows, self.cols)

    @property
    def scale(self) -> float:
        """Noise scale of the canonical frame: sigma for the symmetric model, and
        sqrt(entry variance * max(rows, cols)) for singular values."""
        if self.wigner:
            return math.sqrt(self.sigma2)
        return math.sqrt(self.sigma2 / self.rows * max(self.rows, self.cols))


def simulate(rows: int, cols: int, wigner: bool, seed: int, multiples: np.ndarray) -> Case:
    rng = np.random.default_rng(seed)
    if wigner:
        spikes = multiples * math.sqrt(S2)
        u = frame(rng, rows, spikes.size)
        values = scipy.linalg.eigvalsh(goe(rows, S2, rng) + (u * spikes) @ u.T)
        return Case(rows, cols, True, spikes, S2, fit(values, bootstrap=50, seed=7))
    spikes = multiples * math.sqrt(S2) * (cols / rows) ** 0.25
    u, v = frame(rng, rows, spikes.size), frame(rng, cols, spikes.size)
    y = (u * spikes) @ v.T + rng.standard_normal((rows, cols)) * math.sqrt(S2 / rows)
    sv = scipy.linalg.svdvals(y)
    return Case(rows, cols, False, spikes, S2, fit(sv, shape=(rows, cols), bootstrap=50, seed=7))


@pytest.fixture(scope="module", params=SHAPES, ids=lambda s: f"{s[0]}x{s[1]}{s[2]}")
def cases(request: pytest.FixtureRequest) -> list[Case]:
    rows, cols, kind = request.param
    return [simulate(rows, cols, kind == "wigner", s, MULTIPLES) for s in SEEDS]


def test_noise_level_within_one_percent(cases: list[Case]) -> None:
    errors = [abs(c.result.sigma2 / c.sigma2 - 1.0) for c in cases]
    assert float(np.median(errors)) < 0.01
    assert max(errors) < 0.02
    for c in cases:
        i = c.result.sigma2_interval
        assert i.method == "bootstrap" and i.lower < c.result.sigma2 < i.upper


def test_spikes_found_none_below_threshold_reported(cases: list[Case]) -> None:
    """Every spike of 1.5 thresholds or more gives an outlier; the 0.8 one does not."""
    for c in cases:
        assert c.result.rank == int(FOUND.sum())
        assert c.result.verdict.noise_plus_spikes, c.result.verdict.message


def test_spikes_recovered_on_the_inverse_square_root_scale(cases: list[Case]) -> None:
    """|theta_hat - theta| <= 5 scale / sqrt(m overlap): the outliers fluctuate on the
    scale n^(-1/2), amplified by 1/phi' (the overlap) through the inverse map."""
    for c in cases:
        found = sorted(c.result.outliers, key=lambda o: -o.value)
        for o, theta in zip(found, c.spikes[FOUND], strict=True):
            ov = o.overlap if c.wigner else min(o.left_overlap or 0.0, o.right_overlap or 0.0)
            assert ov is not None and ov > 0
            tol = 5.0 * c.scale / math.sqrt(c.m * ov)
            assert abs(o.spike - theta) < tol, (o, theta, tol)
            assert abs(o.spike_limit - theta) < tol + 2 * c.scale / c.m


def coverage(wigner: bool) -> dict[int, float]:
    """Share of 60 seeds whose 95 % interval covers sigma2 = 1, by bootstrap (50
    replicates) and by asymptotics: n = 300 with spikes 3 and 1.8; 400 x 200 with 3, 1.6."""
    hits: dict[int, list[bool]] = {50: [], 0: []}
    for seed in range(60):
        rng = np.random.default_rng(1000 + seed)
        if wigner:
            n = 300
            u = frame(rng, n, 2)
            values = scipy.linalg.eigvalsh(goe(n, 1.0, rng) + (u * [3.0, 1.8]) @ u.T)
            shape = None
        else:
            rows, cols = 400, 200
            u, v = frame(rng, rows, 2), frame(rng, cols, 2)
            y = (u * [3.0, 1.6]) @ v.T + rng.standard_normal((rows, cols)) / math.sqrt(rows)
            values, shape = scipy.linalg.svdvals(y), (rows, cols)
        for bootstrap, got in hits.items():
            i = fit(values, shape=shape, bootstrap=bootstrap, seed=3).sigma2_interval
            got.append(i.lower <= 1.0 <= i.upper)
    return {b: float(np.mean(h)) for b, h in hits.items()}


@pytest.mark.parametrize("wigner", [True, False], ids=["wigner", "rectangular"])
def test_interval_covers_at_its_nominal_rate(wigner: bool) -> None:
    """95 % intervals over 60 seeds: the share covering the truth is within binomial
    tolerance of 0.95 (3 standard deviations: 0.866 to 1), by bootstrap and asymptotics."""
    for share in coverage(wigner).values():
        assert share >= 0.866


def test_calibration_on_pure_noise() -> None:
    """At alpha = 0.05, the share of pure-noise spectra with any reported outlier is
    within 0.02 to 0.08 (300 seeds each, n = 200 and 200 x 100; both sides together for
    the symmetric model)."""
    wig, rect = [], []
    for seed in range(300):
        rng = np.random.default_rng(20_000 + seed)
        values = scipy.linalg.eigvalsh(goe(200, 1.0, rng))
        wig.append(fit(values, alpha=0.05, bootstrap=0).rank > 0)
        sv = scipy.linalg.svdvals(rng.standard_normal((200, 100)) / math.sqrt(200))
        rect.append(fit(sv, shape=(200, 100), alpha=0.05, bootstrap=0).rank > 0)
    assert 0.02 <= np.mean(wig) <= 0.08
    assert 0.02 <= np.mean(rect) <= 0.08


def test_verdicts_for_heavy_tails_and_a_bulk_of_spikes() -> None:
    """Student-t noise (2.5 degrees of freedom: infinite fourth moment) and a signal with
    n/4 eigenvalues at 1.5 or 3 noise levels are not noise plus spikes; the message says
    why. (Plain noise plus spikes: the accuracy cases above, all true.)"""
    rng = np.random.default_rng(4)
    n = 1000
    t = rng.standard_t(2.5, size=(n, n))
    sym = (np.triu(t) + np.triu(t, 1).T) / math.sqrt(5.0 * n)  # variance of t(2.5) is 5
    heavy = fit(scipy.linalg.eigvalsh(sym), bootstrap=50, seed=1)
    assert not heavy.verdict.noise_plus_spikes
    assert "do not follow the semicircle law" in heavy.verdict.message
    rect = fit(rng.standard_t(2.5, size=(n, n // 2)) / math.sqrt(5.0 * n), bootstrap=50, seed=1)
    assert not rect.verdict.noise_plus_spikes
    assert "Marchenko-Pastur" in rect.verdict.message
    for level in (1.5, 3.0):
        h = np.zeros(n)
        h[: n // 4] = level
        values = scipy.linalg.eigvalsh(np.diag(h) + goe(n, 1.0, rng))
        bulky = fit(values, bootstrap=50, seed=1)
        assert not bulky.verdict.noise_plus_spikes, (level, bulky.verdict.message)


def ks_to(nu: rs.Atoms, cdf: object, lo: float, hi: float) -> float:
    """sup |F_nu - F| over the atoms (both sides of each jump) and a fine grid."""
    f = cdf  # callable
    grid = np.linspace(lo, hi, 20001)
    d = np.max(np.abs(nu.cdf(grid) - f(grid)))  # type: ignore[operator]
    x = nu.values
    right = np.cumsum(nu.weights)
    left = right - nu.weights
    jumps = max(np.max(np.abs(right - f(x))), np.max(np.abs(left - f(x))))  # type: ignore[operator]
    return float(max(d, jumps))


def test_deconvolution_recovers_a_uniform_signal() -> None:
    """H uniform on [-1, 1] (midpoint quantiles) plus noise 0.25, n = 2000: the law of H
    by free deconvolution is within Kolmogorov distance 0.05 of the uniform law."""
    n, s2 = 2000, 0.25
    rng = np.random.default_rng(12)
    h = -1.0 + 2.0 * (np.arange(n) + 0.5) / n
    values = scipy.linalg.eigvalsh(np.diag(h) + goe(n, s2, rng))
    f = fit(values, sigma2=s2, bootstrap=0)
    assert f.deconvolved is not None
    assert ks_to(f.deconvolved, lambda x: np.clip((x + 1) / 2, 0, 1), -3, 3) < 0.05
    assert not f.verdict.noise_plus_spikes  # the bulk is not noise of variance 0.25


def test_deconvolution_recovers_uniform_singular_values() -> None:
    """S (1000 x 500) with singular values uniform on [0.5, 1.5] plus noise 0.25: the law
    of the singular values of S within Kolmogorov distance 0.05."""
    rows, cols, s2 = 1000, 500, 0.25
    rng = np.random.default_rng(13)
    sv = 0.5 + (np.arange(cols) + 0.5) / cols
    s = (frame(rng, rows, cols) * sv) @ frame(rng, cols, cols).T
    y = s + rng.standard_normal((rows, cols)) * math.sqrt(s2 / rows)
    f = fit(y, sigma2=s2, bootstrap=0)
    assert f.deconvolved is not None
    assert ks_to(f.deconvolved, lambda x: np.clip(x - 0.5, 0, 1), 0, 3) < 0.05

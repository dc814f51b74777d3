"""Monte Carlo of the rectangular model against its limit (docs/theory/rectangular.md), seeded.

Tolerances come from the size of the fluctuations. An outlier singular value fluctuates on
the scale ``n^(-1/2)``: to first order by ``u^T X v`` (u, v the spike's unit singular
vectors), of variance ``sigma2 / rows``, plus second-order terms of the same order; one
draw's standard deviation, measured at these sizes, is 0.01-0.03 (up to twice
``sqrt(sigma2 / rows)`` = 0.016-0.022), so a 3-draw mean is within 0.03 (1.7 to 3
standard deviations) but for an ``O(1/n)`` bias. Squared overlaps fluctuate on the same
scale with a constant that grows near the threshold.
The empirical law of the singular values of S + X with deterministic S is within
``O(log n / n)`` of the limit in Kolmogorov distance (rigidity): a 4x larger matrix has a
distance about 4x smaller, and any noise law with a finite fourth moment has the same
limit (universality).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator

import numpy as np
import pytest
import scipy.linalg
from numpy.testing import assert_allclose, assert_array_equal
from threadpoolctl import threadpool_limits

import rmtservice as rs
from rmtservice import rectangular as rr

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread() -> Iterator[None]:
    """One BLAS thread: on a shared, loaded machine OpenBLAS's spinning threads made these
    SVDs ten times slower (the results do not depend on it but for rounding)."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


BULK = rs.Uniform(0.0, 1.0)
S2 = 0.5
SPIKES = [3.0, 2.0, 1.5]


@pytest.mark.parametrize(("rows", "cols"), [(2000, 1000), (1000, 2000), (1500, 1500)])
def test_outliers_and_overlaps_near_the_formulas(rows: int, cols: int) -> None:
    """Three draws: each outlier's mean within 0.03 of sqrt(Phi(theta^2)) (see the module
    docstring), one draw's spread below 3 sqrt(sigma2 / rows), both squared
    overlaps within 0.02 of the formulas (0.04 for the spike 1.5, the nearest to its
    threshold 1.13-1.26); only the three outliers leave the support."""
    sim = rr.simulate(
        BULK, S2, rows, cols, spikes=SPIKES, seed=rows + 7 * cols, trials=3, vectors=True
    )
    assert sim.separated_spikes == 3
    for o, tol in zip(sim.outliers, [0.02, 0.02, 0.04], strict=True):
        assert o.predicted is not None and o.observed is not None
        assert abs(o.observed - o.predicted) < 0.03
        assert o.difference == pytest.approx(o.observed - o.predicted)
        assert o.observed_std is not None and o.observed_std < 3 * math.sqrt(S2 / rows)
        for obs, pred in (
            (o.left_overlap_observed, o.left_overlap_predicted),
            (o.right_overlap_observed, o.right_overlap_predicted),
        ):
            assert obs is not None and pred is not None
            assert abs(obs - pred) < tol
    # the vectors in the larger space overlap less (c = p/n: right in R^p, left in R^n)
    for o in sim.outliers:
        if cols < rows:
            assert o.left_overlap_predicted < o.right_overlap_predicted  # type: ignore[operator]
        elif cols > rows:
            assert o.right_overlap_predicted < o.left_overlap_predicted  # type: ignore[operator]
    sup = rr.support(BULK, S2, cols / rows)
    for sv in sim.singular_values:
        beyond = (sv > sup.upper[-1] + 0.05) | (sv < sup.lower[0] - 0.05)
        assert int(beyond.sum()) == 3


def test_kolmogorov_distance_shrinks_with_n() -> None:
    """rows = 100, 400, 1600 (c = 1/2, two draws each): each 4x step at least halves the
    mean distance (rigidity predicts a quarter), and the largest is below 0.01."""
    ks = []
    for rows in (100, 400, 1600):
        sim = rr.simulate(BULK, S2, rows, rows // 2, seed=rows, trials=2)
        assert sim.kolmogorov is not None
        ks.append(float(np.mean(sim.kolmogorov)))
    assert ks[1] < 0.5 * ks[0] and ks[2] < 0.5 * ks[1]
    assert ks[2] < 0.01


@pytest.mark.parametrize(("rows", "cols"), [(1000, 400), (400, 1000), (700, 700)])
def test_histogram_matches_the_density(rows: int, cols: int) -> None:
    """Two draws pooled, 30 bins over the support: each bin's fraction of the singular
    values is within 0.006 of the integral of the density over it (the law's cdf
    differences; with rigidity the error is O(1/n) per bin, not the O((p/N)^(1/2)) =
    0.006 of independent samples), and within 15% of it where the density is not small
    (a fifth of the bins, or more, at the square-root edges, is left out)."""
    sim = rr.simulate(BULK, S2, rows, cols, seed=rows + cols, trials=2, compare=False)
    sv = np.concatenate(sim.singular_values)
    c = cols / rows
    sup = rr.support(BULK, S2, c)
    edges = np.linspace(sup.lower[0], sup.upper[-1], 31)
    counts, _ = np.histogram(sv, bins=edges)
    frac = counts / sv.size
    expected = np.diff(rr.cdf(BULK, S2, c, edges, sup=sup))
    assert abs(expected.sum() - 1) < 1e-8
    assert np.max(np.abs(frac - expected)) < 0.006
    centre = rr.density(BULK, S2, c, 0.5 * (edges[1:] + edges[:-1]))
    big = centre > 0.3 * centre.max()
    assert_allclose(frac[big], expected[big], rtol=0.15)


@functools.cache
def _gaussian_ks(rows: int, cols: int) -> list[float]:
    """Kolmogorov distances of two Gaussian draws (shared by the noise laws' tests)."""
    ks = rr.simulate(BULK, S2, rows, cols, seed=21, trials=2).kolmogorov
    assert ks is not None
    return ks


@pytest.mark.parametrize(
    ("noise", "extra"),
    [
        ("rademacher", {}),
        ("uniform", {}),
        ("student_t", {"df": 8.0}),
        ("sparse", {"density": 0.3}),
    ],
)
@pytest.mark.parametrize(("rows", "cols"), [(1000, 500), (500, 1000)])
def test_universality_of_the_noise_law(noise: str, extra: dict, rows: int, cols: int) -> None:
    """Every noise law of unit variance and finite fourth moment has the Gaussian limit:
    its Kolmogorov distance (two draws) is within 2x that of Gaussian noise plus 0.004
    (the finite-n corrections of heavier tails and sparsity), and below 0.015."""
    gauss = _gaussian_ks(rows, cols)
    other = rr.simulate(BULK, S2, rows, cols, seed=21, trials=2, noise=noise, **extra).kolmogorov
    assert other is not None
    assert np.mean(other) < 2 * np.mean(gauss) + 0.004
    assert max(other) < 0.015


@pytest.mark.parametrize(("rows", "cols"), [(1000, 500), (500, 1000)])
def test_top_by_lanczos_equals_the_full_svd(rows: int, cols: int) -> None:
    """top = 10 of min(rows, cols) = 500 goes through Lanczos on the Gram matrix; the
    same seed draws the same matrix, whose full SVD gives the same 10 values (1e-10)."""
    spikes = [2.5, 1.8]
    top = rr.simulate(BULK, S2, rows, cols, spikes=spikes, seed=31, top=10)
    full = rr.simulate(BULK, S2, rows, cols, spikes=spikes, seed=31, compare=False)
    assert top.singular_values[0].shape == (10,)
    assert_allclose(top.singular_values[0], full.singular_values[0][:10], rtol=1e-10)
    assert np.all(np.diff(top.singular_values[0]) <= 0)
    # and that matrix, rebuilt here, has those singular values
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(31).spawn(1)[0]))
    y = rr.noise_matrix(rows, cols, S2, rng)
    m = min(rows, cols)
    y[np.arange(m), np.arange(m)] += full.s  # type: ignore[index]
    assert_allclose(scipy.linalg.svdvals(y), full.singular_values[0], rtol=1e-12)


def test_seeds_reproduce_exactly() -> None:
    """A seed gives the same singular values bit for bit; trials are streams spawned from
    it (the first trial of three is the single trial of the same seed); another seed or
    no seed (a fresh one, reported) gives other values, reproduced from the report."""
    a = rr.simulate(BULK, S2, 300, 200, spikes=[2.0], seed=5, trials=3, compare=False)
    b = rr.simulate(BULK, S2, 300, 200, spikes=[2.0], seed=5, trials=3, compare=False)
    for x, y in zip(a.singular_values, b.singular_values, strict=True):
        assert_array_equal(x, y)
    one = rr.simulate(BULK, S2, 300, 200, spikes=[2.0], seed=5, compare=False)
    assert_array_equal(one.singular_values[0], a.singular_values[0])
    assert not np.array_equal(a.singular_values[0], a.singular_values[1])
    other = rr.simulate(BULK, S2, 300, 200, spikes=[2.0], seed=6, compare=False)
    assert not np.array_equal(other.singular_values[0], one.singular_values[0])
    fresh = rr.simulate(BULK, S2, 300, 200, spikes=[2.0], compare=False)
    again = rr.simulate(BULK, S2, 300, 200, spikes=[2.0], seed=fresh.seed, compare=False)
    assert_array_equal(fresh.singular_values[0], again.singular_values[0])
    for noise, extra in (("student_t", {"df": 8.0}), ("sparse", {"density": 0.3})):
        x = rr.simulate(BULK, S2, 200, 300, seed=9, noise=noise, compare=False, **extra)
        y = rr.simulate(BULK, S2, 200, 300, seed=9, noise=noise, compare=False, **extra)
        assert_array_equal(x.singular_values[0], y.singular_values[0])

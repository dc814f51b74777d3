"""The sweep's numerics without Dask: per-task seeds, one task, statistics and fits."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from numpy.testing import assert_allclose
from threadpoolctl import threadpool_limits

import rmtservice as rs
from rmtservice.density import kolmogorov_distance, support
from rmtservice.simulate import h_spectrum
from rmtservice.sweeps.statistics import (
    REFERENCE_RATES,
    TrialStats,
    check_plan,
    summarize,
    sweep_trial,
    trial_seed,
)

UNIFORM = rs.Uniform(-1.0, 1.0)


def test_task_seeds_are_fixed_distinct_and_json_safe() -> None:
    seeds = {trial_seed(7, n, t) for n in (200, 400, 600) for t in range(50)}
    assert len(seeds) == 150
    assert all(0 <= s < 2**53 for s in seeds)
    assert trial_seed(7, 400, 3) == trial_seed(7, 400, 3)
    assert trial_seed(7, 400, 3) != trial_seed(8, 400, 3)


def test_a_task_is_the_simulation_of_its_seed() -> None:
    """The task replays exactly as POST /v1/simulate with its seed, n and trials = 1."""
    t = sweep_trial(UNIFORM, 1.0, 300, 2, seed=11, spikes=[3.0, 0.5])
    sim = rs.simulate(UNIFORM, 1.0, 300, spikes=[3.0, 0.5], seed=t.seed)
    eig = sim.eigenvalues[0]
    _, ranks = h_spectrum(UNIFORM, 300, [3.0, 0.5])
    assert t.seed == trial_seed(11, 300, 2)
    assert ranks[0] == 0
    assert t.observed == (eig[0], eig[ranks[1]])  # each spike's eigenvalue by rank
    phi = float(rs.phi(UNIFORM, 1.0, [3.0])[0])
    assert t.predicted[0] == pytest.approx(phi, rel=1e-14)
    assert t.predicted[1] is None  # 0.5 is below the threshold: no outlier
    assert t.outlier_error == pytest.approx(abs(eig[0] - phi), rel=1e-14)
    edge = float(support(UNIFORM, 1.0).upper[-1])
    assert t.edge_predicted == edge
    assert t.edge_observed == eig[1]  # the largest eigenvalue below the one outlier
    assert t.edge_error == pytest.approx(abs(eig[1] - edge))
    assert t.kolmogorov == pytest.approx(kolmogorov_distance(UNIFORM, 1.0, eig), rel=1e-14)


def test_without_separated_spikes_the_edge_is_the_top_eigenvalue() -> None:
    t = sweep_trial(UNIFORM, 1.0, 200, 0, seed=3, spikes=[1.1])
    assert t.outlier_error is None
    assert t.edge_observed == t.observed[0]


def _synthetic(rate: float, sizes: list[int], trials: int) -> list[TrialStats]:
    rng = np.random.default_rng(0)
    out = []
    for n in sizes:
        for k in range(trials):
            e = 2.0 * n**rate * (1 + 0.1 * rng.standard_normal())
            out.append(TrialStats(n, k, 0, (), (), e, 1.0 - e, 1.0, e, 3.0 * n**-1.0, 0.01))
    return out


def test_fits_recover_a_known_rate() -> None:
    sizes = [200, 400, 800, 1600, 3200]
    summary = summarize(_synthetic(-0.5, sizes, 30))
    fit = summary.fits["outlier_error"]
    assert fit is not None and fit.sizes == 5
    assert fit.rate == pytest.approx(-0.5, abs=0.05)
    assert fit.rate_stderr is not None and 0 < fit.rate_stderr < 0.05
    ks = summary.fits["kolmogorov"]
    assert ks is not None
    assert ks.rate == pytest.approx(-1.0, abs=1e-12)  # noiseless: exact
    assert ks.intercept == pytest.approx(np.log(3.0), abs=1e-12)
    assert ks.reference == REFERENCE_RATES["kolmogorov"]
    first = summary.sizes[0]
    assert first.n == 200 and first.trials == 30
    m = first.metrics["outlier_error"]
    assert m is not None and m.count == 30
    assert m.stderr == pytest.approx(m.std / np.sqrt(30))
    assert first.edge_bias == pytest.approx(-m.mean)


def test_statistics_do_not_depend_on_the_order_of_the_results() -> None:
    rows = _synthetic(-0.5, [100, 300, 900], 5)
    shuffled = rows[:]
    random.Random(1).shuffle(shuffled)
    assert summarize(rows) == summarize(shuffled)


def test_fits_need_two_sizes_and_a_standard_error_three() -> None:
    one = summarize(_synthetic(-0.5, [100], 4))
    assert one.fits["outlier_error"] is None
    two = summarize(_synthetic(-0.5, [100, 200], 4))
    fit = two.fits["outlier_error"]
    assert fit is not None and fit.rate_stderr is None
    assert summarize([]).sizes == []


@pytest.mark.parametrize(
    ("sizes", "trials", "spikes", "message"),
    [
        ([], 1, (), "give 1 to 64 sizes, got 0"),
        ([100, 1], 1, (), "sizes must be integers >= 2"),
        ([100.5], 1, (), "sizes must be integers >= 2"),
        ([100], 0, (), "trials must be >= 1, got 0"),
        ([3, 100], 1, (1.0, 2.0, 3.0), "3 spikes need every size above 3, got n = 3"),
    ],
)
def test_plans_that_cannot_run(
    sizes: list[float], trials: int, spikes: tuple[float, ...], message: str
) -> None:
    with pytest.raises(rs.InvalidParameter, match=message.replace(".", r"\.")):
        check_plan(sizes, trials, spikes)


@pytest.mark.slow
def test_a_seeded_sweep_converges_at_the_theoretical_rates() -> None:
    """Uniform bulk, sigma2 = 1, one spike at 3: outlier error ~ n^-1/2, Kolmogorov
    distance ~ n^-1 (seeded: the figures are fixed; the bounds are the theory's)."""
    sizes = [100, 200, 400, 800]
    # one BLAS thread, as on a Dask worker: at these sizes threads only contend (10x slower
    # on a busy 2-core machine)
    with threadpool_limits(1):
        rows = [
            sweep_trial(UNIFORM, 1.0, n, t, seed=2024, spikes=[3.0])
            for n in sizes
            for t in range(20)
        ]
    summary = summarize(rows)
    out, ks = summary.fits["outlier_error"], summary.fits["kolmogorov"]
    assert out is not None and ks is not None and out.rate_stderr is not None
    # 20 trials per size: the mean |error| is known to ~15 %, the rate to ~0.1
    assert abs(out.rate - (-0.5)) < max(0.3, 3 * out.rate_stderr), out
    edge = summary.fits["edge_error"]
    assert edge is not None and abs(edge.rate - (-2 / 3)) < 0.3, edge
    assert -1.2 < ks.rate < -0.75, ks  # n^-1 up to logarithms
    means = [s.metrics["kolmogorov"].mean for s in summary.sizes]  # type: ignore[union-attr]
    assert all(b < a for a, b in itertools.pairwise(means))
    # the bulk's top eigenvalue sits below the edge by O(n^-2/3): a few times that at most
    assert_allclose([s.edge_bias for s in summary.sizes], 0.0, atol=4 * 100 ** (-2 / 3))

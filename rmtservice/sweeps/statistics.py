"""Monte Carlo sweeps over the matrix size: how fast ``H + W`` approaches its limit.

A sweep is a grid of sizes ``n`` with ``trials`` draws each. Every ``(n, trial)`` is an
independent task (:func:`sweep_trial`) with its own seed (:func:`trial_seed`), a
function of the sweep's seed, ``n`` and ``trial`` alone, so the results do not depend
on the order or the place the tasks run. :func:`summarize` turns the trials done so
far into per-``n`` statistics and fits ``log error = a + rate * log n`` per metric:

- ``outlier_error``: the largest ``|lambda - phi(theta)|`` over the separated spikes,
  ``lambda`` the eigenvalue of the spike's rank (Theorem 2.2; reference rate -1/2);
- ``edge_error``: ``|lambda_edge - E|``, ``lambda_edge`` the largest eigenvalue that is
  not a separated spike's outlier above the bulk, ``E`` the right edge of ``supp mu``
  (reference rate -2/3, the Tracy-Widom scale);
- ``kolmogorov``: ``sup |F_n - F_mu|`` of the whole spectrum (reference rate -1, up to
  logarithms).

The reference rates are what the theory leads one to expect, shown beside the fits;
they are not asserted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from rmtservice._solve import check_sigma2
from rmtservice.errors import InvalidParameter
from rmtservice.measures import Measure
from rmtservice.noise import GAUSSIAN, Noise
from rmtservice.simulate import simulate
from rmtservice.vocabulary import SWEEP_METRICS

__all__ = [
    "METRICS",
    "REFERENCE_RATES",
    "MetricStats",
    "RateFit",
    "SizeStats",
    "SweepSummary",
    "TrialStats",
    "check_plan",
    "check_trial_inputs",
    "summarize",
    "sweep_trial",
    "trial_seed",
]

METRICS = SWEEP_METRICS
REFERENCE_RATES = {"outlier_error": -0.5, "edge_error": -2.0 / 3.0, "kolmogorov": -1.0}
MAX_SIZES = 64


def trial_seed(seed: int, n: int, trial: int) -> int:
    """The seed of one ``(n, trial)`` task: below 2^53, so every JSON reader keeps it,
    and ``POST /v1/simulate`` with it and ``trials = 1`` replays the draw."""
    state = np.random.SeedSequence([int(seed), int(n), int(trial)]).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(11))


def check_plan(sizes: ArrayLike, trials: int, spikes: ArrayLike = ()) -> list[int]:
    """Sizes sorted and unique; exact messages for what cannot run."""
    ns = np.asarray(sizes).ravel()
    if ns.size == 0 or ns.size > MAX_SIZES:
        raise InvalidParameter(f"give 1 to {MAX_SIZES} sizes, got {ns.size}", field="sizes")
    if not np.all(np.equal(np.mod(ns, 1), 0)) or np.min(ns) < 2:
        raise InvalidParameter("sizes must be integers >= 2", field="sizes")
    if trials < 1:
        raise InvalidParameter(f"trials must be >= 1, got {trials}", field="trials")
    k = np.asarray(spikes, dtype=float).size
    if k >= np.min(ns):
        raise InvalidParameter(
            f"{k} spikes need every size above {k}, got n = {int(np.min(ns))}", field="sizes"
        )
    return sorted({int(v) for v in ns})


@dataclass(frozen=True)
class TrialStats:
    """What one draw of ``H + W`` of size ``n`` showed, against the limits."""

    n: int
    trial: int
    seed: int
    #: eigenvalue at each spike's rank, in the order of the spikes
    observed: tuple[float, ...]
    #: ``phi(theta)`` per spike, None where the spike does not separate
    predicted: tuple[float | None, ...]
    outlier_error: float | None
    edge_observed: float
    edge_predicted: float
    edge_error: float
    kolmogorov: float
    seconds: float


def sweep_trial(
    measure: Measure,
    sigma2: float,
    n: int,
    trial: int,
    *,
    seed: int,
    spikes: ArrayLike = (),
    noise: Noise = GAUSSIAN,
) -> TrialStats:
    """One task of a sweep: a full spectrum of ``H + W`` and its three errors."""
    start = time.perf_counter()
    s = trial_seed(seed, n, trial)
    sim = simulate(measure, sigma2, n, spikes=spikes, noise=noise, seed=s)
    eig = sim.eigenvalues[0]
    from rmtservice.density import support

    right = float(support(measure, sigma2).upper[-1])
    observed = tuple(float(o.observed) for o in sim.outliers if o.observed is not None)
    predicted = tuple(o.predicted for o in sim.outliers)
    errors = [abs(o.difference) for o in sim.outliers if o.difference is not None]
    above = sum(1 for p in predicted if p is not None and p > right)
    edge = float(eig[above])
    assert sim.kolmogorov is not None  # a full spectrum always has one
    return TrialStats(
        n=n,
        trial=trial,
        seed=s,
        observed=observed,
        predicted=predicted,
        outlier_error=max(errors) if errors else None,
        edge_observed=edge,
        edge_predicted=right,
        edge_error=abs(edge - right),
        kolmogorov=float(sim.kolmogorov[0]),
        seconds=time.perf_counter() - start,
    )


@dataclass(frozen=True)
class MetricStats:
    """Mean, standard deviation and standard error of a metric over the trials of one n."""

    mean: float
    std: float
    stderr: float
    count: int


@dataclass(frozen=True)
class SizeStats:
    n: int
    trials: int
    metrics: dict[str, MetricStats | None]
    #: mean signed ``lambda_edge - E``: the bias of the edge at this size
    edge_bias: float
    seconds: float


@dataclass(frozen=True)
class RateFit:
    """``log mean = intercept + rate * log n`` by least squares over the sizes."""

    rate: float
    intercept: float
    #: standard error of the rate (None with fewer than three sizes)
    rate_stderr: float | None
    sizes: int
    reference: float


@dataclass(frozen=True)
class SweepSummary:
    sizes: list[SizeStats]
    fits: dict[str, RateFit | None]


def _stats(values: list[float]) -> MetricStats | None:
    if not values:
        return None
    v = np.asarray(values, dtype=float)
    std = float(np.std(v, ddof=1)) if v.size > 1 else 0.0
    return MetricStats(float(np.mean(v)), std, std / float(np.sqrt(v.size)), int(v.size))


def _fit(ns: list[int], means: list[float], reference: float) -> RateFit | None:
    keep = [(n, m) for n, m in zip(ns, means, strict=True) if m > 0 and np.isfinite(m)]
    if len(keep) < 2:
        return None
    x = np.log([n for n, _ in keep])
    y = np.log([m for _, m in keep])
    a = np.vstack([np.ones_like(x), x]).T
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    stderr = None
    if len(keep) > 2:
        resid = y - a @ coef
        s2 = float(resid @ resid) / (len(keep) - 2)
        stderr = float(np.sqrt(s2 / float(np.sum((x - x.mean()) ** 2))))
    return RateFit(float(coef[1]), float(coef[0]), stderr, len(keep), reference)


def summarize(trials: list[TrialStats]) -> SweepSummary:
    """Per-n statistics of the trials given (any subset, any order) and the fitted rates."""
    by_n: dict[int, list[TrialStats]] = {}
    for t in trials:
        by_n.setdefault(t.n, []).append(t)
    sizes = []
    for n in sorted(by_n):
        rows = sorted(by_n[n], key=lambda t: t.trial)
        metrics = {
            name: _stats([v for t in rows if (v := getattr(t, name)) is not None])
            for name in METRICS
        }
        bias = float(np.mean([t.edge_observed - t.edge_predicted for t in rows]))
        sizes.append(SizeStats(n, len(rows), metrics, bias, sum(t.seconds for t in rows)))
    fits: dict[str, RateFit | None] = {}
    for name in METRICS:
        pairs = [(s.n, m.mean) for s in sizes if (m := s.metrics[name]) is not None]
        fits[name] = _fit([p[0] for p in pairs], [p[1] for p in pairs], REFERENCE_RATES[name])
    return SweepSummary(sizes, fits)


def check_trial_inputs(sigma2: float) -> None:
    """Refuse a bad noise level before any task is sent anywhere (the noise law was
    checked when its :class:`~rmtservice.noise.Noise` was made)."""
    check_sigma2(sigma2)

"""Monte Carlo: sample spectra of ``M = H + W`` and compare them with the theory.

``W`` is a Wigner matrix with off-diagonal variance ``sigma2/n`` and diagonal variance
``2 sigma2/n`` (MATH.md section 1). It is drawn in place into one ``n x n`` buffer:
LAPACK's symmetric eigensolvers read only the lower triangle, so i.i.d. entries there
*are* a symmetric Wigner matrix and no symmetrisation pass is needed. ``H`` is
diagonal (its eigenvalues) unless a full matrix is given.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike, NDArray

from rmtservice import deadline
from rmtservice._solve import check_sigma2
from rmtservice.errors import InvalidParameter
from rmtservice.measures import Atoms, Measure

__all__ = ["NOISE_LAWS", "SimulatedOutlier", "Simulation", "h_spectrum", "simulate", "wigner"]

FloatArray = NDArray[np.float64]
NOISE_LAWS = ("gaussian", "rademacher", "uniform", "student_t", "sparse")


@dataclass(frozen=True)
class SimulatedOutlier:
    """A spike, its predicted limit ``phi(theta)`` (None if not separated), and the
    matching eigenvalue of ``H + W`` (by rank, Theorem 2.2), averaged over trials."""

    spike: float
    predicted: float | None
    observed: float | None
    observed_std: float | None = None
    overlap_predicted: float | None = None
    overlap_observed: float | None = None


@dataclass(frozen=True, eq=False)
class Simulation:
    """Eigenvalues (one descending row per trial), the seed, the spike comparison."""

    eigenvalues: list[FloatArray]
    seed: int
    outliers: list[SimulatedOutlier] = field(default_factory=list)
    h: FloatArray | None = None


def _check_noise(noise: str, df: float | None, density: float | None) -> None:
    if noise not in NOISE_LAWS:
        raise InvalidParameter(
            f"noise distribution must be one of {', '.join(NOISE_LAWS)}, got {noise!r}",
            field="distribution",
        )
    if noise == "student_t" and not (df is not None and math.isfinite(df) and df > 4):
        raise InvalidParameter("student_t noise needs df > 4 (finite fourth moment)",
                               field="df")
    if noise == "sparse" and not (density is not None and 0 < density <= 1):
        raise InvalidParameter("sparse noise needs density in (0, 1]", field="density")


def wigner(
    n: int, sigma2: float, rng: np.random.Generator, *, noise: str = "gaussian",
    df: float | None = None, density: float | None = None, out: FloatArray | None = None,
) -> FloatArray:
    """Lower triangle of a Wigner matrix (upper triangle: unspecified) in one buffer.

    Entries have unit-variance law ``noise`` scaled to ``sigma2/n`` off the diagonal and
    ``2 sigma2/n`` on it.
    """
    _check_noise(noise, df, density)
    a = np.empty((n, n)) if out is None else out
    if noise == "gaussian":
        rng.standard_normal(out=a)
    elif noise == "uniform":
        rng.random(out=a)
        a -= 0.5
        a *= 2.0 * math.sqrt(3.0)
    elif noise == "rademacher":
        rng.random(out=a)
        np.less(a, 0.5, out=a)  # type: ignore[call-overload]
        a *= 2.0
        a -= 1.0
    else:
        rows = max(1, (1 << 20) // max(n, 1))
        for i in range(0, n, rows):
            block = a[i : i + rows]
            if noise == "student_t":
                assert df is not None
                block[:] = rng.standard_t(df, size=block.shape) / math.sqrt(df / (df - 2.0))
            else:
                assert density is not None
                rng.standard_normal(out=block)
                block *= rng.random(size=block.shape) < density
                block /= math.sqrt(density)
    a *= math.sqrt(sigma2 / n)
    a.flat[:: n + 1] *= math.sqrt(2.0)
    return a


def h_spectrum(measure: Measure, n: int, spikes: ArrayLike = ()) -> FloatArray:
    """``n`` eigenvalues of H: the measure's own atoms when it has exactly ``n``,
    else its midpoint quantiles; spikes replace the largest atoms (spikes at or above
    the mean) and the smallest (spikes below it). Returned in descending order."""
    theta = np.asarray(spikes, dtype=float).ravel()
    if theta.size > n:
        raise InvalidParameter(f"{theta.size} spikes do not fit in a matrix of size {n}",
                               field="spikes")
    if isinstance(measure, Atoms) and measure.size == n and np.allclose(
        measure.weights, 1.0 / n, rtol=1e-12, atol=0
    ):
        h = measure.values.copy()
    else:
        h = measure.midpoint_quantiles(n)
    h = np.sort(h)
    up = np.sort(theta[theta >= measure.mean])
    down = np.sort(theta[theta < measure.mean])
    if up.size:
        h[n - up.size :] = up
    if down.size:
        h[: down.size] = down
    return np.sort(h)[::-1].copy()


def simulate(
    measure: Measure,
    sigma2: float,
    n: int,
    *,
    spikes: ArrayLike = (),
    noise: str = "gaussian",
    df: float | None = None,
    density: float | None = None,
    seed: int | None = None,
    trials: int = 1,
    top: int | None = None,
    matrix: ArrayLike | None = None,
) -> Simulation:
    """Eigenvalues of ``H + W`` for ``trials`` independent draws of ``W``.

    ``top``: only the ``top`` largest eigenvalues (LAPACK's subset solver). ``matrix``:
    a full symmetric H used as it is (its size must be ``n``).
    """
    s2 = check_sigma2(sigma2)
    _check_noise(noise, df, density)
    if n < 1:
        raise InvalidParameter(f"n must be >= 1, got {n}", field="n")
    if trials < 1:
        raise InvalidParameter(f"trials must be >= 1, got {trials}", field="trials")
    if top is not None and not 1 <= top <= n:
        raise InvalidParameter(f"top must be in [1, n] = [1, {n}], got {top}", field="top")
    seed = secrets.randbits(63) if seed is None else int(seed)
    streams = np.random.SeedSequence(seed).spawn(trials)
    theta = np.asarray(spikes, dtype=float).ravel()
    if matrix is not None:
        hm = np.asarray(matrix, dtype=float)
        if hm.shape != (n, n):
            raise InvalidParameter(f"matrix must be {n} x {n}, got shape {hm.shape}",
                                   field="matrix")
        h = None
    else:
        h = h_spectrum(measure, n, theta)
    results = []
    buf = np.empty((n, n))
    for ss in streams:
        deadline.check()
        rng = np.random.Generator(np.random.PCG64(ss))
        a = wigner(n, s2, rng, noise=noise, df=df, density=density, out=buf)
        if h is not None:
            a.flat[:: n + 1] += h
        else:
            a += np.tril(hm)
        results.append(_eigvalsh(a, top))
    return Simulation(results, seed, _compare(measure, s2, theta, h, results), h)


def _eigvalsh(a: FloatArray, top: int | None) -> FloatArray:
    n = a.shape[0]
    if top is None or top == n:
        ev = scipy.linalg.eigvalsh(a, lower=True, overwrite_a=True, check_finite=False)
    else:
        ev = scipy.linalg.eigh(a, lower=True, eigvals_only=True, overwrite_a=True,
                               check_finite=False, subset_by_index=[n - top, n - 1],
                               driver="evr")
    return ev[::-1].copy()


def _compare(measure: Measure, s2: float, theta: FloatArray, h: FloatArray | None,
             results: list[FloatArray]) -> list[SimulatedOutlier]:
    from rmtservice.outliers import outliers

    if theta.size == 0:
        return []
    report = outliers(measure, s2, theta)
    out = []
    for t, o in zip(theta, report.outliers, strict=True):
        obs = None
        std = None
        if h is not None:
            rank = int(np.flatnonzero(h == t)[0]) if np.any(h == t) else None
            if rank is not None and all(rank < r.size for r in results):
                vals = np.array([r[rank] for r in results])
                obs, std = float(vals.mean()), float(vals.std())
        out.append(SimulatedOutlier(float(t), o.location, obs, std, o.overlap, None))
    return out

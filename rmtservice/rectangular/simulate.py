"""Monte Carlo for the rectangular model: singular values of ``S + X``, against the theory.

``X`` (``rows x cols``) has i.i.d. entries of a unit-variance law scaled to variance
``sigma2 / rows`` (docs/theory/rectangular.md). ``S`` is the rectangular diagonal matrix of the
``min(rows, cols)`` midpoint quantiles of ``nu`` (or its own atoms when it has exactly that
many of equal weight), spikes replacing its largest values, or a full matrix given as it is
(its singular vectors matter for non-Gaussian noise only). For Gaussian noise the law of the
singular values of ``S + X`` depends on S only through its singular values.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike, NDArray

from rmtservice import deadline
from rmtservice._solve import MAX_ABS, check_sigma2
from rmtservice.errors import InvalidParameter
from rmtservice.measures import Measure
from rmtservice.noise import Noise
from rmtservice.rectangular.laws import check_nonnegative, squared
from rmtservice.rectangular.limit import (
    _check_scale,
    check_aspect_ratio,
    kolmogorov_distance,
    support,
)
from rmtservice.rectangular.outliers import outliers
from rmtservice.simulate import h_spectrum, observed, outside_counts
from rmtservice.vocabulary import MAX_SEED

__all__ = ["SimulatedOutlier", "Simulation", "noise_matrix", "simulate"]

FloatArray = NDArray[np.float64]

#: with at least this many singular values, and at most 1/20 of them asked, Lanczos
LANCZOS_MIN = 400


@dataclass(frozen=True)
class SimulatedOutlier:
    """A singular value of S: its predicted outlier ``sqrt(Phi(theta^2))`` (None if not
    separated) and the singular value of ``S + X`` of the same rank, averaged over trials;
    with ``vectors``, the predicted and observed squared overlaps of its singular vectors."""

    spike: float
    predicted: float | None
    observed: float | None
    difference: float | None = None
    observed_std: float | None = None
    left_overlap_predicted: float | None = None
    right_overlap_predicted: float | None = None
    left_overlap_observed: float | None = None
    right_overlap_observed: float | None = None


@dataclass(frozen=True, eq=False)
class Simulation:
    """Singular values (one descending row per trial), the seed, the singular values of S
    used, and the comparison with the theory (per spike; for full spectra, the values
    outside the predicted support and the Kolmogorov distance of each trial)."""

    singular_values: list[FloatArray]
    seed: int
    rows: int
    cols: int
    outliers: list[SimulatedOutlier] = field(default_factory=list)
    s: FloatArray | None = None
    spikes: FloatArray | None = None
    outside_support: list[int] | None = None
    separated_spikes: int | None = None
    kolmogorov: list[float] | None = None


def noise_matrix(
    rows: int,
    cols: int,
    sigma2: float,
    rng: np.random.Generator,
    *,
    noise: str | Noise = "gaussian",
    df: float | None = None,
    density: float | None = None,
) -> FloatArray:
    """``rows x cols`` i.i.d. entries of law ``noise``, variance ``sigma2 / rows``.

    Parameters
    ----------
    rows, cols : int
        The shape.
    sigma2 : float
        Noise level.
    rng : numpy.random.Generator
        The stream to draw from.
    noise : str or Noise
        The entries' law (``gaussian``, ``rademacher``, ``uniform``, ``student_t``,
        ``sparse``), of unit variance before scaling.
    df, density : float, optional
        Parameters of ``student_t`` and ``sparse``.

    Returns
    -------
    ndarray
        The ``rows x cols`` matrix ``X``.

    Raises
    ------
    InvalidParameter
        An unknown noise law or a parameter out of its range.

    Examples
    --------
    >>> import numpy as np
    >>> from rmtservice.rectangular import noise_matrix
    >>> x = noise_matrix(400, 200, 1.0, np.random.default_rng(0))
    >>> x.shape, round(float(x.var() * 400), 1)
    ((400, 200), 1.0)
    """
    x = np.empty((rows, cols))
    Noise.of(noise, df, density).fill(x, rng)
    x *= math.sqrt(sigma2 / rows)
    return x


def _check_sizes(rows: int, cols: int, trials: int, top: int | None) -> int:
    for name, v in (("rows", rows), ("cols", cols), ("trials", trials)):
        if v < 1:
            raise InvalidParameter(f"{name} must be >= 1, got {v}", field=name)
    m = min(rows, cols)
    if top is not None and not 1 <= top <= m:
        raise InvalidParameter(
            f"top must be in [1, min(rows, cols)] = [1, {m}], got {top}", field="top"
        )
    return m


def _signal(
    measure: Measure, m: int, spikes: ArrayLike, matrix: ArrayLike | None, shape: tuple[int, int]
) -> tuple[FloatArray | None, FloatArray | None, NDArray[np.intp]]:
    """The diagonal of S (descending) and each spike's rank, or the full matrix S."""
    theta = np.asarray(spikes, dtype=float).ravel()
    if not np.all(np.isfinite(theta) & (np.abs(theta) <= math.sqrt(MAX_ABS))):
        raise InvalidParameter(
            f"spikes must be finite and at most {math.sqrt(MAX_ABS):.0e}", field="spikes"
        )
    if np.any(theta < 0):
        raise InvalidParameter("spikes are singular values: they must be >= 0", field="spikes")
    if matrix is not None:
        if theta.size:
            raise InvalidParameter("spikes cannot be combined with a full matrix S", field="spikes")
        s_full = np.asarray(matrix, dtype=float)
        if s_full.shape != shape:
            raise InvalidParameter(
                f"matrix must be {shape[0]} x {shape[1]}, got shape {s_full.shape}",
                field="matrix",
            )
        return None, s_full, np.empty(0, dtype=np.intp)
    diag, ranks = h_spectrum(measure, m, theta)
    return diag, None, ranks


class _Trial:
    """One draw of ``S + X`` and its singular values (and spike overlaps with ``vectors``)."""

    def __init__(
        self,
        shape: tuple[int, int],
        sigma2: float,
        noise: Noise,
        diag: FloatArray | None,
        full: FloatArray | None,
        top: int | None,
        want: list[int],
    ) -> None:
        self.shape, self.sigma2, self.noise = shape, sigma2, noise
        self.diag, self.full, self.top, self.want = diag, full, top, want

    def __call__(self, ss: np.random.SeedSequence) -> tuple[FloatArray, dict[int, tuple]]:
        deadline.check()
        rows, cols = self.shape
        rng = np.random.Generator(np.random.PCG64(ss))
        y = noise_matrix(rows, cols, self.sigma2, rng, noise=self.noise)
        if self.diag is not None:
            m = self.diag.size
            y[np.arange(m), np.arange(m)] += self.diag
        elif self.full is not None:
            y += self.full
        deadline.check()
        if self.want:
            u, sv, vt = scipy.linalg.svd(y, full_matrices=False, check_finite=False)
            ov = {r: (float(u[r, r] ** 2), float(vt[r, r] ** 2)) for r in self.want}
            return (sv[: self.top] if self.top else sv), ov
        if self.top is not None and min(rows, cols) >= LANCZOS_MIN:
            if self.top <= min(rows, cols) // 20:
                return _lanczos_top(y, self.top, rng), {}
        sv = scipy.linalg.svdvals(y, overwrite_a=True, check_finite=False)
        return (sv[: self.top] if self.top else sv), {}


def _lanczos_top(y: FloatArray, k: int, rng: np.random.Generator) -> FloatArray:
    """The ``k`` largest singular values: Lanczos (ARPACK) on the Gram matrix of the
    smaller side, ``v -> Y^T (Y v)`` (two BLAS products, no full factorisation). The Ritz
    values' residuals are at most ``tol`` times ``||Y||^2``; the error in ``sigma^2`` is
    quadratic in them. LAPACK's full SVD if ARPACK does not converge."""
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    a = y if y.shape[0] >= y.shape[1] else y.T
    p = a.shape[1]

    def matvec(v: FloatArray) -> FloatArray:
        return a.T @ (a @ v.ravel())

    op = LinearOperator((p, p), matvec=matvec, dtype=float)
    try:
        ev = eigsh(
            op,
            k=k,
            which="LA",
            v0=rng.standard_normal(p),
            ncv=min(p, max(2 * k + 1, 40)),
            tol=1e-10,
            return_eigenvectors=False,
        )
        return np.sqrt(np.maximum(np.sort(ev)[::-1], 0.0))
    except ArpackNoConvergence:
        return scipy.linalg.svdvals(y, check_finite=False)[:k]


def simulate(
    measure: Measure,
    sigma2: float,
    rows: int,
    cols: int,
    *,
    spikes: ArrayLike = (),
    noise: str | Noise = "gaussian",
    df: float | None = None,
    density: float | None = None,
    seed: int | None = None,
    trials: int = 1,
    top: int | None = None,
    matrix: ArrayLike | None = None,
    vectors: bool = False,
    compare: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Simulation:
    """Singular values of ``S + X`` for ``trials`` independent draws of ``X``.

    ``S`` is the rectangular diagonal matrix of the midpoint quantiles of ``nu``, the
    spikes in place of its largest values (docs/theory/rectangular.md).

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the singular values of ``S``.
    sigma2 : float
        Noise level (entries of variance ``sigma2 / rows``).
    rows, cols : int
        The shape of ``Y``.
    spikes : array_like
        Singular values of ``S`` that replace its largest ones.
    noise : str or Noise
        The entries' law.
    df, density : float, optional
        Parameters of ``student_t`` and ``sparse``.
    seed : int, optional
        Seed of the draws; drawn and returned when None.
    trials : int
        Independent draws, each on its own stream spawned from ``seed``.
    top : int, optional
        Only that many largest singular values (Lanczos on the Gram matrix when few of
        many).
    matrix : array_like, optional
        A full ``rows x cols`` S used as it is.
    vectors : bool
        Squared overlaps of each spike's left and right singular vectors with its own (a
        full SVD).
    compare : bool
        Compare each spectrum with the limit.
    progress : callable, optional
        ``progress(done, total)`` after each trial.

    Returns
    -------
    Simulation
        ``singular_values`` (one descending array per trial), the ``seed``, per-spike
        ``outliers`` (predicted, observed) and the comparison.

    Raises
    ------
    InvalidParameter
        Sizes or ``trials`` below 1, ``top`` not in ``[1, min(rows, cols)]``, more spikes
        than singular values, spikes with a full ``matrix`` or one of the wrong shape, an
        unknown noise law.

    Examples
    --------
    >>> import rmtservice as rs
    >>> import rmtservice.rectangular as rr
    >>> s = rr.simulate(rs.Uniform(0.0, 1.0), 0.5, 400, 200, spikes=[3.0], seed=1, top=2)
    >>> s.singular_values[0].round(4).tolist(), round(s.outliers[0].predicted, 4)
    ([3.1037, 1.5757], 3.128)
    """
    s2 = check_sigma2(sigma2)
    law = Noise.of(noise, df, density)
    m = _check_sizes(rows, cols, trials, top)
    c = check_aspect_ratio(cols / rows)
    check_nonnegative(measure)
    _check_scale(squared(measure), s2, resolve=compare)
    seed = secrets.randbelow(MAX_SEED + 1) if seed is None else int(seed)
    diag, full, ranks = _signal(measure, m, spikes, matrix, (rows, cols))
    theta = np.asarray(spikes, dtype=float).ravel()
    want = sorted(set(ranks.tolist())) if vectors else []
    job = _Trial((rows, cols), s2, law, diag, full, top, want)
    runs = []
    for i, ss in enumerate(np.random.SeedSequence(seed).spawn(trials)):
        runs.append(job(ss))
        if progress is not None:
            progress(i + 1, trials)
    sim = Simulation(
        singular_values=[r[0] for r in runs], seed=seed, rows=rows, cols=cols, s=diag, spikes=theta
    )
    if not compare:
        return sim
    return _compare(measure, s2, c, sim, ranks, [r[1] for r in runs], full=top is None)


def _compare(
    measure: Measure,
    s2: float,
    c: float,
    sim: Simulation,
    ranks: NDArray[np.intp],
    overlaps: list[dict[int, tuple]],
    *,
    full: bool,
) -> Simulation:
    sup = support(measure, s2, c)
    theta = sim.spikes if sim.spikes is not None else np.empty(0)
    report = outliers(measure, s2, c, theta, sup=sup)
    items = []
    for t, o, r in zip(theta, report.outliers, ranks, strict=True):
        obs, std = observed(sim.singular_values, int(r))
        ov = [d[int(r)] for d in overlaps if int(r) in d]
        items.append(
            SimulatedOutlier(
                spike=float(t),
                predicted=o.location,
                observed=obs,
                difference=None if obs is None or o.location is None else obs - o.location,
                observed_std=std,
                left_overlap_predicted=o.left_overlap,
                right_overlap_predicted=o.right_overlap,
                left_overlap_observed=float(np.mean([a for a, _ in ov])) if ov else None,
                right_overlap_observed=float(np.mean([b for _, b in ov])) if ov else None,
            )
        )
    outside = ks = None
    if full:
        outside = outside_counts(sup.locate, sim.singular_values)
        ks = [kolmogorov_distance(measure, s2, c, v, sup=sup) for v in sim.singular_values]
    return Simulation(
        sim.singular_values,
        sim.seed,
        sim.rows,
        sim.cols,
        items,
        sim.s,
        sim.spikes,
        outside,
        sum(1 for o in report.outliers if o.separated),
        ks,
    )

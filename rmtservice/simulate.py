"""Monte Carlo: sample spectra of ``M = H + W`` and compare them with the theory.

``W`` is a Wigner matrix with off-diagonal variance ``sigma2/n`` and diagonal variance
``2 sigma2/n`` (docs/theory/symmetric.md). It is drawn in place into one ``n x n`` buffer:
LAPACK's symmetric eigensolvers read only the lower triangle, so i.i.d. entries there
*are* a symmetric Wigner matrix and no symmetrisation pass is needed. ``H`` is
diagonal (its eigenvalues) unless a full matrix is given.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike, NDArray

from rmtservice import deadline
from rmtservice._inputs import as_measure, count, real_array
from rmtservice._solve import check_scale, check_sigma2, check_spikes
from rmtservice.errors import InvalidParameter
from rmtservice.measures import Atoms, Measure
from rmtservice.noise import Noise
from rmtservice.vocabulary import MAX_SEED, NOISE_LAWS

__all__ = [
    "NOISE_LAWS",
    "SimulatedOutlier",
    "Simulation",
    "h_spectrum",
    "histogram",
    "simulate",
    "wigner",
]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class SimulatedOutlier:
    """A spike, its predicted limit ``phi(theta)`` (None if not separated), and the
    eigenvalue of ``H + W`` of the same rank (Theorem 2.2), averaged over trials."""

    spike: float
    predicted: float | None
    observed: float | None
    difference: float | None = None
    observed_std: float | None = None
    overlap_predicted: float | None = None
    overlap_observed: float | None = None


@dataclass(frozen=True, eq=False)
class Simulation:
    """Eigenvalues (one descending row per trial), the seed, and the comparison with
    the theory: per-spike outliers, eigenvalues outside the predicted support against
    separated spikes, and the Kolmogorov distance of each trial's spectrum."""

    eigenvalues: list[FloatArray]
    seed: int
    outliers: list[SimulatedOutlier] = field(default_factory=list)
    h: FloatArray | None = None
    bottom: list[FloatArray] | None = None
    spikes: FloatArray | None = None
    outside_support: list[int] | None = None
    separated_spikes: int | None = None
    kolmogorov: list[float] | None = None


def wigner(
    n: int,
    sigma2: float,
    rng: np.random.Generator,
    *,
    noise: str | Noise = "gaussian",
    df: float | None = None,
    density: float | None = None,
    out: FloatArray | None = None,
) -> FloatArray:
    """Lower triangle of a Wigner matrix (upper triangle: unspecified) in one buffer.

    Entries have unit-variance law ``noise`` scaled to ``sigma2/n`` off the diagonal and
    ``2 sigma2/n`` on it. Only the lower triangle is drawn, row by row (``a[i, :i+1]``),
    in float64, so a float32 buffer holds the same matrix rounded (the stream does not
    depend on the dtype).

    Parameters
    ----------
    n : int
        Matrix size.
    sigma2 : float
        Noise level.
    rng : numpy.random.Generator
        The stream to draw from.
    noise : str or Noise
        The entries' law: ``gaussian``, ``rademacher``, ``uniform``, ``student_t`` (with
        ``df``) or ``sparse`` (with ``density``).
    df, density : float, optional
        Parameters of ``student_t`` and ``sparse``.
    out : ndarray, optional
        An ``n x n`` buffer to fill (float64 or float32), e.g. to reuse memory.

    Returns
    -------
    ndarray
        The buffer, its lower triangle (diagonal included) holding the matrix; LAPACK's
        ``eigh(..., lower=True)`` reads only that.

    Raises
    ------
    InvalidParameter
        An unknown noise law or a parameter out of its range.

    Examples
    --------
    >>> import numpy as np
    >>> from rmtservice.simulate import wigner
    >>> a = wigner(400, 1.0, np.random.default_rng(0))
    >>> off = a[np.tril_indices(400, -1)]
    >>> round(float(off.var() * 400), 1), round(float(a.diagonal().var() * 400), 1)
    (1.0, 2.0)
    """
    law = Noise.of(noise, df, density)
    a = np.zeros((n, n)) if out is None else out
    scale = math.sqrt(sigma2 / n)
    # only the lower triangle is drawn (half the work): rows in blocks of about 2^20
    # entries, each block one flat float64 draw laid out row by row
    i = 0
    while i < n:
        j = i + 1
        while j < n and (j * (j + 1) - i * (i + 1)) // 2 < (1 << 20):
            j += 1
        flat = np.empty((j * (j + 1) - i * (i + 1)) // 2)
        law.fill(flat, rng)
        flat *= scale
        off = 0
        for row in range(i, j):
            a[row, : row + 1] = flat[off : off + row + 1]
            off += row + 1
        i = j
    a.flat[:: n + 1] *= a.dtype.type(math.sqrt(2.0))
    return a


def h_spectrum(
    measure: Measure, n: int, spikes: ArrayLike = ()
) -> tuple[FloatArray, NDArray[np.intp]]:
    """``n`` eigenvalues of H in descending order, and the rank of each spike in them.

    The measure's own atoms when it has exactly ``n`` equal weights, else its midpoint
    quantiles; spikes replace the largest atoms (spikes at or above the mean) and the
    smallest (spikes below it).

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the bulk.
    n : int
        Matrix size.
    spikes : array_like
        Eigenvalues to put in place of extreme atoms.

    Returns
    -------
    (ndarray, ndarray)
        The eigenvalues (descending) and, per spike, its index in them.

    Raises
    ------
    InvalidParameter
        More spikes than ``n``.

    Examples
    --------
    >>> import rmtservice as rs
    >>> from rmtservice.simulate import h_spectrum
    >>> h, rank = h_spectrum(rs.Uniform(-1, 1), 4, spikes=[3.0])
    >>> h.tolist(), rank.tolist()
    ([3.0, 0.25, -0.25, -0.75], [0])
    """
    theta = real_array("spikes", spikes).ravel()
    if theta.size > n:
        raise InvalidParameter(
            f"{theta.size} spikes do not fit in a matrix of size {n}", field="spikes"
        )
    if (
        isinstance(measure, Atoms)
        and measure.size == n
        and np.allclose(measure.weights, 1.0 / n, rtol=1e-12, atol=0)
    ):
        base = np.sort(measure.values)
    else:
        base = np.sort(measure.midpoint_quantiles(n))
    up = int(np.count_nonzero(theta >= measure.mean))
    down = theta.size - up
    base = base[down : n - up]
    values = np.concatenate([base, theta])
    tags = np.concatenate([np.full(base.size, -1), np.arange(theta.size)])
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(theta.size, dtype=np.intp)
    pos = np.flatnonzero(tags[order] >= 0)
    ranks[tags[order][pos]] = pos
    return values[order], ranks


def simulate(
    measure: Measure,
    sigma2: float,
    n: int,
    *,
    spikes: ArrayLike = (),
    noise: str | Noise = "gaussian",
    df: float | None = None,
    density: float | None = None,
    seed: int | None = None,
    trials: int = 1,
    top: int | None = None,
    bottom: int | None = None,
    matrix: ArrayLike | None = None,
    eigenvectors: bool = False,
    dtype: str = "float64",
    spike_law: Measure | None = None,
    spike_count: int = 0,
    workers: int = 1,
    compare: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Simulation:
    """Eigenvalues of ``H + W`` for ``trials`` independent draws of ``W``.

    ``H`` has the midpoint quantiles of ``nu`` as eigenvalues (its own atoms when it has
    exactly ``n`` equal ones), the spikes in place of its extreme ones; ``W`` is Wigner
    (docs/theory/symmetric.md). Each spike's observed outlier is compared with its
    prediction ``phi(theta)`` and, with ``compare``, the spectrum with the limit.

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the bulk of ``H``.
    sigma2 : float
        Noise level ``sigma2 > 0``.
    n : int
        Matrix size.
    spikes : array_like
        Eigenvalues of ``H`` that replace its extreme atoms.
    noise : str or Noise
        The entries' law (``gaussian``, ``rademacher``, ``uniform``, ``student_t``,
        ``sparse``), each scaled to variance ``sigma2/n`` off the diagonal.
    df, density : float, optional
        Degrees of freedom of ``student_t`` (> 4), density of ``sparse`` in (0, 1].
    seed : int, optional
        Seed of the draws; drawn at random and returned when None.
    trials : int
        Independent draws of ``W``, each on its own stream spawned from ``seed``
        (``SeedSequence.spawn``): the result does not depend on ``workers``.
    top, bottom : int, optional
        Only that many largest/smallest eigenvalues (LAPACK's subset solver, no full
        spectrum).
    matrix : array_like, optional
        A full symmetric ``n x n`` H used as it is (no spikes then).
    eigenvectors : bool
        Also the squared overlap of each spike's eigenvector with its direction.
    dtype : {"float64", "float32"}
        float32 halves memory; eigenvalues then carry about 1e-6 relative to the
        spectral radius.
    spike_law : Measure, optional
        With ``spike_count``: that many spikes at the midpoint quantiles of this law
        (Theorem 2.1), added to ``spikes``.
    spike_count : int
        Number of spikes drawn from ``spike_law``.
    workers : int
        Threads running the trials.
    compare : bool
        Compare each spectrum with the limit (Kolmogorov distance, values outside the
        support).
    progress : callable, optional
        ``progress(done, total)`` after each trial.

    Returns
    -------
    Simulation
        ``eigenvalues`` (one descending array per trial), the ``seed``, per-spike
        ``outliers`` (predicted, observed, difference) and the comparison.

    Raises
    ------
    InvalidParameter
        ``n`` or ``trials`` below 1, ``top``/``bottom`` not in ``[1, n]``, more spikes
        than ``n``, spikes with a full ``matrix``, a ``matrix`` not ``n x n`` or not
        symmetric, an unknown noise law or dtype.

    Examples
    --------
    >>> import rmtservice as rs
    >>> s = rs.simulate(rs.Uniform(-1, 1), 0.25, 200, spikes=[2.0], seed=1, top=2)
    >>> s.eigenvalues[0].round(4).tolist(), round(s.outliers[0].predicted, 4)
    ([2.0798, 1.4615], 2.1373)
    """
    s2 = check_sigma2(sigma2)
    measure = as_measure(measure)
    law = Noise.of(noise, df, density)
    n, trials, workers = count("n", n, 1), count("trials", trials, 1), count("workers", workers, 1)
    spike_count = count("spike_count", spike_count)
    top = None if top is None else count("top", top)
    bottom = None if bottom is None else count("bottom", bottom)
    for name, k in (("top", top), ("bottom", bottom)):
        if k is not None and not 1 <= k <= n:
            raise InvalidParameter(f"{name} must be in [1, n] = [1, {n}], got {k}", field=name)
    if dtype not in ("float64", "float32"):
        raise InvalidParameter(f"dtype must be float64 or float32, got {dtype!r}", field="dtype")
    # before anything is drawn: numbers double precision can square (and, to compare
    # with the limit, a noise level it resolves at the spectrum's scale)
    check_scale(measure, s2, resolve=compare)
    theta = real_array("spikes", spikes).ravel()
    check_spikes(theta, s2, resolve=compare)
    if spike_law is not None and spike_count > 0:
        spike_law = as_measure(spike_law, "spike_law")
        lo, hi, _ = spike_law.components()
        check_spikes(np.array([lo[0], hi[-1]]), s2, resolve=compare, field="spike_law")
        theta = np.concatenate([theta, spike_law.midpoint_quantiles(spike_count)])
    # at most 2^53 - 1: JSON readers (JavaScript's too) keep such a seed exactly
    seed = secrets.randbelow(MAX_SEED + 1) if seed is None else count("seed", seed)
    if matrix is not None:
        if theta.size:
            raise InvalidParameter("spikes cannot be combined with a full matrix H", field="spikes")
        hm = np.asarray(matrix, dtype=float)
        if hm.shape != (n, n):
            raise InvalidParameter(
                f"matrix must be {n} x {n}, got shape {hm.shape}", field="matrix"
            )
        h, ranks = None, np.empty(0, dtype=np.intp)
    else:
        hm = None
        h, ranks = h_spectrum(measure, n, theta)
    want = sorted(set(ranks.tolist())) if eigenvectors else []
    threads = min(workers, trials)
    job = _Trial(n, s2, law, np.dtype(dtype), h, hm, top, bottom, want, threads)
    streams = np.random.SeedSequence(seed).spawn(trials)
    run: Callable[[np.random.SeedSequence], Any] = job
    if progress is not None:
        done = [0]

        def run(ss: np.random.SeedSequence) -> Any:  # the same job, reporting each trial
            out = job(ss)
            done[0] += 1
            progress(done[0], trials)
            return out

    if workers > 1 and trials > 1:
        from concurrent.futures import ThreadPoolExecutor

        from threadpoolctl import threadpool_limits

        # one BLAS thread per trial: trials in parallel instead of threads inside LAPACK
        with threadpool_limits(1), ThreadPoolExecutor(max_workers=min(workers, trials)) as pool:
            runs = list(pool.map(run, streams))
    else:
        runs = [run(ss) for ss in streams]
    sim = Simulation(
        eigenvalues=[r[0] for r in runs],
        seed=seed,
        h=h,
        bottom=[r[1] for r in runs if r[1] is not None] if bottom is not None else None,
        spikes=theta,
    )
    if compare:
        full = top is None and bottom is None  # the comparison block needs the whole spectrum
        sim = _compare(measure, s2, sim, ranks, [r[2] for r in runs], full)
    return sim


class _Trial:
    """One draw of ``H + W`` and its eigenvalues (a callable for a thread pool)."""

    def __init__(
        self,
        n: int,
        s2: float,
        noise: Noise,
        dtype: np.dtype,
        h: FloatArray | None,
        hm: FloatArray | None,
        top: int | None,
        bottom: int | None,
        want: list[int],
        threads: int = 1,
    ) -> None:
        self.threads = threads
        self.n, self.s2, self.noise = n, s2, noise
        self.dtype, self.h, self.hm, self.top, self.bottom, self.want = (
            dtype,
            h,
            hm,
            top,
            bottom,
            want,
        )

    def __call__(
        self, ss: np.random.SeedSequence
    ) -> tuple[FloatArray, FloatArray | None, dict[int, float]]:
        deadline.check()
        n = self.n
        rng = np.random.Generator(np.random.PCG64(ss))
        a = wigner(
            n,
            self.s2,
            rng,
            noise=self.noise,
            out=np.zeros((n, n), dtype=self.dtype),
        )
        if self.h is not None:
            a.flat[:: n + 1] += self.h.astype(self.dtype)
        else:
            assert self.hm is not None
            a += np.tril(self.hm).astype(self.dtype)
        overlaps: dict[int, float] = {}
        deadline.check()
        if self.want:
            w, v = np.linalg.eigh(a, UPLO="L")
            w, v = w[::-1], v[:, ::-1]
            overlaps = {r: float(v[r, r] ** 2) for r in self.want}
            return self._cut(w), self._bottom(w), overlaps
        if self.top is None and self.bottom is None:
            return self._full(a)[::-1].astype(float), None, overlaps
        top = low = None
        if self.top is not None:
            top = self._subset(a, self.top, upper=True, rng=rng)
        if self.bottom is not None:
            low = self._subset(a, self.bottom, upper=False, rng=rng)
        return (top if top is not None else np.empty(0)), low, overlaps

    def _subset(
        self, a: FloatArray, k: int, *, upper: bool, rng: np.random.Generator
    ) -> FloatArray:
        """The ``k`` largest (or smallest) eigenvalues, without the full spectrum.

        Few of many: Lanczos (ARPACK) with the symmetric matrix-vector product of BLAS
        on the lower triangle, O(n^2) per step instead of LAPACK's O(n^3) tridiagonal
        reduction, started from a vector of the trial's own stream. ``tol=1e-8`` bounds
        the Ritz residuals; eigenvalue errors are quadratic in them (~1e-14 here, checked
        against LAPACK in the tests). Otherwise, or if ARPACK does not converge, LAPACK's
        subset solver.
        """
        n = self.n
        if n >= 400 and k <= n // 20:
            from scipy.linalg.blas import dsymv, ssymv
            from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

            symv = ssymv if a.dtype == np.float32 else dsymv
            af = a.T

            def matvec(x: FloatArray) -> FloatArray:
                return symv(1.0, af, x.ravel(), lower=0)

            op = LinearOperator((n, n), matvec=matvec, dtype=a.dtype)
            v0 = rng.standard_normal(n).astype(a.dtype)
            try:
                w = eigsh(
                    op,
                    k=k,
                    which="LA" if upper else "SA",
                    v0=v0,
                    ncv=min(n, max(2 * k + 1, 40)),
                    tol=1e-8,
                    return_eigenvectors=False,
                )
                return np.sort(w.astype(float))[::-1]
            except ArpackNoConvergence:
                pass
        idx = [n - k, n - 1] if upper else [0, k - 1]
        w = scipy.linalg.eigh(
            a.T,
            lower=False,
            eigvals_only=True,
            check_finite=False,
            subset_by_index=idx,
            driver="evr",
        )
        return w[::-1].astype(float)

    def _full(self, a: FloatArray) -> FloatArray:
        """All eigenvalues, ascending: LAPACK syevd on the lower triangle.

        Alone, scipy's wrapper in place on ``a.T`` (Fortran order, its upper triangle is
        our lower: no copy), the fastest here; with parallel trials numpy's, which
        releases the GIL (one copy of the buffer, within the 2 x 8 n^2 budget).
        """
        if self.threads > 1:
            return np.asarray(np.linalg.eigvalsh(a, UPLO="L"), dtype=float)
        return scipy.linalg.eigh(
            a.T, lower=False, eigvals_only=True, driver="evd", overwrite_a=True, check_finite=False
        )

    def _cut(self, w: FloatArray) -> FloatArray:
        return w[: self.top].astype(float) if self.top is not None else w.astype(float)

    def _bottom(self, w: FloatArray) -> FloatArray | None:
        return w[-self.bottom :].astype(float) if self.bottom is not None else None


def histogram(
    values: ArrayLike, edges: ArrayLike | None = None, bins: int | str = "auto"
) -> tuple[FloatArray, FloatArray]:
    """Density-normalised histogram: ``(edges, density)``; edges given or automatic.

    Parameters
    ----------
    values : array_like
        The sample (flattened).
    edges : array_like, optional
        Increasing bin edges; default: numpy's automatic ones for ``bins``.
    bins : int or str
        Number of bins, or numpy's rule, when ``edges`` is not given.

    Returns
    -------
    (ndarray, ndarray)
        The edges and the density in each bin (integrating to the share of the sample
        inside the edges).

    Raises
    ------
    InvalidParameter
        Edges not increasing or fewer than two.

    Examples
    --------
    >>> from rmtservice.simulate import histogram
    >>> edges, dens = histogram([0.1, 0.2, 0.7], edges=[0.0, 0.5, 1.0])
    >>> dens.round(6).tolist()
    [1.333333, 0.666667]
    """
    v = np.asarray(values, dtype=float).ravel()
    e = np.histogram_bin_edges(v, bins=bins) if edges is None else np.asarray(edges, float)
    if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) <= 0):
        raise InvalidParameter("bin edges must be increasing, at least two", field="edges")
    counts, e = np.histogram(v, bins=e)
    widths = np.diff(e)
    return e, counts / (max(v.size, 1) * widths)


def _compare(
    measure: Measure,
    s2: float,
    sim: Simulation,
    ranks: NDArray[np.intp],
    overlaps: list[dict[int, float]],
    full: bool,
) -> Simulation:
    from rmtservice.density import kolmogorov_distance, support
    from rmtservice.outliers import outliers

    sup = support(measure, s2)
    theta = sim.spikes if sim.spikes is not None else np.empty(0)
    report = outliers(measure, s2, theta, sup=sup)
    items = []
    for t, o, r in zip(theta, report.outliers, ranks, strict=True):
        obs, std = observed(sim.eigenvalues, int(r))
        ov = [d[int(r)] for d in overlaps if int(r) in d]
        items.append(
            SimulatedOutlier(
                spike=float(t),
                predicted=o.location,
                observed=obs,
                difference=(obs - o.location)
                if obs is not None and o.location is not None
                else None,
                observed_std=std,
                overlap_predicted=o.overlap,
                overlap_observed=float(np.mean(ov)) if ov else None,
            )
        )
    outside = ks = None
    if full:
        outside = outside_counts(sup.locate, sim.eigenvalues)
        ks = [kolmogorov_distance(measure, s2, e, sup=sup) for e in sim.eigenvalues]
    separated = sum(1 for o in report.outliers if o.separated)
    return Simulation(
        sim.eigenvalues, sim.seed, items, sim.h, sim.bottom, sim.spikes, outside, separated, ks
    )


def observed(samples: list[FloatArray], r: int) -> tuple[float | None, float | None]:
    """Mean and standard deviation over the trials of each one's ``r``-th value (both
    None unless every trial has one)."""
    vals = [e[r] for e in samples if r < e.size]
    if len(vals) != len(samples):
        return None, None
    return float(np.mean(vals)), float(np.std(vals))


def outside_counts(
    locate: Callable[[FloatArray], tuple[NDArray[np.intp], NDArray[np.bool_]]],
    samples: list[FloatArray],
) -> list[int]:
    """How many values of each trial lie outside the predicted support (``locate``: the
    support's ``Support.locate``)."""
    return [int(np.count_nonzero(~locate(e)[1])) for e in samples]

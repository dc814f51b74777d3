"""The public entry point :func:`fit` and its result types."""

from __future__ import annotations

import functools
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.special
from numpy.typing import ArrayLike, NDArray

from rmtservice import tracy_widom as tw
from rmtservice._solve import check_sigma2, quiet
from rmtservice.errors import InvalidParameter, NoConvergence
from rmtservice.fit import _tw1_tail as tw1_tail
from rmtservice.fit._deconvolve import deconvolve_rectangular, deconvolve_wigner
from rmtservice.fit._noise import UnitLaw, clt_variance, fit_bulk, ks_distance, response
from rmtservice.fit._replicates import interval, p_value, pivots
from rmtservice.fit._spikes import (
    rectangular_limit,
    rectangular_spikes,
    wigner_limit,
    wigner_spikes,
)
from rmtservice.fit._tail import TailFit, tail_fit
from rmtservice.measures import Atoms

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: fewest values a fit accepts
MIN_VALUES = 10
#: the levels of the outlier tests accepted (Tracy-Widom tails are resolved to 1e-300;
#: a level above 1/2 is no test)
MIN_ALPHA, MAX_ALPHA = 1e-300, 0.5
#: replicates of the parametric bootstrap by default, and the fewest accepted
DEFAULT_BOOTSTRAP = 50
MIN_REPLICATES = 10
#: more outliers than this share of the values is not "a few spikes" (verdict)
MAX_RANK_SHARE = 0.1
#: at most this share of the values may be declared outliers
_MAX_OUTLIER_SHARE = 0.5
#: largest magnitude of a value (its square must not overflow)
MAX_ABS = 1e150
_MAX_ITERATIONS = 30
#: fixed-point sweeps between the noise level and the spikes' correction
_CORRECTION_SWEEPS = 4
#: relative tolerance of the symmetry test of a matrix
_SYMMETRY_RTOL = 1e-12
MODELS = ("wigner", "rectangular")


# ---------------------------------------------------------------- result types


@dataclass(frozen=True)
class Bulk:
    """Edges of the fitted limit's bulk (eigenvalues; singular values if rectangular)."""

    lower: float
    upper: float


@dataclass(frozen=True)
class Interval:
    """A confidence interval for ``sigma2``.

    ``method``: ``"bootstrap"`` (parametric bootstrap of Gaussian noise: the pivot
    ``sigma2_hat / sigma2`` simulated exactly, its mean and spread), ``"asymptotic"``
    (normal, with the CLT variance of the quantile fit) or ``"given"`` (``sigma2`` was
    passed: the interval is that point).
    """

    lower: float
    upper: float
    method: str
    confidence: float


@dataclass(frozen=True)
class FitOutlier:
    """A value declared signal, and the spike behind it.

    Attributes
    ----------
    index : int
        Position of the value in the input (for a matrix: in the descending list of its
        eigenvalues or singular values).
    value : float
        The eigenvalue (or singular value).
    p_value : float
        Step-down p-value: the largest, over this value and every value further out on
        its side, of the Tracy-Widom p-value of a value that far out in the noise left
        when the values further out are signal (for the symmetric model, both sides
        together). The value is declared at level ``alpha`` iff ``p_value <= alpha``.
    spike : float
        The spike (eigenvalue of H, singular value of S) by the finite-n inverse map
        that counts the other spikes; the limit one when that map has no root.
    spike_limit : float
        The spike by the limit's inverse map at the fitted noise level.
    overlap : float or None
        Symmetric model: predicted squared overlap of the eigenvectors of H and of the
        matrix (finite-n map), else None.
    left_overlap, right_overlap : float or None
        Rectangular model: the same for the left (``R^rows``) and right (``R^cols``)
        singular vectors, else None.
    finite_n : bool
        Whether the finite-n map had a root (``spike`` and the overlaps are finite-n).
    """

    index: int
    value: float
    p_value: float
    spike: float
    spike_limit: float
    overlap: float | None
    left_overlap: float | None
    right_overlap: float | None
    finite_n: bool


@dataclass(frozen=True)
class GoodnessOfFit:
    """Kolmogorov distance of the bulk (the values not declared outliers) to the fitted
    law, and its p-value by simulation of the fitted model: the replicates' distances,
    refitted as the data were, smoothed by a Gumbel law (``None`` without replicates;
    the classical Kolmogorov-Smirnov law does not apply to rigid spectra, whose
    distances are ``O(log N / N)``, not ``O(N^(-1/2))``)."""

    ks: float
    p_value: float | None
    replicates: int
    bulk_values: int


@dataclass(frozen=True)
class Verdict:
    """Whether the spectrum looks like noise plus a few spikes, and why, in plain words.

    ``noise_plus_spikes`` is false when the bulk's Kolmogorov distance to the fitted law
    is significant at level ``alpha`` (by the replicates; without them, when it exceeds
    :func:`ks_bound`), or when more than ``MAX_RANK_SHARE`` of the values are outliers.
    """

    noise_plus_spikes: bool
    message: str


@dataclass(frozen=True, eq=False)
class Fit:
    """An observed spectrum fitted by noise plus spikes (docs/theory/fit.md).

    Attributes
    ----------
    model : {"wigner", "rectangular"}
        ``M = H + W`` (eigenvalues) or ``Y = S + X`` (singular values).
    shape : (int, int)
        ``(n, n)`` or ``(rows, cols)``.
    sigma2 : float
        Noise level: off-diagonal variance times ``n`` (wigner), entry variance times
        ``rows`` (rectangular), as everywhere in rmtservice.
    sigma2_interval : Interval
        Confidence interval for ``sigma2`` and how it was computed.
    center : float
        Centre of the noise's semicircle (a multiple of the identity in H); 0 for the
        rectangular model.
    bulk : Bulk
        Edges of the fitted limit (``center -+ 2 sigma``; rectangular: the
        Marchenko-Pastur edges of the singular values).
    spike_threshold : float
        Smallest spike that separates in the limit: ``sigma`` from the centre, or
        ``sigma2^(1/2) c^(1/4)`` (``c = cols/rows``) for singular values.
    edge_threshold : float
        Finite-n threshold at level ``alpha`` (Tracy-Widom): values above it are signal.
        It is the one the largest bulk value was tested against (noise dimension reduced
        by the outliers above it).
    lower_edge_threshold : float or None
        The same below the bulk (symmetric model), else None.
    alpha : float
        Level of the outlier tests (both sides together in the symmetric model).
    outliers : tuple of FitOutlier
        Declared values, the largest first (then those below the bulk, the smallest
        first).
    rank : int
        Number of outliers.
    goodness_of_fit : GoodnessOfFit
    verdict : Verdict
    tail : TailFit or None
        Power-law fit of the top of the ESD of ``Y^T Y`` (squared singular values; for
        the symmetric model squared centred eigenvalues), as WeightWatcher's alpha.
    deconvolved : Atoms or None
        With a known ``sigma2``: the law of H (of the singular values of S), by free
        deconvolution; a measure the forward functions accept.
    seed : int or None
        Seed of the bootstrap's replicates (None without them).
    """

    model: str
    shape: tuple[int, int]
    sigma2: float
    sigma2_interval: Interval
    center: float
    bulk: Bulk
    spike_threshold: float
    edge_threshold: float
    lower_edge_threshold: float | None
    alpha: float
    outliers: tuple[FitOutlier, ...]
    rank: int
    goodness_of_fit: GoodnessOfFit
    verdict: Verdict
    tail: TailFit | None
    deconvolved: Atoms | None
    seed: int | None


# ------------------------------------------------------------------ the frame


@dataclass(frozen=True)
class _Frame:
    """Model and shape; ``values`` sorted ascending (eigenvalues or singular values) and
    ``index`` their positions in the input."""

    model: str
    rows: int
    cols: int
    values: FloatArray
    index: IntArray

    @property
    def m(self) -> int:
        return int(self.values.size)

    @property
    def big(self) -> int:
        return max(self.rows, self.cols)

    @property
    def small(self) -> int:
        return min(self.rows, self.cols)


@dataclass(frozen=True)
class _Estimate:
    """The noise level with the outliers ``k_lo`` (below) and ``k_up`` (above) removed:
    ``sigma2`` and ``center`` (caller's convention), the bulk's own fit ``(center_b,
    scale_b)`` against ``law``, and ``factor`` with ``sigma2 = factor * scale_b^p``
    (``p = 2`` for the semicircle, 1 for Marchenko-Pastur)."""

    k_lo: int
    k_up: int
    sigma2: float
    center: float
    law: UnitLaw
    center_b: float
    scale_b: float
    factor: float
    bulk: FloatArray
    dims: tuple[int, int]


# ------------------------------------------------------------------ validation


def _integer(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InvalidParameter(f"{name} must be an integer >= {low}, got {value!r}", field=name)
    return int(value)


def _level(name: str, value: object) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InvalidParameter(f"{name} must be a number in (0, 1)", field=name) from exc
    if not 0.0 < v < 1.0:
        raise InvalidParameter(f"{name} must be in (0, 1), got {v!r}", field=name)
    return v


def _vector(name: str, data: ArrayLike) -> FloatArray:
    try:
        v = np.asarray(data, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidParameter(f"{name} must be a list of numbers", field=name) from exc
    if v.ndim != 1:
        raise InvalidParameter(f"{name} must be one-dimensional, got shape {v.shape}", field=name)
    if v.size < MIN_VALUES:
        raise InvalidParameter(
            f"a fit needs at least {MIN_VALUES} values, got {v.size}", field=name
        )
    if not np.all(np.isfinite(v)):
        raise InvalidParameter(f"{name} must be finite numbers", field=name)
    if np.max(np.abs(v)) > MAX_ABS:
        raise InvalidParameter(
            f"{name} must be at most {MAX_ABS:.0e} in absolute value", field=name
        )
    return v


def _shape(shape: object) -> tuple[int, int]:
    try:
        pair: tuple[object, ...] = tuple(shape)  # type: ignore[arg-type]
    except TypeError as exc:
        raise InvalidParameter("shape must be (rows, cols)", field="shape") from exc
    if len(pair) != 2:
        raise InvalidParameter("shape must be (rows, cols)", field="shape")
    return _integer("shape rows", pair[0], 1), _integer("shape cols", pair[1], 1)


def _sorted_frame(model: str, rows: int, cols: int, v: FloatArray, descending: bool) -> _Frame:
    order = np.argsort(v, kind="stable")
    index = (v.size - 1 - order) if descending else order
    return _Frame(model, rows, cols, v[order], index.astype(np.intp))


def _from_matrix(matrix: ArrayLike, model: str | None) -> _Frame:
    try:
        a = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidParameter("matrix must be a 2-D array of numbers", field="matrix") from exc
    if a.ndim != 2 or a.size == 0:
        raise InvalidParameter(
            f"matrix must be a non-empty 2-D array, got shape {a.shape}", field="matrix"
        )
    if min(a.shape) < MIN_VALUES:
        raise InvalidParameter(
            f"a fit needs at least {MIN_VALUES} values: the matrix must be at least "
            f"{MIN_VALUES} x {MIN_VALUES}, got {a.shape[0]} x {a.shape[1]}",
            field="matrix",
        )
    # max and min see a NaN or an infinity anywhere, in two passes and no temporaries
    top, bottom = float(a.max()), float(a.min())
    if not (math.isfinite(top) and math.isfinite(bottom)):
        raise InvalidParameter("matrix entries must be finite numbers", field="matrix")
    if max(top, -bottom) > MAX_ABS / max(a.shape):
        raise InvalidParameter(
            f"matrix entries must be at most {MAX_ABS / max(a.shape):.3g} in absolute value",
            field="matrix",
        )
    rows, cols = a.shape
    symmetric = rows == cols and model != "rectangular" and _symmetric(a, max(top, -bottom))
    model = model or ("wigner" if symmetric else "rectangular")
    if model == "wigner":
        if not symmetric:
            raise InvalidParameter("model wigner needs a symmetric matrix", field="matrix")
        v = scipy.linalg.eigh(a, eigvals_only=True, driver="evd", check_finite=False)
    else:
        v = scipy.linalg.svdvals(a, check_finite=False)
    v = np.sort(v)
    # a matrix's values are listed in descending order: index i is the i-th largest
    return _Frame(model, rows, cols, v, np.arange(v.size - 1, -1, -1, dtype=np.intp))


def _symmetric(a: FloatArray, scale: float) -> bool:
    """``max |a_ij - a_ji| <= rtol max |a|``, by blocks of rows against the matching
    columns right of the diagonal: each pair once, small temporaries, early exit."""
    tol = _SYMMETRY_RTOL * max(scale, 1e-300)
    n, step = a.shape[0], 256
    for i in range(0, n, step):
        d = a[i : i + step, i:] - a[i:, i : i + step].T
        if float(np.max(np.abs(d))) > tol:
            return False
    return True


def _frame(
    values: ArrayLike | None,
    eigenvalues: ArrayLike | None,
    singular_values: ArrayLike | None,
    shape: object,
    matrix: ArrayLike | None,
    model: str | None,
) -> _Frame:
    given = [x is not None for x in (values, eigenvalues, singular_values, matrix)]
    if sum(given) != 1:
        raise InvalidParameter(
            "pass exactly one of values, eigenvalues, singular_values and matrix",
            field="values",
        )
    if model is not None and model not in MODELS:
        raise InvalidParameter(f"model must be wigner or rectangular, got {model!r}", field="model")
    if values is not None:
        if np.ndim(values) == 2:
            matrix = values
        elif shape is not None:
            singular_values = values
        else:
            eigenvalues = values
    if matrix is not None:
        if shape is not None:
            raise InvalidParameter("shape goes with singular_values, not a matrix", field="shape")
        return _from_matrix(matrix, model)
    if eigenvalues is not None:
        if shape is not None:
            raise InvalidParameter("shape goes with singular_values", field="shape")
        if model == "rectangular":
            raise InvalidParameter(
                "eigenvalues are the symmetric model's; pass singular_values and shape",
                field="model",
            )
        v = _vector("eigenvalues", eigenvalues)
        return _sorted_frame("wigner", v.size, v.size, v, False)
    assert singular_values is not None
    v = _vector("singular_values", singular_values)
    if model == "wigner":
        raise InvalidParameter("singular values are the rectangular model's", field="model")
    if shape is None:
        raise InvalidParameter("singular_values need shape=(rows, cols)", field="shape")
    rows, cols = _shape(shape)
    if min(rows, cols) != v.size:
        raise InvalidParameter(
            f"a {rows} x {cols} matrix has min(rows, cols) = {min(rows, cols)} singular "
            f"values, got {v.size}",
            field="shape",
        )
    if np.any(v < 0):
        raise InvalidParameter("singular values must be >= 0", field="singular_values")
    return _sorted_frame("rectangular", rows, cols, v, False)


# ------------------------------------------------------------ noise estimate


def _estimate(fr: _Frame, k_lo: int, k_up: int, s2_known: float | None) -> _Estimate:
    if fr.model == "wigner":
        est = _estimate_wigner(fr, k_lo, k_up, s2_known)
    else:
        est = _estimate_rectangular(fr, k_up, s2_known)
    if not (math.isfinite(est.sigma2) and est.sigma2 > 0 and est.scale_b > 0):
        raise InvalidParameter(
            "the values have no spread: the central ones are all equal, so no noise level "
            "can be fitted",
            field="values",
        )
    return est


def _estimate_wigner(fr: _Frame, k_lo: int, k_up: int, s2_known: float | None) -> _Estimate:
    """Semicircle of the compressed noise (``N = n - k`` dimensions, the same entry
    variance) fitted to the bulk, corrected by the spikes' linear response."""
    n = fr.m
    bulk = fr.values[k_lo : n - k_up]
    out = np.concatenate([fr.values[:k_lo], fr.values[n - k_up :]])
    big_n = bulk.size
    law = UnitLaw("semicircle")
    factor = n / big_n
    if s2_known is None:
        center_b, scale_b = fit_bulk(law, bulk)
        s2 = scale_b * scale_b * factor
    else:
        s2, scale_b = s2_known, math.sqrt(s2_known / factor)
        center_b = fit_bulk(law, bulk, scale=scale_b)[0]
    center = center_b
    for _ in range(_CORRECTION_SWEEPS if out.size else 0):
        theta = wigner_limit(out, center, s2)[0]
        x = (theta - center) / math.sqrt(s2)
        x = np.sign(x) * np.maximum(np.abs(x), 1.0)  # a value at the edge: spike at threshold
        d_scale, d_center = response(law, x)
        factor = n / big_n / (1.0 + float(np.sum(d_scale)) / n)
        if s2_known is None:
            s2 = scale_b * scale_b * factor
        else:
            scale_b = math.sqrt(s2 / factor)
            center_b = fit_bulk(law, bulk, scale=scale_b)[0]
        center = center_b - math.sqrt(s2) * float(np.sum(d_center)) / n
    return _Estimate(k_lo, k_up, s2, center, law, center_b, scale_b, factor, bulk, (big_n, big_n))


def _estimate_rectangular(fr: _Frame, k: int, s2_known: float | None) -> _Estimate:
    """Marchenko-Pastur of the compressed noise (``(big - k) x (small - k)``, the same
    entry variance) fitted to the squared bulk, corrected by the spikes' response."""
    big, small = fr.big, fr.small
    y2 = fr.values * fr.values
    bulk = y2[: small - k]
    law = UnitLaw("marchenko_pastur", (small - k) / (big - k))
    full = UnitLaw("marchenko_pastur", small / big)
    scale_b = fit_bulk(law, bulk)[1] if s2_known is None else math.nan
    variance = scale_b / (big - k) if s2_known is None else s2_known / fr.rows
    shrink = 1.0
    for _ in range(_CORRECTION_SWEEPS if k else 0):
        theta = rectangular_limit(fr.values[small - k :], variance * big, small / big)[0]
        t = np.maximum(theta * theta / (variance * big), math.sqrt(small / big))
        shrink = 1.0 + float(np.sum(response(full, t)[0])) / small
        if s2_known is None:
            variance = scale_b / ((big - k) * shrink)
    if s2_known is not None:
        scale_b = variance * (big - k) * shrink
    s2 = variance * fr.rows
    factor = fr.rows / ((big - k) * shrink)
    return _Estimate(0, k, s2, 0.0, law, 0.0, scale_b, factor, bulk, (big - k, small - k))


# ------------------------------------------------------------------ detection


@dataclass(frozen=True)
class _Side:
    """Outliers on one side: their count, Tracy-Widom statistics, and the threshold the
    first bulk value was tested against (in the statistic's units: ``lambda - center``
    or ``y^2``)."""

    count: int
    stats: FloatArray
    edges: FloatArray  # (center, scale) per tested value
    threshold: float


def _wigner_edges(n: int, s2: float, k_other: int, j: IntArray) -> FloatArray:
    """:func:`tw.wigner_edge` of the ``n - k_other - j`` dimensional noise, vectorised."""
    dims = (n - k_other - j).astype(float)
    sigma = np.sqrt(s2 * dims / n)
    m = dims - 0.5
    scale = sigma / np.sqrt(dims) * m ** (-1 / 6)
    edges = np.column_stack([2.0 * sigma * np.sqrt(m / dims), scale])
    if np.all(np.isfinite(edges)) and np.all(sigma > 0):
        return edges
    # the scalar function says what is wrong (a noise level that underflows)
    return np.array([tw.wigner_edge(int(d), s2 * d / n) for d in dims]).reshape(-1, 2)


def _wishart_edges(fr: _Frame, variance: float, j: IntArray) -> FloatArray:
    """:func:`tw.wishart_edge` of the ``(rows - j) x (cols - j)`` noise, vectorised."""
    rows, cols = (fr.rows - j).astype(float), (fr.cols - j).astype(float)
    s = variance * rows / rows  # as the scalar function rounds sigma2 / n
    a, b = np.sqrt(np.maximum(rows, cols) - 1.0), np.sqrt(np.minimum(rows, cols))
    edges = np.column_stack([s * (a + b) ** 2, s * (a + b) * (1.0 / a + 1.0 / b) ** (1 / 3)])
    if np.all(np.isfinite(edges)) and np.all(variance * rows > 0):
        return edges
    return np.array(
        [tw.wishart_edge(int(r), int(c), variance * r) for r, c in zip(rows, cols, strict=True)]
    ).reshape(-1, 2)


def _leading(stats: FloatArray, cut: float) -> int:
    above = stats > cut
    return int(np.argmin(above)) if not above.all() else int(above.size)


def _side(dev: FloatArray, get: Callable[[IntArray], FloatArray], cut: float, limit: int) -> _Side:
    """Step-down test of the deviations ``dev`` (descending): the j-th is compared with
    the largest noise value of the problem with the ``j`` values above it removed
    (``get(j)``: its Tracy-Widom centre and scale); ``cut`` is the statistic's critical
    value, so the p-values (costly) are only computed for the declared values."""
    count, stats, edges = 0, np.empty(0), np.empty((0, 2))
    chunk = 8
    while count < limit:
        j = np.arange(count, min(count + chunk, limit))
        e = get(j)
        s = (dev[j] - e[:, 0]) / e[:, 1]
        stats, edges = np.concatenate([stats, s]), np.vstack([edges, e])
        run = _leading(s, cut)
        count += run
        if run < j.size:
            break
        chunk *= 2
    e_next = get(np.array([min(count, limit)]))
    threshold = float(e_next[0, 0] + e_next[0, 1] * cut)
    return _Side(count, stats[:count], edges[:count], threshold)


@functools.lru_cache(maxsize=64)
def _critical(alpha: float) -> float:
    """``tw.isf(alpha)`` (TW1), cached: the fixed point asks for the same level often."""
    return float(tw.isf(alpha))


def _detect(fr: _Frame, est: _Estimate, alpha: float) -> tuple[_Side, _Side | None]:
    # the bulk keeps at least half of the values, and at least MIN_VALUES
    limit = max(0, min(int(_MAX_OUTLIER_SHARE * fr.m), fr.m - MIN_VALUES))
    if fr.model == "wigner":
        # both sides at level alpha together: 1 - sqrt(1 - alpha), without cancellation
        side_alpha = -math.expm1(0.5 * math.log1p(-alpha))
        cut = _critical(side_alpha)
        v, c, s2, n = fr.values, est.center, est.sigma2, fr.m
        up = _side(v[::-1] - c, lambda j: _wigner_edges(n, s2, est.k_lo, j), cut, limit - est.k_lo)
        # the two sides together within the limit (the same as limit - k_up at the fixed
        # point; on the way there both sides could take it all and leave no bulk)
        lo = _side(c - v, lambda j: _wigner_edges(n, s2, est.k_up, j), cut, limit - up.count)
        return up, lo
    variance = est.sigma2 / fr.rows
    y2 = fr.values[::-1] ** 2
    up = _side(y2, lambda j: _wishart_edges(fr, variance, j), _critical(alpha), limit)
    return up, None


def _fixed_point(
    fr: _Frame, alpha: float, s2_known: float | None
) -> tuple[_Estimate, _Side, _Side | None]:
    """Alternate the noise estimate and the outlier tests until the outliers repeat; on a
    cycle, the state with the fewest outliers."""
    state = (0, 0)
    seen: list[tuple[tuple[int, int], tuple[_Estimate, _Side, _Side | None]]] = []
    for _ in range(_MAX_ITERATIONS):
        est = _estimate(fr, state[0], state[1], s2_known)
        up, lo = _detect(fr, est, alpha)
        seen.append((state, (est, up, lo)))
        nxt = (lo.count if lo is not None else 0, up.count)
        if nxt == state:
            return est, up, lo
        states = [s for s, _ in seen]
        if nxt in states:
            cycle = seen[states.index(nxt) :]
            return min(cycle, key=lambda item: sum(item[0]))[1]
        state = nxt
    raise NoConvergence("the noise level and the outliers did not settle")


# ------------------------------------------------------------------ results


def _p_values(side: _Side, two_sided: bool) -> FloatArray:
    if side.count == 0:
        return np.empty(0)
    # the law's tail from its stored table; past its top it is below the smallest double
    s = side.stats
    p = np.zeros(s.size)
    table = (s >= tw1_tail.LOW) & (s < tw1_tail.HIGH)
    p[table] = tw1_tail.sf(s[table])
    low = s < tw1_tail.LOW
    p[low] = tw.sf(np.maximum(s[low], -1e300))
    if two_sided:
        p = -np.expm1(2.0 * np.log1p(-p))  # 1 - (1 - p)^2 without cancellation
    return np.maximum.accumulate(p)


def _outliers(fr: _Frame, est: _Estimate, up: _Side, lo: _Side | None) -> tuple[FitOutlier, ...]:
    m = fr.m
    ranks = list(range(m - 1, m - 1 - up.count, -1))
    p = _p_values(up, fr.model == "wigner").tolist()
    if lo is not None:
        ranks += list(range(lo.count))
        p += _p_values(lo, True).tolist()
    r = np.array(ranks, dtype=np.intp)
    values = fr.values[r]
    if fr.model == "wigner":
        sp = wigner_spikes(values, est.center, est.sigma2, m)
        left: list[float | None] = [None] * r.size
        right: list[float | None] = [None] * r.size
        overlap: list[float | None] = sp.overlap.tolist()
    else:
        sp = rectangular_spikes(values, est.sigma2 / fr.rows, fr.big, fr.small)
        flipped = fr.cols > fr.rows
        rt = sp.overlap_big if flipped else sp.overlap
        lt = sp.overlap if flipped else sp.overlap_big
        left, right = lt.tolist(), rt.tolist()
        overlap = [None] * r.size
    # plain Python numbers, converted by whole arrays (dozens of outliers per matrix)
    columns = zip(
        fr.index[r].tolist(),
        values.tolist(),
        p,
        sp.spike.tolist(),
        sp.spike_limit.tolist(),
        overlap,
        left,
        right,
        sp.finite_n.tolist(),
        strict=True,
    )
    return tuple(
        FitOutlier(
            index=i,
            value=v,
            p_value=pv,
            spike=t,
            spike_limit=tl,
            overlap=o,
            left_overlap=lt_,
            right_overlap=rt_,
            finite_n=fin,
        )
        for i, v, pv, t, tl, o, lt_, rt_, fin in columns
    )


def _interval(
    est: _Estimate, confidence: float, ratios: FloatArray | None, s2_known: float | None
) -> Interval:
    if s2_known is not None:
        return Interval(s2_known, s2_known, "given", confidence)
    power = 2.0 if est.law.located else 1.0
    if ratios is not None:
        r_lo, r_hi = interval(ratios, confidence)
        lo = est.factor * (est.scale_b / r_hi) ** power
        hi = est.factor * (est.scale_b / r_lo) ** power
        return Interval(lo, hi, "bootstrap", confidence)
    # log-normal: the relative error of sigma2 has sd ``power sqrt(V) / N``
    sd = power * math.sqrt(clt_variance(est.law)) / est.bulk.size
    z = math.sqrt(2.0) * float(scipy.special.erfinv(confidence))
    lo, hi = est.sigma2 * math.exp(-z * sd), est.sigma2 * math.exp(z * sd)
    return Interval(lo, hi, "asymptotic", confidence)


def _bulk_edges(fr: _Frame, est: _Estimate) -> tuple[Bulk, float]:
    sigma = math.sqrt(est.sigma2)
    if fr.model == "wigner":
        return Bulk(est.center - 2.0 * sigma, est.center + 2.0 * sigma), sigma
    c = fr.small / fr.big
    scale = math.sqrt(est.sigma2 / fr.rows * fr.big)
    edges = Bulk(scale * abs(1.0 - math.sqrt(c)), scale * (1.0 + math.sqrt(c)))
    return edges, scale * c**0.25


_LAW_NAMES = {"semicircle": "semicircle", "marchenko_pastur": "Marchenko-Pastur"}


def ks_bound(n: int) -> float:
    """Kolmogorov distance above which a bulk of ``n`` values is not noise-like when no
    replicates were drawn: 1.5 times ``(1 + 0.45 log n) / n``, which is about the 99th
    percentile of the pure-noise distance measured for both models (n = 50 to 3000;
    it grows like ``log n / n``, not ``n^(-1/2)``: the spectra are rigid)."""
    return 1.5 * (1.0 + 0.45 * math.log(n)) / n


def _verdict(
    fr: _Frame, gof: GoodnessOfFit, rank: int, alpha: float, tail: TailFit | None, known: bool
) -> Verdict:
    law = "semicircle" if fr.model == "wigner" else "Marchenko-Pastur"
    noise = "the given noise level" if known else "the fitted noise level"
    if gof.p_value is not None:
        shape_ok = gof.p_value >= alpha
        p_text = f"p = {gof.p_value:.2g} by simulation"
    else:
        bound = ks_bound(gof.bulk_values)
        shape_ok = gof.ks <= bound
        p_text = f"{'below' if shape_ok else 'above'} the noise bound {bound:.3g}; no simulation"
    few = rank <= MAX_RANK_SHARE * fr.m
    tail_text = ""
    if tail is not None and tail.exponent < 4.0:
        tail_text = (
            f" The top of the spectrum follows a power law (tail exponent {tail.exponent:.2f})."
        )
    if shape_ok and few:
        what = "no spike" if rank == 0 else f"{rank} spike{'s' if rank > 1 else ''}"
        return Verdict(
            True,
            f"Noise plus {what}: the {gof.bulk_values} bulk values follow the {law} law "
            f"of {noise} (Kolmogorov distance {gof.ks:.3g}, {p_text}).",
        )
    reasons = []
    if not shape_ok:
        reasons.append(
            f"the {gof.bulk_values} bulk values do not follow the {law} law of {noise} "
            f"(Kolmogorov distance {gof.ks:.3g}, {p_text})"
        )
    if not few:
        reasons.append(
            f"{rank} of the {fr.m} values are outliers, more than a few spikes "
            f"({MAX_RANK_SHARE:.0%} at most)"
        )
    hint = (
        " The signal has a bulk of its own (see the deconvolved law) or the noise is not"
        " of this variance."
        if known
        else " The noise may be heavy-tailed or the signal may have a bulk of its own;"
        " the noise level, threshold and spikes are then not reliable. If the noise"
        " level is known, pass sigma2 to estimate the signal's law by deconvolution."
    )
    return Verdict(False, "Not noise plus spikes: " + "; ".join(reasons) + "." + tail_text + hint)


@quiet
def fit(
    values: ArrayLike | None = None,
    *,
    eigenvalues: ArrayLike | None = None,
    singular_values: ArrayLike | None = None,
    shape: tuple[int, int] | None = None,
    matrix: ArrayLike | None = None,
    model: str | None = None,
    sigma2: float | None = None,
    alpha: float = 0.01,
    confidence: float = 0.95,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int | None = None,
    deconvolve: bool | None = None,
) -> Fit:
    """Fit an observed spectrum by noise plus spikes: noise level, bulk edge, outliers,
    spikes and overlaps, goodness of fit (docs/theory/fit.md).

    Parameters
    ----------
    values : array_like, optional
        A 2-D array is a matrix; a 1-D array the eigenvalues, or the singular values
        when ``shape`` is given.
    eigenvalues : array_like, optional
        Eigenvalues of a symmetric matrix ``H + W`` (model ``wigner``), any order.
    singular_values : array_like, optional
        The ``min(rows, cols)`` singular values of ``S + X`` (model ``rectangular``).
    shape : (int, int), optional
        ``(rows, cols)`` of the matrix whose ``singular_values`` are given.
    matrix : array_like, optional
        The matrix itself: symmetric means ``wigner``, else ``rectangular``.
    model : {"wigner", "rectangular"}, optional
        Override for a matrix (e.g. ``rectangular`` for a square symmetric one).
    sigma2 : float, optional
        Known noise level (not estimated), e.g. an initialisation variance times ``n``.
    alpha : float
        Level of the outlier tests, in [1e-300, 0.5]: the chance that pure noise shows any
        outlier (the
        symmetric model tests both sides at ``1 - sqrt(1 - alpha)`` each); also the level
        of the goodness-of-fit test in the verdict.
    confidence : float
        Level of ``sigma2_interval``.
    bootstrap : int
        Replicates of the parametric bootstrap (exact Gaussian pure-noise spectra of the
        bulk's dimensions, by tridiagonal models: O(n^2) each) for the interval and the
        goodness-of-fit p-value. 0: the asymptotic interval and no p-value.
    seed : int, optional
        Seed of the replicates (drawn at random if None; reported).
    deconvolve : bool, optional
        Estimate the law of the signal by free deconvolution; default: when ``sigma2``
        is given. Needs ``sigma2``.

    Returns
    -------
    Fit

    Raises
    ------
    InvalidParameter
        Not exactly one input, fewer than 10 values, values that are not finite, a
        shape that does not match the number of singular values, negative singular
        values, ``sigma2 <= 0``, ``alpha`` not in [1e-300, 0.5], ``confidence`` not in
        (0, 1), a matrix that is not 2-D or is empty, ``deconvolve`` without ``sigma2``.
    NoConvergence
        The noise level and the outliers did not settle (not observed).

    Examples
    --------
    >>> import numpy as np
    >>> from rmtservice.fit import fit
    >>> rng = np.random.default_rng(0)
    >>> g = rng.standard_normal((400, 400))
    >>> m = (g + g.T) / np.sqrt(2 * 400)
    >>> m[0, 0] += 3.0
    >>> f = fit(np.linalg.eigvalsh(m), seed=1)
    >>> f.rank, round(f.sigma2, 1), round(f.outliers[0].spike, 1)
    (1, 1.0, 3.0)
    """
    fr = _frame(values, eigenvalues, singular_values, shape, matrix, model)
    s2_known = None if sigma2 is None else check_sigma2(sigma2)
    alpha = _level("alpha", alpha)
    if not MIN_ALPHA <= alpha <= MAX_ALPHA:
        raise InvalidParameter(
            f"alpha must be between {MIN_ALPHA:g} and {MAX_ALPHA:g}, got {alpha!r}", field="alpha"
        )
    confidence = _level("confidence", confidence)
    replicates = _integer("bootstrap", bootstrap, 0)
    if 0 < replicates < MIN_REPLICATES:
        raise InvalidParameter(
            f"bootstrap must be 0 (none) or at least {MIN_REPLICATES} replicates, got {replicates}",
            field="bootstrap",
        )
    if deconvolve and s2_known is None:
        raise InvalidParameter("deconvolution needs the noise level: pass sigma2", field="sigma2")
    if replicates and seed is None:
        seed = secrets.randbelow(2**53)
    seed = None if not replicates else _integer("seed", seed, 0)
    est, up, lo = _fixed_point(fr, alpha, s2_known)
    ratios = dist = None
    if replicates:
        assert seed is not None
        ratios, dist = pivots(est.law, est.dims, replicates, seed, s2_known is not None)
    ks = ks_distance(est.law, est.bulk, est.center_b, est.scale_b)
    p = None if dist is None or dist.size < 2 else p_value(dist, ks)
    gof = GoodnessOfFit(ks, p, replicates, int(est.bulk.size))
    outs = _outliers(fr, est, up, lo)
    centred = fr.values - est.center if fr.model == "wigner" else fr.values
    tail = tail_fit(centred * centred)
    decon = None
    if s2_known is not None and deconvolve is not False:
        decon = _deconvolve(fr, s2_known)
    edges, spike_threshold = _bulk_edges(fr, est)
    if fr.model == "rectangular":
        threshold = math.sqrt(max(up.threshold, 0.0))
    else:
        threshold = est.center + up.threshold
    return _checked(
        Fit(
            model=fr.model,
            shape=(fr.rows, fr.cols),
            sigma2=est.sigma2,
            sigma2_interval=_interval(
                est, confidence, ratios if s2_known is None else None, s2_known
            ),
            center=est.center,
            bulk=edges,
            spike_threshold=spike_threshold,
            edge_threshold=threshold,
            lower_edge_threshold=None if lo is None else est.center - lo.threshold,
            alpha=alpha,
            outliers=outs,
            rank=len(outs),
            goodness_of_fit=gof,
            verdict=_verdict(fr, gof, len(outs), alpha, tail, s2_known is not None),
            tail=tail,
            deconvolved=decon,
            seed=seed,
        )
    )


def _numbers(f: Fit) -> list[float | None]:
    out: list[float | None] = [f.sigma2, f.sigma2_interval.lower, f.sigma2_interval.upper]
    out += [f.center, f.bulk.lower, f.bulk.upper, f.spike_threshold, f.edge_threshold]
    out += [f.lower_edge_threshold, f.goodness_of_fit.ks, f.goodness_of_fit.p_value]
    for o in f.outliers:
        out += [o.value, o.p_value, o.spike, o.spike_limit, o.overlap]
        out += [o.left_overlap, o.right_overlap]
    if f.tail is not None:
        out += [f.tail.exponent, f.tail.x_min, f.tail.ks]
    return out


def _checked(f: Fit) -> Fit:
    """No NaN or infinity leaves :func:`fit`."""
    if not all(v is None or math.isfinite(v) for v in _numbers(f)):
        raise NoConvergence("the fit produced a number that is not finite")
    return f


def _deconvolve(fr: _Frame, s2: float) -> Atoms:
    if fr.model == "wigner":
        return deconvolve_wigner(fr.values, s2)
    scale = s2 / fr.rows * fr.big  # canonical frame: the larger dimension's variance
    return deconvolve_rectangular(fr.values * fr.values, scale, fr.small / fr.big)

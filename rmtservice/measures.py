"""The input laws ``nu`` (the limiting spectrum of H) and their Stieltjes transforms.

Every measure knows its Stieltjes transform and its derivatives,

    f_nu^(k)(z) = k! * integral nu(dt) / (t - z)^(k + 1),

for ``Im z > 0`` and for real ``z`` outside ``supp nu`` (where the values are real),
the connected components of its support with their masses, its mean and variance,
its distribution function and its midpoint quantiles (docs/theory).

Closed forms are written in algebraically stable shapes: no difference of two large
numbers is ever formed, so ``f_nu(z) ~ -1/z`` keeps full relative precision far away.
Large atomic measures are summed with a treecode (:class:`AtomSums`).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rmtservice._inputs import as_measure, number, real_array
from rmtservice.errors import InvalidParameter, NoConvergence

__all__ = [
    "AtomSums",
    "Atoms",
    "MarchenkoPastur",
    "Measure",
    "Mixture",
    "Point",
    "Semicircle",
    "Uniform",
    "from_matrix",
]

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]

_FACT = [math.factorial(k) for k in range(8)]
#: relative width below which a continuous law cannot be told from a point mass
_RESOLUTION = 64 * float(np.finfo(float).eps)
MAX_ORDER = 3  # derivatives of f_nu available (the treecode's series are built for these)
_BINOM = np.array([[math.comb(k, i) for i in range(64)] for k in range(64)], dtype=float)


def _finite(name: str, value: float) -> float:
    value = number(name, value)
    if not math.isfinite(value):
        raise InvalidParameter(f"{name} must be a finite number, got {value!r}", field=name)
    return value


def _log1p(q: ComplexArray) -> ComplexArray:
    """log(1 + q), accurate for small |q| (numpy's complex log1p is not)."""
    re = 0.5 * np.log1p(2.0 * q.real + (q.real**2 + q.imag**2))
    return re + 1j * np.arctan2(q.imag, 1.0 + q.real)


def _check_order(order: int) -> None:
    if not 0 <= order <= MAX_ORDER:
        raise InvalidParameter(f"order must be in 0..{MAX_ORDER}, got {order}", field="order")


class Measure(ABC):
    """A probability measure on the real line, the law ``nu`` of the spectrum of H."""

    kind: ClassVar[str]

    def derivatives(self, z: ArrayLike, order: int = 1) -> ComplexArray:
        """Array of shape ``(order + 1, *z.shape)``: ``f_nu^(k)(z)`` for k = 0..order.

        Below the axis ``f(conj z) = conj f(z)``; on the axis inside ``supp nu`` the
        value is the boundary value from above.
        """
        _check_order(order)
        z = np.asarray(z, dtype=np.complex128)
        lower = z.imag < 0
        # next to an atom the sums overflow to inf: a meaningful value, not a warning
        with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):
            if not lower.any():
                return self._derivatives(z, order)
            out = self._derivatives(np.where(lower, z.conj(), z), order)
        return np.where(lower, out.conj(), out)

    @abstractmethod
    def _derivatives(self, z: ComplexArray, order: int) -> ComplexArray:
        """``derivatives`` for ``Im z >= 0``."""

    def stieltjes(self, z: ArrayLike) -> ComplexArray:
        """Stieltjes transform ``f_nu(z) = int nu(dt) / (t - z)``."""
        return self.derivatives(z, 0)[0]

    def real_derivatives(self, u: ArrayLike, order: int = 1) -> FloatArray:
        """``f_nu^(k)(u)`` for k = 0..order at real ``u`` off ``supp nu``, where they are
        real: shape ``(order + 1, *u.shape)``. The real part of ``derivatives``; laws that
        can sum in real arithmetic (atoms, a point) do so, several times faster."""
        return self.derivatives(np.asarray(u, dtype=float), order).real

    @abstractmethod
    def components(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Connected components of ``supp nu``: sorted ``lower``, ``upper``, ``mass``."""

    @property
    @abstractmethod
    def mean(self) -> float:
        """First moment."""

    @property
    @abstractmethod
    def variance(self) -> float:
        """Second central moment."""

    @abstractmethod
    def cdf(self, x: ArrayLike) -> FloatArray:
        """Distribution function ``nu((-inf, x])``."""

    @abstractmethod
    def quantile(self, p: ArrayLike) -> FloatArray:
        """Smallest ``x`` with ``cdf(x) >= p``."""

    def pdf(self, x: ArrayLike) -> FloatArray:
        """Density of an absolutely continuous law (atoms have none)."""
        raise InvalidParameter(f"the {self.kind} law has no density", field="kind")

    @property
    def size(self) -> int:
        """Number of atoms (1 for a continuous law): the cost of one evaluation."""
        return 1

    @property
    def depth(self) -> int:
        """Nesting depth of mixtures (0 for a plain law)."""
        return 0

    def midpoint_quantiles(self, n: int) -> FloatArray:
        """The ``n`` atoms ``F^{-1}((j - 1/2) / n)`` that discretise the law (docs/theory)."""
        return self.quantile((np.arange(n) + 0.5) / n)


# --------------------------------------------------------------------------- atoms


class AtomSums:
    """Fast sums ``sum_j w_j / (t_j - z)^(k+1)`` over many atoms: a one-dimensional treecode.

    The sorted atoms are split into a perfect binary tree of contiguous index ranges
    (leaves of at most ``leaf`` atoms). Each node keeps the scaled moments
    ``M_k = sum_j w_j tau_j^k``, ``tau_j = (t_j - c) / r``, about its centre ``c`` and
    half-width ``r``. A node is *far* from ``z`` when ``r / |z - c| <= ETA``; then

        sum_j w_j / (t_j - z)^(n+1) = (-1)^(n+1) (z - c)^-(n+1) sum_k C(n+k, k) M_k q^k,

    with ``q = r / (z - c)``, truncated after ``P`` terms: the error is below
    ``C(n+P, P) ETA^P``, about 1e-16 (n <= 2) relative to ``sum w / |t - z|^(n+1)``.
    Near nodes are opened; near leaves are summed directly. One evaluation at ``m``
    points costs about ``m * P * log2(N / leaf)`` operations instead of ``m * N``.
    Parent moments come from the children's by the binomial shift (no pass over atoms).
    """

    ETA = 1.0 / 3.0
    P = 40
    LEAF = 64
    #: up to this many atoms the sums are direct: cheaper than building and walking a tree
    DIRECT = 256

    def __init__(self, t: FloatArray, w: FloatArray) -> None:
        n = t.size
        self.direct = n <= self.DIRECT
        if self.direct:
            self.t, self.w = t, w
            return
        levels = max(0, math.ceil(math.log2(max(n, 1) / self.LEAF)))
        self.levels = levels
        nleaf = 2**levels
        self.leaf = max(1, math.ceil(n / nleaf))
        pad = nleaf * self.leaf - n
        tp = np.concatenate([t, np.full(pad, t[-1])])
        wp = np.concatenate([w, np.zeros(pad)])
        self.t_leaf = tp.reshape(nleaf, self.leaf)
        self.w_leaf = wp.reshape(nleaf, self.leaf)
        self.centers: list[FloatArray] = []
        self.radii: list[FloatArray] = []
        self.moments: list[FloatArray] = []
        self._build()
        k = np.arange(self.P)
        self.coef = np.array(
            [[math.comb(n + int(j), int(j)) for j in k] for n in range(4)], dtype=float
        )

    def _node_geometry(self, lo: FloatArray, hi: FloatArray) -> tuple[FloatArray, FloatArray]:
        c = 0.5 * (lo + hi)
        r = 0.5 * (hi - lo)
        return c, np.where(r > 0, r, 1.0)

    def _build(self) -> None:
        c, r = self._node_geometry(self.t_leaf[:, 0], self.t_leaf[:, -1])
        tau = (self.t_leaf - c[:, None]) / r[:, None]
        mom = np.empty((c.size, self.P))
        pw = self.w_leaf.copy()
        for k in range(self.P):
            mom[:, k] = pw.sum(axis=1)
            pw *= tau
        levels = [(c, r, mom)]
        lo, hi = self.t_leaf[:, 0], self.t_leaf[:, -1]
        for _ in range(self.levels):
            lo, hi = lo[0::2], hi[1::2]
            cp, rp = self._node_geometry(lo, hi)
            cc, rc, mc = levels[-1][0], levels[-1][1], levels[-1][2]
            mp = self._shift(mc[0::2], cc[0::2], rc[0::2], cp, rp)
            mp += self._shift(mc[1::2], cc[1::2], rc[1::2], cp, rp)
            levels.append((cp, rp, mp))
        for c, r, mom in reversed(levels):
            self.centers.append(c)
            self.radii.append(r)
            self.moments.append(mom)

    def _shift(
        self, mc: FloatArray, cc: FloatArray, rc: FloatArray, cp: FloatArray, rp: FloatArray
    ) -> FloatArray:
        """Moments about a parent centre from a child's: (alpha tau + beta)^k, binomially."""
        alpha = rc / rp
        beta = (cc - cp) / rp
        p = self.P
        scaled = mc * alpha[:, None] ** np.arange(p)
        bpow = beta[:, None] ** np.arange(p)
        out = np.empty_like(mc)
        for k in range(p):
            i = np.arange(k + 1)
            out[:, k] = (scaled[:, i] * bpow[:, k - i]) @ _BINOM[k, i]
        return out

    def __call__(self, z: ComplexArray, order: int) -> ComplexArray:
        """``S_n(z) = sum_j w_j / (t_j - z)^(n+1)`` for n = 0..order, shape (order+1, m)."""
        z = np.ravel(z)
        m = z.size
        if self.direct:
            return self._direct(z, order)
        out = np.zeros((order + 1, m), dtype=np.complex128)
        pidx = np.arange(m)
        node = np.zeros(m, dtype=np.intp)
        for level in range(self.levels + 1):
            if pidx.size == 0:
                break
            zeta = z[pidx] - self.centers[level][node]
            r = self.radii[level][node]
            far = np.abs(zeta) * self.ETA >= r
            self._far(out, pidx[far], zeta[far], r[far], self.moments[level][node[far]], order)
            pidx, node = pidx[~far], node[~far]
            if level < self.levels:
                pidx = np.repeat(pidx, 2)
                node = np.repeat(2 * node, 2)
                node[1::2] += 1
        if pidx.size:
            self._near(out, pidx, node, z, order)
        return out

    def _direct(self, z: NDArray[Any], order: int) -> NDArray[Any]:
        """The sums over all atoms, in the dtype of ``z`` (real for real ``z``: complex
        arithmetic with a zero imaginary part, to rounding, several times faster)."""
        out = np.empty((order + 1, z.size), dtype=np.result_type(z.dtype, np.float64))
        step = max(1, (1 << 20) // max(self.t.size, 1))
        for s in range(0, z.size, step):
            d = 1.0 / (self.t[None, :] - z[s : s + step, None])
            term = self.w * d
            for n in range(order + 1):
                out[n, s : s + step] = term.sum(axis=1)
                if n < order:
                    term = term * d
        return out

    def _far(
        self,
        out: ComplexArray,
        pidx: NDArray[np.intp],
        zeta: ComplexArray,
        r: FloatArray,
        mom: FloatArray,
        order: int,
    ) -> None:
        if pidx.size == 0:
            return
        q = r / zeta
        qpow = np.empty((q.size, self.P), dtype=np.complex128)
        qpow[:, 0] = 1.0
        np.cumprod(np.broadcast_to(q[:, None], (q.size, self.P - 1)), axis=1, out=qpow[:, 1:])
        qpow *= mom
        series = qpow @ self.coef[: order + 1].T  # (pairs, order + 1)
        inv = 1.0 / zeta
        scale = -inv
        m = out.shape[1]
        for n in range(order + 1):
            val = scale * series[:, n]
            out[n] += np.bincount(pidx, weights=val.real, minlength=m)
            out[n] += 1j * np.bincount(pidx, weights=val.imag, minlength=m)
            scale = -scale * inv

    def _near(
        self,
        out: ComplexArray,
        pidx: NDArray[np.intp],
        node: NDArray[np.intp],
        z: ComplexArray,
        order: int,
    ) -> None:
        m = out.shape[1]
        step = max(1, (1 << 21) // self.leaf)
        for s in range(0, pidx.size, step):
            pi, nd = pidx[s : s + step], node[s : s + step]
            d = 1.0 / (self.t_leaf[nd] - z[pi][:, None])
            term = self.w_leaf[nd] * d
            for n in range(order + 1):
                val = term.sum(axis=1)
                out[n] += np.bincount(pi, weights=val.real, minlength=m)
                out[n] += 1j * np.bincount(pi, weights=val.imag, minlength=m)
                if n < order:
                    term = term * d


@dataclass(frozen=True, eq=False)
class Atoms(Measure):
    """Discrete law ``sum_j w_j delta_{x_j}`` (weights normalised to sum 1)."""

    kind: ClassVar[str] = "atoms"
    values: FloatArray
    weights: FloatArray

    def __init__(self, values: ArrayLike, weights: ArrayLike | None = None) -> None:
        x = real_array("values", values)
        if x.ndim > 1:
            # a matrix's entries are not its eigenvalues: flattened, they would be taken
            # for them without a word
            raise InvalidParameter(
                f"atoms: values must be a 1-D list of eigenvalues, got an array of shape "
                f"{x.shape}; for a symmetric matrix H use rs.from_matrix(entries) (in the "
                f"HTTP API: {{'kind': 'matrix', 'entries': [...]}})",
                field="values",
            )
        x = x.ravel()
        if x.size == 0:
            raise InvalidParameter("atoms: values must not be empty", field="values")
        if not np.all(np.isfinite(x)):
            raise InvalidParameter("atoms: values must be finite numbers", field="values")
        if weights is None:
            w = np.full(x.size, 1.0 / x.size)
        else:
            w = real_array("weights", weights)
            if w.ndim > 1:
                raise InvalidParameter(
                    f"atoms: weights must be a 1-D list, got an array of shape {w.shape}",
                    field="weights",
                )
            w = w.ravel()
            if w.size != x.size:
                raise InvalidParameter(
                    f"atoms: weights has length {w.size} but values has length {x.size}",
                    field="weights",
                )
            if not np.all(np.isfinite(w)):
                raise InvalidParameter("atoms: weights must be finite numbers", field="weights")
            if np.any(w < 0):
                raise InvalidParameter("atoms: weights must be non-negative", field="weights")
            if w.max() > 1e300:  # scaled first: their sum may pass the largest double
                w = w / w.max()
            total = math.fsum(w)
            if not total > 0:
                raise InvalidParameter("atoms: weights must not all be zero", field="weights")
            w = w / total
        keep = w > 0
        order = np.argsort(x[keep], kind="stable")
        object.__setattr__(self, "values", x[keep][order])
        object.__setattr__(self, "weights", w[keep][order])

    @property
    def size(self) -> int:
        return int(self.values.size)

    @cached_property
    def _sums(self) -> AtomSums:
        return AtomSums(self.values, self.weights)

    def _derivatives(self, z: ComplexArray, order: int) -> ComplexArray:
        shape = z.shape
        sums = self._sums(z.ravel(), order)
        for n in range(order + 1):
            sums[n] *= _FACT[n]
        return sums.reshape((order + 1, *shape))

    def real_derivatives(self, u: ArrayLike, order: int = 1) -> FloatArray:
        sums = self._sums
        if not sums.direct:
            return super().real_derivatives(u, order)
        _check_order(order)
        u = np.asarray(u, dtype=float)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):
            out = sums._direct(u.ravel(), order)
        for n in range(1, order + 1):
            out[n] *= _FACT[n]
        return out.reshape((order + 1, *u.shape))

    def components(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        return self._components

    @cached_property
    def _components(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        # computed once: support, outliers and the scale check all ask for it
        start = np.flatnonzero(np.concatenate([[True], np.diff(self.values) > 0]))
        u = self.values[start]
        mass = np.add.reduceat(self.weights, start)
        for arr in (u, mass):
            arr.setflags(write=False)
        return u, u, mass

    @cached_property
    def mean(self) -> float:
        return float(self.weights @ self.values)

    @cached_property
    def variance(self) -> float:
        d = self.values - self.mean
        return float(self.weights @ (d * d))

    def cdf(self, x: ArrayLike) -> FloatArray:
        cw = np.concatenate([[0.0], np.cumsum(self.weights)])
        cw /= cw[-1]
        return cw[np.searchsorted(self.values, np.asarray(x, dtype=float), side="right")]

    def quantile(self, p: ArrayLike) -> FloatArray:
        cw = np.cumsum(self.weights)
        cw /= cw[-1]
        idx = np.searchsorted(cw, np.asarray(p, dtype=float), side="left")
        return self.values[np.minimum(idx, self.values.size - 1)]


def from_matrix(entries: ArrayLike, *, rtol: float = 1e-12) -> Atoms:
    """The spectrum of a real symmetric matrix as equally weighted atoms (LAPACK eigvalsh).

    Parameters
    ----------
    entries : array_like
        A square, real, symmetric matrix (nested lists or an array).
    rtol : float
        Tolerance of the symmetry test, relative to the largest entry.

    Returns
    -------
    Atoms
        Its eigenvalues, each of weight ``1/n``.

    Raises
    ------
    InvalidParameter
        Ragged rows, a matrix that is not square or is empty, entries not finite, or a
        matrix that is not symmetric.

    Examples
    --------
    >>> import rmtservice as rs
    >>> rs.from_matrix([[2.0, 1.0], [1.0, 2.0]]).values.tolist()
    [1.0, 3.0]
    """
    try:
        a = np.asarray(entries, dtype=float)
    except ValueError as exc:
        raise InvalidParameter("matrix: rows must all have the same length") from exc
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.size == 0:
        raise InvalidParameter(f"matrix: must be square and non-empty, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InvalidParameter("matrix: entries must be finite numbers")
    scale = float(np.max(np.abs(a))) if a.size else 0.0
    asym = float(np.max(np.abs(a - a.T)))
    if asym > rtol * max(scale, 1e-300):
        raise InvalidParameter(f"matrix: must be symmetric (max |a_ij - a_ji| = {asym:.3g})")
    eig = np.linalg.eigvalsh(0.5 * (a + a.T))  # LAPACK syevd; releases the GIL
    return Atoms(eig)


@dataclass(frozen=True, eq=False)
class Point(Measure):
    """Point mass ``delta_at``; with it the limit is the semicircle law."""

    kind: ClassVar[str] = "point"
    at: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _finite("at", self.at))

    def _derivatives(self, z: ComplexArray, order: int) -> ComplexArray:
        d = 1.0 / (self.at - z)
        return np.array([_FACT[n] * d ** (n + 1) for n in range(order + 1)])

    def real_derivatives(self, u: ArrayLike, order: int = 1) -> FloatArray:
        _check_order(order)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):
            d = 1.0 / (self.at - np.asarray(u, dtype=float))
            return np.array([_FACT[n] * d ** (n + 1) for n in range(order + 1)])

    def components(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        return np.array([self.at]), np.array([self.at]), np.array([1.0])

    @property
    def mean(self) -> float:
        return self.at

    @property
    def variance(self) -> float:
        return 0.0

    def cdf(self, x: ArrayLike) -> FloatArray:
        return (np.asarray(x, dtype=float) >= self.at).astype(float)

    def quantile(self, p: ArrayLike) -> FloatArray:
        return np.full(np.shape(p), self.at)


# ------------------------------------------------------------------ continuous laws


def _algebraic_derivatives(
    f0: ComplexArray, sq: ComplexArray, order: int, a: float, b: complex | ComplexArray
) -> list[ComplexArray]:
    """Derivatives of a root ``f`` of ``A(z) f^2 + B(z) f + 1 = 0`` with A, B affine.

    ``A = a z + const`` (only ``a`` enters the derivative), ``B' = 1``: both the
    semicircle and Marchenko-Pastur transforms have this shape. Differentiating k
    times (Leibniz) gives ``f^(k) * sq = -(...)`` with ``sq = 2 A f + B``.
    Here ``b`` is ``A(z)`` evaluated at the points.
    """
    derivs = [f0]
    for k in range(1, order + 1):
        conv = sum(math.comb(k, j) * derivs[j] * derivs[k - j] for j in range(1, k))
        sq2_km1 = sum(math.comb(k - 1, j) * derivs[j] * derivs[k - 1 - j] for j in range(k))
        rhs = b * conv + a * k * sq2_km1 + k * derivs[k - 1]
        derivs.append(-rhs / sq)
    return derivs


def _sum(terms: list[float]) -> float:
    """``math.fsum``, or the infinity it overflows to (fsum raises OverflowError)."""
    try:
        return math.fsum(terms)
    except OverflowError:
        with np.errstate(over="ignore"):
            return float(np.sum(terms))


def _edge_sqrt(z: ComplexArray, lo: float, hi: float) -> ComplexArray:
    """``sqrt((z - lo)(z - hi))`` with its cut on ``[lo, hi]`` and ``~ z`` at infinity."""
    # on the real axis outside [lo, hi] the product of principal roots is real
    return np.sqrt(z - lo) * np.sqrt(z - hi)


def _uniform_terms(am: NDArray[Any], bm: NDArray[Any], n: int) -> NDArray[Any]:
    """``f^(n) / (n-1)! = ((a-z)^-n - (b-z)^-n) / (b-a)`` summed without cancellation:
    ``sum_j (b-z)^(j-n) (a-z)^(-1-j)`` over j = 0..n-1, in that order."""
    total = bm ** (-n) * am ** (-1)
    for j in range(1, n):
        total = total + bm ** (j - n) * am ** (-1 - j)
    return total


@dataclass(frozen=True, eq=False)
class Uniform(Measure):
    """Uniform law on ``[low, high]``."""

    kind: ClassVar[str] = "uniform"
    low: float
    high: float

    def __post_init__(self) -> None:
        low, high = _finite("low", self.low), _finite("high", self.high)
        if not low < high:
            raise InvalidParameter(
                f"uniform: low must be < high, got low={low!r}, high={high!r}", field="high"
            )
        if high - low < max(_RESOLUTION * max(abs(low), abs(high)), 1e-300):
            raise InvalidParameter(
                f"uniform: high - low = {high - low!r} is below the resolution of double "
                "precision at these values; use a point mass",
                field="high",
            )
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def _derivatives(self, z: ComplexArray, order: int) -> ComplexArray:
        a, b = self.low, self.high
        width = b - a
        am, bm = a - z, b - z
        # log((b - z)/(a - z)) = log1p((b - a)/(a - z)): no cancellation far away.
        inside = np.zeros(0, dtype=bool)
        any_inside = False
        if not (z.imag > 0).all():  # (above the axis, the common case: no point on [a, b])
            inside = (z.imag == 0) & (z.real > a) & (z.real < b)
            any_inside = bool(inside.any())
        q = np.where(inside, 0.0, width / np.where(inside, 1.0, am)) if any_inside else width / am
        # Near [a, b] (|q| >= 1/2) 1 + q = (b - z)/(a - z) cancels in _log1p (it was -inf
        # within 1e-8 of b): there take the two logs apart (same branch for Im z >= 0).
        # (Where every point is on one side, the other branch is not evaluated.)
        near = np.abs(q) >= 0.5
        f0: NDArray[Any]
        if near.all():
            f0 = (np.log(bm) - np.log(am)) / width
        elif not near.any():
            f0 = _log1p(q) / width
        else:
            logs = np.log(np.where(near, bm, 1.0)) - np.log(np.where(near, am, 1.0))
            f0 = np.where(near, logs, _log1p(np.where(near, 0.0, q))) / width
        if any_inside:
            x = z.real[inside]
            f0[inside] = (np.log((b - x) / (x - a)) + 1j * np.pi) / width
        out: list[ComplexArray] = [np.asarray(f0, dtype=np.complex128)]
        for n in range(1, order + 1):
            out.append(_FACT[n - 1] * _uniform_terms(am, bm, n))
        return np.array(out)

    def real_derivatives(self, u: ArrayLike, order: int = 1) -> FloatArray:
        _check_order(order)
        u = np.asarray(u, dtype=float)
        a, b = self.low, self.high
        width = b - a
        am, bm = a - u, b - u
        with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):
            # the real parts of _derivatives' terms: (b - u)/(a - u) > 0 off [a, b]
            q = width / am
            near = np.abs(q) >= 0.5
            logs = np.log(np.abs(bm)) - np.log(np.abs(am))
            out = [np.where(near, logs, 0.5 * np.log1p(2.0 * q + q**2)) / width]
            for n in range(1, order + 1):
                out.append(_FACT[n - 1] * _uniform_terms(am, bm, n))
        return np.array(out)

    def components(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        return np.array([self.low]), np.array([self.high]), np.array([1.0])

    @property
    def mean(self) -> float:
        return 0.5 * (self.low + self.high)

    @property
    def variance(self) -> float:
        width = self.high - self.low
        return width * width / 12.0  # (a product: inf past the range, not OverflowError)

    def cdf(self, x: ArrayLike) -> FloatArray:
        x = np.asarray(x, dtype=float)
        return np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)

    def quantile(self, p: ArrayLike) -> FloatArray:
        p = np.asarray(p, dtype=float)
        return self.low + p * (self.high - self.low)

    def pdf(self, x: ArrayLike) -> FloatArray:
        x = np.asarray(x, dtype=float)
        return np.where((x >= self.low) & (x <= self.high), 1.0 / (self.high - self.low), 0.0)


@dataclass(frozen=True, eq=False)
class Semicircle(Measure):
    """Semicircle law with centre ``center`` and radius ``radius`` (variance r^2/4)."""

    kind: ClassVar[str] = "semicircle"
    center: float
    radius: float

    def __post_init__(self) -> None:
        c, r = _finite("center", self.center), _finite("radius", self.radius)
        if not r > 0:
            raise InvalidParameter(f"semicircle: radius must be > 0, got {r!r}", field="radius")
        if r < max(_RESOLUTION * abs(c), 1e-150):
            raise InvalidParameter(
                f"semicircle: radius {r!r} is below the resolution of double precision at "
                "this center; use a point mass",
                field="radius",
            )
        object.__setattr__(self, "center", c)
        object.__setattr__(self, "radius", r)

    def _derivatives(self, z: ComplexArray, order: int) -> ComplexArray:
        r = self.radius
        zeta = z - self.center
        sq = _edge_sqrt(zeta, -r, r)
        inside = (zeta.imag == 0) & (np.abs(zeta.real) < r)
        if inside.any():
            x = zeta.real[inside]
            sq[inside] = 1j * np.sqrt((r - x) * (r + x))
        f0 = -2.0 / (zeta + sq)
        # f solves (r^2/4) f^2 + zeta f + 1 = 0, so 2 A f + B = sq.
        derivs = _algebraic_derivatives(f0, sq, order, 0.0, r * r / 4.0)
        return np.array(derivs)

    def components(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        c, r = self.center, self.radius
        return np.array([c - r]), np.array([c + r]), np.array([1.0])

    @property
    def mean(self) -> float:
        return self.center

    @property
    def variance(self) -> float:
        return self.radius * self.radius / 4.0

    def cdf(self, x: ArrayLike) -> FloatArray:
        # in halves of r: r - d stays finite up to the largest double
        h = 0.5 * self.radius
        with np.errstate(over="ignore"):  # x - center past the range: clipped to an end
            e = 0.5 * np.clip(np.asarray(x, dtype=float) - self.center, -2.0 * h, 2.0 * h)
        s = e / h
        root = np.sqrt(((h - e) / h) * ((h + e) / h))  # sqrt(1 - s^2) without cancellation
        return np.clip(0.5 + (s * root + np.arctan2(s, root)) / np.pi, 0.0, 1.0)

    def quantile(self, p: ArrayLike) -> FloatArray:
        lo, hi = self.center - self.radius, self.center + self.radius
        return _invert_cdf(self.cdf, p, lo, hi, self._pdf)

    def pdf(self, x: ArrayLike) -> FloatArray:
        return self._pdf(np.asarray(x, dtype=float))

    def _pdf(self, x: FloatArray) -> FloatArray:
        s = (x - self.center) / self.radius
        return 2.0 / (np.pi * self.radius) * np.sqrt(np.clip(1.0 - s * s, 0.0, None))


@dataclass(frozen=True, eq=False)
class MarchenkoPastur(Measure):
    """Marchenko-Pastur law, ratio ``y`` in (0, 1], scale ``s``: edges ``s (1 -+ sqrt y)^2``."""

    kind: ClassVar[str] = "marchenko_pastur"
    ratio: float
    scale: float = 1.0

    def __post_init__(self) -> None:
        y, s = _finite("ratio", self.ratio), _finite("scale", self.scale)
        if not 0 < y <= 1:
            raise InvalidParameter(
                f"marchenko_pastur: ratio must be in (0, 1], got {y!r}", field="ratio"
            )
        if not s > 0:
            raise InvalidParameter(f"marchenko_pastur: scale must be > 0, got {s!r}", field="scale")
        if y < 1e-28:
            raise InvalidParameter(
                f"marchenko_pastur: ratio {y!r} is too small to resolve the edges "
                "s(1 -+ sqrt(ratio))^2 in double precision; use a point mass at scale",
                field="ratio",
            )
        if not 1e-150 <= s <= 1e150:
            raise InvalidParameter(
                f"marchenko_pastur: scale must be in [1e-150, 1e150], got {s!r}", field="scale"
            )
        object.__setattr__(self, "ratio", y)
        object.__setattr__(self, "scale", s)

    @property
    def _edges(self) -> tuple[float, float]:
        sy = math.sqrt(self.ratio)
        return (1.0 - sy) ** 2, (1.0 + sy) ** 2

    def _derivatives(self, z: ComplexArray, order: int) -> ComplexArray:
        y, s = self.ratio, self.scale
        a, b = self._edges
        x = z / s
        sq = _edge_sqrt(x, a, b)
        inside = (x.imag == 0) & (x.real > a) & (x.real < b)
        if inside.any():
            xr = x.real[inside]
            sq[inside] = 1j * np.sqrt((xr - a) * (b - xr))
        # m solves y x m^2 + (x + y - 1) m + 1 = 0; m = 2 / ((1 - y - x) - sq) is the
        # rationalised root (no cancellation at large |x|).
        m0 = 2.0 / ((1.0 - y - x) - sq)
        derivs = _algebraic_derivatives(m0, sq, order, y, y * x)
        return np.array([d / s ** (k + 1) for k, d in enumerate(derivs)])

    def components(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        a, b = self._edges
        return np.array([a * self.scale]), np.array([b * self.scale]), np.array([1.0])

    @property
    def mean(self) -> float:
        return self.scale

    @property
    def variance(self) -> float:
        return self.scale * self.scale * self.ratio

    def cdf(self, x: ArrayLike) -> FloatArray:
        y = self.ratio
        a, b = self._edges
        t = np.clip(np.asarray(x, dtype=float) / self.scale, a, b)
        m = 1.0 + y
        rt = np.sqrt(np.clip((b - t) * (t - a), 0.0, None))
        # arcsin written as arctan2 of exact products: accurate up to both edges
        g = rt + m * np.arctan2(t - m, rt)
        if y < 1:
            sab = 1.0 - y  # sqrt(a b)
            g = g - sab * np.arctan2((a + b) * t - 2.0 * a * b, 2.0 * sab * rt)
            g0 = -m * np.pi / 2 + (1.0 - y) * np.pi / 2
        else:
            g0 = -m * np.pi / 2
        return np.clip((g - g0) / (2.0 * np.pi * y), 0.0, 1.0)

    def quantile(self, p: ArrayLike) -> FloatArray:
        a, b = self._edges
        return _invert_cdf(self.cdf, p, a * self.scale, b * self.scale, self._pdf)

    def pdf(self, x: ArrayLike) -> FloatArray:
        x = np.asarray(x, dtype=float)
        return np.where(x > 0, self._pdf(np.maximum(x, 0.0)), 0.0)

    def _pdf(self, x: FloatArray) -> FloatArray:
        y, s = self.ratio, self.scale
        a, b = self._edges
        t = x / s
        num = np.sqrt(np.clip((b - t) * (t - a), 0.0, None))
        return num / (2.0 * np.pi * y * np.maximum(t, 1e-300) * s)


def _invert_cdf(
    cdf: Callable[[FloatArray], FloatArray],
    p: ArrayLike,
    lo: float,
    hi: float,
    pdf: Callable[[FloatArray], FloatArray],
    *,
    maxiter: int = 200,
) -> FloatArray:
    """Vectorised safeguarded Newton-bisection for ``cdf(x) = p`` on ``[lo, hi]``
    (:class:`NoConvergence` if ``maxiter`` steps do not resolve it)."""
    p = np.asarray(p, dtype=float)
    a = np.full(p.shape, lo)
    b = np.full(p.shape, hi)
    x = 0.5 * (a + b)
    for _ in range(maxiter):
        g = cdf(x) - p
        a = np.where(g < 0, x, a)
        b = np.where(g >= 0, x, b)
        d = pdf(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            xn = x - g / d
        bad = ~np.isfinite(xn) | (xn <= a) | (xn >= b)
        xn = np.where(bad, 0.5 * (a + b), xn)
        if np.all(np.abs(xn - x) <= 4e-16 * (abs(lo) + abs(hi))) and np.all(~bad):
            x = xn
            break
        x = xn
        if np.all(b - a <= 4e-16 * (abs(lo) + abs(hi))):
            break
    else:
        raise NoConvergence(f"quantile inversion stopped at its cap of {maxiter} steps")
    return x


def _bisect_quantile(
    cdf: Callable[[FloatArray], FloatArray],
    p: FloatArray,
    lo: float,
    hi: float,
    *,
    maxiter: int = 200,
) -> FloatArray:
    """The least ``x`` in ``[lo, hi]`` with ``cdf(x) >= p``, by bisection (the cdf may
    have jumps and flat parts); :class:`NoConvergence` past ``maxiter`` steps."""
    a = np.full(p.shape, lo)
    b = np.full(p.shape, hi)
    # relative to the endpoints, and absolute at the scale of [lo, hi] for a quantile at 0
    floor = 2e-16 * (abs(lo) + abs(hi))
    for _ in range(maxiter):
        mid = 0.5 * (a + b)
        right = cdf(mid) >= p
        b = np.where(right, mid, b)
        a = np.where(right, a, mid)
        if np.all(b - a <= np.maximum(2e-16 * np.maximum(np.abs(a), np.abs(b)), floor)):
            return b
    raise NoConvergence(f"quantile bisection stopped at its cap of {maxiter} steps")


# -------------------------------------------------------------------------- mixture


@dataclass(frozen=True, eq=False)
class Mixture(Measure):
    """Weighted sum ``sum_i p_i nu_i`` of measures (weights normalised to sum 1)."""

    kind: ClassVar[str] = "mixture"
    parts: tuple[tuple[float, Measure], ...] = field(default=())

    def __init__(self, components: Sequence[tuple[float, Measure]]) -> None:
        if len(components) == 0:
            raise InvalidParameter("mixture: components must not be empty", field="components")
        weights = np.array([_finite("weight", w) for w, _ in components])
        if np.any(weights < 0):
            raise InvalidParameter("mixture: weights must be non-negative", field="components")
        if weights.max() > 1e300:  # scaled first: their sum may pass the largest double
            weights = weights / weights.max()
        total = math.fsum(weights)
        if not total > 0:
            raise InvalidParameter("mixture: weights must not all be zero", field="components")
        parts = tuple(
            (float(w / total), as_measure(m, f"components.{i}.measure"))
            for i, (w, (_, m)) in enumerate(zip(weights, components, strict=True))
            if w > 0
        )
        object.__setattr__(self, "parts", parts)

    @property
    def size(self) -> int:
        return sum(m.size for _, m in self.parts)

    @property
    def depth(self) -> int:
        return 1 + max(m.depth for _, m in self.parts)

    def _derivatives(self, z: ComplexArray, order: int) -> ComplexArray:
        total = np.zeros((order + 1, *z.shape), dtype=np.complex128)
        for w, m in self.parts:
            total += w * m.derivatives(z, order)
        return total

    def real_derivatives(self, u: ArrayLike, order: int = 1) -> FloatArray:
        _check_order(order)
        u = np.asarray(u, dtype=float)
        total = np.zeros((order + 1, *u.shape))
        for w, m in self.parts:
            total += w * m.real_derivatives(u, order)
        return total

    def components(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        pieces = [m.components() for _, m in self.parts]
        lo = np.concatenate([p[0] for p in pieces])
        hi = np.concatenate([p[1] for p in pieces])
        mass = np.concatenate([w * p[2] for (w, _), p in zip(self.parts, pieces, strict=True)])
        order = np.argsort(lo, kind="stable")
        lo, hi, mass = lo[order], hi[order], mass[order]
        # merge overlapping (or touching) intervals
        run_hi = np.maximum.accumulate(hi)
        new = np.concatenate([[True], lo[1:] > run_hi[:-1]])
        starts = np.flatnonzero(new)
        ends = np.concatenate([starts[1:], [lo.size]]) - 1
        return lo[starts], run_hi[ends], np.add.reduceat(mass, starts)

    @property
    def mean(self) -> float:
        return _sum([w * m.mean for w, m in self.parts])

    @property
    def variance(self) -> float:
        mu = self.mean
        return _sum([w * (m.variance + (m.mean - mu) * (m.mean - mu)) for w, m in self.parts])

    def cdf(self, x: ArrayLike) -> FloatArray:
        x = np.asarray(x, dtype=float)
        return sum((w * m.cdf(x) for w, m in self.parts), np.zeros(x.shape))

    def pdf(self, x: ArrayLike) -> FloatArray:
        x = np.asarray(x, dtype=float)
        try:
            return sum((w * m.pdf(x) for w, m in self.parts), np.zeros(x.shape))
        except InvalidParameter as exc:  # a component's own field means nothing here
            if exc.field == "components":
                raise
            raise InvalidParameter(f"mixture: {exc.message}", field="components") from exc

    def quantile(self, p: ArrayLike) -> FloatArray:
        p = np.asarray(p, dtype=float)
        lo_, hi_, _ = self.components()
        return _bisect_quantile(self.cdf, p, float(lo_[0]), float(hi_[-1]))

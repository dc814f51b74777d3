"""The law ``H`` of the squared singular values of S, from the law ``nu`` of the singular values.

The rectangular model works with ``f_H(w) = int nu(ds) / (s^2 - w)`` and its derivatives.
Atoms and a point mass square exactly (their atoms are squared); a mixture squares its
components; a continuous law on ``[l, r]``, ``l >= 0``, is wrapped in :class:`Squared`,
whose transform comes from the symmetrised law ``nu_sym = (nu + nu(-.)) / 2``:

    int nu(ds) / (s^2 - zeta^2)^(k+1) = 2 sum_j a_jk I_j(zeta),
    I_j = int nu_sym(ds) / (s - zeta)^j = f_sym^(j-1)(zeta) / (j - 1)!,

the partial fractions of ``1 / ((s - zeta)^(k+1) (s + zeta)^(k+1))`` (the terms in
``1/(s + zeta)^j`` fold onto those in ``1/(s - zeta)^j`` by the symmetry of nu_sym),
``zeta = sqrt(w)`` in the closed upper half-plane. Near ``w = 0`` with ``l > 0`` the
partial fractions cancel (the transform is smooth there, the terms are not): for
``|zeta| < l / 2`` the integral is a Gauss quadrature of the law's density instead, in
the angle of ``s = m + h cos theta`` (smooth in theta for square-root and flat edges).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rmtservice._solve import MAX_ABS
from rmtservice.errors import InvalidParameter
from rmtservice.measures import MAX_ORDER, Atoms, Measure, Mixture, Point

__all__ = ["Squared", "check_nonnegative", "check_squarable", "squared"]

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]

_FACT = [math.factorial(k) for k in range(2 * MAX_ORDER + 3)]


def _partial_fractions(k: int) -> list[tuple[int, float, int]]:
    """``(j, coefficient, power)``: ``a_jk = coefficient * (2 zeta)^power`` for j = 1..k+1."""
    out = []
    for j in range(1, k + 2):
        m = k + 1 - j
        coef = (-1) ** m * math.comb(2 * k + 1 - j, m)
        out.append((j, float(coef), j - 2 * k - 2))
    return out


_PF = [_partial_fractions(k) for k in range(MAX_ORDER + 1)]
#: Gauss-Legendre rule of one quadrature panel of :class:`Squared` (its nearest
#: singularity at least a panel length away: Bernstein radius >= 2.4, error < 1e-15)
_GAUSS = np.polynomial.legendre.leggauss(40)


def check_nonnegative(measure: Measure, name: str = "measure") -> None:
    """A law of singular values lives on ``[0, inf)``."""
    lo = float(measure.components()[0][0])
    if lo < 0:
        raise InvalidParameter(
            f"the law of singular values must have no mass below 0; its support starts at {lo!r}",
            field=name,
        )


def check_squarable(measure: Measure, name: str = "measure") -> None:
    """Singular values whose squares overflow are refused before they are squared (a
    float's ``**`` raises ``OverflowError`` there, numpy's gives infinity)."""
    top = float(measure.components()[1][-1])
    if top > math.sqrt(MAX_ABS):
        raise InvalidParameter(
            f"the singular values of S reach {top:.3g}; they must be at most "
            f"{math.sqrt(MAX_ABS):.0e}",
            field=name,
        )


def squared(measure: Measure) -> Measure:
    """The law of ``s^2`` for ``s ~ measure`` (a law on ``[0, inf)``).

    Parameters
    ----------
    measure : Measure
        A law on ``[0, inf)``.

    Returns
    -------
    Measure
        The push-forward by ``s -> s^2`` (the law ``H`` of the eigenvalues of ``S^T S``
        in the canonical frame): its transform, support and quantiles.

    Raises
    ------
    InvalidParameter
        A measure with mass below 0.

    Examples
    --------
    >>> import rmtservice as rs
    >>> import rmtservice.rectangular as rr
    >>> h = rr.squared(rs.Uniform(0.0, 1.0))
    >>> h.stieltjes(2.0 + 0j).real.round(6)  # int_0^1 ds / (s^2 - 2)
    np.float64(-0.623225)
    """
    check_nonnegative(measure)
    check_squarable(measure)
    if isinstance(measure, Atoms):
        return Atoms(measure.values**2, measure.weights)
    if isinstance(measure, Point):
        return Point(measure.at**2)
    if isinstance(measure, Mixture):
        return Mixture([(w, squared(m)) for w, m in measure.parts])
    return Squared(measure)


@dataclass(frozen=True, eq=False)
class Squared(Measure):
    """The push-forward of a continuous law ``base`` on ``[l, r]``, ``l >= 0``, by ``s^2``."""

    kind: ClassVar[str] = "squared"
    base: Measure

    @cached_property
    def _edges(self) -> tuple[float, float]:
        lo, hi, _ = self.base.components()
        return float(lo[0]), float(hi[-1])

    def _derivatives(self, z: ComplexArray, order: int) -> ComplexArray:
        zeta = np.sqrt(z)  # Re >= 0, Im >= 0 for Im z >= 0
        out = np.empty((order + 1, *z.shape), dtype=np.complex128)
        lo, _ = self._edges
        near = np.abs(zeta) < 0.5 * lo if lo > 0 else np.zeros(z.shape, dtype=bool)
        far = ~near
        if far.any():
            out[:, far] = self._folded(zeta[far], order)
        if near.any():
            out[:, near] = self._quadrature(z[near], order)
        return out

    def _folded(self, zeta: ComplexArray, order: int) -> ComplexArray:
        """The partial fractions in the symmetrised law's derivatives at ``zeta``."""
        plus = self.base.derivatives(zeta, order)
        minus = self.base.derivatives(-zeta, order)
        # I_j = f_sym^(j-1) / (j-1)!,  f_sym^(i)(zeta) = (f^(i)(zeta) - (-1)^i f^(i)(-zeta))/2
        sym = [(plus[i] - (-1) ** i * minus[i]) / (2.0 * _FACT[i]) for i in range(order + 1)]
        two = 2.0 * zeta
        out = np.empty((order + 1, zeta.size), dtype=np.complex128)
        for k in range(order + 1):
            total = np.zeros(zeta.size, dtype=np.complex128)
            for j, coef, power in _PF[k]:
                total = total + coef * two**power * sym[j - 1]
            out[k] = 2.0 * _FACT[k] * total
        return out

    @cached_property
    def _nodes(self) -> tuple[FloatArray, FloatArray]:
        """Quadrature nodes ``s`` and weights of ``nu`` in the angle of
        ``s = l + (r - l) sin^2(theta / 2)``, for ``1/(s^2 - w)^4`` with ``|w| <= l^2/4``.

        The poles at ``s = +-l/2`` (and a ``1/s`` in the law's density) lie at a distance
        ``delta = acosh(1 + l/(r - l)) ~ sqrt(2 l / r)`` from ``theta = 0``: Gauss-Legendre
        panels ``[0, delta]``, ``[delta, 2 delta]``, ... doubling up to ``pi``, each with
        its nearest singularity at least its own length away, converge geometrically
        whatever ``l / r`` (one global rule would need ``~ 1/delta`` nodes: thousands,
        and a dense eigenproblem to build them, for a small ``l``)."""
        lo, hi = self._edges
        span = hi - lo
        e = lo / span
        delta = math.log1p(e + math.sqrt(e * (2.0 + e)))  # acosh(1 + e) without cancelling
        # (l = 0: no quadrature near w = 0 is needed; the nodes serve the moments only)
        count = 0 if lo == 0 or delta >= 1.0 else math.ceil(math.log2(math.pi / delta))
        breaks = np.concatenate([[0.0], delta * 2.0 ** np.arange(count), [math.pi]])
        x, wq = _GAUSS
        mid, half = 0.5 * (breaks[1:] + breaks[:-1]), 0.5 * (breaks[1:] - breaks[:-1])
        theta = (mid[:, None] + half[:, None] * x[None, :]).ravel()
        dtheta = (half[:, None] * wq[None, :]).ravel()
        s = lo + span * np.sin(0.5 * theta) ** 2  # (not m - h cos theta: l is kept exactly)
        weights = dtheta * self.base.pdf(s) * 0.5 * span * np.sin(theta)
        return s, weights / weights.sum()

    def _quadrature(self, w: ComplexArray, order: int) -> ComplexArray:
        s, weights = self._nodes
        # 1/(s^2 - w) = (1/s)(1/s) / (1 - (w/s)/s), the factors kept apart: for l below
        # 1e-154, s^2 underflows to 0 while f_H ~ 1/l is still a double
        inv = 1.0 / s
        ratio = 1.0 / (1.0 - (w[:, None] * inv) * inv)
        term = (weights * inv) * inv * ratio
        out = np.empty((order + 1, w.size), dtype=np.complex128)
        with np.errstate(over="ignore"):  # (only where the derivative itself overflows)
            d = (inv * inv) * ratio
            for k in range(order + 1):
                out[k] = _FACT[k] * term.sum(axis=1)
                term = term * d
        return out

    def components(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        lo, hi = self._edges
        return np.array([lo * lo]), np.array([hi * hi]), np.array([1.0])

    @property
    def mean(self) -> float:
        """``E s^2``, from the base law's mean and variance (no nodes: the solvers ask
        for it on every call)."""
        b = self.base
        return b.variance + b.mean * b.mean

    @cached_property
    def _fourth(self) -> float:
        """``E s^4``, from the nodes."""
        s, weights = self._nodes
        return float(weights @ s**4)

    @property
    def variance(self) -> float:
        return max(self._fourth - self.mean**2, 0.0)

    def cdf(self, x: ArrayLike) -> FloatArray:
        x = np.asarray(x, dtype=float)
        return self.base.cdf(np.sqrt(np.maximum(x, 0.0)))

    def quantile(self, p: ArrayLike) -> FloatArray:
        return self.base.quantile(p) ** 2

    def pdf(self, x: ArrayLike) -> FloatArray:
        x = np.asarray(x, dtype=float)
        root = np.sqrt(np.maximum(x, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x > 0, self.base.pdf(root) / (2.0 * root), 0.0)

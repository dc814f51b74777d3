"""Outliers of the rectangular model: ``Phi``, the separation test, thresholds, overlaps.

A singular value ``theta`` of S whose square lies on a *valid branch* (``rho < 1``,
``Phi > 0``: see :mod:`rmtservice.rectangular.limit`) gives an outlier singular value
of ``Y = S + X`` near ``sqrt(Phi(theta^2))``; otherwise it is swallowed by the bulk. The
squared overlaps of its singular vectors with those of S tend to
``Phi'(theta^2) a(theta^2)`` (right, in ``R^p``) and ``Phi'(theta^2) a_(theta^2)`` (left,
in ``R^n``), ``a = 1/A``, ``a_ = 1/A_`` (docs/theory/rectangular.md; Benaych-Georges and Nadakuditi
2012 for a pure-noise bulk). The inverse map sends an observed outlier ``y`` to the
``theta`` with ``Phi(theta^2) = y^2`` on the valid branch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rmtservice._solve import quiet
from rmtservice.errors import InvalidParameter
from rmtservice.measures import Measure
from rmtservice.rectangular.limit import Model, Support, _boundary_values, support

__all__ = ["InverseResult", "Outlier", "OutlierReport", "inverse", "outliers", "phi"]

FloatArray = NDArray[np.float64]


def _singular_values(name: str, values: ArrayLike) -> FloatArray:
    v = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(v)):
        raise InvalidParameter(f"{name} must contain finite numbers only", field=name)
    if np.any(v < 0):
        raise InvalidParameter(f"{name} are singular values: they must be >= 0", field=name)
    return v


def _on_support_of_h(m: Model, t: FloatArray) -> NDArray[np.bool_]:
    lo, hi, _ = m.h.components()
    k = np.searchsorted(hi, t, side="left")
    kk = np.minimum(k, lo.size - 1)
    return (k < lo.size) & (t >= lo[kk])


def _on_valid_branch(sup: Support, t: FloatArray) -> NDArray[np.bool_]:
    """``t`` strictly inside a branch ``(t_upper[k-1], t_lower[k])`` (or right of all, or
    in ``(t0, t_lower[0])`` when there is a gap at zero)."""
    k = np.searchsorted(sup.t_lower, t, side="right")  # branches end at t_lower[k]
    right = k >= len(sup)
    start = np.where(k == 0, sup.t0, sup.t_upper[np.maximum(k - 1, 0)])
    end = np.where(right, np.inf, sup.t_lower[np.minimum(k, len(sup) - 1)])
    valid = (t > start) & (t < end)
    return valid & ((k > 0) | sup.zero_gap)


@quiet
def phi(measure: Measure, sigma2: float, aspect_ratio: float, t: ArrayLike) -> FloatArray:
    """``Phi(t)`` at real t (squared singular values) off the support of H.

    An outlier singular value of ``Y`` lies near ``sqrt(Phi(theta^2))`` for a separated
    singular value ``theta`` of ``S`` (docs/theory/rectangular.md).

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the singular values of ``S`` (on ``[0, inf)``).
    sigma2 : float
        Noise level: the entries of ``X`` have variance ``sigma2 / n`` (n rows).
    aspect_ratio : float
        ``c = p / n`` of the ``n x p`` matrix, any ``c > 0``.
    t : array_like
        Real points outside the support of ``H``, the law of the squared singular values.

    Returns
    -------
    ndarray
        ``Phi(t)``.

    Raises
    ------
    InvalidParameter
        A point in the support of ``H`` or not finite; ``sigma2`` or ``aspect_ratio``
        not positive.

    Examples
    --------
    >>> import rmtservice as rs
    >>> import rmtservice.rectangular as rr
    >>> rr.phi(rs.Point(0.0), 1.0, 0.5, [9.0]).round(6).tolist()  # (t + 1)(t + c)/t
    [10.555556]
    """
    from rmtservice.rectangular.limit import model

    m = model(measure, sigma2, aspect_ratio)
    t = np.asarray(t, dtype=float)
    if not np.all(np.isfinite(t)):
        raise InvalidParameter("t must contain finite numbers only", field="t")
    on = _on_support_of_h(m, t.ravel())
    if np.any(on):
        bad = float(t.ravel()[on][0])
        raise InvalidParameter(
            f"t = {bad!r} lies in the support of H, where Phi is not defined", field="t"
        )
    return m.real_phi(t)[0]


@dataclass(frozen=True)
class Outlier:
    """One singular value of S: separated or not, where its outlier goes, ``Phi'`` at its
    square, and the limiting squared overlaps of the left and right singular vectors."""

    spike: float
    separated: bool
    location: float | None
    slope: float | None
    left_overlap: float | None
    right_overlap: float | None


@dataclass(frozen=True, eq=False)
class OutlierReport:
    """Support, thresholds ``(lower, upper)`` and one :class:`Outlier` per spike."""

    support: Support
    thresholds: tuple[float | None, float]
    outliers: list[Outlier]

    @property
    def threshold(self) -> float:
        """Spikes above this separate (``sqrt`` of the largest root of ``Phi' = 0``)."""
        return self.thresholds[1]


def _clip(v: float) -> float:
    return min(max(v, 0.0), 1.0)


@quiet
def outliers(
    measure: Measure,
    sigma2: float,
    aspect_ratio: float,
    spikes: ArrayLike,
    *,
    sup: Support | None = None,
) -> OutlierReport:
    """Separation test, outlier location, slope and overlaps for each singular value of S.

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the singular values of ``S`` (on ``[0, inf)``).
    sigma2 : float
        Noise level: the entries of ``X`` have variance ``sigma2 / n`` (n rows).
    aspect_ratio : float
        ``c = p / n`` of the ``n x p`` matrix, any ``c > 0``.
    spikes : array_like
        Singular values ``theta`` of ``S`` outside its bulk.
    sup : Support, optional
        The support, when already known (skips its search).

    Returns
    -------
    OutlierReport
        The support, the detection ``thresholds`` and per spike: ``separated``,
        ``location`` (``sqrt(Phi(theta^2))``), ``slope`` and the squared overlaps of the
        left and right singular vectors.

    Raises
    ------
    InvalidParameter
        ``sigma2`` or ``aspect_ratio`` not positive and finite, points not finite, or a
        measure with mass below 0.
    NoConvergence
        A solver did not reach rounding-level accuracy (not observed).

    Examples
    --------
    >>> import rmtservice as rs
    >>> import rmtservice.rectangular as rr
    >>> r = rr.outliers(rs.Point(0.0), 1.0, 0.5, [3.0, 0.5])
    >>> round(r.thresholds[1], 6)  # c^(1/4)
    0.840896
    >>> o = r.outliers[0]
    >>> round(o.location, 6), round(o.left_overlap, 6), round(o.right_overlap, 6)
    (3.248931, 0.894444, 0.94152)
    """
    theta = _singular_values("spikes", spikes)
    sup = sup if sup is not None else support(measure, sigma2, aspect_ratio)
    m = sup.model
    t = theta * theta
    off = ~_on_support_of_h(m, t)
    p = np.full(t.size, np.nan)
    dp = np.full(t.size, np.nan)
    a = np.full(t.size, np.nan)
    a_ = np.full(t.size, np.nan)
    if np.any(off):
        p[off], dp[off], a[off], a_[off] = m.real_phi(t[off])
    separated = off & _on_valid_branch(sup, t) & (dp > 0) & (p > 0)
    # overlaps in the caller's frame: the canonical frame's left is the caller's right
    right, left = (dp / a_, dp / a) if m.flipped else (dp / a, dp / a_)
    items = []
    for i, th in enumerate(theta):
        sep = bool(separated[i])
        items.append(
            Outlier(
                spike=float(th),
                separated=sep,
                location=math.sqrt(float(p[i])) if sep else None,
                slope=float(dp[i]) if np.isfinite(dp[i]) else None,
                left_overlap=_clip(float(left[i])) if sep else None,
                right_overlap=_clip(float(right[i])) if sep else None,
            )
        )
    return OutlierReport(sup, sup.thresholds, items)


@dataclass(frozen=True)
class InverseResult:
    """An observed singular value and the singular value of S behind it (``None`` inside
    the support, or for an outlier in the gap at zero that no ``theta >= 0`` explains)."""

    observed: float
    spike: float | None


@quiet
def inverse(
    measure: Measure,
    sigma2: float,
    aspect_ratio: float,
    observed: ArrayLike,
    *,
    sup: Support | None = None,
) -> list[InverseResult]:
    """``theta`` with ``Phi(theta^2) = y^2`` on the valid branch, for each observed ``y``
    outside the support.

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the singular values of ``S`` (on ``[0, inf)``).
    sigma2 : float
        Noise level: the entries of ``X`` have variance ``sigma2 / n`` (n rows).
    aspect_ratio : float
        ``c = p / n`` of the ``n x p`` matrix, any ``c > 0``.
    observed : array_like
        Observed outlier singular values.
    sup : Support, optional
        The support, when already known (skips its search).

    Returns
    -------
    list of InverseResult
        ``(observed, spike)`` in the order given; ``spike`` is None inside the support.

    Raises
    ------
    InvalidParameter
        ``sigma2`` or ``aspect_ratio`` not positive and finite, points not finite, or a
        measure with mass below 0.
    NoConvergence
        A solver did not reach rounding-level accuracy (not observed).

    Examples
    --------
    >>> import rmtservice as rs
    >>> import rmtservice.rectangular as rr
    >>> [None if r.spike is None else round(r.spike, 6)
    ...  for r in rr.inverse(rs.Point(0.0), 1.0, 0.5, [3.5, 1.0])]
    [3.271588, None]
    """
    y = _singular_values("observed", observed)
    sup = sup if sup is not None else support(measure, sigma2, aspect_ratio)
    _, inside = sup.locate(y)
    t = np.full(y.size, np.nan)
    if np.any(~inside):
        t[~inside] = _boundary_values(sup, y[~inside]).w.real
    out = []
    for v, ti, ins in zip(y, t, inside, strict=True):
        spike = None if ins or not ti >= 0 else math.sqrt(float(ti))
        out.append(InverseResult(float(v), spike))
    return out

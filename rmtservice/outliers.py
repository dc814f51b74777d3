"""Outliers: the map ``phi``, the separation test, thresholds, overlaps, inverse map.

``phi(theta) = theta + sigma2 int nu(dt) / (theta - t)`` (paper eq. 1.13). A spike
``theta`` outside ``closure U`` (equivalently ``phi'(theta) > 0`` off ``supp nu``)
produces an eigenvalue of ``H + W`` near ``phi(theta)``, outside ``supp mu``; the
squared overlap of the eigenvectors tends to ``phi'(theta)`` (docs/theory/outliers.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rmtservice._inputs import as_measure, real_array
from rmtservice._solve import check_sigma2, quiet
from rmtservice.density import Support, boundary_values, support
from rmtservice.errors import InvalidParameter
from rmtservice.measures import Measure

__all__ = [
    "InverseResult",
    "Outlier",
    "OutlierReport",
    "inverse",
    "outliers",
    "phi",
    "phi_prime",
    "pushforward_density",
]

FloatArray = NDArray[np.float64]


def _real_input(name: str, t: ArrayLike) -> FloatArray:
    t = real_array(name, t)
    if not np.all(np.isfinite(t)):
        raise InvalidParameter(f"{name} must contain finite numbers only", field=name)
    return t


@quiet
def phi(measure: Measure, sigma2: float, t: ArrayLike) -> FloatArray:
    """Outlier map ``phi(t) = t + sigma2 int nu(dx) / (t - x)`` (eq. 1.13).

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the spectrum of ``H`` (the bulk).
    sigma2 : float
        Noise level ``sigma2 > 0`` (off-diagonal variance ``sigma2/n``).
    t : array_like
        Real points outside ``supp nu`` (spikes), any shape.

    Returns
    -------
    ndarray
        ``phi(t)``: where a separated spike ``t`` sends its outlier.

    Raises
    ------
    InvalidParameter
        A point in ``supp nu`` (where ``phi`` is not a real function) or not finite;
        ``sigma2`` not positive.

    Examples
    --------
    >>> import rmtservice as rs
    >>> rs.phi(rs.Point(0.0), 1.0, [2.0, -3.0]).round(6).tolist()  # t + 1/t
    [2.5, -3.333333]
    """
    measure = as_measure(measure)
    t = _off_support(measure, _real_input("t", t))
    return _phi(measure, check_sigma2(sigma2), t)[0]


def _phi(measure: Measure, s2: float, t: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``phi(t)`` and ``phi'(t)`` at real t off ``supp nu``, in real arithmetic."""
    d = measure.real_derivatives(t, 1)
    return t - s2 * d[0], 1.0 - s2 * d[1]


def _off_support(measure: Measure, t: FloatArray) -> FloatArray:
    """phi and phi' are real functions off ``supp nu`` only: refuse points on it."""
    on = _in_supp_nu(measure, t.ravel())
    if np.any(on):
        bad = float(t.ravel()[on][0])
        raise InvalidParameter(
            f"t = {bad!r} lies in the support of nu, where phi is not defined", field="t"
        )
    return t


@quiet
def phi_prime(measure: Measure, sigma2: float, t: ArrayLike) -> FloatArray:
    """``phi'(t) = 1 - sigma2 int nu(dx) / (t - x)^2`` (the separation test).

    A spike separates from the bulk iff ``phi'(t) > 0``; then ``phi'(t)`` is also the
    limiting squared overlap of its eigenvector (docs/theory/outliers.md).

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the spectrum of ``H`` (the bulk).
    sigma2 : float
        Noise level ``sigma2 > 0`` (off-diagonal variance ``sigma2/n``).
    t : array_like
        Real points outside ``supp nu``, any shape.

    Returns
    -------
    ndarray
        ``phi'(t)``.

    Raises
    ------
    InvalidParameter
        A point in ``supp nu`` or not finite; ``sigma2`` not positive.

    Examples
    --------
    >>> import rmtservice as rs
    >>> rs.phi_prime(rs.Point(0.0), 1.0, [2.0, 0.5]).round(6).tolist()  # 1 - 1/t^2
    [0.75, -3.0]
    """
    measure = as_measure(measure)
    t = _off_support(measure, _real_input("t", t))
    return _phi(measure, check_sigma2(sigma2), t)[1]


@dataclass(frozen=True)
class Outlier:
    """One spike: is it separated, where its eigenvalue goes, ``phi'`` and the overlap."""

    spike: float
    separated: bool
    location: float | None
    slope: float | None
    overlap: float | None


@dataclass(frozen=True, eq=False)
class OutlierReport:
    """Support of the limit, thresholds and one :class:`Outlier` per spike (in order)."""

    support: Support
    thresholds: tuple[float, float]
    outliers: list[Outlier]


def _in_supp_nu(measure: Measure, t: FloatArray) -> NDArray[np.bool_]:
    lo, hi, _ = measure.components()
    k = np.searchsorted(hi, t, side="left")
    kk = np.minimum(k, lo.size - 1)
    return (k < lo.size) & (t >= lo[kk])


def _in_closure_u(sup: Support, t: FloatArray) -> NDArray[np.bool_]:
    k = np.searchsorted(sup.u_upper, t, side="left")
    kk = np.minimum(k, len(sup) - 1)
    return (k < len(sup)) & (t >= sup.u_lower[kk])


@quiet
def outliers(
    measure: Measure, sigma2: float, spikes: ArrayLike, *, sup: Support | None = None
) -> OutlierReport:
    """Separation test, limit location ``phi(theta)``, slope and overlap for each spike.

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the spectrum of ``H`` (the bulk).
    sigma2 : float
        Noise level ``sigma2 > 0`` (off-diagonal variance ``sigma2/n``).
    spikes : array_like
        Eigenvalues ``theta`` of ``H`` outside its bulk.
    sup : Support, optional
        The support of ``mu``, when already known (skips its search).

    Returns
    -------
    OutlierReport
        The support of ``mu``, the detection ``thresholds`` (the smallest spike below and
        above the bulk that separates, or None) and one :class:`Outlier` per spike, in the
        order given: ``separated``, ``location`` (``phi(theta)``, None if not separated),
        ``slope`` (``phi'(theta)``) and ``overlap``.

    Raises
    ------
    InvalidParameter
        Spikes not finite, or ``sigma2`` not positive and finite.
    NoConvergence
        A solver did not reach rounding-level accuracy (not observed).

    Examples
    --------
    >>> import rmtservice as rs
    >>> r = rs.outliers(rs.Point(0.0), 1.0, [2.0, 0.5])
    >>> r.thresholds
    (-1.0, 1.0)
    >>> [(o.separated, o.location, o.overlap) for o in r.outliers]
    [(True, 2.5, 0.75), (False, None, None)]
    """
    s2 = check_sigma2(sigma2)
    measure = as_measure(measure)
    theta = _real_input("spikes", spikes).ravel()
    sup = sup if sup is not None else support(measure, s2)
    on_nu = _in_supp_nu(measure, theta)
    separated = ~_in_closure_u(sup, theta) & ~on_nu
    # phi and phi' exist (finite, real) off supp nu only
    p = np.full(theta.size, np.nan)
    dp = np.full(theta.size, np.nan)
    off = ~on_nu
    if np.any(off):
        p[off], dp[off] = _phi(measure, s2, theta[off])
    separated &= dp > 0  # exactly at a threshold phi' = 0: the spike sticks to the edge
    items = []
    for i, t in enumerate(theta):
        slope = float(dp[i]) if np.isfinite(dp[i]) else None
        sep = bool(separated[i])
        items.append(
            Outlier(
                spike=float(t),
                separated=sep,
                location=float(p[i]) if sep else None,
                slope=slope,
                overlap=float(min(max(dp[i], 0.0), 1.0)) if sep else None,
            )
        )
    return OutlierReport(sup, sup.thresholds, items)


@dataclass(frozen=True)
class InverseResult:
    """An observed outlier and the spike it comes from (``None`` inside the support)."""

    observed: float
    spike: float | None


@quiet
def inverse(
    measure: Measure, sigma2: float, observed: ArrayLike, *, sup: Support | None = None
) -> list[InverseResult]:
    """The spikes behind observed outliers: ``theta`` with ``phi(theta) = y`` and
    ``phi'(theta) > 0``, for each observed ``y`` outside ``supp mu``.

    ``theta`` is the subordination ``omega(y)`` (docs/theory/outliers.md).

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the spectrum of ``H`` (the bulk).
    sigma2 : float
        Noise level ``sigma2 > 0`` (off-diagonal variance ``sigma2/n``).
    observed : array_like
        Observed outlier eigenvalues.
    sup : Support, optional
        The support of ``mu``, when already known (skips its search).

    Returns
    -------
    list of InverseResult
        ``(observed, spike)`` in the order given; ``spike`` is None for a value inside
        ``supp mu`` (no spike explains it).

    Raises
    ------
    InvalidParameter
        Values not finite, or ``sigma2`` not positive and finite.
    NoConvergence
        A solver did not reach rounding-level accuracy (not observed).

    Examples
    --------
    >>> import rmtservice as rs
    >>> [r.spike for r in rs.inverse(rs.Point(0.0), 1.0, [2.5, 1.0])]
    [2.0, None]
    """
    s2 = check_sigma2(sigma2)
    measure = as_measure(measure)
    y = _real_input("observed", observed).ravel()
    sup = sup if sup is not None else support(measure, s2)
    _, inside = sup.locate(y)
    theta = np.full(y.size, np.nan)
    if np.any(~inside):
        theta[~inside] = boundary_values(measure, s2, y[~inside], sup=sup).omega.real
    return [
        InverseResult(float(v), None if ins else float(t))
        for v, t, ins in zip(y, theta, inside, strict=True)
    ]


@quiet
def pushforward_density(
    measure: Measure,
    sigma2: float,
    spike_law: Measure,
    y: ArrayLike,
    *,
    sup: Support | None = None,
) -> FloatArray:
    """Outlier density ``g(phi^-1(y)) / phi'(phi^-1(y))`` (Theorem 2.1) for a spike
    law with density ``g``; zero inside ``supp mu``.

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the spectrum of ``H`` (the bulk).
    sigma2 : float
        Noise level ``sigma2 > 0`` (off-diagonal variance ``sigma2/n``).
    spike_law : Measure
        The law of the spikes, with a density (``uniform``, ``semicircle``, ...).
    y : array_like
        Real points.
    sup : Support, optional
        The support of ``mu``, when already known (skips its search).

    Returns
    -------
    ndarray
        The density of the outliers at ``y``, flattened.

    Raises
    ------
    InvalidParameter
        ``y`` not finite, ``sigma2`` not positive, or a spike law without a density.
    NoConvergence
        A solver did not reach rounding-level accuracy (not observed).

    Examples
    --------
    >>> import rmtservice as rs
    >>> g = rs.pushforward_density(rs.Uniform(-1, 1), 0.25, rs.Uniform(3, 4), [3.5, 0.0])
    >>> g.round(6).tolist()
    [1.023856, 0.0]
    """
    s2 = check_sigma2(sigma2)
    measure = as_measure(measure)
    y = _real_input("y", y).ravel()
    spike_law = as_measure(spike_law, "spike_law")
    sup = sup if sup is not None else support(measure, s2)
    _, inside = sup.locate(y)
    out = np.zeros(y.size)
    if np.any(~inside):
        theta = boundary_values(measure, s2, y[~inside], sup=sup).omega.real
        dp = _phi(measure, s2, theta)[1]
        try:
            g = spike_law.pdf(theta)
        except InvalidParameter as exc:
            field = "spike_law" if exc.field is None else f"spike_law.{exc.field}"
            raise InvalidParameter(exc.message, field=field) from exc
        with np.errstate(divide="ignore", invalid="ignore"):
            out[~inside] = np.where(dp > 0, g / dp, 0.0)
    return out

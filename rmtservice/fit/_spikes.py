"""Outliers -> spikes: the inverse maps at the fitted noise level, limit and finite-n.

**Limit** (``nu = delta_center``, docs/theory/fit.md, inverse maps, closed forms):

- Wigner: ``lambda = theta + sigma2 / theta`` (centred), so
  ``theta = (d + sign(d) sqrt(d^2 - 4 sigma2)) / 2`` with ``d = lambda - center``,
  overlap ``1 - sigma2 / theta^2``.
- Rectangular (canonical frame ``c <= 1``, scale ``s2``): ``y^2 = (theta^2 + s2)
  (theta^2 + c s2) / theta^2``, so ``theta^2`` is the larger root of
  ``u^2 - (y^2 - s2 (1 + c)) u + c s2^2``; with ``x^2 = theta^2 / s2`` the overlaps are
  ``(x^4 - c) / (x^2 (x^2 + c))`` (in ``R^small``) and ``(x^4 - c) / (x^2 (x^2 + 1))``
  (in ``R^big``) (Benaych-Georges and Nadakuditi 2012).

**Finite n** (docs/theory/fit.md): the spike behind outlier ``i`` solves the
outlier equation of the deterministic equivalent that counts the other spikes,
``nu_n^(i) = ((n - k) delta_center + sum_{j != i} delta_theta_j) / (n - 1)`` in the
model deflated by the spike's own direction (``n - 1`` dimensions, or
``(big - 1) x (small - 1)``, of the same entry variance). The equations are coupled
through the other spikes; they are solved together by Newton's method on each one
(Jacobi sweeps, starting from the limit). A real root where the map increases
(``phi' > 0``; in the rectangular model also ``rho < 1``, ``Phi > 0``) is the
subordination of the outlier and is unique; where there is none (the outlier lies
inside the deterministic equivalent's support: spikes closer than ``n^(-1/2)``, or one
at the edge), the limit spike is reported instead and ``finite_n`` is false.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.intp]

_SWEEPS = 60
_NEWTON = 40
_TOL = 1e-13


@dataclass(frozen=True)
class Spikes:
    """Per outlier: the finite-n spike and overlaps, the limit ones, and whether the
    finite-n map had a root (else the finite-n fields repeat the limit)."""

    spike: FloatArray
    spike_limit: FloatArray
    overlap: FloatArray  # wigner: <u, v>^2; rectangular: in R^small (canonical right)
    overlap_big: FloatArray  # rectangular: in R^big (canonical left); wigner: unused
    finite_n: BoolArray


# --------------------------------------------------------------------- wigner


def wigner_limit(values: FloatArray, center: float, s2: float) -> tuple[FloatArray, FloatArray]:
    """Limit spikes and overlaps of outliers (outside ``center +- 2 sigma``)."""
    d = values - center
    root = np.sqrt(np.maximum(d * d - 4.0 * s2, 0.0))
    theta = 0.5 * (d + np.sign(d) * root)
    return center + theta, np.clip(1.0 - s2 / (theta * theta), 0.0, 1.0)


def wigner_spikes(values: FloatArray, center: float, s2: float, n: int) -> Spikes:
    """Finite-n and limit spikes of the outliers ``values`` of an ``n x n`` matrix."""
    limit, overlap_limit = wigner_limit(values, center, s2)
    if values.size == 0:
        e = np.empty(0)
        return Spikes(e, e, e, e, np.empty(0, dtype=bool))
    lam = values - center
    bulk = (n - values.size) / n

    def rows(
        x: FloatArray, idx: IntArray, others: FloatArray
    ) -> tuple[FloatArray, FloatArray, BoolArray]:
        g, dg = _wigner_map(x, idx, others, bulk, s2, n)
        return g, dg, (dg > 0) & (np.sign(x) == np.sign(lam[idx]))

    theta = _coupled(limit - center, lam, rows, math.sqrt(s2), lambda x, step: x - step)
    every = np.arange(theta.size)
    g, dg = _wigner_map(theta, every, theta, bulk, s2, n)
    ok = (
        np.isfinite(theta)
        & (dg > 0)
        & (np.sign(theta) == np.sign(lam))
        & (np.abs(g - lam) <= 1e-9 * (np.abs(lam) + math.sqrt(s2)))
    )
    spike = np.where(ok, theta + center, limit)
    overlap = np.where(ok, np.clip(dg, 0.0, 1.0), overlap_limit)
    return Spikes(spike, limit, overlap, overlap, ok)


RowMap = Callable[[FloatArray, IntArray, FloatArray], tuple[FloatArray, FloatArray, BoolArray]]


def _coupled(
    start: FloatArray,
    target: FloatArray,
    rows: RowMap,
    scale: float,
    step: Callable[[FloatArray, FloatArray], FloatArray],
) -> FloatArray:
    """Solve ``map_i(x_i; x_j, j != i) = target_i`` for every ``i`` by Jacobi sweeps from
    the limit ``start``: in each sweep, Newton's method on each unknown with the others
    held at the previous sweep's values. ``rows(x, idx, others)`` gives the map, its
    derivative in ``x`` and whether ``x`` is on the outlier branch, for the rows ``idx``.

    An unknown whose Newton iteration leaves the branch or does not converge has no
    finite-n root (its outlier lies inside the deterministic equivalent's support): it is
    held at its limit value, so that it neither pollutes the others' equations with a
    wandering iterate nor keeps the sweeps going; the caller's final check reports it as
    the limit. The rest, coupled only through ``O(1/n)`` terms, settle in a few sweeps."""
    x = start.copy()
    active = np.ones(x.size, dtype=bool)
    for _ in range(_SWEEPS):
        idx = np.flatnonzero(active)
        new, converged = _newton_rows(x[idx], target[idx], idx, x, rows, scale, step)
        valid = converged & rows(new, idx, x)[2]
        moved = np.abs(new - x[idx]) > _TOL * (np.abs(new) + scale)
        x[idx] = np.where(valid, new, start[idx])
        active[idx[~valid]] = False
        if not np.any(moved & valid):
            break
    return x


def _newton_rows(
    x: FloatArray,
    target: FloatArray,
    idx: IntArray,
    others: FloatArray,
    rows: RowMap,
    scale: float,
    step: Callable[[FloatArray, FloatArray], FloatArray],
) -> tuple[FloatArray, BoolArray]:
    """Newton's method on the rows ``idx`` with ``others`` fixed; the rows that
    converged."""
    x = x.copy()
    converged = np.zeros(x.size, dtype=bool)
    live = np.arange(x.size)
    for _ in range(_NEWTON):
        # only the rows still moving: each costs a row of the k x k sums
        value, slope = rows(x[live], idx[live], others)[:2]
        delta = (value - target[live]) / slope
        x[live] = step(x[live], delta)
        converged[live] = np.abs(delta) <= _TOL * (np.abs(x[live]) + scale)
        live = live[~converged[live] & np.isfinite(x[live])]
        if live.size == 0:
            break
    return x, converged & np.isfinite(x)


def _wigner_map(
    t: FloatArray, idx: IntArray, others: FloatArray, bulk: float, s2: float, n: int
) -> tuple[FloatArray, FloatArray]:
    """``phi_n^(i)(t_i)`` for the rows ``i`` in ``idx`` and its derivative: the bulk atom
    at 0 of mass ``bulk`` and the other spikes ``others_j`` (j != i) of mass ``1/n``
    each, noise ``s2``."""
    diff = t[:, None] - others[None, :]
    diff[np.arange(idx.size), idx] = np.inf  # the spike's own atom is left out
    inv = 1.0 / diff
    s1 = bulk / t + np.sum(inv, axis=1) / n
    s2_ = bulk / (t * t) + np.sum(inv * inv, axis=1) / n
    return t + s2 * s1, 1.0 - s2 * s2_


# ---------------------------------------------------------------- rectangular


def rectangular_limit(
    values: FloatArray, s2: float, c: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Limit spikes and overlaps (``R^small``, ``R^big``) in the canonical frame."""
    y2 = values * values
    b = y2 - s2 * (1.0 + c)
    u = 0.5 * (b + np.sqrt(np.maximum(b * b - 4.0 * c * s2 * s2, 0.0)))
    x2 = u / s2
    x4 = x2 * x2
    small = np.clip((x4 - c) / (x2 * (x2 + c)), 0.0, 1.0)
    big = np.clip((x4 - c) / (x2 * (x2 + 1.0)), 0.0, 1.0)
    return np.sqrt(u), small, big


def rectangular_spikes(values: FloatArray, variance: float, big: int, small: int) -> Spikes:
    """Finite-n and limit spikes of the outlier singular values ``values`` of a
    ``big x small`` matrix (canonical frame) whose entries have variance ``variance``."""
    c = small / big
    limit, ov_small, ov_big = rectangular_limit(values, variance * big, c)
    k = values.size
    if k == 0:
        e = np.empty(0)
        return Spikes(e, e, e, e, np.empty(0, dtype=bool))
    s2 = variance * (big - 1)  # the deflated model: (big - 1) x (small - 1)
    cd = (small - 1) / (big - 1)
    zeros = (small - k) / (small - 1)
    y2 = values * values

    def rows(
        x: FloatArray, idx: IntArray, others: FloatArray
    ) -> tuple[FloatArray, FloatArray, BoolArray]:
        p, dp, _, _, rho = _rect_map(x, idx, others, zeros, s2, cd, small)
        return p, dp, (x > 0) & (dp > 0) & (p > 0) & (rho < 1)

    # a Newton step stays right of the atom at 0
    t = _coupled(limit * limit, y2, rows, s2, lambda x, step: np.maximum(x - step, 0.5 * x))
    every = np.arange(k)
    p, dp, a, a_, rho = _rect_map(t, every, t, zeros, s2, cd, small)
    ok = (
        np.isfinite(t)
        & (t > 0)
        & (dp > 0)
        & (p > 0)
        & (rho < 1)
        & (np.abs(p - y2) <= 1e-9 * (y2 + s2))
    )
    spike = np.where(ok, np.sqrt(np.maximum(t, 0.0)), limit)
    o_small = np.where(ok, np.clip(dp / a, 0.0, 1.0), ov_small)
    o_big = np.where(ok, np.clip(dp / a_, 0.0, 1.0), ov_big)
    return Spikes(spike, limit, o_small, o_big, ok)


def _rect_map(
    t: FloatArray,
    idx: IntArray,
    others: FloatArray,
    zeros: float,
    s2: float,
    c: float,
    small: int,
) -> tuple[FloatArray, ...]:
    """``Phi``, ``Phi'``, ``A``, ``A_`` and the Perron root ``rho`` (docs/theory/rectangular.md,
    ``rmtservice.rectangular.limit``) at ``t_i`` (the rows ``i`` in ``idx``) for the law of
    squares with mass ``zeros`` at 0 and the other spikes' squares ``others_j``
    (``1/(small - 1)`` each)."""
    diff = others[None, :] - t[:, None]
    diff[np.arange(idx.size), idx] = np.inf
    inv = 1.0 / diff
    w = 1.0 / (small - 1)
    f = -zeros / t + w * np.sum(inv, axis=1)
    f1 = zeros / (t * t) + w * np.sum(inv * inv, axis=1)
    a = 1.0 - s2 * c * f
    a_ = a + s2 * (1.0 - c) / t
    p = t * a * a + s2 * (1.0 - c) * a
    dp = a * a - s2 * c * f1 * (2.0 * t * a + s2 * (1.0 - c))
    big_p = f + t * f1
    rho = s2 * (c * big_p + np.sqrt(np.maximum(c * f1 * (c * f1 * t * t + 1.0 - c), 0.0)))
    return p, dp, a, a_, rho

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
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

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
    k = values.size
    if k == 0:
        e = np.empty(0)
        return Spikes(e, e, e, e, np.empty(0, dtype=bool))
    theta = limit - center  # centred; the bulk atom sits at 0
    lam = values - center
    bulk = (n - k) / n
    for _ in range(_SWEEPS):
        new = theta.copy()
        for _ in range(_NEWTON):
            g, dg = _wigner_map(new, theta, bulk, s2, n)
            step = (g - lam) / dg
            new = new - step
            if np.all(np.abs(step) <= _TOL * (np.abs(new) + math.sqrt(s2))):
                break
        done = np.all(np.abs(new - theta) <= _TOL * (np.abs(new) + math.sqrt(s2)))
        theta = new
        if done:
            break
    g, dg = _wigner_map(theta, theta, bulk, s2, n)
    ok = (
        np.isfinite(theta)
        & (dg > 0)
        & (np.sign(theta) == np.sign(lam))
        & (np.abs(g - lam) <= 1e-9 * (np.abs(lam) + math.sqrt(s2)))
    )
    spike = np.where(ok, theta + center, limit)
    overlap = np.where(ok, np.clip(dg, 0.0, 1.0), overlap_limit)
    return Spikes(spike, limit, overlap, overlap, ok)


def _wigner_map(
    t: FloatArray, others: FloatArray, bulk: float, s2: float, n: int
) -> tuple[FloatArray, FloatArray]:
    """``phi_n^(i)(t_i)`` and its derivative: the bulk atom at 0 of mass ``bulk`` and
    the other spikes ``others_j`` (j != i) of mass ``1/n`` each, noise ``s2``."""
    diff = t[:, None] - others[None, :]
    np.fill_diagonal(diff, np.inf)  # the spike's own atom is left out
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
    t = limit * limit
    y2 = values * values
    for _ in range(_SWEEPS):
        new = t.copy()
        for _ in range(_NEWTON):
            p, dp = _rect_map(new, t, zeros, s2, cd, small)[:2]
            step = (p - y2) / dp
            new = np.maximum(new - step, 0.5 * new)  # stay right of the atom at 0
            if np.all(np.abs(step) <= _TOL * (new + s2)):
                break
        done = np.all(np.abs(new - t) <= _TOL * (new + s2))
        t = new
        if done:
            break
    p, dp, a, a_, rho = _rect_map(t, t, zeros, s2, cd, small)
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
    t: FloatArray, others: FloatArray, zeros: float, s2: float, c: float, small: int
) -> tuple[FloatArray, ...]:
    """``Phi``, ``Phi'``, ``A``, ``A_`` and the Perron root ``rho`` (docs/theory/rectangular.md,
    ``rmtservice.rectangular.limit``) at ``t_i`` for the law of squares with mass
    ``zeros`` at 0 and the other spikes' squares ``others_j`` (``1/(small - 1)`` each)."""
    diff = others[None, :] - t[:, None]
    np.fill_diagonal(diff, np.inf)
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

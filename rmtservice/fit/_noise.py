"""The pure-noise law of the bulk in standard units, the quantile fit, and its corrections.

Two unit laws: the semicircle of radius 2 (eigenvalues of a Wigner matrix of variance
1/n: the model ``wigner``, fitted with a centre and a scale) and the Marchenko-Pastur
law of ratio ``c <= 1`` and scale 1 (squared singular values of a ``big x small``
matrix of variance ``1/big``: the model ``rectangular`` in its canonical frame, fitted
with a scale only). Both are parametrised by an angle ``phi`` in ``(0, pi)``:
``x = 2 cos phi`` and ``x = 1 + c + 2 sqrt(c) cos phi``; on the bulk the Stieltjes
transforms are ``-exp(-i phi)`` and ``-(sqrt(c) + exp(-i phi)) / (sqrt(c) x)``.

**The fit.** The ``N`` sorted bulk values are regressed on the unit law's quantiles at
the levels ``(i - 1/2)/N`` of the central ``1 - 2 TRIM`` of the ranks (least squares;
the ends, where the values that stick to the edge and the sub-threshold spikes sit, are
left out). It is a smooth L-statistic: asymptotically the linear statistic
``(1/N) sum G(lambda_i)`` with ``G(y) = clip(y, x_a, x_b)^2 / (2 Q2)``, ``Q2`` the
quantiles' second moment, and ``G`` is Lipschitz, so its variance is the CLT's for
linear spectral statistics of real matrices (Johansson 1998; Bai and Silverstein 2004):
``(1/2) sum_k k a_k^2`` with ``a_k`` the cosine coefficients of ``G(x(phi))``.

**The finite-n correction for the spikes.** After the ``k`` outliers are taken out, the
bulk of a matrix with ``k`` spikes is, to first order in ``k/n``, the spectrum of the
compressed noise (``n - k`` dimensions, or ``(big - k) x (small - k)``, of the same
entry variance) plus a term for each spike ``theta`` that vanishes as ``theta -> inf``:
the linear response of the finite-n deterministic equivalent ``nu_n ⊞ noise`` to moving
mass ``1/n`` from 0 to ``theta``. It changes the bulk density by ``Im f_1(x + i0)/pi``
with, for the semicircle, ``f_1 = 1/((theta - omega)(1 - f^2))`` (``omega = -1/f``, the
subordination), and for Marchenko-Pastur the derivative of ``m = f_H(w)/A(w)`` at fixed
``z`` through ``Phi(w) = z`` (docs/theory/rectangular.md). The shift of the quantile fit is then
``-int x H(x) dx / Q2`` (and ``-int H dx / (1 - 2 TRIM)`` for the centre), ``H`` the
cumulative change of the density. Measured against simulation (30 draws per case, five
spikes from 1.3 to 8 thresholds): the predicted bias of the fitted noise level agrees
within its Monte Carlo error (a few 1e-4), where the uncorrected bias is up to 2e-2.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.fft import dct

from rmtservice.measures import MarchenkoPastur, Measure, Semicircle

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]

#: share of the ranks left out at each end of the bulk by the quantile fit
TRIM = 0.05
#: angles of the quadratures of the linear response and of the CLT variance
_RESPONSE_NODES = 768
_VARIANCE_NODES = 4096


@dataclass(frozen=True)
class UnitLaw:
    """The pure-noise law in standard units: ``semicircle`` (radius 2) or
    ``marchenko_pastur`` of ratio ``ratio <= 1`` and scale 1."""

    kind: str
    ratio: float = 1.0

    @property
    def located(self) -> bool:
        """Whether the fit has a centre (the semicircle) or only a scale."""
        return self.kind == "semicircle"

    @functools.cached_property
    def measure(self) -> Measure:
        """The law as a core measure (closed-form ``cdf`` and ``quantile``)."""
        if self.located:
            return Semicircle(0.0, 2.0)
        return MarchenkoPastur(self.ratio, 1.0)

    def x(self, phi: FloatArray) -> FloatArray:
        """The point of the bulk at angle ``phi`` (``phi = pi``: the left edge)."""
        if self.located:
            return 2.0 * np.cos(phi)
        return 1.0 + self.ratio + 2.0 * math.sqrt(self.ratio) * np.cos(phi)

    def dx(self, phi: FloatArray) -> FloatArray:
        """``-dx/dphi`` (positive)."""
        return (2.0 if self.located else 2.0 * math.sqrt(self.ratio)) * np.sin(phi)

    def angle(self, x: float) -> float:
        """The angle of a point of the bulk."""
        if self.located:
            return math.acos(min(max(x / 2.0, -1.0), 1.0))
        r = math.sqrt(self.ratio)
        return math.acos(min(max((x - 1.0 - self.ratio) / (2.0 * r), -1.0), 1.0))

    def boundary(self, phi: FloatArray) -> ComplexArray:
        """The Stieltjes transform ``f(x(phi) + i0)`` on the bulk."""
        e = np.exp(-1j * phi)
        if self.located:
            return -e
        r = math.sqrt(self.ratio)
        return -(r + e) / (r * self.x(phi))


# ------------------------------------------------------------------------ the fit


def central(n: int) -> slice:
    """The ranks whose levels ``(i - 1/2)/n`` lie in ``[TRIM, 1 - TRIM]``."""
    lo = max(0, math.ceil(TRIM * n - 0.5))
    hi = min(n, math.floor((1.0 - TRIM) * n - 0.5) + 1)
    return slice(lo, hi)


@functools.lru_cache(maxsize=256)
def design(law: UnitLaw, n: int) -> FloatArray:
    """The unit law's quantiles at the central levels of ``n`` values (read-only)."""
    s = central(n)
    u = (np.arange(s.start, s.stop) + 0.5) / n
    q = _central_quantile(law.measure, u)
    q.setflags(write=False)
    return q


#: points of the table that starts Newton's method for the central quantiles
_START_POINTS = 129
_NEWTON_STEPS = 8


def _central_quantile(m: Measure, u: FloatArray) -> FloatArray:
    """Quantiles at levels ``u`` in ``[TRIM, 1 - TRIM]`` of a one-interval law.

    The cdf tabulated at Chebyshev points of the support and inverted by linear
    interpolation starts Newton's method within about 1e-4 of the width; away from the
    edges the density is bounded below, so a few steps settle every level (the law's
    own safeguarded ``quantile``, which serves any level, takes some forty from the
    midpoint and stays the fallback)."""
    lo, hi = (float(e[0]) for e in m.components()[:2])
    grid = lo + (hi - lo) * 0.5 * (1.0 - np.cos(np.linspace(0.0, np.pi, _START_POINTS)))
    x = np.interp(u, m.cdf(grid), grid)
    # quadratic convergence: past a step of 1e-9 widths one more reaches the rounding
    # of the cdf itself (which no stopping rule on the steps may assume below 1 ulp)
    settled = False
    for _ in range(_NEWTON_STEPS):
        step = (m.cdf(x) - u) / m.pdf(x)
        x = x - step
        if not np.all(np.isfinite(x) & (x > lo) & (x < hi)):
            break
        if settled:
            return x
        settled = np.max(np.abs(step), initial=0.0) <= 1e-9 * (hi - lo)
    return np.asarray(m.quantile(u), dtype=float)


def fit_bulk(
    law: UnitLaw, values: FloatArray, *, scale: float | None = None
) -> tuple[float, float]:
    """``(center, scale)`` of sorted bulk values by the central quantile fit.

    The semicircle: ``values ~ center + scale q`` (``scale`` the standard deviation
    of the noise of the bulk); Marchenko-Pastur: ``values ~ scale q`` (``center`` 0).
    A given ``scale`` is kept and only the centre is fitted.
    """
    q = design(law, values.size)
    v = values[central(values.size)]
    if not law.located:
        if scale is not None:
            return 0.0, scale
        return 0.0, float(q @ v) / float(q @ q)
    if scale is not None:
        return float(np.mean(v - scale * q)), scale
    qm, vm = float(q.mean()), float(v.mean())
    dq = q - qm
    slope = float(dq @ (v - vm)) / float(dq @ dq)
    return vm - slope * qm, slope


def bulk_cdf(law: UnitLaw, values: FloatArray, center: float, scale: float) -> FloatArray:
    """The fitted law's distribution function at ``values``."""
    if law.located:
        return law.measure.cdf((values - center) / scale)
    return law.measure.cdf(values / scale)


def ks_distance(law: UnitLaw, values: FloatArray, center: float, scale: float) -> float:
    """``sup |F_N - F|`` for sorted values against the fitted law."""
    n = values.size
    f = bulk_cdf(law, values, center, scale)
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - f), np.max(f - (i - 1) / n)))


# ----------------------------------------------------- linear response to spikes


@functools.lru_cache(maxsize=16)
def _response_grid(
    law: UnitLaw,
) -> tuple[FloatArray, FloatArray, FloatArray, ComplexArray, FloatArray]:
    """Nodes of the response integrals: midpoints in ``phi`` from the left edge to the
    top of the fitted range, the points, their weights ``dx``, the transform, and the
    constants ``Q2`` and the fitted range ``[x_a, x_b]``."""
    xa, xb = (float(v) for v in law.measure.quantile([TRIM, 1.0 - TRIM]))
    pb = law.angle(xb)
    h = (math.pi - pb) / _RESPONSE_NODES
    phi = np.asarray(math.pi - (np.arange(_RESPONSE_NODES) + 0.5) * h, dtype=np.float64)
    x = law.x(phi)
    w = law.dx(phi) * h
    f0 = law.boundary(phi)
    rho = f0.imag / math.pi
    q2 = float(np.sum((x * x * rho * w)[x >= xa]))
    return phi, x, w, f0, np.array([q2, xa, xb])


def _residues(law: UnitLaw, f0: ComplexArray) -> tuple[ComplexArray, ComplexArray]:
    """``(C, p)`` with ``f_1 = C / (theta - p)`` at each bulk node: the spikes' term is
    a simple pole in the spike for both laws (semicircle: ``p = omega = -1/f``,
    ``C = 1/(1 - f^2)``; Marchenko-Pastur: ``p = w``, the subordination, and ``C``
    collects the chain rule through ``Phi(w) = z``)."""
    if law.located:
        return 1.0 / (1.0 - f0 * f0), -1.0 / f0
    c = law.ratio
    w = -1.0 / f0 - c  # m = -1/(w + c) for pure noise
    a = 1.0 + c / w
    b = 2.0 * w * a + (1.0 - c)
    g_w = 1.0 / (w * w)
    dphi_w = a * a - c * b * g_w
    # f_1 = (g_eps + g_w w_1) / a^2 with w_1 = c b g_eps / dphi_w and g_eps = 1/(t - w)
    return (1.0 + g_w * c * b / dphi_w) / (a * a), w


def _perturbation(law: UnitLaw, f0: ComplexArray, spikes: FloatArray) -> ComplexArray:
    """``f_1`` of the spikes' term at the bulk nodes: shape ``(spikes, nodes)`` (the
    direct form, which :func:`response` evaluates through :func:`_response_kernel`)."""
    residue, pole = _residues(law, f0)
    return residue / (spikes[:, None] - pole)


#: spikes at most this far, relative to their distance, from every pole take the series
_SERIES_RATIO = 0.5
#: its terms: 0.5^56 = 1.4e-17
_SERIES_TERMS = 56


@dataclass(frozen=True, eq=False)
class _Kernel:
    """The response as real arrays at the nodes, and as a power series far from them.

    ``Im f_1 = (Im C (t - Re p) + Re C Im p) / ((t - Re p)^2 + (Im p)^2)`` at each node
    (``c_im``, ``p_re``, ``c_p = Re C Im p``, ``p_im2 = (Im p)^2``); the fit's shifts are
    ``Im f_1 @ kernels`` (the scale's and the centre's columns). The shifts are
    ``-int_inside a(x) H(x) dx`` with ``H`` the cumulative change of the density,
    ``H_i = sum_{j <= i} eta_j - eta_i / 2`` at the nodes (``eta_j = Im f_1 w_j / pi``);
    summed by parts that is ``sum_j eta_j K_j`` with ``K_j = sum_{i >= j} a_i - a_j/2``:
    one product per spike instead of a cumulative sum over the nodes (``w_j / pi`` and
    the norms folded into ``K``).

    Far from the poles, ``|t - z0| >= radius / _SERIES_RATIO`` with every pole within
    ``radius`` of ``z0``, ``1/(t - p) = sum_m (p - z0)^m / (t - z0)^(m + 1)``, so the
    shifts are ``(u / radius) sum_m u^m moments_m`` with ``u = radius / (t - z0)``: the
    node sums done once per law (``moments``, ``(_SERIES_TERMS, 2)``).
    """

    c_im: FloatArray
    p_re: FloatArray
    c_p: FloatArray
    p_im2: FloatArray
    kernels: FloatArray
    z0: float
    radius: float
    moments: FloatArray


@functools.lru_cache(maxsize=64)
def _response_kernel(law: UnitLaw) -> _Kernel:
    """The arrays of the response of ``law`` (cached: they depend on the law only)."""
    _, x, w, f0, const = _response_grid(law)
    q2, xa, xb = const
    inside = (x >= xa) & (x <= xb)
    cols = []
    for a, norm in ((x * w * inside, q2), (w * inside, 1.0 - 2.0 * TRIM)):
        k = np.cumsum(a[::-1])[::-1] - 0.5 * a
        cols.append(-k * w / (math.pi * norm))
    kernels = np.column_stack(cols)
    residue, pole = _residues(law, f0)
    z0 = 0.5 * float(pole.real.min() + pole.real.max())
    radius = float(np.max(np.abs(pole - z0)))
    v = (pole - z0) / radius
    powers = v[None, :] ** np.arange(_SERIES_TERMS)[:, None]
    moments = (powers * residue).imag @ kernels
    arrays = (residue.imag, pole.real, residue.real * pole.imag, pole.imag**2, kernels, moments)
    for a in arrays:
        a.setflags(write=False)
    c_im, p_re, c_p, p_im2 = arrays[:4]
    return _Kernel(c_im, p_re, c_p, p_im2, kernels, z0, radius, moments)


def _shifts(k: _Kernel, t: FloatArray) -> FloatArray:
    """The two shifts (columns) for spikes ``t``: the series far from the poles, the
    node sums near them."""
    out = np.empty((t.size, 2))
    u = k.radius / (t - k.z0)
    far = np.abs(u) <= _SERIES_RATIO
    if np.any(far):
        uf = u[far]
        out[far] = (np.power.outer(uf, np.arange(_SERIES_TERMS)) @ k.moments) * (uf / k.radius)[
            :, None
        ]
    near = ~far
    if np.any(near):
        # Im f_1 in real arithmetic (a third of the complex one's work), in place
        d = np.subtract.outer(t[near], k.p_re)
        im_f1 = d * k.c_im
        im_f1 += k.c_p
        d *= d
        d += k.p_im2
        im_f1 /= d
        out[near] = im_f1 @ k.kernels
    return out


def response(law: UnitLaw, spikes: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Relative change of the fitted scale and change of the centre (in scale units)
    per unit of spike mass, for spikes at ``spikes`` (unit law's coordinates: ``x``
    for the semicircle, ``theta^2 / s2`` for Marchenko-Pastur), beyond compression.

    Returns ``(d_scale2, d_center)``: the fitted ``scale^2`` (semicircle) or ``scale``
    (Marchenko-Pastur) is multiplied by ``1 + sum d_scale2 / n`` and the centre moves
    by ``scale sum d_center / n``. Spikes below the semicircle are handled by symmetry.
    """
    spikes = np.asarray(spikes, dtype=float)
    if spikes.size == 0:
        return np.empty(0), np.empty(0)
    out = _shifts(_response_kernel(law), np.abs(spikes) if law.located else spikes)
    if law.located:
        # a spike below the bulk is the mirror image: same scale, opposite centre shift
        return 2.0 * out[:, 0], np.sign(spikes) * out[:, 1]
    return out[:, 0], np.zeros(spikes.size)


# --------------------------------------------------------------- CLT variance


@functools.lru_cache(maxsize=16)
def clt_variance(law: UnitLaw) -> float:
    """``N^2 Var(scale_hat) / scale^2`` of the quantile fit for large ``N`` (real noise):
    ``(1/2) sum_k k a_k^2`` for ``G(y) = clip(y, x_a, x_b)^2 / (2 Q2)``; for the
    semicircle, of the fitted standard deviation (double it for the variance)."""
    q2, xa, xb = _response_grid(law)[4]
    m = _VARIANCE_NODES
    phi = math.pi * (np.arange(m) + 0.5) / m
    g = np.clip(law.x(phi), xa, xb) ** 2 / (2.0 * q2)
    a = dct(g, type=2) / m  # g(phi) = a_0/2 + sum_k a_k cos(k phi)
    k = np.arange(1, m)
    return float(0.5 * np.sum(k * a[1:] ** 2))

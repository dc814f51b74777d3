"""Known noise, unknown signal: the law of H (or of the singular values of S) by free
deconvolution of the observed spectrum.

The subordination makes the law of the signal enter linearly (docs/theory/fit.md):

- Symmetric: with the observed ``f(z) = (1/n) sum 1/(lambda_i - z)`` at points
  ``z = x + i eta``, ``omega = z + sigma2 f(z)`` and ``f_nu(omega) = f(z)``.
- Rectangular (canonical frame, ``m`` of ``Y^T Y`` over its ``small`` eigenvalues):
  ``a = 1 + s2 c m``, ``w = a (a z - s2 (1 - c))`` and ``f_H(w) = m / a``, ``H`` the law
  of the squared singular values of S on ``[0, inf)``; ``nu`` is its push-forward by
  the square root.

The law is a non-negative combination of hat functions (a piecewise-linear density) on
a grid, plus an atom at 0 for ``H``, whose transforms are closed forms; the weights
solve ``sum_j w_j f_j(omega_k) = f(z_k)`` (real and imaginary parts) in least squares
with ``sum w_j = 1`` as a heavily weighted row, by NNLS. The data say nothing finer
than the height ``Im omega`` at which they see the signal's transform (``sigma2 pi
rho``: the noise blurs the signal on that scale), so the grid step is a quarter of
its median over the bulk, and a penalty on the weights' differences keeps the density
from collapsing into a few atoms (NNLS's habit): the largest penalty on a geometric
ladder whose residual stays within ``1 + DISCREPANCY`` of the unpenalised one
(Morozov's discrepancy principle, with the noise level estimated by the best fit).
``eta = 4 n^(-1/2)`` times the noise scale: the empirical transform's fluctuation
``1/(n eta)`` stays small while the points stay close to the axis. The result is
returned as atoms at the midpoints of a grid four times finer, with the exact masses of
the piecewise-linear density on its cells (the hat at 0 of ``H`` keeps its atom).

Measured (n = 2000, H uniform on [-1, 1], sigma2 = 0.25): Kolmogorov distance 0.009 to
the truth; rectangular 2000 x 1000, singular values of S uniform on [0.5, 1.5],
sigma2 = 0.25: 0.016.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import nnls

from rmtservice.errors import NoConvergence
from rmtservice.measures import Atoms

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]

#: points z on the real axis's grid
_POINTS = 300
#: weight of the row sum(w) = 1
_MASS_ROW = 1e3
#: grid step over the median height Im omega
_STEP = 0.25
#: penalties tried (relative to the norm of the system), smallest first
_PENALTIES = (1e-7, 1e-6, 1e-5, 1e-4, 1e-3)
#: accepted relative growth of the residual over the unpenalised fit
DISCREPANCY = 0.3
#: sub-cells per grid step in the returned atoms
_REFINE = 4
#: the grid has between these many steps over the spectrum's span
_MIN_STEPS, _MAX_STEPS = 8, 160


def _hats(t: FloatArray, h: float, omega: ComplexArray) -> ComplexArray:
    """Stieltjes transforms at ``omega`` of the unit hat densities centred at ``t``,
    half-width ``h``: ``((w - a)(L_b - L_a) + (c - w)(L_c - L_b)) / h^2`` with
    ``L_x = log(x - w)`` (``Im w > 0``: the principal branch is continuous)."""
    w = omega[:, None]
    la = np.log((t - h)[None, :] - w)
    lb = np.log(t[None, :] - w)
    lc = np.log((t + h)[None, :] - w)
    return ((w - (t - h)) * (lb - la) + ((t + h) - w) * (lc - lb)) / (h * h)


def _solve(a: ComplexArray, target: ComplexArray, fixed: int) -> FloatArray:
    """Non-negative weights summing to 1 by NNLS, penalised by the discrepancy rule.
    The first ``fixed`` columns (an atom) are not smoothed with their neighbours."""
    j = a.shape[1]
    rows = np.vstack([a.real, a.imag, np.full((1, j), _MASS_ROW)])
    rhs = np.concatenate([target.real, target.imag, [_MASS_ROW]])
    diff = np.diff(np.eye(j), axis=0)[fixed:]
    norm = float(np.linalg.norm(rows[:-1], 2))

    def solve(penalty: float) -> tuple[FloatArray, float]:
        m = np.vstack([rows, math.sqrt(penalty) * norm * diff]) if penalty else rows
        b = np.concatenate([rhs, np.zeros(diff.shape[0])]) if penalty else rhs
        try:
            w, _ = nnls(m, b, maxiter=50 * j)
        except RuntimeError as exc:  # scipy's NNLS iteration limit
            raise NoConvergence("the deconvolution's least-squares solve did not converge") from exc
        total = float(w.sum())
        if not (math.isfinite(total) and total > 0):
            raise NoConvergence("the deconvolution's least-squares solve found no weights")
        w = w / total
        return w, float(np.linalg.norm(a @ w - target))

    best, floor = solve(0.0)
    for penalty in _PENALTIES:
        w, res = solve(penalty)
        if res > (1.0 + DISCREPANCY) * floor:
            break
        best = w
    return best


def _cells(t: FloatArray, h: float, w: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Atoms at the midpoints of cells ``h / _REFINE`` wide, with the masses the hat
    mixture puts on them (each hat's mass split by the integral of its density; the
    hats overlap, so neighbours' shares of a cell are added)."""
    edges = np.linspace(-1.0, 1.0, 2 * _REFINE + 1)
    cdf = np.where(edges <= 0, 0.5 * (1.0 + edges) ** 2, 1.0 - 0.5 * (1.0 - edges) ** 2)
    share = np.diff(cdf)  # mass of a unit hat on each of its 2 * _REFINE cells
    # cell c of hat j is cell j * _REFINE + c of the common grid
    cell = (np.arange(t.size)[:, None] * _REFINE + np.arange(2 * _REFINE)[None, :]).ravel()
    mass = np.bincount(cell, weights=(w[:, None] * share[None, :]).ravel()).astype(float)
    x = t[0] - h + (np.arange(mass.size) + 0.5) * (h / _REFINE)
    return x, mass


def _step(height: FloatArray, span: float) -> float:
    """Grid step: ``_STEP`` times the median height of the points (their resolution),
    kept between ``span / _MAX_STEPS`` and ``span / _MIN_STEPS``."""
    h = _STEP * float(np.median(height)) if height.size else 0.0
    return min(max(h, span / _MAX_STEPS), span / _MIN_STEPS)


def _atoms(x: FloatArray, m: FloatArray) -> Atoms:
    keep = m > 1e-12 * m.sum()
    order = np.argsort(x[keep])
    return Atoms(x[keep][order], m[keep][order])


def deconvolve_wigner(values: FloatArray, s2: float) -> Atoms:
    """The law of H from the sorted eigenvalues of ``H + W`` and the noise ``s2``."""
    n = values.size
    sd = math.sqrt(s2)
    x = np.linspace(values[0] - sd, values[-1] + sd, _POINTS)
    z = x + 1j * (4.0 * sd / math.sqrt(n))
    f = np.mean(1.0 / (values[None, :] - z[:, None]), axis=1)
    omega = z + s2 * f
    inside = (x > values[0]) & (x < values[-1])
    h = _step(omega.imag[inside], values[-1] - values[0] + 2.0 * sd)
    t = values[0] + h * np.arange(math.floor((values[-1] - values[0]) / h) + 1)
    w = _solve(_hats(t, h, omega), f, 0)
    return _atoms(*_cells(t, h, w))


def deconvolve_rectangular(y2: FloatArray, s2: float, c: float) -> Atoms:
    """The law of the singular values of S from the sorted squared singular values of
    ``S + X`` in the canonical frame (ratio ``c <= 1``, scale ``s2``)."""
    small = y2.size
    x = np.linspace(0.0, y2[-1] + 2.0 * s2, _POINTS)
    z = x + 1j * (4.0 * s2 / math.sqrt(small))
    m = np.mean(1.0 / (y2[None, :] - z[:, None]), axis=1)
    a = 1.0 + s2 * c * m
    w = a * (a * z - s2 * (1.0 - c))
    target = m / a
    ok = np.isfinite(w) & (w.imag > 0)
    w, target, x = w[ok], target[ok], x[ok]
    inside = (x > y2[0]) & (x < y2[-1])
    h = _step(w.imag[inside], y2[-1] + 2.0 * s2)
    t = h * np.arange(1, math.floor(y2[-1] / h) + 2)
    cols = np.hstack([(-1.0 / w)[:, None], _hats(t, h, w)])  # an atom at 0, then hats
    weights = _solve(cols, target, 1)
    sq, mass = _cells(t, h, weights[1:])
    x_all = np.concatenate([[0.0], np.sqrt(np.maximum(sq, 0.0))])
    return _atoms(x_all, np.concatenate([[weights[0]], mass]))

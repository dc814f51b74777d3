"""Pastur's equation through subordination: solve ``phi(omega) = z`` for ``omega``.

``f(z) = f_nu(omega(z))`` with ``omega(z) = z + sigma2 f(z)`` the right inverse of
``phi(w) = w - sigma2 f_nu(w)`` (docs/theory/symmetric.md). ``phi`` maps
``Omega = {w : Im w > 0, Im phi(w) > 0}`` conformally onto the upper half-plane, so
damped Newton started in ``Omega`` and kept there follows a straight path in the
image and converges to the unique solution. Results are accepted only with a
residual at rounding level; otherwise :class:`~rmtservice.errors.NoConvergence`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rmtservice._inputs import as_measure
from rmtservice._solve import (
    check_points,
    check_scale,
    check_sigma2,
    damped_newton,
    phi_terms,
    quiet,
)
from rmtservice.density import Support, boundary_values
from rmtservice.errors import InvalidParameter, NoConvergence
from rmtservice.measures import Measure

__all__ = ["StieltjesResult", "stieltjes"]

ComplexArray = NDArray[np.complex128]


@dataclass(frozen=True, eq=False)
class StieltjesResult:
    """``f(z)`` of the limit ``mu`` and the subordination ``omega(z) = z + sigma2 f(z)``."""

    z: ComplexArray
    f: ComplexArray
    omega: ComplexArray


@quiet
def stieltjes(
    measure: Measure, sigma2: float, z: ArrayLike, *, sup: Support | None = None
) -> StieltjesResult:
    """Stieltjes transform of ``mu = nu boxplus semicircle(sigma2)``.

    ``Im z > 0``: the solution of Pastur's equation (eq. 1.7). ``Im z == 0``: the boundary
    value ``f(x + i0)`` (exact, through :func:`~rmtservice.density.boundary_values`).

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the spectrum of ``H``.
    sigma2 : float
        Noise level ``sigma2 > 0`` (off-diagonal variance ``sigma2/n``).
    z : array_like
        Complex points with ``Im z >= 0``, any shape.
    sup : Support, optional
        The support of ``mu``, when already known (skips its search).

    Returns
    -------
    StieltjesResult
        ``z``, ``f(z)`` and the subordination ``omega = z + sigma2 f(z)``.

    Raises
    ------
    InvalidParameter
        ``Im z < 0``, points not finite, or ``sigma2`` not positive and finite.
    NoConvergence
        Newton's iteration did not reach rounding-level accuracy (not observed).

    Examples
    --------
    >>> import rmtservice as rs
    >>> r = rs.stieltjes(rs.Point(0.0), 1.0, [1j, 3.0])  # semicircle: f(i) = i (sqrt 5 - 1)/2
    >>> r.f.round(6).tolist()
    [0.618034j, (-0.381966+0j)]
    """
    s2 = check_sigma2(sigma2)
    measure = as_measure(measure)
    z = np.asarray(z, dtype=np.complex128)
    shape = z.shape
    z = z.ravel()
    check_points("z", np.abs(z))
    check_scale(measure, s2)
    if np.any(z.imag < 0):
        raise InvalidParameter("Im z must be >= 0 (use f(conj z) = conj f(z))", field="z")
    omega = np.empty(z.size, dtype=np.complex128)
    real = z.imag == 0
    if np.any(real):
        omega[real] = boundary_values(measure, s2, z.real[real], sup=sup).omega
    upper = np.flatnonzero(~real)
    if upper.size:
        omega[upper] = _upper(measure, s2, z[upper])
    f = measure.derivatives(omega, 0)[0]
    f = np.where(omega.imag == 0, f.real + 0j, f)
    return StieltjesResult(z.reshape(shape), f.reshape(shape), omega.reshape(shape))


def _start(measure: Measure, s2: float, z: ComplexArray) -> ComplexArray:
    """A start in Omega for Newton: ``z + 1.5 i sigma`` (there ``s2 F(u, v) <= s2 / v^2
    < 1``); for a point mass (no variance) omega itself in closed form (the semicircle
    law, eq. 1.9), kept where it lies in Omega, so Newton only confirms it."""
    sigma = math.sqrt(s2)
    far = z + 1.5j * sigma
    if measure.variance != 0:
        return far
    zeta = z - measure.mean
    # f = -2 / (zeta + sqrt(zeta^2 - 4 s2)), the branch with Im f > 0; omega = z + s2 f
    w0 = z - 2.0 * s2 / (zeta + np.sqrt(zeta - 2 * sigma) * np.sqrt(zeta + 2 * sigma))
    ok = np.isfinite(w0) & (w0.imag > 0)
    ok[ok] &= phi_terms(measure, s2, w0[ok])[0].imag > 0
    return np.where(ok, w0, far)


def _upper(measure: Measure, s2: float, z: ComplexArray) -> ComplexArray:
    """omega(z) for Im z > 0: start in Omega (:func:`_start`) and keep the iterates there."""
    w0 = _start(measure, s2, z)
    w, ok, rel = damped_newton(measure, s2, z, w0, maxiter=200, keep_omega=True)
    if not np.all(ok):
        # continuation from the boundary value below, for points very close to the axis
        bad = np.flatnonzero(~ok)
        wb = boundary_values(measure, s2, z.real[bad]).omega
        dp = phi_terms(measure, s2, wb)[1]
        with np.errstate(divide="ignore", invalid="ignore"):
            start = wb + 1j * z.imag[bad] / dp
        start = np.where(np.isfinite(start) & (start.imag > 0), start, wb + 1j * z.imag[bad])
        w2, ok2, rel2 = damped_newton(measure, s2, z[bad], start, maxiter=200, keep_omega=True)
        w[bad], ok[bad], rel[bad] = w2, ok2, rel2
    if not np.all(ok):
        i = int(np.flatnonzero(~ok)[0])
        raise NoConvergence(
            f"Pastur's equation did not converge at z = {complex(z[i])!r} "
            f"(relative residual {rel[i]:.3g})"
        )
    return w

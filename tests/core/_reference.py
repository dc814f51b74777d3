"""Independent references for the core tests: quadrature, closed forms, polynomial roots.

The references do not call the solvers under test: densities of the input laws are
written out again in mpmath, transforms are integrated (tanh-sinh, 30 digits) or summed
exactly, and roots of closed-form polynomials are found in mpmath (40 digits).
``density_moments`` is the exception by design: it integrates the core's own density
(to check masses and moments), with an independent quadrature.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
from numpy.typing import ArrayLike, NDArray

import rmtservice as rs

DPS = 40  # digits for closed-form roots and edges (local: mpmath's global state is untouched)

FloatArray = NDArray[np.float64]


# ---------------------------------------------------------------- Stieltjes transforms


def mp_pdf(measure: rs.Measure):  # type: ignore[no-untyped-def]
    """The density of a continuous law, written out in mpmath (independent of the core)."""
    if isinstance(measure, rs.Uniform):
        a, b = mp.mpf(measure.low), mp.mpf(measure.high)
        return (lambda t: 1 / (b - a)), [(a, b)]
    if isinstance(measure, rs.Semicircle):
        c, r = mp.mpf(measure.center), mp.mpf(measure.radius)
        return (lambda t: 2 / (mp.pi * r**2) * mp.sqrt(max(r**2 - (t - c) ** 2, 0))), [
            (c - r, c + r)
        ]
    if isinstance(measure, rs.MarchenkoPastur):
        y, s = mp.mpf(measure.ratio), mp.mpf(measure.scale)
        lo, hi = s * (1 - mp.sqrt(y)) ** 2, s * (1 + mp.sqrt(y)) ** 2

        def pdf(t):  # type: ignore[no-untyped-def]
            return mp.sqrt(max((hi - t) * (t - lo), 0)) / (2 * mp.pi * y * s * t)

        return pdf, [(lo, hi)]
    raise TypeError(type(measure))


def stieltjes_quad(measure: rs.Measure, z: complex, order: int = 0) -> complex:
    """``f_nu^(k)(z) = k! int nu(dt) / (t - z)^(k+1)`` by mpmath quadrature (or exact sums).

    Tanh-sinh quadrature is used on each interval of the support; it handles the
    square-root (and MP ratio 1: inverse square-root) end-point behaviour.
    """
    zz = mp.mpc(z)
    k = order
    if isinstance(measure, rs.Point):
        return complex(mp.factorial(k) / (mp.mpf(measure.at) - zz) ** (k + 1))
    if isinstance(measure, rs.Atoms):
        total = mp.fsum(
            mp.mpf(w) / (mp.mpf(t) - zz) ** (k + 1)
            for t, w in zip(measure.values, measure.weights, strict=True)
        )
        return complex(mp.factorial(k) * total)
    if isinstance(measure, rs.Mixture):
        return sum(w * stieltjes_quad(m, z, order) for w, m in measure.parts)
    with mp.workdps(30):  # ample for double precision, and faster than 40
        pdf, intervals = mp_pdf(measure)
        total = mp.mpf(0)
        for a, b in intervals:
            # split at Re z when it lies inside, so that a near-axis pole is resolved
            pts = [a, zz.real, b] if a < zz.real < b else [a, b]
            total += mp.quad(lambda t: pdf(t) / (t - zz) ** (k + 1), pts)
        return complex(mp.factorial(k) * total)


def semicircle_f(z: ArrayLike, s2: float, center: float = 0.0) -> NDArray[np.complex128]:
    """Closed form ``(-(z - c) + sqrt((z - c)^2 - 4 s2)) / (2 s2)``, branch ``Im f > 0``.

    Evaluated in mpmath, choosing among the two roots the one with ``Im f > 0`` (the
    real root with ``|f| -> 0`` at infinity, i.e. the smaller one, on the real axis).
    """
    out = []
    for zi in np.atleast_1d(np.asarray(z, dtype=complex)).ravel():
        with mp.workdps(DPS):
            out.append(_semicircle_point(complex(zi), s2, center))
    return np.array(out).reshape(np.shape(z))


def _semicircle_point(zi: complex, s2: float, center: float) -> complex:
    w = mp.mpc(zi) - center
    root = mp.sqrt(w**2 - 4 * mp.mpf(s2))
    cands = [(-w + root) / (2 * s2), (-w - root) / (2 * s2)]
    if mp.im(w) == 0 and abs(mp.re(w)) >= 2 * mp.sqrt(s2):
        return complex(min(cands, key=lambda f: abs(f)))
    return complex(max(cands, key=lambda f: mp.im(f)))


def two_atom_roots(z: complex, a: float, s2: float) -> list[complex]:
    """Roots of ``s2^2 f^3 + 2 z s2 f^2 + (z^2 - a^2 + s2) f + z = 0`` (docs/theory)."""
    with mp.workdps(DPS):
        zz = mp.mpc(z)
        a_, s = mp.mpf(a), mp.mpf(s2)
        coef = [s**2, 2 * zz * s, zz**2 - a_**2 + s, zz]
        return [complex(r) for r in mp.polyroots(coef, maxsteps=400, extraprec=400)]


def two_atom_f(z: complex, a: float, s2: float) -> complex:
    """The root with the largest imaginary part (``Im f > 0``) of the two-atom cubic."""
    return max(two_atom_roots(z, a, s2), key=lambda f: f.imag)


def two_atom_edges(a: float, s2: float) -> tuple[list[float], list[float]]:
    """Edges of ``(delta_{-a} + delta_a)/2 boxplus sc(s2)``: phi at the roots of phi'.

    ``phi(u) = u + s2 u / (u^2 - a^2)``; ``phi'(u) = 0`` is the quadratic
    ``U^2 - (2a^2 + s2) U + a^4 - s2 a^2 = 0`` in ``U = u^2``. The larger root gives the
    outer edges; the smaller one, when positive (``s2 < a^2``), the inner edges.
    """
    with mp.workdps(DPS):
        a_, s = mp.mpf(a), mp.mpf(s2)
        disc = mp.sqrt(8 * a_**2 * s + s**2)
        big = ((2 * a_**2 + s) + disc) / 2
        small = (a_**4 - s * a_**2) / big  # product of the roots over the big one

        def phi(u):  # type: ignore[no-untyped-def]
            return u + s * u / (u**2 - a_**2)

        outer = float(phi(mp.sqrt(big)))
        if small > 0:
            inner = float(phi(mp.sqrt(small)))
            return [-outer, inner], [-inner, outer]
        return [-outer], [outer]


# ------------------------------------------------------------------------ quadrature


def _gauss(n: int) -> tuple[FloatArray, FloatArray]:
    x, w = np.polynomial.legendre.leggauss(n)
    return x, w


def component_moments(
    dens, a: float, b: float, *, rtol: float = 1e-11, max_rounds: int = 60
) -> FloatArray:  # type: ignore[no-untyped-def]
    """``int_a^b x^k rho(x) dx`` for k = 0, 1, 2 over one support component.

    Substitution ``x = a + (b - a)(1 - cos t)/2`` removes the square-root edges (the
    integrand becomes smooth in ``t``); then adaptive composite Gauss-Legendre in ``t``
    (10 and 2 x 10 points per panel, split where they disagree), with every round's
    nodes evaluated in one vectorised call of ``dens``.
    """
    gx, gw = _gauss(10)
    centre, half = 0.5 * (a + b), 0.5 * (b - a)

    def nodes(lo: FloatArray, hi: FloatArray) -> tuple[FloatArray, FloatArray]:
        mid, rad = 0.5 * (lo + hi), 0.5 * (hi - lo)
        t = mid[:, None] + rad[:, None] * gx[None, :]
        return t, rad[:, None] * gw[None, :]

    def integrate(lo: FloatArray, hi: FloatArray) -> tuple[FloatArray, FloatArray]:
        m = 0.5 * (lo + hi)
        parts = [nodes(lo, hi), nodes(lo, m), nodes(m, hi)]
        ts = np.concatenate([p[0].ravel() for p in parts])
        x = centre - half * np.cos(ts)
        vals = dens(np.clip(x, a, b)) * half * np.sin(ts)
        mom = np.stack([vals, vals * x, vals * x * x])
        k = lo.size * gx.size
        one = (mom[:, :k].reshape(3, lo.size, -1) * parts[0][1]).sum(axis=2)
        two = (mom[:, k : 2 * k].reshape(3, lo.size, -1) * parts[1][1]).sum(axis=2)
        two += (mom[:, 2 * k :].reshape(3, lo.size, -1) * parts[2][1]).sum(axis=2)
        return one, two

    edges = np.linspace(0.0, math.pi, 17)
    lo, hi = edges[:-1], edges[1:]
    total = np.zeros(3)
    scale = np.array([1.0, max(abs(a), abs(b)), max(abs(a), abs(b)) ** 2])
    for _ in range(max_rounds):
        if lo.size > 4000:  # fail fast instead of refining noise for minutes
            break
        one, two = integrate(lo, hi)
        err = np.max(np.abs(two - one) / scale[:, None], axis=0)
        # error shared out by panel width, with a floor so that a cusp (|x|^(1/3)) or
        # the solver's rounding noise right at it cannot make the refinement run away
        good = (err <= rtol * np.maximum((hi - lo) / math.pi, 1e-4)) | (hi - lo < 1e-10)
        total += two[:, good].sum(axis=1)
        if np.all(good):
            return total
        mid = 0.5 * (lo + hi)
        lo, hi = np.concatenate([lo[~good], mid[~good]]), np.concatenate([mid[~good], hi[~good]])
    raise AssertionError(f"quadrature did not converge on [{a}, {b}]")


def density_moments(measure: rs.Measure, s2: float, sup: rs.Support) -> FloatArray:
    """Per-component moments ``(mass, int x rho, int x^2 rho)``, shape (components, 3)."""

    out = []
    for a, b in zip(sup.lower, sup.upper, strict=True):
        out.append(
            component_moments(lambda x: rs.boundary_values(measure, s2, x, sup=sup).density, a, b)
        )
    return np.array(out)

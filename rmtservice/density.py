"""The limit on the real line (Biane 1997): support, edges, masses and the exact density.

With ``g(u) = sigma2 int nu(dt) / (u - t)^2`` (so ``phi'(u) = 1 - g(u)``), the set
``U = {phi' < 0} u supp nu`` is found gap by gap of ``supp nu``: ``g`` is strictly
convex on each gap and infinite at both ends, so ``phi'`` has no root there (the
neighbouring components merge) or two (a gap of ``supp mu`` survives), decided by
the minimum of ``g``; on the two unbounded sides ``g`` decreases to 0, giving the
outer edges. Edges of ``supp mu`` are ``phi`` at these critical points; the mass of
a component is the ``nu``-mass it covers. No grid is scanned.

The boundary value ``omega(x + i0)`` is real outside the support (the root of the
increasing ``phi`` in the matching gap of ``U``) and the unique solution with
``Im omega > 0`` of ``phi(omega) = x`` inside it; then ``rho(x) = Im omega / (pi sigma2)``
exactly (no ``x + i eta`` smoothing).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rmtservice import deadline
from rmtservice._components import locate, table_guess
from rmtservice._inputs import as_measure, count, number, real_array
from rmtservice._solve import (
    bracketed_newton,
    check_points,
    check_scale,
    check_sigma2,
    damped_newton,
    quiet,
)
from rmtservice.errors import InvalidParameter, NoConvergence
from rmtservice.measures import Measure

__all__ = [
    "BoundaryValues",
    "Support",
    "boundary_values",
    "cdf",
    "density",
    "grid",
    "integrate_density",
    "kolmogorov_distance",
    "sup_distance",
    "support",
]

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]

#: gaps of supp nu narrower than this times the spectrum's extent are below resolution
RESOLUTION = 64 * float(np.finfo(float).eps)
#: a gap of U whose depth 1 - min g is below this is a cusp: the components touch
CUSP_TOL = 1e-10


@dataclass(frozen=True, eq=False)
class Support:
    """Components of ``supp mu``: x-space ``lower``/``upper``, ``mass``, and their
    preimages ``u_lower``/``u_upper`` (components of closure U, ``phi(u_lower) = lower``)."""

    lower: FloatArray
    upper: FloatArray
    mass: FloatArray
    u_lower: FloatArray
    u_upper: FloatArray
    #: interior zeros of the density (two components touching): x and its preimage u
    cusp_x: FloatArray = field(default_factory=lambda: np.empty(0))
    cusp_u: FloatArray = field(default_factory=lambda: np.empty(0))

    def __len__(self) -> int:
        return int(self.lower.size)

    @property
    def thresholds(self) -> tuple[float, float]:
        """Detection thresholds: spikes below the first / above the last separate."""
        return float(self.u_lower[0]), float(self.u_upper[-1])

    def locate(self, x: FloatArray) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
        """For each x: the index of the first component with ``upper >= x``, and
        whether x lies inside that component (edges included)."""
        return locate(self.lower, self.upper, x)


def _g(measure: Measure, sigma2: float, u: FloatArray, order: int) -> FloatArray:
    """``g^(j)(u) = sigma2 f_nu^(j+1)(u)`` for j = 0..order at real u outside supp nu."""
    return sigma2 * measure.real_derivatives(u, order + 1)[1:]


def _gap_minimum(
    measure: Measure, sigma2: float, c: FloatArray, d: FloatArray, x0: FloatArray
) -> FloatArray:
    """Minimiser of the convex ``g`` on each gap ``(c, d)``, all gaps at once.

    Found as the root of ``h'`` with ``h = g^(-1/2)``: ``h`` is nearly linear next to
    each end (``g ~ m/(u - t)^2``), so Newton on ``h'`` converges in a few steps where
    Newton on ``g' ~ (u - t)^-3`` would crawl. ``h' = 0`` exactly where ``g' = 0``.
    """

    def fun(x: FloatArray, idx: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        # (bracketed_newton calls it under errstate: g is infinite next to an atom)
        g0, g1, g2 = _g(measure, sigma2, x, 2)
        dh = -0.5 * g1 / g0**1.5
        d2h = -0.5 * g2 / g0**1.5 + 0.75 * g1 * g1 / g0**2.5
        return dh, d2h

    # h' decreases through its root (h is concave near the maximum)
    return bracketed_newton(fun, c, d, x0, increasing=False)


def _unit_crossing(
    measure: Measure,
    sigma2: float,
    lo: FloatArray,
    hi: FloatArray,
    decreasing_g: NDArray[np.bool_],
    x0: FloatArray,
) -> FloatArray:
    """Root of ``g(u) = 1`` in each ``(lo, hi)``, where ``g`` is monotone, all at once.

    Solved as ``h = g^(-1/2) - 1 = 0``: near an atom ``g ~ w/(u - t)^2``, so ``h`` is
    nearly linear and Newton converges in a few steps.
    """

    def fun(x: FloatArray, idx: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        # (bracketed_newton calls it under errstate: g is infinite next to an atom)
        g = _g(measure, sigma2, x, 1)
        h = 1.0 / np.sqrt(g[0]) - 1.0
        dh = -0.5 * g[1] / g[0] ** 1.5
        return h, dh

    x0 = np.where((x0 > lo) & (x0 < hi), x0, 0.5 * (lo + hi))
    return bracketed_newton(fun, lo, hi, x0, increasing=decreasing_g)


def _outer_brackets(measure: Measure, s2: float, lo: float, hi: float) -> FloatArray:
    """Brackets ``[[left_lo, right_lo], [left_hi, right_hi]]`` of the outer roots of ``g = 1``.

    Right of ``supp nu`` g decreases from +inf to 0 and ``s2/(u - mean)^2 <= g(u) <=
    s2/(u - hi)^2`` (Jensen; every atom at most ``hi``), so the root lies in
    ``[max(hi, mean + sigma), hi + sigma]``; mirrored on the left. For a point mass
    both ends are the root: a bracket end is never left to bisection to creep up to.
    """
    sigma = math.sqrt(s2)
    mean = float(measure.mean)
    right_hi = hi + sigma
    right_lo = min(max(hi, mean + sigma), right_hi)
    left_lo = lo - sigma
    left_hi = max(min(lo, mean - sigma), left_lo)
    return np.array([[left_lo, right_lo], [left_hi, right_hi]])


@quiet
def support(measure: Measure, sigma2: float) -> Support:
    """Components of ``supp mu``, ``mu = nu boxplus semicircle(sigma2)``, with masses.

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the spectrum of ``H``.
    sigma2 : float
        Noise level ``sigma2 > 0`` (off-diagonal variance ``sigma2/n``).

    Returns
    -------
    Support
        The components' ``lower`` and ``upper`` edges and ``mass`` (ascending), the
        subordination's values at the edges and the cusps (docs/theory/symmetric.md).

    Raises
    ------
    InvalidParameter
        ``sigma2`` not positive and finite, points not finite, or a noise level below
        the rounding of the measure's scale.
    NoConvergence
        A solver did not reach rounding-level accuracy (not observed).

    Examples
    --------
    >>> import rmtservice as rs
    >>> s = rs.support(rs.Atoms([-2.0, 2.0]), 0.5)
    >>> s.lower.round(6).tolist(), s.upper.round(6).tolist(), s.mass.tolist()
    ([-3.055536, 1.071481], [-1.071481, 3.055536], [0.5, 0.5])
    """
    s2 = check_sigma2(sigma2)
    measure = as_measure(measure)
    check_scale(measure, s2)
    lo, hi, mass = measure.components()
    cand, umin, cusp_u = _inner_gaps(measure, s2, lo, hi, mass)
    n = cand.size
    # every root of g = 1 in one solve: the two outer edges, then both ends of each open gap
    (olo, ohi) = _outer_brackets(measure, s2, float(lo[0]), float(hi[-1]))
    c, d = hi[cand], lo[cand + 1]
    roots = _unit_crossing(
        measure,
        s2,
        np.concatenate([olo, c, umin]),
        np.concatenate([ohi, umin, d]),
        np.concatenate([[False, True], np.ones(n, dtype=bool), np.zeros(n, dtype=bool)]),
        # inside a gap start where the nearest component alone would give g = 1
        np.concatenate(
            [0.5 * (olo + ohi), c + np.sqrt(s2 * mass[cand]), d - np.sqrt(s2 * mass[cand + 1])]
        ),
    )
    gap_left, gap_right = roots[2 : 2 + n], roots[2 + n :]
    u_lower = np.concatenate([roots[:1], gap_right])
    u_upper = np.concatenate([gap_left, roots[1:2]])
    cum = np.concatenate([[0.0], np.cumsum(mass)])
    bounds = np.concatenate([[0], cand + 1, [mass.size]])
    comp_mass = np.diff(cum[bounds])
    comp_mass = comp_mass / comp_mass.sum()
    u_all = np.concatenate([u_lower, u_upper, cusp_u])
    # phi alone: phi' is infinite where u rounds onto a square-root edge of supp nu
    edges = u_all - s2 * measure.real_derivatives(u_all, 0)[0]
    k = u_lower.size
    return Support(edges[:k], edges[k : 2 * k], comp_mass, u_lower, u_upper, edges[2 * k :], cusp_u)


def _inner_gaps(
    measure: Measure, s2: float, lo: FloatArray, hi: FloatArray, mass: FloatArray
) -> tuple[NDArray[np.intp], FloatArray, FloatArray]:
    """Gaps of supp nu that hold a gap of U: their indices and the minimisers of g there
    (``min g < 1``); and the cusps (``min g = 1`` to within ``CUSP_TOL``: the components
    touch)."""
    empty = np.empty(0)
    if lo.size < 2:
        return np.empty(0, dtype=np.intp), empty, empty
    c, d = hi[:-1], lo[1:]
    ml, mr = np.cbrt(mass[:-1]), np.cbrt(mass[1:])
    # g >= s2 (ml + mr)^3 / (span)^2 on the gap, span = far ends of the two neighbours:
    # most gaps of a dense spectrum are ruled out here without any sum over atoms.
    span = hi[1:] - lo[:-1]
    with np.errstate(divide="ignore"):
        bound = s2 * (ml + mr) ** 3 / span**2
    # ties may be cusps; a gap narrower than double precision resolves at the spectrum's
    # scale is no gap (g overflows across it: its minimum cannot be located)
    resolved = (d - c) > RESOLUTION * max(abs(float(lo[0])), abs(float(hi[-1])))
    cand = np.flatnonzero((bound <= 1.0 + CUSP_TOL) & resolved)
    if cand.size == 0:
        return cand, empty, empty
    cc, dd = c[cand], d[cand]
    x0 = cc + (dd - cc) * ml[cand] / (ml[cand] + mr[cand])
    umin = _gap_minimum(measure, s2, cc, dd, x0)
    gmin = _g(measure, s2, umin, 0)[0]
    open_ = gmin < 1.0 - CUSP_TOL
    cusps = umin[~open_ & (gmin <= 1.0 + CUSP_TOL)]
    return cand[open_], umin[open_], cusps


@dataclass(frozen=True, eq=False)
class BoundaryValues:
    """``omega(x + i0)`` and ``f(x + i0) = f_nu(omega)`` on the real line."""

    x: FloatArray
    omega: ComplexArray
    f: ComplexArray
    density: FloatArray
    support: Support


def _real_roots(
    measure: Measure, s2: float, x: FloatArray, lo: FloatArray, hi: FloatArray
) -> FloatArray:
    """Root of the increasing ``phi(u) = x`` on each ``(lo, hi)``.

    Start: ``omega(x) = x + s2 f(x)`` with ``f`` the transform of the semicircle law
    with the mean and variance of the limit (exact for a point mass; its expansion
    ``-1/zeta - var/zeta^3`` is that of ``f``), else ``x - s2 / (x - mean)``, else the
    midpoint: the first of them inside the bracket.
    """

    def fun(u: FloatArray, idx: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        d = measure.real_derivatives(u, 1)
        return u - s2 * d[0] - x[idx], 1.0 - s2 * d[1]

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        zeta = x - measure.mean
        radius = 2.0 * math.sqrt(measure.variance + s2)
        # sqrt(zeta^2 - radius^2) without the squares, with the sign of zeta (nan inside)
        root = np.sqrt(np.abs(zeta - radius)) * np.sqrt(np.abs(zeta + radius))
        root = np.where(np.abs(zeta) > radius, np.copysign(root, zeta), np.nan)
        semicircle = x - 2.0 * s2 / (zeta + root)
        far = x - s2 / zeta
    x0 = 0.5 * (lo + hi)
    for guess in (far, semicircle):
        x0 = np.where(np.isfinite(guess) & (guess > lo) & (guess < hi), guess, x0)
    return bracketed_newton(fun, lo, hi, x0, increasing=True)


def _table_guess(
    measure: Measure, s2: float, sup: Support, k: NDArray[np.intp], x: FloatArray
) -> ComplexArray:
    """Initial guesses for omega inside the components, from a table of omega solved at
    nodes of each crowded component (``_components.table_guess``)."""

    def solve(
        kn: NDArray[np.intp], xn: FloatArray, start: ComplexArray
    ) -> tuple[ComplexArray, NDArray[np.bool_]]:
        z = xn.astype(np.complex128)
        wn, ok, _ = damped_newton(measure, s2, z, start, maxiter=80, keep_omega=False)
        ok &= (wn.imag > 0) & (wn.real >= sup.u_lower[kn]) & (wn.real <= sup.u_upper[kn])
        return wn, ok

    return table_guess((sup.lower, sup.upper, sup.u_lower, sup.u_upper), k, x, solve)


@quiet
def boundary_values(
    measure: Measure, sigma2: float, x: ArrayLike, *, sup: Support | None = None
) -> BoundaryValues:
    """``omega(x + i0)``, ``f(x + i0)`` and the density ``rho(x)`` at real points x.

    Computed on the real line exactly (Biane's description), not at a small height above it.

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the spectrum of ``H``.
    sigma2 : float
        Noise level ``sigma2 > 0`` (off-diagonal variance ``sigma2/n``).
    x : array_like
        Real points, any shape.
    sup : Support, optional
        The support of ``mu``, when already known (skips its search).

    Returns
    -------
    BoundaryValues
        ``x``, ``omega``, ``f`` and ``density`` in the shape of ``x``, and the support.

    Raises
    ------
    InvalidParameter
        ``sigma2`` not positive and finite, points not finite, or a noise level below
        the rounding of the measure's scale.
    NoConvergence
        A solver did not reach rounding-level accuracy (not observed).

    Examples
    --------
    >>> import rmtservice as rs
    >>> b = rs.boundary_values(rs.Point(0.0), 1.0, [0.0, 3.0])
    >>> b.omega.round(6).tolist(), b.density.round(6).tolist()
    ([1j, (2.618034+0j)], [0.31831, 0.0])
    """
    s2 = check_sigma2(sigma2)
    measure = as_measure(measure)
    x = real_array("x", x)
    shape = x.shape
    x = x.ravel()
    check_points("x", x)
    sup = sup if sup is not None else support(measure, s2)
    omega = np.empty(x.size, dtype=np.complex128)
    k, inside = sup.locate(x)
    at_edge = inside & (
        (x == sup.lower[np.minimum(k, len(sup) - 1)])
        | (x == sup.upper[np.minimum(k, len(sup) - 1)])
    )
    if np.any(at_edge):
        kk = k[at_edge]
        xe = x[at_edge]
        omega[at_edge] = np.where(xe == sup.lower[kk], sup.u_lower[kk], sup.u_upper[kk])
    if sup.cusp_x.size:
        # at a cusp omega is real (v = 0); nearby the density grows like |x - x_c|^(1/3)
        j = np.searchsorted(sup.cusp_x, x)
        jj = np.minimum(j, sup.cusp_x.size - 1)
        at_cusp = inside & (sup.cusp_x[jj] == x)
        omega[at_cusp] = sup.cusp_u[jj[at_cusp]]
        at_edge = at_edge | at_cusp
    out = ~inside
    if np.any(out):
        omega[out] = _outside(measure, s2, sup, k[out], x[out])
    inner = inside & ~at_edge
    if np.any(inner):
        omega[inner] = _inside(measure, s2, sup, k[inner], x[inner])
    # f = f_nu(omega) (better conditioned than (omega - x)/sigma2); real off the support
    fnu = measure.derivatives(omega, 0)[0]
    f = np.where(omega.imag > 0, fnu, fnu.real + 0j)
    # rho = Im f / pi, not Im omega / (pi s2): omega ~ x is known to eps |x| absolute,
    # which Im omega / s2 turns into an error eps |x| / s2 (2e-6 at s2 = 1e-8), while
    # |f_nu'(omega)| <= int nu / |t - omega|^2 = 1/s2 on the support makes Im f never worse
    dens = np.maximum(f.imag, 0.0) / np.pi
    return BoundaryValues(
        x.reshape(shape), omega.reshape(shape), f.reshape(shape), dens.reshape(shape), sup
    )


def _outside(
    measure: Measure, s2: float, sup: Support, k: NDArray[np.intp], x: FloatArray
) -> FloatArray:
    """Real omega for x outside the support: the root in the matching gap of U."""
    n = len(sup)
    lo = np.where(k == 0, x, sup.u_upper[np.maximum(k - 1, 0)])
    hi = np.where(k >= n, x, sup.u_lower[np.minimum(k, n - 1)])
    # phi(u) < u left of supp nu and > u right of it, so u lies between x and the edge
    lo = np.where(k == 0, np.minimum(x, sup.u_lower[0]), lo)
    hi = np.where(k >= n, np.maximum(x, sup.u_upper[-1]), hi)
    return _real_roots(measure, s2, x, lo, hi)


def _inside(
    measure: Measure, s2: float, sup: Support, k: NDArray[np.intp], x: FloatArray
) -> ComplexArray:
    """Complex omega (Im > 0) for x strictly inside a component."""
    w0 = _table_guess(measure, s2, sup, k, x)
    z = x.astype(np.complex128)
    w, ok, _ = damped_newton(measure, s2, z, w0, maxiter=40, keep_omega=False)
    # the solution with Im > 0 is unique; a real root approached from above is not it
    bad = ~ok | (w.imag <= 0) | (w.real < sup.u_lower[k]) | (w.real > sup.u_upper[k])
    if np.any(bad):
        w[bad] = _inside_fallback(measure, s2, sup, k[bad], x[bad])
    return w


def _v_of_u(
    measure: Measure, s2: float, u: FloatArray, vhi: float, *, maxiter: int = 200
) -> FloatArray:
    """``v(u)``: the root of the increasing ``q(v) = 1 - s2 F(u, v)`` (Biane), v > 0."""
    lo = np.zeros(u.size)
    hi = np.full(u.size, vhi)
    for _ in range(maxiter):
        deadline.check()
        v = np.where(lo > 0, np.sqrt(lo * hi), 0.5 * hi)
        d = measure.derivatives(u + 1j * v, 0)[0]
        q = 1.0 - s2 * d.imag / v
        lo = np.where(q < 0, v, lo)
        hi = np.where(q >= 0, v, hi)
        if np.all(hi - lo <= 1e-9 * hi):
            return 0.5 * (lo + hi)
    raise NoConvergence(
        f"the bisection for Im omega stopped at its cap of {maxiter} steps "
        f"(near u = {u[np.argmax(hi - lo > 1e-9 * hi)]!r})"
    )


def _inside_fallback(
    measure: Measure,
    s2: float,
    sup: Support,
    k: NDArray[np.intp],
    x: FloatArray,
    *,
    maxiter: int = 60,
) -> ComplexArray:
    """Biane's monotone parametrisation: bisect ``psi(u) = x`` on ``[u_lower, u_upper]``,
    each ``v(u)`` by bisection, then polish with Newton. Slow, used only where Newton
    from the tabulated guess failed."""
    a = sup.u_lower[k].copy()
    b = sup.u_upper[k].copy()
    vhi = 2.0 * math.sqrt(s2)
    for _ in range(maxiter):
        u = 0.5 * (a + b)
        v = _v_of_u(measure, s2, u, vhi)
        psi = (u - s2 * measure.derivatives(u + 1j * v, 0)[0]).real
        a = np.where(psi < x, u, a)
        b = np.where(psi >= x, u, b)
        if np.all(b - a <= 1e-9 * (np.abs(a) + np.abs(b) + 1e-300)):
            break
    else:
        raise NoConvergence(
            f"the bisection for the boundary value at x = {x[0]!r} stopped at its cap of "
            f"{maxiter} steps"
        )
    u = 0.5 * (a + b)
    w0 = u + 1j * _v_of_u(measure, s2, u, vhi)
    w, ok, rel = damped_newton(
        measure, s2, x.astype(np.complex128), w0, maxiter=60, keep_omega=False
    )
    bad = ~ok | (w.imag <= 0)
    if np.any(bad):
        raise NoConvergence(
            f"no convergence for the boundary value at x = {x[bad][0]!r} "
            f"(relative residual {rel[bad][0]:.3g})"
        )
    return w


def density(
    measure: Measure,
    sigma2: float,
    x: ArrayLike | None = None,
    *,
    grid: tuple[float, float, int] | None = None,
    num: int | None = None,
) -> FloatArray:
    """Density ``rho(x) = Im f(x + i0) / pi`` of ``mu = nu boxplus semicircle(sigma2)``.

    As the API and the SDK take them, the points are ``x``, or ``grid = (start, stop,
    num)`` (``np.linspace``), or neither: the automatic grid of about ``num`` points
    (default 512), which is :func:`grid` ``(measure, sigma2, num)``.

    Parameters
    ----------
    measure : Measure or dict
        The law ``nu`` of the spectrum of ``H``; a dict is read as the HTTP API reads
        it (``{"kind": "uniform", "low": -1, "high": 1}``).
    sigma2 : float
        Noise level ``sigma2 > 0`` (off-diagonal variance ``sigma2/n``).
    x : array_like, optional
        Real points, any shape.
    grid : (float, float, int), optional
        ``(start, stop, num)``: ``num`` evenly spaced points, instead of ``x``.
    num : int, optional
        Points of the automatic grid, when neither ``x`` nor ``grid`` is given.

    Returns
    -------
    ndarray
        The density at the points (0 outside the support), in the shape of ``x``.

    Raises
    ------
    InvalidParameter
        ``sigma2`` not a positive finite number, points not finite numbers, ``x`` with
        ``grid``, ``num`` with either, or a noise level below the rounding of the
        measure's scale.
    NoConvergence
        A solver did not reach rounding-level accuracy (not observed).

    Examples
    --------
    >>> import rmtservice as rs
    >>> rs.density(rs.Point(0.0), 1.0, [0.0, 1.0, 3.0]).round(6).tolist()  # semicircle
    [0.31831, 0.275664, 0.0]
    >>> rs.density({"kind": "point", "at": 0}, 1.0, grid=(-2, 2, 3)).round(6).tolist()
    [0.0, 0.31831, 0.0]
    >>> rs.density(rs.Point(0.0), 1.0, num=5).size
    5
    """
    measure = as_measure(measure)  # once: a dict is read through the wire schema
    given = [name for name, v in (("x", x), ("grid", grid)) if v is not None]
    if len(given) == 2:
        raise InvalidParameter("give x or grid, not both", field="grid")
    if num is not None and given:
        raise InvalidParameter(
            f"num sets the automatic grid: leave it out with {given[0]}", field="num"
        )
    if grid is not None:
        x = _linspace(grid)
    elif x is None:
        sup = support(measure, sigma2)
        x = _grid(sup, DEFAULT_GRID_POINTS if num is None else count("num", num, 2))
        return boundary_values(measure, sigma2, x, sup=sup).density
    return boundary_values(measure, sigma2, x).density


def _linspace(grid: Any) -> FloatArray:
    """``np.linspace(start, stop, num)`` of ``grid = (start, stop, num)``, checked."""
    if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence) or len(grid) != 3:
        raise InvalidParameter("grid must be (start, stop, num)", field="grid")
    start, stop = number("grid.start", grid[0]), number("grid.stop", grid[1])
    if not start < stop:
        raise InvalidParameter(f"grid: start must be < stop, got {start} and {stop}", field="grid")
    return np.linspace(start, stop, count("grid.num", grid[2], 2))


#: points of the automatic grid when none is given (as in the HTTP API)
DEFAULT_GRID_POINTS = 512


def grid(
    measure: Measure | Mapping[str, Any] | Support,
    sigma2: float | None = None,
    num: int | None = None,
) -> FloatArray:
    """An automatic grid of about ``num`` points over ``supp mu``.

    Both edges of every component and Chebyshev-clustered interior points, shared out by
    component width. The edges are always there: ``num`` below twice the components gives
    the edges alone. Called as the other functions, ``grid(measure, sigma2, num)``; or on
    a support at hand, ``grid(sup, num)``.

    Parameters
    ----------
    measure : Measure, dict or Support
        The law ``nu`` of the spectrum of ``H`` (a dict as in the HTTP API), or a
        support at hand (``lower``, ``upper``: from :func:`support`, or the rectangular
        model's).
    sigma2 : float, optional
        Noise level ``sigma2 > 0``; with a support, its place holds ``num``.
    num : int, optional
        About how many points (default 512).

    Returns
    -------
    ndarray
        Increasing points, every edge included.

    Raises
    ------
    InvalidParameter
        ``sigma2`` missing or not a positive number, ``num`` not an integer.

    Examples
    --------
    >>> import rmtservice as rs
    >>> rs.grid(rs.Point(0.0), 1.0, 5).round(6).tolist()
    [-2.0, -1.414214, -0.0, 1.414214, 2.0]
    >>> rs.grid(rs.support(rs.Point(0.0), 1.0), 5).round(6).tolist()
    [-2.0, -1.414214, -0.0, 1.414214, 2.0]
    """
    if not isinstance(measure, (Measure, Mapping)):  # a support: ours, or the rectangular one
        if num is not None:
            raise InvalidParameter("grid(sup, num) takes num once", field="num")
        k = DEFAULT_GRID_POINTS if sigma2 is None else count("num", sigma2)
        return _grid(measure, k)
    if sigma2 is None:
        raise InvalidParameter("grid(measure, sigma2, num) needs sigma2", field="sigma2")
    k = DEFAULT_GRID_POINTS if num is None else count("num", num)
    return _grid(support(as_measure(measure), sigma2), k)


def _grid(sup: Support, num: int) -> FloatArray:
    width = sup.upper - sup.lower
    total = float(width.sum())
    spare = max(num - 2 * len(sup), 0)
    share = np.zeros(len(sup), dtype=int)
    if total > 0:
        share = np.maximum(0, np.floor(spare * width / total)).astype(int)
    parts = []
    for a, b, m in zip(sup.lower, sup.upper, share, strict=True):
        theta = np.arange(1, m + 1) * np.pi / (m + 1)
        parts.append(np.concatenate([[a], a + (b - a) * 0.5 * (1 - np.cos(theta)), [b]]))
    return np.concatenate(parts)


@quiet
def cdf(
    measure: Measure, sigma2: float, x: ArrayLike, *, sup: Support | None = None, nodes: int = 513
) -> FloatArray:
    """Distribution function of ``mu`` at ``x``.

    The masses to the left plus the integral of the exact density
    (:func:`integrate_density`); accurate to about 1e-8 (1e-6 next to a cusp).

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the spectrum of ``H``.
    sigma2 : float
        Noise level ``sigma2 > 0`` (off-diagonal variance ``sigma2/n``).
    x : array_like
        Real points.
    sup : Support, optional
        The support of ``mu``, when already known (skips its search).
    nodes : int
        Quadrature nodes per support component.

    Returns
    -------
    ndarray
        ``F_mu(x)``, flattened.

    Raises
    ------
    InvalidParameter
        ``sigma2`` not positive and finite, points not finite, or a noise level below
        the rounding of the measure's scale.
    NoConvergence
        A solver did not reach rounding-level accuracy (not observed).

    Examples
    --------
    >>> import rmtservice as rs
    >>> from rmtservice.density import cdf
    >>> cdf(rs.Point(0.0), 1.0, [-2.0, 0.0, 2.0]).round(6).tolist()
    [0.0, 0.5, 1.0]
    """
    s2 = check_sigma2(sigma2)
    measure = as_measure(measure)
    sup = sup if sup is not None else support(measure, s2)

    def dens(xs: FloatArray) -> FloatArray:
        return boundary_values(measure, s2, xs, sup=sup).density

    return integrate_density(dens, sup, x, nodes=nodes)


def integrate_density(
    dens: Callable[[FloatArray], FloatArray], sup: Any, x: ArrayLike, *, nodes: int = 513
) -> FloatArray:
    """The distribution function at ``x`` of a law with support ``sup`` and density
    ``dens``.

    Masses to the left plus the integral of the density, by cubic Hermite interpolation of
    the cumulative integral in ``x = a + (b - a)(1 - cos t)/2`` over each piece ``[a, b]``
    (components split at their cusps): the square-root edges become smooth in ``t``. Each
    component is normalised to its exact mass.

    Parameters
    ----------
    dens : callable
        The density at an array of points.
    sup : Support-like
        Components ``lower``/``upper``/``mass``, cusps ``cusp_x`` and ``locate``, as
        :class:`Support` (also the rectangular model's).
    x : array_like
        Real points.
    nodes : int
        Quadrature nodes per piece.

    Returns
    -------
    ndarray
        The distribution function at ``x``, flattened.

    Raises
    ------
    ValueError
        ``dens`` returns values of the wrong shape.

    Examples
    --------
    >>> import rmtservice as rs
    >>> from rmtservice.density import boundary_values, integrate_density
    >>> sup = rs.support(rs.Point(0.0), 1.0)
    >>> dens = lambda t: boundary_values(rs.Point(0.0), 1.0, t, sup=sup).density
    >>> integrate_density(dens, sup, [1.0]).round(6).tolist()
    [0.804499]
    """
    x = np.asarray(x, dtype=float).ravel()
    # components strictly left of x count whole; a component of zero width (its edges
    # equal in double precision) is a jump; inside a wider one, integrate the density
    comp_before = np.concatenate([[0.0], np.cumsum(sup.mass)])
    k, inside = sup.locate(x)
    res = comp_before[np.minimum(k, len(sup))].copy()
    kk = np.minimum(k, len(sup) - 1)
    flat = inside & (sup.upper[kk] <= sup.lower[kk])
    res[flat] += sup.mass[kk[flat]]
    # pieces: components of positive width cut at their cusps, each knowing its component
    cuts = np.unique(np.concatenate([sup.lower, sup.upper, sup.cusp_x]))
    owner = np.searchsorted(sup.upper, 0.5 * (cuts[:-1] + cuts[1:]), side="left")
    keep = (owner < len(sup)) & (cuts[:-1] >= sup.lower[np.minimum(owner, len(sup) - 1)])
    a, b, owner = cuts[:-1][keep], cuts[1:][keep], owner[keep]
    wide = inside & ~flat
    if a.size == 0 or not np.any(wide):
        return np.clip(res, 0.0, 1.0)
    m = int(np.clip(20000 // a.size, 17, nodes)) | 1
    t = np.linspace(0.0, np.pi, m)
    xs = a[:, None] + (b - a)[:, None] * 0.5 * (1.0 - np.cos(t))[None, :]
    values = dens(xs.ravel()).reshape(xs.shape)
    integrand = values * ((b - a) * 0.5)[:, None] * np.sin(t)[None, :]
    cum = _cumulative(integrand, t[1] - t[0])
    comp_total = np.bincount(owner, weights=cum[:, -1], minlength=len(sup))
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(comp_total > 0, sup.mass / comp_total, 0.0)[owner]
    cum, integrand = cum * scale[:, None], integrand * scale[:, None]
    # mass of the earlier pieces of the same component
    total = np.concatenate([[0.0], np.cumsum(cum[:, -1])])
    first = np.searchsorted(owner, owner, side="left")
    own_before = total[:-1] - total[first]
    j = np.searchsorted(a, x, side="right") - 1
    for piece in np.unique(j[wide]):
        sel = np.flatnonzero(wide & (j == piece))
        span = b[piece] - a[piece]
        rel = np.clip(2.0 * (x[sel] - a[piece]) / span, 0.0, 2.0)
        tq = np.arccos(1.0 - rel)
        res[sel] += own_before[piece] + _hermite(t, cum[piece], integrand[piece], tq)
    return np.clip(res, 0.0, 1.0)


@quiet
def kolmogorov_distance(
    measure: Measure, sigma2: float, sample: ArrayLike, *, sup: Support | None = None
) -> float:
    """``sup_x |F_n(x) - F_mu(x)|`` for the empirical distribution of ``sample``.

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the spectrum of ``H``.
    sigma2 : float
        Noise level ``sigma2 > 0`` (off-diagonal variance ``sigma2/n``).
    sample : array_like
        Observed values (e.g. eigenvalues of a simulated ``H + W``).
    sup : Support, optional
        The support of ``mu``, when already known (skips its search).

    Returns
    -------
    float
        The Kolmogorov distance.

    Raises
    ------
    InvalidParameter
        ``sigma2`` not positive and finite, points not finite, or a noise level below
        the rounding of the measure's scale.
    NoConvergence
        A solver did not reach rounding-level accuracy (not observed).

    Examples
    --------
    >>> import rmtservice as rs
    >>> from rmtservice.density import kolmogorov_distance
    >>> round(kolmogorov_distance(rs.Point(0.0), 1.0, [-1.0, 0.0, 1.0]), 4)
    0.1955
    """
    lam = np.sort(np.asarray(sample, dtype=float).ravel())
    return sup_distance(lam, cdf(measure, sigma2, lam, sup=sup))


def sup_distance(lam: FloatArray, f: FloatArray) -> float:
    """``sup |F_n - F|`` for a sorted sample ``lam`` and the law's ``F`` at it.

    Parameters
    ----------
    lam : ndarray
        The sample, sorted ascending.
    f : ndarray
        The law's distribution function at ``lam``.

    Returns
    -------
    float
        The largest gap between the empirical and the law's distribution functions, on
        either side of each jump.

    Raises
    ------
    ValueError
        An empty sample.

    Examples
    --------
    >>> import numpy as np
    >>> from rmtservice.density import sup_distance
    >>> sup_distance(np.array([0.0, 1.0]), np.array([0.5, 0.5]))
    0.5
    """
    n = lam.size
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - f), np.max(f - (i - 1) / n)))


def _cumulative(f: FloatArray, h: float) -> FloatArray:
    """Cumulative integrals along the last axis of samples on a uniform grid, each step
    by the three-point rule ``h/12 (5 f_i + 8 f_{i+1} - f_{i+2})`` (fourth order)."""
    steps = np.empty((f.shape[0], f.shape[1] - 1))
    steps[:, :-1] = h / 12.0 * (5.0 * f[:, :-2] + 8.0 * f[:, 1:-1] - f[:, 2:])
    steps[:, -1] = h / 12.0 * (-f[:, -3] + 8.0 * f[:, -2] + 5.0 * f[:, -1])
    return np.concatenate([np.zeros((f.shape[0], 1)), np.cumsum(steps, axis=1)], axis=1)


def _hermite(t: FloatArray, c: FloatArray, d: FloatArray, q: FloatArray) -> FloatArray:
    """Cubic Hermite interpolation of values ``c`` with slopes ``d`` at nodes ``t``."""
    i = np.clip(np.searchsorted(t, q, side="right") - 1, 0, t.size - 2)
    h = t[i + 1] - t[i]
    s = (q - t[i]) / h
    s2, s3 = s * s, s * s * s
    return (
        (2 * s3 - 3 * s2 + 1) * c[i]
        + (s3 - 2 * s2 + s) * h * d[i]
        + (-2 * s3 + 3 * s2) * c[i + 1]
        + (s3 - s2) * h * d[i + 1]
    )

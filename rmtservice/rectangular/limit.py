"""The limit of the singular values of ``Y = S + X`` (n x p): support, density, Stieltjes.

Conventions (docs/theory/rectangular.md): ``c = p/n``, noise entries of variance ``sigma2/n``,
``nu`` the law of the ``m = min(n, p)`` singular values of S. The model is solved in its
*canonical frame* ``c <= 1``: when ``p > n``, ``Y^T`` has the same singular values, ``c``
becomes ``1/c`` and ``sigma2`` becomes ``sigma2 c`` (the entries keep their variance, the
row count changes). There ``H``, the law of ``s^2``, is the spectral law of ``S^T S`` and
``H_ = c H + (1 - c) delta_0`` that of ``S S^T``. With ``f = f_H``, ``f_ = f_H_``,

    A(w) = 1 - sigma2 c f(w),   A_(w) = 1 - sigma2 f_(w) = A(w) + sigma2 (1 - c) / w,
    Phi(w) = w A(w) A_(w) = w A^2 + sigma2 (1 - c) A,

and the Stieltjes transform ``m(z)`` of the law of ``Y^T Y`` is ``f(w) / A(w)`` at the
subordination ``w = w(z)``, the right inverse of ``Phi`` (``Phi(w(z)) = z``), solved by
damped Newton as in the symmetric model (Dozier and Silverstein's equation in its
subordination form). The companion ``m_ = f_(w) / A_(w)`` is that of ``Y Y^T``.

**Support** (the analogue of Biane's description). The Hermitisation ``[[0, Y], [Y^T, 0]]``
has two subordination functions ``alpha = zeta / A(w)`` and ``beta = zeta / A_(w)``
(``zeta`` a singular value, ``w = alpha beta``); on the real line, outside the support,
they are real and the linearisation of their equations is the non-negative matrix
``sigma2 [[c P, c alpha^2 f'], [beta^2 f_', c P]]``, ``P = int H(du) u / (u - t)^2``, whose
Perron root is

    rho(t) = sigma2 (c P(t) + sqrt(c f'(t) (c f'(t) t^2 + 1 - c))).

A real ``t`` off ``supp H`` is the subordination of a point outside the support iff
``rho(t) < 1`` and ``Phi(t) > 0``; the edges are ``sqrt(Phi(t*))`` at ``rho(t*) = 1``
(there ``Phi'(t*) = 0``). ``rho`` is infinite next to every atom (and square-root edge)
of ``H``, decreases to 0 right of ``supp H``, and on each gap of ``supp H`` has one
minimum: a gap of the limit opens there iff that minimum is below 1. Left of ``supp H``,
``A_`` has one zero ``t0 < 0``: ``w(0) = t0``, and singular values near 0 have a gap
``(0, sqrt(Phi(tL)))`` iff ``rho(t0) < 1`` (``tL`` the root of ``rho = 1`` in
``(t0, min supp H)``). For ``c = 1`` the roles of ``t0`` are taken by ``0`` (when
``sigma2 f(0) < 1``) and by the zero of ``A`` below 0. No grid is scanned; the masses
of the components are the ``nu``-masses they cover.

**Density.** Inside a component the boundary value ``w(x^2 + i0)`` is the solution of
``Phi(w) = x^2`` with ``Im w > 0``; the density of the singular values is
``2 x Im m(x^2 + i0) / pi`` (per singular value: the ``m`` of the canonical frame counts
exactly the ``min(n, p)`` of them). At ``c = 1`` the square case is the symmetric model of
``(nu + nu(-.))/2`` (Benaych-Georges), a cross-check the tests make.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rmtservice import deadline
from rmtservice._components import locate, table_guess
from rmtservice._solve import (
    MAX_ABS,
    MAX_SCALE_RATIO,
    Terms,
    bracketed_newton,
    check_points,
    check_sigma2,
    newton,
    quiet,
)
from rmtservice.density import (
    CUSP_TOL,
    RESOLUTION,
    integrate_density,
    sup_distance,
)
from rmtservice.errors import InvalidParameter, NoConvergence
from rmtservice.measures import Measure
from rmtservice.rectangular.laws import squared

__all__ = [
    "BoundaryValues",
    "Model",
    "StieltjesResult",
    "Support",
    "boundary_values",
    "cdf",
    "check_aspect_ratio",
    "density",
    "kolmogorov_distance",
    "model",
    "poles_at_zero",
    "stieltjes",
    "support",
]

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]

#: the aspect ratios p/n the model accepts
MIN_ASPECT, MAX_ASPECT = 1e-6, 1e6


def check_aspect_ratio(c: float) -> float:
    """Validate ``c = p / n``."""
    try:
        c = float(c)
    except (TypeError, ValueError) as exc:
        raise InvalidParameter("aspect_ratio must be a number", field="aspect_ratio") from exc
    if not (math.isfinite(c) and MIN_ASPECT <= c <= MAX_ASPECT):
        raise InvalidParameter(
            f"aspect_ratio = p/n must be in [{MIN_ASPECT:g}, {MAX_ASPECT:g}], got {c!r}",
            field="aspect_ratio",
        )
    return c


@dataclass(frozen=True, eq=False)
class Model:
    """``Y = S + X`` in its canonical frame ``c <= 1``: ``h`` the law of the squared
    singular values of S, ``sigma2`` and ``c`` of that frame; ``flipped``: the frame is
    the transpose of the caller's (``p > n``)."""

    h: Measure
    sigma2: float
    c: float
    flipped: bool

    @property
    def aspect_ratio(self) -> float:
        """The caller's ``p / n``."""
        return 1.0 / self.c if self.flipped else self.c

    def derivatives(self, w: ArrayLike, order: int) -> ComplexArray:
        """``f_H^(k)(w)``, k = 0..order."""
        return self.h.derivatives(w, order)

    def real_derivatives(self, t: ArrayLike, order: int) -> FloatArray:
        """``f_H^(k)(t)`` at real t off ``supp H``, k = 0..order."""
        return self.h.real_derivatives(t, order)

    def phi(self, w: ArrayLike) -> NDArray[np.generic]:
        """``Phi(w) = w A^2 + sigma2 (1 - c) A``."""
        w = np.asarray(w)
        a = 1.0 - self.sigma2 * self.c * self.derivatives(w, 0)[0]
        return w * a * a + self.sigma2 * (1.0 - self.c) * a

    def real_phi(self, t: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """``Phi(t)``, ``Phi'(t)``, ``A(t)`` and ``A_(t)`` at real t off ``supp H``."""
        t = np.asarray(t, dtype=float)
        f, f1 = self.real_derivatives(t, 1)
        s2, c = self.sigma2, self.c
        a = 1.0 - s2 * c * f
        with np.errstate(divide="ignore", invalid="ignore"):
            a_ = a + s2 * (1.0 - c) / t if c < 1 else a
        p = t * a * a + s2 * (1.0 - c) * a
        dp = a * a - s2 * c * f1 * (2.0 * t * a + s2 * (1.0 - c))
        return p, dp, a, a_

    def terms(self) -> Terms:
        """``Phi`` as the :data:`~rmtservice._solve.Terms` of Newton's method, with the
        size of its terms (the rounding of ``f`` is ``eps sqrt(Im f / Im w)``)."""
        s2, c = self.sigma2, self.c

        def terms(w: ComplexArray) -> tuple[ComplexArray, ComplexArray, FloatArray]:
            f, f1 = self.derivatives(w, 1)
            a = 1.0 - s2 * c * f
            inner = 2.0 * w * a + s2 * (1.0 - c)
            p = w * a * a + s2 * (1.0 - c) * a
            dp = a * a - s2 * c * f1 * inner
            above = w.imag > 0
            if above.all():
                quad = f.imag / w.imag
            else:
                quad = np.where(above, f.imag / np.where(above, w.imag, 1.0), np.abs(f1))
            size = np.abs(w) * np.abs(a) ** 2 + s2 * (1.0 - c) * np.abs(a)
            size = size + np.abs(inner) * s2 * c * np.sqrt(np.abs(quad))
            return p, dp, size

        return terms

    def rho(self, t: ArrayLike, order: int = 0) -> FloatArray:
        """The Perron root ``rho(t)`` (module docstring) and its derivatives, k = 0..order
        (at most 2), at real t off ``supp H``: shape ``(order + 1, *t.shape)``."""
        t = np.asarray(t, dtype=float)
        d = self.real_derivatives(t, order + 1)
        s2, c = self.sigma2, self.c
        f1 = d[1]
        # P = f + t f', R = sqrt(G), G = c f' (c f' t^2 + 1 - c): no 0 * inf at t = 0
        p = [d[0] + t * f1]
        g = [c * c * f1 * f1 * t * t + c * (1.0 - c) * f1]
        if order >= 1:
            f2 = d[2]
            p.append(2.0 * f1 + t * f2)
            g.append(c * c * (2.0 * f1 * f2 * t * t + 2.0 * f1 * f1 * t) + c * (1.0 - c) * f2)
        if order >= 2:
            f3 = d[3]
            p.append(3.0 * f2 + t * f3)
            g.append(
                c * c * (2.0 * f2 * f2 * t * t + 2.0 * f1 * f3 * t * t + 8.0 * f1 * f2 * t)
                + c * c * 2.0 * f1 * f1
                + c * (1.0 - c) * f3
            )
        r = [np.sqrt(g[0])]
        if order >= 1:
            r.append(g[1] / (2.0 * r[0]))
        if order >= 2:
            r.append(g[2] / (2.0 * r[0]) - g[1] ** 2 / (4.0 * r[0] ** 3))
        return s2 * (c * np.array(p) + np.array(r))


def _check_scale(h: Measure, s2: float, resolve: bool = True) -> None:
    """Refuse what double precision cannot represent: singular values whose squares
    overflow, or (``resolve``) a noise level below the rounding of the singular values."""
    _, hi, _ = h.components()
    top = math.sqrt(max(float(hi[-1]), 0.0))
    if top > math.sqrt(MAX_ABS):
        raise InvalidParameter(
            f"the singular values of S reach {top:.3g}; they must be at most "
            f"{math.sqrt(MAX_ABS):.0e}",
            field="measure",
        )
    if s2 > MAX_ABS:
        raise InvalidParameter(f"sigma2 must be at most {MAX_ABS:.0e}", field="sigma2")
    if resolve and top / math.sqrt(s2) > MAX_SCALE_RATIO:
        raise InvalidParameter(
            f"the singular values of S span {top / math.sqrt(s2):.3g} noise standard "
            f"deviations (more than {MAX_SCALE_RATIO:.0e}): double precision cannot resolve "
            "the noise at that scale; rescale S and sigma2 together",
            field="sigma2",
        )


def model(measure: Measure, sigma2: float, aspect_ratio: float) -> Model:
    """The canonical-frame :class:`Model` of ``nu = measure``, ``sigma2``, ``c = p/n``.

    The code works with ``c <= 1``: for ``c > 1`` the matrix is transposed, which turns
    ``c`` into ``1/c`` and ``sigma2`` into ``sigma2 c`` (docs/theory/rectangular.md).

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the singular values of ``S`` (on ``[0, inf)``).
    sigma2 : float
        Noise level: the entries of ``X`` have variance ``sigma2 / n`` (n rows).
    aspect_ratio : float
        ``c = p / n`` of the ``n x p`` matrix, any ``c > 0``.

    Returns
    -------
    Model
        ``h`` (the law of the squared singular values), ``sigma2`` and ``c`` of the
        canonical frame, and whether it is ``flipped``.

    Raises
    ------
    InvalidParameter
        ``sigma2`` or ``aspect_ratio`` not positive and finite.

    Examples
    --------
    >>> import rmtservice as rs
    >>> import rmtservice.rectangular as rr
    >>> m = rr.model(rs.Point(0.0), 1.0, 2.0)
    >>> m.sigma2, m.c, m.flipped
    (2.0, 0.5, True)
    """
    s2 = check_sigma2(sigma2)
    c = check_aspect_ratio(aspect_ratio)
    h = squared(measure)
    _check_scale(h, s2)
    if c > 1:
        return Model(h, s2 * c, 1.0 / c, True)
    return Model(h, s2, c, False)


# ----------------------------------------------------------------------- support


@dataclass(frozen=True, eq=False)
class Support:
    """Components ``[lower, upper]`` of the support of the singular values' limit law, with
    their masses (fractions of the ``min(n, p)`` singular values), the preimages
    ``t_lower``/``t_upper`` (``sqrt(Phi(t)) = edge``, canonical frame), the cusps, and the
    mass at 0 of the law of ``Y^T Y`` (``1 - n/p`` when p > n: those zeros are not
    singular values) and of ``Y Y^T`` (``1 - p/n`` when n > p)."""

    lower: FloatArray
    upper: FloatArray
    mass: FloatArray
    t_lower: FloatArray
    t_upper: FloatArray
    model: Model
    #: the zero of A_ left of supp H (c < 1; for c = 1 the point where w(0) lies)
    t0: float
    cusp_x: FloatArray = field(default_factory=lambda: np.empty(0))
    cusp_t: FloatArray = field(default_factory=lambda: np.empty(0))

    def __len__(self) -> int:
        return int(self.lower.size)

    @property
    def zero_gap(self) -> bool:
        """Whether the singular values stay away from 0 (a gap ``(0, lower[0])``)."""
        return bool(self.lower[0] > 0)

    @property
    def atom_at_zero(self) -> float:
        """Mass at 0 of the limit law of ``Y^T Y`` (p x p): ``1 - n/p`` when p > n."""
        c = self.model.aspect_ratio
        return max(0.0, 1.0 - 1.0 / c)

    @property
    def companion_atom_at_zero(self) -> float:
        """Mass at 0 of the limit law of ``Y Y^T`` (n x n): ``1 - p/n`` when n > p."""
        return max(0.0, 1.0 - self.model.aspect_ratio)

    @property
    def thresholds(self) -> tuple[float | None, float]:
        """Detection thresholds for singular values of S: above ``upper`` a spike
        separates; below ``lower`` (when singular values have a gap at 0 that spikes can
        reach, ``t_lower[0] > 0``) it separates downwards, into that gap."""
        upper = math.sqrt(float(self.t_upper[-1]))
        tl = float(self.t_lower[0])
        lower = math.sqrt(tl) if self.zero_gap and tl > 0 else None
        return lower, upper

    def locate(self, x: FloatArray) -> tuple[NDArray[np.intp], NDArray[np.bool_]]:
        """For each x: the first component with ``upper >= x``, and whether x is in it."""
        return locate(self.lower, self.upper, x)


def _h_transform(
    m: Model,
) -> Callable[[FloatArray, NDArray[np.intp]], tuple[FloatArray, FloatArray]]:
    """``rho^(-1/2) - 1`` and its derivative: nearly linear next to an atom of H, where
    ``rho ~ K / (u - t)^2`` (Newton converges in a few steps there)."""

    def fun(t: FloatArray, idx: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        r, r1 = m.rho(t, 1)
        return r**-0.5 - 1.0, -0.5 * r1 * r**-1.5

    return fun


def _unit_crossing(
    m: Model, lo: FloatArray, hi: FloatArray, rho_decreasing: NDArray[np.bool_], x0: FloatArray
) -> FloatArray:
    """The root of ``rho = 1`` in each bracket ``(lo, hi)`` (one sign change each)."""
    x0 = np.where((x0 > lo) & (x0 < hi), x0, 0.5 * (lo + hi))
    return bracketed_newton(_h_transform(m), lo, hi, x0, increasing=rho_decreasing)


def _gap_minimum(m: Model, c: FloatArray, d: FloatArray, x0: FloatArray) -> FloatArray:
    """Minimiser of ``rho`` on each gap ``(c, d)`` of supp H: the root of ``h'``,
    ``h = rho^(-1/2)`` (which decreases through it)."""

    def fun(t: FloatArray, idx: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        r, r1, r2 = m.rho(t, 2)
        return -0.5 * r1 * r**-1.5, -0.5 * r2 * r**-1.5 + 0.75 * r1 * r1 * r**-2.5

    return bracketed_newton(fun, c, d, x0, increasing=False)


def _right_bracket(m: Model, hi: float) -> tuple[float, float]:
    """A bracket of the root of ``rho = 1`` right of ``supp H`` (``rho`` decreases there).

    Above: ``rho <= sigma2 (c (2 r + d) / d^2 + sqrt(c (1 - c)) / d)`` at ``t = r + d``.
    Below: ``rho >= sigma2 c int H (u + t)/(u - t)^2 >= sigma2 c (mu + t)/(t - mu)^2``
    (Jensen: convex in u for ``0 <= u < t``), ``mu`` the mean of H.
    """
    s2, c = m.sigma2, m.c
    top = s2 * c + math.sqrt((s2 * c) ** 2 + 4.0 * s2 * c * hi)
    top = max(top, 2.0 * s2 * math.sqrt(c * (1.0 - c)))
    mu = float(m.h.mean)
    low = mu + 0.5 * (s2 * c + math.sqrt((s2 * c) ** 2 + 8.0 * s2 * c * mu))
    return min(max(hi, low), hi + top), hi + top


def _inner_gaps(
    m: Model, lo: FloatArray, hi: FloatArray, mass: FloatArray
) -> tuple[NDArray[np.intp], FloatArray, FloatArray]:
    """Gaps of supp H that hold a gap of the limit (their indices and the minimisers of
    rho there) and the cusps (``min rho = 1`` to within ``CUSP_TOL``)."""
    empty = np.empty(0)
    if lo.size < 2:
        return np.empty(0, dtype=np.intp), empty, empty
    c_, d_ = hi[:-1], lo[1:]
    ml, mr = np.cbrt(mass[:-1]), np.cbrt(mass[1:])
    # rho >= sigma2 c int (u + t)/(u - t)^2 >= sigma2 c t_left (ml/(t - a)^2 + mr/(b - t)^2)
    # over the two neighbours (a, b their far ends): most gaps are ruled out by this alone
    span = hi[1:] - lo[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = m.sigma2 * m.c * c_ * (ml + mr) ** 3 / span**2
    # a gap narrower than double precision resolves at the spectrum's scale is no gap;
    # that scale is the noise's too (the limit reaches about hi + sigma2 (1 + sqrt c)^2):
    # beside an atom of H at 0 the bound above is 0, and across a gap of 1e-119 under
    # noise 1e-4 rho's derivatives overflow and its minimum cannot be located
    scale = float(hi[-1]) + m.sigma2 * (1.0 + m.c)
    resolved = (d_ - c_) > RESOLUTION * scale
    cand = np.flatnonzero(~(bound > 1.0 + CUSP_TOL) & resolved)
    if cand.size == 0:
        return cand, empty, empty
    cc, dd = c_[cand], d_[cand]
    x0 = cc + (dd - cc) * ml[cand] / (ml[cand] + mr[cand])
    tmin = _gap_minimum(m, cc, dd, x0)
    rmin = m.rho(tmin)[0]
    open_ = rmin < 1.0 - CUSP_TOL
    cusps = tmin[~open_ & (rmin <= 1.0 + CUSP_TOL)]
    return cand[open_], tmin[open_], cusps


def _left_zero(m: Model) -> tuple[float, bool]:
    """``t0 = w(0)`` below ``supp H``, and whether the singular values have a gap at 0.

    ``c < 1``: the zero of ``A_`` below 0, in ``[-sigma2, -sigma2 (1 - c)]`` (there
    ``f_(t) = c f(t) + (1 - c)/|t|`` lies between ``(1 - c)/|t|`` and ``1/|t|``); a gap at 0
    iff ``rho(t0) < 1``. ``c = 1``: a gap iff ``sigma2 f(0) < 1``, and then ``t0 = 0``;
    else ``t0`` is the zero of ``A`` below 0 (``w(0)``, where ``A(t) >= 0`` at ``-sigma2``).
    """
    s2, c = m.sigma2, m.c

    def fun(t: FloatArray, idx: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        # 1 / (sigma2 f_) - 1: nearly linear in t where the pole of f_ at 0 dominates
        f, f1 = m.real_derivatives(t, 1)
        g = c * f - (1.0 - c) / t
        g1 = c * f1 + (1.0 - c) / (t * t)
        return 1.0 / (s2 * g) - 1.0, -g1 / (s2 * g * g)

    if c == 1:
        f0 = float(m.real_derivatives(np.array([0.0]), 0)[0, 0])
        if s2 * f0 < 1.0 - CUSP_TOL:
            return 0.0, True
        lo, hi = np.array([-s2]), np.array([-s2 * 1e-300])
    else:
        lo, hi = np.array([-s2]), np.array([-s2 * (1.0 - c)])
    t0 = float(bracketed_newton(fun, lo, hi, 0.5 * (lo + hi), increasing=False)[0])
    gap = c < 1 and bool(m.rho(np.array([t0]))[0, 0] < 1.0 - CUSP_TOL)
    return t0, gap


@quiet
def support(measure: Measure, sigma2: float, aspect_ratio: float) -> Support:
    """Components of the support of the limit law of the singular values, with masses.

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the singular values of ``S`` (on ``[0, inf)``).
    sigma2 : float
        Noise level: the entries of ``X`` have variance ``sigma2 / n`` (n rows).
    aspect_ratio : float
        ``c = p / n`` of the ``n x p`` matrix, any ``c > 0``.

    Returns
    -------
    Support
        ``lower``, ``upper`` (singular values) and ``mass`` of each component, out of the
        ``min(n, p)`` singular values.

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
    >>> s = rr.support(rs.Point(0.0), 1.0, 0.5)  # Marchenko-Pastur: 1 -+ sqrt(1/2)
    >>> s.lower.round(6).tolist(), s.upper.round(6).tolist(), s.mass.tolist()
    ([0.292893], [1.707107], [1.0])
    """
    return _support(model(measure, sigma2, aspect_ratio))


def _support(m: Model) -> Support:
    lo, hi, mass = m.h.components()
    cand, tmin, cusp_t = _inner_gaps(m, lo, hi, mass)
    n = cand.size
    t0, gap_at_zero = _left_zero(m)
    rb_lo, rb_hi = _right_bracket(m, float(hi[-1]))
    # the left edge: rho = 1 in (t0, min supp H) when there is a gap at zero
    left = [t0] if gap_at_zero else []
    left_hi = [float(lo[0])] if gap_at_zero else []
    c_, d_ = hi[cand], lo[cand + 1]
    brackets_lo = np.concatenate([left, [rb_lo], c_, tmin])
    brackets_hi = np.concatenate([left_hi, [rb_hi], tmin, d_])
    decreasing = np.concatenate(
        [[False] * len(left), [True], np.ones(n, dtype=bool), np.zeros(n, dtype=bool)]
    )
    x0 = np.concatenate(
        [
            0.5 * (np.array(left) + np.array(left_hi)),
            [0.5 * (rb_lo + rb_hi)],
            c_ + 0.25 * (tmin - c_),
            d_ - 0.25 * (d_ - tmin),
        ]
    )
    roots = _unit_crossing(m, brackets_lo, brackets_hi, decreasing, x0)
    k = len(left)
    t_left = roots[:k]
    t_right = roots[k : k + 1]
    gap_l, gap_r = roots[k + 1 : k + 1 + n], roots[k + 1 + n :]
    t_lower = np.concatenate([t_left if gap_at_zero else [t0], gap_r])
    t_upper = np.concatenate([gap_l, t_right])
    cum = np.concatenate([[0.0], np.cumsum(mass)])
    bounds = np.concatenate([[0], cand + 1, [mass.size]])
    comp_mass = np.diff(cum[bounds])
    comp_mass = comp_mass / comp_mass.sum()
    edges = _edge_values(m, np.concatenate([t_lower, t_upper, cusp_t]))
    if not gap_at_zero:
        edges[0] = 0.0
    j = t_lower.size
    return Support(
        lower=edges[:j],
        upper=edges[j : 2 * j],
        mass=comp_mass,
        t_lower=t_lower,
        t_upper=t_upper,
        model=m,
        t0=t0,
        cusp_x=edges[2 * j :],
        cusp_t=cusp_t,
    )


def _edge_values(m: Model, t: FloatArray) -> FloatArray:
    """``sqrt(Phi(t))`` (0 where rounding makes ``Phi`` slightly negative)."""
    p = m.real_phi(t)[0]
    return np.sqrt(np.maximum(p, 0.0))


# ----------------------------------------------------------------- boundary values


@dataclass(frozen=True, eq=False)
class BoundaryValues:
    """At singular values ``x >= 0``: the subordination ``w(x^2 + i0)`` (canonical frame),
    the Stieltjes transforms ``m`` (law of ``Y^T Y``) and ``m_companion`` (``Y Y^T``) at
    ``x^2 + i0`` in the caller's frame, and the density of the singular values. At
    ``x = 0`` a transform with a pole there (:func:`poles_at_zero`) is ``inf``."""

    x: FloatArray
    w: ComplexArray
    m: ComplexArray
    m_companion: ComplexArray
    density: FloatArray
    support: Support


def _stieltjes_from_w(mod: Model, w: ComplexArray) -> tuple[ComplexArray, ComplexArray]:
    """``m = f/A`` and ``m_ = f_/A_`` of the canonical frame at the subordination w."""
    s2, c = mod.sigma2, mod.c
    f = mod.derivatives(w, 0)[0]
    f = np.where(w.imag == 0, f.real + 0j, f)
    a = 1.0 - s2 * c * f
    with np.errstate(divide="ignore", invalid="ignore"):
        m = f / a
        f_ = c * f - (1.0 - c) / w
        m_ = f_ / (1.0 - s2 * f_)
    return m, m_


def poles_at_zero(sup: Support) -> tuple[str | None, str | None]:
    """Why ``m`` (``Y^T Y``) and ``m_companion`` (``Y Y^T``) of the caller's frame are
    infinite at ``z = 0`` (None: finite there).

    The law of ``Y^T Y`` has an atom at 0 when p > n, that of ``Y Y^T`` when n > p, and
    at c = 1 with the support reaching 0 both densities blow up like ``t^(-1/2)``.

    Parameters
    ----------
    sup : Support
        From :func:`support`.

    Returns
    -------
    (str or None, str or None)
        The reason for ``m``, then for ``m_companion``.

    Raises
    ------
    AttributeError
        ``sup`` is not a rectangular support.

    Examples
    --------
    >>> import rmtservice as rs
    >>> import rmtservice.rectangular as rr
    >>> rr.poles_at_zero(rr.support(rs.Point(0.0), 1.0, 2.0))
    ('the law of Y^T Y has an atom 1 - n/p at 0', None)
    """
    c = sup.model.aspect_ratio
    if sup.model.c == 1 and not sup.zero_gap:
        why = "the density of Y^T Y = Y Y^T blows up like t^(-1/2) at 0"
        return why, why
    m = "the law of Y^T Y has an atom 1 - n/p at 0" if c > 1 else None
    m_ = "the law of Y Y^T has an atom 1 - p/n at 0" if c < 1 else None
    return m, m_


def _at_zero_transforms(
    sup: Support, m: ComplexArray, m_: ComplexArray, at: NDArray[np.bool_]
) -> None:
    """The transforms (caller's frame) where ``z = 0``, in place: ``inf`` at a pole (the
    rounding of ``A`` or ``A_`` at ``w(0)``, a zero of one of them, gives any sign or a
    NaN), and at c = 1 the companion is ``m`` itself (``(1 - c) / w`` is 0/0 at w = 0)."""
    pm, pm_ = poles_at_zero(sup)
    if sup.model.c == 1:
        m_[at] = m[at]
    if pm is not None:
        m[at] = np.inf
    if pm_ is not None:
        m_[at] = np.inf


def _caller_frame(mod: Model, m: ComplexArray, m_: ComplexArray) -> tuple[ComplexArray, ...]:
    """The transforms of ``Y^T Y`` and ``Y Y^T`` in the caller's frame (swapped if flipped)."""
    return (m_, m) if mod.flipped else (m, m_)


def _real_roots(mod: Model, x2: FloatArray, lo: FloatArray, hi: FloatArray) -> FloatArray:
    """Root of the increasing ``Phi(t) = x^2`` in each ``(lo, hi)``."""

    def fun(t: FloatArray, idx: NDArray[np.intp]) -> tuple[FloatArray, FloatArray]:
        p, dp, _, _ = mod.real_phi(t)
        return p - x2[idx], dp

    # far right Phi(t) ~ t + sigma2 (1 + c): a start that is nearly the root
    guess = x2 - mod.sigma2 * (1.0 + mod.c)
    x0 = np.where((guess > lo) & (guess < hi), guess, 0.5 * (lo + hi))
    return bracketed_newton(fun, lo, hi, x0, increasing=True)


def _outside(mod: Model, sup: Support, k: NDArray[np.intp], x: FloatArray) -> FloatArray:
    """Real w for x outside the support: the root in the matching valid branch."""
    n = len(sup)
    x2 = x * x
    lo = np.where(k == 0, sup.t0, sup.t_upper[np.maximum(k - 1, 0)])
    hi = np.where(k >= n, 0.0, sup.t_lower[np.minimum(k, n - 1)])
    # right of everything Phi(t) >= t (A, A_ >= 1 there): the root is at most x^2
    hi = np.where(k >= n, np.maximum(x2, sup.t_upper[-1]), hi)
    return _real_roots(mod, x2, lo, hi)


def _admissible(
    mod: Model, w: ComplexArray, m: ComplexArray, m_: ComplexArray, ok: NDArray[np.bool_]
) -> NDArray[np.bool_]:
    """The solution with ``Im w > 0`` whose transforms ``m``, ``m_`` (at w) are Stieltjes
    transforms."""
    return ok & (w.imag > 0) & (m.imag > 0) & (m_.imag >= 0) & np.isfinite(m)


def _table_guess(mod: Model, sup: Support, k: NDArray[np.intp], x: FloatArray) -> ComplexArray:
    """Guesses interpolated from w solved at Chebyshev nodes of each crowded component
    (``Re w`` and ``(Im w)^2`` linearly in x: smooth at square-root edges)."""
    edges = (sup.lower, sup.upper, sup.t_lower, sup.t_upper)
    return table_guess(edges, k, x, lambda kn, xn, w0: _inside(mod, sup, kn, xn, w0))


def _inside(
    mod: Model, sup: Support, k: NDArray[np.intp], x: FloatArray, w0: ComplexArray
) -> tuple[ComplexArray, NDArray[np.bool_]]:
    """``w`` with ``Phi(w) = x^2``, ``Im w > 0``, by Newton from ``w0`` for x strictly
    inside a component, and where it converged (admissibility is checked by the caller,
    with the transforms it computes anyway)."""
    z = (x * x).astype(np.complex128)
    w, ok, _ = newton(mod.terms(), z, w0, maxiter=40, keep_image=False)
    return w, ok & (w.imag > 0)


def _continuation(mod: Model, z: ComplexArray) -> ComplexArray:
    """w at real (or near-real) z by continuation from above: solved at ``Re z + i eta``
    for ``eta`` shrinking by 8 from the spectrum's scale, each from the last, then at z."""
    scale = np.abs(z.real) + mod.sigma2 * (1.0 + mod.c) + float(mod.h.mean)
    w = _upper_start(mod, z.real + 1j * scale)
    eta = scale.copy()
    terms = mod.terms()
    while True:
        deadline.check()
        eta = eta / 8.0
        target = z.real + 1j * np.maximum(eta, z.imag)
        w, ok, rel = newton(terms, target, w, maxiter=60, keep_image=True)
        if np.all(eta <= np.maximum(z.imag, 1e-14 * scale)):
            break
    w, ok, rel = newton(terms, z, w, maxiter=60, keep_image=bool(np.all(z.imag > 0)))
    ok &= w.imag > 0
    if np.all(z.imag == 0):
        ok = _admissible(mod, w, *_stieltjes_from_w(mod, w), ok)
    if not np.all(ok):
        i = int(np.flatnonzero(~ok)[0])
        raise NoConvergence(
            f"the rectangular subordination equation did not converge at z = "
            f"{complex(z[i])!r} (relative residual {rel[i]:.3g})"
        )
    return w


def _upper_start(mod: Model, z: ComplexArray) -> ComplexArray:
    """w(z) far above the spectrum (``Im z`` of its scale): Newton from the asymptote
    ``Phi(w) = w + sigma2 (1 + c) + O(1/w)``."""
    w0 = z - mod.sigma2 * (1.0 + mod.c)
    w0 = np.where(w0.imag > 0, w0, z)
    w, ok, rel = newton(mod.terms(), z, w0, maxiter=100, keep_image=True)
    if not np.all(ok & (w.imag > 0)):
        i = int(np.flatnonzero(~(ok & (w.imag > 0)))[0])
        raise NoConvergence(
            f"the rectangular subordination equation did not converge at z = "
            f"{complex(z[i])!r} (relative residual {rel[i]:.3g})"
        )
    return w


def _at_zero(mod: Model, sup: Support) -> tuple[complex, float]:
    """w(0) and the singular-value density at 0 when the support reaches 0.

    For ``c = 1`` (the symmetric model of ``nu_sym``) ``w(0) = t0 = -v^2`` with
    ``A(t0) = 0`` and the density at 0 is ``2 v / (pi sigma2)``. For ``c < 1`` the law
    of ``Y^T Y`` has a density that stays finite at 0, so that of ``x`` vanishes there.
    """
    if mod.c == 1:
        v = math.sqrt(max(-sup.t0, 0.0))
        return complex(sup.t0), 2.0 * v / (math.pi * mod.sigma2)
    return complex(sup.t0), 0.0


@quiet
def boundary_values(
    measure: Measure,
    sigma2: float,
    aspect_ratio: float,
    x: ArrayLike,
    *,
    sup: Support | None = None,
) -> BoundaryValues:
    """``w``, ``m`` and the density of the singular values at real ``x >= 0``.

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the singular values of ``S`` (on ``[0, inf)``).
    sigma2 : float
        Noise level: the entries of ``X`` have variance ``sigma2 / n`` (n rows).
    aspect_ratio : float
        ``c = p / n`` of the ``n x p`` matrix, any ``c > 0``.
    x : array_like
        Singular values (real, ``>= 0``).
    sup : Support, optional
        The support, when already known (skips its search).

    Returns
    -------
    BoundaryValues
        The subordination ``w``, the transforms ``m`` (of ``Y^T Y``) and ``m_companion``
        (of ``Y Y^T``) at ``x^2 + i0``, and the density of the singular values at ``x``.

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
    >>> b = rr.boundary_values(rs.Point(0.0), 1.0, 0.5, [1.0, 2.0])
    >>> b.density.round(6).tolist(), b.m[1].round(6)
    ([0.842169, 0.0], np.complex128(-0.359612+0j))
    """
    sup = sup if sup is not None else support(measure, sigma2, aspect_ratio)
    return _boundary_values(sup, x)


def _boundary_values(sup: Support, x: ArrayLike) -> BoundaryValues:
    mod = sup.model
    x = np.asarray(x, dtype=float)
    shape = x.shape
    x = x.ravel()
    check_points("x", x)
    if np.any(x < 0):
        raise InvalidParameter("x are singular values: they must be >= 0", field="x")
    w = np.empty(x.size, dtype=np.complex128)
    dens = np.zeros(x.size)
    k, inside = sup.locate(x)
    kk = np.minimum(k, len(sup) - 1)
    at_lower = inside & (x == sup.lower[kk])
    at_upper = inside & (x == sup.upper[kk])
    w[at_lower] = sup.t_lower[kk[at_lower]]
    w[at_upper] = sup.t_upper[kk[at_upper]]
    edge = at_lower | at_upper
    zero = edge & (x == 0) & (not sup.zero_gap)
    if np.any(zero):
        w0, d0 = _at_zero(mod, sup)
        w[zero], dens[zero] = w0, d0
    if sup.cusp_x.size:
        j = np.searchsorted(sup.cusp_x, x)
        jj = np.minimum(j, sup.cusp_x.size - 1)
        at_cusp = inside & (sup.cusp_x[jj] == x)
        w[at_cusp] = sup.cusp_t[jj[at_cusp]]
        edge |= at_cusp
    # x = 0 in a gap at zero: w(0) = t0 exactly
    out = ~inside & (x > 0)
    w[~inside & (x == 0)] = sup.t0
    if np.any(out):
        w[out] = _outside(mod, sup, k[out], x[out])
    inner = inside & ~edge
    ok = np.ones(x.size, dtype=bool)
    if np.any(inner):
        ki, xi = k[inner], x[inner]
        w[inner], ok[inner] = _inside(mod, sup, ki, xi, _table_guess(mod, sup, ki, xi))
    m, m_ = _stieltjes_from_w(mod, w)
    bad = np.flatnonzero(inner & ~_admissible(mod, w, m, m_, ok))
    if bad.size:
        # Newton from the tabulated guess missed: continuation from above, to the axis
        w[bad] = _continuation(mod, (x[bad] * x[bad]).astype(np.complex128))
        m[bad], m_[bad] = _stieltjes_from_w(mod, w[bad])
    # density of the min(n, p) singular values: 2 x Im m(x^2) / pi in the canonical frame
    dens = np.where(inner, 2.0 * x * np.maximum(m.imag, 0.0) / np.pi, dens)
    mc, mc_ = _caller_frame(mod, m, m_)
    _at_zero_transforms(sup, mc, mc_, x == 0)
    return BoundaryValues(
        x.reshape(shape),
        w.reshape(shape),
        mc.reshape(shape),
        mc_.reshape(shape),
        dens.reshape(shape),
        sup,
    )


def density(measure: Measure, sigma2: float, aspect_ratio: float, x: ArrayLike) -> FloatArray:
    """Density of the singular values of ``S + X`` (per ``min(n, p)`` of them) at ``x``.

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the singular values of ``S`` (on ``[0, inf)``).
    sigma2 : float
        Noise level: the entries of ``X`` have variance ``sigma2 / n`` (n rows).
    aspect_ratio : float
        ``c = p / n`` of the ``n x p`` matrix, any ``c > 0``.
    x : array_like
        Singular values (real, ``>= 0``).

    Returns
    -------
    ndarray
        The density at ``x``, integrating to 1 over ``[0, inf)``.

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
    >>> rr.density(rs.Point(0.0), 1.0, 0.5, [1.0, 2.0]).round(6).tolist()
    [0.842169, 0.0]
    """
    return boundary_values(measure, sigma2, aspect_ratio, x).density


# --------------------------------------------------------------------- stieltjes


@dataclass(frozen=True, eq=False)
class StieltjesResult:
    """``m(z)`` of the law of ``Y^T Y`` (p x p), ``m_companion(z)`` of ``Y Y^T``, and the
    subordination ``w(z)`` of the canonical frame. At ``z = 0`` the transform with a pole
    there is ``inf`` (the other is its finite value); ``poles_at_zero`` says which has
    one and why (:func:`poles_at_zero`)."""

    z: ComplexArray
    m: ComplexArray
    m_companion: ComplexArray
    w: ComplexArray
    poles_at_zero: tuple[str | None, str | None] = (None, None)


@quiet
def stieltjes(
    measure: Measure,
    sigma2: float,
    aspect_ratio: float,
    z: ArrayLike,
    *,
    sup: Support | None = None,
) -> StieltjesResult:
    """Stieltjes transform of the limit law of ``Y^T Y`` at ``z`` (``Im z >= 0``; on
    the axis, at ``x >= 0``, the boundary value ``m(x + i0)``).

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the singular values of ``S`` (on ``[0, inf)``).
    sigma2 : float
        Noise level: the entries of ``X`` have variance ``sigma2 / n`` (n rows).
    aspect_ratio : float
        ``c = p / n`` of the ``n x p`` matrix, any ``c > 0``.
    z : array_like
        Complex points with ``Im z >= 0`` (any real z; ``z = 0`` unless both transforms
        have a pole there).
    sup : Support, optional
        The support, when already known (skips its search).

    Returns
    -------
    StieltjesResult
        ``z``, ``m`` (of ``Y^T Y``), ``m_companion`` (of ``Y Y^T``) and the subordination
        ``w``. At ``z = 0`` one law may have an atom (``1 - n/p`` of ``Y^T Y`` when
        p > n, ``1 - p/n`` of ``Y Y^T`` when n > p) while the other has none: its
        transform is then the finite ``int F(dt) / t`` (Marchenko-Pastur, n > p:
        ``m(0) = 1 / (sigma2 (1 - c))``) and the one with the atom is ``inf``, named in
        ``poles_at_zero``.

    Raises
    ------
    InvalidParameter
        ``sigma2`` or ``aspect_ratio`` not positive and finite, points not finite, a
        measure with mass below 0, or ``z = 0`` where both transforms have a pole (c = 1
        with the support reaching 0).
    NoConvergence
        A solver did not reach rounding-level accuracy (not observed).

    Examples
    --------
    >>> import rmtservice as rs
    >>> import rmtservice.rectangular as rr
    >>> r = rr.stieltjes(rs.Point(0.0), 1.0, 0.5, [4.0])
    >>> r.m.round(6).tolist()  # Marchenko-Pastur: c z m^2 + (z - (1 - c)) m + 1 = 0
    [(-0.359612+0j)]
    """
    sup = sup if sup is not None else support(measure, sigma2, aspect_ratio)
    mod = sup.model
    z = np.asarray(z, dtype=np.complex128)
    shape = z.shape
    z = z.ravel()
    check_points("z", np.abs(z))
    if np.any(z.imag < 0):
        raise InvalidParameter("Im z must be >= 0 (use m(conj z) = conj m(z))", field="z")
    poles = poles_at_zero(sup)
    if np.any(z == 0) and None not in poles:
        # nothing finite to return there; one pole alone is inf in its transform only
        raise InvalidParameter(
            f"z = 0 is a pole of both m and m_companion: {poles[0]}; take Im z > 0",
            field="z",
        )
    w = np.empty(z.size, dtype=np.complex128)
    real = z.imag == 0
    if np.any(real & (z.real < 0)):
        # below 0 the law of Y^T Y has no mass: w is the real root left of w(0)
        neg = np.flatnonzero(real & (z.real < 0))
        w[neg] = _negative_axis(mod, sup, z.real[neg])
    pos = np.flatnonzero(real & (z.real >= 0))
    if pos.size:
        w[pos] = _boundary_values(sup, np.sqrt(z.real[pos])).w
    upper = np.flatnonzero(~real)
    if upper.size:
        w[upper] = _upper(mod, sup, z[upper])
    m, m_ = _stieltjes_from_w(mod, w)
    mc, mc_ = _caller_frame(mod, m, m_)
    _at_zero_transforms(sup, mc, mc_, z == 0)  # a pole of one of them: inf there
    return StieltjesResult(
        z.reshape(shape), mc.reshape(shape), mc_.reshape(shape), w.reshape(shape), poles
    )


def _negative_axis(mod: Model, sup: Support, z: FloatArray) -> FloatArray:
    """w(z) for real z < 0: ``Phi`` increases from -inf to 0 on ``(-inf, t0)``."""
    # Phi(t) >= t + ... : the root is in (z - sigma2 (1 + c) - scale, t0)
    lo = np.minimum(z - 2.0 * mod.sigma2 * (1.0 + mod.c) - 1.0, sup.t0) * 4.0
    hi = np.full(z.size, sup.t0)
    while True:
        p = mod.real_phi(lo)[0]
        if np.all(p < z):
            break
        lo = np.where(p < z, lo, 2.0 * lo)
    return _real_roots(mod, z, lo, hi)


def _upper(mod: Model, sup: Support, z: ComplexArray) -> ComplexArray:
    """w(z) for Im z > 0: from the solution far above, damped Newton kept in the image's
    upper half-plane; near the axis, from the boundary value below."""
    scale = np.abs(z.real) + mod.sigma2 * (1.0 + mod.c) + float(mod.h.mean)
    start = _upper_start(mod, z.real + 1j * np.maximum(scale, z.imag))
    terms = mod.terms()
    w, ok, _ = newton(terms, z, start, maxiter=200, keep_image=True)
    ok &= w.imag > 0
    if not np.all(ok):
        bad = np.flatnonzero(~ok)
        w[bad] = _continuation(mod, z[bad])
    return w


# ------------------------------------------------------------ distribution function


@quiet
def cdf(
    measure: Measure,
    sigma2: float,
    aspect_ratio: float,
    x: ArrayLike,
    *,
    sup: Support | None = None,
    nodes: int = 513,
) -> FloatArray:
    """Distribution function of the singular values' limit law at ``x`` (about 1e-8).

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the singular values of ``S`` (on ``[0, inf)``).
    sigma2 : float
        Noise level: the entries of ``X`` have variance ``sigma2 / n`` (n rows).
    aspect_ratio : float
        ``c = p / n`` of the ``n x p`` matrix, any ``c > 0``.
    x : array_like
        Singular values.
    sup : Support, optional
        The support, when already known (skips its search).
    nodes : int
        Quadrature nodes per support component.

    Returns
    -------
    ndarray
        ``F(x)``, flattened.

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
    >>> rr.cdf(rs.Point(0.0), 1.0, 0.5, [0.0, 1.0, 2.0]).round(6).tolist()
    [0.0, 0.576004, 1.0]
    """
    sup = sup if sup is not None else support(measure, sigma2, aspect_ratio)
    x = np.asarray(x, dtype=float)

    def dens(xs: FloatArray) -> FloatArray:
        return _boundary_values(sup, xs).density

    return integrate_density(dens, sup, np.maximum(x, 0.0), nodes=nodes).reshape(x.shape)


@quiet
def kolmogorov_distance(
    measure: Measure,
    sigma2: float,
    aspect_ratio: float,
    sample: ArrayLike,
    *,
    sup: Support | None = None,
) -> float:
    """``sup_x |F_n(x) - F(x)|`` for the empirical law of the singular values ``sample``.

    Parameters
    ----------
    measure : Measure
        The law ``nu`` of the singular values of ``S`` (on ``[0, inf)``).
    sigma2 : float
        Noise level: the entries of ``X`` have variance ``sigma2 / n`` (n rows).
    aspect_ratio : float
        ``c = p / n`` of the ``n x p`` matrix, any ``c > 0``.
    sample : array_like
        Observed singular values.
    sup : Support, optional
        The support, when already known (skips its search).

    Returns
    -------
    float
        The Kolmogorov distance.

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
    >>> round(rr.kolmogorov_distance(rs.Point(0.0), 1.0, 0.5, [0.5, 1.0, 1.5]), 4)
    0.262
    """
    s = np.sort(np.asarray(sample, dtype=float).ravel())
    return sup_distance(s, cdf(measure, sigma2, aspect_ratio, s, sup=sup))

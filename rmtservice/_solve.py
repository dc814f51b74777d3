"""Solvers shared by the core: the map phi, damped complex Newton, bracketed Newton.

Private module: the public entry points are in ``subordination``, ``density`` and
``outliers``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import numpy as np
from numpy.typing import NDArray

from rmtservice import deadline
from rmtservice._inputs import number
from rmtservice.errors import InvalidParameter, NoConvergence
from rmtservice.measures import Measure

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]

EPS = float(np.finfo(float).eps)

_P = ParamSpec("_P")
_R = TypeVar("_R")


def quiet(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run a public entry point with floating-point warnings off.

    Infinities and zeros in intermediate sums are expected (a point next to an atom,
    a gap narrower than the spacing of doubles) and handled explicitly: every result
    is checked (residuals, finiteness) rather than trusted to warnings.
    """

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore", under="ignore"):
            return fn(*args, **kwargs)

    return wrapper


RESIDUAL_FACTOR = 64.0  # accepted residual, in units of eps times the problem's scale
POLISH = 12  # extra Newton steps allowed past rounding level while still converging


def check_sigma2(sigma2: float) -> float:
    """Validate the noise variance."""
    s2 = number("sigma2", sigma2)
    if not np.isfinite(s2):
        raise InvalidParameter(f"sigma2 must be finite, got {s2!r}", field="sigma2")
    if not s2 > 0:
        raise InvalidParameter(f"sigma2 must be > 0, got {s2!r}", field="sigma2")
    return s2


#: beyond this, squares of distances overflow double precision
MAX_ABS = 1e150
#: spectrum extent over noise standard deviation that double precision still resolves
MAX_SCALE_RATIO = 1e14


def check_scale(measure: Measure, sigma2: float, *, resolve: bool = True) -> None:
    """Refuse problems double precision cannot represent: huge values, or (``resolve``)
    a noise level below the rounding of the spectrum's own numbers."""
    lo, hi, _ = measure.components()
    extent = max(abs(float(lo[0])), abs(float(hi[-1])))
    if extent > MAX_ABS:
        raise InvalidParameter(
            f"the spectrum of H reaches {extent:.3g}; values must be at most {MAX_ABS:.0e} "
            "in absolute value",
            field="measure",
        )
    if sigma2 > MAX_ABS:
        raise InvalidParameter(f"sigma2 must be at most {MAX_ABS:.0e}", field="sigma2")
    if not resolve:
        return
    # positions are known to eps |t|: the noise scale must stand above that rounding
    ratio = extent / np.sqrt(sigma2)
    if ratio > MAX_SCALE_RATIO:
        raise InvalidParameter(
            f"the spectrum of H spans {ratio:.3g} noise standard deviations (more than "
            f"{MAX_SCALE_RATIO:.0e}): double precision cannot resolve the noise at that "
            "scale; rescale H and sigma2 together",
            field="sigma2",
        )


def check_spikes(
    spikes: np.ndarray, sigma2: float, *, resolve: bool = True, field: str = "spikes"
) -> None:
    """Spikes are eigenvalues of H: numbers double precision can square and (``resolve``)
    at a scale where it still resolves the noise. LAPACK computes every eigenvalue of
    ``H + W`` to ``eps`` times its norm: beside a spike of 1e150 the bulk's eigenvalues
    and the noise are rounding (they came out near 1e130)."""
    if not np.all(np.abs(spikes) <= MAX_ABS):
        raise InvalidParameter(
            f"{field} must be finite and at most {MAX_ABS:.0e} in absolute value", field=field
        )
    if not resolve or not spikes.size:
        return
    extent = float(np.max(np.abs(spikes)))
    ratio = extent / np.sqrt(sigma2)
    if ratio > MAX_SCALE_RATIO:
        raise InvalidParameter(
            f"{'the spikes reach' if field == 'spikes' else 'the spike law reaches'} "
            f"{extent:.3g}, {ratio:.3g} noise standard deviations (more than "
            f"{MAX_SCALE_RATIO:.0e}): double precision cannot resolve the noise, nor the "
            "bulk, beside them; rescale the spikes, H and sigma2 together",
            field=field,
        )


def check_points(name: str, values: np.ndarray) -> None:
    """Evaluation points must be finite (any finite size works: no squares are formed)."""
    if not np.all(np.isfinite(values)):
        raise InvalidParameter(f"{name} must contain finite numbers only", field=name)


def phi_terms(measure: Measure, sigma2: float, w: ComplexArray) -> tuple[ComplexArray, ...]:
    """``phi(w) = w - sigma2 f_nu(w)``, ``phi'(w)`` and ``f_nu(w)``, ``f_nu'(w)``."""
    d = measure.derivatives(w, 1)
    return w - sigma2 * d[0], 1.0 - sigma2 * d[1], d[0], d[1]


def residual_scale(w: ComplexArray, f: ComplexArray, fp: ComplexArray, sigma2: float) -> FloatArray:
    """Size of the terms of ``phi(w)`` (the solver adds ``|z|``): rounding level is
    ``eps`` times their sum.

    ``sum nu/|t - w| <= sqrt(int nu/|t - w|^2)`` (Cauchy-Schwarz), and the latter is
    ``Im f / Im w`` above the axis and ``f'(w)`` on it.
    """
    above = w.imag > 0
    # (called under newton's errstate: an infinite f' near an atom is expected)
    if above.all():  # (the common case, without the two selections)
        quad = f.imag / w.imag
    else:
        quad = np.where(above, f.imag / np.where(above, w.imag, 1.0), np.abs(fp))
    return np.abs(w) + sigma2 * np.sqrt(np.abs(quad))


#: ``terms(w) -> (map(w), map'(w), scale(w))``: a map to invert and the size of its terms
Terms = Callable[[ComplexArray], tuple[ComplexArray, ComplexArray, FloatArray]]


def phi_map(measure: Measure, sigma2: float) -> Terms:
    """``phi`` of the symmetric model as the :data:`Terms` of :func:`newton`."""

    def terms(w: ComplexArray) -> tuple[ComplexArray, ComplexArray, FloatArray]:
        p, dp, f, fp = phi_terms(measure, sigma2, w)
        return p, dp, residual_scale(w, f, fp, sigma2)

    return terms


def damped_newton(
    measure: Measure,
    sigma2: float,
    z: ComplexArray,
    w0: ComplexArray,
    *,
    maxiter: int = 60,
    keep_omega: bool = True,
) -> tuple[ComplexArray, NDArray[np.bool_], FloatArray]:
    """Solve ``phi(w) = z`` (the symmetric model) by :func:`newton` from ``w0``."""
    return newton(phi_map(measure, sigma2), z, w0, maxiter=maxiter, keep_image=keep_omega)


def newton(
    terms: Terms,
    z: ComplexArray,
    w0: ComplexArray,
    *,
    maxiter: int = 60,
    keep_image: bool = True,
) -> tuple[ComplexArray, NDArray[np.bool_], FloatArray]:
    """Solve ``map(w) = z`` by Newton's method from ``w0``, damped to stay admissible.

    A step is accepted when it keeps ``Im w > 0``, keeps ``Im map(w) > 0`` where
    ``Im z > 0`` (if ``keep_image``: the domain that the map sends conformally onto the
    upper half-plane, so the iterates follow a straight path in the image), and lowers
    the residual; otherwise it is halved. Returns ``(w, converged, residual / scale)``:
    converged means the residual is at rounding level, ``eps (|z| + scale(w))``.
    """
    # divisions by zero and infinities are expected and every result is checked
    with np.errstate(divide="ignore", invalid="ignore"):
        return _newton(terms, z, w0, maxiter, keep_image)


def _newton(
    terms: Terms,
    z: ComplexArray,
    w0: ComplexArray,
    maxiter: int,
    keep_image: bool,
) -> tuple[ComplexArray, NDArray[np.bool_], FloatArray]:
    w = np.array(w0, dtype=np.complex128)
    p, dp, sc = terms(w)
    alive = np.ones(w.size, dtype=bool)
    az = np.abs(z)
    # a point at rounding level keeps iterating (at most POLISH times) while each step
    # still divides the residual by 2, where the map's derivative is small: at a cusp
    # map(w) ~ (w - u)^3 converges linearly and the first residual at rounding level is
    # far from the answer
    ratio = np.zeros(w.size)
    polish = np.zeros(w.size, dtype=int)
    for _ in range(maxiter):
        deadline.check()
        rel = np.abs(p - z) / (az + sc)
        small = rel <= RESIDUAL_FACTOR * EPS
        if small.any():
            polish += small
            # (only where the derivative is small: there the error in w is residual / |dp|)
            alive &= ~small | ((ratio < 0.5) & (polish <= POLISH) & (rel > 0) & (np.abs(dp) < 1e-2))
        act = alive.nonzero()[0]
        if act.size == 0:
            break
        step = (z[act] - p[act]) / dp[act]
        alive[act[~np.isfinite(step)]] = False
        t = 1.0
        for _ in range(40):
            keep = np.isfinite(step)
            act, step = act[keep], step[keep]
            if act.size == 0:
                break
            wn = w[act] + t * step
            pn, dpn, scn = terms(wn)
            za = z[act]
            rn = np.abs(pn - za)
            r0 = np.abs(p[act] - za)
            ok = (wn.imag > 0) & np.isfinite(rn) & (rn < r0)
            if keep_image:
                ok &= (za.imag == 0) | (pn.imag > 0)
            if ok.all():  # every step taken whole (the common case)
                ratio[act] = rn / r0
                w[act], p[act], dp[act], sc[act] = wn, pn, dpn, scn
                act = act[:0]
                break
            acc = act[ok]
            ratio[acc] = rn[ok] / r0[ok]
            w[acc], p[acc], dp[acc], sc[acc] = wn[ok], pn[ok], dpn[ok], scn[ok]
            # a step at rounding level that cannot improve: stop iterating that point
            tiny = ~ok & (np.abs(t * step) <= 4 * EPS * np.abs(w[act]))
            alive[act[tiny]] = False
            rest = ~ok & ~tiny
            act, step = act[rest], step[rest]
            t *= 0.5
        alive[act] = False  # 40 halvings without progress
    # one last Newton step everywhere, kept where it does not raise the residual: the
    # acceptance test stops at RESIDUAL_FACTOR * eps, this brings most points to ~eps
    wn = w + (z - p) / dp
    fin = np.isfinite(wn) & (wn.imag > 0)
    if fin.any():
        idx = fin.nonzero()[0]
        pn, dpn, scn = terms(wn[idx])
        better = np.abs(pn - z[idx]) <= np.abs(p[idx] - z[idx])
        if keep_image:
            better &= (z[idx].imag == 0) | (pn.imag > 0)
        acc = idx[better]
        w[acc], p[acc], dp[acc], sc[acc] = wn[acc], pn[better], dpn[better], scn[better]
    rel = np.abs(p - z) / (az + sc)
    return w, rel <= RESIDUAL_FACTOR * EPS, rel


def bracketed_newton(
    fun: Callable[[FloatArray, NDArray[np.intp]], tuple[FloatArray, FloatArray]],
    lo: FloatArray,
    hi: FloatArray,
    x0: FloatArray,
    *,
    increasing: bool | NDArray[np.bool_],
    maxiter: int = 200,
) -> FloatArray:
    """Root of a monotone function in ``(lo, hi)`` by Newton steps safeguarded by bisection.

    ``fun(x, idx)`` returns value and derivative at ``x`` for the entries ``idx``.
    Iterates until the bracket or the step is at rounding level; an entry still
    iterating after ``maxiter`` steps raises :class:`NoConvergence`. The entries still
    iterating are kept packed (a finished one is dropped from every array), so an
    iteration costs a few dozen small vector operations and no scattered indexing.
    """
    lo, hi = lo.astype(float), hi.astype(float)
    floor = EPS * (np.abs(lo) + np.abs(hi))  # absolute tolerance for roots at 0
    x = np.clip(x0.astype(float), lo, hi)
    inc = np.broadcast_to(np.asarray(increasing), x.shape)
    root = x.copy()
    act = np.arange(x.size)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(maxiter):
            if act.size == 0:
                break
            deadline.check()
            val, der = fun(x, act)
            sgn = np.where(inc, val, -val)
            hi = np.where(sgn > 0, x, hi)
            lo = np.where(sgn < 0, x, lo)
            step = val / der
            tol = 4 * EPS * np.abs(x) + floor
            # converged: a Newton step at rounding level (taken whichever side of the
            # bracket it lands: at that size the sign of val is noise) or a tiny bracket
            small = np.isfinite(step) & (np.abs(step) <= tol)
            zero = val == 0
            done = zero | small | (hi - lo <= tol)
            xn = x - step
            out = ~np.isfinite(xn) | (xn <= lo) | (xn >= hi)
            xn = np.where(out & ~small, 0.5 * (lo + hi), xn)
            xn = np.where(zero, x, xn)
            if not done.any():
                x = xn
                continue
            root[act[done]] = xn[done]
            keep = ~done
            act, x, lo, hi = act[keep], xn[keep], lo[keep], hi[keep]
            inc, floor = inc[keep], floor[keep]
    if act.size:
        raise NoConvergence(
            f"root bracketing stopped at its cap of {maxiter} steps with {act.size} of "
            f"{root.size} roots unresolved (first near x = {x[0]!r}, bracket "
            f"[{lo[0]!r}, {hi[0]!r}])"
        )
    return root

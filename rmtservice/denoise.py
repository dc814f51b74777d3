"""Denoising an observed matrix with noise of known variance (docs/theory/denoise.md).

The estimate keeps the observed singular (eigen) vectors and replaces each observed value
by a new one. Two models, with the conventions of docs/theory:

- ``rectangular``: ``Y = S + X``, n x p, ``c = p/n``, X with i.i.d. entries of variance
  ``sigma2/n``; the values are the ``m = min(n, p)`` singular values ``y_i`` of Y.
- ``wigner``: ``M = H + W``, symmetric n x n, W Wigner (off-diagonal variance
  ``sigma2/n``, diagonal ``2 sigma2/n``); the values are the eigenvalues ``lambda_i``.

Methods (x = lambda - c0 in the symmetric model, c0 the bulk centre: the median of the
eigenvalues unless given; the values inside the bulk are set to c0, which is 0 in the
rectangular model):

- ``none``: the observed matrix itself (the baseline).
- ``hard``: keep the values outside the bulk of the noise (MP-pruning), edge
  ``sqrt(sigma2)(1 + sqrt c)``, or ``c0 +- 2 sigma``.
- ``optimal_hard``: Gavish and Donoho's threshold ``lambda*(c) sqrt(sigma2)`` (the
  formula is unchanged under ``c -> 1/c`` with the transposed frame's noise level
  ``sigma2 c``, so it holds for every c as written); symmetric: ``c0 +- (4/sqrt 3) sigma``,
  the point where keeping an outlier ``theta + sigma2/theta`` costs as much as dropping
  it (``theta = sqrt 3 sigma``; the square rectangular case gives the same
  ``lambda*(1) = 4/sqrt 3``).
- ``shrink``: optimal shrinkage of spikes over a pure-noise bulk (Frobenius loss),
  ``eta(y) = sqrt((y^2 - sigma2(1 + c))^2 - 4 c sigma2^2) / y`` above the edge, the spike
  times both overlaps; symmetric ``c0 + sign(x) sqrt(x^2 - 4 sigma2)``, the spike
  ``theta`` times its overlap ``1 - sigma2/theta^2``.
- ``rie``: the rotation-invariant estimator, for a signal that is not low rank:
  ``xi(lambda) = lambda + 2 sigma2 Re f(lambda + i0)`` (Bun, Bouchaud and Potters 2016) and
  ``xi(y) = y - sigma2 (g_n(y) + c g_p(y))``, ``g_n(z) = (1/n) sum_j z/(z^2 - y_j^2)`` over
  the n singular values padded with zeros, ``g_p`` the same over p. The transforms are
  those of the observed spectrum at ``z = x + i eta``, corrected to first order,
  ``g(x + i0) ~ g(z) - i eta g'(z)`` (the smoothing bias falls from ``O(eta)`` to
  ``O(eta^2)``), with ``eta`` the 95 % spread of the observed values over ``sqrt(m)``.
  Rectangular values below 0 (noise, where the signal is nearly 0) are set to 0.
- ``oracle`` (needs the true signal): ``xi_i = <u_i, S v_i>``, the best any estimator
  that keeps the observed vectors can do in Frobenius norm.

**Predicted errors.** For any new values ``v_i``,
``||S_hat - S||^2 = ||S||^2 - 2 sum v_i o_i + sum v_i^2`` exactly, ``o_i = <u_i, S v_i>``.
Two estimates of ``||S||^2`` and of ``o_i``, from the model and the observed spectrum:

- a bulk of pure noise (noise plus spikes): the values beyond the 0.999 Tracy-Widom
  quantile of the edge are the spikes' outliers, ``o_i`` is their shrinkage value above
  and 0 (c0) for all others, and ``||S||^2`` the sum of the squared spikes recovered by
  the inverse map (plus ``n c0^2``);
- otherwise: ``o_i`` is the rotation-invariant value (a consistent estimate of it) and
  ``||S||^2 = ||Y||^2 - p sigma2`` (``||M||^2 - (n + 1) sigma2``).

The first is chosen when the energy of the data over that of the noise and the spikes is
within 3 standard deviations of 0 (Gaussian noise: ``sqrt(2c) sigma2`` for the
rectangular model, ``2 sigma2`` for the symmetric one, plus the signal's cross term),
unless the caller says which (``noise_bulk``, e.g. the fit's verdict). ``||S||^2`` is at
least ``sum o_i^2`` (Bessel) and at least the energy of the weakest detectable spike, so a
relative error is always finite; the zero estimate has relative error 1.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from numpy.typing import ArrayLike, NDArray

from rmtservice import rectangular as rr
from rmtservice._solve import MAX_ABS, check_sigma2
from rmtservice.density import boundary_values
from rmtservice.errors import InvalidParameter, NoConvergence
from rmtservice.fit import DEFAULT_BOOTSTRAP, Fit
from rmtservice.fit import fit as fit_spectrum
from rmtservice.measures import Measure

__all__ = [
    "METHODS",
    "MODELS",
    "OUTPUTS",
    "Denoised",
    "Factors",
    "Shrinkage",
    "denoise",
    "denoise_eigh",
    "denoise_svd",
    "limit_rie",
    "optimal_hard_threshold",
    "oracle_values",
    "shrinkage",
]

FloatArray = NDArray[np.float64]
ComplexArray = NDArray[np.complex128]

MODELS = ("wigner", "rectangular")
#: the methods whose values and predicted errors come from the spectrum alone
METHODS = ("none", "hard", "optimal_hard", "shrink", "rie")
#: what ``method`` accepts: the above, ``auto`` and ``oracle`` (needs the true signal)
CHOICES = (*METHODS, "auto", "oracle")
OUTPUTS = ("values", "factors", "matrix")
#: the candidates of ``auto``, in order of preference on a tie
AUTO = ("shrink", "rie", "optimal_hard", "hard")

DESCRIPTION = {
    "none": "doing nothing",
    "hard": "pruning to the bulk edge",
    "optimal_hard": "the optimal hard threshold",
    "shrink": "optimal shrinkage",
    "rie": "the rotation-invariant estimator",
    "oracle": "the oracle",
}

#: the Tracy-Widom (beta = 1) 0.999 quantile: values beyond the edge by this many
#: Tracy-Widom units count as spikes in the signal's energy (a noise edge value passes it
#: once in a thousand matrices; at 0.99, 2.0234, once in a hundred, each adding about the
#: weakest detectable spike's energy to the estimate)
TW1_999 = 3.2722
#: the bulk is taken for pure noise when its excess energy is below this many sd
NOISE_BULK_Z = 3.0
#: the evaluation points of the transforms are processed this many at a time (memory)
CHUNK = 256
#: spectra spanning more noise standard deviations than this are refused
MAX_RATIO = 1e50
#: a symmetric matrix: ``max |a - a^T| <= SYMMETRY_RTOL * max |a|``
SYMMETRY_RTOL = 1e-12


def optimal_hard_threshold(aspect_ratio: float) -> float:
    """Gavish and Donoho's optimal hard threshold in units of ``sqrt(sigma2)``.

    Parameters
    ----------
    aspect_ratio : float
        ``c = p/n`` of an n x p matrix whose noise entries have variance ``sigma2/n``.

    Returns
    -------
    float
        ``lambda*(c) = sqrt(2(c + 1) + 8c / ((c + 1) + sqrt(c^2 + 14c + 1)))``.
        ``lambda*(1/c) sqrt(c) = lambda*(c)``: the transposed frame gives the same.

    Raises
    ------
    InvalidParameter
        ``aspect_ratio`` not positive and finite.

    Examples
    --------
    >>> round(optimal_hard_threshold(1.0) ** 2, 12)  # 16/3
    5.333333333333
    """
    c = float(aspect_ratio)
    if not (math.isfinite(c) and c > 0):
        raise InvalidParameter(f"aspect_ratio must be > 0, got {c!r}", field="aspect_ratio")
    return math.sqrt(2.0 * (c + 1.0) + 8.0 * c / ((c + 1.0) + math.sqrt(c * c + 14.0 * c + 1.0)))


# ------------------------------------------------------------------ the spectrum


@dataclass(frozen=True, eq=False)
class _Spectrum:
    """Observed values (descending) in units of ``sqrt(sigma2)``, with the model."""

    values: FloatArray
    model: str
    rows: int
    cols: int
    scale: float  # sqrt(sigma2)
    centre: float  # wigner: the bulk centre c0, in units of the scale; 0 for rectangular

    @property
    def rectangular(self) -> bool:
        return self.model == "rectangular"

    @property
    def c(self) -> float:
        return self.cols / self.rows

    @property
    def noise_energy(self) -> float:
        """``E ||X||^2 = p`` or ``E ||W||^2 = n + 1`` (unit noise)."""
        return float(self.cols) if self.rectangular else float(self.rows + 1)


def _check_choice(name: str, value: object, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidParameter(
            f"{name} must be one of {', '.join(allowed)}; got {value!r}", field=name
        )
    return value


def _spectrum(
    values: ArrayLike,
    sigma2: float,
    model: str,
    shape: tuple[int, int] | None,
    centre: float | None,
) -> tuple[_Spectrum, NDArray[np.intp]]:
    """Validate a spectrum; the spectrum and the order that sorts it descending."""
    model = _check_choice("model", model, MODELS)
    s2 = check_sigma2(sigma2)
    if s2 > MAX_ABS:
        raise InvalidParameter(f"sigma2 must be at most {MAX_ABS:.0e}", field="sigma2")
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size == 0:
        raise InvalidParameter(
            f"values must be a non-empty 1-D array, got shape {v.shape}", field="values"
        )
    if not np.all(np.isfinite(v)):
        raise InvalidParameter("values must contain finite numbers only", field="values")
    rows, cols = _shape(model, shape, v.size)
    if model == "rectangular" and np.any(v < 0):
        raise InvalidParameter("singular values must be >= 0", field="values")
    scale = math.sqrt(s2)
    if float(np.max(np.abs(v))) / scale > MAX_RATIO:
        raise InvalidParameter(
            f"the values span more than {MAX_RATIO:.0e} noise standard deviations; "
            "rescale the matrix and sigma2 together",
            field="sigma2",
        )
    order = np.argsort(-v, kind="stable")
    x = v[order] / scale
    c0 = 0.0
    if model == "wigner":
        c0 = float(np.median(x)) if centre is None else _centre(centre) / scale
    return _Spectrum(x, model, rows, cols, scale, c0), order


def _centre(centre: float) -> float:
    c0 = float(centre)
    if not math.isfinite(c0):
        raise InvalidParameter(f"centre must be finite, got {c0!r}", field="centre")
    return c0


def _shape(model: str, shape: tuple[int, int] | None, size: int) -> tuple[int, int]:
    """(rows, cols): the rectangular model needs the shape; ``min(shape)`` values."""
    if model == "wigner":
        if shape is not None and tuple(shape) != (size, size):
            raise InvalidParameter(
                f"shape must be ({size}, {size}) for {size} eigenvalues, got {tuple(shape)}",
                field="shape",
            )
        return size, size
    if shape is None or len(shape) != 2:
        raise InvalidParameter("shape = (rows, cols) is needed for singular values", field="shape")
    rows, cols = (int(s) for s in shape)
    if rows < 1 or cols < 1:
        raise InvalidParameter(f"shape must be positive, got {(rows, cols)}", field="shape")
    if min(rows, cols) != size:
        raise InvalidParameter(
            f"a {rows} x {cols} matrix has min(rows, cols) = {min(rows, cols)} singular "
            f"values; got {size}",
            field="values",
        )
    return rows, cols


# ------------------------------------------------------------------- the methods


def _edge(sp: _Spectrum) -> float:
    """Distance from the centre to the edge of the noise's bulk (unit noise)."""
    return 1.0 + math.sqrt(sp.c) if sp.rectangular else 2.0


def _threshold(sp: _Spectrum) -> float:
    """Gavish-Donoho's threshold (from the centre), unit noise."""
    return optimal_hard_threshold(sp.c) if sp.rectangular else 4.0 / math.sqrt(3.0)


def _hard(sp: _Spectrum, tau: float) -> FloatArray:
    x = sp.values - sp.centre
    return np.where(np.abs(x) > tau, sp.values, sp.centre)


def _shrink(sp: _Spectrum) -> FloatArray:
    """Optimal shrinkage over a pure-noise bulk: the spike times its overlap(s)."""
    x = sp.values - sp.centre
    out = np.abs(x) > _edge(sp)
    if sp.rectangular:
        # sqrt((x^2 - (1 + c))^2 - 4c) / x, without forming x^4
        c, w = sp.c, 1.0 / np.where(out, x, 1.0) ** 2
        eta = x * np.sqrt(np.maximum((1.0 - (1.0 + c) * w) ** 2 - 4.0 * c * w * w, 0.0))
    else:
        eta = np.sign(x) * np.sqrt(np.maximum(x * x - 4.0, 0.0))
    return sp.centre + np.where(out, eta, 0.0)


def _spikes(sp: _Spectrum) -> FloatArray:
    """The spikes (from the centre) of the values beyond the Tracy-Widom 0.999 quantile of
    the edge, by the inverse map of a pure-noise bulk; 0 for the others."""
    x = sp.values - sp.centre
    n, p = sp.rows, sp.cols
    if sp.rectangular:
        # Johnstone: y_max^2 ~ ((sqrt n + sqrt p)^2 + s TW1) / n, s = (sqrt n + sqrt p)
        # (1/sqrt n + 1/sqrt p)^(1/3)
        a = math.sqrt(n) + math.sqrt(p)
        s = a * (1.0 / math.sqrt(n) + 1.0 / math.sqrt(p)) ** (1.0 / 3.0)
        beyond = x * x > (a * a + TW1_999 * s) / n
        # theta^2 = (q + sqrt(q^2 - 4c)) / 2, q = x^2 - (1 + c), in units of x^2
        w = 1.0 / np.where(beyond, x, 1.0) ** 2
        q = 1.0 - (1.0 + sp.c) * w
        t2 = 0.5 * (q + np.sqrt(np.maximum(q * q - 4.0 * sp.c * w * w, 0.0)))
        return np.where(beyond, x * np.sqrt(np.maximum(t2, 0.0)), 0.0)
    beyond = np.abs(x) > 2.0 + TW1_999 * n ** (-2.0 / 3.0)
    theta = 0.5 * (x + np.sign(x) * np.sqrt(np.maximum(x * x - 4.0, 0.0)))
    return np.where(beyond, theta, 0.0)


def _eta(sp: _Spectrum, eta: float | None) -> float:
    """The imaginary part of the evaluation points (unit noise): the spread of the central
    95 % of the values over ``sqrt(m)`` (``n^(-1/2)`` in the spectrum's own scale), or the
    noise bulk's width when the values do not spread (a single value, a zero matrix)."""
    if eta is not None:
        e = float(eta)
        if not (math.isfinite(e) and e > 0):
            raise InvalidParameter(f"eta must be > 0, got {e!r}", field="eta")
        return e / sp.scale
    lo, hi = np.quantile(sp.values, [0.025, 0.975])
    width = float(hi - lo)
    if not width > 0:
        width = 2.0 * min(1.0, math.sqrt(sp.c)) if sp.rectangular else 4.0
    return width / math.sqrt(sp.values.size)


def _transform(sp: _Spectrum, eta: float) -> FloatArray:
    """``Re`` of the observed transform at ``x + i0``, from ``z = x + i eta`` corrected to
    first order, ``g(z) - i eta g'(z)``: ``2 Re f`` (wigner) or ``-(g_n + c g_p)``
    (rectangular), unit noise; ``CHUNK`` points at a time."""
    x = sp.values
    out = np.empty(x.size)
    block = _rectangular_block if sp.rectangular else _wigner_block
    for a in range(0, x.size, CHUNK):
        z = (x[a : a + CHUNK] + 1j * eta).astype(np.complex128)
        out[a : a + CHUNK] = block(sp, z, eta)
    return out


def _rectangular_block(sp: _Spectrum, z: ComplexArray, eta: float) -> FloatArray:
    """``-(g_n + c g_p)``: ``n (g_n + c g_p) = 2 z s1 + |n - p| / z``, ``s1 = sum_j
    1/(z^2 - y_j^2)`` over the m values (the |n - p| padded zeros give ``1/z`` each); its
    derivative ``-2 (s1 + 2 s2) - |n - p| / z^2``, ``s2 = sum_j y_j^2 / (z^2 - y_j^2)^2``."""
    x2 = sp.values * sp.values
    pad = abs(sp.rows - sp.cols)
    r = 1.0 / (z[:, None] ** 2 - x2[None, :])
    s1, s2 = r.sum(axis=1), (r * r) @ x2
    g = 2.0 * z * s1 + pad / z
    g1 = -2.0 * (s1 + 2.0 * s2) - pad / (z * z)
    return -(g - 1j * eta * g1).real / sp.rows


def _wigner_block(sp: _Spectrum, z: ComplexArray, eta: float) -> FloatArray:
    """``2 Re f``: ``f(z) = (1/n) sum_j 1/(lambda_j - z)``, ``f'(z) = (1/n) sum_j
    1/(lambda_j - z)^2``."""
    r = 1.0 / (sp.values[None, :] - z[:, None])
    f = r.mean(axis=1) - 1j * eta * (r * r).mean(axis=1)
    return 2.0 * f.real


def _rie(sp: _Spectrum, eta: float) -> FloatArray:
    xi = sp.values + _transform(sp, eta)
    return np.maximum(xi, 0.0) if sp.rectangular else xi


# ------------------------------------------------------------- predicted errors


@dataclass(frozen=True, eq=False)
class Shrinkage:
    """The new values of every method from a spectrum alone, and their predicted errors.

    Attributes
    ----------
    model : str
        ``"wigner"`` or ``"rectangular"``.
    observed : ndarray
        The observed values, descending.
    values : dict of str to ndarray
        For each of :data:`METHODS`, the new values in the order of ``observed``.
    predicted_error : dict of str to float
        For each of :data:`METHODS`, the predicted ``||S_hat - S||_F / ||S||_F``.
    rank : dict of str to int
        For each method, the number of new values that differ from the centre (from 0).
    sigma2, shape : float, tuple of int
        The noise variance and ``(rows, cols)``.
    centre : float
        The bulk centre c0 (wigner; 0 for rectangular): the estimate is
        ``c0 I + sum (v_i - c0) u_i u_i^T``.
    edge, threshold : float
        Distances from the centre of the noise's bulk edge (``hard``) and of the optimal
        hard threshold (``optimal_hard``).
    eta : float
        The imaginary part used by ``rie`` (in the units of the values).
    signal_energy : float
        The estimate of ``||S||_F^2`` used by the predicted errors.
    noise_bulk : bool
        Whether the errors were predicted for a bulk of pure noise (noise plus spikes).
    excess_sd : float
        The energy of the data beyond the noise and the spikes, in standard deviations of
        the noise's energy (the test behind ``noise_bulk`` when it is not given).
    spikes : int
        The number of values beyond the 0.999 Tracy-Widom margin of the edge.
    """

    model: str
    observed: FloatArray
    values: dict[str, FloatArray]
    predicted_error: dict[str, float]
    rank: dict[str, int]
    sigma2: float
    shape: tuple[int, int]
    centre: float
    edge: float
    threshold: float
    eta: float
    signal_energy: float
    noise_bulk: bool
    excess_sd: float
    spikes: int

    @property
    def best(self) -> str:
        """The candidate of ``auto`` with the smallest predicted error."""
        return min(AUTO, key=lambda k: (self.predicted_error[k], AUTO.index(k)))


def _oracle_estimate(
    sp: _Spectrum, values: dict[str, FloatArray], noise_bulk: bool | None
) -> tuple[FloatArray, float, bool, float, int]:
    """``o_i``, ``||S||^2`` (unit noise), the model used, the excess energy in sd, and the
    number of spikes counted (module docstring)."""
    theta = _spikes(sp)
    k = int(np.count_nonzero(theta))
    spike_energy = float(np.sum((sp.centre + theta) ** 2))
    energy = float(np.sum(sp.values**2)) - sp.noise_energy
    n = sp.rows
    if sp.rectangular:
        var = 2.0 * sp.c + 4.0 * spike_energy / n
    else:
        var = 4.0 + 8.0 * spike_energy / n
    z = (energy - spike_energy) / math.sqrt(var)
    pure = bool(z <= NOISE_BULK_Z) if noise_bulk is None else bool(noise_bulk)
    # an edge value short of the margin is taken for noise (o = c0): the steep shrinker
    # gives it a value that its (near-zero) oracle does not have
    o = np.where(theta != 0, values["shrink"], sp.centre) if pure else values["rie"]
    s2 = spike_energy if pure else energy
    # ||S||^2 >= sum o_i^2 (Bessel); and at least the weakest detectable spike's energy
    # (c^(1/2) sigma2, sigma2), so that no relative error divides by 0
    floor = math.sqrt(sp.c) if sp.rectangular else 1.0
    s2 = max(s2, float(o @ o), floor)
    return o, s2, pure, z, k


def _rank(v: FloatArray, centre: float) -> int:
    """The values kept: away from ``centre`` by more than rounding of the largest (the
    rotation-invariant values of an exactly rank-deficient matrix are 1e-17, not 0)."""
    d = np.abs(v - centre)
    top = float(np.max(d)) if d.size else 0.0
    return int(np.count_nonzero(d > 64.0 * np.finfo(float).eps * top))


def _shrinkage(sp: _Spectrum, eta: float | None, noise_bulk: bool | None) -> Shrinkage:
    e = _eta(sp, eta)
    values = {
        "none": sp.values,
        "hard": _hard(sp, _edge(sp)),
        "optimal_hard": _hard(sp, _threshold(sp)),
        "shrink": _shrink(sp),
        "rie": _rie(sp, e),
    }
    o, s2, pure, z, k = _oracle_estimate(sp, values, noise_bulk)
    pred = {}
    for name, v in values.items():
        err2 = s2 - 2.0 * float(v @ o) + float(v @ v)
        pred[name] = math.sqrt(max(err2, 0.0) / s2)
    for name, v in values.items():
        if not np.all(np.isfinite(v)) or not math.isfinite(pred[name]):
            raise NoConvergence(f"the {name} estimate is not finite")
    sc = sp.scale
    return Shrinkage(
        model=sp.model,
        observed=sp.values * sc,
        values={name: v * sc for name, v in values.items()},
        predicted_error=pred,
        rank={name: _rank(v, sp.centre) for name, v in values.items()},
        sigma2=sc * sc,
        shape=(sp.rows, sp.cols),
        centre=sp.centre * sc,
        edge=_edge(sp) * sc,
        threshold=_threshold(sp) * sc,
        eta=e * sc,
        signal_energy=s2 * sc * sc,
        noise_bulk=pure,
        excess_sd=z,
        spikes=k,
    )


def shrinkage(
    values: ArrayLike,
    sigma2: float,
    *,
    model: str = "rectangular",
    shape: tuple[int, int] | None = None,
    centre: float | None = None,
    eta: float | None = None,
    noise_bulk: bool | None = None,
) -> Shrinkage:
    """The new values of every method and their predicted errors, from a spectrum alone.

    Parameters
    ----------
    values : array_like
        All the singular values of an n x p matrix (``min(n, p)`` of them), or all the
        eigenvalues of a symmetric one; any order.
    sigma2 : float
        The noise variance (entries of variance ``sigma2/n``; docs/theory/rectangular.md).
    model : {"rectangular", "wigner"}
    shape : tuple of int, optional
        ``(n, p)``; required for singular values.
    centre : float, optional
        Wigner: the bulk centre (default: the median eigenvalue).
    eta : float, optional
        The imaginary part of the points where ``rie`` evaluates the observed transforms
        (default: the 95 % spread of the values over ``sqrt(m)``).
    noise_bulk : bool, optional
        Whether the bulk is pure noise (e.g. the fit's verdict); by default decided from
        the data's energy (module docstring).

    Returns
    -------
    Shrinkage
        New values per method (in the order of ``observed``, descending) and predicted
        relative Frobenius errors.

    Raises
    ------
    InvalidParameter
        Non-finite or negative singular values, a wrong count for the shape,
        ``sigma2 <= 0``, an unknown model.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.linalg.svd(rng.standard_normal((400, 200)) / 20, compute_uv=False)
    >>> sh = shrinkage(y, 1.0, shape=(400, 200))
    >>> sh.noise_bulk, sh.rank["shrink"], sh.rank["optimal_hard"]
    (True, 0, 0)
    """
    sp, _ = _spectrum(values, sigma2, model, shape, centre)
    return _shrinkage(sp, eta, noise_bulk)


# ------------------------------------------------------------------- denoising


@dataclass(frozen=True, eq=False)
class Factors:
    """The estimate as ``centre I + u diag(values) vt`` (``centre`` 0 when rectangular),
    over the ``rank`` values that differ from the centre."""

    u: FloatArray
    values: FloatArray
    vt: FloatArray
    centre: float

    def matrix(self) -> FloatArray:
        """The estimate as a dense matrix."""
        a = (self.u * self.values) @ self.vt
        if self.centre != 0.0:
            a[np.diag_indices(a.shape[0])] += self.centre
        return a


@dataclass(frozen=True, eq=False)
class Denoised:
    """A denoised matrix: the method used and why, the new values, the predicted errors.

    Attributes
    ----------
    model : str
        ``"wigner"`` or ``"rectangular"``.
    method : str
        The method used (for ``auto``: the one chosen).
    reason : str
        A sentence saying why that method (``auto``) or how it compares (otherwise).
    values : ndarray
        The new eigen/singular values, in the order of ``observed``.
    observed : ndarray
        The observed values, descending.
    rank : int
        The number of new values that differ from ``centre`` (rectangular: non-zero).
    predicted_error : dict of str to float
        For each of :data:`METHODS`, the predicted ``||S_hat - S||_F / ||S||_F`` from the
        model and the observed spectrum.
    error : float or None
        The measured relative error when the true signal was given, else None.
    shrinkage : Shrinkage
        Every method's values and the quantities behind the predicted errors.
    factors : Factors or None
        With ``output="factors"``.
    matrix : ndarray or None
        With ``output="matrix"``.
    fit : Fit or None
        The fit of the observed spectrum (:func:`rmtservice.fit.fit`) when ``sigma2``
        was not given (its noise level, centre and verdict were used) or a fit was asked
        for; else None.
    """

    model: str
    method: str
    reason: str
    values: FloatArray
    observed: FloatArray
    rank: int
    predicted_error: dict[str, float]
    shrinkage: Shrinkage
    error: float | None = None
    factors: Factors | None = None
    matrix: FloatArray | None = None
    fit: Fit | None = None

    @property
    def sigma2(self) -> float:
        return self.shrinkage.sigma2

    @property
    def centre(self) -> float:
        return self.shrinkage.centre


def _matrix(matrix: ArrayLike, name: str = "matrix") -> FloatArray:
    try:
        a = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidParameter(f"{name} must be a 2-D array of numbers", field=name) from exc
    if a.ndim != 2:
        raise InvalidParameter(f"{name} must be 2-D, got shape {a.shape}", field=name)
    if a.size == 0:
        raise InvalidParameter(f"{name} must not be empty, got shape {a.shape}", field=name)
    if not np.all(np.isfinite(a)):
        raise InvalidParameter(f"{name} entries must be finite numbers", field=name)
    if float(np.max(np.abs(a))) > MAX_ABS:
        raise InvalidParameter(f"{name} entries must be at most {MAX_ABS:.0e}", field=name)
    return a


def _asymmetry(a: FloatArray) -> float:
    """``max |a - a^T|`` relative to ``max |a|`` (inf when not square)."""
    if a.shape[0] != a.shape[1]:
        return math.inf
    scale = float(np.max(np.abs(a)))
    return float(np.max(np.abs(a - a.T))) / max(scale, 1e-300)


def _reason(sh: Shrinkage, method: str, requested: str) -> str:
    pe = sh.predicted_error
    others = [k for k in AUTO if k != method]
    against = ", ".join(f"{pe[k]:.3g} for {DESCRIPTION[k]}" for k in others)
    if requested == "oracle":
        return "the oracle was requested: it needs the true signal and is for benchmarks only"
    if requested != "auto":
        best = sh.best
        tail = (
            "" if best == method else f" (the best predicted: {DESCRIPTION[best]}, {pe[best]:.3g})"
        )
        return f"{DESCRIPTION[method]} was requested: predicted error {pe[method]:.3g}{tail}"
    if sh.noise_bulk:
        why = (
            f"the bulk looks like pure noise at sigma2 = {sh.sigma2:.3g} "
            f"({sh.spikes} value(s) beyond its edge)"
        )
    else:
        why = (
            f"the signal is not low rank (the data hold {sh.excess_sd:.3g} standard "
            f"deviations more energy than the noise plus the {sh.spikes} value(s) beyond "
            "its edge taken as spikes)"
        )
    out = f"{why}: {DESCRIPTION[method]} is predicted to give {pe[method]:.3g} against {against}"
    if pe["hard"] > pe["none"]:
        out += f"; pruning to the edge is worse than doing nothing ({pe['none']:.3g})"
    return out


def _select(sh: Shrinkage, method: str) -> tuple[str, str]:
    chosen = sh.best if method == "auto" else method
    return chosen, _reason(sh, chosen, method)


def oracle_values(u: ArrayLike, vt: ArrayLike, signal: ArrayLike) -> FloatArray:
    """``<u_i, S v_i>`` for the columns ``u_i`` of u and the rows ``v_i`` of vt.

    The best any estimator that keeps these vectors can do in Frobenius norm (for tests
    and benchmarks: it needs the true signal S, or H with ``vt = u.T``).

    Parameters
    ----------
    u : array_like
        n x m, the observed left singular vectors (eigenvectors) as columns.
    vt : array_like
        m x p, the observed right singular vectors as rows (``u.T`` for a symmetric
        matrix).
    signal : array_like
        The true n x p signal.

    Returns
    -------
    ndarray
        The m oracle values.

    Raises
    ------
    InvalidParameter
        A signal whose shape does not match ``u`` and ``vt``.

    Examples
    --------
    >>> s = np.diag([3.0, 1.0])
    >>> oracle_values(np.eye(2), np.eye(2), s).tolist()  # the vectors of s itself
    [3.0, 1.0]
    """
    u, vt, s = np.asarray(u, float), np.asarray(vt, float), np.asarray(signal, float)
    if s.shape != (u.shape[0], vt.shape[1]):
        raise InvalidParameter(
            f"signal must be {u.shape[0]} x {vt.shape[1]}, got shape {s.shape}", field="signal"
        )
    return np.einsum("ij,ij->i", u.T @ s, vt)


Vectors = tuple[FloatArray, FloatArray]


def _truth(vectors: Vectors | None, signal: ArrayLike | None) -> tuple[FloatArray, FloatArray]:
    """The true signal and its oracle values (``method="oracle"`` or ``signal`` given)."""
    if signal is None or vectors is None:
        raise InvalidParameter("method oracle needs the true signal", field="signal")
    s = _matrix(signal, "signal")
    return s, oracle_values(vectors[0], vectors[1], s)


def _relative(estimate: FloatArray, signal: FloatArray) -> float | None:
    """``||estimate - signal|| / ||signal||`` (None for a zero signal)."""
    norm = float(np.linalg.norm(signal))
    return float(np.linalg.norm(estimate - signal)) / norm if norm > 0 else None


def _finish(
    sp: _Spectrum,
    order: NDArray[np.intp],
    vectors: Vectors | None,
    method: str,
    output: str,
    eta: float | None,
    noise_bulk: bool | None,
    signal: ArrayLike | None,
) -> Denoised:
    """The common end of :func:`denoise`, :func:`denoise_svd` and :func:`denoise_eigh`."""
    sh = _shrinkage(sp, eta, noise_bulk)
    if vectors is not None:
        vectors = vectors[0][:, order], vectors[1][order]
    truth = _truth(vectors, signal) if method == "oracle" or signal is not None else None
    chosen, reason = _select(sh, method)
    values = truth[1] if truth is not None and chosen == "oracle" else sh.values[chosen]
    c0 = sh.centre
    factors = mat = None
    if vectors is not None and (output != "values" or truth is not None):
        keep = values != c0
        u, vt = vectors
        factors = Factors(u[:, keep], values[keep] - c0, vt[keep], c0)
        if output == "matrix" or truth is not None:
            mat = factors.matrix()
    err = _relative(mat, truth[0]) if mat is not None and truth is not None else None
    return Denoised(
        model=sp.model,
        method=chosen,
        reason=reason,
        values=values,
        observed=sh.observed,
        rank=_rank(values, c0),
        predicted_error=sh.predicted_error,
        shrinkage=sh,
        error=err,
        factors=factors if output == "factors" else None,
        matrix=mat if output == "matrix" else None,
    )


def _check_options(method: str, output: str) -> None:
    _check_choice("method", method, CHOICES)
    _check_choice("output", output, OUTPUTS)


def denoise(
    matrix: ArrayLike,
    sigma2: float | None = None,
    *,
    method: str = "auto",
    model: str | None = None,
    output: str = "values",
    centre: float | None = None,
    eta: float | None = None,
    noise_bulk: bool | None = None,
    signal: ArrayLike | None = None,
    with_fit: bool | None = None,
    alpha: float = 0.01,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    seed: int | None = None,
) -> Denoised:
    """Denoise a matrix observed with noise of known or fitted variance.

    Parameters
    ----------
    matrix : array_like
        The observed n x p matrix (``S + X``) or symmetric n x n one (``H + W``).
    sigma2 : float, optional
        The noise variance: entries of X of variance ``sigma2/n`` (n rows); W with
        off-diagonal variance ``sigma2/n`` (docs/theory/symmetric.md and
        rectangular.md). Not given: the spectrum is fitted (:func:`rmtservice.fit.fit`,
        the model "noise plus spikes") and the fit's noise level, centre (wigner, unless
        ``centre`` is given) and verdict (as ``noise_bulk``, unless given) are used.
    method : {"auto", "hard", "optimal_hard", "shrink", "rie", "none", "oracle"}
        ``auto`` takes the smallest predicted error; ``oracle`` needs ``signal``.
    model : {"wigner", "rectangular"}, optional
        Default: ``wigner`` for a symmetric matrix, else ``rectangular``.
    output : {"values", "factors", "matrix"}
        ``values`` needs no singular vectors (the cheapest); ``factors`` gives
        :class:`Factors` over the non-zero new values; ``matrix`` the estimate.
    centre, eta, noise_bulk
        See :func:`shrinkage`.
    signal : array_like, optional
        The true signal (tests and benchmarks): enables ``oracle`` and ``error``.
    with_fit : bool, optional
        Fit the spectrum and return the fit (default: only when ``sigma2`` is not given;
        it must be then). With ``sigma2`` given, the fit takes it as known; its verdict
        is the ``noise_bulk`` of the denoiser (unless given), so the two agree.
    alpha, bootstrap, seed
        Passed to :func:`rmtservice.fit.fit` (the level of its outlier tests, its
        replicates and their seed).

    Returns
    -------
    Denoised

    Raises
    ------
    InvalidParameter
        A matrix that is not 2-D, empty or not finite; ``sigma2 <= 0``; a non-symmetric
        matrix with model ``wigner``; an unknown method, model or output; ``oracle``
        without ``signal``; no ``sigma2`` for a matrix too small to fit (fewer than 10
        values) or ``with_fit=False`` without ``sigma2``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> n, p = 300, 150
    >>> s = np.zeros((n, p)); s[0, 0], s[1, 1] = 4.0, 3.0
    >>> d = denoise(s + rng.standard_normal((n, p)) / np.sqrt(n), 1.0, output="matrix")
    >>> d.method, d.rank, d.matrix.shape
    ('shrink', 2, (300, 150))
    >>> f = denoise(s + rng.standard_normal((n, p)) / np.sqrt(n), seed=0)
    >>> f.method, f.rank, round(f.sigma2, 1), f.fit.verdict.noise_plus_spikes
    ('shrink', 2, 1.0, True)
    """
    _check_options(method, output)
    if sigma2 is None and with_fit is False:
        raise InvalidParameter(
            "without sigma2 the noise level is fitted: with_fit cannot be False",
            field="sigma2",
        )
    a = _matrix(matrix)
    model = _model(a, model)
    vectors = output != "values" or method == "oracle" or signal is not None
    raw, vecs = _decompose(a, model, vectors)
    shape = None if model == "wigner" else (a.shape[0], a.shape[1])
    fitted = None
    if sigma2 is None or with_fit:
        fitted = _fit(raw, model, a.shape, sigma2, alpha, bootstrap, seed)
    if sigma2 is None:
        assert fitted is not None
        sigma2 = fitted.sigma2
        if model == "wigner" and centre is None:
            centre = fitted.center
    if fitted is not None and noise_bulk is None:
        # the answer's fit and its denoiser agree on whether the bulk is noise
        noise_bulk = fitted.verdict.noise_plus_spikes
    sp, order = _spectrum(raw, sigma2, model, shape, centre)
    d = _finish(sp, order, vecs, method, output, eta, noise_bulk, signal)
    if fitted is None:
        return d
    reason = d.reason if fitted.sigma2_interval.method == "given" else d.reason + _fitted(fitted)
    return dataclasses.replace(d, fit=fitted, reason=reason)


def _model(a: FloatArray, model: str | None) -> str:
    """The model of a matrix: given (and checked), or told by its symmetry."""
    asym = _asymmetry(a)
    if model is None:
        model = "wigner" if asym <= SYMMETRY_RTOL else "rectangular"
    model = _check_choice("model", model, MODELS)
    if model == "wigner" and asym > SYMMETRY_RTOL:
        raise InvalidParameter(
            f"model wigner needs a symmetric matrix; max |a_ij - a_ji| / max |a| = {asym:.3g}"
            if math.isfinite(asym)
            else f"model wigner needs a square symmetric matrix, got shape {a.shape}",
            field="matrix",
        )
    return model


def _decompose(a: FloatArray, model: str, vectors: bool) -> tuple[FloatArray, Vectors | None]:
    """The eigen/singular values, and the vectors ``(u, vt)`` when asked for."""
    if model == "wigner":
        sym = 0.5 * (a + a.T)
        if vectors:
            lam, v = scipy.linalg.eigh(sym, check_finite=False)
            return lam, (v, v.T)
        return scipy.linalg.eigvalsh(sym, check_finite=False), None
    if vectors:
        u, y, vt = scipy.linalg.svd(a, full_matrices=False, check_finite=False)
        return y, (u, vt)
    return scipy.linalg.svdvals(a, check_finite=False), None


def _fit(
    raw: FloatArray,
    model: str,
    shape: tuple[int, ...],
    sigma2: float | None,
    alpha: float,
    bootstrap: int,
    seed: int | None,
) -> Fit:
    """The fit of the values, listed in descending order (a matrix's outlier indices)."""
    values = np.sort(raw)[::-1]
    wigner = model == "wigner"
    try:
        return fit_spectrum(
            eigenvalues=values if wigner else None,
            singular_values=None if wigner else values,
            shape=None if wigner else (shape[0], shape[1]),
            sigma2=sigma2,
            alpha=alpha,
            bootstrap=bootstrap,
            seed=seed,
            deconvolve=False,
        )
    except InvalidParameter as exc:
        if exc.field not in ("eigenvalues", "singular_values", "shape"):
            raise
        raise InvalidParameter(
            f"{exc.message}: the noise level cannot be fitted; pass sigma2", field="matrix"
        ) from exc


def _fitted(f: Fit) -> str:
    """What the reason adds when the noise level was fitted."""
    if f.verdict.noise_plus_spikes:
        return f"; sigma2 = {f.sigma2:.4g} fitted (the spectrum looks like noise plus spikes)"
    return (
        f"; sigma2 = {f.sigma2:.4g} fitted, but the bulk does not look like noise plus "
        "spikes: the fitted level then includes the signal's bulk (pass the known sigma2, "
        "e.g. the initialisation's variance times n, for a better estimate)"
    )


def _eigh_finish(
    lam: FloatArray,
    v: FloatArray,
    sigma2: float,
    method: str,
    output: str,
    centre: float | None,
    eta: float | None,
    noise_bulk: bool | None,
    signal: ArrayLike | None,
) -> Denoised:
    sp, order = _spectrum(lam, sigma2, "wigner", None, centre)
    return _finish(sp, order, (v, v.T), method, output, eta, noise_bulk, signal)


def _factor_array(name: str, a: ArrayLike, shape: tuple[int, int] | None = None) -> FloatArray:
    x = _matrix(a, name)
    if shape is not None and x.shape != shape:
        raise InvalidParameter(f"{name} must have shape {shape}, got {x.shape}", field=name)
    return x


def denoise_svd(
    u: ArrayLike,
    s: ArrayLike,
    vt: ArrayLike,
    sigma2: float,
    *,
    method: str = "auto",
    output: str = "values",
    eta: float | None = None,
    noise_bulk: bool | None = None,
    signal: ArrayLike | None = None,
) -> Denoised:
    """:func:`denoise` of ``Y = u diag(s) vt`` from its thin SVD (rectangular model).

    Parameters
    ----------
    u, s, vt : array_like
        As from ``numpy.linalg.svd(y, full_matrices=False)``: u is n x m, s the
        ``m = min(n, p)`` singular values (any order), vt is m x p.
    sigma2, method, output, eta, noise_bulk, signal
        See :func:`denoise`.

    Returns
    -------
    Denoised

    Raises
    ------
    InvalidParameter
        Factors of mismatched shapes or not finite, ``sigma2 <= 0``, an unknown
        method or output, ``oracle`` without ``signal``.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> y = rng.standard_normal((200, 100)) / np.sqrt(200)
    >>> u, s, vt = np.linalg.svd(y, full_matrices=False)
    >>> d = denoise_svd(u, s, vt, 1.0, method="hard", output="factors")
    >>> d.rank, d.factors.u.shape[1]
    (0, 0)
    """
    _check_options(method, output)
    s_arr = np.asarray(s, dtype=float)
    ua = _factor_array("u", u)
    va = _factor_array("vt", vt)
    m = s_arr.size
    if ua.shape[1] != m or va.shape[0] != m:
        raise InvalidParameter(
            f"u must be n x {m} and vt {m} x p for {m} singular values; got {ua.shape} "
            f"and {va.shape}",
            field="u",
        )
    sp, order = _spectrum(s_arr, sigma2, "rectangular", (ua.shape[0], va.shape[1]), None)
    return _finish(sp, order, (ua, va), method, output, eta, noise_bulk, signal)


def denoise_eigh(
    eigenvalues: ArrayLike,
    eigenvectors: ArrayLike,
    sigma2: float,
    *,
    method: str = "auto",
    output: str = "values",
    centre: float | None = None,
    eta: float | None = None,
    noise_bulk: bool | None = None,
    signal: ArrayLike | None = None,
) -> Denoised:
    """:func:`denoise` of a symmetric ``M = v diag(w) v^T`` from its eigendecomposition.

    Parameters
    ----------
    eigenvalues, eigenvectors : array_like
        As from ``numpy.linalg.eigh(m)``: all n eigenvalues (any order) and the n x n
        matrix whose columns are the eigenvectors.
    sigma2, method, output, centre, eta, noise_bulk, signal
        See :func:`denoise`.

    Returns
    -------
    Denoised

    Raises
    ------
    InvalidParameter
        Eigenvectors not ``n x n`` for ``n`` eigenvalues, values not finite,
        ``sigma2 <= 0``, an unknown method or output, ``oracle`` without ``signal``.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> g = rng.standard_normal((300, 300)) / np.sqrt(300)
    >>> spike = np.full((300, 300), 5.0 / 300)  # eigenvalue 5, vector (1, ..., 1)/sqrt(300)
    >>> w, v = np.linalg.eigh((g + g.T) / np.sqrt(2) + spike)
    >>> d = denoise_eigh(w, v, 1.0, centre=0.0)
    >>> d.method, d.rank
    ('shrink', 1)
    """
    _check_options(method, output)
    lam = np.asarray(eigenvalues, dtype=float)
    v = _factor_array("eigenvectors", eigenvectors)
    if v.shape != (lam.size, lam.size):
        raise InvalidParameter(
            f"eigenvectors must be {lam.size} x {lam.size} for {lam.size} eigenvalues, got "
            f"{v.shape}",
            field="eigenvectors",
        )
    return _eigh_finish(lam, v, sigma2, method, output, centre, eta, noise_bulk, signal)


# ------------------------------------------------------- the limit's exact values


def limit_rie(
    measure: Measure,
    sigma2: float,
    x: ArrayLike,
    *,
    aspect_ratio: float | None = None,
) -> FloatArray:
    """The rotation-invariant values of a known (fitted) limit law, exactly at ``x + i0``.

    Parameters
    ----------
    measure : Measure
        The law nu of the eigenvalues of H (symmetric) or of the singular values of S.
    sigma2 : float
    x : array_like
        Eigenvalues (symmetric) or singular values.
    aspect_ratio : float, optional
        ``c = p/n``: the rectangular model; None: the symmetric one.

    Returns
    -------
    ndarray
        ``x + 2 sigma2 Re f_mu(x + i0)`` (symmetric), or
        ``y + sigma2 y Re(m_(y^2) + c m(y^2))`` (rectangular, ``m`` and ``m_`` the
        transforms of the laws of ``Y^T Y`` and ``Y Y^T``): ``-y m_(y^2) = g_n(y)``.

    Raises
    ------
    InvalidParameter
        ``sigma2 <= 0``, points not finite, or ``aspect_ratio`` not positive.
    NoConvergence
        The limit's solver did not reach rounding-level accuracy (not observed).

    Examples
    --------
    >>> from rmtservice.measures import Point
    >>> v = limit_rie(Point(0.0), 1.0, [0.5, 2.5])  # semicircle: 0 inside, sqrt(x^2 - 4)
    >>> np.round(v, 12).tolist()
    [0.0, 1.5]
    """
    pts = np.asarray(x, dtype=float)
    if aspect_ratio is None:
        f = boundary_values(measure, sigma2, pts).f
        return pts + 2.0 * sigma2 * f.real
    bv = rr.boundary_values(measure, sigma2, aspect_ratio, pts)
    c = float(aspect_ratio)
    return pts + sigma2 * pts * (bv.m_companion + c * bv.m).real

"""Analysing every weight matrix of a model file: fit, recommended denoiser, denoised copy.

:func:`analyze` reads a ``.safetensors``, ``.npz`` or ``.npy`` file one tensor at a
time (from its memory map: a model larger than memory can be analysed), and for each
weight matrix (2-D tensors, and convolution kernels ``(out, in, k...)`` read as
``(out, in * prod(k))``, which the row says):

1. one decomposition: the SVD (rectangular model ``Y = S + X``), or the
   eigendecomposition of a square symmetric matrix (model ``wigner``), values only unless
   the denoised model is written;
2. :func:`rmtservice.fit.fit` of that spectrum (noise level, bulk, finite-n edge,
   outliers, goodness of fit, verdict, tail exponent; docs/theory/fit.md);
3. :func:`rmtservice.denoise.shrinkage` at the fitted noise level, told by the fit's
   verdict whether the bulk is pure noise: every method's predicted error and the
   recommended one (``auto``; docs/theory/denoise.md);
4. with ``out``, the denoised matrix from the same factors, written back in the same
   format, names, shapes and dtypes by :func:`rmtservice.io.write_like`.

The decomposition is computed once and shared by the fit and the denoiser, so a
tensor costs one SVD plus the fit's and the shrinkage's work on its ``min(n, p)``
values. Tensors that are not matrices (biases, norms, integer tensors) and matrices
with fewer than ``MIN_VALUES`` singular values or a spectrum the fit refuses (a zero or
constant matrix) are listed as skipped, with the reason; they are copied unchanged into
``out``.

``energy_kept`` is ``||W_hat||_F^2 / ||W||_F^2``, the share of the matrix's squared
Frobenius norm left in the denoised matrix of the method used (``sum v_i^2 / sum y_i^2``
over the new and the observed values, as the estimate keeps the observed vectors).
"""

from __future__ import annotations

import fnmatch
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import scipy.linalg
from numpy.typing import NDArray

from rmtservice import denoise as dn
from rmtservice import io as wio
from rmtservice.errors import InvalidParameter, NoConvergence
from rmtservice.fit import MIN_VALUES, Bulk, Fit, FitOutlier, GoodnessOfFit, Verdict, fit

__all__ = [
    "METHODS",
    "Analysis",
    "Progress",
    "Skipped",
    "TensorAnalysis",
    "analyze",
]

FloatArray = NDArray[np.float64]
#: ``progress(done, total, name)``: called after each selected matrix
Progress = Callable[[int, int, str], None]
#: what ``method`` accepts (the denoiser of the rows and of ``out``)
METHODS = ("auto", "hard", "optimal_hard", "shrink", "rie", "none")
#: a square matrix is symmetric when ``max |a - a^T| <= SYMMETRY_RTOL max |a|``
SYMMETRY_RTOL = dn.SYMMETRY_RTOL


@dataclass(frozen=True, eq=False)
class TensorAnalysis:
    """One weight matrix of a model: its fit and its recommended denoiser.

    Attributes
    ----------
    name : str
        The tensor's name in the file.
    shape : (int, int)
        The matrix analysed, ``(rows, cols)``.
    reshaped_from : tuple of int or None
        The stored shape of a convolution kernel read as ``(out, in * prod(k))``, else
        None; ``how`` says it in words.
    how : str
        ``"2-D"`` or, e.g., ``"4-D convolution kernel (out, in, kh, kw) reshaped to
        (out, in*kh*kw)"``.
    dtype : str
        The stored dtype (``"float32"``, ``"bfloat16"``, ...).
    model : {"wigner", "rectangular"}
        ``wigner`` for a square symmetric matrix (eigenvalues), else ``rectangular``
        (singular values).
    sigma2 : float
        Fitted noise level (entry variance times ``rows``).
    bulk : Bulk
        The fitted noise bulk's edges.
    edge_threshold : float
        The finite-n (Tracy-Widom) threshold at level ``alpha``: values above are signal.
    rank : int
        Number of outliers (values declared signal).
    outliers : tuple of FitOutlier
        The fit's outliers, the largest first.
    energy_kept : float
        ``||W_hat||_F^2 / ||W||_F^2`` for the method used (1 for a zero matrix).
    goodness_of_fit : GoodnessOfFit
        Kolmogorov distance of the bulk to the fitted law and its p-value (None
        without bootstrap replicates).
    tail_exponent : float or None
        Power-law exponent of the top of the spectrum (as WeightWatcher's alpha).
    verdict : Verdict
        Whether the spectrum looks like noise plus spikes, in words.
    recommended_method : str
        The method ``auto`` chooses (the smallest predicted error given the verdict).
    predicted_error : float
        Its predicted relative Frobenius error ``||W_hat - S|| / ||S||``.
    method : str
        The method used for ``energy_kept``, ``values`` and ``out`` (the recommended one
        unless a method was asked for).
    predicted_errors : dict of str to float
        Every method's predicted error (``none``, ``hard``, ``optimal_hard``, ``shrink``,
        ``rie``).
    reason : str
        Why that method, in words (:attr:`rmtservice.denoise.Denoised.reason`).
    observed : ndarray
        The observed values (singular values, or eigenvalues), descending.
    values : ndarray
        The denoised values of ``method``, in the order of ``observed``.
    fit : Fit
        The whole fit.
    seconds : float
        Time spent on this matrix (reading, decomposition, fit, denoising, spilling).
    """

    name: str
    shape: tuple[int, int]
    reshaped_from: tuple[int, ...] | None
    how: str
    dtype: str
    model: str
    sigma2: float
    bulk: Bulk
    edge_threshold: float
    rank: int
    outliers: tuple[FitOutlier, ...]
    energy_kept: float
    goodness_of_fit: GoodnessOfFit
    tail_exponent: float | None
    verdict: Verdict
    recommended_method: str
    predicted_error: float
    method: str
    predicted_errors: dict[str, float]
    reason: str
    observed: FloatArray
    values: FloatArray
    fit: Fit
    seconds: float


@dataclass(frozen=True)
class Skipped:
    """A tensor that was not analysed, and why (``shape`` and ``dtype`` as stored)."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    reason: str


@dataclass(frozen=True, eq=False)
class Analysis:
    """The analysis of a model file.

    Attributes
    ----------
    source : str
        The file's path, or a description of the bytes analysed.
    format : {"npy", "npz", "safetensors"}
    tensors : tuple of TensorAnalysis
        The weight matrices, in the file's order.
    skipped : tuple of Skipped
        The tensors (among those selected by ``names``) that were not analysed.
    method, alpha : str, float
        As passed to :func:`analyze`.
    out : str or None
        Where the denoised model was written (None: not written, or to a file object).
    seconds : float
        Wall time of the whole analysis.
    """

    source: str
    format: str
    tensors: tuple[TensorAnalysis, ...]
    skipped: tuple[Skipped, ...]
    method: str
    alpha: float
    out: str | None
    seconds: float


# ------------------------------------------------------------------ the source


def _source(source: wio.Source | BinaryIO) -> tuple[wio.Source, str]:
    """A path or bytes for rmtservice.io (a file object is read into memory), and a label."""
    if hasattr(source, "read"):
        data = source.read()
        if not isinstance(data, bytes | bytearray):
            raise InvalidParameter("source must be opened in binary mode", field="source")
        return data, f"the data ({len(data)} bytes)"
    if isinstance(source, bytes | bytearray | memoryview):
        return source, f"the data ({memoryview(source).nbytes} bytes)"
    return source, os.fspath(source)


def _check_options(method: str, alpha: float, bootstrap: int) -> None:
    if not isinstance(method, str) or method not in METHODS:
        raise InvalidParameter(
            f"method must be one of {', '.join(METHODS)}; got {method!r}", field="method"
        )
    try:
        a = float(alpha)
    except (TypeError, ValueError) as exc:
        raise InvalidParameter(
            f"alpha must be a number in (0, 1), got {alpha!r}", field="alpha"
        ) from exc
    if not 0.0 < a < 1.0:
        raise InvalidParameter(f"alpha must be in (0, 1), got {alpha!r}", field="alpha")
    if isinstance(bootstrap, bool) or not isinstance(bootstrap, int) or bootstrap < 0:
        raise InvalidParameter(
            f"bootstrap must be an integer >= 0, got {bootstrap!r}", field="bootstrap"
        )


def _selected(name: str, names: wio.NameFilter) -> bool:
    """Whether ``names`` (as :func:`rmtservice.io.iter_matrices` reads it) picks ``name``."""
    if names is None:
        return True
    if isinstance(names, re.Pattern):
        return names.search(name) is not None
    if isinstance(names, str):
        return fnmatch.fnmatchcase(name, names) if any(c in names for c in "*?[") else name == names
    return name in set(names)


def _skipped(tensors: list[wio.TensorInfo], names: wio.NameFilter) -> list[Skipped]:
    return [
        Skipped(t.name, t.shape, t.dtype, t.skip_reason)
        for t in tensors
        if t.skip_reason is not None and _selected(t.name, names)
    ]


def _too_small(info: wio.MatrixInfo) -> Skipped:
    rows, cols = info.matrix_shape
    return Skipped(
        info.name,
        info.shape,
        info.dtype,
        f"{min(rows, cols)} singular values ({rows} x {cols}); a fit needs at least {MIN_VALUES}",
    )


# ------------------------------------------------------------------ one matrix


@dataclass(frozen=True, eq=False)
class _Decomposition:
    """Values (any order) and, when asked, the factors: ``(u, vt)`` or ``(v, v^T)``."""

    model: str
    values: FloatArray
    vectors: tuple[FloatArray, FloatArray] | None


def _symmetric(a: FloatArray) -> bool:
    if a.shape[0] != a.shape[1]:
        return False
    scale = float(np.max(np.abs(a)))
    return float(np.max(np.abs(a - a.T))) <= SYMMETRY_RTOL * max(scale, 1e-300)


def _decompose(a: FloatArray, vectors: bool) -> _Decomposition:
    """One SVD (or eigendecomposition), shared by the fit and the denoiser."""
    if _symmetric(a):
        if vectors:
            lam, v = scipy.linalg.eigh(a, check_finite=False, driver="evd")
            return _Decomposition("wigner", lam, (v, v.T))
        lam = scipy.linalg.eigh(a, eigvals_only=True, check_finite=False, driver="evd")
        return _Decomposition("wigner", lam, None)
    if vectors:
        u, s, vt = scipy.linalg.svd(a, full_matrices=False, check_finite=False)
        return _Decomposition("rectangular", s, (u, vt))
    return _Decomposition("rectangular", scipy.linalg.svdvals(a, check_finite=False), None)


def _fit(dec: _Decomposition, shape: tuple[int, int], alpha: float, boot: int, seed: Any) -> Fit:
    if dec.model == "wigner":
        return fit(eigenvalues=dec.values, alpha=alpha, bootstrap=boot, seed=seed)
    return fit(singular_values=dec.values, shape=shape, alpha=alpha, bootstrap=boot, seed=seed)


def _shrinkage(dec: _Decomposition, shape: tuple[int, int], f: Fit) -> dn.Shrinkage:
    centre = f.center if dec.model == "wigner" else None
    return dn.shrinkage(
        dec.values,
        f.sigma2,
        model=dec.model,
        shape=shape,
        centre=centre,
        noise_bulk=f.verdict.noise_plus_spikes,
    )


def _denoised_matrix(dec: _Decomposition, sh: dn.Shrinkage, method: str) -> FloatArray:
    """``centre I + sum (v_i - centre) u_i v_i^T`` over the values that moved, from the
    decomposition's factors (sorted as ``observed``, descending)."""
    assert dec.vectors is not None
    order = np.argsort(-dec.values, kind="stable")
    u, vt = dec.vectors[0][:, order], dec.vectors[1][order]
    v = sh.values[method]
    keep = v != sh.centre
    return dn.Factors(u[:, keep], v[keep] - sh.centre, vt[keep], sh.centre).matrix()


def _energy(observed: FloatArray, values: FloatArray) -> float:
    total = float(observed @ observed)
    return float(values @ values) / total if total > 0 else 1.0


def _row(
    info: wio.MatrixInfo,
    dec: _Decomposition,
    f: Fit,
    sh: dn.Shrinkage,
    method: str,
    seconds: float,
) -> TensorAnalysis:
    chosen = sh.best if method == "auto" else method
    reason = dn._reason(sh, chosen, method)
    values = sh.values[chosen]
    return TensorAnalysis(
        name=info.name,
        shape=info.matrix_shape,
        reshaped_from=info.shape if info.reshaped else None,
        how=info.how,
        dtype=info.dtype,
        model=dec.model,
        sigma2=f.sigma2,
        bulk=f.bulk,
        edge_threshold=f.edge_threshold,
        rank=f.rank,
        outliers=f.outliers,
        energy_kept=_energy(sh.observed, values),
        goodness_of_fit=f.goodness_of_fit,
        tail_exponent=None if f.tail is None else f.tail.exponent,
        verdict=f.verdict,
        recommended_method=sh.best,
        predicted_error=sh.predicted_error[sh.best],
        method=chosen,
        predicted_errors=dict(sh.predicted_error),
        reason=reason,
        observed=sh.observed,
        values=values,
        fit=f,
        seconds=seconds,
    )


class _Spill:
    """The denoised matrices, each written to a float64 file in a temporary folder as it
    is made and memory-mapped, so that memory holds one matrix at a time."""

    def __init__(self, folder: str) -> None:
        self._folder = folder
        self.arrays: dict[str, np.memmap[Any, np.dtype[np.float64]]] = {}

    def add(self, name: str, a: FloatArray) -> None:
        path = os.path.join(self._folder, f"{len(self.arrays)}.f64")
        m = np.memmap(path, dtype=np.float64, mode="w+", shape=a.shape)
        m[...] = a
        m.flush()
        self.arrays[name] = np.memmap(path, dtype=np.float64, mode="r", shape=a.shape)
        del m


def _one(
    name: str,
    a: FloatArray,
    info: wio.MatrixInfo,
    opts: _Options,
    spill: _Spill | None,
    started: float,
) -> TensorAnalysis:
    dec = _decompose(a, spill is not None)
    f = _fit(dec, info.matrix_shape, opts.alpha, opts.bootstrap, opts.seed)
    sh = _shrinkage(dec, info.matrix_shape, f)
    chosen = sh.best if opts.method == "auto" else opts.method
    if spill is not None:
        spill.add(name, _denoised_matrix(dec, sh, chosen))
    return _row(info, dec, f, sh, opts.method, time.perf_counter() - started)


@dataclass(frozen=True)
class _Options:
    method: str
    alpha: float
    bootstrap: int
    seed: int | None


def _rows(
    matrices: Iterator[tuple[str, FloatArray, wio.MatrixInfo]],
    total: int,
    opts: _Options,
    spill: _Spill | None,
    progress: Progress | None,
) -> tuple[list[TensorAnalysis], list[Skipped]]:
    rows: list[TensorAnalysis] = []
    skipped: list[Skipped] = []
    started = time.perf_counter()
    for done, (name, a, info) in enumerate(matrices, start=1):
        if min(a.shape) < MIN_VALUES:
            skipped.append(_too_small(info))
        else:
            try:
                rows.append(_one(name, a, info, opts, spill, started))
            except (NoConvergence, InvalidParameter) as exc:
                # a spectrum the fit cannot take (a zero matrix, entries too large): this
                # tensor is skipped, with why, and copied unchanged into ``out``
                skipped.append(Skipped(info.name, info.shape, info.dtype, f"no fit: {exc}"))
        del a
        if progress is not None:
            progress(done, total, name)
        started = time.perf_counter()
    return rows, skipped


def _write(source: wio.Source, out: str | os.PathLike[str] | BinaryIO, spill: _Spill) -> None:
    wio.write_like(source, out, spill.arrays)


def _spill_folder(out: str | os.PathLike[str] | BinaryIO) -> str | None:
    """Beside ``out`` when it is a path (same disk as the result), else the temp folder."""
    if isinstance(out, str | os.PathLike):
        parent = Path(os.fspath(out)).resolve().parent
        if not parent.is_dir():
            raise InvalidParameter(f"no such folder for out: {parent}", field="out")
        return str(parent)
    return None


def analyze(
    source: wio.Source | BinaryIO,
    *,
    names: wio.NameFilter = None,
    method: str = "auto",
    alpha: float = 0.01,
    bootstrap: int = 0,
    seed: int | None = None,
    out: str | os.PathLike[str] | BinaryIO | None = None,
    progress: Progress | None = None,
    max_bytes: int | None = None,
    max_entries: int | None = None,
) -> Analysis:
    """Fit every weight matrix of a model file and recommend (and apply) a denoiser.

    Parameters
    ----------
    source : path, bytes-like or binary file object
        A ``.safetensors``, ``.npz`` or ``.npy`` file (told by its first bytes). A path is
        read tensor by tensor from its memory map; a file object is read into memory.
    names : str, re.Pattern or collection of str, optional
        Which tensors (as :func:`rmtservice.io.iter_matrices`): a glob, a compiled regular
        expression, or exact names (each must be a matrix of the file).
    method : {"auto", "hard", "optimal_hard", "shrink", "rie", "none"}
        The denoiser of ``energy_kept``, ``values`` and ``out``; ``auto`` uses each
        matrix's recommended method.
    alpha : float
        Level of the fit's outlier tests and of its goodness-of-fit verdict.
    bootstrap : int
        Replicates of the fit's parametric bootstrap (0: no p-value for the Kolmogorov
        distance, the verdict then uses the noise bound; the fastest).
    seed : int, optional
        Seed of the replicates.
    out : path or binary file object, optional
        Write the denoised model there: the same format, names, shapes, dtypes and
        order; the tensors not analysed are copied unchanged.
    progress : callable, optional
        ``progress(done, total, name)`` after each selected matrix.
    max_bytes, max_entries : int, optional
        Refuse a larger source, or a selected matrix with more entries (before any
        data is read).

    Returns
    -------
    Analysis

    Raises
    ------
    InvalidParameter
        A missing, damaged or truncated file, an unknown format; no 2-D tensor in it (or
        none selected, or none with at least 10 singular values); a name that is not
        there or not a matrix; non-finite entries; an unknown method; ``alpha`` not in
        (0, 1); the folder of ``out`` does not exist.
    LimitExceeded
        The source or a selected matrix is over ``max_bytes`` or ``max_entries``.

    Examples
    --------
    >>> import io
    >>> rng = np.random.default_rng(0)
    >>> w = rng.standard_normal((200, 100)) / np.sqrt(200)
    >>> w[:3, :3] += 4.0 * np.eye(3)
    >>> buf = io.BytesIO(); np.savez(buf, dense=w, bias=np.zeros(100))
    >>> a = analyze(buf.getvalue())
    >>> row = a.tensors[0]
    >>> row.name, row.model, row.rank, row.recommended_method, a.skipped[0].name
    ('dense', 'rectangular', 3, 'shrink', 'bias')
    """
    begin = time.perf_counter()
    _check_options(method, alpha, bootstrap)
    src, label = _source(source)
    fmt = wio.detect_format(src)
    tensors = wio.list_tensors(src, max_bytes=max_bytes)
    matrices = wio.iter_matrices(src, names=names, max_bytes=max_bytes, max_entries=max_entries)
    total = sum(1 for t in tensors if t.matrix_shape is not None and _selected(t.name, names))
    opts = _Options(method, float(alpha), bootstrap, seed)
    with ExitStack() as stack:
        spill = None
        if out is not None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(dir=_spill_folder(out)))
            spill = _Spill(folder)
        rows, small = _rows(matrices, total, opts, spill, progress)
        if not rows:
            raise InvalidParameter(
                f"no weight matrix in {label} could be analysed: "
                + "; ".join(f"{s.name!r}: {s.reason}" for s in small),
                field="source",
            )
        if spill is not None and out is not None:
            _write(src, out, spill)
    written = None if out is None or not isinstance(out, str | os.PathLike) else os.fspath(out)
    return Analysis(
        source=label,
        format=fmt,
        tensors=tuple(rows),
        skipped=tuple(_skipped(tensors, names) + small),
        method=method,
        alpha=float(alpha),
        out=written,
        seconds=time.perf_counter() - begin,
    )

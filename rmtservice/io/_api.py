"""The public functions: list the tensors, iterate over the matrices, load one, write back."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rmtservice.errors import InvalidParameter, LimitExceeded
from rmtservice.io._base import (
    FLOAT_DTYPES,
    Format,
    MatrixInfo,
    Reader,
    Source,
    Src,
    TensorInfo,
    matrix_info,
    missing_name,
    open_reader,
    resolve,
    shape_text,
    sniff,
)

FloatArray = NDArray[np.float64]
NameFilter = str | re.Pattern[str] | Collection[str] | None


def detect_format(source: Source) -> Format:
    """The format of a weight file, told by its first bytes (not by its name).

    Parameters
    ----------
    source : path or bytes-like
        A file, or its content in memory.

    Returns
    -------
    {"npy", "npz", "safetensors"}

    Raises
    ------
    InvalidParameter
        The file is missing, empty, or of another format (a pickle is named as such).

    Examples
    --------
    >>> import io, numpy as np
    >>> from rmtservice.io import detect_format
    >>> buf = io.BytesIO(); np.savez(buf, w=np.ones((2, 3)), b=np.zeros(3))
    >>> data = buf.getvalue()  # a file's content (a path works the same)
    >>> detect_format(data)
    'npz'
    """
    return sniff(resolve(source))


def list_tensors(source: Source, *, max_bytes: int | None = None) -> list[TensorInfo]:
    """Every tensor of a weight file as its header describes it; no data is read.

    Parameters
    ----------
    source : path or bytes-like
        A ``.npy``, ``.npz`` or ``.safetensors`` file, or its content in memory.
    max_bytes : int, optional
        Refuse a source larger than this (the guard for an upload).

    Returns
    -------
    list of TensorInfo
        In the file's order (safetensors: the order of the data; npz: of the members).
        ``TensorInfo.skip_reason`` says why a tensor is not read as a matrix.

    Raises
    ------
    InvalidParameter
        Unknown format, damaged or truncated file, an object array (never unpickled).
    LimitExceeded
        The source is larger than ``max_bytes``.

    Examples
    --------
    >>> import io, numpy as np
    >>> from rmtservice.io import list_tensors
    >>> buf = io.BytesIO(); np.savez(buf, w=np.ones((2, 3)), b=np.zeros(3))
    >>> data = buf.getvalue()  # a file's content (a path works the same)
    >>> [(t.name, t.shape, t.dtype) for t in list_tensors(data)]
    [('w', (2, 3), 'float64'), ('b', (3,), 'float64')]
    """
    src = resolve(source, max_bytes=max_bytes)
    with open_reader(src) as reader:
        return reader.tensors()


def iter_matrices(
    source: Source,
    *,
    names: NameFilter = None,
    max_bytes: int | None = None,
    max_entries: int | None = None,
) -> Iterator[tuple[str, FloatArray, MatrixInfo]]:
    """The weight matrices of a file, one at a time, as float64 arrays.

    Every floating tensor (float64/32/16, bfloat16) with 2 dimensions is yielded as it
    is; a convolution kernel ``(out, in, k...)`` (3 to 5 dimensions) as the matrix
    ``(out, in * prod(k))``, which ``MatrixInfo.how`` says. Scalars, 1-D tensors (biases,
    norms) and integer tensors are skipped. Only one tensor is in memory at a time: a
    file larger than memory can be read through (safetensors and npy from their maps).

    The header is read and the selection and limits are checked when this is called;
    each matrix's data when it is reached.

    Parameters
    ----------
    source : path or bytes-like
        A ``.npy``, ``.npz`` or ``.safetensors`` file, or its content in memory.
    names : str, re.Pattern, collection of str, optional
        Which tensors: a glob (``"encoder.*.weight"``, when the text has ``*?[``), a
        compiled regular expression (``search``), or exact names (one str without glob
        characters, or a collection); each exact name must be a matrix of the file.
    max_bytes : int, optional
        Refuse a source larger than this.
    max_entries : int, optional
        Refuse (before reading any data) a selected matrix with more entries than this.

    Yields
    ------
    name : str
    matrix : ndarray of float64, shape (rows, cols)
        A fresh, writable, C-ordered copy.
    info : MatrixInfo
        The stored shape and dtype and whether (and how) the tensor was reshaped.

    Raises
    ------
    InvalidParameter
        As :func:`list_tensors`; no 2-D tensor in the file (or none selected); a name
        that is not there (the closest ones are named) or not a matrix; a matrix with
        non-finite entries (raised when that matrix is reached).
    LimitExceeded
        The source or a selected matrix is over a limit.

    Examples
    --------
    >>> import io, numpy as np
    >>> from rmtservice.io import iter_matrices
    >>> buf = io.BytesIO(); np.savez(buf, w=np.ones((2, 3)), b=np.zeros(3))
    >>> data = buf.getvalue()  # a file's content (a path works the same)
    >>> [(name, m.shape, info.how) for name, m, info in iter_matrices(data)]  # b is 1-D
    [('w', (2, 3), '2-D')]
    """
    src = resolve(source, max_bytes=max_bytes)
    with open_reader(src) as reader:
        tensors = reader.tensors()
    chosen = _select(tensors, names, src.label)
    _check_entries(chosen, max_entries, src.label)
    return _matrices(src, tensors, chosen)


def load_matrix(
    source: Source,
    name: str,
    *,
    max_bytes: int | None = None,
    max_entries: int | None = None,
) -> FloatArray:
    """One weight matrix of a file as a float64 array (a kernel reshaped as in
    :func:`iter_matrices`).

    Parameters
    ----------
    source : path or bytes-like
        A ``.npy``, ``.npz`` or ``.safetensors`` file, or its content in memory.
    name : str
        The tensor's exact name (``"arr_0"`` for a ``.npy`` file).
    max_bytes, max_entries : int, optional
        As in :func:`iter_matrices`.

    Returns
    -------
    ndarray of float64, shape (rows, cols)

    Raises
    ------
    InvalidParameter
        As :func:`iter_matrices`.
    LimitExceeded
        The source or the matrix is over a limit.

    Examples
    --------
    >>> import io, numpy as np
    >>> from rmtservice.io import load_matrix
    >>> buf = io.BytesIO(); np.savez(buf, w=np.ones((2, 3)), b=np.zeros(3))
    >>> data = buf.getvalue()  # a file's content (a path works the same)
    >>> load_matrix(data, 'w').sum()
    np.float64(6.0)
    """
    if not isinstance(name, str):
        raise InvalidParameter(f"name must be text, got {type(name).__name__}", field="names")
    it = iter_matrices(source, names=[name], max_bytes=max_bytes, max_entries=max_entries)
    return next(it)[1]


def write_like(
    source: Source,
    out: str | os.PathLike[str] | BinaryIO,
    replacements: Mapping[str, ArrayLike],
) -> None:
    """Write a copy of a weight file with some tensors replaced: same format, names,
    shapes, dtypes and order.

    A replacement is cast back to the tensor's stored dtype (bfloat16 included) and
    may be given in the tensor's shape or, for a kernel, as the matrix that
    :func:`iter_matrices` yields. Every other tensor is copied byte for byte
    (safetensors: the header too). Tensors are written one at a time, streamed from
    the source (npz: member by member), so memory holds one cast replacement at most.
    A file is written under a temporary name and renamed when complete.

    Parameters
    ----------
    source : path or bytes-like
        The original file, or its content in memory.
    out : path or binary file object
        Where to write; a path must not be the source itself.
    replacements : mapping of str to array-like
        New values by tensor name; real, finite, within the range of the stored dtype.

    Raises
    ------
    InvalidParameter
        As :func:`list_tensors`; a name that is not there; a non-floating tensor; a
        wrong shape; non-real, non-finite or out-of-range values; ``out`` is the source
        or its folder does not exist.

    Returns
    -------
    None
        The copy is at ``out``.

    Examples
    --------
    >>> import io, numpy as np
    >>> from rmtservice.io import list_tensors, load_matrix, write_like
    >>> buf = io.BytesIO(); np.savez(buf, w=np.ones((2, 3)), b=np.zeros(3))
    >>> data = buf.getvalue()  # a file's content (a path works the same)
    >>> out = io.BytesIO()
    >>> write_like(data, out, {'w': 2 * np.ones((2, 3))})
    >>> load_matrix(out.getvalue(), 'w').tolist()
    [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
    >>> [t.name for t in list_tensors(out.getvalue())]  # b copied as it was
    ['w', 'b']
    """
    src = resolve(source)
    with open_reader(src) as reader:
        casts = _Casts(reader, src.label, replacements)
        if isinstance(out, str | os.PathLike):
            _write_file(reader, src, Path(os.fspath(out)), casts)
        else:
            reader.write_like(out, casts)


# ------------------------------------------------------------------------ selection


def _select(tensors: list[TensorInfo], names: NameFilter, label: str) -> list[TensorInfo]:
    matrices = [t for t in tensors if t.matrix_shape is not None]
    if not matrices:
        raise InvalidParameter(f"no 2-D tensor in {label} ({_holds(tensors)})", field="source")
    if names is None:
        return matrices
    if isinstance(names, re.Pattern):
        return _matching(matrices, names.search, f"the pattern {names.pattern!r}", label)
    if isinstance(names, str) and any(c in names for c in "*?["):
        pattern = names
        return _matching(matrices, lambda n: fnmatch.fnmatchcase(n, pattern), repr(pattern), label)
    wanted = {names} if isinstance(names, str) else set(names)
    return [_exact(tensors, n, label) for n in _in_file_order(tensors, wanted, label)]


def _holds(tensors: list[TensorInfo]) -> str:
    if not tensors:
        return "it holds no tensor"
    some = ", ".join(f"{t.name!r} {shape_text(t.shape)} {t.dtype}" for t in tensors[:4])
    more = f", ... ({len(tensors)} in all)" if len(tensors) > 4 else ""
    return f"it holds {some}{more}"


def _matching(matrices: list[TensorInfo], test: Any, what: str, label: str) -> list[TensorInfo]:
    chosen = [t for t in matrices if test(t.name)]
    if not chosen:
        some = ", ".join(repr(t.name) for t in matrices[:5])
        raise InvalidParameter(
            f"no 2-D tensor in {label} matches {what}; its 2-D tensors include {some}",
            field="names",
        )
    return chosen


def _in_file_order(tensors: list[TensorInfo], wanted: set[str], label: str) -> list[str]:
    for name in sorted(wanted):
        if not isinstance(name, str):
            raise InvalidParameter(f"names must be text, got {name!r}", field="names")
    known = {t.name for t in tensors}
    for name in sorted(wanted - known):
        raise missing_name(name, tensors, label)
    return [t.name for t in tensors if t.name in wanted]


def _exact(tensors: list[TensorInfo], name: str, label: str) -> TensorInfo:
    info = next(t for t in tensors if t.name == name)
    if info.skip_reason is not None:
        raise InvalidParameter(
            f"tensor {name!r} in {label} is not a matrix: {info.skip_reason} "
            f"(shape {shape_text(info.shape)}, {info.dtype})",
            field="names",
        )
    return info


def _check_entries(chosen: list[TensorInfo], max_entries: int | None, label: str) -> None:
    if max_entries is None:
        return
    for t in chosen:
        rows, cols = t.matrix_shape or (0, 0)
        if rows * cols > max_entries:
            raise LimitExceeded(
                f"tensor {t.name!r} in {label} has {rows * cols} entries ({rows} x {cols}), "
                f"over the limit of {max_entries}",
                field="source",
            )


# ------------------------------------------------------------------------- reading


def _matrices(
    src: Src, tensors: list[TensorInfo], chosen: list[TensorInfo]
) -> Iterator[tuple[str, FloatArray, MatrixInfo]]:
    with open_reader(src) as reader:
        if reader.tensors() != tensors:
            raise InvalidParameter(f"{src.label} changed while it was read", field="source")
        for info in chosen:
            yield info.name, _as_matrix(reader, info, src.label), matrix_info(info)


def _as_matrix(reader: Reader, info: TensorInfo, label: str) -> FloatArray:
    """The tensor as a float64 matrix of its own; the stored copy or map is let go."""
    stored = reader.read(info)
    with np.errstate(invalid="ignore"):  # a signalling NaN: reported just below, by name
        m = np.array(stored, dtype=np.float64, order="C")
    del stored
    m = m.reshape(m.shape[0], -1)
    _check_finite(m, info, label)
    return m


def _check_finite(m: FloatArray, info: TensorInfo, label: str) -> None:
    finite = np.isfinite(m)
    if finite.all():
        return
    bad = np.flatnonzero(~finite)
    where = tuple(int(i) for i in np.unravel_index(bad[0], info.shape))
    raise InvalidParameter(
        f"tensor {info.name!r} in {label} has {bad.size} non-finite entries (the first, "
        f"{m.flat[bad[0]]}, at index {where})",
        field="source",
    )


# ------------------------------------------------------------------------- writing


class _Casts(Mapping[str, NDArray[Any]]):
    """Replacements checked at once, cast to the stored dtype only when written."""

    def __init__(self, reader: Reader, label: str, replacements: Mapping[str, ArrayLike]):
        self._reader = reader
        tensors = reader.tensors()
        by_name = {t.name: t for t in tensors}
        self._items: dict[str, tuple[TensorInfo, NDArray[Any]]] = {}
        for name, value in replacements.items():
            if name not in by_name:
                raise missing_name(name, tensors, label)
            info = by_name[name]
            self._items[name] = info, _checked(info, reader.stored_dtype, value, label)

    def __getitem__(self, name: str) -> NDArray[Any]:
        info, a = self._items[name]
        dtype = self._reader.stored_dtype(info)
        return a.astype(dtype, copy=False).reshape(info.shape)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def _checked(info: TensorInfo, stored_dtype: Any, value: ArrayLike, label: str) -> NDArray[Any]:
    """The replacement as an array, refused unless it can be written without loss of
    meaning: a floating target, the right shape, finite and within the dtype's range."""
    where = f"the replacement of tensor {info.name!r} in {label}"
    if info.dtype not in FLOAT_DTYPES:
        raise InvalidParameter(
            f"{where}: only floating tensors can be replaced, this one is {info.dtype}",
            field="replacements",
        )
    a = _real(np.asarray(value), where)
    if a.shape not in (info.shape, info.matrix_shape):
        expected = shape_text(info.shape)
        if info.matrix_shape is not None and len(info.shape) > 2:
            expected += f" or {shape_text(info.matrix_shape)}"
        raise InvalidParameter(
            f"{where} has shape {shape_text(a.shape)}, expected {expected}",
            field="replacements",
        )
    _in_range(a, stored_dtype(info), where)
    return a


def _real(a: NDArray[Any], where: str) -> NDArray[Any]:
    if a.dtype.kind == "V":  # ml_dtypes' types (bfloat16) are numpy "void" kinds
        a = a.astype(np.float64)
    if a.dtype.kind not in "fiu":
        raise InvalidParameter(
            f"{where} must hold real numbers, got dtype {a.dtype}", field="replacements"
        )
    return a


def _in_range(a: NDArray[Any], dtype: np.dtype[Any], where: str) -> None:
    import ml_dtypes

    finite = np.isfinite(a)
    if not finite.all():
        raise InvalidParameter(
            f"{where} has {int(a.size - np.count_nonzero(finite))} non-finite entries",
            field="replacements",
        )
    top = float(ml_dtypes.finfo(dtype).max)
    biggest = float(np.max(np.abs(a))) if a.size else 0.0
    if biggest > top:
        raise InvalidParameter(
            f"{where} has an entry of size {biggest:.6g}, beyond the largest {dtype.name} "
            f"({top:.6g})",
            field="replacements",
        )


def _write_file(reader: Reader, src: Src, path: Path, casts: _Casts) -> None:
    """Write under a temporary name and rename: no half-written file is ever left."""
    if src.path is not None and path.exists() and path.samefile(src.path):
        raise InvalidParameter(
            f"out must not be the source {src.label}: it is read while the copy is written",
            field="out",
        )
    if not path.parent.is_dir():
        raise InvalidParameter(f"no such folder for out: {path.parent}", field="out")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            reader.write_like(f, casts)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)

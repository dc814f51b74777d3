"""What every format shares: tensor descriptions, sources, format sniffing, the 2-D rule."""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from rmtservice.errors import InvalidParameter, LimitExceeded

Source = str | os.PathLike[str] | bytes | bytearray | memoryview
Format = Literal["npy", "npz", "safetensors"]

#: The dtypes read as weights; every other dtype (indices, masks, fp8) is listed but skipped.
FLOAT_DTYPES = ("float64", "float32", "float16", "bfloat16")
#: The name of the one array of a .npy file (numpy's own name for an unnamed array in savez).
NPY_NAME = "arr_0"
#: Kernels up to 3-D convolutions (out, in, kd, kh, kw) are read as (out, in*kd*kh*kw).
MAX_KERNEL_NDIM = 5

_KERNEL_AXES = {3: "(out, in, k)", 4: "(out, in, kh, kw)", 5: "(out, in, kd, kh, kw)"}
_KERNEL_FLAT = {3: "in*k", 4: "in*kh*kw", 5: "in*kd*kh*kw"}


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of a weight file as its header describes it (no data is read).

    ``dtype`` is numpy's name (``"float32"``, ``"bfloat16"``, ``"int64"``) or, for a type
    numpy does not know, the file's own code; ``nbytes`` is the size stored in the file.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int

    @property
    def skip_reason(self) -> str | None:
        """Why the tensor is not a weight matrix (``None`` when it is one)."""
        ndim = len(self.shape)
        if self.dtype not in FLOAT_DTYPES:
            return f"dtype {self.dtype} is not a floating weight type"
        if ndim == 0:
            return "a scalar"
        if ndim == 1:
            return "1-D (a bias or a norm scale)"
        if ndim > MAX_KERNEL_NDIM:
            return f"{ndim}-D, neither a matrix nor a convolution kernel"
        if 0 in self.shape:
            return "empty"
        return None

    @property
    def matrix_shape(self) -> tuple[int, int] | None:
        """The 2-D shape the tensor is read as, ``(out, prod(rest))``; ``None`` if skipped."""
        if self.skip_reason is not None:
            return None
        return self.shape[0], math.prod(self.shape[1:])


@dataclass(frozen=True)
class MatrixInfo:
    """How a matrix was read: the tensor's own shape and dtype, and the reshape applied."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    reshaped: bool
    how: str

    @property
    def matrix_shape(self) -> tuple[int, int]:
        """The shape of the matrix yielded, ``(out, prod(rest))``."""
        return self.shape[0], math.prod(self.shape[1:])


def matrix_info(info: TensorInfo) -> MatrixInfo:
    """Describe the 2-D reading of a weight tensor (2-D as is, kernels flattened)."""
    ndim = len(info.shape)
    if ndim == 2:
        return MatrixInfo(info.name, info.shape, info.dtype, False, "2-D")
    how = (
        f"{ndim}-D convolution kernel {_KERNEL_AXES[ndim]} reshaped to (out, {_KERNEL_FLAT[ndim]})"
    )
    return MatrixInfo(info.name, info.shape, info.dtype, True, how)


def shape_text(shape: Sequence[int]) -> str:
    """``(384, 1536)``, ``(384,)``, ``()``: a shape as Python writes a tuple."""
    return str(tuple(int(s) for s in shape))


# ---------------------------------------------------------------------------- sources


@dataclass(frozen=True)
class Src:
    """A resolved source: a file on disk or bytes in memory, and how messages name it."""

    label: str
    path: Path | None
    data: memoryview | None
    size: int

    def head(self, n: int) -> bytes:
        """The first ``n`` bytes (fewer when the source is shorter)."""
        if self.data is not None:
            return bytes(self.data[:n])
        assert self.path is not None
        try:
            with open(self.path, "rb") as f:
                return f.read(n)
        except OSError as exc:
            raise InvalidParameter(f"cannot read {self.label}: {exc}", field="source") from exc


def resolve(source: Source, *, max_bytes: int | None = None) -> Src:
    """Turn a path or a bytes-like object into a :class:`Src`, checking the size guard."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = memoryview(source).cast("B")
        src = Src(f"the data ({data.nbytes} bytes)", None, data, data.nbytes)
    else:
        src = _file(Path(os.fspath(source)))
    if max_bytes is not None and src.size > max_bytes:
        raise LimitExceeded(
            f"{src.label} is {src.size} bytes, over the limit of {max_bytes} bytes",
            field="source",
        )
    return src


def _file(path: Path) -> Src:
    if not path.exists():
        raise InvalidParameter(f"no such file: {path}", field="source")
    if not path.is_file():
        raise InvalidParameter(f"{path} is not a regular file", field="source")
    return Src(str(path), path, None, path.stat().st_size)


# --------------------------------------------------------------------------- formats

_FOREIGN = (
    (
        b"\x80",
        "a Python pickle (a PyTorch .bin/.pt checkpoint?), which is never loaded: "
        "unpickling can run code; convert it to .safetensors",
    ),
    (b"GGUF", "a GGUF file"),
    (b"\x89HDF", "an HDF5 file (a Keras .h5 model?)"),
)


def sniff(src: Src) -> Format:
    """The format from the magic bytes; the file name is used only to word an error."""
    head = src.head(16)
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "npz"
    if head[8:9] == b"{":
        return "safetensors"
    raise InvalidParameter(_unknown(src, head), field="source")


def _unknown(src: Src, head: bytes) -> str:
    if not head:
        return f"{src.label} is empty"
    if src.label.endswith(".safetensors") and len(head) < 9:
        return (
            f"{src.label} is truncated: {src.size} bytes, fewer than a safetensors "
            "header length (8 bytes) and its first character"
        )
    for magic, what in _FOREIGN:
        if head.startswith(magic):
            return f"{src.label} is {what}; supported formats: .npy, .npz, .safetensors"
    return (
        f"{src.label} is not a .npy, .npz or .safetensors file (it starts with "
        f"0x{head[:8].hex()}); the format is told by its first bytes, not its name"
    )


# --------------------------------------------------------------------------- readers


class Reader(Protocol):
    """An open weight file: its tensors and one tensor's data (stored dtype and shape)."""

    src: Src

    def tensors(self) -> list[TensorInfo]: ...

    def read(self, info: TensorInfo) -> NDArray[Any]: ...

    def write_like(self, out: BinaryIO, replacements: Mapping[str, NDArray[Any]]) -> None: ...

    def stored_dtype(self, info: TensorInfo) -> np.dtype[Any]: ...


@contextmanager
def open_reader(src: Src) -> Iterator[Reader]:
    """Open the reader for the source's format; it releases its files on exit."""
    from rmtservice.io import _npy, _safetensors

    fmt = sniff(src)
    reader: Reader
    if fmt == "npy":
        reader = _npy.NpyReader(src)
    elif fmt == "npz":
        reader = _npy.NpzReader(src)
    else:
        reader = _safetensors.SafetensorsReader(src)
    try:
        yield reader
    finally:
        close = getattr(reader, "close", None)
        if close is not None:
            close()


# --------------------------------------------------------------------------- messages


def missing_name(name: str, tensors: Sequence[TensorInfo], label: str) -> InvalidParameter:
    """``no tensor 'x' in FILE``, with the closest names and a few others."""
    names = [t.name for t in tensors]
    close = difflib.get_close_matches(name, names, n=3)
    text = f"no tensor {name!r} in {label}"
    if close:
        text += f"; close names: {_quoted(close)}"
    some = _quoted(names[:5]) + (f", ... ({len(names)} in all)" if len(names) > 5 else "")
    return InvalidParameter(f"{text}; its tensors: {some or 'none'}", field="names")


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)


def corrupt(label: str, what: str) -> InvalidParameter:
    """The one wording of a damaged file."""
    return InvalidParameter(f"{label}: {what}", field="source")

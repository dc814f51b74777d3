"""numpy's own files: ``.npy`` (one array, memory-mapped) and ``.npz`` (a zip of ``.npy``
members, read one member at a time). Nothing is ever unpickled: a header whose dtype
holds Python objects is refused before any data is read.

numpy's format has no bfloat16 code (``np.save`` writes ml_dtypes' bfloat16 as raw
2-byte voids, ``<V2``); such a tensor is listed as ``void16`` and skipped, not guessed.
"""

from __future__ import annotations

import io
import math
import shutil
import tokenize
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from rmtservice.errors import InvalidParameter
from rmtservice.io._base import NPY_NAME, Src, TensorInfo, corrupt, shape_text

#: Bytes copied at a time when a member is copied unchanged.
CHUNK = 16 << 20
# what zipfile, zlib and numpy raise on damaged members (a checksum, a deflate stream, cut
# data, a compression method or zip version this Python cannot read)
_READ_ERRORS = (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error, NotImplementedError)


@contextmanager
def _damaged(label: str) -> Iterator[None]:
    """Turn the errors of reading a damaged member into our own, naming the member."""
    try:
        yield
    except InvalidParameter:
        raise
    except _READ_ERRORS as exc:
        raise corrupt(label, f"damaged data ({exc})") from exc


@dataclass(frozen=True)
class _Header:
    dtype: np.dtype[Any]
    shape: tuple[int, ...]
    fortran: bool
    offset: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _header(fp: IO[bytes], label: str) -> _Header:
    """The .npy header at the start of ``fp``, parsed by numpy (no pickle involved)."""
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = fmt.read_array_header_2_0(fp)
        else:
            raise corrupt(label, f"unsupported .npy format version {version}")
    except InvalidParameter:
        raise
    except (ValueError, SyntaxError, tokenize.TokenError) as exc:
        # numpy's header parser lets the tokenizer's error out on some damaged headers
        raise corrupt(label, f"corrupt .npy header ({exc})") from exc
    if dtype.hasobject:
        raise InvalidParameter(
            f"{label} holds Python objects (dtype {dtype}), which are never loaded: "
            "reading them needs pickle, which can run code",
            field="source",
        )
    return _Header(dtype, tuple(shape), bool(fortran), fp.tell())


def _info(name: str, h: _Header) -> TensorInfo:
    return TensorInfo(name, h.shape, h.dtype.name, h.nbytes)


def _truncated(label: str, h: _Header, have: int) -> InvalidParameter:
    return corrupt(
        label,
        f"truncated: its .npy header says shape {shape_text(h.shape)} of {h.dtype.name} "
        f"({h.nbytes} bytes) but only {max(have, 0)} data bytes follow",
    )


def _prepared(h: _Header, a: NDArray[Any]) -> NDArray[Any]:
    """A replacement in the memory order of the source, so the header says the same."""
    return np.asfortranarray(a) if h.fortran else np.ascontiguousarray(a)


class NpyReader:
    """A .npy file (memory-mapped when read) or buffer; its one tensor is ``arr_0``."""

    def __init__(self, src: Src) -> None:
        self.src = src
        # a header is at most numpy's 10000-byte bound plus its magic and length fields
        self._h = _header(io.BytesIO(src.head(1 << 16)), src.label)
        if src.size - self._h.offset < self._h.nbytes:
            raise _truncated(src.label, self._h, src.size - self._h.offset)

    def tensors(self) -> list[TensorInfo]:
        """The one tensor, named ``arr_0``."""
        return [_info(NPY_NAME, self._h)]

    def stored_dtype(self, info: TensorInfo) -> np.dtype[Any]:
        """The numpy dtype the array is stored in."""
        return self._h.dtype

    def read(self, info: TensorInfo) -> NDArray[Any]:
        """The array: a memory map of the file, or a view of the buffer."""
        h = self._h
        if self.src.path is not None:
            try:
                return np.load(self.src.path, mmap_mode="r", allow_pickle=False)
            except _READ_ERRORS as exc:
                raise corrupt(self.src.label, f"numpy cannot map the array ({exc})") from exc
        assert self.src.data is not None
        flat = np.frombuffer(self.src.data, h.dtype, count=math.prod(h.shape), offset=h.offset)
        return flat.reshape(h.shape, order="F" if h.fortran else "C")

    def write_like(self, out: BinaryIO, replacements: Mapping[str, NDArray[Any]]) -> None:
        """The replaced array in a fresh .npy, or the source copied as it is."""
        if NPY_NAME in replacements:
            np.lib.format.write_array(out, _prepared(self._h, replacements[NPY_NAME]))
            return
        if self.src.data is not None:
            out.write(self.src.data)
            return
        assert self.src.path is not None
        with open(self.src.path, "rb") as fp:
            shutil.copyfileobj(fp, out, CHUNK)


@dataclass(frozen=True)
class _Member:
    zinfo: zipfile.ZipInfo
    header: _Header


class NpzReader:
    """A .npz archive (file or buffer); members are read one at a time, never all."""

    def __init__(self, src: Src) -> None:
        self.src = src
        where: Path | io.BytesIO = src.path if src.path is not None else _buffer(src.data)
        try:
            self._zip = zipfile.ZipFile(where)
        except _READ_ERRORS as exc:
            raise corrupt(
                src.label, f"not a readable zip (.npz) archive: truncated or damaged ({exc})"
            ) from exc
        self._members: dict[str, _Member] = {}
        try:
            for zinfo in self._zip.infolist():
                self._add(zinfo)
        except BaseException:
            self._zip.close()
            raise

    def close(self) -> None:
        """Close the archive."""
        self._zip.close()

    def _label(self, zinfo: zipfile.ZipInfo) -> str:
        return f"member {zinfo.filename!r} of {self.src.label}"

    def _add(self, zinfo: zipfile.ZipInfo) -> None:
        if zinfo.is_dir():
            return
        if not zinfo.filename.endswith(".npy"):
            raise corrupt(self.src.label, self._not_npy(zinfo.filename))
        name = zinfo.filename.removesuffix(".npy")
        if name in self._members:
            raise corrupt(self.src.label, f"the member {zinfo.filename!r} appears twice")
        label = self._label(zinfo)
        with _damaged(label), self._zip.open(zinfo) as fp:
            h = _header(fp, label)
        if zinfo.file_size - h.offset < h.nbytes:
            raise _truncated(label, h, zinfo.file_size - h.offset)
        self._members[name] = _Member(zinfo, h)

    def _not_npy(self, filename: str) -> str:
        pickles = any(n.endswith(".pkl") for n in self._zip.namelist())
        hint = (
            " (a PyTorch checkpoint? its pickles are never loaded: convert it to .safetensors)"
            if pickles
            else ""
        )
        return f"member {filename!r} is not a .npy array, so this is no .npz archive{hint}"

    def tensors(self) -> list[TensorInfo]:
        """Every member, in the archive's order (``'w.npy'`` is the tensor ``'w'``)."""
        return [_info(name, m.header) for name, m in self._members.items()]

    def stored_dtype(self, info: TensorInfo) -> np.dtype[Any]:
        """The numpy dtype the member is stored in."""
        return self._members[info.name].header.dtype

    def read(self, info: TensorInfo) -> NDArray[Any]:
        """One member, decompressed into memory (the zip's checksum is verified)."""
        zinfo = self._members[info.name].zinfo
        with _damaged(self._label(zinfo)), self._zip.open(zinfo) as fp:
            return np.lib.format.read_array(fp, allow_pickle=False)

    def write_like(self, out: BinaryIO, replacements: Mapping[str, NDArray[Any]]) -> None:
        """The same members in the same order and compression, written one at a time."""
        with zipfile.ZipFile(out, "w", allowZip64=True) as z:
            for name, m in self._members.items():
                zinfo = zipfile.ZipInfo(m.zinfo.filename, date_time=m.zinfo.date_time)
                zinfo.compress_type = m.zinfo.compress_type
                with z.open(zinfo, "w", force_zip64=True) as dst:
                    self._write_member(name, m, dst, replacements)

    def _write_member(
        self, name: str, m: _Member, dst: IO[bytes], replacements: Mapping[str, NDArray[Any]]
    ) -> None:
        if name in replacements:
            np.lib.format.write_array(dst, _prepared(m.header, replacements[name]))
            return
        with _damaged(self._label(m.zinfo)), self._zip.open(m.zinfo) as fp:
            shutil.copyfileobj(fp, dst, CHUNK)


def _buffer(data: memoryview | None) -> io.BytesIO:
    """A stream over the buffer; ``bytes`` are shared by BytesIO, not copied."""
    assert data is not None
    whole = isinstance(data.obj, bytes) and len(data.obj) == data.nbytes
    return io.BytesIO(data.obj if whole else data)

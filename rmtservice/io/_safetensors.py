"""safetensors files: the header checked with clear messages, tensors read through the
``safetensors`` package from its memory map, files written by streaming.

The format (8-byte little-endian header length N, N bytes of JSON, then the data of
every tensor, contiguous, with no gaps): the header names each tensor's dtype, shape and
``data_offsets`` within the data. A file written here keeps the source's header byte for
byte (same names, shapes, dtypes and order), so only the data of replaced tensors changes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from rmtservice.io._base import Src, TensorInfo, corrupt, shape_text

#: numpy's names of the codes of the format; another code is listed under its own name.
_NAMES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U64": "uint64",
    "U32": "uint32",
    "U16": "uint16",
    "U8": "uint8",
    "BOOL": "bool",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "C64": "complex64",
}
_ITEMSIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2}
_ITEMSIZE |= {"F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4}
_ITEMSIZE |= {"I64": 8, "U64": 8, "F64": 8, "C64": 8}
#: The format's own bound on the header length (the package refuses longer ones).
MAX_HEADER = 100_000_000
#: Bytes copied at a time when a tensor is copied unchanged.
CHUNK = 16 << 20


def _package() -> Any:
    """The ``safetensors`` package, with ml_dtypes imported first: its numpy framework
    looks ``bfloat16`` up by name, which numpy knows only once ml_dtypes registered it."""
    import ml_dtypes  # noqa: F401
    import safetensors

    return safetensors


def np_dtype(code: str) -> np.dtype[Any]:
    """The numpy dtype of a floating code of the format (little-endian, as the format is)."""
    if code == "BF16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype({"F64": "<f8", "F32": "<f4", "F16": "<f2"}[code])


@dataclass(frozen=True)
class _Entry:
    info: TensorInfo
    code: str
    begin: int
    end: int


class SafetensorsReader:
    """A safetensors file or buffer; a file is read one tensor at a time from its map."""

    def __init__(self, src: Src) -> None:
        self.src = src
        self._raw, entries = _header(src)
        self._entries = {e.info.name: e for e in entries}
        if src.path is not None:
            _check_with_package(src)

    def tensors(self) -> list[TensorInfo]:
        """Every tensor, in the order of its data in the file."""
        return [e.info for e in self._entries.values()]

    def stored_dtype(self, info: TensorInfo) -> np.dtype[Any]:
        """The numpy dtype the tensor is stored in."""
        return np_dtype(self._entries[info.name].code)

    def read(self, info: TensorInfo) -> NDArray[Any]:
        """The tensor in its stored dtype: a view of the buffer, or the package's copy."""
        e = self._entries[info.name]
        if self.src.data is None:
            return _get(self.src, info.name)
        count = math.prod(info.shape)
        offset = len(self._raw) + e.begin
        flat = np.frombuffer(self.src.data, np_dtype(e.code), count=count, offset=offset)
        return flat.reshape(info.shape)

    def write_like(self, out: BinaryIO, replacements: Mapping[str, NDArray[Any]]) -> None:
        """The source's header as it is, then each tensor's data: replaced or copied."""
        out.write(self._raw)
        with _data_of(self.src) as source:
            for name, e in self._entries.items():
                if name in replacements:
                    out.write(_le_bytes(replacements[name]).data)
                else:
                    source.copy(len(self._raw) + e.begin, e.end - e.begin, out)


def _le_bytes(a: NDArray[Any]) -> NDArray[np.uint8]:
    """The bytes of a floating array, little-endian as the format stores them."""
    a = np.ascontiguousarray(a)
    if a.dtype.byteorder == ">":
        a = a.byteswap().view(a.dtype.newbyteorder("<"))
    return a.reshape(-1).view(np.uint8)


def _get(src: Src, name: str) -> NDArray[Any]:
    """One tensor through ``safe_open``, the file mapped for this read only (so the pages
    of a file larger than memory do not pile up in this process)."""
    package = _package()
    try:
        with package.safe_open(str(src.path), framework="numpy") as f:
            return f.get_tensor(name)
    except (package.SafetensorError, OSError, ValueError, TypeError) as exc:
        raise _package_error(src, f"tensor {name!r}", exc) from exc


def _check_with_package(src: Src) -> None:
    """Let the package check the header too (it reads what it accepts, and no more)."""
    package = _package()
    try:
        with package.safe_open(str(src.path), framework="numpy"):
            pass
    except (package.SafetensorError, OSError, ValueError, TypeError) as exc:
        raise _package_error(src, "the file", exc) from exc


def _package_error(src: Src, what: str, exc: Exception) -> Exception:
    return corrupt(src.label, f"the safetensors package cannot read {what}: {exc}")


class _data_of:
    """Byte ranges of the source, copied to an output in chunks."""

    def __init__(self, src: Src) -> None:
        self.src = src
        self.file: BinaryIO | None = None

    def __enter__(self) -> _data_of:
        if self.src.data is None:
            assert self.src.path is not None
            self.file = open(self.src.path, "rb")  # closed in __exit__
        return self

    def __exit__(self, *exc: object) -> None:
        if self.file is not None:
            self.file.close()

    def copy(self, start: int, n: int, out: BinaryIO) -> None:
        if self.src.data is not None:
            out.write(self.src.data[start : start + n])
            return
        assert self.file is not None
        self.file.seek(start)
        while n > 0:
            chunk = self.file.read(min(n, CHUNK))
            if not chunk:
                raise corrupt(self.src.label, "the file got shorter while it was copied")
            out.write(chunk)
            n -= len(chunk)


# ---------------------------------------------------------------------------- header


def _header(src: Src) -> tuple[bytes, list[_Entry]]:
    """The raw header (length field included) and its entries in data order, checked."""
    n = _header_length(src)
    raw = src.head(8 + n)
    obj = _json_object(src.label, raw[8:])
    _check_metadata(src.label, obj.pop("__metadata__", None))
    entries = sorted((_entry(src.label, k, v) for k, v in obj.items()), key=lambda e: e.begin)
    _check_layout(src.label, entries, src.size - 8 - n)
    return raw, entries


def _header_length(src: Src) -> int:
    if src.size < 8:
        raise corrupt(src.label, f"truncated: {src.size} bytes, less than the header length")
    n = int.from_bytes(src.head(8), "little")
    if n > MAX_HEADER:
        raise corrupt(
            src.label,
            f"corrupt safetensors header: its length field says {n} bytes, more than the "
            f"format allows ({MAX_HEADER})",
        )
    if 8 + n > src.size:
        raise corrupt(
            src.label,
            f"truncated: the safetensors header says {n} bytes but only {src.size - 8} "
            "bytes follow its length field",
        )
    return n


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object hook: a repeated name would silently hide a tensor."""
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _Duplicate(f"the name {k!r} appears twice")
        out[k] = v
    return out


def _json_object(label: str, text: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(text.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        raise corrupt(label, f"corrupt safetensors header: not valid JSON ({exc})") from exc
    if not isinstance(obj, dict):
        raise corrupt(label, "corrupt safetensors header: not a JSON object")
    return obj


def _check_metadata(label: str, meta: Any) -> None:
    ok = meta is None or (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values()))
    if not ok:
        raise corrupt(label, "corrupt safetensors header: __metadata__ must map text to text")


def _entry(label: str, name: str, value: Any) -> _Entry:
    """One header entry, with its size checked against its dtype and shape."""
    bad = _entry_problem(value)
    if bad:
        raise corrupt(label, f"corrupt header entry of tensor {name!r}: {bad}")
    code, shape = value["dtype"], tuple(value["shape"])
    begin, end = value["data_offsets"]
    info = TensorInfo(name, shape, _NAMES.get(code, code), end - begin)
    itemsize = _ITEMSIZE.get(code)
    if itemsize is not None and math.prod(shape) * itemsize != end - begin:
        raise corrupt(
            label,
            f"corrupt header entry of tensor {name!r}: shape {shape_text(shape)} of {code} "
            f"takes {math.prod(shape) * itemsize} bytes but its data_offsets span "
            f"{end - begin}",
        )
    return _Entry(info, code, begin, end)


def _is_count(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def _entry_problem(value: Any) -> str | None:
    if not isinstance(value, dict) or set(value) != {"dtype", "shape", "data_offsets"}:
        return "it must hold exactly dtype, shape and data_offsets"
    if not isinstance(value["dtype"], str):
        return "dtype must be text"
    shape, offsets = value["shape"], value["data_offsets"]
    if not isinstance(shape, list) or not all(_is_count(s) for s in shape):
        return "shape must be a list of non-negative integers"
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_count, offsets))):
        return "data_offsets must be two non-negative integers"
    if offsets[0] > offsets[1]:
        return "data_offsets end before they begin"
    return None


def _check_layout(label: str, entries: list[_Entry], data_size: int) -> None:
    """The data of the tensors must tile the data section exactly (the format's rule)."""
    end = max((e.end for e in entries), default=0)
    if end > data_size:
        last = max(entries, key=lambda e: e.end)
        raise corrupt(
            label,
            f"truncated: tensor {last.info.name!r} ends at data byte {end} but the file "
            f"holds only {data_size} data bytes",
        )
    pos, prev = 0, "the header"
    for e in entries:
        if e.begin != pos:
            what = "overlaps" if e.begin < pos else "leaves a gap after"
            raise corrupt(label, f"corrupt safetensors data layout: {e.info.name!r} {what} {prev}")
        pos, prev = e.end, f"tensor {e.info.name!r}"
    if pos < data_size:
        raise corrupt(
            label, f"corrupt safetensors file: {data_size - pos} bytes follow the last tensor"
        )

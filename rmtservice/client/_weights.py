"""What the SDK's ``denoise``, ``denoise_array`` and ``analyze`` send: a matrix or a
weight file as the body, the options as query parameters (``POST /v1/denoise``,
``POST /v1/analyze``).

A matrix (any array-like) travels as the bytes of a ``.npy`` file, a weight file as it
is; the options are validated here as the server validates its query (the same
problem, with ``query`` paths). numpy is imported only when a matrix is encoded or a
``.npy`` answer decoded.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from rmtservice.errors import InvalidParameter, core_problem, validation_problem
from rmtservice.wire.analyze import AnalyzeOptions
from rmtservice.wire.denoise import DenoiseOptions
from rmtservice.wire.schemas import MEASURE_KINDS

if TYPE_CHECKING:
    import numpy as np

__all__ = ["NPY_MEDIA_TYPE", "DenoisedArray", "Upload", "analyze_upload", "denoise_upload"]

NPY_MEDIA_TYPE = "application/octet-stream"
FileSource = str | os.PathLike[str] | bytes | bytearray | memoryview


@dataclass(frozen=True)
class DenoisedArray:
    """The denoised matrix as a numpy array, and how it was made."""

    matrix: np.ndarray
    method: str
    rank: int
    sigma2: float
    predicted_error: float


@dataclass(frozen=True)
class Upload:
    """A request body and its query parameters, validated."""

    content: bytes | os.PathLike[str]  # a path: read where it is used (LocalClient)
    params: dict[str, Any]
    options: BaseModel
    name: str | None = None


def _service_error(problem: dict[str, Any]) -> Exception:
    from rmtservice.client import ServiceError

    return ServiceError(problem)


def _options(model: type[BaseModel], fields: dict[str, Any]) -> BaseModel:
    given = {k: v for k, v in fields.items() if v is not None}
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        raw = [{**e, "loc": ("query", *e["loc"])} for e in exc.errors(include_url=False)]
        raise _service_error(validation_problem(raw, MEASURE_KINDS)) from exc


def _file_bytes(file: FileSource, read: bool = True) -> bytes | Path:
    """The file's bytes (to upload); with ``read=False`` a path stays a path (the local
    core reads it tensor by tensor from its memory map)."""
    if isinstance(file, bytes | bytearray | memoryview):
        return bytes(file)
    path = Path(os.fspath(file))
    if not path.is_file():
        what = f"no such file: {path}" if not path.exists() else f"{path} is not a regular file"
        raise _service_error(core_problem(InvalidParameter(what, field="source")))
    return path.read_bytes() if read else path


def matrix_bytes(matrix: Any) -> bytes:
    """An array-like as the bytes of a ``.npy`` file (float64; never pickled)."""
    import numpy as np

    try:
        a = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        problem = core_problem(InvalidParameter("matrix must be an array of numbers"))
        raise _service_error(problem) from exc
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def denoise_upload(
    matrix: Any,
    file: FileSource | None,
    name: str | None,
    fields: dict[str, Any],
    *,
    read: bool = True,
) -> Upload:
    """The body (the matrix's ``.npy`` bytes, or the file; a path with ``read=False``)
    and the validated options."""
    if (matrix is None) == (file is None):
        problem = core_problem(InvalidParameter("pass a matrix or a file (one of them)"))
        raise _service_error(problem)
    options = _options(DenoiseOptions, fields)
    content = matrix_bytes(matrix) if file is None else _file_bytes(file, read)
    params = options.model_dump(exclude_unset=True)
    if name is not None:
        params["name"] = name
    return Upload(content, params, options, name)


def analyze_upload(file: FileSource, fields: dict[str, Any], *, read: bool = True) -> Upload:
    names = fields.get("names")
    if isinstance(names, str):
        fields = {**fields, "names": [names]}
    options = _options(AnalyzeOptions, fields)
    params = options.model_dump(exclude_unset=True)
    return Upload(_file_bytes(file, read), params, options)


def npy_array(content: bytes, headers: Any) -> DenoisedArray:
    """The ``.npy`` answer of ``POST /v1/denoise`` and its headers."""
    import numpy as np

    return DenoisedArray(
        matrix=np.load(io.BytesIO(content), allow_pickle=False),
        method=headers["x-denoise-method"],
        rank=int(headers["x-denoise-rank"]),
        sigma2=float(headers["x-denoise-sigma2"]),
        predicted_error=float(headers["x-denoise-predicted-error"]),
    )

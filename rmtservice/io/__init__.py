"""Weight files in and out: ``.npy``, ``.npz`` and ``.safetensors``.

Read the matrices of a trained model one tensor at a time, as float64, and write the
denoised ones back in the same format with the same names, shapes and dtypes::

    from rmtservice.io import iter_matrices, write_like

    new = {}
    for name, w, info in iter_matrices("model.safetensors"):
        new[name] = denoise(w)          # (out, in*k...) for a convolution kernel
    write_like("model.safetensors", "denoised.safetensors", new)

- The format is told by the first bytes: ``\\x93NUMPY`` (npy), a zip (npz), or an
  8-byte little-endian header length and ``{`` (safetensors).
- dtypes float64, float32, float16 and bfloat16 (ml_dtypes' type; safetensors only:
  numpy's format has no bfloat16 code). Other dtypes are listed and skipped.
- Sources are paths or bytes in memory (an upload body); a ``max_bytes`` guard refuses
  large ones. Files are read from their memory map (npy, safetensors) or member by
  member (npz), so a model larger than memory can be read through.
- Nothing is unpickled, ever: object arrays and pickled checkpoints are refused.
- A ``.npy`` file's one tensor is named ``arr_0`` (numpy's name in ``savez``).

Errors are :class:`~rmtservice.errors.InvalidParameter` (a bad file, name or value; the
message says what and where) and :class:`~rmtservice.errors.LimitExceeded` (a limit).
This package imports numpy only; ``safetensors`` and ``ml_dtypes`` when first needed.
"""

from rmtservice.io._api import (
    FloatArray,
    NameFilter,
    detect_format,
    iter_matrices,
    list_tensors,
    load_matrix,
    write_like,
)
from rmtservice.io._base import (
    FLOAT_DTYPES,
    MAX_KERNEL_NDIM,
    NPY_NAME,
    Format,
    MatrixInfo,
    Source,
    TensorInfo,
)

__all__ = [
    "FLOAT_DTYPES",
    "MAX_KERNEL_NDIM",
    "NPY_NAME",
    "FloatArray",
    "Format",
    "MatrixInfo",
    "NameFilter",
    "Source",
    "TensorInfo",
    "detect_format",
    "iter_matrices",
    "list_tensors",
    "load_matrix",
    "write_like",
]

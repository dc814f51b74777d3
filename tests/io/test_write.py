"""Round trips: a file read, partly replaced and written back has the same names, shapes,
dtypes and order; untouched tensors are the same bytes; bfloat16 survives."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from rmtservice.errors import InvalidParameter
from rmtservice.io import NPY_NAME, iter_matrices, list_tensors, load_matrix, write_like
from tests.io.conftest import BF16, FORMATS, model_tensors, save, suffix

DTYPES = (np.float64, np.float32, np.float16, BF16)


def _cases() -> list[Any]:
    return [
        pytest.param(fmt, dt, id=f"{fmt}-{np.dtype(dt).name}")
        for fmt in FORMATS
        for dt in DTYPES
        if fmt == "safetensors" or dt is not BF16
    ]


def _stored(path: Path, fmt: str) -> dict[str, tuple[np.ndarray, bytes]]:
    """Each tensor as the format's own reader gives it, and its stored bytes."""
    if fmt == "safetensors":
        import ml_dtypes  # noqa: F401  (the numpy framework needs it for bfloat16)
        from safetensors import safe_open

        raw = path.read_bytes()
        n = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8 : 8 + n])
        header.pop("__metadata__", None)
        with safe_open(str(path), framework="numpy") as f:
            return {
                k: (
                    f.get_tensor(k),
                    raw[8 + n + v["data_offsets"][0] : 8 + n + v["data_offsets"][1]],
                )
                for k, v in header.items()
            }
    if fmt == "npy":
        return {NPY_NAME: (np.load(path), path.read_bytes())}
    with np.load(path) as z, zipfile.ZipFile(path) as zf:
        return {k: (z[k], zf.read(f"{k}.npy")) for k in z.files}


def _denoised(m: np.ndarray, rank: int = 2) -> np.ndarray:
    """A stand-in for a denoiser: the best rank-2 approximation."""
    u, s, vt = np.linalg.svd(m, full_matrices=False)
    return (u[:, :rank] * s[:rank]) @ vt[:rank]


@pytest.mark.parametrize(("fmt", "dtype"), _cases())
def test_round_trip(tmp_path: Path, fmt: str, dtype: Any) -> None:
    """Replace the dense matrix and the conv kernel (given as its matrix): the new file
    lists the same tensors; the replaced ones hold the new values cast to the stored
    dtype, in the stored shape; every other tensor is the same bytes."""
    tensors = model_tensors(dtype)
    tensors = {NPY_NAME: tensors["conv.weight"]} if fmt == "npy" else tensors
    src = save(tmp_path / f"src{suffix(fmt)}", fmt, tensors)
    replaced = {n: _denoised(m) for n, m, _ in iter_matrices(src) if n != "conv1d.weight"}
    out = tmp_path / f"out{suffix(fmt)}"
    write_like(src, out, replaced)
    assert list_tensors(out) == list_tensors(src)
    before, after = _stored(src, fmt), _stored(out, fmt)
    assert list(after) == list(before)
    for name, (a, raw) in after.items():
        old, old_raw = before[name]
        assert (a.shape, a.dtype) == (old.shape, old.dtype)
        if name in replaced:
            want = replaced[name].astype(a.dtype).reshape(old.shape)
            assert_array_equal(a.view(np.uint8), want.view(np.uint8))
        else:
            assert raw == old_raw
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([src.name, out.name])


def test_safetensors_header_is_kept_byte_for_byte(tmp_path: Path) -> None:
    """Names, order, offsets and the __metadata__ of the source are all kept."""
    from safetensors.numpy import save_file

    src = tmp_path / "m.safetensors"
    save_file(model_tensors(np.float32), str(src), metadata={"format": "pt", "by": "test"})
    out = tmp_path / "o.safetensors"
    write_like(src, out, {"dense.weight": np.zeros((12, 7))})
    n = int.from_bytes(src.read_bytes()[:8], "little")
    assert out.read_bytes()[: 8 + n] == src.read_bytes()[: 8 + n]
    assert out.stat().st_size == src.stat().st_size


def test_bfloat16_survives_the_trip_through_float64(tmp_path: Path) -> None:
    """A bfloat16 tensor read as float64 and written back unchanged is the same bytes
    (bfloat16 -> float64 -> bfloat16 is exact); a changed one is rounded once."""
    w = np.random.default_rng(3).standard_normal((32, 16)).astype(BF16)
    src = save(tmp_path / "b.safetensors", "safetensors", {"w": w, "v": w[:8]})
    m = load_matrix(src, "w")
    out = tmp_path / "o.safetensors"
    write_like(src, out, {"w": m, "v": np.full((8, 16), 1 / 3)})
    got, before = _stored(out, "safetensors"), _stored(src, "safetensors")
    assert got["w"][1] == before["w"][1]
    assert got["w"][0].dtype == BF16
    assert_array_equal(got["w"][0].view(np.uint16), w.view(np.uint16))
    assert got["v"][1] == np.full((8, 16), 1 / 3).astype(BF16).tobytes()
    assert float(got["v"][0][0, 0]) == 0.333984375  # 1/3 to 8 significant bits, rounded up


def test_kernels_come_back_in_their_own_shape(tmp_path: Path) -> None:
    """A kernel replaced by its (out, in*kh*kw) matrix, or in its own 4-D shape, is
    stored 4-D with the entries where the forward reshape took them."""
    src = save(tmp_path / "m.npz", "npz", model_tensors(np.float64))
    k = np.random.default_rng(5).standard_normal((5, 3, 3, 2))
    for given in (k.reshape(5, 18), k):
        out = tmp_path / "o.npz"
        write_like(src, out, {"conv.weight": given})
        with np.load(out) as z:
            assert_array_equal(z["conv.weight"], k)
        assert_array_equal(load_matrix(out, "conv.weight"), k.reshape(5, 18))


@pytest.mark.parametrize("fmt", FORMATS)
def test_bytes_in_and_a_file_object_out(tmp_path: Path, fmt: str) -> None:
    """An upload body in, a response body out: the same bytes as the file route."""
    tensors = model_tensors(np.float32)
    tensors = {NPY_NAME: tensors["dense.weight"]} if fmt == "npy" else tensors
    src = save(tmp_path / f"m{suffix(fmt)}", fmt, tensors)
    new = {next(iter_matrices(src))[0]: np.ones(next(iter_matrices(src))[1].shape)}
    buf = io.BytesIO()
    write_like(src.read_bytes(), buf, new)
    out = tmp_path / f"o{suffix(fmt)}"
    write_like(src, out, new)
    assert [(n, i) for n, _, i in iter_matrices(buf.getvalue())] == [
        (n, i) for n, _, i in iter_matrices(out)
    ]
    if not fmt.startswith("npz"):  # a zip's entries carry the time they were written
        assert buf.getvalue() == out.read_bytes()


def test_fortran_order_is_kept(tmp_path: Path) -> None:
    a = np.asfortranarray(np.random.default_rng(2).standard_normal((6, 4)))
    src = save(tmp_path / "f.npy", "npy", {"a": a})
    out = tmp_path / "o.npy"
    write_like(src, out, {NPY_NAME: 2 * a})
    b = np.load(out)
    assert b.flags.f_contiguous and not b.flags.c_contiguous
    assert_array_equal(b, 2 * a)


def _raises(message: str) -> Any:
    return pytest.raises(InvalidParameter, match=f"^{re.escape(message)}$")


def test_bad_replacements_are_refused_before_writing(tmp_path: Path) -> None:
    """Each refusal happens before a byte is written: no output file appears."""
    tensors = model_tensors(np.float16)
    src = save(tmp_path / "m.safetensors", "safetensors", tensors)
    out = tmp_path / "o.safetensors"
    w = f"the replacement of tensor 'dense.weight' in {src}"
    nan = np.ones((12, 7))
    nan[0, 0] = np.nan
    cases = {
        f"{w} has shape (7, 12), expected (12, 7)": {"dense.weight": np.ones((7, 12))},
        f"{w} has 1 non-finite entries": {"dense.weight": nan},
        f"{w} has an entry of size 100000, beyond the largest float16 (65504)": {
            "dense.weight": np.full((12, 7), -1e5)
        },
        f"{w} must hold real numbers, got dtype complex128": {
            "dense.weight": np.ones((12, 7), complex)
        },
        f"the replacement of tensor 'steps' in {src}: only floating tensors can be replaced, "
        "this one is int64": {"steps": np.ones((2, 3))},
        f"the replacement of tensor 'conv.weight' in {src} has shape (5, 9), expected "
        "(5, 3, 3, 2) or (5, 18)": {"conv.weight": np.ones((5, 9))},
    }
    for message, replacements in cases.items():
        with _raises(message):
            write_like(src, out, replacements)
        assert not out.exists()
    with pytest.raises(
        InvalidParameter, match=r"^no tensor 'dense\.weigth' in .*close names: 'dense\.weight'"
    ):
        write_like(src, out, {"dense.weigth": np.ones((12, 7))})
    with _raises(f"out must not be the source {src}: it is read while the copy is written"):
        write_like(src, src, {})
    with _raises(f"no such folder for out: {tmp_path / 'no'}"):
        write_like(src, tmp_path / "no" / "o.safetensors", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]


def test_a_bias_can_be_replaced_in_its_own_shape(tmp_path: Path) -> None:
    src = save(tmp_path / "m.npz", "npz", model_tensors(np.float32))
    out = tmp_path / "o.npz"
    write_like(src, out, {"dense.bias": np.zeros(12)})
    with np.load(out) as z:
        assert z["dense.bias"].dtype == np.float32 and not z["dense.bias"].any()

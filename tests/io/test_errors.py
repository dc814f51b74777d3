"""Bad files, names and limits get the package's own errors with a message that says what
is wrong and where; nothing is ever unpickled."""

from __future__ import annotations

import io
import json
import os
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmtservice.errors import InvalidParameter, LimitExceeded, RMTError
from rmtservice.io import NPY_NAME, iter_matrices, list_tensors, load_matrix, write_like
from tests.io.conftest import FORMATS, encode, model_tensors, save, suffix


def _raises(message: str, cls: type[Exception] = InvalidParameter) -> Any:
    return pytest.raises(cls, match=f"^{re.escape(message)}$")


def _safetensors(header: Any, data: bytes = b"", *, raw: bytes | None = None) -> bytes:
    text = raw if raw is not None else json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


ENTRY = {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}


# ------------------------------------------------------------------------ truncation


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("keep", [0.999, 0.5, 0.02])
def test_a_truncated_file_is_refused_with_its_name(tmp_path: Path, fmt: str, keep: float) -> None:
    """Cut anywhere (in the data, in the header, in the zip directory): an
    InvalidParameter that names the file and says truncated, damaged or corrupt."""
    tensors = model_tensors(np.float32)
    tensors = {NPY_NAME: tensors["dense.weight"]} if fmt == "npy" else tensors
    path = save(tmp_path / f"m{suffix(fmt)}", fmt, tensors)
    data = path.read_bytes()
    path.write_bytes(data[: max(9, int(len(data) * keep))])
    with pytest.raises(InvalidParameter) as err:
        list(iter_matrices(path))
    assert str(err.value).startswith(f"{path}: ")
    assert re.search(r"truncated|damaged|corrupt", str(err.value))


def test_truncation_messages(tmp_path: Path) -> None:
    """The exact words for the common cases."""
    a = np.ones((4, 4), np.float32)
    npy = save(tmp_path / "a.npy", "npy", {"a": a})
    npy.write_bytes(npy.read_bytes()[:-1])
    with _raises(
        f"{npy}: truncated: its .npy header says shape (4, 4) of float32 (64 bytes) "
        "but only 63 data bytes follow"
    ):
        list_tensors(npy)
    st = tmp_path / "a.safetensors"
    st.write_bytes(_safetensors({"w": ENTRY}, b"\0" * 10))
    with _raises(
        f"{st}: truncated: tensor 'w' ends at data byte 16 but the file holds only 10 data bytes"
    ):
        list_tensors(st)
    content = _safetensors({"w": ENTRY})
    st.write_bytes(content[:20])
    n = len(content) - 8
    with _raises(
        f"{st}: truncated: the safetensors header says {n} bytes but only 12 bytes follow "
        "its length field"
    ):
        list_tensors(st)
    st.write_bytes(b"\x10\0\0")
    with _raises(
        f"{st} is truncated: 3 bytes, fewer than a safetensors header length (8 bytes) "
        "and its first character"
    ):
        list_tensors(st)


# ---------------------------------------------------------------- corrupt headers


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            (200_000_000).to_bytes(8, "little") + b"{" + b" " * 7,
            "corrupt safetensors header: its length field says 200000000 bytes, more than "
            "the format allows (100000000)",
        ),
        (_safetensors(None, raw=b'{"w": [1, 2'), "corrupt safetensors header: not valid JSON"),
        (_safetensors(None, raw=b'{"w": 1}'), "corrupt header entry of tensor 'w': it must"),
        (
            _safetensors(
                None, b"\0" * 32, raw=b'{"w": %s, "w": %s}' % ((json.dumps(ENTRY).encode(),) * 2)
            ),
            "corrupt safetensors header: not valid JSON (the name 'w' appears twice)",
        ),
        (
            _safetensors({"w": {**ENTRY, "shape": [2, 3]}}, b"\0" * 16),
            "corrupt header entry of tensor 'w': shape (2, 3) of F32 takes 24 bytes but its "
            "data_offsets span 16",
        ),
        (
            _safetensors({"w": {**ENTRY, "shape": [2, -2]}}, b"\0" * 16),
            "corrupt header entry of tensor 'w': shape must be a list of non-negative integers",
        ),
        (
            _safetensors({"w": {"dtype": "F32", "shape": [2, 2]}}, b"\0" * 16),
            "corrupt header entry of tensor 'w': it must hold exactly dtype, shape and "
            "data_offsets",
        ),
        (
            _safetensors({"w": ENTRY, "v": {**ENTRY, "data_offsets": [8, 24]}}, b"\0" * 24),
            "corrupt safetensors data layout: 'v' overlaps tensor 'w'",
        ),
        (
            _safetensors({"w": {**ENTRY, "data_offsets": [4, 20]}}, b"\0" * 20),
            "corrupt safetensors data layout: 'w' leaves a gap after the header",
        ),
        (
            _safetensors({"w": ENTRY}, b"\0" * 20),
            "corrupt safetensors file: 4 bytes follow the last tensor",
        ),
        (
            _safetensors({"__metadata__": {"a": 1}, "w": ENTRY}, b"\0" * 16),
            "corrupt safetensors header: __metadata__ must map text to text",
        ),
    ],
)
def test_a_corrupt_safetensors_header(tmp_path: Path, content: bytes, message: str) -> None:
    """Each way a header can lie is refused before any data is read, from a file and from
    bytes alike."""
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    for source, label in ((path, str(path)), (content, f"the data ({len(content)} bytes)")):
        with pytest.raises(InvalidParameter) as err:
            list_tensors(source)
        assert str(err.value).startswith(f"{label}: {message}")


def test_a_corrupt_npy_header(tmp_path: Path) -> None:
    path = tmp_path / "a.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f8', " + b"\n")
    with pytest.raises(InvalidParameter, match=rf"^{re.escape(str(path))}: corrupt \.npy header"):
        list_tensors(path)


def test_a_damaged_npz_member_fails_its_checksum(tmp_path: Path) -> None:
    """A flipped byte inside a member's data (the zip directory intact) is found by the
    zip's CRC when the member is read, and named."""
    path = save(tmp_path / "m.npz", "npz", {"w": np.zeros((64, 64))})
    data = bytearray(path.read_bytes())
    data[2000] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(
        InvalidParameter, match=r"^member 'w\.npy' of .*m\.npz: damaged data \(Bad CRC-32"
    ):
        list(iter_matrices(path))


# ------------------------------------------------------------------ foreign formats


def test_unknown_formats_are_named(tmp_path: Path) -> None:
    """The format comes from the first bytes; the message says what was found."""
    cases = {
        "empty.npz": (b"", "{} is empty"),
        "x.bin": (
            b"\x01\x02\x03\x04\x05\x06\x07\x08\x09",
            "{} is not a .npy, .npz or .safetensors file (it starts with 0x0102030405060708); "
            "the format is told by its first bytes, not its name",
        ),
        "m.gguf": (
            b"GGUF\x03\0\0\0\0\0\0\0",
            "{} is a GGUF file; supported formats: .npy, .npz, .safetensors",
        ),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with _raises(message.format(path)):
            list_tensors(path)


class _Trap:
    """Unpickling this makes a folder: proof, if it appears, that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.mkdir, (str(self.marker),)


def test_pickles_are_never_loaded(tmp_path: Path) -> None:
    """A pickle, an object array in .npy and .npz, and a PyTorch-style zip of pickles are
    all refused, and the trap inside them never goes off."""
    marker = tmp_path / "unpickled"
    trap = np.array([_Trap(marker), 1], dtype=object)
    pkl = tmp_path / "model.bin"
    pkl.write_bytes(pickle.dumps({"w": trap}))
    npy = tmp_path / "o.npy"
    np.save(npy, trap, allow_pickle=True)
    npz = tmp_path / "o.npz"
    np.savez(npz, w=np.ones((2, 2)), o=trap)
    pt = tmp_path / "model.pt"
    with zipfile.ZipFile(pt, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps(trap))
        z.writestr("archive/version", "3")
    expected = {
        pkl: f"{pkl} is a Python pickle (a PyTorch .bin/.pt checkpoint?), which is never "
        "loaded: unpickling can run code; convert it to .safetensors; supported formats: "
        ".npy, .npz, .safetensors",
        npy: f"{npy} holds Python objects (dtype object), which are never loaded: reading "
        "them needs pickle, which can run code",
        npz: f"member 'o.npy' of {npz} holds Python objects (dtype object), which are never "
        "loaded: reading them needs pickle, which can run code",
        pt: f"{pt}: member 'archive/data.pkl' is not a .npy array, so this is no .npz archive "
        "(a PyTorch checkpoint? its pickles are never loaded: convert it to .safetensors)",
    }
    for path, message in expected.items():
        for source in (path, path.read_bytes()):
            with pytest.raises(InvalidParameter) as err:
                list(iter_matrices(source))
            if isinstance(source, Path):
                assert str(err.value) == message
    assert not marker.exists()
    # the trap works: loading the pickle the ordinary way springs it
    pickle.loads(pkl.read_bytes())
    assert marker.is_dir()


# ------------------------------------------------------------------ names and content


def test_a_file_with_only_1d_tensors(tmp_path: Path) -> None:
    path = save(tmp_path / "b.npz", "npz", {"bias": np.ones(3, np.float32), "n": np.int64(3)})
    with _raises(f"no 2-D tensor in {path} (it holds 'bias' (3,) float32, 'n' () int64)"):
        list(iter_matrices(path))
    empty = tmp_path / "e.safetensors"
    empty.write_bytes(_safetensors({}))
    with _raises(f"no 2-D tensor in {empty} (it holds no tensor)"):
        iter_matrices(empty)


def test_a_name_that_is_not_there_lists_close_ones(tmp_path: Path) -> None:
    path = save(tmp_path / "m.safetensors", "safetensors", model_tensors(np.float32))
    names = ", ".join(repr(t.name) for t in list_tensors(path))
    with _raises(
        f"no tensor 'conv.weights' in {path}; close names: 'conv.weight', 'conv1d.weight', "
        f"'dense.weight'; its tensors: {names}"
    ):
        load_matrix(path, "conv.weights")
    with _raises(
        f"tensor 'dense.bias' in {path} is not a matrix: 1-D (a bias or a norm scale) "
        "(shape (12,), float32)"
    ):
        load_matrix(path, "dense.bias")
    with _raises(
        f"tensor 'steps' in {path} is not a matrix: dtype int64 is not a floating weight type "
        "(shape (2, 3), int64)"
    ):
        load_matrix(path, "steps")
    with pytest.raises(InvalidParameter, match=r"^no 2-D tensor in .* matches 'lm_head\*'"):
        iter_matrices(path, names="lm_head*")


@pytest.mark.parametrize("fmt", ["npz", "safetensors"])
def test_non_finite_entries_name_the_tensor(tmp_path: Path, fmt: str) -> None:
    """NaN and overflowed float16 entries are refused when that matrix is reached."""
    w = np.ones((3, 4), np.float16)
    w[1, 2] = np.nan
    w[2, 0] = np.inf
    path = save(tmp_path / f"m{suffix(fmt)}", fmt, {"a": np.ones((2, 2), np.float16), "w": w})
    it = iter_matrices(path)
    assert next(it)[0] == "a"
    with _raises(
        f"tensor 'w' in {path} has 2 non-finite entries (the first, nan, at index (1, 2))"
    ):
        next(it)


def test_limits(tmp_path: Path) -> None:
    """A source over max_bytes and a matrix over max_entries: LimitExceeded (a ValueError),
    raised before any data is read."""
    path = save(tmp_path / "m.safetensors", "safetensors", model_tensors(np.float32))
    size = path.stat().st_size
    with _raises(f"{path} is {size} bytes, over the limit of 100 bytes", LimitExceeded):
        list_tensors(path, max_bytes=100)
    with _raises(
        f"the data ({size} bytes) is {size} bytes, over the limit of 100 bytes", LimitExceeded
    ):
        iter_matrices(path.read_bytes(), max_bytes=100)
    with _raises(
        f"tensor 'conv.weight' in {path} has 90 entries (5 x 18), over the limit of 89",
        LimitExceeded,
    ):
        iter_matrices(path, max_entries=89)
    assert len(list(iter_matrices(path, max_entries=90))) == 3
    assert issubclass(LimitExceeded, ValueError)


def test_missing_paths(tmp_path: Path) -> None:
    with _raises(f"no such file: {tmp_path / 'nope.npz'}"):
        list_tensors(tmp_path / "nope.npz")
    with _raises(f"{tmp_path} is not a regular file"):
        list_tensors(tmp_path)


# ------------------------------------------------------------------------- fuzzing


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_damaged_bytes_never_escape_as_another_error(fmt: str, data: st.DataObject) -> None:
    """Bytes overwritten, inserted or cut anywhere (mostly in the headers): reading and
    writing back either work or raise the package's own error, never another one."""
    tensors = model_tensors(np.float16 if fmt == "safetensors" else np.float32)
    good = encode(fmt, {NPY_NAME: tensors["conv.weight"]} if fmt == "npy" else tensors)
    bad = bytearray(good)
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.integers(0, min(len(bad), 400) - 1))
        bad[where : where + data.draw(st.integers(0, 2))] = data.draw(st.binary(max_size=3))
    bad = bad[: data.draw(st.integers(0, len(bad)))]
    try:
        for _name, m, _info in iter_matrices(bytes(bad)):
            assert np.isfinite(m).all()
        write_like(bytes(bad), io.BytesIO(), {})
    except RMTError:
        pass

"""``rmtservice denoise FILE``: the denoised weights written back in the same format with
the same names (locally and through a real server), the report, --json, exit codes."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from numpy.testing import assert_allclose
from safetensors.numpy import load_file, save_file

from rmtservice import denoise as dn
from rmtservice.client.cli import main
from rmtservice.io import list_tensors
from tests._server import uvicorn


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def low_rank(n: int, p: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    s = np.zeros((n, p))
    s[0, 0], s[1, 1] = 4.0, 3.0
    return s + rng.standard_normal((n, p)) / math.sqrt(n)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "model.safetensors"
    tensors = {
        "a.weight": low_rank(60, 40, 1).astype(np.float32),
        "a.bias": np.arange(60, dtype=np.float32),
        "b.weight": low_rank(50, 30, 2).astype(ml_dtypes.bfloat16),
        "step": np.array([7], dtype=np.int64),
    }
    save_file(tensors, str(path))
    return path


def test_npy_denoised_as_the_library(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = low_rank(80, 50, 0)
    src, out = tmp_path / "w.npy", tmp_path / "d.npy"
    np.save(src, w)
    code, text, err = run(capsys, "denoise", str(src), "--sigma2", "1", "-o", str(out))
    assert code == 0, err
    ref = dn.denoise(w, 1.0, output="matrix")
    assert ref.matrix is not None
    got = np.load(out)
    assert got.dtype == np.float64
    assert_allclose(got, ref.matrix, atol=1e-12)
    assert "arr_0" in text and ref.method in text and f"written: {out}" in text


def test_safetensors_same_names_shapes_dtypes(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "d.safetensors"
    code, text, err = run(capsys, "denoise", str(model), "--seed", "1", "-o", str(out), "--json")
    assert code == 0, err
    report = json.loads(text)
    assert [t["name"] for t in report["tensors"]] == ["a.weight", "b.weight"]
    assert all(t["sigma2_fitted"] for t in report["tensors"])
    before = {t.name: (t.shape, t.dtype) for t in list_tensors(model)}
    assert {t.name: (t.shape, t.dtype) for t in list_tensors(out)} == before
    old, new = load_file(str(model)), load_file(str(out))
    assert np.array_equal(new["a.bias"], old["a.bias"]) and np.array_equal(new["step"], old["step"])
    a = old["a.weight"].astype(np.float64)
    ref = dn.denoise(a, seed=1, output="matrix")
    assert ref.matrix is not None
    assert_allclose(new["a.weight"], ref.matrix.astype(np.float32), rtol=0, atol=0)
    assert report["tensors"][0]["method"] == ref.method
    assert_allclose(report["tensors"][0]["sigma2"], ref.sigma2, rtol=1e-12)
    b = new["b.weight"]
    assert b.dtype == np.dtype(ml_dtypes.bfloat16)  # a bfloat16 tensor survives


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with uvicorn() as base:
        yield base


def test_through_a_server_the_same_file(
    model: Path, tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    here, there = tmp_path / "here.safetensors", tmp_path / "there.safetensors"
    args = ["denoise", str(model), "--tensor", "a.*", "--sigma2", "1", "--method", "rie"]
    assert run(capsys, *args, "-o", str(here))[0] == 0
    code, text, err = run(capsys, *args, "-o", str(there), "--url", server)
    assert code == 0, err
    assert "a.weight" in text and "rie" in text and "b.weight" not in text
    assert_allclose(load_file(str(there))["a.weight"], load_file(str(here))["a.weight"], atol=1e-6)


def test_errors_exit_2(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "denoise", str(model), "--tensor", "c.weight")
    assert code == 2 and "no tensor 'c.weight'" in err
    code, _, err = run(capsys, "denoise", str(tmp_path / "missing.npy"))
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "denoise", str(model), "--tensor", "a.bias")
    assert code == 2 and "not a matrix" in err
    code, _, err = run(capsys, "denoise", str(model), "--sigma2", "-1")
    assert code == 2 and "sigma2" in err

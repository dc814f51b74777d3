"""``rmtservice fit``: values from text, .npy and weight files, the report, --json, bad
input, and a real server (a large matrix goes as its spectrum)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from rmtservice.client.cli import main
from rmtservice.fit import fit as core_fit
from tests._server import uvicorn


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def spiked(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, n))
    m = (g + g.T) / math.sqrt(2 * n)
    m[0, 0] += 3.0
    return m


def tall(rows: int, cols: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((rows, cols)) / math.sqrt(rows)
    x[0, 0] += 2.5
    return x.astype(np.float32)


def test_text_file_report_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ev = np.linalg.eigvalsh(spiked(200, 1))
    f = tmp_path / "eigenvalues.txt"
    np.savetxt(f, ev)
    code, out, _ = run(capsys, "fit", str(f), "--seed", "3")
    assert code == 0
    expected = core_fit(np.loadtxt(f), seed=3)
    assert "model wigner: 200 eigenvalues" in out
    assert f"sigma2      {expected.sigma2:.6g}  [{expected.sigma2_interval.lower:.6g}" in out
    assert f"threshold   {expected.edge_threshold:.6g}" in out
    assert "outliers    1" in out and "verdict     noise plus spikes" in out
    assert f"{expected.outliers[0].spike:.6g}" in out
    code, out, _ = run(capsys, "fit", str(f), "--seed", "3", "--json")
    assert code == 0
    answer = json.loads(out)
    assert answer["sigma2"] == expected.sigma2 and answer["rank"] == expected.rank


def test_singular_values_from_npy_and_values_inline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sv = np.linalg.svd(tall(120, 40, 2).astype(float), compute_uv=False)
    f = tmp_path / "sv.npy"
    np.save(f, sv)
    code, out, _ = run(capsys, "fit", str(f), "--shape", "120", "40", "--bootstrap", "0", "--json")
    assert code == 0
    answer = json.loads(out)
    assert answer["model"] == "rectangular" and answer["sigma2_interval_method"] == "asymptotic"
    assert answer["outliers"][0]["left_overlap"] is not None
    values = ",".join(repr(float(v)) for v in sv)
    code, out2, _ = run(
        capsys, "fit", "--values", values, "--shape", "120", "40", "--bootstrap", "0", "--json"
    )
    assert code == 0 and json.loads(out2) == answer


def test_a_tensor_of_a_weight_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = tall(150, 60, 4)
    f = tmp_path / "model.safetensors"
    save_file({"layer.weight": w, "layer.bias": w[0]}, str(f))
    code, out, _ = run(
        capsys, "fit", str(f), "--tensor", "layer.weight", "--bootstrap", "0", "--json"
    )
    assert code == 0
    answer = json.loads(out)
    f_core = core_fit(matrix=w.astype(float), bootstrap=0)
    assert answer["model"] == "rectangular" and answer["shape"] == {"rows": 150, "cols": 60}
    assert answer["sigma2"] == f_core.sigma2 and answer["rank"] == 1
    code, _, err = run(capsys, "fit", str(f), "--tensor", "nope")
    assert code == 2 and "nope" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fit"], "give a FILE or --values"),
        (["fit", "--values", "1,2,3"], "/eigenvalues: List should have at least 10 items"),
        (["fit", "/nonexistent/x.txt"], "cannot read"),
        (["fit", "--values", "1,2,3,4,5,6,7,8,9,10", "--model", "wigner"], "--model goes with"),
        (["fit", "--values", "1,2,3,4,5,6,7,8,9,10", "--shape", "20", "11"], "shape"),
        (["fit", "--values", "1,2,3,4,5,6,7,8,9,10", "--deconvolve"], "pass sigma2"),
    ],
)
def test_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert message in err, err


def test_against_a_real_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 400 x 400 matrix (160000 entries) goes to the service as its eigenvalues; a
    small one as itself; both agree with the local fit."""
    big, small = spiked(400, 5), spiked(60, 6)
    np.save(tmp_path / "big.npy", big)
    np.save(tmp_path / "small.npy", small)
    with uvicorn() as base:
        for name in ("big", "small"):
            argv = ["fit", str(tmp_path / f"{name}.npy"), "--seed", "1", "--json"]
            code, out, err = run(capsys, *argv, "--url", base)
            assert code == 0, err
            code, here, _ = run(capsys, *argv)
            remote, local = json.loads(out), json.loads(here)
            assert remote["rank"] == local["rank"] == 1
            assert remote["outliers"][0]["index"] == local["outliers"][0]["index"]
            np.testing.assert_allclose(remote["sigma2"], local["sigma2"], rtol=1e-12)

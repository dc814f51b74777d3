"""The example scripts in examples/ run (``--quick``), draw a 1000x600 PNG, and
reproduce the paper's claim each illustrates."""

from __future__ import annotations

import importlib.util
import re
import struct
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """Run the script's main() at quick size; check the PNG; the printed key=value pairs."""
    out = tmp_path / f"{name}.png"
    assert _load(name).main(["--quick", "--out", str(out)]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert abs(width - 1000) <= 20 and abs(height - 600) <= 20, (width, height)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith(f"{name}:")
    return dict(re.findall(r"(\S+)=(\S+)", line))


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.strip("[]").replace(",", " ").split()]


def test_bbp_transition(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = _run("bbp_transition", tmp_path, capsys)
    # above theta = 1.5 the top eigenvalue follows theta + 1/theta; below 1 it sticks at 2
    assert float(found["max_dev_above_1.5"]) < 0.15
    assert float(found["max_dev_below_0.9"]) < 0.15
    assert float(found["theory_at_theta3"]) == pytest.approx(3 + 1 / 3, abs=1e-3)


def test_growing_spikes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = _run("growing_spikes", tmp_path, capsys)
    errors = _floats(found["mean_max_error"])
    assert errors[-1] < errors[0]
    assert -0.9 < float(found["slope"]) < -0.2


def test_outlier_histogram(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = _run("outlier_histogram", tmp_path, capsys)
    # the push-forward density is a probability density on [phi(3), phi(4)] ...
    assert float(found["predicted_mass"]) == pytest.approx(1.0, abs=0.02)
    assert float(found["phi3"]) == pytest.approx(3.0866, abs=1e-3)
    # ... and the observed outliers carry that mass, with the predicted mean and shape
    assert float(found["observed_inside"]) == 1.0
    assert float(found["mean_observed"]) == pytest.approx(float(found["mean_predicted"]), abs=0.05)
    assert float(found["l1"]) < 0.5


def test_bulk_decay(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    found = _run("bulk_decay", tmp_path, capsys)
    predicted = _floats(found["predicted"])
    upper = _floats(found["support"])[1]
    assert len(predicted) == 3 and all(y > upper for y in predicted)
    assert float(found["max_outlier_error"]) < 0.3

"""examples/appendix_a.py at quick size: it runs, draws its picture, and its numbers obey
what holds whatever the training does."""

from __future__ import annotations

import importlib.util
import re
import struct
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "appendix_a.py"


def test_appendix_a_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("examples_appendix_a", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    out = tmp_path / "appendix_a.png"
    # main() also checks the rebuilt initialisation against scikit-learn's (raises if not)
    assert module.main(["--quick", "--out", str(out)]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1000, 600)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    found = {k: [float(x) for x in v.split(",")] for k, v in re.findall(r"(\S+)=\[([^]]*)\]", line)}
    sizes = found["sizes"]
    assert sizes == [100.0, 200.0]
    for i, n in enumerate(sizes):
        assert 1 <= found["rank_fit"][i] <= n and 0 <= found["rank_init"][i] <= n
        assert found["sigma2_fit"][i] > 0
        # the oracle is the best estimator that keeps the observed singular vectors
        for m in ("hard", "shrink", "rie"):
            assert found["oracle"][i] <= found[m][i] + 1e-12
        # a trained layer's update is not a few spikes: pruning to the edge loses
        assert found["shrink"][i] < found["hard"][i]

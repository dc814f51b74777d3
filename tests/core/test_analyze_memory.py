"""analyze reads a model tensor by tensor: on a generated 2 GiB file, memory grows by a few
matrices, not the file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
MiB = 1 << 20
ROWS, COLS, COUNT = 64, 32768, 256  # 256 float32 tensors of 8 MiB: 2 GiB (16 MiB as float64)

# a fresh process reading its own peak resident size (VmHWM; see tests/io/test_memory.py)
MEASURE = """
import json, sys
import numpy as np
from rmtservice.analyze import analyze
from rmtservice.io import iter_matrices

def peak():
    with open("/proc/self/status") as f:
        kib = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
    return int(kib) * 1024

path = sys.argv[1]
analyze(path, names=["t0"])  # imports, caches and one matrix: the base
base = peak()
a = analyze(path)
after = peak()
held = [m for _, (_, m, _) in zip(range(8), iter_matrices(path))]  # the control
print(json.dumps(dict(base=base, after=after, held=peak(), rows=len(a.tensors),
                      ranks=[r.rank for r in a.tensors])))
"""


def _write_model(path: Path) -> None:
    """``COUNT`` tensors of noise plus one spike, written from one block, so the file is
    never in this process's memory."""
    noise = np.random.default_rng(0).standard_normal((ROWS, COLS)) / np.sqrt(ROWS)
    noise[0, 0] += 6.0
    block = noise.astype("<f4")
    size = block.nbytes
    header = {
        f"t{k}": {"dtype": "F32", "shape": [ROWS, COLS], "data_offsets": [k * size, (k + 1) * size]}
        for k in range(COUNT)
    }
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        for _ in range(COUNT):
            f.write(block.tobytes())


@pytest.mark.slow
def test_analyze_holds_a_few_matrices(tmp_path: Path) -> None:
    if shutil.disk_usage(tmp_path).free < 5e9:
        pytest.skip("needs 5 GB of free disk for the generated 2 GiB model")
    path = tmp_path / "model.safetensors"
    try:
        _write_model(path)
        assert path.stat().st_size > 2 * 1024 * MiB - MiB
        out = subprocess.run(
            [sys.executable, "-c", MEASURE, str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
            check=True,
        )
    finally:
        path.unlink(missing_ok=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["rows"] == COUNT and set(r["ranks"]) == {1}
    matrix = ROWS * COLS * 8  # one float64 matrix, 16 MiB
    grown = r["after"] - r["base"]
    # a few matrices (the float64 copy, the stored copy, the decomposition's work), far
    # below the 2 GiB of the file
    assert grown < 4 * matrix, grown / MiB
    # the control: holding 8 matrices does show (the measure sees memory that is kept)
    assert r["held"] - r["after"] > 3 * matrix, (r["held"] - r["after"]) / MiB

"""A model file is read tensor by tensor from its memory map: a generated 2 GiB
safetensors file is read through, and written back, with memory for a few tensors only."""

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
ROWS, COLS, COUNT = 2048, 4096, 64  # 64 float32 tensors of 32 MiB: 2 GiB

# Runs in a fresh process, and reads the peak resident size of that program's own memory
# (VmHWM), not ru_maxrss: the kernel carries the forking parent's peak into ru_maxrss over
# exec, so in a test session grown to 800 MB the child's ru_maxrss started at 800 MB and
# hid every growth below it.
MEASURE = """
import json, sys
from rmtservice.io import iter_matrices, list_tensors, write_like

def peak():
    with open("/proc/self/status") as f:
        kib = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
    return int(kib) * 1024

path = sys.argv[1]
list_tensors(path)  # imports safetensors and ml_dtypes: part of the base, not the growth
base = peak()
firsts = [float(m[0, 0]) for _, m, _ in iter_matrices(path)]
seconds = [float(m[0, 1]) for _, m, _ in iter_matrices(path, names=["t0", "t63"])]
read = peak()
with open("/dev/null", "wb") as out:
    write_like(path, out, {"t7": list(iter_matrices(path, names=["t7"]))[0][1] * 0.5})
written = peak()
held = [m for _, (_, m, _) in zip(range(8), iter_matrices(path))]  # the control
print(json.dumps(dict(base=base, read=read, written=written, held=peak(), firsts=firsts,
                      seconds=seconds)))
"""


def _write_model(path: Path) -> np.ndarray:
    """64 tensors 't0'..'t63' written one at a time from one 32 MiB block (tensor k starts
    with the value k), so the file is never in this process's memory."""
    block = np.random.default_rng(0).standard_normal((ROWS, COLS)).astype("<f4")
    size = block.nbytes
    header = {
        f"t{k}": {"dtype": "F32", "shape": [ROWS, COLS], "data_offsets": [k * size, (k + 1) * size]}
        for k in range(COUNT)
    }
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    raw = memoryview(block.reshape(-1).view(np.uint8))
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text)
        for k in range(COUNT):
            f.write(np.float32(k).tobytes())
            f.write(raw[4:])
    return block


@pytest.mark.slow
def test_a_2gib_model_is_read_with_memory_for_a_few_tensors(tmp_path: Path) -> None:
    """Reading all 64 matrices, and writing the file back with one replaced, grow the
    peak resident size by a few tensors' worth (float64 copy, the stored copy, the map
    of one tensor), far below the 2 GiB of the file; holding 8 matrices, the control,
    does show up (so the measure sees memory that is kept)."""
    if shutil.disk_usage(tmp_path).free < 5e9:
        pytest.skip("needs 5 GB of free disk for the generated 2 GiB model")
    path = tmp_path / "big.safetensors"
    try:
        block = _write_model(path)
        assert path.stat().st_size > 2 * 1024 * MiB
        out = subprocess.run(
            [sys.executable, "-c", MEASURE, str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
    finally:
        path.unlink(missing_ok=True)
    r = json.loads(out.stdout)
    tensor = ROWS * COLS * 4
    assert r["firsts"] == list(range(COUNT))
    assert r["seconds"] == [float(block[0, 1])] * 2
    assert r["read"] - r["base"] < 6 * tensor  # 192 MiB, against a 2048 MiB file
    assert r["written"] - r["base"] < 6 * tensor
    assert r["held"] - r["written"] > 6 * tensor  # 8 float64 matrices: 512 MiB

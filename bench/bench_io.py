"""Benchmark: reading the matrices of a real model, against their SVDs alone.

The model is all-MiniLM-L6-v2 (``make model``: 90.9 MB of float32 safetensors, 40
weight matrices, 36 of them in the 6 encoder layers). Cases, each in a fresh subprocess
so that its peak memory (VmHWM) is its own, each timed 3 times (best shown):

- ``svdvals``: ``scipy.linalg.svdvals`` of every matrix, already in memory as float64:
  the baseline, the cost the analysis cannot avoid (and must stay within 1.3x of).
- ``iter_matrices``: all matrices through ``rmtservice.io.iter_matrices`` (one tensor at
  a time from the memory map, converted to float64, checked finite).
- ``load_file``: the whole file read by ``safetensors.numpy.load_file``, then converted.
- ``bytes``: ``iter_matrices`` over the file's bytes in memory (an upload body).
- ``npz`` / ``np.load``: the same model as an uncompressed .npz, through
  ``iter_matrices`` and through ``np.load`` of every member.
- ``iter + svdvals``: reading and the SVDs together, what an analysis does at least.

``err`` is the largest difference to the matrices of ``load_file`` (0: the same values).

Run: ``make bench-io`` or ``python bench/bench_io.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CASES = ["svdvals", "svdvals36", "iter", "load_file", "bytes", "npz", "np_load", "iter_svd"]


def _npz(model: Path) -> Path:
    """The model as an uncompressed .npz (every tensor), made once under bench/.cache."""
    import numpy as np

    out = ROOT / "bench" / ".cache" / "all-MiniLM-L6-v2.npz"
    if not out.exists():
        from safetensors.numpy import load_file

        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez(out, **load_file(str(model)))  # type: ignore[arg-type]
    return out


def _full_read(model: Path) -> dict[str, Any]:
    import numpy as np
    from safetensors.numpy import load_file

    from rmtservice.io import list_tensors

    keep = {t.name for t in list_tensors(model) if t.matrix_shape is not None}
    return {
        k: np.asarray(v, dtype=np.float64) for k, v in load_file(str(model)).items() if k in keep
    }


def _once(case: str, model: Path, ref: dict[str, Any] | None) -> float:
    """One run of ``case``; with ``ref``, the largest difference to its matrices."""
    import numpy as np
    import scipy.linalg

    from rmtservice.io import iter_matrices

    got: dict[str, Any] = {}
    if case in ("svdvals", "svdvals36"):
        assert ref is not None
        for name, m in ref.items():
            if case == "svdvals" or name.startswith("encoder."):
                scipy.linalg.svdvals(m)
        return 0.0
    if case == "load_file":
        got = _full_read(model)
    elif case == "np_load":
        with np.load(_npz(model)) as z:
            names = [k for k in z.files if z[k].ndim == 2 and z[k].dtype.kind == "f"]
            got = {k: np.asarray(z[k], dtype=np.float64) for k in names}
    else:
        source: Any = model.read_bytes() if case == "bytes" else model
        source = _npz(model) if case == "npz" else source
        for name, m, _ in iter_matrices(source):
            if case == "iter_svd":
                scipy.linalg.svdvals(m)
            if ref is not None:
                got[name] = m
    if ref is None:
        return 0.0
    assert sorted(got) == sorted(ref)
    return max(float(np.max(np.abs(got[k] - ref[k]))) for k in ref)


def peak_mb() -> float:
    """This process's peak resident memory in MB: VmHWM from /proc/self/status, not
    ru_maxrss, which the kernel carries over exec from the forking parent (a child of a
    large benchmark or test process starts at its parent's peak and hides its own)."""
    with open("/proc/self/status") as f:
        kib = next(line.split()[1] for line in f if line.startswith("VmHWM:"))
    return int(kib) / 1024


def child(case: str, reps: int = 3) -> dict[str, float]:
    """Time ``case`` ``reps`` times in this process: the best time, the peak memory of
    the timed runs, then the error of one more run against the whole-file read."""
    from scripts.fetch_model import model_path

    model = model_path(ROOT)
    if case in ("npz", "np_load"):
        _npz(model)
    ref = _full_read(model) if case.startswith("svdvals") else None
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        _once(case, model, ref)
        best = min(best, time.perf_counter() - t0)
    peak = peak_mb()
    ref = ref if ref is not None else _full_read(model)
    err = _once(case, model, ref)
    return {"time": best, "err": err, "peak_mb": peak, "count": len(ref)}


def run(case: str) -> dict[str, float]:
    res = subprocess.run(
        [sys.executable, __file__, "--child", case], capture_output=True, text=True, check=True
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


NOTES = {
    "svdvals": "baseline: SVDs of the 40 matrices, in memory",
    "svdvals36": "the 36 encoder-layer matrices only",
    "iter": "iter_matrices, memory map, one tensor at a time",
    "load_file": "safetensors.numpy.load_file (whole file), then float64",
    "bytes": "iter_matrices over the bytes in memory (upload)",
    "npz": "iter_matrices over the model as .npz",
    "np_load": "np.load of every .npz member, then float64",
    "iter_svd": "iter_matrices + svdvals: reading and SVDs together",
}


def main() -> None:
    from scripts.fetch_model import fetch

    fetch(ROOT)
    r = {c: run(c) for c in CASES}
    base = r["svdvals"]["time"]
    print(f"model: all-MiniLM-L6-v2, {int(r['svdvals']['count'])} matrices, float32 safetensors")
    print(f"{'case':<16}{'time_s':>9}{'ratio':>8}{'err':>9}{'peak_MB':>9}  note")
    for c in CASES:
        x = r[c]
        print(
            f"{c:<16}{x['time']:>9.3f}{x['time'] / base:>8.3f}{x['err']:>9.1e}"
            f"{x['peak_mb']:>9.0f}  {NOTES[c]}"
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2])))
    else:
        main()

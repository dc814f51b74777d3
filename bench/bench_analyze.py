"""Benchmark: ``rmtservice.analyze`` on a real model, against its SVDs alone, and
WeightWatcher's ``analyze`` on the same file.

The model is all-MiniLM-L6-v2 (``make model``: 90.9 MB of float32 safetensors, a
6-layer, 384-wide BERT encoder: 39 matrices of at least 10 x 10, 36 of them in the
encoder layers). In one process, interleaved rounds (the best of ``--rounds`` shown), at
1 and at 2 BLAS threads (threadpoolctl):

- ``iter+svdvals``: every analysed matrix read by ``rmtservice.io.iter_matrices`` (memory
  map, float64) and its singular values: the baseline, what an analysis cannot avoid.
- ``analyze``: :func:`rmtservice.analyze.analyze` of the file (fit, shrinkage, verdict,
  recommended method per matrix). ``err``: the largest relative difference of its
  singular values to the baseline's.
- ``iter+svd``: the same with the full SVD (the vectors too): the baseline of
- ``analyze -o``: the analysis writing the denoised model (``out``).
- ``weightwatcher``: ``WeightWatcher(model=...).analyze()`` (default options: an SVD and a
  power-law fit per layer) when ``weightwatcher`` imports. Its own reading of a
  safetensors file goes through torch (``safe_open(framework="pt")``); without torch it is
  given the same file's tensors by ``safetensors.numpy.load_file`` as a state dict
  (``framework="pystatedict"``), with a stand-in for the ``torch.Tensor`` its type checks
  name. Skipped, with the reason, when it cannot run. ``err``: the median of
  ``|alpha - tail_exponent|`` over the common matrices (two power-law fits of the top of
  the same ESD).

Then the per-tensor cost by shape (1 thread, best of 5): decomposition, fit, shrinkage.

Run: ``make bench-analyze`` or ``python bench/bench_analyze.py [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rmtservice import denoise as dn  # noqa: E402
from rmtservice.analyze import analyze  # noqa: E402
from rmtservice.fit import MIN_VALUES, fit  # noqa: E402
from rmtservice.io import iter_matrices, list_tensors  # noqa: E402


@contextlib.contextmanager
def blas_threads(n: int) -> Iterator[None]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n, user_api="blas"):
        yield


def analysed(model: Path) -> list[str]:
    return [
        t.name
        for t in list_tensors(model)
        if t.matrix_shape is not None and min(t.matrix_shape) >= MIN_VALUES
    ]


def svd_baseline(model: Path, names: list[str], vectors: bool) -> dict[str, Any]:
    out = {}
    for name, m, _ in iter_matrices(model, names=names):
        if vectors:
            out[name] = scipy.linalg.svd(m, full_matrices=False, check_finite=False)[1]
        else:
            out[name] = scipy.linalg.svdvals(m, check_finite=False)
    return out


def weightwatcher_runner(model: Path) -> tuple[Callable[[], Any] | None, str]:
    """A function that runs WeightWatcher on the file's tensors, or None and why not."""
    try:
        logging.getLogger("weightwatcher").setLevel(logging.ERROR)
        import weightwatcher as ww
        import weightwatcher.weightwatcher as wwm
    except ImportError as exc:
        return None, f"weightwatcher is not installed ({exc}); `make bench-analyze` installs it"
    how = f"weightwatcher {ww.__version__}"
    try:
        import torch  # noqa: F401

        def run_dir() -> Any:
            with tempfile.TemporaryDirectory() as d:
                (Path(d) / "model.safetensors").symlink_to(model.resolve())
                return ww.WeightWatcher(model=d).analyze()

        return run_dir, how + ", its safetensors reader (torch)"
    except ImportError:
        pass
    if getattr(wwm, "torch", None) is None:
        # its state-dict path checks ``type(w) == torch.Tensor``; numpy arrays are not
        wwm.torch = types.SimpleNamespace(Tensor=type("Tensor", (), {}))

    def run_dict() -> Any:
        from safetensors.numpy import load_file

        sd = load_file(str(model))
        return ww.WeightWatcher(model=sd, framework="pystatedict").analyze()

    return run_dict, how + ", no torch: the file's tensors by safetensors.numpy (pystatedict)"


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def rel_err(a: dict[str, Any], rows: Any) -> float:
    return max(
        float(np.max(np.abs(np.sort(a[r.name])[::-1] - r.observed)) / np.max(a[r.name]))
        for r in rows
    )


def ww_err(frame: Any, rows: Any) -> tuple[float, int]:
    ours = {r.name: r.tail_exponent for r in rows if r.tail_exponent is not None}
    diffs = []
    for name, alpha in zip(frame["name"], frame["alpha"], strict=True):
        key = name if name in ours else f"{name}.weight"
        if key in ours and np.isfinite(alpha) and alpha > 0:
            diffs.append(abs(float(alpha) - ours[key]))
    return (float(np.median(diffs)) if diffs else float("nan")), len(diffs)


def rounds(model: Path, n_rounds: int, threads: int) -> dict[str, dict[str, Any]]:
    names = analysed(model)
    ww_run, ww_how = weightwatcher_runner(model)
    best: dict[str, dict[str, Any]] = {}

    def keep(case: str, t: float, err: float, note: str) -> None:
        if case not in best or t < best[case]["time"]:
            best[case] = {"time": t, "err": err, "note": note}

    with blas_threads(threads), tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "denoised.safetensors"
        for _ in range(n_rounds):
            t, base = timed(lambda: svd_baseline(model, names, False))
            keep("iter+svdvals", t, 0.0, "baseline: read + singular values")
            t, a = timed(lambda: analyze(model))
            keep("analyze", t, rel_err(base, a.tensors), f"{len(a.tensors)} matrices")
            t, full = timed(lambda: svd_baseline(model, names, True))
            keep("iter+svd", t, 0.0, "baseline of -o: read + full SVD")
            t, b = timed(lambda: analyze(model, out=out))
            keep("analyze -o", t, rel_err(full, b.tensors), "writes the denoised model")
            if ww_run is not None:
                try:
                    t, frame = timed(ww_run)
                except Exception as exc:  # a third-party tool: report, do not stop
                    ww_run, ww_how = None, f"weightwatcher failed: {type(exc).__name__}: {exc}"
                    continue
                med, k = ww_err(frame, a.tensors)
                keep("weightwatcher", t, med, f"{ww_how}; {len(frame)} layers, {k} compared")
    if ww_run is None:
        best["weightwatcher"] = {"time": float("nan"), "err": float("nan"),
                                 "note": "skipped: " + ww_how}  # fmt: skip
    return best


def print_rounds(best: dict[str, dict[str, Any]], threads: int) -> None:
    print(f"\nBLAS threads: {threads}")
    print(f"{'case':<15}{'time_s':>9}{'ratio':>8}{'err':>10}  note")
    for case, x in best.items():
        base = best["iter+svd" if case == "analyze -o" else "iter+svdvals"]["time"]
        ratio = x["time"] / base
        print(f"{case:<15}{x['time']:>9.3f}{ratio:>8.3f}{x['err']:>10.2e}  {x['note']}")
    a, base = best["analyze"]["time"], best["iter+svdvals"]["time"]
    print(
        f"targets: whole model {a:.1f} s (< 15 s: {'met' if a < 15 else 'not met'}), "
        f"analyze / (read + svdvals) {a / base:.2f} (<= 1.3: "
        f"{'met' if a / base <= 1.3 else 'not met'})"
    )


def shape_times(m: Any, reps: int) -> dict[str, float]:
    """Best times of the decomposition (values, full), the fit and the shrinkage."""
    shape = m.shape
    s = scipy.linalg.svdvals(m, check_finite=False)
    f = fit(singular_values=s, shape=shape, bootstrap=0)
    nb = f.verdict.noise_plus_spikes
    steps = {
        "svdvals": lambda: scipy.linalg.svdvals(m, check_finite=False),
        "svd": lambda: scipy.linalg.svd(m, full_matrices=False, check_finite=False),
        "fit": lambda: fit(singular_values=s, shape=shape, bootstrap=0),
        "shrink": lambda: dn.shrinkage(s, f.sigma2, shape=shape, noise_bulk=nb),
    }
    t = dict.fromkeys(steps, float("inf"))
    for _ in range(reps):
        for k, step in steps.items():
            t[k] = min(t[k], timed(step)[0])
    return t


def per_shape(model: Path, reps: int = 5) -> None:
    """Per tensor, by shape: the decomposition, the fit and the shrinkage, 1 thread."""
    seen: dict[tuple[int, int], Any] = {}
    for _, m, _ in iter_matrices(model, names=analysed(model)):
        seen.setdefault(m.shape, m)
    print("\nper tensor, 1 BLAS thread, best of", reps, "(seconds)")
    print(f"{'shape':<12}{'svdvals':>9}{'svd':>8}{'fit':>8}{'shrink':>8}{'fit/svdvals':>12}")
    with blas_threads(1):
        for shape, m in seen.items():
            t = shape_times(m, reps)
            label = "x".join(map(str, shape))
            print(
                f"{label:<12}{t['svdvals']:>9.4f}{t['svd']:>8.4f}{t['fit']:>8.4f}"
                f"{t['shrink']:>8.4f}{t['fit'] / t['svdvals']:>12.2f}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from scripts.fetch_model import fetch

    model = fetch(ROOT)
    print(f"model: all-MiniLM-L6-v2 ({model.stat().st_size / 1e6:.1f} MB, float32 safetensors)")
    for threads in (1, 2):
        print_rounds(rounds(model, args.rounds, threads), threads)
    per_shape(model)


if __name__ == "__main__":
    main()

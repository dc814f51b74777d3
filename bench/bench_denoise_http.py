"""Benchmark: POST /v1/denoise against the library on the same matrix (one BLAS thread).

A real uvicorn (compute in a worker process, as deployed) and the SDK's ``Client``:
the matrix goes up as ``.npy``; the answer comes back as JSON (the values, or the
whole matrix as JSON lists) or as ``.npy`` (``denoise_array``). Each case is timed
against :func:`rmtservice.denoise.denoise` with the same output, in this process,
interleaved (best of ``--repeats``), and the results are checked equal.

    python bench/bench_denoise_http.py [--n 1000] [--p 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rmtservice.client import Client  # noqa: E402
from rmtservice.denoise import denoise  # noqa: E402
from tests._server import uvicorn  # noqa: E402


def signal_plus_noise(n: int, p: int) -> np.ndarray:
    """The full-rank signal of docs/theory/denoise.md (singular values sqrt(U[0, 2]), five
    spikes) plus noise of sigma2 = 1."""
    m = min(n, p)
    sv = np.sqrt(2.0 * (np.arange(m)[::-1] + 0.5) / m)
    sv[:5] = [4.0, 3.5, 3.0, 2.5, 2.0]
    s = np.zeros((n, p))
    s[np.arange(m), np.arange(m)] = sv
    return s + np.random.default_rng(0).standard_normal((n, p)) / math.sqrt(n)


def _time(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--p", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    y = signal_plus_noise(args.n, args.p)
    env = {"RMT_EXECUTOR": "process", "RMT_WORKERS": "1", "RMT_BLAS_THREADS": "1"}
    env |= {"RMT_DEADLINE_SECONDS": "120", "RMT_MAX_UPLOAD_BYTES": str(64 << 20)}
    with threadpool_limits(1), uvicorn(env) as url, Client(url, timeout=300) as c:
        c.denoise(np.eye(12), sigma2=1.0)  # the worker warm
        cases: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
            "values, sigma2 given": (
                lambda: denoise(y, 1.0, with_fit=True, seed=0),
                lambda: c.denoise(y, sigma2=1.0, seed=0),
            ),
            "values, sigma2 fitted": (
                lambda: denoise(y, seed=0),
                lambda: c.denoise(y, seed=0),
            ),
            "matrix as .npy": (
                lambda: denoise(y, 1.0, output="matrix", with_fit=True, seed=0),
                lambda: c.denoise_array(y, sigma2=1.0, seed=0),
            ),
            "matrix as JSON": (
                lambda: denoise(y, 1.0, output="matrix", with_fit=True, seed=0),
                lambda: c.denoise(y, sigma2=1.0, output="matrix", seed=0),
            ),
        }
        best: dict[str, list[float]] = {k: [math.inf, math.inf] for k in cases}
        for _ in range(args.repeats):
            for name, (lib, http) in cases.items():
                t_lib, d = _time(lib)
                t_http, r = _time(http)
                best[name] = [min(best[name][0], t_lib), min(best[name][1], t_http)]
                _check(d, r)
    print(f"denoise {args.n} x {args.p}, best of {args.repeats}, one BLAS thread")
    print(f"{'case':<24}{'library s':>11}{'HTTP s':>9}{'ratio':>8}{'overhead s':>12}")
    for name, (t_lib, t_http) in best.items():
        row = f"{name:<24}{t_lib:>11.3f}{t_http:>9.3f}{t_http / t_lib:>8.2f}"
        print(row + f"{t_http - t_lib:>12.3f}")


def _check(d: Any, r: Any) -> None:
    """The answer is the library's (values, or the matrix)."""
    if hasattr(r, "values") and isinstance(r.values, list):
        np.testing.assert_allclose(r.values, d.values, rtol=1e-9, atol=1e-12)
        if r.matrix is not None:
            np.testing.assert_allclose(np.asarray(r.matrix), d.matrix, atol=1e-10)
    else:
        np.testing.assert_allclose(r.matrix, d.matrix, atol=1e-10)
    assert r.method == d.method


if __name__ == "__main__":
    main()

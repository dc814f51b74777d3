"""Benchmark: the rectangular model Y = S + X (issue 15), against what one would do instead.

nu = N atoms at the square roots of the midpoint quantiles of Marchenko-Pastur(ratio 0.5,
scale 1) (so H, the law of s^2, is that MP law's quantiles), sigma2 = 0.5, c = p/n = 0.5,
density at 1000 points of [0, 1.1 x upper edge].

Rows (time_s, max_err: rmtservice; baseline_s, base_err: the alternative, run here in the
same process; ratio = time_s / baseline_s; best of 3 runs for every timing):

- ``density N``: rr.density (support included) against a plain damped fixed-point
  solver of the Dozier-Silverstein equation ``m <- (1 - d) m + d int H(dt) / (t/a - a z +
  s2 (1 - c))``, ``a = 1 + s2 c m``, at ``z = x^2 + i eta`` (vectorised numpy, direct sums
  over the atoms), iterated until the step is below 1e-12 |m| or 3000 iterations (inside
  the bulk it reaches the cap: near the edges the contraction is 1 - O(eta)); it runs on
  a subset of the points inside the bulk, its time scaled to 1000 (marked *). Targets:
  N = 10^4 within 0.2 s and 1/10 of the baseline; N = 10^6 within 2 s.
- ``mpmath``: the largest relative error of rr.density at a few points against the
  subordination equation solved in mpmath (30 digits, exact sums over the 10^4 atoms).
- ``svd+hist``: what a user would do instead, an SVD of one 2000 x 1000 sample of S + X
  and a 40-bin histogram, against the exact density at the bin centres (time_s and
  max_err: rr.density at those centres).
- ``simulate``: rr.simulate of 2000 x 1000 (noise, S, SVD; without and with the
  comparison to the theory) against scipy.linalg.svdvals of a ready matrix (target 1.3x).

The density rows run on one BLAS thread (the machine is shared: a second, spinning one
made rr.density five times slower under load), the SVD rows on the default threads.

The reference density: every point's subordination ``w`` polished by Newton on
``Phi(w) = x^2`` with direct sums over all atoms in extended precision (np.longdouble;
float64 for N = 10^6, on 100 of the points), from rmtservice's own w; the mpmath row
checks that reference independently.

Run: ``make bench-rect`` or ``python bench/bench_rectangular.py [--sizes 10000,1000000]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import mpmath as mp
import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits

import rmtservice as rs
from rmtservice import rectangular as rr

SIGMA2, C = 0.5, 0.5
ROWS, COLS = 2000, 1000


def best_of(fn: Callable[[], Any], runs: int = 3) -> tuple[float, Any]:
    """The shortest wall time of ``runs`` calls, and the last result."""
    best, out = float("inf"), None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def law(n: int) -> tuple[rs.Atoms, np.ndarray]:
    """nu (singular values) and the atoms of H (their squares)."""
    h = rs.MarchenkoPastur(0.5, 1.0).midpoint_quantiles(n)
    return rs.Atoms(np.sqrt(h)), h


def grid(nu: rs.Measure) -> np.ndarray:
    sup = rr.support(nu, SIGMA2, C)
    return np.linspace(0.0, 1.1 * float(sup.upper[-1]), 1000)


# --------------------------------------------------------------------- baseline


def fixed_point(
    h: np.ndarray, x: np.ndarray, eta: float, damping: float = 0.5, maxiter: int = 3000
) -> tuple[np.ndarray, int]:
    """Damped fixed point of the Dozier-Silverstein equation at ``x^2 + i eta``: the
    density of the singular values ``2 x Im m / pi`` and the iterations run."""
    z = x * x + 1j * eta
    m = -1.0 / (z - SIGMA2)  # the transform of a point mass at sigma2: Im m > 0
    step = max(1, 2_000_000 // h.size)
    its = 0
    while its < maxiter:
        its += 1
        a = 1.0 + SIGMA2 * C * m
        new = np.empty_like(m)
        for s in range(0, x.size, step):
            sl = slice(s, s + step)
            den = h[None, :] / a[sl, None] - (a[sl] * z[sl])[:, None] + SIGMA2 * (1 - C)
            new[sl] = (1.0 / den).mean(axis=1)
        move = damping * (new - m)
        m = m + move
        if np.all(np.abs(move) <= 1e-12 * np.abs(m)):
            break
    return 2.0 * x * np.maximum(m.imag, 0.0) / np.pi, its


# -------------------------------------------------------------------- reference


def sums(h: np.ndarray, w: np.ndarray, extended: bool) -> tuple[np.ndarray, np.ndarray]:
    """``f_H(w) = mean 1/(h - w)`` and ``f_H'`` by direct (chunked) sums."""
    dtype = np.clongdouble if extended else np.complex128
    hh = h.astype(np.longdouble if extended else float)
    f = np.empty(w.size, dtype=dtype)
    fp = np.empty(w.size, dtype=dtype)
    step = max(1, 2_000_000 // h.size)
    for s in range(0, w.size, step):
        d = 1.0 / (hh[None, :] - w[s : s + step, None])
        f[s : s + step] = d.mean(axis=1)
        fp[s : s + step] = (d * d).mean(axis=1)
    return f, fp


def reference(h: np.ndarray, x: np.ndarray, w0: np.ndarray, extended: bool) -> np.ndarray:
    """Density from ``w`` polished by three Newton steps on ``Phi(w) = x^2`` (real w, off
    the support, stay real: density 0)."""
    w = w0.astype(np.clongdouble if extended else np.complex128)
    s2, c = SIGMA2, C
    for _ in range(3):
        f, fp = sums(h, w, extended)
        a = 1 - s2 * c * f
        phi = w * a * a + s2 * (1 - c) * a
        dphi = a * a - s2 * c * fp * (2 * w * a + s2 * (1 - c))
        w = w - (phi - x * x) / dphi
        w = np.where(w.imag < 0, w.real + 0j, w)
    f, _ = sums(h, w, extended)
    m = f / (1 - s2 * c * f)
    return (2 * x * np.maximum(m.imag, 0) / np.pi).astype(float)


def mp_density(h: np.ndarray, x: float, w0: complex) -> float:
    """The subordination equation solved in mpmath (30 digits), exact sums."""
    with mp.workdps(30):
        hm = [mp.mpf(float(v)) for v in h]
        s2, c = mp.mpf(SIGMA2), mp.mpf(C)

        def f(w):  # type: ignore[no-untyped-def]
            return mp.fsum(1 / (t - w) for t in hm) / len(hm)

        def phi(w):  # type: ignore[no-untyped-def]
            a = 1 - s2 * c * f(w)
            return w * a * a + s2 * (1 - c) * a - mp.mpf(x) ** 2

        w = mp.findroot(phi, mp.mpc(w0))
        fw = f(w)
        return float(2 * x * mp.im(fw / (1 - s2 * c * fw)) / mp.pi)


# ------------------------------------------------------------------------ rows


def row(case: str, t: float, err: float, tb: float, eb: float, note: str) -> dict[str, Any]:
    return {
        "case": case,
        "time_s": t,
        "max_err": err,
        "baseline_s": tb,
        "baseline_err": eb,
        "ratio": t / tb if tb == tb else float("nan"),
        "note": note,
    }


def density_case(n: int, subset: int, eta: float) -> list[dict[str, Any]]:
    nu, h = law(n)
    x = grid(nu)

    def ours() -> rr.BoundaryValues:
        sup = rr.support(nu, SIGMA2, C)
        return rr.boundary_values(nu, SIGMA2, C, x, sup=sup)

    t, bv = best_of(ours)
    extended = n <= 20_000
    pick = np.arange(x.size) if extended else np.linspace(0, x.size - 1, 100).astype(int)
    ref = reference(h, x[pick], bv.w[pick], extended)
    err = float(np.max(np.abs(bv.density[pick] - ref)))
    # the baseline's points inside the bulk (where it iterates longest; vectorised, all
    # points run until the slowest converges, so the time scales with their number)
    inside = np.flatnonzero(bv.density > 0)
    xb = inside[np.linspace(0, inside.size - 1, subset).astype(int)]
    runs = 3 if n <= 20_000 else 1
    tb, (base, its) = best_of(lambda: fixed_point(h, x[xb], eta), runs)
    tb *= x.size / subset
    ref_b = reference(h, x[xb], bv.w[xb], extended)
    eb = float(np.max(np.abs(base - ref_b)))
    target = "<= 0.2 s, ratio <= 0.1" if n == 10_000 else "<= 2 s" if n == 1_000_000 else ""
    ok = (t <= 0.2 and t / tb <= 0.1) if n == 10_000 else (t <= 2.0) if n == 1_000_000 else True
    note = (
        f"* fixed point on {subset} pts, eta={eta:g}, {its} its; "
        f"target {target}: {'PASS' if ok else 'FAIL'}"
        + ("" if extended else "; err on 100 pts (float64 polish)")
    )
    rows = [row(f"density N={n:>7}", t, err, tb, eb, note)]
    if n == 10_000:
        lo, hi = float(bv.support.lower[0]), float(bv.support.upper[-1])
        idx = [int(np.searchsorted(x, lo + f * (hi - lo))) for f in (0.02, 0.5, 0.97)]
        idx = [i for i in idx if bv.density[i] > 0]
        t0 = time.perf_counter()
        rel = max(
            abs(bv.density[i] / mp_density(h, float(x[i]), complex(bv.w[i])) - 1) for i in idx
        )
        tm = time.perf_counter() - t0
        rows.append(
            row(
                "mpmath N=  10000", float("nan"), rel, tm, float("nan"), f"relative, {len(idx)} pts"
            )
        )
    return rows


def user_case() -> dict[str, Any]:
    """One 2000 x 1000 sample, its SVD and a histogram, against the exact density."""
    nu, _ = law(ROWS if ROWS <= COLS else COLS)
    sup = rr.support(nu, SIGMA2, COLS / ROWS)
    edges = np.linspace(0.0, 1.1 * float(sup.upper[-1]), 41)
    centres = 0.5 * (edges[1:] + edges[:-1])

    def user() -> np.ndarray:
        rng = np.random.default_rng(1)
        y = rr.noise_matrix(ROWS, COLS, SIGMA2, rng)
        m = min(ROWS, COLS)
        y[np.arange(m), np.arange(m)] += np.sort(nu.values)[::-1]
        sv = scipy.linalg.svdvals(y)
        return np.histogram(sv, bins=edges, density=True)[0]

    tb, hist = best_of(user)
    t, exact = best_of(lambda: rr.density(nu, SIGMA2, COLS / ROWS, centres))
    err_b = float(np.max(np.abs(hist - exact)))
    # the exact density's own error at the centres, against the extended-precision polish
    bv = rr.boundary_values(nu, SIGMA2, COLS / ROWS, centres)
    err = float(np.max(np.abs(exact - reference(nu.values**2, centres, bv.w, True))))
    return row(f"svd+hist {ROWS}x{COLS}", t, err, tb, err_b, "40 bins vs rr.density at centres")


def simulate_case(rounds: int = 5) -> list[dict[str, Any]]:
    """The three timings interleaved, round by round (the machine's load drifts), best of
    ``rounds`` each."""
    nu, _ = law(min(ROWS, COLS))
    y = rr.noise_matrix(ROWS, COLS, SIGMA2, np.random.default_rng(2))
    y[np.arange(COLS), np.arange(COLS)] += np.sort(nu.values)[::-1]
    best = {"svdvals": np.inf, False: np.inf, True: np.inf}
    sims: dict[bool, rr.Simulation] = {}
    for _ in range(rounds):
        best["svdvals"] = min(best["svdvals"], best_of(lambda: scipy.linalg.svdvals(y), 1)[0])
        for compare in (False, True):
            t, sims[compare] = best_of(
                lambda c=compare: rr.simulate(nu, SIGMA2, ROWS, COLS, seed=3, compare=c), 1
            )
            best[compare] = min(best[compare], t)
    tb = float(best["svdvals"])
    out = []
    for compare in (False, True):
        t = float(best[compare])
        note = "vs svdvals(ready); target ratio <= 1.3: " + ("PASS" if t / tb <= 1.3 else "FAIL")
        if compare:
            ks = sims[True].kolmogorov
            note += f"; KS {ks[0]:.4f}" if ks else ""
        name = f"simulate {ROWS}x{COLS}" + (" +cmp" if compare else "")
        out.append(row(name, t, float("nan"), tb, float("nan"), note + f"; best of {rounds}"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,1000000")
    ap.add_argument("--eta", type=float, default=1e-4, help="the fixed point's Im z")
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    # the density rows on one BLAS thread: on a shared, loaded machine a second spinning
    # thread made rr.density 5x slower (the fixed point uses no BLAS); the SVD rows keep
    # the default, the same for both sides
    with threadpool_limits(limits=1, user_api="blas"):
        for n in [int(s) for s in args.sizes.split(",")]:
            rows.extend(density_case(n, 50 if n <= 20_000 else 2, args.eta))
    rows.append(user_case())
    rows.extend(simulate_case())
    print(
        f"{'case':<26}{'time_s':>9}{'max_err':>11}{'baseline_s':>12}"
        f"{'base_err':>11}{'ratio':>9}  note"
    )
    for r in rows:
        print(
            f"{r['case']:<26}{r['time_s']:>9.3f}{r['max_err']:>11.2e}{r['baseline_s']:>12.3f}"
            f"{r['baseline_err']:>11.2e}{r['ratio']:>9.2g}  {r['note']}"
        )


if __name__ == "__main__":
    main()

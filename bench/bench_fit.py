"""Benchmark of ``rmtservice.fit`` (issue 16): accuracy and speed against peers, one run.

The same seeded matrices for every method: noise of variance ``sigma2 = 1`` (entries
``1/rows``; symmetric: off-diagonal ``1/n``) plus spikes at 0.8, 1.5, 2, 3 and 5 times the
detection threshold (4 of them separate from the bulk). Methods:

- ``rmtservice``: ``fit`` from the values (``bootstrap=0``: the asymptotic interval; the
  bootstrap's cost is its own row), and ``fit`` from the matrix (its eigensolve included).
- ``optht`` (Gavish and Donoho's optimal hard threshold, unknown noise): its rank, and
  the noise level of its median rule (``median(sv)^2 / (max(n, p) mu_beta)``, through its
  own ``_median_marcenko_pastur``).
- ``scikit-rmt``: ``MarchenkoPasturPCADenoiser(sigma_estimator=...).fit`` on the matrix
  (its own SVD included) for the ``median`` and ``mp_fit`` estimators. Its metadata pins
  numpy <= 1.26 and scipy <= 1.12; ``make bench-fit`` installs it without dependencies,
  and its module-level import of ``scipy.misc.derivative`` (gone from scipy 1.14; used by
  its Tracy-Widom approximator only) is given a stub that raises if called.
- ``naive``: ``rows var(entries)`` (symmetric: ``n var`` of the off-diagonal entries).

Columns: the relative error of sigma2 and its ratio to rmtservice's, the rank found, the
time and its ratio to the eigensolve (or SVD) alone, computed in the same process.
Speed targets (issue 16): a fit from the values of a 4096 x 4096 matrix under 50 ms; a
fit from the matrix within 1.2x of the eigensolve / SVD alone.

Run: ``make bench-fit`` or ``python bench/bench_fit.py`` (``--quick``: no 4096 cases).
Peers that are not installed are skipped with a note.
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
import scipy.linalg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rmtservice.fit import fit  # noqa: E402

MULTIPLES = np.array([5.0, 3.0, 2.0, 1.5, 0.8])
DETECTABLE = int(np.sum(MULTIPLES > 1.0))


def _peers() -> dict[str, Any]:
    found: dict[str, Any] = {}
    try:
        import importlib

        # the package's function shadows its module of the same name
        found["optht"] = importlib.import_module("optht.optht")
    except ImportError:
        print("note: optht is not installed (pip install optht): its rows are skipped")
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import scipy.misc

        if not hasattr(scipy.misc, "derivative"):

            def _gone(*args: object, **kwargs: object) -> None:
                raise RuntimeError("scipy.misc.derivative was removed from scipy 1.14")

            scipy.misc.derivative = _gone  # type: ignore[attr-defined]
        from skrmt.denoise import MarchenkoPasturPCADenoiser  # type: ignore[import-untyped]

        found["skrmt"] = MarchenkoPasturPCADenoiser
    except ImportError as exc:
        print(f"note: scikit-rmt does not import ({exc}): its rows are skipped")
    return found


def matrix(rows: int, cols: int, symmetric: bool, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = MULTIPLES.size
    if symmetric:
        g = rng.standard_normal((rows, rows))
        u = np.linalg.qr(rng.standard_normal((rows, k)))[0]
        return (g + g.T) / math.sqrt(2 * rows) + (u * MULTIPLES) @ u.T
    theta = MULTIPLES * (cols / rows) ** 0.25
    u = np.linalg.qr(rng.standard_normal((rows, k)))[0]
    v = np.linalg.qr(rng.standard_normal((cols, k)))[0]
    return (u * theta) @ v.T + rng.standard_normal((rows, cols)) / math.sqrt(rows)


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[Any, float]:
    best, out = math.inf, None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return out, best


def values_of(a: np.ndarray, symmetric: bool) -> np.ndarray:
    if symmetric:
        return scipy.linalg.eigh(a, eigvals_only=True, driver="evd", check_finite=False)
    return scipy.linalg.svdvals(a, check_finite=False)


def run_case(
    name: str, rows: int, cols: int, symmetric: bool, peers: dict[str, Any], repeat: int
) -> list[tuple[str, ...]]:
    a = matrix(rows, cols, symmetric, seed=rows + 7 * cols)
    vals, t_solve = timed(lambda: values_of(a, symmetric), repeat)
    shape = None if symmetric else (rows, cols)
    ours, t_values = timed(lambda: fit(vals, shape=shape, bootstrap=0), max(repeat, 5))
    boot, t_boot = timed(lambda: fit(vals, shape=shape, bootstrap=50, seed=rows * cols))
    mine, t_matrix = timed(lambda: fit(a, bootstrap=0), repeat)
    assert mine.rank == ours.rank
    err0 = abs(ours.sigma2 - 1.0)
    rows_out: list[tuple[str, ...]] = []

    def row(method: str, s2: float | None, rank: int | None, t: float | None) -> None:
        err = None if s2 is None else abs(s2 - 1.0)
        rows_out.append(
            (
                name,
                method,
                "-" if err is None else f"{err:.2e}",
                "-" if err is None else f"{err / err0:.1f}",
                "-" if rank is None else str(rank),
                "-" if t is None else f"{t * 1e3:.1f}",
                "-" if t is None else f"{t / t_solve:.3f}",
            )
        )

    row("eigensolve" if symmetric else "svdvals", None, None, t_solve)
    row("rmtservice fit(values)", ours.sigma2, ours.rank, t_values)
    i = boot.sigma2_interval
    row(f"  + bootstrap 50 [{i.lower:.4f}, {i.upper:.4f}]", boot.sigma2, boot.rank, t_boot)
    row("rmtservice fit(matrix)", mine.sigma2, mine.rank, t_matrix)
    if symmetric:
        off = a[np.triu_indices(rows, 1)]
        row("naive n var(off-diagonal)", rows * float(np.var(off)), None, None)
        return rows_out
    big, small = max(rows, cols), min(rows, cols)
    beta = small / big
    if "optht" in peers:
        op = peers["optht"]
        k, t_op = timed(lambda: op.optht(beta, sv=vals, sigma=None), repeat)
        mu = float(op._median_marcenko_pastur(beta))
        s2_op = float(np.median(vals)) ** 2 / (big * mu) * rows
        row("optht (rank; median-rule noise)", s2_op, int(k), t_op)
    if "skrmt" in peers:
        stack = (a if rows <= cols else a.T)[:, :, None]  # (small, big, 1): gamma <= 1
        for est in ("median", "mp_fit"):
            den = peers["skrmt"](sigma_estimator=est, window_size=1, normalize_output=False)
            d, t_sk = timed(lambda den=den: den.fit(stack), 1)
            row(f"scikit-rmt ({est})", float(d.sigma_) ** 2 * rows, None, t_sk)
    row("naive rows var(entries)", rows * float(np.var(a)), None, None)
    return rows_out


def table(rows: list[tuple[str, ...]]) -> None:
    head = ("matrix", "method", "sigma2 err", "/ ours", "rank", "ms", "/ solve")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    print(line)
    print("-" * len(line))
    last = None
    for r in rows:
        if last is not None and r[0] != last:
            print()
        last = r[0]
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


def speed_target(symmetric: bool, repeat: int) -> None:
    a = matrix(4096, 4096, symmetric, seed=4096)
    vals, t_solve = timed(lambda: values_of(a, symmetric), repeat)
    shape = None if symmetric else (4096, 4096)
    # the first call of a size fills the caches of its quantile levels
    _, t_cold = timed(lambda: fit(vals, shape=shape, bootstrap=0), 1)
    _, t_values = timed(lambda: fit(vals, shape=shape, bootstrap=0), 7)
    _, t_boot = timed(lambda: fit(vals, shape=shape, bootstrap=50, seed=99), 1)
    _, t_matrix = timed(lambda: fit(a, bootstrap=0), repeat)
    kind = "symmetric (eigvalsh)" if symmetric else "rectangular (svdvals)"
    ok = "PASS" if t_values < 0.05 else "FAIL"
    ok2 = "PASS" if t_matrix <= 1.2 * t_solve else "FAIL"
    print(
        f"  {kind}: fit(values) {t_values * 1e3:.1f} ms [{ok}: < 50 ms] "
        f"(first call of this size: {t_cold * 1e3:.1f} ms); "
        f"bootstrap 50 replicates {t_boot:.2f} s; "
        f"fit(matrix) {t_matrix:.2f} s / solve alone {t_solve:.2f} s "
        f"= {t_matrix / t_solve:.3f} [{ok2}: <= 1.2]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the 4096 x 4096 cases")
    parser.add_argument("--repeat", type=int, default=2, help="timings: best of this many")
    args = parser.parse_args()
    peers = _peers()
    rows: list[tuple[str, ...]] = []
    for name, r, c, sym in (
        ("sym 2000", 2000, 2000, True),
        ("1000 x 1000", 1000, 1000, False),
        ("2000 x 500", 2000, 500, False),
        ("500 x 2000", 500, 2000, False),
    ):
        rows += run_case(name, r, c, sym, peers, args.repeat)
    print(f"\nsigma2 = 1; {MULTIPLES.size} spikes, {DETECTABLE} above the threshold\n")
    table(rows)
    if not args.quick:
        print("\nSpeed targets (4096 x 4096)")
        for symmetric in (True, False):
            speed_target(symmetric, args.repeat)


if __name__ == "__main__":
    main()

"""Benchmark: denoising, docs/theory/denoise.md's experiments, in one run.

Experiments (seeded; a diagonal signal, which Gaussian noise makes no loss of generality):

- ``2000x1000`` and ``1000x2000``: ``Y = S + X``, ``sigma2 = 1``, S with singular values
  the midpoint quantiles of ``sqrt(U[0, 2])`` and five spikes 4, 3.5, 3, 2.5, 2 in place of
  the largest (a full-rank signal);
- ``wigner 2000``: ``M = H + W``, ``sigma2 = 0.5``, H uniform on [-1, 1] plus the spikes;
- the same three with the spikes only (low rank).

Tables:

1. For each experiment and method, the measured relative Frobenius error
   ``||S_hat - S|| / ||S||`` (exact identity with the oracle values ``<u_i, S v_i>``; the
   dense error is checked once), the predicted error and their ratio, and docs/theory/denoise.md's
   figure where it gives one. ``rie_limit``: the rotation-invariant values from the exact
   boundary values of the true law (``limit_rie`` of the signal's spectrum, what a perfect
   fit of nu would give) against the observed-spectrum ``rie``; ``rie eta/2`` and
   ``rie 2eta``: the observed-spectrum estimator at half and twice the default eta.
2. Time: ``denoise`` against the decomposition alone, both with vectors
   (``output="matrix"`` against ``scipy.linalg.svd``/``eigh``) and without
   (``output="values"`` against ``svdvals``/``eigvalsh``), best of 3 interleaved with one
   BLAS thread (the machine is shared: the ratio is the figure), and the cost of the
   denoising given the decomposition (``denoise_svd``/``denoise_eigh``).
3. Gavish-Donoho's threshold against ``optht`` (``pip install optht``; skipped when it is
   not installed): optht's rank with the known noise level ``sigma = sqrt(sigma2 / n)``
   (per entry), with ``sigma`` scaled by ``sqrt(max(n, p) / min(n, p))``, and with the
   noise level estimated from the median singular value; our ``optimal_hard`` rank.

Run: ``make bench-denoise`` or ``python bench/bench_denoise.py``.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rmtservice import denoise as dn  # noqa: E402
from rmtservice.measures import Atoms  # noqa: E402

SPIKES = [4.0, 3.5, 3.0, 2.5, 2.0]
#: docs/theory/denoise.md's figures (None where it gives none)
MATH = {
    "2000x1000 full": {"none": 0.98, "hard": 1.01, "shrink": 0.88, "rie": 0.695, "oracle": 0.695},
    "1000x2000 full": {"none": 1.39, "hard": 1.13, "shrink": 0.95, "rie": 0.807, "oracle": 0.806},
    "wigner 2000 full": {"none": 1.19, "rie": 0.761, "oracle": 0.760},
}
ROWS = [
    "none",
    "hard",
    "optimal_hard",
    "shrink",
    "rie",
    "rie_limit",
    "rie eta/2",
    "rie 2eta",
    "oracle",
]


def signal(model: str, m: int, full: bool) -> np.ndarray:
    q = (np.arange(m)[::-1] + 0.5) / m
    if full:
        s = np.sqrt(2.0 * q) if model == "rectangular" else 2.0 * q - 1.0
    else:
        s = np.zeros(m)
    s[: len(SPIKES)] = SPIKES
    return s


def draw(model: str, n: int, p: int, full: bool, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(the signal's diagonal, the observed matrix, sigma2)."""
    rng = np.random.default_rng(seed)
    m = min(n, p)
    s = signal(model, m, full)
    if model == "rectangular":
        y = rng.standard_normal((n, p)) / math.sqrt(n)
        y[np.arange(m), np.arange(m)] += s
        return s, y, 1.0
    g = rng.standard_normal((n, n)) * math.sqrt(0.5 / n)
    w = (g + g.T) / math.sqrt(2.0)
    w[np.arange(n), np.arange(n)] += s
    return s, w, 0.5


def best_of(fns: dict[str, Callable[[], Any]], repeat: int = 3) -> dict[str, float]:
    """Best of ``repeat`` timings of each function, interleaved (a busy machine slows the
    rounds, not one function)."""
    best = dict.fromkeys(fns, math.inf)
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def errors(model: str, s: np.ndarray, y: np.ndarray, s2: float) -> dict[str, Any]:
    """Measured and predicted errors of every method, from one decomposition."""
    n, p = y.shape
    m = min(n, p)
    big = np.zeros((n, p))
    big[np.arange(m), np.arange(m)] = s
    if model == "rectangular":
        u, sv, vt = scipy.linalg.svd(y, full_matrices=False)
        d = dn.denoise_svd(u, sv, vt, s2, method="oracle", signal=big)
        law, ratio = Atoms(s), p / n
    else:
        w, v = scipy.linalg.eigh(y)
        d = dn.denoise_eigh(w, v, s2, method="oracle", signal=big)
        law, ratio = Atoms(s), None
    sh = d.shrinkage
    o, energy = d.values, float(s @ s)
    values = dict(sh.values)
    values["rie_limit"] = dn.limit_rie(law, s2, sh.observed, aspect_ratio=ratio)
    if model == "rectangular":
        values["rie_limit"] = np.maximum(values["rie_limit"], 0.0)
    for label, factor in (("rie eta/2", 0.5), ("rie 2eta", 2.0)):
        values[label] = dn.shrinkage(
            sh.observed, s2, model=model, shape=(n, p), eta=factor * sh.eta
        ).values["rie"]
    values["oracle"] = o
    measured = {
        k: math.sqrt(max(energy - 2 * v @ o + v @ v, 0.0) / energy) for k, v in values.items()
    }
    assert d.error is not None and abs(d.error - measured["oracle"]) < 1e-9  # the identity
    return {"measured": measured, "predicted": sh.predicted_error, "shrinkage": sh, "auto": sh.best}


def timing(model: str, y: np.ndarray, s2: float) -> dict[str, float]:
    """One BLAS thread: the ratio to the decomposition, not the machine's load, is the
    figure."""
    if model == "rectangular":
        u, sv, vt = scipy.linalg.svd(y, full_matrices=False)
        fns = {
            "decomposition": lambda: scipy.linalg.svd(y, full_matrices=False, check_finite=False),
            "values only": lambda: scipy.linalg.svdvals(y, check_finite=False),
            "given": lambda: dn.denoise_svd(u, sv, vt, s2, output="matrix"),
        }
    else:
        w, v = scipy.linalg.eigh(y)
        fns = {
            "decomposition": lambda: scipy.linalg.eigh(y, check_finite=False),
            "values only": lambda: scipy.linalg.eigvalsh(y, check_finite=False),
            "given": lambda: dn.denoise_eigh(w, v, s2, output="matrix"),
        }
    fns["denoise matrix"] = lambda: dn.denoise(y, s2, output="matrix")
    fns["denoise values"] = lambda: dn.denoise(y, s2, output="values")
    with threadpool_limits(1):
        return best_of(fns)


def optht_rows(y: np.ndarray, s2: float, ours: int) -> list[str]:
    try:
        from optht import optht
    except ImportError:
        return ["optht: not installed (pip install optht): skipped"]
    n, p = y.shape
    sv = scipy.linalg.svdvals(y)
    beta = min(n, p) / max(n, p)
    sigma = math.sqrt(s2 / n)  # the per-entry noise sd
    tau = dn.optimal_hard_threshold(p / n) * math.sqrt(s2)
    cut = float(np.sqrt(sv.size) * sigma * dn.optimal_hard_threshold(beta))
    known = int(optht(beta, sv, sigma=sigma))
    scaled = int(optht(beta, sv, sigma=sigma * math.sqrt(max(n, p) / min(n, p))))
    unknown = int(optht(beta, sv))
    return [
        f"  ours: optimal_hard rank {ours}, threshold {tau:.4f} (edge "
        f"{math.sqrt(s2) * (1 + math.sqrt(p / n)):.4f})",
        f"  optht(beta, sv, sigma={sigma:.4g}): rank {known}, threshold {cut:.4f} "
        f"(= lambda*(beta) sqrt(min(n, p)) sigma: ratio to ours {cut / tau:.4f})",
        f"  optht with sigma * sqrt(max/min): rank {scaled}; with sigma unknown (median): "
        f"rank {unknown}",
    ]


def main() -> None:
    experiments = [
        ("2000x1000 full", "rectangular", 2000, 1000, True),
        ("1000x2000 full", "rectangular", 1000, 2000, True),
        ("wigner 2000 full", "wigner", 2000, 2000, True),
        ("2000x1000 low", "rectangular", 2000, 1000, False),
        ("1000x2000 low", "rectangular", 1000, 2000, False),
        ("wigner 2000 low", "wigner", 2000, 2000, False),
    ]
    results: dict[str, dict[str, Any]] = {}
    times: dict[str, dict[str, float]] = {}
    extra: dict[str, list[str]] = {}
    for name, model, n, p, full in experiments:
        s, y, s2 = draw(model, n, p, full, seed=20)
        results[name] = errors(model, s, y, s2)
        if full:
            times[name] = timing(model, y, s2)
            if model == "rectangular":
                extra[name] = optht_rows(y, s2, results[name]["shrinkage"].rank["optimal_hard"])
        print(f"done {name}", file=sys.stderr)

    print("Relative Frobenius error ||S_hat - S|| / ||S||: measured, predicted, ratio; docs")
    head = f"{'experiment':18s} {'method':13s} {'measured':>9s} {'predicted':>9s} {'pred/meas':>9s}"
    print(head + f" {'docs':>8s} {'meas/docs':>9s} {'/oracle':>8s}")
    for name, r in results.items():
        meas, pred = r["measured"], r["predicted"]
        for k in ROWS:
            p_ = pred.get(k)
            ref = MATH.get(name, {}).get(k)
            cols = [f"{meas[k]:9.4f}"]
            cols.append(f"{p_:9.4f}" if p_ is not None else f"{'-':>9s}")
            cols.append(f"{p_ / meas[k]:9.4f}" if p_ is not None else f"{'-':>9s}")
            cols.append(f"{ref:8.3f}" if ref is not None else f"{'-':>8s}")
            cols.append(f"{meas[k] / ref:9.4f}" if ref is not None else f"{'-':>9s}")
            cols.append(f"{meas[k] / meas['oracle']:8.4f}")
            print(f"{name:18s} {k:13s} " + " ".join(cols))
        sh = r["shrinkage"]
        print(
            f"{'':18s} auto: {r['auto']}; noise_bulk {sh.noise_bulk} (excess {sh.excess_sd:.3g} "
            f"sd), spikes {sh.spikes}, eta {sh.eta:.4g}, ||S||^2 estimated {sh.signal_energy:.2f}"
        )
    print()
    print("Time (s, best of 3 interleaved, one BLAS thread): denoise against the decomposition")
    print("alone; 'given': denoise_svd/denoise_eigh of a precomputed decomposition, to a matrix")
    print("(1 + given/svd: the ratio the decomposition's own timing noise does not blur)")
    cols = ["svd/eigh", "denoise", "ratio", "given", "1+given/", "values", "denoise", "ratio"]
    print(f"{'experiment':18s} " + " ".join(f"{c:>9s}" for c in cols))
    for name, t in times.items():
        dec = t["decomposition"]
        row = [dec, t["denoise matrix"], t["denoise matrix"] / dec, t["given"]]
        row += [1.0 + t["given"] / dec, t["values only"], t["denoise values"]]
        row += [t["denoise values"] / t["values only"]]
        print(f"{name:18s} " + " ".join(f"{v:9.3f}" for v in row))
    print()
    print("Optimal hard threshold against optht")
    for name, rows in extra.items():
        print(name)
        for row in rows:
            print(row)


if __name__ == "__main__":
    main()

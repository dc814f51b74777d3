"""Denoising against the oracle (docs/theory/denoise.md): seeded experiments with a known signal.

For each model and aspect ratio c in {0.25, 1, 4}, three seeds, real LAPACK:

- a full-rank signal as in docs/theory/denoise.md (singular values ``sqrt(U[0, 2])`` plus five
  spikes 4 to 2, ``sigma2 = 1``; symmetric: H uniform on [-1, 1] plus the same spikes,
  ``sigma2 = 0.5``): ``rie`` within 2 % of the oracle's error, and ``auto`` picks it;
- a low-rank signal (three spikes): ``shrink`` within 2 % of the oracle, ``auto`` picks it;
- in both, every method's predicted error within 10 % of its measured error;
- pure noise: ``hard`` keeps no value beyond the Tracy-Widom fluctuation of the edge,
  ``optimal_hard`` nothing, ``shrink`` and ``rie`` (near) zero.

The sizes (min(n, p) = 300 to 600) are below the docs' 2000 to keep the file near 20 s; the
tolerances above are the issue's, and they hold at these sizes for every seed here (the
measured margins: rie/oracle - 1 below 0.4 %; shrink/oracle - 1 below 0.4 %, 1.8 % where a
noise eigenvalue sits just above the edge and shrinkage gives it a value; |predicted /
measured - 1| below 4.3 %). The
measured error uses the exact identity ``||S_hat - S||^2 = ||S||^2 - 2 v.o + v.v`` with
the oracle values o (checked against the dense error in ``test_denoise.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import cache

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from rmtservice import denoise as dn

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread() -> Iterator[None]:
    """Many small decompositions: one BLAS thread each (two oversubscribe a busy machine
    by an order of magnitude)."""
    with threadpool_limits(1):
        yield


SHAPES = [(1200, 300), (600, 600), (300, 1200)]
SEEDS = [0, 1, 2]
SPIKES = [4.0, 3.5, 3.0, 2.5, 2.0]
LOW = {"rectangular": [4.0, 3.0, 2.0], "wigner": [4.0, 3.0, -2.5]}
WIGNER_N = 600


def signal_values(kind: str, m: int, model: str) -> np.ndarray:
    if kind == "noise":
        return np.zeros(m)
    if kind == "low":
        out = np.zeros(m)
        spikes = LOW[model]
        out[: len(spikes)] = spikes
        return out
    q = (np.arange(m)[::-1] + 0.5) / m
    out = np.sqrt(2.0 * q) if model == "rectangular" else 2.0 * q - 1.0
    out[: len(SPIKES)] = SPIKES
    return out


@cache
def experiment(model: str, shape: tuple[int, int], kind: str, seed: int) -> dn.Denoised:
    """The oracle's Denoised (its values are the oracle's, with every method's values and
    predicted errors in ``shrinkage``), for a diagonal signal (Gaussian noise is rotation
    invariant: the signal's vectors do not matter)."""
    rng = np.random.default_rng(seed)
    n, p = shape
    m = min(n, p)
    s = np.zeros(shape)
    s[np.arange(m), np.arange(m)] = signal_values(kind, m, model)
    if model == "rectangular":
        y = s + rng.standard_normal(shape) / math.sqrt(n)
        u, sv, vt = np.linalg.svd(y, full_matrices=False)
        return dn.denoise_svd(u, sv, vt, 1.0, method="oracle", signal=s)
    g = rng.standard_normal(shape) * math.sqrt(0.5 / n)
    w, v = np.linalg.eigh(s + (g + g.T) / math.sqrt(2.0))
    return dn.denoise_eigh(w, v, 0.5, method="oracle", signal=s)


def measured(d: dn.Denoised, signal_energy: float) -> dict[str, float]:
    """The relative error of each method (identity with the oracle values)."""
    o = d.values
    out = {}
    for name, v in d.shrinkage.values.items():
        out[name] = math.sqrt(max(signal_energy - 2 * v @ o + v @ v, 0.0) / signal_energy)
    out["oracle"] = math.sqrt(max(signal_energy - o @ o, 0.0) / signal_energy)
    return out


def energy(model: str, shape: tuple[int, int], kind: str) -> float:
    return float(np.sum(signal_values(kind, min(shape), model) ** 2))


CASES = [("rectangular", shape) for shape in SHAPES] + [("wigner", (WIGNER_N, WIGNER_N))]


@pytest.mark.parametrize(("model", "shape"), CASES)
@pytest.mark.parametrize("seed", SEEDS)
def test_full_rank_signal_rie_matches_the_oracle(
    model: str, shape: tuple[int, int], seed: int
) -> None:
    d = experiment(model, shape, "full", seed)
    err = measured(d, energy(model, shape, "full"))
    assert d.error is not None
    assert math.isclose(err["oracle"], d.error, rel_tol=1e-9)
    assert err["rie"] <= 1.02 * err["oracle"], err
    # pruning to the edge and shrinkage of spikes are far from it (docs/theory/denoise.md's finding)
    assert err["shrink"] > 1.05 * err["rie"] and err["hard"] > 1.2 * err["rie"]
    sh = d.shrinkage
    assert not sh.noise_bulk and sh.best == "rie"


@pytest.mark.parametrize(("model", "shape"), CASES)
@pytest.mark.parametrize("seed", SEEDS)
def test_low_rank_signal_shrink_matches_the_oracle(
    model: str, shape: tuple[int, int], seed: int
) -> None:
    d = experiment(model, shape, "low", seed)
    err = measured(d, energy(model, shape, "low"))
    assert err["shrink"] <= 1.02 * err["oracle"], err
    sh = d.shrinkage
    # the three spikes (a fourth only for an edge value beyond the Tracy-Widom 0.999 quantile)
    assert sh.noise_bulk and sh.best == "shrink" and 3 <= sh.spikes <= 4
    assert sh.rank["shrink"] >= 3


@pytest.mark.parametrize("kind", ["full", "low"])
@pytest.mark.parametrize(("model", "shape"), CASES)
@pytest.mark.parametrize("seed", SEEDS)
def test_predicted_errors_within_ten_percent(
    model: str, shape: tuple[int, int], kind: str, seed: int
) -> None:
    d = experiment(model, shape, kind, seed)
    err = measured(d, energy(model, shape, kind))
    for name in dn.METHODS:
        pred = d.predicted_error[name]
        assert abs(pred - err[name]) <= 0.1 * err[name], (name, pred, err[name])


@pytest.mark.parametrize(("model", "shape"), CASES)
@pytest.mark.parametrize("seed", SEEDS)
def test_pure_noise_keeps_nothing(model: str, shape: tuple[int, int], seed: int) -> None:
    """``hard`` keeps at most the top two values, within 3 % of the edge (at least 4
    Tracy-Widom units at these sizes: a value beyond is a ~1e-4 event); ``optimal_hard``
    nothing; ``shrink`` and ``rie`` (near) zero: at most 2 % and 8 % of ``||Y||_F`` (measured:
    below 1.7 % and 4.7 %; rie's residue is O(1) in absolute terms, so it falls like
    ``n^(-1/2)`` relative to the data)."""
    d = experiment(model, shape, "noise", seed)
    sh = d.shrinkage
    x = np.abs(sh.observed - sh.centre)
    kept = sh.values["hard"] != sh.centre
    assert kept.sum() <= 2 and np.all(x[kept] <= 1.03 * sh.edge)
    assert sh.rank["optimal_hard"] == 0
    data = np.linalg.norm(sh.observed)
    assert np.linalg.norm(sh.values["shrink"] - sh.centre) < 0.02 * data
    assert np.linalg.norm(sh.values["rie"]) < 0.08 * data
    # auto's pick: shrinkage, or the zero estimate of the optimal hard threshold when a
    # noise value above the edge would get a (costly) shrunk value
    assert sh.noise_bulk and sh.best in ("shrink", "optimal_hard") and sh.spikes <= 1
    if model == "wigner":
        assert abs(sh.centre) < 0.01  # the median of a semicircle sample


def keep_minus_drop(
    model: str, n: int, p: int, theta: float, rng: np.random.Generator
) -> tuple[float, float]:
    """Top value y of a one-spike matrix, and ``y^2 - 2 y theta <u, a><v, b>``: keeping
    it minus dropping it, in squared Frobenius error."""
    if model == "rectangular":
        y = rng.standard_normal((n, p)) / math.sqrt(n)
        y[0, 0] += theta
        u, s, vt = np.linalg.svd(y, full_matrices=False)
        top, prod = s[0], u[0, 0] * vt[0, 0]
    else:
        g = rng.standard_normal((n, n)) / math.sqrt(n)
        w = (g + g.T) / math.sqrt(2)
        w[0, 0] += theta
        lam, v = np.linalg.eigh(w)
        top, prod = lam[-1], v[0, -1] ** 2
    return top, top * top - 2 * top * theta * prod


@pytest.mark.parametrize(
    ("model", "n", "p"),
    [("rectangular", 400, 100), ("rectangular", 100, 400), ("wigner", 200, 200)],
)
def test_optimal_hard_threshold_by_simulation(model: str, n: int, p: int) -> None:
    """Where keeping the top value stops costing more than dropping it: at lambda*(c)
    sqrt(sigma2) with c = p/n (not lambda*(1/c)), symmetric 4/sqrt 3 (two rows of
    spikes around the break-even, 16 draws each; the crossing within 1.5 %, measured
    within 1 % over six seeds)."""
    rng = np.random.default_rng(11)
    c = p / n
    tau = dn.optimal_hard_threshold(c) if model == "rectangular" else 4 / math.sqrt(3)
    theta_star = {0.25: 1.3012, 4.0: 2.6023, 1.0: math.sqrt(3)}[c]
    ys, deltas = [], []
    for theta in theta_star * np.array([0.85, 1.15]):
        draws = [keep_minus_drop(model, n, p, theta, rng) for _ in range(16)]
        ys.append(np.mean([d[0] for d in draws]))
        deltas.append(np.mean([d[1] for d in draws]))
    assert deltas[0] > 0 > deltas[1]  # keeping costs below, pays above
    cross = ys[0] + deltas[0] / (deltas[0] - deltas[1]) * (ys[1] - ys[0])
    assert abs(cross - tau) < 0.015 * tau, (cross, tau)
    if model == "rectangular":
        other = dn.optimal_hard_threshold(1 / c)
        assert abs(cross - other) > 0.3 * tau

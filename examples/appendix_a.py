"""The paper's Appendix A: how many signal singular values a trained middle layer has.

The paper trains networks with 3 weight layers, ``784 x n``, ``n x n``, ``n x 10``, on
Fashion MNIST for 25 epochs and counts the "signal" eigenvalues of the square middle
matrix as n grows from 200 to 3000. Here (offline): scikit-learn's bundled digits (8 x 8
images, 1797 samples, 10 classes; 80 % for training), ``MLPClassifier`` with two hidden
layers of n units (weights ``64 x n``, ``n x n``, ``n x 10``), Adam, a fixed seed, and for
each n the middle matrix ``W = W0 + S``:

- ``rank fit``: the outliers :func:`rmtservice.fit.fit` finds with the noise level
  estimated from ``W`` alone (what a user without the training history sees), that
  level ``sigma2``, and the fit's verdict (``noise?``: noise plus spikes or not);
- ``rank init``: the outliers with the noise level known: scikit-learn's initialisation
  is uniform of variance ``1/n`` (Glorot), so ``sigma2 = 1`` in rmtservice's convention;
- ``S > thr``: the singular values of the true update ``S = W - W0`` above the limit's
  detection threshold ``sigma2^(1/2) c^(1/4) = 1`` (``W0`` is rebuilt from the seed, and
  checked against a network trained with a vanishing learning rate);
- the denoising errors ``||W_hat - S||_F / ||S||_F`` measured against that ``S`` for
  pruning to the edge (``hard``), optimal shrinkage and the rotation-invariant estimator
  at the fitted noise level, the oracle of the observed vectors, and the predicted error
  of the recommended method.

``W0`` is not independent of ``S`` here (the update depends on the initialisation), so
the model behind the predicted errors holds only approximately; the measured errors
say how far.

    python examples/appendix_a.py [--out docs/img/appendix_a.png] [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import scipy.linalg
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from rmtservice import denoise as dn
from rmtservice.fit import fit

NAME = "appendix_a"
SEED = 0
METHODS = ("hard", "shrink", "rie")


@dataclass(frozen=True)
class Row:
    n: int
    accuracy: float
    rank_fit: int
    sigma2_fit: float
    rank_init: int
    noise_like: bool
    true_count: int
    measured: dict[str, float]
    predicted: dict[str, float]
    recommended: str
    seconds: float


def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    return tuple(train_test_split(x / 16.0, y, test_size=0.2, random_state=SEED))  # type: ignore[return-value]


def initial_weights(units: list[int], seed: int) -> list[np.ndarray]:
    """scikit-learn's initialisation of an MLP (uniform, Glorot's bound), in its order:
    each layer's weights, then its biases, from ``RandomState(seed)``."""
    rng = np.random.RandomState(seed)
    out = []
    for fan_in, fan_out in itertools.pairwise(units):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        out.append(rng.uniform(-bound, bound, (fan_in, fan_out)))
        rng.uniform(-bound, bound, fan_out)
    return out


def network(n: int, epochs: int, batch: int, rate: float = 1e-3) -> MLPClassifier:
    return MLPClassifier(
        hidden_layer_sizes=(n, n),
        max_iter=epochs,
        batch_size=batch,
        learning_rate_init=rate,
        n_iter_no_change=epochs + 1,  # train every epoch asked for
        random_state=SEED,
    )


def trained(clf: MLPClassifier, x: np.ndarray, y: np.ndarray) -> MLPClassifier:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x, y)
    return clf


def check_init(x: np.ndarray, y: np.ndarray, n: int) -> None:
    """The rebuilt W0 is scikit-learn's: a network trained with a vanishing rate keeps it."""
    clf = trained(network(n, 1, 200, rate=1e-12), x, y)
    w0 = initial_weights([x.shape[1], n, n, 10], SEED)
    gap = max(float(np.max(np.abs(a - b))) for a, b in zip(clf.coefs_, w0, strict=True))
    if gap > 1e-8:
        raise RuntimeError(f"the rebuilt initialisation differs from scikit-learn's by {gap}")


def errors(w: np.ndarray, s_true: np.ndarray, sigma2: float, noise_bulk: bool) -> tuple:
    """Measured and predicted errors of each method at ``sigma2``, the recommended one,
    and the oracle's error (one SVD)."""
    u, y, vt = scipy.linalg.svd(w, full_matrices=False)
    sh = dn.shrinkage(y, sigma2, shape=w.shape, noise_bulk=noise_bulk)
    norm = float(np.linalg.norm(s_true))
    measured = {m: float(np.linalg.norm((u * sh.values[m]) @ vt - s_true)) / norm for m in METHODS}
    oracle = dn.denoise_svd(u, y, vt, sigma2, method="oracle", signal=s_true).error
    measured["oracle"] = float(oracle) if oracle is not None else float("nan")
    predicted = {m: sh.predicted_error[m] for m in (*METHODS, "none")}
    return measured, predicted, sh.best


def one(n: int, epochs: int, batch: int, split: tuple) -> Row:
    x_tr, x_te, y_tr, y_te = split
    t0 = time.perf_counter()
    clf = trained(network(n, epochs, batch), x_tr, y_tr)
    w = clf.coefs_[1]
    s_true = w - initial_weights([x_tr.shape[1], n, n, 10], SEED)[1]
    f = fit(matrix=w, bootstrap=0)
    known = fit(matrix=w, sigma2=1.0, bootstrap=0, deconvolve=False)
    measured, predicted, best = errors(w, s_true, f.sigma2, f.verdict.noise_plus_spikes)
    return Row(
        n=n,
        accuracy=float(clf.score(x_te, y_te)),
        rank_fit=f.rank,
        sigma2_fit=f.sigma2,
        rank_init=known.rank,
        noise_like=f.verdict.noise_plus_spikes,
        true_count=int(np.sum(scipy.linalg.svdvals(s_true) > 1.0)),
        measured=measured,
        predicted=predicted,
        recommended=best,
        seconds=time.perf_counter() - t0,
    )


def table(rows: list[Row]) -> str:
    head = (
        f"{'n':>5} {'acc':>6} {'rank fit':>8} {'sigma2':>7} {'noise?':>6} {'rank init':>9}"
        f" {'S > thr':>7}"
        f" {'hard':>6} {'shrink':>6} {'rie':>6} {'oracle':>6} {'best':>7} {'pred':>6} {'s':>6}"
    )
    lines = [head]
    for r in rows:
        m = r.measured
        lines.append(
            f"{r.n:>5} {r.accuracy:>6.3f} {r.rank_fit:>8} {r.sigma2_fit:>7.3f}"
            f" {'yes' if r.noise_like else 'no':>6} {r.rank_init:>9}"
            f" {r.true_count:>7} {m['hard']:>6.3f} {m['shrink']:>6.3f} {m['rie']:>6.3f}"
            f" {m['oracle']:>6.3f} {r.recommended:>7} {r.predicted[r.recommended]:>6.3f}"
            f" {r.seconds:>6.1f}"
        )
    return "\n".join(lines)


def picture(rows: list[Row], out: Path, epochs: int, batch: int) -> None:
    n = [r.n for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 6), dpi=100)
    a.plot(n, [r.rank_fit for r in rows], "o-", label="fit, noise level estimated")
    a.plot(n, [r.rank_init for r in rows], "s-", label="fit, noise level of the init (σ² = 1)")
    a.plot(n, [r.true_count for r in rows], "^--", label="true S = W − W0: values > threshold")
    a.set_xlabel("n (middle layer n × n)")
    a.set_ylabel("signal singular values")
    a.set_ylim(bottom=0)
    a.set_title("outliers of the trained middle matrix", fontsize=11)
    a.legend(fontsize=8, frameon=False)
    for m, style in (("hard", "x-"), ("shrink", "o-"), ("rie", "s-"), ("oracle", "k:")):
        b.plot(n, [r.measured[m] for r in rows], style, label=f"{m} (measured)")
    b.plot(n, [r.predicted[r.recommended] for r in rows], "d--", label="recommended (predicted)")
    b.set_xlabel("n")
    b.set_ylabel("||Ŵ − S|| / ||S||")
    b.set_ylim(bottom=0)
    b.set_title("denoising error against the true update S", fontsize=11)
    b.legend(fontsize=8, frameon=False)
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.suptitle(
        f"MLP 64-n-n-10 on scikit-learn's digits, Adam, {epochs} epochs, batch {batch}, "
        f"seed {SEED}",
        fontsize=11,
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100, metadata={"Software": None})
    plt.close(fig)


def summary(rows: list[Row]) -> dict[str, str]:
    """The last line's key=value pairs (lists over the sizes)."""
    cols = {
        "sizes": [str(r.n) for r in rows],
        "rank_fit": [str(r.rank_fit) for r in rows],
        "rank_init": [str(r.rank_init) for r in rows],
        "true_count": [str(r.true_count) for r in rows],
        "sigma2_fit": [f"{r.sigma2_fit:.4f}" for r in rows],
    }
    for m in (*METHODS, "oracle"):
        cols[m] = [f"{r.measured[m]:.4f}" for r in rows]
    cols["predicted"] = [f"{r.predicted[r.recommended]:.4f}" for r in rows]
    return {k: ",".join(v) for k, v in cols.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("docs/img") / f"{NAME}.png")
    p.add_argument("--sizes", type=lambda s: [int(v) for v in s.split(",")],
                   default=[200, 300, 400, 600, 800])  # fmt: skip
    p.add_argument("--epochs", type=int, default=50)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--quick", action="store_true", help="small sizes, for tests")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.epochs = [100, 200], 10
    split = data()
    check_init(split[0], split[2], args.sizes[0])
    rows = [one(n, args.epochs, args.batch_size, split) for n in args.sizes]
    print(table(rows))
    picture(rows, args.out, args.epochs, args.batch_size)
    print(
        NAME + ": " + " ".join(f"{k}=[{v}]" for k, v in summary(rows).items()) + f" png={args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Theorem 2.1: spikes drawn from a law give outliers with the push-forward law.

``H`` has a uniform(-1, 1) bulk and ``k`` spikes at the quantiles of a law ``g`` =
uniform on ``[3, 4]``; ``W`` is Wigner with ``sigma2 = 0.25``. Theorem 2.1 of the paper
says that, away from the bulk, the outlier measure ``(n/k)(N_n - N)`` converges to the
push-forward of the spike law by ``phi`` (eq. 1.13): the outliers have the density
``g(phi^-1(y)) / phi'(phi^-1(y))``.

The histogram is the service's ``outlier_histogram`` (``simulate`` with ``spike_law``
and ``spike_count``: the top ``k`` eigenvalues, pooled over trials); the curve is the
``outlier_density`` of the outliers endpoint with the same ``spike_law``.

    python examples/outlier_histogram.py [--url URL] [--out PATH] [--quick]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from rmtservice.client import Client, LocalClient

NAME = "outlier_histogram"
MEASURE = {"kind": "uniform", "low": -1.0, "high": 1.0}
SPIKE_LAW = {"kind": "uniform", "low": 3.0, "high": 4.0}
SIGMA2 = 0.25


def _client(url: str | None) -> Client | LocalClient:
    return Client(url) if url else LocalClient()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="service URL (default: compute locally with LocalClient)")
    p.add_argument("--out", type=Path, default=Path("examples/output") / f"{NAME}.png")
    p.add_argument("--n", type=int, default=2000, help="matrix size")
    p.add_argument("--k", type=int, default=45, help="number of spikes (about sqrt(n))")
    p.add_argument("--trials", type=int, default=6, help="draws of W, pooled")
    p.add_argument("--quick", action="store_true", help="small sizes, for tests")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.k, args.trials = 500, 22, 4

    with _client(args.url) as client:
        sim = client.simulate(
            measure=MEASURE,
            sigma2=SIGMA2,
            n=args.n,
            spike_law=SPIKE_LAW,
            spike_count=args.k,
            top=args.k,
            trials=args.trials,
            seed=7,
        )
        rep = client.outliers(
            measure=MEASURE,
            sigma2=SIGMA2,
            spikes=[SPIKE_LAW["low"], SPIKE_LAW["high"]],
            spike_law=SPIKE_LAW,
            grid={"start": 2.8, "stop": 4.3, "num": 601},
        )
    hist = sim.outlier_histogram
    if hist is None or rep.outlier_density is None:
        raise RuntimeError("the service returned no outlier histogram or density")
    edges = np.array(hist.edges)
    dens = np.array(hist.density)
    width = np.diff(edges)
    x = np.array(rep.outlier_density.x)
    g = np.array([np.nan if d is None else d for d in rep.outlier_density.density])
    lo, hi = (o.location for o in rep.outliers)  # phi(3), phi(4)

    predicted_mass = float(np.trapezoid(np.nan_to_num(g), x))
    pooled = np.array([e for trial in sim.eigenvalues for e in trial[: args.k]])
    inside = float(np.mean((pooled > lo - 0.1) & (pooled < hi + 0.1)))
    pred_at_centres = np.array([np.nan if v is None else v for v in hist.predicted or []])
    l1 = float(np.nansum(np.abs(dens - pred_at_centres) * width))
    mean_pred = float(np.trapezoid(np.nan_to_num(g) * x, x) / predicted_mass)
    mean_obs = float(pooled.mean())

    fig, ax = plt.subplots(figsize=(10, 6), dpi=100)
    ax.bar(
        edges[:-1],
        dens,
        width=width,
        align="edge",
        color="C1",
        alpha=0.55,
        edgecolor="C1",
        label=f"top {args.k} eigenvalues of $H+W$ (n = {args.n}, {args.trials} trials)",
    )
    ax.plot(
        x, g, color="C0", lw=2, label=r"push-forward density $g(\phi^{-1}(y))/\phi'(\phi^{-1}(y))$"
    )
    ax.plot(
        [2.8, 3, 3, 4, 4, 4.3],
        [0, 0, 1, 1, 0, 0],
        color="gray",
        ls=":",
        lw=1.5,
        label="spike law $g$ = uniform[3, 4] (eigenvalues of $H$)",
    )
    for v, name in ((lo, r"$\phi(3)$"), (hi, r"$\phi(4)$")):
        ax.axvline(v, color="C0", ls="--", lw=1)
        ax.text(v + 0.01, 1.25, name, ha="left", va="bottom", color="C0")
    ax.set_ylim(0, 1.75)
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density")
    ax.set_title(
        r"Theorem 2.1: outliers of spikes drawn from uniform[3, 4], uniform$(-1,1)$ bulk, "
        r"$\sigma^2=0.25$"
    )
    ax.legend(loc="upper center")
    ax.grid(alpha=0.3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    plt.close(fig)

    print(
        f"{NAME}: n={args.n} k={args.k} trials={args.trials} phi3={lo:.4f} phi4={hi:.4f} "
        f"predicted_mass={predicted_mass:.4f} observed_inside={inside:.4f} l1={l1:.4f} "
        f"mean_observed={mean_obs:.4f} mean_predicted={mean_pred:.4f} png={args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

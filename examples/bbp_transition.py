"""BBP / Peche phase transition: the top eigenvalue of ``H + W`` against the spike.

``H`` has a single non-zero eigenvalue ``theta`` (``nu`` = point mass at 0, one spike),
``W`` is a Wigner matrix with ``sigma2 = 1``. The paper's eq. (1.12) (Peche): for
``theta > sigma`` the top eigenvalue of ``H + W`` converges to the outlier
``theta + sigma2 / theta``; for ``theta <= sigma`` it sticks to the bulk edge ``2 sigma``.

The theory curve comes from the service's outliers endpoint (``location`` of a
separated spike, else the upper edge of the support); the dots are the top eigenvalue
of simulated matrices (``simulate`` with ``top=1``), a few seeds per ``theta``.

    python examples/bbp_transition.py [--url URL] [--out PATH] [--quick]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from rmtservice.client import Client, LocalClient

NAME = "bbp_transition"
MEASURE = {"kind": "point", "at": 0.0}
SIGMA2 = 1.0


def _client(url: str | None) -> Client | LocalClient:
    return Client(url) if url else LocalClient()


def _theory(client: Client | LocalClient, thetas: np.ndarray) -> np.ndarray:
    """Limit of the top eigenvalue: phi(theta) if separated, else the support's upper edge."""
    rep = client.outliers(measure=MEASURE, sigma2=SIGMA2, spikes=thetas)
    edge = max(c.upper for c in rep.support)
    return np.array(
        [o.location if o.separated and o.location is not None else edge for o in rep.outliers]
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="service URL (default: compute locally with LocalClient)")
    p.add_argument("--out", type=Path, default=Path("examples/output") / f"{NAME}.png")
    p.add_argument("--n", type=int, default=1000, help="matrix size")
    p.add_argument("--seeds", type=int, default=3, help="simulations per theta")
    p.add_argument("--points", type=int, default=31, help="values of theta in [0, 3]")
    p.add_argument("--quick", action="store_true", help="small sizes, for tests")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.seeds, args.points = 300, 2, 13

    thetas = np.linspace(0.0, 3.0, args.points)
    with _client(args.url) as client:
        top = np.empty((args.points, args.seeds))
        for i, theta in enumerate(thetas):
            sim = client.simulate(
                measure=MEASURE,
                sigma2=SIGMA2,
                n=args.n,
                spikes=[float(theta)],
                top=1,
                trials=args.seeds,
                seed=1000 + i,
            )
            top[i] = [e[0] for e in sim.eigenvalues]
        theory = _theory(client, thetas)
        fine = np.linspace(0.0, 3.0, 301)
        theory_fine = _theory(client, fine)
        threshold = client.outliers(measure=MEASURE, sigma2=SIGMA2, spikes=[]).thresholds.upper

    mean = top.mean(axis=1)
    above = thetas >= 1.5
    below = thetas <= 0.9
    dev_above = float(np.max(np.abs(mean[above] - theory[above])))
    dev_below = float(np.max(np.abs(mean[below] - theory[below])))

    fig, ax = plt.subplots(figsize=(10, 6), dpi=100, layout="constrained")
    ax.plot(
        fine,
        theory_fine,
        color="C0",
        lw=2,
        label=r"theory: $\theta+\sigma^2/\theta$, else $2\sigma$",
    )
    ax.plot(fine, fine, color="gray", ls=":", lw=1, label=r"the spike $\theta$ itself")
    for j in range(args.seeds):
        ax.scatter(
            thetas,
            top[:, j],
            s=12,
            color="C1",
            alpha=0.45,
            label=f"simulated top eigenvalue (n = {args.n}, {args.seeds} seeds)"
            if j == 0
            else None,
        )
    ax.plot(thetas, mean, "o", color="C3", ms=5, label="mean over seeds")
    ax.axvline(
        threshold, color="k", ls="--", lw=1, label=rf"threshold $\theta = \sigma = {threshold:g}$"
    )
    ax.set_xlabel(r"spike $\theta$ (the eigenvalue of $H$)")
    ax.set_ylabel(r"top eigenvalue of $H + W$")
    ax.set_title(r"BBP / Peche transition: $\nu = \delta_0$, one spike, $\sigma^2 = 1$")
    # below the axes: inside, it hid the threshold line
    fig.legend(loc="outside lower center", ncol=3, fontsize=9, frameon=False)
    ax.grid(alpha=0.3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    plt.close(fig)

    print(
        f"{NAME}: n={args.n} seeds={args.seeds} max_dev_above_1.5={dev_above:.4f} "
        f"max_dev_below_0.9={dev_below:.4f} top_at_theta3={mean[-1]:.4f} "
        f"theory_at_theta3={theory[-1]:.4f} png={args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

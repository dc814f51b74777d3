"""Theorem 2.2: with a growing number of spikes, each outlier tracks phi(spike).

``H`` has a uniform(-1, 1) bulk and ``k_n = round(sqrt(n))`` spikes equally spaced in
``[2, 3]``; ``W`` is Wigner with ``sigma2 = 0.25``. Theorem 2.2 of the paper says that
``lambda_j(H + W) - phi(lambda_j(H)) -> 0`` for the separated spikes even though their
number grows with ``n`` (``k_n -> infinity``, ``k_n / n -> 0``), where
``phi(theta) = theta + sigma2 * integral nu(dt) / (theta - t)`` (eq. 1.13).

For each ``n`` the service simulates ``H + W`` (``simulate`` with ``top = k_n``: every
spike's outlier, matched by rank, with ``predicted = phi(spike)``) and we plot the
worst error ``max_j |observed_j - phi(theta_j)|``, averaged over seeds, on log-log axes
with a reference slope ``n^(-1/2)`` (the Gaussian fluctuation scale of one outlier;
the maximum over ``k_n`` of them grows like ``sqrt(log k_n)``, so the fitted slope is
a little flatter than -1/2).

    python examples/growing_spikes.py [--url URL] [--out PATH] [--quick]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FormatStrFormatter, LogLocator

from rmtservice.client import Client, LocalClient

NAME = "growing_spikes"
MEASURE = {"kind": "uniform", "low": -1.0, "high": 1.0}
SIGMA2 = 0.25


def _client(url: str | None) -> Client | LocalClient:
    return Client(url) if url else LocalClient()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="service URL (default: compute locally with LocalClient)")
    p.add_argument("--out", type=Path, default=Path("examples/output") / f"{NAME}.png")
    p.add_argument(
        "--sizes", default="100,200,400,800,1600,3200", help="matrix sizes n, comma separated"
    )
    p.add_argument("--seeds", type=int, default=5, help="simulations per n")
    p.add_argument("--quick", action="store_true", help="small sizes, for tests")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.quick:
        sizes, args.seeds = [100, 200, 400, 800], 2

    errors = np.empty((len(sizes), args.seeds))
    ks = []
    with _client(args.url) as client:
        for i, n in enumerate(sizes):
            k = round(np.sqrt(n))
            ks.append(k)
            spikes = np.linspace(2.0, 3.0, k)
            for s in range(args.seeds):
                sim = client.simulate(
                    measure=MEASURE, sigma2=SIGMA2, n=n, spikes=spikes, top=k, seed=100 * i + s
                )
                diffs = [abs(o.difference) for o in sim.outliers if o.difference is not None]
                if len(diffs) != k:
                    raise RuntimeError(f"n={n}: {len(diffs)} of {k} spikes gave an outlier")
                errors[i, s] = max(diffs)

    ns = np.array(sizes, dtype=float)
    mean = errors.mean(axis=1)
    slope, intercept = np.polyfit(np.log(ns), np.log(mean), 1)

    fig, ax = plt.subplots(figsize=(10, 6), dpi=100)
    for s in range(args.seeds):
        ax.scatter(
            ns,
            errors[:, s],
            s=14,
            color="C1",
            alpha=0.5,
            label=f"one seed ({args.seeds} per n)" if s == 0 else None,
        )
    ax.plot(ns, mean, "o-", color="C3", lw=2, label="mean over seeds")
    ax.plot(
        ns,
        np.exp(intercept) * ns**slope,
        color="C0",
        lw=1,
        label=f"least-squares fit: slope {slope:.2f}",
    )

    def anchored(ref: np.ndarray) -> np.ndarray:  # same geometric mean as the data
        return ref * np.exp(np.mean(np.log(mean)) - np.mean(np.log(ref)))

    ax.plot(ns, anchored(ns**-0.5), "k--", lw=1, label=r"reference $n^{-1/2}$")
    ax.plot(
        ns,
        anchored(np.sqrt(np.log(np.array(ks)) / ns)),
        "k:",
        lw=1,
        label=r"reference $\sqrt{\log k_n / n}$ (max of $k_n$ Gaussian errors)",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(ns, [f"{int(n)}\n(k={k})" for n, k in zip(sizes, ks, strict=True)])
    ax.minorticks_off()
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.set_xlabel(r"matrix size $n$ (number of spikes $k_n = $ round$(\sqrt{n})$)")
    ax.set_ylabel(r"$\max_j |\lambda_j(H+W) - \phi(\theta_j)|$")
    ax.set_title(
        r"Theorem 2.2: $k_n=\sqrt{n}$ spikes in $[2,3]$, uniform$(-1,1)$ bulk, $\sigma^2=0.25$"
    )
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3, which="both")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    plt.close(fig)

    errs = ",".join(f"{e:.4f}" for e in mean)
    print(
        f"{NAME}: sizes={','.join(map(str, sizes))} seeds={args.seeds} "
        f"mean_max_error=[{errs}] slope={slope:.3f} png={args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

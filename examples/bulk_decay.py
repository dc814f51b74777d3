"""The "bulk decay" spectrum: a dilated Marchenko-Pastur signal plus spikes, plus noise.

Paper section 1.2: the weight matrices of trained networks look like random noise
plus a structured signal, and in the "bulk decay" case the signal's spectrum is not
"Marchenko-Pastur plus a few spikes" but a *dilated* Marchenko-Pastur bulk plus spikes,
i.e. ``H`` has full rank. Here ``H`` has a Marchenko-Pastur bulk (ratio 0.5) dilated
by 2 and a handful of spikes, ``W`` is Wigner with ``sigma2 = 1``.

Pastur's equation (eq. 1.7) gives the limiting density of ``H + W`` (the service's
density endpoint); eq. (1.13) gives the outliers ``phi(spike)`` (outliers endpoint).
Both are drawn against a simulated spectrum (simulate endpoint, histogram output).

    python examples/bulk_decay.py [--url URL] [--out PATH] [--quick]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from rmtservice.client import Client, LocalClient

NAME = "bulk_decay"
MEASURE = {"kind": "marchenko_pastur", "ratio": 0.5, "scale": 2.0}
SPIKES = [9.0, 11.0, 14.0]
SIGMA2 = 1.0


def _client(url: str | None) -> Client | LocalClient:
    return Client(url) if url else LocalClient()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="service URL (default: compute locally with LocalClient)")
    p.add_argument("--out", type=Path, default=Path("examples/output") / f"{NAME}.png")
    p.add_argument("--n", type=int, default=2000, help="matrix size")
    p.add_argument("--trials", type=int, default=2, help="draws of W, pooled")
    p.add_argument("--quick", action="store_true", help="small sizes, for tests")
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.trials = 400, 1

    with _client(args.url) as client:
        rep = client.outliers(measure=MEASURE, sigma2=SIGMA2, spikes=SPIKES)
        lower = min(c.lower for c in rep.support)
        upper = max(c.upper for c in rep.support)
        right = max(o.location or upper for o in rep.outliers) + 1.0
        left = lower - 1.0
        dens = client.density(
            measure=MEASURE, sigma2=SIGMA2, grid={"start": left, "stop": right, "num": 800}
        )
        sim = client.simulate(
            measure=MEASURE,
            sigma2=SIGMA2,
            n=args.n,
            spikes=SPIKES,
            trials=args.trials,
            seed=11,
            output="histogram",
            edges=np.linspace(left, right, 121),
        )
    hist = sim.histogram
    if hist is None:
        raise RuntimeError("the service returned no histogram")
    edges = np.array(hist.edges)
    x = np.array(dens.x)
    rho = np.array([np.nan if d is None else d for d in dens.density])
    predicted = [o.location for o in rep.outliers]
    observed = [o.observed for o in sim.outliers]
    diffs = [abs(o.difference) for o in sim.outliers if o.difference is not None]
    max_diff = max(diffs) if len(diffs) == len(SPIKES) else float("nan")

    ymax = 1.45 * float(np.nanmax(rho))
    fig, ax = plt.subplots(figsize=(10, 6), dpi=100, layout="constrained")
    ax.bar(
        edges[:-1],
        hist.density,
        width=np.diff(edges),
        align="edge",
        color="C1",
        alpha=0.5,
        label=f"simulated spectrum of $H+W$ (n = {args.n}, {args.trials} trials)",
    )
    ax.plot(x, rho, color="C0", lw=2, label="limiting density (Pastur's equation)")
    for i, (theta, y) in enumerate(zip(SPIKES, predicted, strict=True)):
        ax.axvline(
            y,
            color="C3",
            ls="--",
            lw=1.2,
            label=r"predicted outliers $\phi(\theta)$" if i == 0 else None,
        )
        ax.text(y, 0.5 * ymax, rf"from $\theta={theta:g}$", rotation=90, ha="right", color="C3")
    ax.plot(
        observed,
        np.zeros(len(observed)),
        "v",
        color="k",
        ms=9,
        clip_on=False,
        label="simulated outliers (mean over trials)",
    )
    ax.axvline(upper, color="gray", ls=":", lw=1, label=f"bulk edge {upper:.3f}")
    ax.set_xlim(left, right)
    ax.set_ylim(0, ymax)
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density")
    ax.set_title(
        r"Bulk decay: $H$ = Marchenko-Pastur (ratio 0.5) dilated by 2 + spikes "
        rf"{SPIKES}, $\sigma^2 = {SIGMA2:g}$"
    )
    # below the axes: inside, it hid the spike lines
    fig.legend(loc="outside lower center", ncol=3, fontsize=9, frameon=False)
    ax.grid(alpha=0.3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=100)
    plt.close(fig)

    pred = ",".join(f"{y:.4f}" for y in predicted)
    obs = ",".join(f"{y:.4f}" for y in observed)
    print(
        f"{NAME}: n={args.n} trials={args.trials} support=[{lower:.4f},{upper:.4f}] "
        f"predicted=[{pred}] observed=[{obs}] max_outlier_error={max_diff:.4f} png={args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

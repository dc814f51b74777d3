"""Pictures of the rectangular model: the singular values of ``S + X`` (matplotlib, Agg).

The same picture as :func:`rmtservice.pictures.plot.render`, for singular values: the
exact density of the limit law (per ``min(n, p)`` singular values) with its support
shaded, the detection threshold, the predicted outliers ``sqrt(Phi(theta^2))`` and
optionally a histogram of simulated singular values with the observed outliers, and an
observed spectrum of singular values with the marks of its fit
(:mod:`rmtservice.pictures.observed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rmtservice import rectangular as rr
from rmtservice.density import grid
from rmtservice.measures import Measure
from rmtservice.pictures.observed import Observed
from rmtservice.pictures.observed import draw as draw_observed
from rmtservice.pictures.plot import (
    _printable,
    _save,
    describe,
    draw_simulation,
    legend_below,
    mark_outliers,
    shade_support,
)

__all__ = ["render_rectangular"]


def _curve(
    measure: Measure, sigma2: float, sup: rr.Support, span: tuple[float, float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """The density on the support's automatic grid and a margin (never below 0)."""
    x = grid(sup, max(800, 2 * len(sup) + 16))  # type: ignore[arg-type]  # (lower, upper)
    width = float(sup.upper[-1] - sup.lower[0])
    lo, hi = max(0.0, float(sup.lower[0]) - 0.08 * width), float(sup.upper[-1]) + 0.08 * width
    if span is not None:
        lo, hi = max(0.0, min(lo, span[0])), max(hi, span[1])
    x = np.unique(np.concatenate([x, np.linspace(lo, hi, 200)]))
    c = sup.model.aspect_ratio
    return x, rr.boundary_values(measure, sigma2, c, x, sup=sup).density


def render_rectangular(
    measure: Measure,
    sigma2: float,
    aspect_ratio: float,
    *,
    spikes: Sequence[float] = (),
    simulation: rr.Simulation | None = None,
    fmt: str = "png",
    title: str | None = None,
    observed: Observed | None = None,
) -> bytes:
    """The picture as PNG or SVG bytes (about 1000 x 600 pixels); ``observed``: observed
    singular values and their fit over the law."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sup = rr.support(measure, sigma2, aspect_ratio)
    report = rr.outliers(measure, sigma2, aspect_ratio, spikes, sup=sup)
    located = [o.location for o in report.outliers if o.location is not None]
    values = [] if simulation is None else simulation.singular_values
    points = located + [float(v) for s in values if s.size for v in (s[0], s[-1])]
    if observed is not None:
        points += list(observed.span)
    x, dens = _curve(measure, sigma2, sup, (min(points), max(points)) if points else None)
    with matplotlib.rc_context({"svg.hashsalt": "rmtservice", "svg.fonttype": "path"}):
        fig, ax = plt.subplots(figsize=(10, 6), dpi=100, layout="constrained")
        try:
            # as in the symmetric picture: the observed layer first (its entries join the
            # legend under the axes), then the y range grows to hold its bars
            tallest = 0.0 if observed is None else draw_observed(ax, observed)
            _draw(ax, sup, x, dens, report, simulation)
            ax.set_ylim(0, max(ax.get_ylim()[1], 1.1 * tallest))
            name = _printable(title) or (
                f"singular values: {describe(measure)},  σ² = {sigma2:g},  c = p/n = "
                f"{aspect_ratio:g}"
            )
            ax.set_title(name, fontsize=12, parse_math=False)
            buf = _save(fig, fmt)
        finally:
            plt.close(fig)
    return buf.getvalue()


def _draw(
    ax: Any,
    sup: rr.Support,
    x: np.ndarray,
    dens: np.ndarray,
    report: rr.OutlierReport,
    simulation: rr.Simulation | None,
) -> None:
    shade_support(ax, sup.lower, sup.upper)
    if simulation is not None:
        label = f"simulated singular values ({simulation.rows} x {simulation.cols})"
        pooled = np.concatenate(simulation.singular_values)
        draw_simulation(ax, pooled, label, simulation.outliers)
    ax.plot(x, dens, color="#1f4e79", lw=2, label="limit density", zorder=3)
    located = [o.location for o in report.outliers if o.location is not None]
    mark_outliers(ax, located, "predicted outliers √Φ(θ²)")
    top = float(np.max(dens)) if dens.size else 1.0
    ax.set_xlabel("singular value")
    ax.set_ylabel("density")
    ax.set_xlim(left=0.0)
    ax.set_ylim(0, 1.15 * top if top > 0 else 1.0)
    ax.grid(alpha=0.25)
    legend_below(
        ax,
        f"detection threshold θ: {report.threshold:.4g};  atoms at 0: Y^T Y "
        f"{sup.atom_at_zero:.3g}, Y Y^T {sup.companion_atom_at_zero:.3g}",
    )

"""Pictures of the spectrum: the limiting density against simulation (matplotlib, Agg).

One axis: the exact density of the limit with its support shaded, the detection
thresholds and the predicted outlier positions ``phi(theta)`` marked, and optionally a
histogram of simulated eigenvalues of ``H + W`` with the observed outliers. Output is
PNG or SVG bytes, identical for identical inputs (no dates, fixed SVG ids). Titles are
drawn as given: ``$`` is a dollar sign, not the start of mathtext.
"""

from __future__ import annotations

import io
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtservice.density import boundary_values, grid, support
from rmtservice.measures import Atoms, MarchenkoPastur, Measure, Mixture, Point, Semicircle, Uniform
from rmtservice.outliers import OutlierReport, outliers
from rmtservice.pictures.observed import Observed
from rmtservice.pictures.observed import draw as draw_observed
from rmtservice.simulate import Simulation
from rmtservice.sweeps.statistics import SweepSummary
from rmtservice.vocabulary import IMAGE_MEDIA_TYPES

__all__ = ["FORMATS", "describe", "render", "render_sweep"]

FORMATS = IMAGE_MEDIA_TYPES


def describe(measure: Measure) -> str:
    """A short human name of the law, for titles."""
    if isinstance(measure, Point):
        return f"point mass at {measure.at:g}"
    if isinstance(measure, Uniform):
        return f"uniform on [{measure.low:g}, {measure.high:g}]"
    if isinstance(measure, Semicircle):
        return f"semicircle (center {measure.center:g}, radius {measure.radius:g})"
    if isinstance(measure, MarchenkoPastur):
        return f"Marchenko-Pastur (ratio {measure.ratio:g}, scale {measure.scale:g})"
    if isinstance(measure, Mixture):
        return "mixture of " + ", ".join(describe(m) for _, m in measure.parts)
    if isinstance(measure, Atoms):
        return f"{measure.size} atoms" if measure.size != 1 else f"atom at {measure.values[0]:g}"
    return measure.kind


@dataclass(frozen=True)
class _Panel:
    x: np.ndarray
    density: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def _panel(measure: Measure, sigma2: float, span: tuple[float, float] | None) -> _Panel:
    sup = support(measure, sigma2)
    x = grid(sup, max(800, 2 * len(sup) + 16))
    width = float(sup.upper[-1] - sup.lower[0])
    lo, hi = float(sup.lower[0]) - 0.08 * width, float(sup.upper[-1]) + 0.08 * width
    if span is not None:
        lo, hi = min(lo, span[0]), max(hi, span[1])
    x = np.unique(np.concatenate([x, np.linspace(lo, hi, 200)]))
    dens = boundary_values(measure, sigma2, x, sup=sup).density
    return _Panel(x, dens, sup.lower, sup.upper)


def render(
    measure: Measure,
    sigma2: float,
    *,
    spikes: Sequence[float] = (),
    simulation: Simulation | None = None,
    fmt: str = "png",
    title: str | None = None,
    observed: Observed | None = None,
) -> bytes:
    """The picture as PNG or SVG bytes (about 1000 x 600 pixels); ``observed``: an
    observed spectrum and its fit over the law (:mod:`rmtservice.pictures.observed`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    report = outliers(measure, sigma2, spikes)
    located = [o.location for o in report.outliers if o.location is not None]
    values = [] if simulation is None else [e for e in simulation.eigenvalues]
    points = located + [float(v) for e in values for v in (e[0], e[-1])]
    if observed is not None:
        points += list(observed.span)
    span = (min(points), max(points)) if points else None
    panel = _panel(measure, sigma2, span)
    with matplotlib.rc_context({"svg.hashsalt": "rmtservice", "svg.fonttype": "path"}):
        fig, ax = plt.subplots(figsize=(10, 6), dpi=100, layout="constrained")
        try:
            # the observed layer first: its entries join the legend that _draw puts under
            # the axes; then the y range grows to hold its bars
            tallest = 0.0 if observed is None else draw_observed(ax, observed)
            _draw(ax, panel, report, simulation)
            ax.set_ylim(0, max(ax.get_ylim()[1], 1.1 * tallest))
            name = _printable(title) or f"{describe(measure)},  σ² = {sigma2:g}"
            # literally: mathtext would parse "$...$" (and refuse "$x^{$" with an error)
            ax.set_title(name, fontsize=12, parse_math=False)
            buf = _save(fig, fmt)
        finally:
            plt.close(fig)
    return buf.getvalue()


_SWEEP_PANELS = (
    ("outlier_error", "outlier error", "max |λ − φ(θ)| over the spikes"),
    ("edge_error", "edge error", "|λ_edge − E|"),
    ("kolmogorov", "Kolmogorov distance", "sup |F_n − F|"),
)


def render_sweep(summary: SweepSummary, *, fmt: str = "png", title: str | None = None) -> bytes:
    """Per-size means (± standard error) of the three errors of a sweep on log-log axes,
    with the fitted rate and the reference rate; PNG or SVG bytes (about 1200 x 450)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": "rmtservice", "svg.fonttype": "path"}):
        fig, axes = plt.subplots(1, 3, figsize=(12, 5), dpi=100, layout="constrained")
        try:
            for ax, (name, label, ylabel) in zip(axes, _SWEEP_PANELS, strict=True):
                _sweep_panel(ax, summary, name, label, ylabel)
            name = _printable(title) or "Monte Carlo sweep over n"
            fig.suptitle(name, fontsize=12, parse_math=False)
            buf = _save(fig, fmt)
        finally:
            plt.close(fig)
    return buf.getvalue()


def _printable(title: str | None) -> str | None:
    """A title without control characters (they have no glyph); None if nothing is left."""
    if title is None:
        return None
    kept = "".join(c for c in title if unicodedata.category(c) != "Cc").strip()
    return kept or None


def _save(fig: Any, fmt: str) -> io.BytesIO:
    """``fig`` as PNG or SVG, reproducibly (no software or date stamps). A character of a
    title that the font lacks is drawn as a box, without a warning in the log."""
    buf = io.BytesIO()
    meta = {"Software": None} if fmt == "png" else {"Date": None, "Creator": None}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
        fig.savefig(buf, format=fmt, metadata=meta)
    return buf


def _sweep_panel(ax: Any, summary: SweepSummary, name: str, label: str, ylabel: str) -> None:
    rows = [(z.n, m) for z in summary.sizes if (m := z.metrics[name]) is not None and m.mean > 0]
    ax.set_title(label, fontsize=10)
    ax.set_xlabel("n")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.25, which="both")
    if not rows:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
        return
    n = np.array([r[0] for r in rows], dtype=float)
    mean = np.array([r[1].mean for r in rows])
    err = np.array([r[1].stderr for r in rows])
    trials = max(r[1].count for r in rows)
    ax.errorbar(
        n,
        mean,
        yerr=np.minimum(err, 0.95 * mean),
        fmt="o",
        color="#1f4e79",
        capsize=3,
        label=f"mean ± standard error ({trials} trials)" if trials > 1 else "one trial",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    _size_ticks(ax, n)
    fit = summary.fits[name]
    if fit is not None:
        xs = np.geomspace(n[0], n[-1], 50)
        ax.plot(
            xs,
            np.exp(fit.intercept) * xs**fit.rate,
            "--",
            color="#c0392b",
            label=f"fit: n^{_rate(fit.rate, fit.rate_stderr)}",
        )
        mid = float(np.exp(np.mean(np.log(n))))
        anchor = float(np.exp(fit.intercept) * mid**fit.rate)
        ax.plot(
            xs,
            anchor * (xs / mid) ** fit.reference,
            ":",
            color="#555555",
            label=f"reference n^{fit.reference:.2f}",
        )
    # the points first (matplotlib lists the error bars' container last); under the
    # axes: among 15 sizes no corner is free of points
    handles, labels = ax.get_legend_handles_labels()
    order = [len(handles) - 1, *range(len(handles) - 1)]
    ax.legend(
        [handles[i] for i in order],
        [labels[i] for i in order],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        fontsize=8,
        frameon=False,
    )


def _rate(rate: float, stderr: float | None) -> str:
    """``-0.88 ± 0.18``, ``-0.9979 ± 0.0045``: the rate to the standard error's second
    significant digit."""
    if stderr is None or not np.isfinite(stderr) or stderr <= 0:
        return f"{rate:.2f}"
    digits = max(2, 1 - int(np.floor(np.log10(stderr))))
    return f"{rate:.{digits}f} ± {stderr:.2g}"


def _size_ticks(ax: Any, n: np.ndarray) -> None:
    """Plain numbers at some of the sizes, at least a fifth of the log range apart (a
    log axis labels powers of ten, and minor ticks with "2x10^3"-like text that runs
    together over one decade)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    logs = np.log(n)
    gap = (logs[-1] - logs[0]) / 5
    kept = [0]
    for i in range(1, len(n)):
        if logs[i] - logs[kept[-1]] >= gap:
            kept.append(i)
    if kept[-1] != len(n) - 1:  # the largest size is labelled, in place of a close one
        kept[-1 if len(kept) > 1 else len(kept) :] = [len(n) - 1]
    ax.xaxis.set_major_locator(FixedLocator(n[kept].tolist()))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0f}"))
    ax.xaxis.set_minor_locator(NullLocator())


SUPPORT_COLOR = "#d8e6f3"


def _draw(ax: Any, panel: _Panel, report: OutlierReport, simulation: Simulation | None) -> None:
    shade_support(ax, panel.lower, panel.upper)
    if simulation is not None:
        label = f"simulated eigenvalues (n = {simulation.eigenvalues[0].size})"
        draw_simulation(ax, np.concatenate(simulation.eigenvalues), label, simulation.outliers)
    ax.plot(panel.x, panel.density, color="#1f4e79", lw=2, label="limit density", zorder=3)
    lower, upper = report.thresholds
    top = float(np.max(panel.density)) if panel.density.size else 1.0
    located = [o.location for o in report.outliers if o.location is not None]
    mark_outliers(ax, located, "predicted outliers φ(θ)")
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density")
    ax.set_ylim(0, 1.15 * top if top > 0 else 1.0)
    ax.grid(alpha=0.25)
    legend_below(ax, f"detection thresholds θ: {lower:.4g}, {upper:.4g}")


def shade_support(ax: Any, lower: np.ndarray, upper: np.ndarray) -> None:
    """The components ``[lower, upper]`` of the support, shaded across the whole height."""
    for k, (a, b) in enumerate(zip(lower, upper, strict=True)):
        ax.axvspan(a, b, color=SUPPORT_COLOR, zorder=0, label="support" if k == 0 else None)


def draw_simulation(ax: Any, pooled: np.ndarray, label: str, outliers: Sequence[Any]) -> None:
    """The histogram of a simulation's ``pooled`` spectra, and the observed outliers (of
    the spikes predicted to separate) as markers on the axis."""
    bins = int(np.clip(np.sqrt(pooled.size), 20, 120))
    ax.hist(pooled, bins=bins, density=True, color="#f0b27a", alpha=0.7, label=label, zorder=1)
    observed = [o.observed for o in outliers if o.predicted is not None and o.observed is not None]
    if observed:
        ax.plot(
            observed,
            np.zeros(len(observed)),
            "v",
            color="#a04000",
            markersize=9,
            label="observed outliers",
            zorder=4,
            clip_on=False,
        )


def mark_outliers(ax: Any, located: Sequence[float], label: str) -> None:
    """The predicted outliers as dashed vertical lines (``label`` on the first)."""
    for k, y in enumerate(located):
        ax.axvline(y, color="#c0392b", ls="--", lw=1.2, zorder=2, label=label if k == 0 else None)


def legend_below(ax: Any, note: str) -> None:
    """The legend of a spectrum picture under its axes (in a constrained layout), where
    it hides no data: the support is shaded across the whole height. ``note`` (the
    thresholds: values of theta, not points of this axis) is its last line."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles, labels = ax.get_legend_handles_labels()
    # the support's swatch with an edge: its fill alone is pale on white
    swatch = Patch(facecolor=SUPPORT_COLOR, edgecolor="#7fa6cc")
    handles = [swatch if t == "support" else h for h, t in zip(handles, labels, strict=True)]
    handles.append(Line2D([], [], linestyle="none"))
    labels.append(note)
    ax.figure.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=9, frameon=False)

"""Pictures of a model's analysis (matplotlib, Agg): one tensor's spectrum against its
fitted noise law, and a summary across the model's matrices.

The spectrum panel is a histogram of the observed singular values (eigenvalues of a
symmetric matrix) with the fitted pure-noise law (Marchenko-Pastur of the matrix's
aspect ratio, or the semicircle) scaled to the share of bulk values, the bulk edges, the
finite-n threshold and the outliers marked. PNG bytes, identical for identical inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from rmtservice.pictures.plot import _printable, _save

if TYPE_CHECKING:
    from rmtservice.analyze import TensorAnalysis

__all__ = ["noise_law", "render_summary", "render_tensor"]

FloatArray = NDArray[np.float64]


def noise_law(row: TensorAnalysis, x: FloatArray) -> FloatArray:
    """Density of the fitted pure-noise law at ``x``: of the singular values
    (Marchenko-Pastur, docs/theory/rectangular.md) or of the eigenvalues (semicircle)."""
    f = row.fit
    x = np.asarray(x, dtype=float)
    if row.model == "wigner":
        r2 = 4.0 * f.sigma2
        d = r2 - (x - f.center) ** 2
        return np.where(d > 0, 2.0 / (math.pi * r2) * np.sqrt(np.maximum(d, 0.0)), 0.0)
    rows, cols = row.shape
    big, small = max(rows, cols), min(rows, cols)
    c = small / big
    scale2 = f.sigma2 / rows * big  # y^2 / scale2 follows Marchenko-Pastur of ratio c
    t = x * x / scale2
    a, b = (1.0 - math.sqrt(c)) ** 2, (1.0 + math.sqrt(c)) ** 2
    inside = (t > a) & (t < b)
    tt = np.where(inside, t, 1.0)
    mp = np.sqrt(np.maximum((b - tt) * (tt - a), 0.0)) / (2.0 * math.pi * c * tt)
    return np.where(inside, mp * 2.0 * x / scale2, 0.0)


def render_tensor(row: TensorAnalysis, *, fmt: str = "png") -> bytes:
    """The spectrum of one matrix against its fitted law (about 900 x 500 pixels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": "rmtservice", "svg.fonttype": "path"}):
        fig, ax = plt.subplots(figsize=(9, 5), dpi=100)
        try:
            _draw_tensor(ax, row)
            buf = _save(fig, fmt)
        finally:
            plt.close(fig)
    return buf.getvalue()


def _draw_tensor(ax: Any, row: TensorAnalysis) -> None:
    v = row.observed
    lo, hi = float(v.min()), float(v.max())
    pad = 0.03 * (hi - lo if hi > lo else 1.0)
    span = (min(lo - pad, row.bulk.lower) if row.model == "wigner" else 0.0, hi + pad)
    bins = int(np.clip(np.sqrt(v.size) * 2, 30, 160))
    what = "eigenvalues" if row.model == "wigner" else "singular values"
    ax.hist(v, bins=bins, range=span, density=True, color="#f0b27a", alpha=0.75, label=what)
    x = np.linspace(span[0], span[1], 1200)
    share = (v.size - row.rank) / v.size
    law = "semicircle" if row.model == "wigner" else "Marchenko-Pastur"
    ax.plot(x, share * noise_law(row, x), color="#1f4e79", lw=2, label=f"fitted {law}")
    ax.axvspan(row.bulk.lower, row.bulk.upper, color="#d8e6f3", zorder=0, label="noise bulk")
    ax.axvline(row.edge_threshold, color="#c0392b", ls="--", lw=1.2, label="edge threshold")
    lower = row.fit.lower_edge_threshold
    if lower is not None:
        ax.axvline(lower, color="#c0392b", ls="--", lw=1.2)
    if row.outliers:
        out = [o.value for o in row.outliers]
        ax.plot(out, np.zeros(len(out)), "v", color="#a04000", ms=8, clip_on=False,
                label=f"outliers ({row.rank})", zorder=4)  # fmt: skip
    shape = "x".join(map(str, row.shape))
    if row.reshaped_from is not None:
        shape += " (from " + "x".join(map(str, row.reshaped_from)) + ")"
    title = f"{row.name}  {shape}  σ² = {row.sigma2:.4g}"
    ax.set_title(_printable(title) or row.name, fontsize=11, parse_math=False)
    tail = "-" if row.tail_exponent is None else f"{row.tail_exponent:.2f}"
    verdict = "noise plus spikes" if row.verdict.noise_plus_spikes else "not noise plus spikes"
    note = (
        f"KS {row.goodness_of_fit.ks:.3g}   tail exponent {tail}   "
        f"energy kept {row.energy_kept:.3f}\n{row.recommended_method}: predicted error "
        f"{row.predicted_error:.3f}   {verdict}"
    )
    ax.annotate(note, xy=(0.01, 0.97), xycoords="axes fraction", va="top", fontsize=8.5,
                color="#444444")  # fmt: skip
    ax.set_xlabel(what)
    ax.set_ylabel("density")
    ax.legend(loc="upper right", fontsize=8.5, frameon=False)
    ax.grid(alpha=0.25)


def render_summary(rows: Sequence[TensorAnalysis], *, fmt: str = "png") -> bytes:
    """Across the model's matrices (in file order): the share of values that are
    outliers, the energy kept, the tail exponent and the predicted errors of the
    recommended method, of pruning to the edge and of doing nothing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": "rmtservice", "svg.fonttype": "path"}):
        fig, axes = plt.subplots(2, 2, figsize=(13, 8), dpi=100, sharex=True)
        try:
            _draw_summary(axes, rows)
            fig.suptitle(f"{len(rows)} weight matrices", fontsize=12)
            fig.tight_layout()
            buf = _save(fig, fmt)
        finally:
            plt.close(fig)
    return buf.getvalue()


def _draw_summary(axes: Any, rows: Sequence[TensorAnalysis]) -> None:
    k = np.arange(len(rows))
    share = [r.rank / min(r.shape) for r in rows]
    tail = [np.nan if r.tail_exponent is None else r.tail_exponent for r in rows]
    (a, b), (c, d) = axes
    a.bar(k, share, color="#1f4e79")
    a.set_title("outliers / min(rows, cols)", fontsize=10)
    b.bar(k, [r.energy_kept for r in rows], color="#7d9fc0")
    b.set_title("energy kept ||Ŵ||² / ||W||² (method used)", fontsize=10)
    c.plot(k, tail, "o", color="#a04000")
    c.axhline(2.0, color="#555555", ls=":", lw=1)
    c.axhline(6.0, color="#555555", ls=":", lw=1)
    c.set_title("tail exponent (WeightWatcher's α; 2 to 6: heavy-tailed)", fontsize=10)
    for name, style in (("none", "s"), ("hard", "x")):
        d.plot(k, _floor([r.predicted_errors[name] for r in rows]), style, label=name, alpha=0.8)
    d.plot(k, _floor([r.predicted_error for r in rows]), "o", color="#1f4e79", label="recommended")
    d.set_yscale("log")
    d.set_title("predicted relative error ||Ŵ − S|| / ||S|| (at least 0.001)", fontsize=10)
    d.legend(fontsize=8, frameon=False)
    labels = [_short(r.name) for r in rows]
    for ax in (c, d):
        ax.set_xticks(k)
        ax.set_xticklabels(labels, rotation=90, fontsize=6)
    for ax in (a, b, c, d):
        ax.grid(alpha=0.25)


def _floor(errors: Sequence[float]) -> FloatArray:
    """Errors on a log axis: a predicted 0 (all the energy explained) drawn at 0.001."""
    return np.maximum(np.asarray(errors, dtype=float), 1e-3)


def _short(name: str) -> str:
    """``encoder.layer.3.attention.self.query.weight`` -> ``3.attention.self.query``."""
    parts = [p for p in name.split(".") if p not in ("weight", "encoder", "layer", "layers")]
    return ".".join(parts)[-28:]

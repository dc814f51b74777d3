"""An observed spectrum over the pictured law: its histogram, and the marks of its fit.

The fit (:func:`rmtservice.fit.fit`) is made at the picture's noise level (``sigma2``
known, level ``ALPHA``, no bootstrap): the bulk edges, the finite-n thresholds and the
values declared outliers are drawn over the law's density, so a fitted law (``/v1/fit``'s
centre as a point mass, its ``sigma2``) can be checked against the data by eye. The
values are eigenvalues (the symmetric model) or, given a shape, the ``min(rows, cols)``
singular values of a ``rows x cols`` matrix (the rectangular model, :func:`shape_for`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rmtservice.errors import InvalidParameter
from rmtservice.fit import Fit, fit

__all__ = ["ALPHA", "Observed", "draw", "observe", "shape_for"]

#: level of the outlier tests of the pictured fit
ALPHA = 0.01


@dataclass(frozen=True, eq=False)
class Observed:
    """The observed eigenvalues (or singular values) and their fit at the picture's
    noise level."""

    values: np.ndarray
    fit: Fit

    @property
    def span(self) -> tuple[float, float]:
        return float(self.values.min()), float(self.values.max())


def shape_for(count: int, aspect_ratio: float) -> tuple[int, int]:
    """``(rows, cols)`` of a matrix with ``count = min(rows, cols)`` singular values and
    ``cols / rows`` nearest ``aspect_ratio`` (the longer side rounded, at least ``count``)."""
    if aspect_ratio <= 1:
        return max(count, round(count / aspect_ratio)), count
    return count, max(count, round(count * aspect_ratio))


def observe(
    values: Sequence[float], sigma2: float, *, shape: tuple[int, int] | None = None
) -> Observed:
    """Fit ``values`` with the noise level ``sigma2`` known: eigenvalues, or with
    ``shape`` the singular values of a ``rows x cols`` matrix."""
    v = np.asarray(values, dtype=float)
    known = functools.partial(fit, sigma2=sigma2, alpha=ALPHA, bootstrap=0, deconvolve=False)
    try:
        f = known(eigenvalues=v) if shape is None else known(singular_values=v, shape=shape)
    except InvalidParameter as exc:
        if exc.field not in ("eigenvalues", "singular_values", "shape"):
            raise
        raise InvalidParameter(exc.message, field="observed") from exc
    return Observed(v, f)


def draw(ax: Any, obs: Observed) -> float:
    """The histogram of the observed values, the fit's edges and thresholds as vertical
    lines and its outliers as diamonds on the axis, with legend labels (the picture
    makes the legend); returns the tallest bar, for the y range."""
    f = obs.fit
    bins = int(np.clip(np.sqrt(obs.values.size), 10, 120))
    heights = ax.hist(
        obs.values,
        bins=bins,
        density=True,
        histtype="stepfilled",
        color="#7fb77e",
        alpha=0.45,
        label=f"observed ({obs.values.size} values)",
        zorder=1,
    )[0]
    for k, edge in enumerate((f.bulk.lower, f.bulk.upper)):
        label = "fitted bulk edges" if k == 0 else None
        ax.axvline(edge, color="#2e7d32", lw=1.2, zorder=2, label=label)
    cuts = [c for c in (f.lower_edge_threshold, f.edge_threshold) if c is not None]
    for k, cut in enumerate(cuts):
        label = f"finite-n thresholds (α = {f.alpha:g})" if k == 0 else None
        ax.axvline(cut, color="#6b4fa8", ls="-.", lw=1.2, zorder=2, label=label)
    if f.outliers:
        out = [o.value for o in f.outliers]
        ax.plot(
            out,
            np.zeros(len(out)),
            "D",
            color="#2e7d32",
            markersize=8,
            clip_on=False,
            zorder=5,
            label=f"observed outliers ({f.rank})",
        )
    return float(np.max(heights)) if np.size(heights) else 0.0

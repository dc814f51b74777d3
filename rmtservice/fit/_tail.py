"""The tail exponent of a spectrum: a power law fitted to the top of the ESD of ``Y^T Y``.

As heavy-tailed self-regularisation studies do (Martin and Mahoney 2021, WeightWatcher's
``alpha``): for the eigenvalues ``x`` of ``Y^T Y`` (squared singular values; for a
symmetric matrix the squares of the centred eigenvalues) the density above ``x_min`` is
fitted by ``p(x) ~ x^(-alpha)``. For each candidate ``x_min`` (the ``k``-th largest
value) the continuous maximum-likelihood estimate is ``alpha = 1 + k / sum_{i <= k}
log(x_i / x_min)`` (Hill), and ``x_min`` is the one whose fitted law is closest to the
tail's empirical law in Kolmogorov distance (Clauset, Shalizi and Newman 2009). A
Marchenko-Pastur bulk gives large exponents (its tail ends at a soft edge); heavy-tailed
matrices give ``alpha`` between 2 and 4 or so (WeightWatcher reads ``alpha < 2`` as very
heavy-tailed, ``alpha > 6`` as close to random).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

#: fewest tail points a fit may use
MIN_TAIL = 5
#: candidate tail sizes are a geometric sequence of at most this many
_CANDIDATES = 96


@dataclass(frozen=True)
class TailFit:
    """Power-law fit of the top of the spectrum.

    Attributes
    ----------
    exponent : float
        ``alpha`` of the density ``x^(-alpha)`` of the eigenvalues of ``Y^T Y`` above
        ``x_min`` (WeightWatcher's alpha).
    x_min : float
        Start of the fitted tail, an eigenvalue of ``Y^T Y`` (a squared singular value).
    count : int
        Number of values in the tail.
    ks : float
        Kolmogorov distance of the tail's empirical law to the fitted power law.
    """

    exponent: float
    x_min: float
    count: int
    ks: float


def tail_fit(x: FloatArray) -> TailFit | None:
    """Fit the top of the non-negative values ``x``; ``None`` with too few positive ones."""
    top = np.sort(x[x > 0])[::-1]
    kmax = top.size // 2
    if kmax < MIN_TAIL:
        return None
    ks_ = np.unique(np.geomspace(MIN_TAIL, kmax, _CANDIDATES).astype(int))
    logs = np.log(top[:kmax])
    spread = np.cumsum(logs)[ks_ - 1] - ks_ * logs[ks_ - 1]
    ks_, spread = ks_[spread > 0], spread[spread > 0]  # ties at the top: nothing to fit
    if ks_.size == 0:
        return None
    alpha = 1.0 + ks_ / spread
    xmin = top[ks_ - 1]
    # every candidate at once: its fitted survival at the tail points (masked past k)
    i = np.arange(kmax)
    inside = i < ks_[:, None]
    with np.errstate(over="ignore"):
        model = (top[None, :kmax] / xmin[:, None]) ** (1.0 - alpha[:, None])
    k = ks_[:, None]
    gap = np.maximum(np.abs(model - i / k), np.abs(model - (i + 1) / k))
    d = np.max(np.where(inside, gap, -np.inf), axis=1)
    j = int(np.argmin(d))  # the first of equal distances, as a scan would keep
    return TailFit(float(alpha[j]), float(xmin[j]), int(ks_[j]), float(d[j]))

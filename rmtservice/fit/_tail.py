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
    csum = np.cumsum(logs)
    idx = np.arange(kmax)
    best: TailFit | None = None
    for k in ks_:
        s = csum[k - 1] - k * logs[k - 1]
        if not s > 0:
            continue  # ties at the top: no spread to fit
        alpha = 1.0 + k / s
        xmin = top[k - 1]
        model = (top[:k] / xmin) ** (1.0 - alpha)  # fitted survival at the tail points
        i = idx[:k]
        d = float(max(np.max(np.abs(model - i / k)), np.max(np.abs(model - (i + 1) / k))))
        if best is None or d < best.ks:
            best = TailFit(float(alpha), float(xmin), int(k), d)
    return best

"""Fitting an observed spectrum: noise level, bulk edge, outliers, spikes (docs/theory/fit.md).

:func:`fit` takes the eigenvalues of a symmetric matrix ``M = H + W`` (model ``wigner``),
the singular values of an ``rows x cols`` matrix ``Y = S + X`` with its shape (model
``rectangular``), or the matrix itself, and returns a :class:`Fit`:

1. **Noise level** by a quantile fit of the central bulk against the pure-noise law
   (semicircle of unknown centre and radius; Marchenko-Pastur of the shape's ratio in
   squared singular values), iterated with the outlier tests; the bulk left when ``k``
   outliers are removed is the compressed noise (``k`` dimensions fewer) plus the
   spikes' linear response, both corrected for. Interval: an exact parametric bootstrap
   of Gaussian noise (tridiagonal models, O(n^2) a replicate) or the CLT's asymptotics.
2. **Edges and the finite-n threshold** from Tracy-Widom (``rmtservice.tracy_widom``),
   step-down tests from the most extreme value with the noise dimension reduced by the
   values already declared signal; both sides of the symmetric model.
3. **Spikes and overlaps** by the inverse maps at the fitted level, the finite-n one
   counting the other spikes (docs/theory/fit.md, inverse maps).
4. **Goodness of fit**: the Kolmogorov distance of the bulk to the fitted law, its
   p-value by the same replicates, a verdict in plain words, and the tail exponent.
5. **Known noise**: the signal's law by free deconvolution, as :class:`~rmtservice.Atoms`.

The module imports numpy and scipy only (no web or client layer).
"""

from rmtservice.fit._api import (
    DEFAULT_BOOTSTRAP,
    MAX_RANK_SHARE,
    MIN_REPLICATES,
    MIN_VALUES,
    Bulk,
    Fit,
    FitOutlier,
    GoodnessOfFit,
    Interval,
    Verdict,
    fit,
)
from rmtservice.fit._tail import TailFit

__all__ = [
    "DEFAULT_BOOTSTRAP",
    "MAX_RANK_SHARE",
    "MIN_REPLICATES",
    "MIN_VALUES",
    "Bulk",
    "Fit",
    "FitOutlier",
    "GoodnessOfFit",
    "Interval",
    "TailFit",
    "Verdict",
    "fit",
]

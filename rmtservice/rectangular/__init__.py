"""The rectangular model ``Y = S + X``: singular values of a signal plus noise
(docs/theory/rectangular.md).

``nu`` is the law of the ``min(n, p)`` singular values of S, ``c = p / n`` the aspect ratio,
the noise entries have variance ``sigma2 / n``. :func:`support`, :func:`density`,
:func:`stieltjes` and :func:`cdf` describe the limit law of the singular values of
``S + X``; :func:`outliers` and :func:`inverse` the singular values of S that separate from
the bulk; :func:`simulate` draws ``S + X`` and compares it with the theory.
"""

from rmtservice.rectangular.laws import Squared, squared
from rmtservice.rectangular.limit import (
    BoundaryValues,
    Model,
    StieltjesResult,
    Support,
    boundary_values,
    cdf,
    density,
    kolmogorov_distance,
    model,
    poles_at_zero,
    stieltjes,
    support,
)
from rmtservice.rectangular.outliers import (
    InverseResult,
    Outlier,
    OutlierReport,
    inverse,
    outliers,
    phi,
)
from rmtservice.rectangular.simulate import SimulatedOutlier, Simulation, noise_matrix, simulate

__all__ = [
    "BoundaryValues",
    "InverseResult",
    "Model",
    "Outlier",
    "OutlierReport",
    "SimulatedOutlier",
    "Simulation",
    "Squared",
    "StieltjesResult",
    "Support",
    "boundary_values",
    "cdf",
    "density",
    "inverse",
    "kolmogorov_distance",
    "model",
    "noise_matrix",
    "outliers",
    "phi",
    "poles_at_zero",
    "simulate",
    "squared",
    "stieltjes",
    "support",
]

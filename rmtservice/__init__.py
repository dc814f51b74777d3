"""rmtservice: spectra of large deformed Wigner matrices ``M = H + W``.

The numeric core is stateless and pure: measures (the law ``nu`` of H), Pastur's
equation through subordination, the exact density and support of the limit, the
outliers, and Monte Carlo simulation. See MATH.md for the conventions.
"""

from rmtservice.density import BoundaryValues, Support, boundary_values, density, grid, support
from rmtservice.errors import (
    DeadlineExceeded,
    InvalidParameter,
    LimitExceeded,
    NoConvergence,
    RMTError,
)
from rmtservice.measures import (
    Atoms,
    MarchenkoPastur,
    Measure,
    Mixture,
    Point,
    Semicircle,
    Uniform,
    from_matrix,
)
from rmtservice.outliers import (
    InverseResult,
    Outlier,
    OutlierReport,
    inverse,
    outliers,
    phi,
    phi_prime,
    pushforward_density,
)
from rmtservice.simulate import NOISE_LAWS, SimulatedOutlier, Simulation, simulate
from rmtservice.subordination import StieltjesResult, stieltjes

__version__ = "0.1.0"

__all__ = [
    "NOISE_LAWS",
    "Atoms",
    "BoundaryValues",
    "DeadlineExceeded",
    "InvalidParameter",
    "InverseResult",
    "LimitExceeded",
    "MarchenkoPastur",
    "Measure",
    "Mixture",
    "NoConvergence",
    "Outlier",
    "OutlierReport",
    "Point",
    "RMTError",
    "Semicircle",
    "SimulatedOutlier",
    "Simulation",
    "StieltjesResult",
    "Support",
    "Uniform",
    "__version__",
    "boundary_values",
    "density",
    "from_matrix",
    "grid",
    "inverse",
    "outliers",
    "phi",
    "phi_prime",
    "pushforward_density",
    "simulate",
    "stieltjes",
    "support",
]

"""rmtservice: spectra of large deformed Wigner matrices ``M = H + W``.

The numeric core is stateless and pure: measures (the law ``nu`` of H), Pastur's
equation through subordination, the exact density and support of the limit, the
outliers, and Monte Carlo simulation. See docs/theory for the conventions.

The names below are loaded on first use (PEP 562, as scipy does), so that
``import rmtservice.client`` costs httpx and pydantic only, not the numeric core.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from rmtservice.noise import Noise
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
    from rmtservice.simulate import SimulatedOutlier, Simulation, simulate
    from rmtservice.subordination import StieltjesResult, stieltjes
    from rmtservice.vocabulary import NOISE_LAWS

__version__ = "0.1.0"

#: public name -> the module that defines it
_LAZY = {
    **dict.fromkeys(
        ["BoundaryValues", "Support", "boundary_values", "density", "grid", "support"],
        "density",
    ),
    **dict.fromkeys(
        ["DeadlineExceeded", "InvalidParameter", "LimitExceeded", "NoConvergence", "RMTError"],
        "errors",
    ),
    **dict.fromkeys(
        [
            "Atoms",
            "MarchenkoPastur",
            "Measure",
            "Mixture",
            "Point",
            "Semicircle",
            "Uniform",
            "from_matrix",
        ],
        "measures",
    ),
    "Noise": "noise",
    **dict.fromkeys(
        [
            "InverseResult",
            "Outlier",
            "OutlierReport",
            "inverse",
            "outliers",
            "phi",
            "phi_prime",
            "pushforward_density",
        ],
        "outliers",
    ),
    **dict.fromkeys(["SimulatedOutlier", "Simulation", "simulate"], "simulate"),
    **dict.fromkeys(["StieltjesResult", "stieltjes"], "subordination"),
    "NOISE_LAWS": "vocabulary",
}

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
    "Noise",
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


assert set(__all__) == {*_LAZY, "__version__"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rmtservice' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"rmtservice.{module}"), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


class _Package(types.ModuleType):
    """The package, whose functions ``density``, ``outliers`` and ``simulate`` are not
    hidden by the submodules of the same name when those are imported (the import
    system binds a submodule on its package)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

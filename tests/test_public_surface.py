"""The public surface, pinned (as httpx does): a name added or removed is a decision
made here, in review, not an accident of a refactoring."""

from __future__ import annotations

import rmtservice
import rmtservice.client

CORE = [
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
SDK = ["AsyncClient", "Client", "DenoisedArray", "LocalClient", "ServiceError"]


def test_core_exports() -> None:
    assert rmtservice.__all__ == CORE
    for name in CORE:
        assert getattr(rmtservice, name) is not None, name
    # the functions are not hidden by their submodules of the same name
    assert callable(rmtservice.density) and callable(rmtservice.simulate)


def test_sdk_exports() -> None:
    assert rmtservice.client.__all__ == SDK
    for name in SDK:
        assert isinstance(getattr(rmtservice.client, name), type), name

"""Schemathesis over every operation of the live app (ASGI, in process), bounded.

Fixed seed (derandomized), 25 examples per operation, small limits so that a generated
simulation stays cheap; checks: no 5xx, documented status codes, content types and
response schemas.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.main import create_app  # noqa: E402
from app.settings import Settings  # noqa: E402

from ._support import serve  # noqa: E402

pytestmark = pytest.mark.slow

APP = create_app(
    Settings(
        executor="thread",
        access_log=False,
        log_level="ERROR",
        max_n=120,
        max_eigenvector_n=120,
        max_trials=2,
        max_atoms=2_000,
        max_matrix_rows=40,
        max_grid_points=400,
        max_z_points=400,
        max_spikes=50,
        deadline_seconds=5.0,
        # sweeps: one local Dask worker, tiny sweeps
        dask_workers=1,
        max_sweep_n=60,
        max_sweep_tasks=6,
        max_active_sweeps=2,
    )
)
APP.state.ready = True  # the schema's own client runs no lifespan; threads need no warm-up
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module", autouse=True)
def _stop_sweeps() -> Iterator[None]:
    """The local Dask cluster that generated sweeps started goes with this module."""
    yield
    APP.state.sweeps.close()


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)


@pytest.mark.anyio
async def test_bottom_without_top() -> None:
    """Found by schemathesis (was a 500): with ``bottom`` and no ``top`` the trials hold
    no top eigenvalues, so the comparison block has no full spectrum to compare."""
    async with serve() as client:
        body = {"measure": {"kind": "point", "at": 0}, "noise": {"sigma2": 0.25}, "n": 4}
        r = await client.post("/v1/simulate", json=body | {"bottom": 1})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["eigenvalues"] == [[]]
    assert len(out["bottom_eigenvalues"][0]) == 1
    assert out["comparison"]["kolmogorov"] is None


@pytest.mark.anyio
async def test_degenerate_law_and_noise_are_refused_not_500() -> None:
    """Found by schemathesis (was a 500): MP ratio 5e-324 with sigma2 5e-324."""
    async with serve() as client:
        body = {
            "measure": {"kind": "marchenko_pastur", "ratio": 5e-324},
            "n": 1,
            "noise": {"sigma2": 5e-324},
        }
        r = await client.post("/v1/simulate", json=body)
    assert r.status_code == 422, r.text
    assert "too small to resolve" in r.json()["detail"]

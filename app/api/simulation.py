"""Monte Carlo spectra of ``H + W``, compared with the theory."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Body, Request

from app.api import examples
from app.api.openapi import COMPUTE_PROBLEMS
from app.http.body import StrictJSONRoute
from app.runtime.compute import job
from rmtservice.wire import service
from rmtservice.wire.schemas import SimulateRequest, SimulateResponse

router = APIRouter(route_class=StrictJSONRoute)


@router.post(
    "/v1/simulate",
    tags=["simulation"],
    summary="Simulate the spectrum of H + W",
    description=(
        "Eigenvalues of `M = H + W` for `trials` independent draws of the Wigner noise `W` "
        "(law `noise.distribution`, variance `sigma2/n` off the diagonal, `2 sigma2/n` on "
        "it). `H` is diagonal with the `n` midpoint quantiles of the measure (or its own "
        "atoms when it has exactly `n` equal ones); `spikes` replace its extreme "
        "eigenvalues. Each trial's eigenvalues come in descending order (only the `top` "
        "largest if asked). Each spike's predicted outlier `phi(spike)` is compared with the "
        "eigenvalue of the same rank, averaged over trials. The same `seed` and request "
        "give the same eigenvalues; without a seed one is drawn and returned."
    ),
    responses={**examples.SIMULATE_RESPONSES, **COMPUTE_PROBLEMS},
)
async def simulate(
    request: Request,
    body: Annotated[SimulateRequest, Body(openapi_examples=examples.SIMULATE_REQUESTS)],
    run: job,
) -> SimulateResponse:
    workers = request.app.state.settings.trial_workers
    return await run(partial(service.simulate, workers=workers), body)

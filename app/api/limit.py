"""The limiting spectrum: Stieltjes transform, density, support; outliers and inverse map.

Each endpoint is glue: the validated request goes to its function in :mod:`rmtservice.wire.service`,
which runs in a compute worker, or in the server process when it is small
(:mod:`app.runtime.compute`), and returns the response model. All but stieltjes start from a
prepared limit, the measure and its support, which a cache may hold (``cached=True``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from app.api import examples
from app.api.openapi import COMPUTE_PROBLEMS
from app.http.body import StrictJSONRoute
from app.runtime.compute import job
from rmtservice.wire import service
from rmtservice.wire.schemas import (
    DensityRequest,
    DensityResponse,
    InverseRequest,
    InverseResponse,
    OutliersRequest,
    OutliersResponse,
    StieltjesRequest,
    StieltjesResponse,
    SupportRequest,
    SupportResponse,
)

router = APIRouter(route_class=StrictJSONRoute)


@router.post(
    "/v1/stieltjes",
    tags=["limit"],
    summary="Stieltjes transform of the limit",
    description=(
        "`f(z) = integral mu(dt)/(t - z)` of the limiting spectral distribution `mu` of "
        "`H + W`, the solution of Pastur's equation `f(z) = f_nu(z + sigma2 f(z))`, and the "
        "subordination `omega(z) = z + sigma2 f(z)`. Points with `im > 0` are in the upper "
        "half-plane; `im == 0` gives the boundary value `f(x + i0)` (exact, no smoothing)."
    ),
    responses={**examples.STIELTJES_RESPONSES, **COMPUTE_PROBLEMS},
)
async def stieltjes(
    body: Annotated[StieltjesRequest, Body(openapi_examples=examples.STIELTJES_REQUESTS)],
    run: job,
) -> StieltjesResponse:
    return await run(service.stieltjes, body)


@router.post(
    "/v1/density",
    tags=["limit"],
    summary="Density of the limit",
    description=(
        "The exact density `rho(x) = Im f(x + i0) / pi` of the limit (Biane's "
        "parametrisation: no `x + i eta` smoothing, also at edges and cusps), at the points "
        "`x`, on `grid`, or, given neither, on an automatic grid of about `num` points that "
        "contains both edges of every support component. Also returns the support and the "
        "limit's mean `mean(nu)` and variance `var(nu) + sigma2`."
    ),
    responses={**examples.DENSITY_RESPONSES, **COMPUTE_PROBLEMS},
)
async def density(
    body: Annotated[DensityRequest, Body(openapi_examples=examples.DENSITY_REQUESTS)],
    run: job,
) -> DensityResponse:
    return await run(service.density, body, cached=True)


@router.post(
    "/v1/support",
    tags=["limit"],
    summary="Support of the limit",
    description=(
        "The connected components `[lower, upper]` of the support of the limit, in "
        "increasing order, each with its mass, found from the critical points of "
        "`phi(u) = u - sigma2 f_nu(u)` (no grid is scanned)."
    ),
    responses={**examples.SUPPORT_RESPONSES, **COMPUTE_PROBLEMS},
)
async def support(
    body: Annotated[SupportRequest, Body(openapi_examples=examples.SUPPORT_REQUESTS)],
    run: job,
) -> SupportResponse:
    return await run(service.support, body, cached=True)


@router.post(
    "/v1/outliers",
    tags=["outliers"],
    summary="Outliers produced by spikes",
    description=(
        "For each spike `theta` (an eigenvalue of `H` away from the bulk), in the order "
        "given: whether it separates from the bulk, the limit `location = phi(theta)` of its "
        "outlier (null if not separated), `slope = phi'(theta)` (null on the support of nu) "
        "and the limiting squared eigenvector `overlap` (null if not separated). Also the "
        "support and the detection `thresholds`: spikes below `lower` or above `upper` separate."
    ),
    responses={**examples.OUTLIERS_RESPONSES, **COMPUTE_PROBLEMS},
)
async def outliers(
    body: Annotated[OutliersRequest, Body(openapi_examples=examples.OUTLIERS_REQUESTS)],
    run: job,
) -> OutliersResponse:
    return await run(service.outliers, body, cached=True)


@router.post(
    "/v1/outliers/inverse",
    tags=["outliers"],
    summary="Spikes behind observed outliers",
    description=(
        "For each observed outlier `y`, the spike `theta = omega(y)`, the solution of "
        "`phi(theta) = y` with `phi'(theta) > 0`; null when `y` is inside the support of the "
        "limit (no spike explains it)."
    ),
    responses={**examples.INVERSE_RESPONSES, **COMPUTE_PROBLEMS},
)
async def inverse(
    body: Annotated[InverseRequest, Body(openapi_examples=examples.INVERSE_REQUESTS)],
    run: job,
) -> InverseResponse:
    return await run(service.inverse, body, cached=True)

"""The rectangular model ``Y = S + X`` (n x p): singular values of a signal plus noise.

Each endpoint is glue, as in :mod:`app.api.limit`: the validated request goes to its
function in :mod:`rmtservice.wire.rectangular_service`, run inline when small, else in
a compute worker, under the limits of :mod:`app.runtime.limits`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from app.api import examples
from app.api.openapi import COMPUTE_PROBLEMS
from app.http.body import StrictJSONRoute
from app.runtime.compute import job
from rmtservice.wire import rectangular_service as service
from rmtservice.wire.rectangular import (
    RectangularDensityRequest,
    RectangularDensityResponse,
    RectangularInverseRequest,
    RectangularInverseResponse,
    RectangularOutliersRequest,
    RectangularOutliersResponse,
    RectangularSimulateRequest,
    RectangularSimulateResponse,
    RectangularStieltjesRequest,
    RectangularStieltjesResponse,
    RectangularSupportRequest,
    RectangularSupportResponse,
)

router = APIRouter(route_class=StrictJSONRoute, tags=["rectangular"])

MODEL = (
    "`Y = S + X` is `n x p` with aspect ratio `c = p/n` (`aspect_ratio`, or the shape of a "
    "`matrix` measure); `X` has independent entries of variance `sigma2/n`; `measure` is "
    "the law of the `min(n, p)` singular values of `S`, on `[0, inf)`. "
)


@router.post(
    "/v1/rectangular/stieltjes",
    summary="Stieltjes transform of the rectangular limit",
    description=MODEL
    + "`m(z) = integral F(dt)/(t - z)` of the limit law `F` of `Y^T Y` (p x p), the "
    "solution of the Dozier-Silverstein equation, `m_companion(z)` of `Y Y^T` (n x n), "
    "and the subordination `w(z)`. `im > 0`: the upper half-plane; `im == 0`: the "
    "boundary value `m(x + i0)` (exact, no smoothing). At `z = 0` the transform whose law "
    "has an atom there (`Y^T Y` when p > n, `Y Y^T` when n > p) is null and named in "
    "`poles_at_zero`; the other is its finite value (Marchenko-Pastur, n > p: `m(0) = "
    "1/(sigma2 (1 - c))`). `z = 0` is refused only where both have a pole (c = 1 with the "
    "support reaching 0).",
    responses={**examples.RECT_STIELTJES_RESPONSES, **COMPUTE_PROBLEMS},
)
async def stieltjes(
    body: Annotated[
        RectangularStieltjesRequest, Body(openapi_examples=examples.RECT_STIELTJES_REQUESTS)
    ],
    run: job,
) -> RectangularStieltjesResponse:
    return await run(service.rectangular_stieltjes, body)


@router.post(
    "/v1/rectangular/density",
    summary="Density of the singular values of S + X",
    description=MODEL
    + "The exact density of the limit law of the singular values of `Y` (per `min(n, p)` "
    "of them: it integrates to 1), from the boundary values of the subordination "
    "equation, at the points `x`, on `grid`, or, given neither, on an automatic grid of "
    "about `num` points containing every edge. Also the support, the atoms at 0 of the "
    "laws of `Y^T Y` and `Y Y^T` (`1 - n/p` when p > n, `1 - p/n` when n > p: zero "
    "eigenvalues that are not singular values) and the mean of `s^2`.",
    responses={**examples.RECT_DENSITY_RESPONSES, **COMPUTE_PROBLEMS},
)
async def density(
    body: Annotated[
        RectangularDensityRequest, Body(openapi_examples=examples.RECT_DENSITY_REQUESTS)
    ],
    run: job,
) -> RectangularDensityResponse:
    return await run(service.rectangular_density, body)


@router.post(
    "/v1/rectangular/support",
    summary="Support of the singular values of S + X",
    description=MODEL
    + "The components `[lower, upper]` of the support of the singular values' limit law, "
    "with their masses, from the critical points of the real map `Phi` (no grid is "
    "scanned); whether the singular values stay away from 0; the atoms at 0 of the laws "
    "of `Y^T Y` and `Y Y^T`; the detection thresholds for singular values of `S`.",
    responses={**examples.RECT_SUPPORT_RESPONSES, **COMPUTE_PROBLEMS},
)
async def support(
    body: Annotated[
        RectangularSupportRequest, Body(openapi_examples=examples.RECT_SUPPORT_REQUESTS)
    ],
    run: job,
) -> RectangularSupportResponse:
    return await run(service.rectangular_support, body)


@router.post(
    "/v1/rectangular/outliers",
    summary="Outlier singular values produced by spikes of S",
    description=MODEL
    + "For each singular value `theta` of `S` in `spikes`, in order: whether it separates "
    "from the bulk (`Phi'(theta^2) > 0` on a valid branch), the limit "
    "`location = sqrt(Phi(theta^2))` of its outlier singular value (null if not), "
    "`slope = Phi'(theta^2)`, and the limiting squared overlaps of its left (in R^n) and "
    "right (in R^p) singular vectors with those of `S` (null if not separated). "
    "`threshold`: spikes above it separate.",
    responses={**examples.RECT_OUTLIERS_RESPONSES, **COMPUTE_PROBLEMS},
)
async def outliers(
    body: Annotated[
        RectangularOutliersRequest, Body(openapi_examples=examples.RECT_OUTLIERS_REQUESTS)
    ],
    run: job,
) -> RectangularOutliersResponse:
    return await run(service.rectangular_outliers, body)


@router.post(
    "/v1/rectangular/outliers/inverse",
    summary="Singular values of S behind observed outliers",
    description=MODEL
    + "For each observed singular value `y`, the `theta` with `Phi(theta^2) = y^2` and "
    "`Phi' > 0`; null when `y` is inside the support (or no `theta >= 0` explains it).",
    responses={**examples.RECT_INVERSE_RESPONSES, **COMPUTE_PROBLEMS},
)
async def inverse(
    body: Annotated[
        RectangularInverseRequest, Body(openapi_examples=examples.RECT_INVERSE_REQUESTS)
    ],
    run: job,
) -> RectangularInverseResponse:
    return await run(service.rectangular_inverse, body)


@router.post(
    "/v1/rectangular/simulate",
    summary="Simulate the singular values of S + X",
    description="Singular values of `Y = S + X` (`rows x cols`) for `trials` independent "
    "draws of `X` (law `noise.distribution`, variance `sigma2/rows`). `S` is rectangular "
    "diagonal with the `min(rows, cols)` midpoint quantiles of the law (`spikes` replace "
    "its largest), or a `matrix` measure as it is. Each trial's singular values come in "
    "descending order (only the `top` largest if asked: Lanczos on the Gram matrix when "
    "few of many). Each spike's predicted outlier `sqrt(Phi(spike^2))` is compared with "
    "the singular value of the same rank, averaged over trials; full spectra also with "
    "the Kolmogorov distance to the limit. The same `seed` and request give the same "
    "values; without a seed one is drawn and returned. A size whose SVD cannot finish "
    "before the deadline is refused (503) before it starts.",
    responses={**examples.RECT_SIMULATE_RESPONSES, **COMPUTE_PROBLEMS},
)
async def simulate(
    body: Annotated[
        RectangularSimulateRequest, Body(openapi_examples=examples.RECT_SIMULATE_REQUESTS)
    ],
    run: job,
) -> RectangularSimulateResponse:
    return await run(service.rectangular_simulate, body)

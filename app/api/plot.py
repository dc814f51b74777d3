"""Pictures: the limit against simulation, as PNG or SVG."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Body, Request, Response

from app.api.openapi import COMPUTE_PROBLEMS
from app.http.body import StrictJSONRoute
from app.runtime.compute import job
from rmtservice.vocabulary import IMAGE_MEDIA_TYPES
from rmtservice.wire import service
from rmtservice.wire.schemas import PlotRequest

router = APIRouter(route_class=StrictJSONRoute)

_MEDIA = IMAGE_MEDIA_TYPES

PLOT_REQUESTS = {
    "spiked_uniform": {
        "summary": "Uniform bulk, three spikes, a simulation of n = 800",
        "value": {
            "measure": {"kind": "uniform", "low": -1.0, "high": 1.0},
            "noise": {"sigma2": 0.25},
            "spikes": [3.0, 2.0, -2.5],
            "simulate": {"n": 800, "seed": 1, "trials": 1},
            "format": "png",
        },
    },
}


def _format(body: PlotRequest, request: Request) -> str:
    if body.format is not None:
        return body.format
    accept = request.headers.get("accept", "")
    return "svg" if "image/svg+xml" in accept and "image/png" not in accept else "png"


@router.post(
    "/v1/plot",
    tags=["pictures"],
    summary="Picture of the spectrum",
    description=(
        "A picture (about 1000 x 600 px) of the limit's exact density with its support "
        "shaded, the detection thresholds and the predicted outliers `phi(spike)` marked "
        "and, with `simulate: {n, seed, trials}`, a histogram of simulated eigenvalues of "
        "`H + W` with the observed outliers, on one axis; with `observed`, a histogram of "
        "an observed spectrum (eigenvalues; singular values with `model: rectangular`) "
        "with the bulk edges, finite-n thresholds and outliers of its fit at `sigma2`; "
        "the law and `sigma2` in the title. PNG or SVG (`format`, else the `Accept` "
        "header; default PNG). The same request gives the same bytes (without a seed the "
        "simulation uses seed 0)."
    ),
    response_class=Response,
    responses={
        200: {
            "description": "The picture",
            "content": {
                "image/png": {"schema": {"type": "string", "format": "binary"}},
                "image/svg+xml": {"schema": {"type": "string"}},
            },
        },
        **COMPUTE_PROBLEMS,
    },
)
async def plot(
    request: Request,
    body: Annotated[PlotRequest, Body(openapi_examples=PLOT_REQUESTS)],
    run: job,
) -> Response:
    fmt = _format(body, request)
    image = await run(partial(service.plot, fmt=fmt), body)
    return Response(content=image, media_type=_MEDIA[fmt])

"""Monte Carlo sweeps over the matrix size, run as tasks on Dask."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request, Response

from app.api.openapi import problem_responses
from app.http.body import StrictJSONRoute
from app.runtime import sweeps
from app.runtime.compute import context_of
from rmtservice.vocabulary import IMAGE_MEDIA_TYPES, JSON_MEDIA_TYPE
from rmtservice.wire import service
from rmtservice.wire.schemas import SweepRequest, SweepResponse

router = APIRouter(route_class=StrictJSONRoute, tags=["sweeps"])

SweepId = Annotated[
    str, Path(pattern="^[0-9a-f]{32}$", description="the id that POST /v1/sweeps returned")
]
_MEDIA = IMAGE_MEDIA_TYPES

#: a real answer (uniform bulk, spikes 3 and 2, sigma2 = 1), figures rounded
SWEEP_DONE: dict[str, Any] = {
    "id": "e40f266ab81f47778f62c6c329ed58bf",
    "state": "done",
    "progress": {"done": 12, "failed": 0, "total": 12},
    "created": "2026-11-29T10:27:18.362116+00:00",
    "finished": "2026-11-29T10:27:19.812481+00:00",
    "seed": 1,
    "error": None,
    "request": {
        "measure": {"kind": "uniform", "low": -1.0, "high": 1.0},
        "noise": {"sigma2": 1.0, "distribution": "gaussian", "df": None, "density": None},
        "sizes": [200, 400, 800],
        "trials": 4,
        "spikes": [3.0, 2.0],
        "seed": 1,
    },
    "sizes": [
        {
            "n": 200,
            "trials": 4,
            "outlier_error": {"mean": 0.103274, "std": 0.0422727, "stderr": 0.0211363, "count": 4},
            "edge_error": {"mean": 0.0571682, "std": 0.0223585, "stderr": 0.0111792, "count": 4},
            "kolmogorov": {"mean": 0.0156266, "std": 0.00211199, "stderr": 0.00105599, "count": 4},
            "edge_bias": -0.0417703,
            "seconds": 0.0615645,
        },
        {
            "n": 400,
            "trials": 4,
            "outlier_error": {"mean": 0.0904452, "std": 0.0584883, "stderr": 0.0292442, "count": 4},
            "edge_error": {"mean": 0.0453913, "std": 0.0128279, "stderr": 0.00641393, "count": 4},
            "kolmogorov": {
                "mean": 0.00788228,
                "std": 0.000917408,
                "stderr": 0.000458704,
                "count": 4,
            },
            "edge_bias": -0.0453913,
            "seconds": 0.100975,
        },
        {
            "n": 800,
            "trials": 4,
            "outlier_error": {"mean": 0.0674262, "std": 0.030117, "stderr": 0.0150585, "count": 4},
            "edge_error": {"mean": 0.0218844, "std": 0.0115156, "stderr": 0.0057578, "count": 4},
            "kolmogorov": {"mean": 0.0042082, "std": 0.000605201, "stderr": 0.0003026, "count": 4},
            "edge_bias": -0.0194767,
            "seconds": 0.928299,
        },
    ],
    "fits": {
        "outlier_error": {
            "rate": -0.30755,
            "intercept": -0.614025,
            "rate_stderr": 0.0670798,
            "sizes": 3,
            "reference": -0.5,
        },
        "edge_error": {
            "rate": -0.692656,
            "intercept": 0.891299,
            "rate_stderr": 0.207764,
            "sizes": 3,
            "reference": -0.666667,
        },
        "kolmogorov": {
            "rate": -0.946364,
            "intercept": 0.845894,
            "rate_stderr": 0.0236448,
            "sizes": 3,
            "reference": -1.0,
        },
    },
    "trials": None,
}
SWEEP_QUEUED: dict[str, Any] = {
    "id": "e40f266ab81f47778f62c6c329ed58bf",
    "state": "queued",
    "progress": {"done": 0, "failed": 0, "total": 12},
    "created": "2026-11-29T10:27:18.362116+00:00",
    "finished": None,
    "seed": 1,
    "error": None,
    "request": {
        "measure": {"kind": "uniform", "low": -1.0, "high": 1.0},
        "noise": {"sigma2": 1.0, "distribution": "gaussian", "df": None, "density": None},
        "sizes": [200, 400, 800],
        "trials": 4,
        "spikes": [3.0, 2.0],
        "seed": 1,
    },
    "sizes": [],
    "fits": {"outlier_error": None, "edge_error": None, "kolmogorov": None},
    "trials": None,
}


def _example(summary: str, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "content": {JSON_MEDIA_TYPE: {"examples": {"sweep": {"summary": summary, "value": value}}}}
    }


SWEEP_REQUESTS = {
    "paper_appendix": {
        "summary": "Uniform bulk with two spikes, n = 200 to 1000, 4 trials each",
        "value": {
            "measure": {"kind": "uniform", "low": -1.0, "high": 1.0},
            "noise": {"sigma2": 1.0},
            "sizes": [200, 400, 600, 800, 1000],
            "trials": 4,
            "spikes": [3.0, 2.0],
            "seed": 1,
        },
    },
}


@router.post(
    "/v1/sweeps",
    status_code=202,
    summary="Start a sweep over the matrix size",
    description=(
        "Queues one task per `(n, trial)`: a draw of `H + W` of size `n` (as in "
        "/v1/simulate), its outlier error `max |lambda - phi(spike)|` over separated "
        "spikes, the error of the bulk's right edge, and its Kolmogorov distance to "
        "`mu`. Tasks run on Dask (`RMT_DASK_SCHEDULER`, else a local cluster); each "
        "task's seed is a function of the sweep's seed, `n` and the trial, so results do "
        "not depend on scheduling. Answers 202 with the sweep's id (also in `Location`); "
        "follow it with GET /v1/sweeps/{id}."
    ),
    response_model=SweepResponse,
    responses={
        202: {
            "description": "Accepted: the sweep's state",
            "headers": {
                "Location": {"description": "the sweep's URL", "schema": {"type": "string"}}
            },
            **_example("Queued", SWEEP_QUEUED),
        },
        **problem_responses(400, 413, 415, 422, 503),
    },
)
async def start(
    request: Request,
    response: Response,
    body: Annotated[SweepRequest, Body(openapi_examples=SWEEP_REQUESTS)],
) -> SweepResponse:
    holder: sweeps.Sweeps = request.app.state.sweeps
    sweeps.check(body, holder.settings)
    plan, echo = service.sweep_plan(body)
    meta = {"request": echo.model_dump(mode="json")}
    status = await holder.call(lambda store: store.submit(plan, meta))
    response.headers["Location"] = f"/v1/sweeps/{status.id}"
    return service.sweep_response(status)


@router.get(
    "/v1/sweeps/{sweep_id}",
    summary="A sweep's state, progress and results so far",
    description=(
        "`state` is queued, running, done, failed or cancelled; `progress` counts tasks. "
        "`sizes` holds per-size statistics of the tasks finished so far and `fits` the "
        "fitted rate of each error against `n` (with its standard error, beside the "
        "rate the theory leads one to expect). `trials=true` adds every finished task. "
        "Any replica sharing the Dask scheduler answers."
    ),
    responses={200: _example("Done", SWEEP_DONE), **problem_responses(404, 503)},
)
async def status(
    request: Request,
    sweep_id: SweepId,
    trials: Annotated[bool, Query(description="include every finished task")] = False,
) -> SweepResponse:
    found = await request.app.state.sweeps.call(lambda store: store.status(sweep_id))
    return service.sweep_response(found, trials=trials)


@router.post(
    "/v1/sweeps/{sweep_id}/cancel",
    summary="Cancel a sweep",
    description=(
        "Stops the tasks not finished yet and keeps the results of those that are "
        "(state `cancelled`). Cancelling a sweep that has ended changes nothing."
    ),
    responses={
        200: _example("Cancelled", SWEEP_DONE | {"state": "cancelled"}),
        **problem_responses(404, 503),
    },
)
async def cancel(request: Request, sweep_id: SweepId) -> SweepResponse:
    found = await request.app.state.sweeps.call(lambda store: store.cancel(sweep_id))
    return service.sweep_response(found)


@router.get(
    "/v1/sweeps/{sweep_id}/plot",
    summary="Picture of a sweep",
    description=(
        "Per-size means (with standard errors) of the three errors against `n` on "
        "log-log axes, the fitted rates and the reference rates; PNG or SVG."
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
        **problem_responses(404, 503),
    },
)
async def plot(
    request: Request,
    sweep_id: SweepId,
    format: Annotated[Literal["png", "svg"], Query(description="picture format")] = "png",
) -> Response:
    found = await request.app.state.sweeps.call(lambda store: store.status(sweep_id))
    compute = request.app.state.compute
    picture = partial(service.sweep_plot, fmt=format)
    image = await compute.run(picture, found, context_of(request))
    return Response(content=image, media_type=_MEDIA[format])

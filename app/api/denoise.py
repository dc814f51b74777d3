"""Denoising a matrix: JSON entries or an uploaded weight file in, JSON or ``.npy`` out.

The body is read here, not by FastAPI: a JSON body (``application/json``) is parsed
strictly (:func:`app.http.body.strict_loads`) and validated as
:class:`~rmtservice.wire.denoise.DenoiseRequest`; any other body is an upload (a ``.npy``,
``.npz`` or ``.safetensors`` file, told by its first bytes) with the options as query
parameters. Uploads have their own size limit, ``max_upload_bytes``
(:class:`app.http.middleware.BodySizeLimit` counts them as they stream in).
"""

from __future__ import annotations

import email.message
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from app.api.openapi import COMPUTE_PROBLEMS
from app.http.body import OFF_LOOP_BYTES, is_json, strict_loads
from app.problems import UnsupportedMediaType
from app.runtime.compute import job
from rmtservice.errors import InvalidParameter
from rmtservice.vocabulary import JSON_MEDIA_TYPE, MAX_SEED
from rmtservice.wire import denoise as wire
from rmtservice.wire.denoise import (
    MAX_SIGMA2,
    UPLOAD_MEDIA_TYPES,
    DenoiseJob,
    DenoiseMethod,
    DenoiseModel,
    DenoiseOptions,
    DenoiseOutput,
    DenoiseRequest,
    DenoiseResponse,
)

__all__ = ["UPLOAD_PATHS", "router"]

router = APIRouter()

#: the paths whose non-JSON bodies are uploads (``max_upload_bytes``)
UPLOAD_PATHS = frozenset({"/v1/denoise", "/v1/analyze"})
NPY_MEDIA_TYPE = "application/octet-stream"
BINARY = {"schema": {"type": "string", "format": "binary"}}

DENOISE_EXAMPLES = {
    "spiked": {
        "summary": "A 12 x 10 matrix, noise level known",
        "value": {
            "matrix": {
                "entries": [
                    [
                        (3.0 if i == j == 0 else 0.0) + 0.1 * ((i * 7 + j * 3) % 5 - 2)
                        for j in range(10)
                    ]
                    for i in range(12)
                ]
            },
            "sigma2": 0.1,
            "method": "auto",
            "output": "values",
        },
    },
}


DENOISE_RESPONSES = {
    "spiked": {
        "summary": "Not noise plus spikes: the rotation-invariant estimator (abridged)",
        "value": {
            "fit": {
                "model": "rectangular",
                "shape": {"rows": 12, "cols": 10},
                "sigma2": 0.1,
                "sigma2_interval": [0.1, 0.1],
                "sigma2_interval_method": "given",
                "center": 0.0,
                "bulk": {"lower": 0.02755, "upper": 0.6049},
                "spike_threshold": 0.3021,
                "edge_threshold": 0.6655,
                "lower_edge_threshold": None,
                "alpha": 0.01,
                "outliers": [],
                "rank": 0,
                "goodness_of_fit": {
                    "ks": 0.5,
                    "p_value": 6.2e-07,
                    "replicates": 50,
                    "bulk_values": 10,
                },
                "verdict": {"noise_plus_spikes": False, "message": "Not noise plus spikes: ..."},
                "tail": {"exponent": 1.777, "x_min": 0.2172, "count": 5, "ks": 0.2},
                "seed": 1,
            },
            "model": "rectangular",
            "shape": {"rows": 12, "cols": 10},
            "method": "rie",
            "reason": "the signal is not low rank (the data hold 0.208 standard deviations "
            "more energy than the noise plus the 3 value(s) beyond its edge taken as spikes): "
            "the rotation-invariant estimator is predicted to give 0.127 against 0.217 for "
            "optimal shrinkage, 0.227 for the optimal hard threshold, 0.227 for pruning to "
            "the bulk edge; pruning to the edge is worse than doing nothing (0.166)",
            "sigma2": 0.1,
            "centre": 0.0,
            "noise_bulk": False,
            "values": [2.794, 0.7716, 0.6175, 0.4063, 0.3184, 0.0, 0.0, 0.0, 0.0, 0.0],
            "observed": [2.859, 0.9366, 0.7827, 0.5629, 0.4661, 0.0, 0.0, 0.0, 0.0, 0.0],
            "rank": 5,
            "ranks": {"none": 5, "hard": 3, "optimal_hard": 3, "shrink": 3, "rie": 5},
            "predicted_error": {
                "none": 0.1662,
                "hard": 0.2271,
                "optimal_hard": 0.2271,
                "shrink": 0.217,
                "rie": 0.1273,
            },
            "factors": None,
            "matrix": None,
            "tensor": None,
        },
    }
}


REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "The matrix: JSON `{matrix: {entries}, ...}`, or a `.npy` file "
        "(application/octet-stream), a `.safetensors` or `.npz` file (with the query "
        "parameter `name` for a file of several matrices; the format is told by the first "
        "bytes), up to `max_upload_bytes` (GET /v1/info). With a file, the options are "
        "query parameters; with JSON, in the body or the query (not both).",
        "content": {
            JSON_MEDIA_TYPE: {
                "schema": {"$ref": "#/components/schemas/DenoiseRequest"},
                "examples": DENOISE_EXAMPLES,
            },
            **{media: BINARY for media in UPLOAD_MEDIA_TYPES},
        },
    }
}
NPY_HEADERS = {
    name: {"description": text, "schema": {"type": kind}}
    for name, text, kind in (
        ("X-Denoise-Method", "the method used", "string"),
        ("X-Denoise-Rank", "new values that differ from the centre", "integer"),
        ("X-Denoise-Sigma2", "the noise level used", "number"),
        ("X-Denoise-Predicted-Error", "the method's predicted relative error", "number"),
    )
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The fit, the method used and why, new values, predicted errors; "
        "with `Accept: application/octet-stream` the denoised matrix as a .npy file "
        "(float64) and the method, rank, sigma2 and predicted error in headers",
        "content": {
            JSON_MEDIA_TYPE: {"examples": DENOISE_RESPONSES},
            NPY_MEDIA_TYPE: {**BINARY, "example": "(the bytes of a .npy file)"},
        },
        "headers": NPY_HEADERS,
    },
    **COMPUTE_PROBLEMS,
}


def media_type(request: Request) -> str | None:
    """The request's media type, without parameters (None: no Content-Type)."""
    ctype = request.headers.get("content-type")
    if not ctype:
        return None
    message = email.message.Message()
    message["content-type"] = ctype
    return message.get_content_type()


def _wants_npy(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return NPY_MEDIA_TYPE in accept and JSON_MEDIA_TYPE not in accept


def _validated(value: Any, query: dict[str, Any]) -> DenoiseJob:
    """A JSON body with the query's options, validated, as a job."""
    if isinstance(value, dict):
        for key in query:
            if key in value:
                raise InvalidParameter(
                    f"{key} is given both in the query and in the body; give it once",
                    field=f"query.{key}",
                )
        value = {**value, **query}
    try:
        req = DenoiseRequest.model_validate(value)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors, body=value) from None
    return DenoiseJob.from_request(req)


def _from_json(body: bytes, request: Request, query: dict[str, Any]) -> DenoiseJob:
    settings = request.app.state.settings
    return _validated(strict_loads(body, settings.max_json_depth, settings.max_json_items), query)


async def read_job(request: Request, query: dict[str, Any]) -> DenoiseJob:
    """The job of a request: its body (JSON or a file) and the query's options."""
    body = await request.body()
    media = media_type(request)
    name = query.pop("name", None)
    if is_json(request.headers.get("content-type")):
        if name is not None:
            raise InvalidParameter(
                "name chooses a tensor of an uploaded file; a JSON body holds its matrix",
                field="query.name",
            )
        if len(body) > OFF_LOOP_BYTES:
            return await anyio.to_thread.run_sync(_from_json, body, request, query)
        return _from_json(body, request, query)
    if media is None and not body:
        raise InvalidParameter(
            'send a matrix: JSON {"matrix": {"entries": [[...]]}} or a .npy, .npz or '
            ".safetensors file",
            field="matrix",
        )
    if media not in UPLOAD_MEDIA_TYPES:
        raise UnsupportedMediaType(
            "send JSON (application/json) or a weight file (" + ", ".join(UPLOAD_MEDIA_TYPES) + ")"
        )
    return DenoiseJob.from_upload(DenoiseOptions.model_validate(query), body, name)


def _json_answer(result: tuple[Any, Any]) -> bytes:
    return DenoiseResponse.from_core(*result).model_dump_json().encode()


def _npy_answer(result: tuple[Any, Any]) -> Response:
    d = result[0]
    headers = {
        "X-Denoise-Method": d.method,
        "X-Denoise-Rank": str(d.rank),
        "X-Denoise-Sigma2": repr(float(d.sigma2)),
        "X-Denoise-Predicted-Error": repr(float(d.predicted_error[d.method])),
    }
    return Response(wire.npy_bytes(d.matrix), media_type=NPY_MEDIA_TYPE, headers=headers)


@router.post(
    "/v1/denoise",
    tags=["denoising"],
    summary="Denoise a matrix",
    description=(
        "Estimate the signal `S` of `Y = S + X` (or `H` of a symmetric `H + W`) by keeping "
        "the observed singular (eigen) vectors and replacing the values "
        "(docs/theory/denoise.md). The spectrum is fitted (the `fit`, as POST /v1/fit); "
        "without `sigma2` the fit's noise level, centre and verdict are used. `auto` "
        "takes the method with the smallest predicted error and says why; "
        "`predicted_error` has every method's, from the model (before any downstream "
        "check). Rows and columns at most `max_denoise_rows` and `max_denoise_cols`; a "
        "matrix whose memory or LAPACK time would pass `memory_budget_bytes` (422) or "
        "`deadline_seconds` (503) is refused before it starts."
    ),
    response_model=DenoiseResponse,
    responses=RESPONSES,
    openapi_extra=REQUEST_BODY,
)
async def denoise(
    request: Request,
    run: job,
    method: Annotated[DenoiseMethod | None, Query(description="default auto")] = None,
    sigma2: Annotated[float | None, Query(gt=0, le=MAX_SIGMA2)] = None,
    output: Annotated[DenoiseOutput | None, Query(description="default values")] = None,
    model: Annotated[DenoiseModel | None, Query()] = None,
    alpha: Annotated[float | None, Query(gt=0, lt=1, description="default 0.01")] = None,
    seed: Annotated[int | None, Query(ge=0, le=MAX_SEED)] = None,
    name: Annotated[str | None, Query(max_length=1000, description="the tensor")] = None,
) -> Response:
    given: dict[str, Any] = {"method": method, "sigma2": sigma2, "output": output}
    given |= {"model": model, "alpha": alpha, "seed": seed, "name": name}
    work = await read_job(request, {k: v for k, v in given.items() if v is not None})
    if _wants_npy(request):
        return _npy_answer(await run(wire.denoise, work.answering_npy()))
    result = await run(wire.denoise, work)
    content = await anyio.to_thread.run_sync(_json_answer, result)
    return Response(content, media_type=JSON_MEDIA_TYPE)

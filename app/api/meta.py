"""Operations: liveness, readiness, version and limits, metrics, problem types."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

import rmtservice as rs
from app.api.openapi import problem_responses
from app.problems import PROBLEM_TYPES, NotFound, NotReady, clip, type_uri
from rmtservice.vocabulary import JSON_MEDIA_TYPE
from rmtservice.wire.schemas import (
    MEASURE_KINDS,
    HealthResponse,
    InfoResponse,
    ProblemTypeInfo,
    ReadyResponse,
)

router = APIRouter(tags=["operations"])

METRICS_EXAMPLE = """\
# TYPE rmt_http_requests_total counter
rmt_http_requests_total{method="POST",route="/v1/density",status="200"} 12
# TYPE rmt_compute_seconds histogram
rmt_compute_seconds_bucket{route="/v1/density",le="0.01"} 9
"""


@router.get(
    "/healthz",
    summary="Liveness",
    description="Answers at once, also while heavy computations run (they run off the event loop).",
    responses={200: {"content": {JSON_MEDIA_TYPE: {"example": {"status": "ok"}}}}},
)
async def healthz() -> HealthResponse:
    return HealthResponse()


@router.get(
    "/readyz",
    summary="Readiness",
    description="200 once the service has started and its compute queue has room; else 503.",
    responses={
        200: {
            "content": {
                JSON_MEDIA_TYPE: {
                    "example": {"status": "ready", "workers": 2, "busy": 0, "waiting": 0}
                }
            }
        },
        **problem_responses(503),
    },
)
async def readyz(request: Request) -> ReadyResponse:
    state = request.app.state
    compute = state.compute
    if not state.ready or compute.full:
        reason = "starting" if not state.ready else f"{compute.waiting} computations wait"
        retry = str(state.settings.retry_after_seconds)
        raise NotReady(f"not ready: {reason}", headers={"Retry-After": retry})
    return ReadyResponse(workers=state.settings.workers, busy=compute.busy, waiting=compute.waiting)


@router.get(
    "/v1/info",
    summary="Version and limits",
    description="The service version, the measure kinds and noise laws it knows, and the "
    "limits configured for this deployment (`RMT_*` environment variables).",
    responses={
        200: {
            "content": {
                JSON_MEDIA_TYPE: {
                    "example": {
                        "service": "rmtservice",
                        "version": "0.1.0",
                        "api_version": "1",
                        "measure_kinds": list(MEASURE_KINDS),
                        "noise_distributions": list(rs.NOISE_LAWS),
                        "limits": {"max_body_bytes": 4194304, "max_atoms": 100000},
                    }
                }
            }
        }
    },
)
async def info(request: Request) -> InfoResponse:
    return InfoResponse(
        version=rs.__version__,
        measure_kinds=list(MEASURE_KINDS),
        noise_distributions=list(rs.NOISE_LAWS),
        limits=request.app.state.settings.limits(),
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Request counts by method, route template and status; latency and compute "
    "time histograms by route; requests in flight; compute workers busy and waiting. "
    "Prometheus text format 0.0.4.",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"example": METRICS_EXAMPLE}}}},
)
async def metrics(request: Request) -> PlainTextResponse:
    text = request.app.state.metrics.render()
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get(
    "/problems/{slug}",
    summary="Problem type",
    description="What a problem `type` (`/problems/{slug}`) means, and its status code.",
    responses={
        200: {
            "content": {
                JSON_MEDIA_TYPE: {
                    "example": {
                        "type": "/problems/limit-exceeded",
                        "title": "Limit exceeded",
                        "status": 422,
                        "description": PROBLEM_TYPES["limit-exceeded"].description,
                    }
                }
            }
        },
        404: problem_responses(404)[404],
    },
)
async def problem_type(slug: str) -> ProblemTypeInfo:
    kind = PROBLEM_TYPES.get(slug)
    if kind is None:
        # the slug is input: echoed clipped, as every input a problem quotes
        known = ", ".join(PROBLEM_TYPES)
        raise NotFound(f"no problem type {clip(repr(slug))}; known: {known}")
    return ProblemTypeInfo(
        type=type_uri(slug), title=kind.title, status=kind.status, description=kind.description
    )

"""Analysing an uploaded model file: every weight matrix fitted, its denoiser recommended."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.api.denoise import BINARY, media_type
from app.api.openapi import COMPUTE_PROBLEMS
from app.problems import UnsupportedMediaType
from app.runtime.compute import job
from rmtservice.errors import InvalidParameter
from rmtservice.wire import analyze as wire
from rmtservice.wire.analyze import AnalyzeJob, AnalyzeMethod, AnalyzeOptions, AnalyzeResponse
from rmtservice.wire.denoise import UPLOAD_MEDIA_TYPES

__all__ = ["router"]

router = APIRouter()

REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A `.safetensors`, `.npz` or `.npy` file of weights (told by its "
        "first bytes), up to `max_upload_bytes` (GET /v1/info).",
        "content": {media: BINARY for media in UPLOAD_MEDIA_TYPES},
    }
}
ANALYZE_RESPONSES = {
    "two_layers": {
        "summary": "A dense layer with three spikes; a bias skipped (abridged)",
        "value": {
            "format": "npz",
            "method": "auto",
            "alpha": 0.01,
            "tensors": [
                {
                    "name": "dense",
                    "shape": [200, 100],
                    "reshaped_from": None,
                    "how": "2-D",
                    "dtype": "float64",
                    "model": "rectangular",
                    "sigma2": 1.0,
                    "bulk": {"lower": 0.293, "upper": 1.707},
                    "edge_threshold": 1.79,
                    "rank": 3,
                    "outliers": [],
                    "energy_kept": 0.9,
                    "goodness_of_fit": {
                        "ks": 0.01,
                        "p_value": None,
                        "replicates": 0,
                        "bulk_values": 97,
                    },
                    "tail_exponent": 3.1,
                    "verdict": {"noise_plus_spikes": True, "message": "Noise plus 3 spikes: ..."},
                    "recommended_method": "shrink",
                    "predicted_error": 0.05,
                    "method": "shrink",
                    "predicted_errors": {
                        "none": 0.9,
                        "hard": 0.08,
                        "optimal_hard": 0.08,
                        "shrink": 0.05,
                        "rie": 0.06,
                    },
                    "reason": "the bulk looks like pure noise ...",
                    "seconds": 0.01,
                }
            ],
            "skipped": [
                {"name": "bias", "shape": [100], "dtype": "float64", "reason": "1-D (a bias)"}
            ],
            "seconds": 0.02,
        },
    }
}


@router.post(
    "/v1/analyze",
    tags=["denoising"],
    summary="Analyse the weight matrices of a model file",
    description=(
        "Every 2-D tensor of the uploaded file (and each convolution kernel `(out, in, "
        "k...)` read as `(out, in * prod(k))`, which `how` says): the fit of its spectrum "
        "(noise level, bulk, outliers, goodness of fit, verdict, tail exponent) and the "
        "denoiser with the smallest predicted error given the verdict, with every method's "
        "predicted error. Biases, norms, integer tensors and matrices with fewer than 10 "
        "singular values are listed in `skipped`. At most `max_analyze_tensors` matrices of "
        "at most `max_denoise_rows` x `max_denoise_cols`; the sum of their LAPACK time must "
        "fit `deadline_seconds` (else 503 before it starts)."
    ),
    response_model=AnalyzeResponse,
    responses={
        200: {"content": {"application/json": {"examples": ANALYZE_RESPONSES}}},
        **COMPUTE_PROBLEMS,
    },
    openapi_extra=REQUEST_BODY,
)
async def analyze(
    request: Request,
    run: job,
    names: Annotated[
        list[str] | None, Query(description="one glob, or exact names (repeated)")
    ] = None,
    method: Annotated[AnalyzeMethod | None, Query(description="default auto")] = None,
    alpha: Annotated[float | None, Query(gt=0, lt=1, description="default 0.01")] = None,
) -> AnalyzeResponse:
    body = await request.body()
    media = media_type(request)
    if media is None and not body:
        raise InvalidParameter("send the weight file as the body", field=None)
    if media not in UPLOAD_MEDIA_TYPES:
        raise UnsupportedMediaType(
            "send the weight file as the body (" + ", ".join(UPLOAD_MEDIA_TYPES) + ")"
        )
    given = {"names": names, "method": method, "alpha": alpha}
    options = AnalyzeOptions.model_validate({k: v for k, v in given.items() if v is not None})
    result = await run(wire.analyze, AnalyzeJob.from_upload(options, body))
    return AnalyzeResponse.from_core(result)

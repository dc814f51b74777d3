"""The OpenAPI document: problem responses, the Problem schema, and export.

Problem responses are documented under ``application/problem+json`` only, with the
:class:`~rmtservice.wire.schemas.Problem` schema and examples; FastAPI's default 422
(``HTTPValidationError``) is replaced by ours.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from app.api.examples import PROBLEMS
from app.settings import Settings
from rmtservice.vocabulary import PROBLEM_MEDIA_TYPE
from rmtservice.wire.denoise import DenoiseRequest
from rmtservice.wire.schemas import Problem

__all__ = ["COMPUTE_PROBLEMS", "build_openapi", "problem_responses"]

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
RETRY_AFTER = {
    "Retry-After": {
        "description": "seconds to wait before retrying",
        "schema": {"type": "integer"},
    }
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Documented problem answers for the given statuses."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        description, examples = PROBLEMS[status]
        entry: dict[str, Any] = {
            "description": description,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF, "examples": examples}},
        }
        if status == 503:
            entry["headers"] = RETRY_AFTER
        out[status] = entry
    return out


COMPUTE_PROBLEMS = problem_responses(400, 413, 415, 422, 503)

UNAUTHORIZED: dict[str, Any] = {
    "description": "No API key, or a wrong one (only where the deployment sets `RMT_API_KEYS`)",
    "headers": {
        "WWW-Authenticate": {
            "description": "the authentication scheme: Bearer",
            "schema": {"type": "string"},
        }
    },
    "content": {
        PROBLEM_MEDIA_TYPE: {
            "schema": PROBLEM_REF,
            "examples": {
                "no_key": {
                    "summary": "No key sent",
                    "value": {
                        "type": "/problems/unauthorized",
                        "title": "Unauthorized",
                        "status": 401,
                        "detail": "this API needs a key: send X-API-Key: <key> or "
                        "Authorization: Bearer <key>",
                        "instance": "/v1/density",
                        "request_id": "0f6c3ab4c2d54c8e9f1b2a7d5e8c9b10",
                    },
                }
            },
        }
    },
}
SECURITY_SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "BearerAuth": {"type": "http", "scheme": "bearer"},
}
#: optional: a deployment without ``RMT_API_KEYS`` needs no key (``{}``)
V1_SECURITY: list[dict[str, list[str]]] = [{}, {"ApiKeyHeader": []}, {"BearerAuth": []}]

DESCRIPTION = """\
Spectra of large deformed Wigner matrices `M = H + W`: Pastur's equation, the exact
limiting density and support, outliers, and Monte Carlo simulation; and the same for the
singular values of rectangular `Y = S + X` (`/v1/rectangular/...`). The theory and this
contract in prose: the repository's docs/ (theory/, http.md), served at `/docs/site/`
when built (`make docs`).

Conventions: `f_mu(z) = integral mu(dt)/(t - z)`; the noise `W` has variance `sigma2/n`
off the diagonal and `2 sigma2/n` on it.

Requests are strict JSON: `false` and `"1"` are not numbers, unknown fields are refused,
and so are `NaN`, `Infinity` and numbers that overflow to infinity. Responses never carry
NaN or infinity: an undefined value is `null`. Every error is `application/problem+json`
(RFC 9457); its `type` resolves under `/problems/{slug}`. Deployment limits are listed by
`GET /v1/info`. A deployment may require an API key on `/v1/*` (`X-API-Key` or
`Authorization: Bearer`; else 401).
"""

LIMITS = """
Limits: what JSON Schema can state of this deployment's limits (`GET /v1/info`) is in
this spec (`maximum`, `maxItems`), and so are the rules between fields it can state
(`if`/`then`, `not`, `contains`); a schema's description names the rules beyond it
(equal lengths, `low < high`, `top <= n`, ...). Beyond JSON Schema too: atoms summed over
a mixture's components at most `max_atoms`, mixtures nested at most
`max_mixture_depth`, a sweep's sizes x trials at most `max_sweep_tasks`, a fit's
`bootstrap` x values^2 at most `max_fit_bootstrap_work` (422 `limit-exceeded`); the
matrices of a simulation within `memory_budget_bytes` (422, or 503 while others hold it);
a simulation whose LAPACK work would pass `deadline_seconds` (503 `deadline-exceeded`);
and numbers double precision cannot handle (a spectrum past 1e150, a noise level below
its rounding: 422 `invalid-parameter`).
"""

#: deployment limits that JSON Schema states: (schema, property, keyword, setting). A
#: property that may be null gets it on its other branch; ``items``: on its items.
SCHEMA_LIMITS = [
    ("AtomsMeasure", "values", "maxItems", "max_atoms"),
    ("AtomsMeasure", "weights", "maxItems", "max_atoms"),
    ("MixtureMeasure", "components", "maxItems", "max_atoms"),
    ("MatrixMeasure", "entries", "maxItems", "max_matrix_rows"),
    ("MatrixMeasure", "entries.items", "maxItems", "max_matrix_rows"),
    ("UpperHalfPlane", "re", "maxItems", "max_z_points"),
    ("UpperHalfPlane", "im", "maxItems", "max_z_points"),
    ("Grid", "num", "maximum", "max_grid_points"),
    ("DensityRequest", "x", "maxItems", "max_grid_points"),
    ("DensityRequest", "num", "maximum", "max_grid_points"),
    ("OutliersRequest", "spikes", "maxItems", "max_spikes"),
    ("InverseRequest", "observed", "maxItems", "max_spikes"),
    ("SimulateRequest", "n", "maximum", "max_n"),
    ("SimulateRequest", "trials", "maximum", "max_trials"),
    ("SimulateRequest", "spikes", "maxItems", "max_spikes"),
    ("SimulateRequest", "spike_count", "maximum", "max_spikes"),
    ("SimulateRequest", "bins", "maximum", "max_grid_points"),
    ("SimulateRequest", "edges", "maxItems", "max_grid_points"),
    ("PlotRequest", "spikes", "maxItems", "max_spikes"),
    ("PlotSimulation", "n", "maximum", "max_n"),
    ("PlotSimulation", "trials", "maximum", "max_trials"),
    ("SingularAtoms", "values", "maxItems", "max_atoms"),
    ("SingularAtoms", "weights", "maxItems", "max_atoms"),
    ("SingularMixture", "components", "maxItems", "max_atoms"),
    ("RectangularMatrix", "entries", "maxItems", "max_matrix_rows"),
    ("RectangularMatrix", "entries.items", "maxItems", "max_matrix_rows"),
    ("SingularGrid", "num", "maximum", "max_grid_points"),
    ("RectangularDensityRequest", "x", "maxItems", "max_grid_points"),
    ("RectangularDensityRequest", "num", "maximum", "max_grid_points"),
    ("RectangularOutliersRequest", "spikes", "maxItems", "max_spikes"),
    ("RectangularInverseRequest", "observed", "maxItems", "max_spikes"),
    ("RectangularSimulateRequest", "rows", "maximum", "max_rect_rows"),
    ("RectangularSimulateRequest", "cols", "maximum", "max_rect_cols"),
    ("RectangularSimulateRequest", "trials", "maximum", "max_trials"),
    ("RectangularSimulateRequest", "spikes", "maxItems", "max_spikes"),
    ("SweepRequest", "sizes.items", "maximum", "max_sweep_n"),
    ("SweepRequest", "trials", "maximum", "max_sweep_tasks"),
    ("SweepRequest", "spikes", "maxItems", "max_spikes"),
    ("MatrixEntries", "entries", "maxItems", "max_denoise_rows"),
    ("MatrixEntries", "entries.items", "maxItems", "max_denoise_cols"),
    ("PlotRequest", "observed", "maxItems", "max_fit_values"),
    ("FitRequest", "eigenvalues", "maxItems", "max_fit_values"),
    ("FitRequest", "singular_values", "maxItems", "max_fit_values"),
    ("FitRequest", "bootstrap", "maximum", "max_bootstrap"),
    ("FitMatrix", "entries", "maxItems", "max_fit_matrix_rows"),
    ("FitMatrix", "entries.items", "maxItems", "max_fit_matrix_rows"),
]
#: request bodies that routes read themselves (JSON or a file): their schemas
BODY_MODELS = (DenoiseRequest,)


def _state_limit(prop: dict[str, Any], path: list[str], keyword: str, value: int) -> None:
    if path:  # into ``items`` (of the non-null branch)
        for branch in prop.get("anyOf", [prop]):
            if path[0] in branch:
                _state_limit(branch[path[0]], path[1:], keyword, value)
        return
    for branch in prop.get("anyOf", [prop]):
        if branch.get("type") != "null":
            branch[keyword] = value


def _state_limits(schemas: dict[str, Any], settings: Settings) -> None:
    """This deployment's limits into the request schemas (``SCHEMA_LIMITS``), and
    ``n <= max_eigenvector_n`` with eigenvectors (rows and cols ``<=
    max_rect_vectors_size`` with a rectangular simulation's vectors)."""
    for schema, field, keyword, setting in SCHEMA_LIMITS:
        name, *path = field.split(".")
        _state_limit(schemas[schema]["properties"][name], path, keyword, getattr(settings, setting))
    with_vectors = {
        "required": ["eigenvectors"],
        "properties": {
            "eigenvectors": {"const": True},
            "n": {"maximum": settings.max_eigenvector_n},
        },
    }
    without = {"properties": {"eigenvectors": {"const": False}}}
    schemas["SimulateRequest"].setdefault("allOf", []).append({"anyOf": [without, with_vectors]})
    size = settings.max_rect_vectors_size
    rect_vectors = {
        "required": ["vectors"],
        "properties": {
            "vectors": {"const": True},
            "rows": {"maximum": size},
            "cols": {"maximum": size},
        },
    }
    rect_without = {"properties": {"vectors": {"const": False}}}
    rect = schemas["RectangularSimulateRequest"].setdefault("allOf", [])
    rect.append({"anyOf": [rect_without, rect_vectors]})


TAGS = [
    {"name": "limit", "description": "The limiting spectrum of `H + W`."},
    {"name": "outliers", "description": "Spikes of `H` and the outliers they produce."},
    {"name": "simulation", "description": "Monte Carlo spectra of `H + W`."},
    {"name": "denoising", "description": "Denoised matrices and weight files."},
    {"name": "fit", "description": "Observed spectra: noise level, bulk edge, outliers, spikes."},
    {
        "name": "rectangular",
        "description": "Singular values of a rectangular `Y = S + X` (docs/theory/rectangular.md).",
    },
    {"name": "operations", "description": "Health, readiness, version, limits, metrics."},
]


def _problems_only(responses: dict[str, Any]) -> None:
    """FastAPI's own error entries (its default 422) become problem+json entries."""
    for status, entry in responses.items():
        content = entry.get("content", {})
        if int(status) >= 400 and PROBLEM_MEDIA_TYPE not in content:
            entry["content"] = {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_REF}}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The spec that ``/openapi.json`` serves (cached on the app)."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=DESCRIPTION + LIMITS,
        routes=app.routes,
        tags=TAGS,
        license_info={"name": "MIT"},
    )
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    problem = Problem.model_json_schema(
        ref_template="#/components/schemas/{model}", mode="serialization"
    )
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    for model in BODY_MODELS:
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(body.pop("$defs", {}))
        schemas[model.__name__] = body
    _state_limits(schemas, app.state.settings)
    spec["components"]["securitySchemes"] = SECURITY_SCHEMES
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            _problems_only(operation["responses"])
            if path.startswith("/v1/"):
                operation["security"] = V1_SECURITY
                responses = operation["responses"]
                responses["401"] = UNAUTHORIZED
                operation["responses"] = dict(sorted(responses.items()))
    app.openapi_schema = spec
    return spec

"""The one place that turns exceptions into RFC 9457 ``application/problem+json``.

=================================  ======  ===========================  =============
exception                          status  ``type``                     extra
=================================  ======  ===========================  =============
malformed JSON, NaN/Infinity       400     /problems/malformed-json
no or wrong API key (``api_keys``)  401     /problems/unauthorized       WWW-Authenticate
body slower than ``body_timeout_seconds``  408  /problems/request-timeout
body over ``max_body_bytes``       413     /problems/body-too-large
body not ``application/json``      415     /problems/unsupported-media-type
request validation (pydantic)      422     /problems/validation-error   ``errors``
core ``InvalidParameter``          422     /problems/invalid-parameter  ``errors``
``LimitExceeded`` (a setting)      422     /problems/limit-exceeded     ``errors``
(also: a simulation over ``memory_budget_bytes`` on its own)
core ``NoConvergence``             422     /problems/no-convergence
core ``DeadlineExceeded``          503     /problems/deadline-exceeded  Retry-After
compute queue or memory budget     503     /problems/overloaded         Retry-After
full (also: too many sweeps)
Dask scheduler unreachable         503     /problems/scheduler-unavailable  Retry-After
unknown path                       404     /problems/not-found
wrong method                       405     /problems/method-not-allowed  Allow
anything else (a bug)              500     /problems/internal-error
=================================  ======  ===========================  =============

A request head (line and headers) slower than ``header_timeout_seconds`` gets the same
408 problem from the server's protocol (:mod:`app.server`), before the app is called;
one over ``max_header_bytes`` a 431 ``/problems/headers-too-large`` from it.

Limits give 422, not 413: the body was read and understood, one of its values is
over a configured limit (413 is kept for the byte size of the body).

Input values a problem echoes (an unknown ``kind`` in pydantic's message, an unknown
field's name in ``loc``/``path``, a duplicate key, the path of a 404) are clipped to
``MAX_ECHO`` characters with an ellipsis (``instance`` keeps the request path whole).

Every problem is answered with ``Cache-Control: no-store`` and the security headers of
:class:`app.middleware.SecurityHeaders`; a 500 carries no exception text, only the
request id of the log line that has the traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from rmtservice.errors import (
    DeadlineExceeded,
    InvalidParameter,
    LimitExceeded,
    NoConvergence,
    RMTError,
)
from rmtservice.schemas import MEASURE_KINDS, Problem, ProblemFieldError

__all__ = [
    "PROBLEM_TYPES",
    "BodyTooLarge",
    "HTTPProblem",
    "MalformedJSON",
    "NotFound",
    "NotReady",
    "Overloaded",
    "ProblemResponse",
    "Unauthorized",
    "UnsupportedMediaType",
    "clip",
    "install",
    "internal_error",
    "problem_response",
]

logger = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
MAX_FIELD_ERRORS = 50
#: characters of an input value (a string, a key, a path) echoed in a problem, at most
MAX_ECHO = 100


@dataclass(frozen=True)
class ProblemType:
    status: int
    title: str
    description: str


PROBLEM_TYPES: dict[str, ProblemType] = {
    "malformed-json": ProblemType(
        400,
        "Malformed JSON",
        "The body is not valid JSON (RFC 8259). NaN and Infinity are not JSON and are refused.",
    ),
    "unauthorized": ProblemType(
        401,
        "Unauthorized",
        "This deployment requires an API key: send it in X-API-Key or as "
        "Authorization: Bearer <key>.",
    ),
    "request-timeout": ProblemType(
        408,
        "Request timeout",
        "The request did not arrive in time: its line and headers within "
        "header_timeout_seconds, or its body within body_timeout_seconds.",
    ),
    "headers-too-large": ProblemType(
        431,
        "Request header fields too large",
        "The request line and headers are larger than the configured max_header_bytes.",
    ),
    "body-too-large": ProblemType(
        413, "Request body too large", "The body is larger than the configured max_body_bytes."
    ),
    "unsupported-media-type": ProblemType(
        415, "Unsupported media type", "Request bodies must be sent as application/json."
    ),
    "validation-error": ProblemType(
        422,
        "Invalid request",
        "The JSON does not match the request schema: `errors` lists each offending field.",
    ),
    "invalid-parameter": ProblemType(
        422, "Invalid parameter", "A value is outside the mathematical domain of the model."
    ),
    "limit-exceeded": ProblemType(
        422, "Limit exceeded", "A size is over a limit configured for this service (/v1/info)."
    ),
    "no-convergence": ProblemType(
        422,
        "No convergence",
        "A solver did not reach a residual at rounding level for this input.",
    ),
    "rmt-error": ProblemType(422, "Computation error", "The computation refused the input."),
    "deadline-exceeded": ProblemType(
        503,
        "Deadline exceeded",
        "The computation ran past the per-request deadline; retry later or ask for less.",
    ),
    "overloaded": ProblemType(
        503,
        "Service overloaded",
        "Too many computations are waiting, or the simulations in flight hold the memory "
        "budget; retry later.",
    ),
    "not-ready": ProblemType(503, "Not ready", "The service is starting or overloaded."),
    "scheduler-unavailable": ProblemType(
        503,
        "Scheduler unavailable",
        "The Dask scheduler that runs sweeps cannot be reached; retry later.",
    ),
    "not-found": ProblemType(404, "Not found", "No resource at this path."),
    "method-not-allowed": ProblemType(
        405, "Method not allowed", "The path exists but not with this method (see Allow)."
    ),
    "internal-error": ProblemType(
        500, "Internal server error", "An unexpected error; it was logged with the request id."
    ),
}

_RMT_SLUGS: tuple[tuple[type[RMTError], str], ...] = (
    (DeadlineExceeded, "deadline-exceeded"),
    (LimitExceeded, "limit-exceeded"),
    (NoConvergence, "no-convergence"),
    (InvalidParameter, "invalid-parameter"),
)
#: core field names that live below the request's top level
_CORE_FIELDS = {
    "sigma2": "noise.sigma2",
    "distribution": "noise.distribution",
    "df": "noise.df",
    "density": "noise.density",
}


def clip(text: str, limit: int = MAX_ECHO) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut: input echoed in
    a problem (a tag, a key, a path) must not grow the answer with the request."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def type_uri(slug: str) -> str:
    """The ``type`` member: a relative URI that ``GET`` resolves to the description."""
    return f"/problems/{slug}"


class HTTPProblem(Exception):
    """An HTTP-level problem raised by the web layer (not by the core)."""

    slug = "internal-error"

    def __init__(
        self,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        errors: list[ProblemFieldError] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})
        self.errors = errors


class MalformedJSON(HTTPProblem):
    slug = "malformed-json"


class UnsupportedMediaType(HTTPProblem):
    slug = "unsupported-media-type"


class RequestTimeout(HTTPProblem):
    slug = "request-timeout"


class BodyTooLarge(HTTPProblem):
    slug = "body-too-large"


class Overloaded(HTTPProblem):
    slug = "overloaded"


class NotReady(HTTPProblem):
    slug = "not-ready"


class NotFound(HTTPProblem):
    slug = "not-found"


class Unauthorized(HTTPProblem):
    slug = "unauthorized"


class ProblemResponse(JSONResponse):
    """``application/problem+json``; ASCII-escaped, so any input text encodes safely."""

    media_type = MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False).encode("ascii")


def problem_response(
    scope: Scope,
    slug: str,
    detail: str,
    *,
    status: int | None = None,
    title: str | None = None,
    errors: list[ProblemFieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> ProblemResponse:
    """Build the problem response for ``slug`` (status and title from its type)."""
    kind = PROBLEM_TYPES.get(slug)
    status = status or (kind.status if kind else 500)
    context = scope.get("rmt.context")
    problem = Problem(
        type=type_uri(slug) if kind else "about:blank",
        title=title or (kind.title if kind else HTTPStatus(status).phrase),
        status=status,
        detail=detail,
        instance=scope.get("path", ""),
        request_id=getattr(context, "request_id", None),
        errors=errors,
    )
    body = problem.model_dump(mode="json", exclude_none=True)
    return ProblemResponse(body, status_code=status, headers=headers)


def internal_error(scope: Scope) -> ProblemResponse:
    """The 500 answer: no internals, only the request id to find the log line."""
    return problem_response(
        scope, "internal-error", "An unexpected error occurred; it has been logged."
    )


# ------------------------------------------------------------------ field paths


#: fields whose value is a measure (a union tagged by ``kind``)
_MEASURE_FIELDS = ("measure", "spike_law")


def _clean_loc(loc: Sequence[Any]) -> list[str | int]:
    """Drop pydantic's discriminator tags (``measure.atoms.values`` -> ``measure.values``,
    ``spike_law.uniform`` -> ``spike_law``); clip long keys (an unknown field's name is
    input)."""
    out: list[str | int] = []
    for part in loc:
        if part in MEASURE_KINDS and out and out[-1] in _MEASURE_FIELDS:
            continue
        out.append(part if isinstance(part, int) else clip(str(part)))
    return out


def _clip_echoes(message: str, error: Mapping[str, Any]) -> str:
    """Pydantic's message with the long input strings it quotes (the input itself, or a
    value of its context, e.g. an unknown ``kind``) clipped."""
    values = [error.get("input"), *(error.get("ctx") or {}).values()]
    for value in values:
        if isinstance(value, str) and len(value) > MAX_ECHO:
            message = message.replace(value, clip(value))
    return message


def _pointer(loc: Sequence[str | int]) -> str:
    """JSON Pointer (RFC 6901) into the body for a ``loc`` that starts with ``body``."""
    parts = list(loc[1:]) if loc and loc[0] == "body" else list(loc)
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def field_error(loc: Sequence[Any], message: str, kind: str) -> ProblemFieldError:
    clean = _clean_loc(loc)
    return ProblemFieldError(loc=clean, path=_pointer(clean), message=message, type=kind)


def _dotted_loc(field: str) -> list[str | int]:
    field = _CORE_FIELDS.get(field, field)
    return ["body", *(int(p) if p.isdigit() else p for p in field.split("."))]


def _describe(errors: list[ProblemFieldError], total: int) -> str:
    shown = "; ".join(f"{e.path or '(body)'}: {e.message}" for e in errors[:3])
    more = f" (and {total - 3} more)" if total > 3 else ""
    noun = "error" if total == 1 else "errors"
    return f"{total} validation {noun}: {shown}{more}"


# --------------------------------------------------------------------- handlers


def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    if raw and raw[0].get("type") == "json_invalid":
        msg = (raw[0].get("ctx") or {}).get("error", "invalid JSON")
        return problem_response(request.scope, "malformed-json", f"malformed JSON: {msg}")
    errors = [
        field_error(e.get("loc", ()), _clip_echoes(str(e.get("msg", "")), e), str(e.get("type")))
        for e in raw
    ]
    return problem_response(
        request.scope,
        "validation-error",
        _describe(errors, len(errors)),
        errors=errors[:MAX_FIELD_ERRORS],
    )


def _rmt(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RMTError)
    slug = next((s for cls, s in _RMT_SLUGS if isinstance(exc, cls)), exc.slug)
    headers = {}
    if PROBLEM_TYPES.get(slug, PROBLEM_TYPES["rmt-error"]).status == 503:
        headers["Retry-After"] = str(request.app.state.settings.retry_after_seconds)
    errors = None
    if exc.field is not None and slug != "deadline-exceeded":
        errors = [field_error(_dotted_loc(exc.field), exc.message, slug)]
    slug = slug if slug in PROBLEM_TYPES else "rmt-error"
    return problem_response(request.scope, slug, exc.message, errors=errors, headers=headers)


def _http_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPProblem)
    return problem_response(
        request.scope, exc.slug, exc.detail, errors=exc.errors, headers=exc.headers
    )


def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    path = clip(request.url.path)
    if exc.status_code == 404:
        detail = f"no resource at {path}; see /docs for the endpoints"
        return problem_response(request.scope, "not-found", detail, headers=headers)
    if exc.status_code == 405:
        allow = headers.get("Allow", "")
        detail = f"{clip(request.method)} is not allowed on {path}; allowed: {allow}"
        return problem_response(request.scope, "method-not-allowed", detail, headers=headers)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem_response(request.scope, "", detail, status=exc.status_code, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers (the 500 path is in :mod:`app.middleware`)."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(RMTError, _rmt)
    app.add_exception_handler(HTTPProblem, _http_problem)
    app.add_exception_handler(StarletteHTTPException, _http)

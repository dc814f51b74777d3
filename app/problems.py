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
408 problem from the server's protocol (:mod:`app.http.server`), before the app is called;
one over ``max_header_bytes`` a 431 ``/problems/headers-too-large`` from it.

Limits give 422, not 413: the body was read and understood, one of its values is
over a configured limit (413 is kept for the byte size of the body).

Input values a problem echoes (an unknown ``kind`` in pydantic's message, an unknown
field's name in ``loc``/``path``, a duplicate key, the path of a 404) are clipped to
``MAX_ECHO`` characters with an ellipsis (``instance`` keeps the request path whole).

Every problem is answered with ``Cache-Control: no-store`` and the security headers of
:class:`app.http.middleware.SecurityHeaders`; a 500 carries no exception text, only the
request id of the log line that has the traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from rmtservice.errors import (
    MAX_ECHO,
    MAX_FIELD_ERRORS,
    PROBLEM_TYPES,
    ProblemType,
    RMTError,
    clip,
    core_problem,
    type_uri,
    validation_problem,
)
from rmtservice.vocabulary import PROBLEM_MEDIA_TYPE
from rmtservice.wire.schemas import MEASURE_KINDS, Problem, ProblemFieldError

__all__ = [
    "MAX_ECHO",
    "MAX_FIELD_ERRORS",
    "PROBLEM_TYPES",
    "BodyTooLarge",
    "HTTPProblem",
    "MalformedJSON",
    "NotFound",
    "NotReady",
    "Overloaded",
    "ProblemResponse",
    "ProblemType",
    "Unauthorized",
    "UnsupportedMediaType",
    "clip",
    "install",
    "internal_error",
    "problem_response",
    "type_uri",
]

logger = logging.getLogger(__name__)

MEDIA_TYPE = PROBLEM_MEDIA_TYPE


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


# --------------------------------------------------------------------- handlers


def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    raw = list(exc.errors())
    if raw and raw[0].get("type") == "json_invalid":
        msg = (raw[0].get("ctx") or {}).get("error", "invalid JSON")
        return problem_response(request.scope, "malformed-json", f"malformed JSON: {msg}")
    return _from_table(request, validation_problem(raw, MEASURE_KINDS))


def _rmt(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RMTError)
    body = core_problem(exc)
    headers = {}
    if body["status"] == 503:
        headers["Retry-After"] = str(request.app.state.settings.retry_after_seconds)
    return _from_table(request, body, headers)


def _from_table(
    request: Request, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    """The response of a problem built by :mod:`rmtservice.errors` (shared with the SDK)."""
    slug = body["type"].removeprefix("/problems/")
    errors = body.get("errors")
    fields = None if errors is None else [ProblemFieldError(**e) for e in errors]
    return problem_response(request.scope, slug, body["detail"], errors=fields, headers=headers)


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
    """Register the handlers (the 500 path is in :mod:`app.http.middleware`)."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(RMTError, _rmt)
    app.add_exception_handler(HTTPProblem, _http_problem)
    app.add_exception_handler(StarletteHTTPException, _http)

"""Pure ASGI middleware: security headers, request context (id, timing, metrics, access
log), API keys and body size.

Both are plain ASGI callables, not ``BaseHTTPMiddleware``: they see every message,
add no task per request, and can refuse a body while it streams in.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import time

import anyio
from pydantic import SecretStr
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.body import is_json
from app.problems import BodyTooLarge, RequestTimeout, internal_error, problem_response
from app.runtime.compute import RequestContext
from app.runtime.metrics import Metrics

__all__ = [
    "ApiKeyAuth",
    "BodySizeLimit",
    "BodyTimeout",
    "RequestContextMiddleware",
    "SecurityHeaders",
]

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("app.access")

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


def _request_id(scope: Scope) -> str:
    """The client's X-Request-ID when it is short and printable, else a fresh one."""
    given = Headers(scope=scope).get("x-request-id", "")
    # 32 random hex digits, like uuid4().hex, without building a UUID
    return given if _REQUEST_ID.fullmatch(given) else os.urandom(16).hex()


class RequestContextMiddleware:
    """Request id (accepted or generated, echoed), Server-Timing, metrics, access log.

    It also turns an unexpected exception into a logged 500 problem: it sits inside
    Starlette's outermost error middleware, so the 500 still carries the request id.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, *, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = RequestContext(request_id=_request_id(scope))
        scope["rmt.context"] = context
        start = time.perf_counter()
        status = 500
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = context.request_id
                total = (time.perf_counter() - start) * 1000
                compute = context.compute_seconds * 1000
                headers["Server-Timing"] = (
                    f'compute;dur={compute:.3f};desc="numeric core", total;dur={total:.3f}'
                )
            await send(message)

        self.metrics.started()
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            logger.exception("unhandled error, request id %s", context.request_id)
            if started:
                raise
            await internal_error(scope)(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", "<unmatched>")
            self.metrics.finished(scope["method"], route, status, elapsed)
            if self.access_log:
                access_logger.info(
                    '%s "%s %s" %d %.1fms request_id=%s',
                    (scope.get("client") or ("-",))[0],
                    scope["method"],
                    scope["path"],
                    status,
                    elapsed * 1000,
                    context.request_id,
                )


class BodySizeLimit:
    """Refuse bodies over ``max_bytes`` with 413, without reading them whole.

    A ``Content-Length`` over the limit is refused before any body is read; a chunked
    (or lying) body is counted as it streams and refused as soon as it passes the limit.
    On ``upload_paths``, a body that is not JSON (a weight file) has its own limit,
    ``upload_bytes``.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        *,
        upload_bytes: int | None = None,
        upload_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = max_bytes if upload_bytes is None else upload_bytes
        self.upload_paths = upload_paths

    def _limit(self, scope: Scope, headers: Headers) -> tuple[int, str]:
        """The limit of this request's body, and how a refusal words it."""
        ctype = headers.get("content-type")
        if scope["path"] in self.upload_paths and ctype and not is_json(ctype):
            return self.upload_bytes, "uploaded file"
        return self.max_bytes, "request body"

    def _too_large(self, what: str, size: str, limit: int) -> BodyTooLarge:
        setting = " (max_upload_bytes in /v1/info)" if what == "uploaded file" else ""
        return BodyTooLarge(f"the {what} is {size}; the limit is {limit} bytes{setting}")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit, what = self._limit(scope, headers)
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            exc = self._too_large(what, f"{int(declared)} bytes", limit)
            await problem_response(scope, exc.slug, exc.detail)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise self._too_large(what, f"more than {limit} bytes", limit)
            return message

        await _run_or_refuse(self.app, scope, receive, send, counting_receive, BodyTooLarge)


async def _run_or_refuse(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    wrapped: Receive,
    error: type[BodyTooLarge] | type[RequestTimeout],
    headers: dict[str, str] | None = None,
) -> None:
    """Run ``app`` reading the body through ``wrapped``; when it raises ``error`` before
    an answer has started, answer its problem instead (after, the error goes on up)."""
    started = False

    async def tracking_send(message: Message) -> None:
        nonlocal started
        started = started or message["type"] == "http.response.start"
        await send(message)

    try:
        await app(scope, wrapped, tracking_send)
    except error as exc:
        if started:
            raise
        response = problem_response(scope, exc.slug, exc.detail, headers=headers)
        await response(scope, receive, tracking_send)


class BodyTimeout:
    """Refuse with 408 a body that is not complete ``seconds`` after the app is called.

    Neither uvicorn nor gunicorn bounds the time a client takes to send a body (uvicorn's
    ``--timeout-keep-alive`` is for idle connections): a client that sends the headers and
    half a body, then stalls, would hold its connection and request for ever. Once the
    body is complete, ``receive`` is passed through unchanged (waiting for a disconnect).
    """

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline = time.monotonic() + self.seconds
        complete = False

        async def timed_receive() -> Message:
            nonlocal complete
            if complete:
                return await receive()
            try:
                with anyio.fail_after(max(deadline - time.monotonic(), 0.0)):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(
                    f"the request body did not arrive within {self.seconds:g} s"
                ) from None
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await _run_or_refuse(
            self.app, scope, receive, send, timed_receive, RequestTimeout, {"Connection": "close"}
        )


#: on every answer; a Content-Security-Policy only where the route set none (the docs
#: pages set their own), so JSON, problems, pictures and static files get ``'none'``
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'"


class SecurityHeaders:
    """Security headers on every response, errors included; ``no-store`` on errors."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_secure(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                if "content-security-policy" not in headers:
                    headers["Content-Security-Policy"] = DEFAULT_CSP
                if message["status"] >= 400:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_secure)


#: paths under which every request needs a key (the rest stays open: probes, metrics,
#: docs, the spec, static files, problem descriptions)
PROTECTED_PREFIX = "/v1/"
WWW_AUTHENTICATE = 'Bearer realm="rmtservice"'


def _key_matches(given: str, keys: list[bytes]) -> bool:
    """Constant time in the key compared (each key is compared, no early exit)."""
    candidate = given.encode("latin-1", errors="replace")
    found = False
    for key in keys:
        found |= hmac.compare_digest(candidate, key)
    return found


class ApiKeyAuth:
    """With ``api_keys`` set, ``/v1/*`` needs ``X-API-Key: <key>`` or
    ``Authorization: Bearer <key>``, else 401 ``unauthorized`` with WWW-Authenticate."""

    def __init__(self, app: ASGIApp, keys: list[SecretStr]) -> None:
        self.app = app
        self.keys = [k.get_secret_value().encode("utf-8") for k in keys]

    def _given(self, scope: Scope) -> str | None:
        headers = Headers(scope=scope)
        key = headers.get("x-api-key")
        if key is not None:
            return key.strip()
        scheme, _, token = headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not self.keys
            or not scope["path"].startswith(PROTECTED_PREFIX)
        ):
            await self.app(scope, receive, send)
            return
        given = self._given(scope)
        if given is not None and _key_matches(given, self.keys):
            await self.app(scope, receive, send)
            return
        detail = (
            "this API needs a key: send X-API-Key: <key> or Authorization: Bearer <key>"
            if given is None
            else "the API key is not valid"
        )
        response = problem_response(
            scope, "unauthorized", detail, headers={"WWW-Authenticate": WWW_AUTHENTICATE}
        )
        await response(scope, receive, send)

"""The HTTP server's part against slow clients: a deadline for the head of each request.

uvicorn has no timeout for a request's head (request line and headers): its keep-alive
timeout is restarted by every byte, and starts only after a first response, so a client
that opens a connection and sends nothing, or trickles a header a byte at a time, holds
the connection for ever (Slowloris); enough of them exhaust the process's connections.
ASGI middleware cannot help: the app is called once the head is complete. (The body is
the app's business: :class:`app.middleware.BodyTimeout` answers 408 to a stalled body.)

:class:`HeadDeadlineProtocol` is uvicorn's httptools protocol with one timer: armed
when a connection opens and when a response ends (the next request's head), disarmed
when a head is complete. On expiry the connection is closed, after a 408 problem if part
of a head had arrived (a connection that sent nothing is closed silently, as an idle
keep-alive connection is). The limit is ``header_timeout_seconds`` (``RMT_HEADER_TIMEOUT_SECONDS``).

Used by ``make serve`` (``uvicorn --http app.server:HeadDeadlineProtocol``) and by the
image's gunicorn (``--worker-class app.server.UvicornWorker``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn_worker import UvicornWorker as _UvicornWorker

from app.middleware import SECURITY_HEADERS
from app.problems import MEDIA_TYPE, PROBLEM_TYPES, type_uri
from app.settings import Settings

__all__ = ["HeadDeadlineProtocol", "UvicornWorker", "head_timeout"]

logger = logging.getLogger(__name__)


@functools.cache
def head_timeout() -> float:
    """``header_timeout_seconds`` of this process's settings (read once)."""
    return Settings().header_timeout_seconds


def _timeout_response(seconds: float) -> bytes:
    kind = PROBLEM_TYPES["request-timeout"]
    body = json.dumps(
        {
            "type": type_uri("request-timeout"),
            "title": kind.title,
            "status": kind.status,
            "detail": f"the request line and headers did not arrive within {seconds:g} s",
        }
    ).encode()
    head = [
        b"HTTP/1.1 408 Request Timeout",
        f"content-type: {MEDIA_TYPE}".encode(),
        f"content-length: {len(body)}".encode(),
        b"cache-control: no-store",
        b"connection: close",
        *(f"{name}: {value}".encode() for name, value in SECURITY_HEADERS.items()),
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


class HeadDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline for each request's head."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_started = False

    def _arm(self) -> None:
        self._disarm()
        self._head_started = False
        self._head_timer = self.loop.call_later(head_timeout(), self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_started:
            seconds = head_timeout()
            logger.info("request head not complete after %g s: 408, connection closed", seconds)
            self.transport.write(_timeout_response(seconds))
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._head_timer is not None and data:
            self._head_started = True
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # a pipelined request whose head is complete already starts at once: no deadline
        pipelined = bool(self.pipeline)
        super().on_response_complete()
        if not pipelined and not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


class UvicornWorker(_UvicornWorker):
    """gunicorn's uvicorn worker with :class:`HeadDeadlineProtocol`."""

    CONFIG_KWARGS: ClassVar[dict[str, Any]] = {
        **_UvicornWorker.CONFIG_KWARGS,
        "http": HeadDeadlineProtocol,
    }

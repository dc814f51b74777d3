"""The HTTP server's part against slow or greedy clients: a deadline and a size limit
for the head of each request.

uvicorn has no timeout for a request's head (request line and headers): its keep-alive
timeout is restarted by every byte, and starts only after a first response, so a client
that opens a connection and sends nothing, or trickles a header a byte at a time, holds
the connection for ever (Slowloris); enough of them exhaust the process's connections.
Nor has it a limit on the head's size: httptools buffers a header until it ends, so
six heads of 48 MB took the process from 110 to 423 MB and stalled ``/healthz`` 4 s.
ASGI middleware cannot help: the app is called once the head is complete. (The body is
the app's business: :class:`app.http.middleware.BodyTimeout` answers 408 to a stalled body,
:class:`app.http.middleware.BodySizeLimit` 413 to a large one.)

:class:`HeadDeadlineProtocol` is uvicorn's httptools protocol with one timer: armed
when a connection opens and when a response ends (the next request's head), disarmed
when a head is complete. On expiry the connection is closed, after a 408 problem if part
of a head had arrived (a connection that sent nothing is closed silently, as an idle
keep-alive connection is). The limit is ``header_timeout_seconds`` (``RMT_HEADER_TIMEOUT_SECONDS``).
It also counts the bytes of each head as they are fed to the parser, from the end of the
previous message: past ``max_header_bytes`` (``RMT_MAX_HEADER_BYTES``, default 64 KiB)
without a complete head, it answers a 431 problem and closes the connection; the parser
never holds more than that of a head.

Used by ``make serve`` (``uvicorn --http app.http.server:HeadDeadlineProtocol``) and by the
image's gunicorn (``--worker-class app.http.server.UvicornWorker``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from http import HTTPStatus
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn_worker import UvicornWorker as _UvicornWorker

from app.http.middleware import SECURITY_HEADERS
from app.problems import MEDIA_TYPE, PROBLEM_TYPES, type_uri
from app.settings import Settings

__all__ = ["HeadDeadlineProtocol", "UvicornWorker", "head_limit", "head_timeout"]

logger = logging.getLogger(__name__)


#: how long, and how much of what still comes, a connection refused for its head's size
#: reads and drops before it closes
LINGER_SECONDS = 2.0
LINGER_BYTES = 1024 * 1024


@functools.cache
def _settings() -> Settings:
    """This process's settings (read once, for every connection)."""
    return Settings()


def head_timeout() -> float:
    """``header_timeout_seconds`` of this process's settings."""
    return _settings().header_timeout_seconds


def head_limit() -> int:
    """``max_header_bytes`` of this process's settings."""
    return _settings().max_header_bytes


def _problem_response(slug: str, detail: str) -> bytes:
    """A whole HTTP/1.1 answer with a problem body, that closes the connection."""
    kind = PROBLEM_TYPES[slug]
    body = json.dumps(
        {"type": type_uri(slug), "title": kind.title, "status": kind.status, "detail": detail}
    ).encode()
    head = [
        f"HTTP/1.1 {kind.status} {HTTPStatus(kind.status).phrase}".encode(),
        f"content-type: {MEDIA_TYPE}".encode(),
        f"content-length: {len(body)}".encode(),
        b"cache-control: no-store",
        b"connection: close",
        *(f"{name}: {value}".encode() for name, value in SECURITY_HEADERS.items()),
    ]
    return b"\r\n".join(head) + b"\r\n\r\n" + body


def _timeout_response(seconds: float) -> bytes:
    detail = f"the request line and headers did not arrive within {seconds:g} s"
    return _problem_response("request-timeout", detail)


def _too_large_response(limit: int) -> bytes:
    detail = f"the request line and headers are over {limit} bytes (max_header_bytes)"
    return _problem_response("headers-too-large", detail)


class HeadDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline and a size limit for each
    request's head."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_started = False
        # bytes the head being parsed may still take; None: a body is being parsed
        self._head_room: int | None = head_limit()
        self._refused = False
        self._dropped = 0

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
        if self._refused:
            self._dropped += len(data)
            if self._dropped > LINGER_BYTES:
                self.transport.close()
            return
        if self._head_timer is not None and data:
            self._head_started = True
        # Within a head, the parser is fed no more than the head may still take: if
        # that does not complete it, the head is too large. (The bytes of a head that
        # starts after a body in the same chunk count from the next chunk: at most one
        # read, 256 KiB, more.)
        while self._head_room is not None and len(data) > self._head_room:
            part, data = data[: self._head_room], data[self._head_room :]
            self._head_room = 0
            super().data_received(part)
            if self.transport.is_closing():
                return
            if self._head_room is not None:  # still in the same head
                self._too_large()
                return
        if self._head_room is not None:
            self._head_room -= len(data)
        if data:
            super().data_received(data)

    def _too_large(self) -> None:
        limit = head_limit()
        logger.info("request head over %d bytes: 431, connection closed", limit)
        self._disarm()
        self._refused = True
        self.transport.write(_too_large_response(limit))
        # Closed at once, with the client still sending, the socket would be reset and
        # the answer lost: the write side is shut after the answer, and what still comes
        # is read and dropped for a while, up to a megabyte (a lingering close, as nginx
        # does).
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._head_room = None
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_room = head_limit()  # the next request's head starts

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

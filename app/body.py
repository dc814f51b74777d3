"""Strict JSON request bodies.

Python's ``json`` module accepts ``NaN``, ``Infinity`` and ``-Infinity``, recurses once
per nesting level, and turns ``1e999`` into ``inf``. Here a body is parsed by
:func:`strict_loads`, which

- refuses a body nested deeper than a valid request can be (before parsing, so a
  body of ten thousand ``[`` costs one linear scan, not a ``RecursionError``),
- refuses the three non-JSON constants (400, malformed JSON),
- refuses an object with a key given twice (400, malformed JSON; keys are compared
  after decoding escapes, so ``"a"`` and ``"\\u0061"`` are the same key),
- leaves ``1e999`` as ``inf``, which the strict request models then refuse with
  the field's path (422, "Input should be a finite number").

:class:`StrictJSONRoute` plugs this into FastAPI: the body is read and parsed before
FastAPI's own handler runs, so the errors reach :mod:`app.problems` unchanged.
"""

from __future__ import annotations

import email.message
import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
from fastapi import Request, Response
from fastapi.routing import APIRoute

from app.problems import MalformedJSON, UnsupportedMediaType, clip
from rmtservice.errors import LimitExceeded

__all__ = ["StrictJSONRequest", "StrictJSONRoute", "json_depth", "strict_loads"]

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def json_depth(body: bytes) -> int:
    """Deepest nesting of ``[`` and ``{`` in a JSON text (brackets in strings ignored)."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKET)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def _refuse_constant(name: str) -> float:
    raise MalformedJSON(
        f"malformed JSON: {name} is not a JSON number (RFC 8259); send finite numbers only"
    )


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object; a key given twice is refused (RFC 8259 leaves its meaning open)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise MalformedJSON(f"malformed JSON: duplicate key {clip(json.dumps(key))}")
            seen.add(key)
    return obj


def strict_loads(body: bytes, max_depth: int) -> Any:
    """Parse a JSON body strictly (see the module docstring)."""
    # the brackets counted are a bound on the depth: most bodies need no scan
    opened = body.count(b"[") + body.count(b"{")
    depth = opened if opened <= max_depth else json_depth(body)
    if depth > max_depth:
        raise LimitExceeded(
            f"the JSON body is nested {depth} levels deep; at most {max_depth} levels are "
            "accepted (see max_mixture_depth in /v1/info)"
        )
    try:
        return json.loads(body, parse_constant=_refuse_constant, object_pairs_hook=_object)
    except json.JSONDecodeError as exc:
        raise MalformedJSON(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise LimitExceeded("the JSON body is nested too deeply") from None
    except ValueError as exc:  # invalid UTF-8, an integer of more than 4300 digits
        raise MalformedJSON(f"malformed JSON: {exc}") from None


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    if content_type == "application/json":  # what clients send (no parameters to parse)
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class StrictJSONRequest(Request):
    """A request whose :meth:`json` is :func:`strict_loads`."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            self._json = strict_loads(body, self.app.state.settings.max_json_depth)
        return self._json


class StrictJSONRoute(APIRoute):
    """A route that reads and strictly parses a JSON body before FastAPI validates it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        has_body = self.body_field is not None

        async def strict_handler(request: Request) -> Response:
            request = StrictJSONRequest(request.scope, request.receive)
            if has_body and await request.body():
                if not _is_json(request.headers.get("content-type")):
                    raise UnsupportedMediaType(
                        "send the body as JSON with the header Content-Type: application/json"
                    )
                await request.json()
            return await handler(request)

        return strict_handler

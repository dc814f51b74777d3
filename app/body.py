"""Strict JSON request bodies.

Python's ``json`` module accepts ``NaN``, ``Infinity`` and ``-Infinity``, recurses once
per nesting level, and turns ``1e999`` into ``inf``. Here a body is parsed by
:func:`strict_loads`, which

- refuses a body nested deeper than a valid request can be, or with an array longer
  than any field takes (422, before parsing: a body of ten thousand ``[`` costs one
  linear scan, not a ``RecursionError``, and two million atoms no Python objects),
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
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
from fastapi import Request, Response
from fastapi.routing import APIRoute
from numpy.typing import NDArray

from app.problems import MalformedJSON, UnsupportedMediaType, clip
from rmtservice.errors import LimitExceeded

__all__ = ["StrictJSONRequest", "StrictJSONRoute", "json_depth", "json_width", "strict_loads"]

_QUOTE, _BACKSLASH = ord('"'), ord("\\")
#: the structural characters whose nesting is scanned: brackets and commas
_STRUCTURAL = np.zeros(256, dtype=bool)
_STRUCTURAL[list(b"[]{},")] = True
#: +1 for an opening bracket, -1 for a closing one, 0 for a comma
_STEP = np.zeros(256, dtype=np.int8)
_STEP[list(b"[{")] = 1
_STEP[list(b"]}")] = -1


def _string_quotes(codes: NDArray[np.uint8]) -> NDArray[np.intp]:
    """Positions of the quotes that open or close strings: those not escaped by an odd
    run of backslashes just before them. (A backslash outside a string is not JSON:
    the parser refuses the body where it is, so the scan need not know better.)"""
    quotes = np.flatnonzero(codes == _QUOTE)
    slashes = np.flatnonzero(codes == _BACKSLASH)
    if not quotes.size or not slashes.size:
        return quotes
    # a backslash escapes the next byte unless it is escaped itself: in each run of
    # backslashes, those at even offsets from the run's start
    k = np.arange(slashes.size)
    starts = np.ones(slashes.size, dtype=bool)
    np.not_equal(np.diff(slashes), 1, out=starts[1:])
    first = np.maximum.accumulate(np.where(starts, k, 0))
    escaped = np.zeros(codes.size + 1, dtype=bool)
    escaped[slashes[(k - first) % 2 == 0] + 1] = True
    return quotes[~escaped[quotes]]


def _tokens(body: bytes) -> tuple[NDArray[np.intp], NDArray[np.int8], NDArray[np.int64]]:
    """Positions, steps and depths after them of the brackets and commas outside strings.

    Linear in the body: numpy passes over its bytes, then over those tokens (a regular
    expression for strings backtracks quadratically on an unterminated one).
    """
    codes = np.frombuffer(body, dtype=np.uint8)
    where = np.flatnonzero(_STRUCTURAL[codes])
    quotes = _string_quotes(codes)
    if quotes.size:  # inside a string: after an odd number of string quotes
        where = where[np.searchsorted(quotes, where) % 2 == 0]
    steps = _STEP[codes[where]]
    return where, steps, np.cumsum(steps, dtype=np.int64)


def json_depth(body: bytes) -> int:
    """Deepest nesting of ``[`` and ``{`` in a JSON text (brackets in strings ignored)."""
    _, _, depth = _tokens(body)
    return max(int(depth.max()), 0) if depth.size else 0


def _widest(steps: NDArray[np.int8], depth: NDArray[np.int64]) -> tuple[int, int]:
    """Items of the array or object with the most commas (its commas + 1; 0 if no
    bracket), and the index of its opening token."""
    keep = np.flatnonzero(steps >= 0)  # openings and commas; each at its own level
    if not keep.size:
        return 0, -1
    order = keep[np.argsort(depth[keep].clip(-1, 1 << 14).astype(np.int16), kind="stable")]
    # by level, then in text order: a comma belongs to the last opening before it
    opening = steps[order] == 1
    container = np.cumsum(opening)
    commas = np.bincount(container[~opening], minlength=int(container[-1]) + 1)
    commas[0] = -1  # commas outside any bracket (not JSON): no container
    widest = int(commas.argmax())
    if widest == 0:
        return (1 if opening.any() else 0), -1
    return int(commas[widest]) + 1, int(order[opening][widest - 1])


def json_width(body: bytes) -> int:
    """Items of the largest array or object of a JSON text: exact from 2 up (1 for a
    text whose containers have at most one item; 0 without any)."""
    _, steps, depth = _tokens(body)
    return _widest(steps, depth)[0] if steps.size else 0


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


def _check_shape(body: bytes, max_depth: int, max_items: int | None) -> None:
    """Refuse a body nested deeper than ``max_depth`` or with an array (or object) of more
    than ``max_items`` items, before it is parsed: each costs one linear scan, where
    parsing costs a Python object per value (two million zeros: 0.1 s of the event loop,
    and as much again to validate them), and deep nesting a recursion per level."""
    # the brackets (and commas) counted bound the depth (and the items): most bodies
    # need no scan
    deep = body.count(b"[") + body.count(b"{") > max_depth
    wide = max_items is not None and body.count(b",") >= max_items
    if not (deep or wide):
        return
    where, steps, depth = _tokens(body)
    deepest = max(int(depth.max()), 0) if depth.size else 0
    if deepest > max_depth:
        raise LimitExceeded(
            f"the JSON body is nested {deepest} levels deep; at most {max_depth} levels are "
            "accepted (see max_mixture_depth in /v1/info)"
        )
    items, token = _widest(steps, depth) if wide else (0, -1)
    if max_items is not None and items > max_items:
        raise LimitExceeded(
            f"the JSON body has an array of {items} items (at byte {int(where[token])}); no "
            f"field of a request takes more than {max_items} (max_json_items in /v1/info)"
        )


def strict_loads(body: bytes, max_depth: int, max_items: int | None = None) -> Any:
    """Parse a JSON body strictly (see the module docstring)."""
    _check_shape(body, max_depth, max_items)
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
            settings = self.app.state.settings
            self._json = strict_loads(body, settings.max_json_depth, settings.max_json_items)
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

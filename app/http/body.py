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

import anyio.to_thread
import numpy as np
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from numpy.typing import NDArray

from app.problems import MalformedJSON, UnsupportedMediaType, clip
from rmtservice.errors import LimitExceeded

__all__ = [
    "StrictJSONRequest",
    "StrictJSONRoute",
    "is_json",
    "json_depth",
    "json_width",
    "strict_loads",
]

_QUOTE, _BACKSLASH, _COMMA = ord('"'), ord("\\"), ord(",")
_OPEN, _CLOSE = (ord("["), ord("{")), (ord("]"), ord("}"))


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


def _tokens(body: bytes) -> tuple[NDArray[np.intp], NDArray[np.int8], NDArray[np.int32]]:
    """Positions, steps (+1 an opening bracket, -1 a closing one, 0 a comma) and depths
    after them of the brackets and commas outside strings.

    Linear in the body: numpy passes over its bytes, then over those tokens (a regular
    expression for strings backtracks quadratically on an unterminated one).
    """
    codes = np.frombuffer(body, dtype=np.uint8)
    opening = (codes == _OPEN[0]) | (codes == _OPEN[1])
    closing = (codes == _CLOSE[0]) | (codes == _CLOSE[1])
    where = np.flatnonzero(opening | closing | (codes == _COMMA))
    quotes = _string_quotes(codes)
    if quotes.size:  # inside a string: from an odd string quote to the next one
        mark = np.zeros(codes.size + 1, dtype=np.int8)
        mark[quotes[0::2]] = 1
        mark[quotes[1::2]] = -1
        where = where[np.cumsum(mark, dtype=np.int8)[where] == 0]
    steps = opening[where].view(np.int8) - closing[where].view(np.int8)
    return where, steps, np.cumsum(steps, dtype=np.int32)


def json_depth(body: bytes) -> int:
    """Deepest nesting of ``[`` and ``{`` in a JSON text (brackets in strings ignored)."""
    _, _, depth = _tokens(body)
    return max(int(depth.max()), 0) if depth.size else 0


def _widest(steps: NDArray[np.int8], depth: NDArray[np.int32], floor: int = 0) -> tuple[int, int]:
    """Items of the array or object with the most commas (its commas + 1), and the index
    of its opening token, among those that may have more than ``floor``; ``(0, -1)`` if
    none may. Per level of nesting: a comma belongs to the last opening at its level."""
    comma = steps == 0
    levels = depth[comma]
    per_level = np.bincount(levels if levels.min(initial=0) >= 0 else levels.clip(0, None))
    best, token = 0, -1
    for level in np.flatnonzero(per_level + 1 > floor):
        if level == 0:
            continue  # commas outside any bracket (not JSON): no container
        at_level = depth == level
        openings = np.flatnonzero(at_level & (steps == 1))
        owner = np.searchsorted(openings, np.flatnonzero(at_level & comma)) - 1
        counts = np.bincount(owner[owner >= 0], minlength=1)
        widest = int(counts.argmax())
        if counts[widest] + 1 > best:
            best, token = int(counts[widest]) + 1, int(openings[widest])
    if token < 0 and floor == 0 and np.any(steps == 1):
        return 1, -1  # containers of at most one item
    return best, token


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
    items, token = _widest(steps, depth, max_items) if wide and max_items else (0, -1)
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


def is_json(content_type: str | None) -> bool:
    """Whether a Content-Type is JSON (``application/json``, ``application/*+json``)."""
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


#: bodies larger than this are parsed and validated in a worker thread, off the event
#: loop (a smaller one costs less than the thread hop)
OFF_LOOP_BYTES = 64 * 1024


class StrictJSONRequest(Request):
    """A request whose :meth:`json` is :func:`strict_loads`."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = self._loads(await self.body())
        return self._json

    def _loads(self, body: bytes) -> Any:
        settings = self.app.state.settings
        return strict_loads(body, settings.max_json_depth, settings.max_json_items)

    async def validate_off_loop(self, field: Any) -> None:
        """Parse the body and validate it as ``field`` (the route's body field) in a
        worker thread; FastAPI then finds the validated model as the body (and passes it
        through as it is)."""
        body = await self.body()
        self._json = await anyio.to_thread.run_sync(self._validated, body, field)

    def _validated(self, body: bytes, field: Any) -> Any:
        value = self._loads(body)
        model, errors = field.validate(value, {}, loc=("body",))
        if errors:
            raise RequestValidationError(errors, body=value)
        return model


class StrictJSONRoute(APIRoute):
    """A route that reads and strictly parses a JSON body before FastAPI validates it.

    A body over ``OFF_LOOP_BYTES`` is scanned, parsed and validated in a worker thread:
    on the event loop, three bodies of 4 MB (two million atoms each) held ``/healthz``
    650 ms. (Python's JSON parser holds the GIL while it runs, about 40 ms a megabyte of
    short numbers; the scan and the validation let the loop run.)
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        field = self.body_field
        # a single body model, not embedded: what the thread validates is what FastAPI
        # would have validated
        whole = field is not None and not getattr(self, "_embed_body_fields", True)

        async def strict_handler(request: Request) -> Response:
            request = StrictJSONRequest(request.scope, request.receive)
            body = await request.body() if field is not None else b""
            if body:
                if not is_json(request.headers.get("content-type")):
                    raise UnsupportedMediaType(
                        "send the body as JSON with the header Content-Type: application/json"
                    )
                if whole and len(body) > OFF_LOOP_BYTES:
                    assert field is not None
                    await request.validate_off_loop(field)
                else:
                    await request.json()
            return await handler(request)

        return strict_handler

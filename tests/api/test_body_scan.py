"""The scan of a JSON body before it is parsed (app.body): linear time on hostile
shapes, and the same depth and widths as the parser's own reading of valid JSON."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.body import json_depth, json_width, strict_loads
from app.problems import MalformedJSON
from rmtservice.errors import LimitExceeded

KB = 1024

#: bodies of about ``size`` bytes: the issue's unterminated string of escaped quotes
#: behind 31 brackets (super-linear for a regular expression), runs of backslashes,
#: escapes inside strings, brackets inside strings, deep arrays, long arrays
SHAPES: dict[str, Callable[[int], bytes]] = {
    "escaped quotes": lambda size: b"[" * 31 + b'"' + b'\\"' * (size // 2),
    "escaped quotes, 30 deep": lambda size: b"[" * 30 + b'"' + b'\\"' * (size // 2),
    "backslashes": lambda size: b"[" * 31 + b'"' + b"\\" * size,
    "escapes in strings": lambda size: b"[" * 31 + b'"\\\\\\"[\\\\",' * (size // 10) + b"0]",
    "brackets in strings": lambda size: b"[" * 30 + b'"[{",' * (size // 5) + b"0" + b"]" * 30,
    "deep arrays": lambda size: b"[" * (size // 2) + b"]" * (size // 2),
    "long array": lambda size: b"[" + b"0," * (size // 2) + b"0]",
}


def _seconds(body: bytes) -> float:
    """The best of three: the whole of strict_loads, refusal or parse."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        try:
            strict_loads(body, max_depth=30, max_items=100_000)
        except (LimitExceeded, MalformedJSON):  # refused: what matters is how long it took
            pass
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("shape", SHAPES)
def test_hostile_bodies_cost_time_linear_in_their_size(shape: str) -> None:
    """16, 64 and 1024 KB: within 2 ms + 50 ms per MB each (the regular expression took
    seconds for 32 KB; a larger size is tried only once the smaller one passed)."""
    for size in (16 * KB, 64 * KB, 1024 * KB):
        seconds = _seconds(SHAPES[shape](size))
        budget = 0.002 + 0.050 * size / (1024 * KB)
        assert seconds < budget, f"{size // KB} KB took {seconds * 1000:.1f} ms"


def test_the_issues_body_is_refused_for_its_depth() -> None:
    with pytest.raises(LimitExceeded, match="nested 31 levels deep"):
        strict_loads(SHAPES["escaped quotes"](64 * KB), max_depth=30)


def test_a_long_array_is_refused_before_parsing() -> None:
    body = b'{"measure": {"kind": "atoms", "values": [' + b"0," * 199_999 + b"0]}}"
    with pytest.raises(LimitExceeded, match=r"array of 200000 items \(at byte 40\)"):
        strict_loads(body, max_depth=30, max_items=100_000)
    assert len(strict_loads(body, max_depth=30, max_items=200_000)["measure"]["values"]) == 200_000


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


def _width(value: Any) -> int:
    if isinstance(value, list):
        return max([len(value), *map(_width, value)])
    if isinstance(value, dict):
        return max([len(value), *map(_width, value.values())])
    return 0


#: strings full of what a scan could take for structure
TEXT = st.text(alphabet=st.sampled_from('[]{},"\\:abc \u00e9\u2028\n\t'), max_size=12)
NUMBER = st.integers() | st.floats(allow_nan=False, allow_infinity=False)
SCALAR = st.none() | st.booleans() | NUMBER
JSON = st.recursive(
    SCALAR | TEXT,
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(TEXT, inner, max_size=6),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(JSON, st.booleans(), st.sampled_from([None, 1, 2]))
def test_the_scan_reads_valid_json_as_the_parser_does(
    value: Any, ascii_only: bool, indent: int | None
) -> None:
    """Depth equal to the parsed value's; widths equal from 2 items up."""
    body = json.dumps(value, ensure_ascii=ascii_only, indent=indent).encode()
    assert json_depth(body) == _depth(value)
    width = _width(value)
    assert json_width(body) == width if width >= 2 else json_width(body) <= 1
    assert strict_loads(body, max_depth=_depth(value), max_items=max(width, 1)) == value

"""A measure given to the library as a dict, read as the HTTP API reads it."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from pydantic import TypeAdapter, ValidationError

import rmtservice as rs
from rmtservice.errors import InvalidParameter
from rmtservice.wire.schemas import MEASURE_KINDS, Measure

__all__ = ["measure_from_dict"]


@cache
def _adapter() -> TypeAdapter[Any]:
    return TypeAdapter(Measure)


def measure_from_dict(data: Mapping[str, Any], name: str = "measure") -> rs.Measure:
    """The core measure of a wire dict (``{"kind": "uniform", "low": -1, "high": 1}``);
    a dict the API would refuse raises :class:`InvalidParameter` with its field path."""
    if "kind" not in data:
        raise InvalidParameter(
            f"{name} as a dict needs a 'kind': one of {', '.join(MEASURE_KINDS)}", field=name
        )
    try:
        model = _adapter().validate_python(dict(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        # the union's tag is the first element of each path: not a field
        loc = [str(p) for p in first["loc"][1:]] if len(first["loc"]) > 1 else []
        where = ".".join([name, *loc])
        raise InvalidParameter(f"{where}: {first['msg']}", field=where) from None
    built: rs.Measure = model.to_measure(name)
    return built

"""Checks of the library's plain inputs: numbers, counts, arrays of numbers, measures.

Python and numpy would take ``"1.5"`` for 1.5, ``1.5`` for a count, and answer a list
of words with their own messages (``could not convert string to float``); the HTTP API
refuses all of these. The core refuses them too, with a message that names the argument.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rmtservice.errors import InvalidParameter

if TYPE_CHECKING:
    from rmtservice.measures import Measure

__all__ = ["as_measure", "count", "number", "real_array"]


def number(name: str, value: Any) -> float:
    """``value`` as a float: a real number, not a string, a boolean or None."""
    if isinstance(value, (str, bytes)):
        raise InvalidParameter(f"{name} must be a number, got the string {value!r}", field=name)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidParameter(f"{name} must be a number, got {type(value).__name__}", field=name)
    return float(value)


def count(name: str, value: Any, minimum: int = 0) -> int:
    """``value`` as an int ``>= minimum``: an integer (``2.0`` too), not ``1.5`` or ``"2"``."""
    x = number(name, value)
    if not (math.isfinite(x) and x == math.floor(x)):
        raise InvalidParameter(f"{name} must be an integer, got {value!r}", field=name)
    k = int(value) if isinstance(value, numbers.Integral) else int(x)
    if k < minimum:
        raise InvalidParameter(f"{name} must be >= {minimum}, got {k}", field=name)
    return k


def _first_string(raw: NDArray[Any]) -> Any:
    return next((v for v in raw.ravel() if isinstance(v, (str, bytes, np.str_))), None)


def real_array(name: str, values: ArrayLike) -> NDArray[np.float64]:
    """``values`` as a float array; strings (numeric ones too) and ragged lists refused."""
    if isinstance(values, (str, bytes)):
        raise InvalidParameter(
            f"{name} must be numbers, got the string {values!r}; give a list of numbers",
            field=name,
        )
    try:
        raw = np.asarray(values)
    except ValueError as exc:  # numpy refuses ragged nested lists
        raise InvalidParameter(
            f"{name} must be a list of numbers (nested lists of equal length)", field=name
        ) from exc
    word = _first_string(raw) if raw.dtype.kind in "USO" else None
    if word is not None:
        raise InvalidParameter(
            f"{name} must be numbers, got the string {str(word)!r} among them", field=name
        )
    try:
        return np.asarray(raw, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidParameter(
            f"{name} must be numbers (got {raw.dtype} values)", field=name
        ) from exc


def as_measure(value: Any, name: str = "measure") -> Measure:
    """A core measure, or a dict as on the wire (``{"kind": "uniform", "low": -1, "high":
    1}``) read through the wire schema, so that its rules and messages are the API's."""
    from rmtservice.measures import Measure

    if isinstance(value, Measure):
        return value
    if isinstance(value, Mapping):
        # the schemas need pydantic: imported only when a dict is given
        from rmtservice.wire.measures import measure_from_dict

        return measure_from_dict(value, name)
    raise InvalidParameter(
        f"{name} must be a measure (rs.Uniform(-1, 1), rs.Atoms([...]), ...) or a dict as "
        f"in the HTTP API ({{'kind': 'uniform', 'low': -1, 'high': 1}}), "
        f"got {type(value).__name__}",
        field=name,
    )

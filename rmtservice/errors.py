"""The exception tree of rmtservice.

::

    RMTError                      (Exception)       slug "rmt-error"
    +-- InvalidParameter          (ValueError)      slug "invalid-parameter"
    +-- LimitExceeded             (ValueError)      slug "limit-exceeded"
    +-- NoConvergence             (ArithmeticError) slug "no-convergence"
    +-- DeadlineExceeded          (TimeoutError)    slug "deadline-exceeded"

Each class is also a builtin exception, so library users can ``except ValueError``.
The web layer maps ``slug`` to the problem ``type`` URI and the class to a status.
"""

from __future__ import annotations


class RMTError(Exception):
    """Base class of every error raised by rmtservice."""

    slug = "rmt-error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidParameter(RMTError, ValueError):
    """An input is outside the mathematical domain (e.g. ``sigma2 <= 0``)."""

    slug = "invalid-parameter"


class LimitExceeded(RMTError, ValueError):
    """An input is valid but larger than a configured limit."""

    slug = "limit-exceeded"


class NoConvergence(RMTError, ArithmeticError):
    """An iterative solver did not reach a residual at rounding level."""

    slug = "no-convergence"


class DeadlineExceeded(RMTError, TimeoutError):
    """A computation ran past its deadline."""

    slug = "deadline-exceeded"

"""Cooperative deadlines for long computations.

The solvers call :func:`check` between iterations; a caller that wants a time limit
runs the computation inside :func:`limit` (per thread or task, through a context
variable), and the computation then raises :class:`DeadlineExceeded` once the limit
has passed. Without a limit :func:`check` costs one context-variable lookup.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rmtservice.errors import DeadlineExceeded

__all__ = ["check", "limit"]

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "rmtservice_deadline", default=None
)


@contextmanager
def limit(seconds: float | None) -> Iterator[None]:
    """Run the body with a deadline ``seconds`` from now (``None``: no deadline).

    The deadline holds for the current thread or task (a context variable) and is
    restored on exit, so limits nest.

    Parameters
    ----------
    seconds : float or None
        Time allowed from now.

    Returns
    -------
    context manager
        Inside it, :func:`check` raises once the time has passed.

    Raises
    ------
    DeadlineExceeded
        Not by itself: from the body, where it calls :func:`check` after the deadline.

    Examples
    --------
    >>> from rmtservice.deadline import check, limit
    >>> with limit(0.0):
    ...     check()
    Traceback (most recent call last):
    ...
    rmtservice.errors.DeadlineExceeded: the computation exceeded its deadline
    """
    token = _deadline.set(None if seconds is None else time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def check() -> None:
    """Raise :class:`DeadlineExceeded` if the current deadline has passed.

    Returns
    -------
    None
        When there is no deadline, or it has not passed.

    Raises
    ------
    DeadlineExceeded
        The deadline set by :func:`limit` has passed.

    Examples
    --------
    >>> from rmtservice.deadline import check, limit
    >>> check()  # no deadline: returns at once
    >>> with limit(60.0):
    ...     check()
    """
    d = _deadline.get()
    if d is not None and time.monotonic() > d:
        raise DeadlineExceeded("the computation exceeded its deadline")

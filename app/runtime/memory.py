"""Process-wide memory accounting for the matrices of simulations.

Each simulate or plot request reserves its estimate (:func:`app.runtime.limits.memory_needed`)
for as long as it waits for a worker and runs; a request that would push the reserved
total over ``memory_budget_bytes`` is refused at once with 503 ``overloaded`` and
``Retry-After`` (a request over the budget on its own gets 422 earlier, in the limits).
The counter lives in the server process (the event loop: no lock needed); it covers
the worker processes that process starts. Each gunicorn worker has its own budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from app.problems import Overloaded

__all__ = ["MemoryBudget"]


class MemoryBudget:
    """Bytes reserved by the computations in flight, against a budget."""

    def __init__(self, budget: int, retry_after: int) -> None:
        self.budget = budget
        self.retry_after = retry_after
        self.reserved = 0

    @contextmanager
    def reserve(self, nbytes: int) -> Iterator[None]:
        """Hold ``nbytes`` for the block, or raise :class:`Overloaded` at once."""
        if nbytes <= 0:
            yield
            return
        if self.reserved + nbytes > self.budget:
            raise Overloaded(
                f"this simulation needs about {nbytes / 1e6:.1f} MB and running or waiting "
                f"simulations already hold {self.reserved / 1e6:.1f} MB of the memory budget "
                f"of {self.budget / 1e6:.1f} MB; retry later",
                headers={"Retry-After": str(self.retry_after)},
            )
        self.reserved += nbytes
        try:
            yield
        finally:
            self.reserved -= nbytes

"""Run core computations off the event loop, bounded, each under the deadline.

A :class:`Compute` pool holds an anyio :class:`~anyio.CapacityLimiter` with
``settings.workers`` tokens: at most that many computations run at once. When
``settings.max_queue`` computations already wait for a token, a new one is refused at
once with 503 (``overloaded``) rather than queued without bound.

The computations run in worker *processes* by default (``settings.executor``):
scipy's LAPACK wrappers, which the core uses for eigenvalues, hold the GIL for the
whole factorisation (two seconds for ``n = 1500``), and a worker *thread* doing that
would stall the event loop and ``/healthz`` with it. ``executor="thread"`` runs the
same jobs in threads (no start-up cost; used by tests and embedders).

Either way the job runs inside ``rmtservice.deadline.limit(settings.deadline_seconds)``
*in the worker* (the deadline is a context variable there); the core's
``deadline.check()`` then raises ``DeadlineExceeded`` (503 with Retry-After). The
deadline starts when a worker picks the job up.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

import anyio
import anyio.to_thread
import numpy as np
from fastapi import Depends, Request
from pydantic import BaseModel

from app import limits
from app.memory import MemoryBudget
from app.metrics import Metrics
from app.problems import Overloaded
from app.settings import Settings
from rmtservice import deadline

__all__ = ["Compute", "Job", "RequestContext", "context_of", "job"]

logger = logging.getLogger(__name__)

WORKER_NICENESS = 5

Arg = TypeVar("Arg")
Req = TypeVar("Req", bound=BaseModel)
Res = TypeVar("Res")


@dataclass
class RequestContext:
    """Per-request facts shared by the middleware and the routes (``scope["rmt.context"]``)."""

    request_id: str
    compute_seconds: float = 0.0
    route: str = field(default="<unmatched>")


def context_of(request: Request) -> RequestContext:
    context = request.scope.get("rmt.context")
    if isinstance(context, RequestContext):
        return context
    context = RequestContext(request_id="-")
    request.scope["rmt.context"] = context
    return context


def _run_with_deadline(fn: Callable[[Arg], Res], req: Arg, seconds: float | None) -> Res:
    """Executed in the worker: the deadline context variable is set there.

    Floating-point warnings are silenced (``np.errstate`` is per thread): a value that
    overflows becomes ``null`` in the answer, and warnings would only fill the log
    (or, where warnings are errors, turn a valid answer into a 500).
    """
    with deadline.limit(seconds), np.errstate(all="ignore"):
        return fn(req)


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)  # the server was killed: do not linger as an orphan


def _init_worker() -> None:
    # Ctrl-C reaches the whole process group; the server, not each worker, handles it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # On a busy machine the scheduler should prefer the server process: it answers probes.
    os.nice(WORKER_NICENESS)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


class Compute:
    """A bounded pool of workers (processes or threads) for core calls."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.limiter = anyio.CapacityLimiter(settings.workers)
        self.memory = MemoryBudget(settings.memory_budget_bytes, settings.retry_after_seconds)
        self._pool: ProcessPoolExecutor | None = None

    @property
    def busy(self) -> int:
        return int(self.limiter.borrowed_tokens)

    @property
    def waiting(self) -> int:
        return int(self.limiter.statistics().tasks_waiting)

    @property
    def full(self) -> bool:
        return self.busy >= self.settings.workers and self.waiting >= self.settings.max_queue

    def _processes(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.settings.workers,
                # spawn, not fork: the server process has threads
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
            )
        return self._pool

    async def start(self, warm_up: Callable[[None], None]) -> None:
        """Start the workers and run ``warm_up`` once in each."""
        jobs = (self._submit(warm_up, None, None) for _ in range(self.settings.workers))
        await asyncio.gather(*jobs)

    def close(self) -> None:
        """Stop the workers without waiting for them."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    async def aclose(self) -> None:
        """Stop the workers once their running jobs end (queued ones are dropped)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await anyio.to_thread.run_sync(lambda: pool.shutdown(wait=True, cancel_futures=True))

    async def _submit(self, fn: Callable[[Arg], Res], req: Arg, seconds: float | None) -> Res:
        if self.settings.executor == "thread":
            return await anyio.to_thread.run_sync(_run_with_deadline, fn, req, seconds)
        try:
            future = self._processes().submit(_run_with_deadline, fn, req, seconds)
        except BrokenProcessPool:
            # a worker died while the pool was idle: this job never ran, so a new pool
            # can take it (a pool that breaks under a job still gives 503 below)
            logger.error("a compute worker process died; starting a new pool")
            self.close()
            future = self._processes().submit(_run_with_deadline, fn, req, seconds)
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            logger.error("a compute worker process died; starting a new pool")
            self.close()
            raise Overloaded(
                "a compute worker stopped unexpectedly; retry",
                headers={"Retry-After": str(self.settings.retry_after_seconds)},
            ) from None

    async def run(self, fn: Callable[[Req], Res], req: Req, context: RequestContext) -> Res:
        """``fn(req)`` in a worker under the deadline; compute time is recorded."""
        if self.full:
            raise Overloaded(
                f"{self.waiting} computations are already waiting for a worker",
                headers={"Retry-After": str(self.settings.retry_after_seconds)},
            )
        async with self.limiter:
            start = time.perf_counter()
            try:
                # shielded: a client that leaves does not free the token of a running job
                with anyio.CancelScope(shield=True):
                    result = await self._submit(fn, req, self.settings.deadline_seconds)
            finally:
                context.compute_seconds += time.perf_counter() - start
                self.metrics.computed(context.route, context.compute_seconds)
        return result


@dataclass(frozen=True)
class Job:
    """What a route needs to compute: limits, the memory budget, then the pool."""

    compute: Compute
    settings: Settings
    context: RequestContext

    async def __call__(self, fn: Callable[[Req], Res], req: Req) -> Res:
        limits.check(req, self.settings)
        with self.compute.memory.reserve(limits.memory_needed(req, self.settings)):
            return await self.compute.run(fn, req, self.context)


def _job(request: Request) -> Job:
    context = context_of(request)
    route = request.scope.get("route")
    context.route = getattr(route, "path", context.route)
    return Job(request.app.state.compute, request.app.state.settings, context)


job = Annotated[Job, Depends(_job)]

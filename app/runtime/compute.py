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

The core checks the deadline between LAPACK calls only, and one eigendecomposition of
``n = 4000`` takes seconds (four at once on two cores answered 21 to 25 s after a 10 s
deadline). Two more guards:

- before it starts, a simulation whose LAPACK work alone (``n^3`` per trial, at the
  speed measured once in this process) would pass the deadline is refused with
  ``DeadlineExceeded`` (:func:`app.runtime.limits.check_time`);
- each worker process is a pool of its own (a ``ProcessPoolExecutor`` of one process):
  one still computing ``KILL_GRACE_SECONDS`` after its deadline is killed and replaced,
  and the request answered 503 at once; the other workers' jobs go on.

Computations that start from a prepared limit (density, support, outliers, inverse:
``cached=True``) get the :class:`~app.runtime.cache.SupportCache` of the process they run in:
the server's own (inline and thread jobs) or each worker process's (made by its
initializer, with the same settings).

A request whose estimated cost (:func:`app.runtime.limits.cost`) is at most
``settings.inline_max_cost`` skips the pool: it runs at once in the server process, in
the event loop's thread, under the same deadline, with the same error mapping. Such a
request takes a millisecond or a few of numerics, about what the pool's round trip
(pickling, two process switches, a thread hop) costs on its own; it holds the event loop
for that long, and ``/healthz`` with it, which the threshold bounds. It takes no worker
token and does not queue: a pool full of heavy jobs does not hold up small requests.
One still running after ``settings.inline_max_seconds`` (a small request can be slow:
a solver's fallback) is stopped at the core's next deadline check and sent to the pool,
which computes it again under the whole deadline: the event loop is never held longer.
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
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
import numpy as np
from fastapi import Depends, Request
from pydantic import BaseModel

from app.problems import Overloaded
from app.runtime import limits
from app.runtime.cache import SupportCache
from app.runtime.memory import MemoryBudget
from app.runtime.metrics import Metrics
from app.settings import Settings
from rmtservice import deadline
from rmtservice.errors import DeadlineExceeded
from rmtservice.wire import service

__all__ = [
    "Compute",
    "InlineTooSlow",
    "Job",
    "RequestContext",
    "context_of",
    "job",
    "limit_blas_threads",
]

logger = logging.getLogger(__name__)

WORKER_NICENESS = 10
#: a worker process still computing this long after its job's deadline is killed (its
#: own deadline checks had their chance) and replaced
KILL_GRACE_SECONDS = 0.5

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
    """The request's context, its route template (the metrics' label) filled in: every
    route that computes asks for it (a route that calls ``Compute.run`` itself, as the
    sweep picture does, counted under ``<unmatched>`` before)."""
    context = request.scope.get("rmt.context")
    if not isinstance(context, RequestContext):
        context = RequestContext(request_id="-")
        request.scope["rmt.context"] = context
    route = request.scope.get("route")
    context.route = getattr(route, "path", context.route)
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


#: a worker process's own cache of prepared limits (set by its initializer)
_worker_cache: SupportCache | None = None


def limit_blas_threads(threads: int) -> None:
    """At most ``threads`` BLAS/LAPACK threads in this process, from now on."""
    # threadpoolctl limits the libraries loaded: load numpy's and scipy's BLAS first
    # (the core, and with it scipy, is imported lazily)
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")


def _init_worker(cache_size: int, cache_atoms: int, blas_threads: int) -> None:
    global _worker_cache
    limit_blas_threads(blas_threads)
    # Ctrl-C reaches the whole process group; the server, not each worker, handles it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # On a busy machine the scheduler should prefer the server process: it answers probes.
    os.nice(WORKER_NICENESS)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    _worker_cache = SupportCache(cache_size, cache_atoms)


@dataclass(frozen=True)
class _WithWorkerCache:
    """``fn(req, prepare=<the cache of the worker process it runs in>)``; picklable (by
    reference to ``fn``), where a cache would be copied into every job."""

    fn: Callable[..., Any]

    def __call__(self, req: Any) -> Any:
        cache = _worker_cache
        return self.fn(req, prepare=service.prepare if cache is None else cache)


def _ready(_: object = None) -> None:
    """The first job of a fresh worker process (its warm-up when none was given)."""


def lapack_seconds_per_n3(n: int = 400, repeats: int = 7) -> float:
    """Seconds per ``n^3`` of LAPACK's symmetric eigenvalues (``syevd``) in this process,
    with its BLAS threads: the best of ``repeats`` runs at ``n`` (a few milliseconds
    each). Per ``n^3`` it changes little from n = 600 on, and is lower at larger n, so
    that estimates from it err short."""
    import scipy.linalg

    a = np.random.default_rng(0).standard_normal((n, n))
    best = float("inf")
    for _ in range(repeats):
        b = np.asfortranarray(a)
        start = time.perf_counter()
        scipy.linalg.eigh(
            b, lower=False, eigvals_only=True, driver="evd", overwrite_a=True, check_finite=False
        )
        best = min(best, time.perf_counter() - start)
    return best / n**3


class InlineTooSlow(Exception):
    """An inline computation passed ``inline_max_seconds``: run it in the pool instead."""


class Compute:
    """A bounded pool of workers (processes or threads) for core calls."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.limiter = anyio.CapacityLimiter(settings.workers)
        self.memory = MemoryBudget(settings.memory_budget_bytes, settings.retry_after_seconds)
        self.cache = SupportCache(settings.support_cache_size, settings.support_cache_atoms)
        self.inline_too_slow = 0
        #: one pool of one process per worker (None: not started, or replaced)
        self._pools: list[ProcessPoolExecutor | None] = [None] * settings.workers
        #: each pool's first job (its warm-up): jobs wait for it before their deadline
        self._warming: list[Future[Any] | None] = [None] * settings.workers
        self._free = list(range(settings.workers))  # slots without a job
        self._warm_up: Callable[[None], None] = _ready
        self._seconds_per_n3: float | None = None

    @property
    def busy(self) -> int:
        return int(self.limiter.borrowed_tokens)

    @property
    def waiting(self) -> int:
        return int(self.limiter.statistics().tasks_waiting)

    @property
    def full(self) -> bool:
        return self.busy >= self.settings.workers and self.waiting >= self.settings.max_queue

    def _pool(self, slot: int) -> ProcessPoolExecutor:
        """The pool of ``slot``, started (with its warm-up as first job) if need be."""
        pool = self._pools[slot]
        if pool is None:
            pool = self._pools[slot] = ProcessPoolExecutor(
                max_workers=1,
                # spawn, not fork: the server process has threads
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker,
                initargs=(
                    self.settings.support_cache_size,
                    self.settings.support_cache_atoms,
                    self.settings.blas_threads,
                ),
            )
            self._warming[slot] = pool.submit(_run_with_deadline, self._warm_up, None, None)
        return pool

    def _replace(self, slot: int, *, kill: bool = False) -> None:
        """Drop the pool of ``slot`` (killing its process first with ``kill``) and start
        a new one, so that the next job finds it warm."""
        pool, self._pools[slot] = self._pools[slot], None
        if pool is not None:
            if kill:
                # (a pool of one process: the job that ran past its deadline is all it had)
                for process in list(pool._processes.values()):
                    process.kill()
            pool.shutdown(wait=False, cancel_futures=True)
        self._pool(slot)

    async def start(self, warm_up: Callable[[None], None]) -> None:
        """Start the workers and run ``warm_up`` once in each (and in each worker that
        replaces one later). The BLAS threads of this process (inline computations, or
        the thread executor's) are limited too."""
        limit_blas_threads(self.settings.blas_threads)
        self._warm_up = warm_up
        if self.settings.executor == "process":
            for slot in range(self.settings.workers):
                self._pool(slot)
            await asyncio.gather(*(asyncio.wrap_future(f) for f in self._warming if f))
        else:
            jobs = (self._submit(warm_up, None, None) for _ in range(self.settings.workers))
            await asyncio.gather(*jobs)

    def close(self) -> None:
        """Stop the workers without waiting for them."""
        for slot, pool in enumerate(self._pools):
            self._pools[slot] = None
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        """Stop the workers once their running jobs end (queued ones are dropped)."""
        pools = [p for p in self._pools if p is not None]
        self._pools = [None] * len(self._pools)

        def shutdown() -> None:
            for pool in pools:
                pool.shutdown(wait=True, cancel_futures=True)

        await anyio.to_thread.run_sync(shutdown)

    async def seconds_per_n3(self) -> float:
        """LAPACK's speed here (:func:`lapack_seconds_per_n3`), measured at first use in a
        thread, with the BLAS threads of the compute processes."""
        if self._seconds_per_n3 is None:
            self._seconds_per_n3 = await anyio.to_thread.run_sync(lapack_seconds_per_n3)
        return self._seconds_per_n3

    async def _submit(self, fn: Callable[[Arg], Res], req: Arg, seconds: float | None) -> Res:
        if self.settings.executor == "thread":
            return await anyio.to_thread.run_sync(_run_with_deadline, fn, req, seconds)
        while not self._free:  # (only a caller outside the limiter finds none: a test)
            await anyio.sleep(0.01)
        slot = self._free.pop()
        try:
            return await self._submit_to(slot, fn, req, seconds)
        finally:
            self._free.append(slot)

    async def _submit_to(
        self, slot: int, fn: Callable[[Arg], Res], req: Arg, seconds: float | None
    ) -> Res:
        """``fn(req)`` in the worker of ``slot``; killed ``KILL_GRACE_SECONDS`` after
        ``seconds``, from when the worker is ready, if it has not answered by then."""
        try:
            future = self._pool(slot).submit(_run_with_deadline, fn, req, seconds)
        except BrokenProcessPool:
            # the worker died while idle: this job never ran, so a new one can take it
            # (a worker that dies under a job still gives 503 below)
            logger.error("a compute worker process died; starting a new one")
            self._replace(slot)
            future = self._pool(slot).submit(_run_with_deadline, fn, req, seconds)
        warming = self._warming[slot]
        if warming is not None and not warming.done():
            await asyncio.wait({asyncio.wrap_future(warming)})
        answer = asyncio.wrap_future(future)
        done, _ = await asyncio.wait(
            {answer}, timeout=None if seconds is None else seconds + KILL_GRACE_SECONDS
        )
        if not done:
            assert seconds is not None
            logger.warning(
                "a computation ran %g s past its deadline of %g s: its worker process is "
                "killed and replaced",
                KILL_GRACE_SECONDS,
                seconds,
            )
            self._replace(slot, kill=True)
            answer.cancel()
            raise DeadlineExceeded(
                f"the computation ran past the deadline of {seconds:g} s and was stopped; "
                "ask for less (a smaller n, fewer trials)"
            )
        try:
            return answer.result()
        except BrokenProcessPool:
            logger.error("a compute worker process died; starting a new one")
            self._replace(slot)
            raise Overloaded(
                "a compute worker stopped unexpectedly; retry",
                headers={"Retry-After": str(self.settings.retry_after_seconds)},
            ) from None

    def _cached(self, fn: Callable[..., Res], *, here: bool) -> Callable[[Req], Res]:
        """``fn`` given the cache of the process where it will run."""
        return partial(fn, prepare=self.cache) if here else _WithWorkerCache(fn)

    def run_inline(
        self, fn: Callable[[Req], Res], req: Req, context: RequestContext, *, cached: bool = False
    ) -> Res:
        """``fn(req)`` here and now, under the deadline (or ``inline_max_seconds``, if
        shorter: past that, :class:`InlineTooSlow`); compute time is recorded."""
        settings = self.settings
        final = settings.deadline_seconds <= settings.inline_max_seconds
        limit = settings.deadline_seconds if final else settings.inline_max_seconds
        if cached:
            fn = self._cached(fn, here=True)
        start = time.perf_counter()
        too_slow = False
        try:
            return _run_with_deadline(fn, req, limit)
        except DeadlineExceeded:
            if final:
                raise
            too_slow = True
            self.inline_too_slow += 1
            raise InlineTooSlow from None
        finally:
            context.compute_seconds += time.perf_counter() - start
            if not too_slow:  # else the pool records the total
                self.metrics.computed(context.route, context.compute_seconds)

    async def run(
        self, fn: Callable[[Req], Res], req: Req, context: RequestContext, *, cached: bool = False
    ) -> Res:
        """``fn(req)`` in a worker under the deadline; compute time is recorded."""
        if cached:
            fn = self._cached(fn, here=self.settings.executor == "thread")
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

    async def __call__(self, fn: Callable[..., Res], req: Req, *, cached: bool = False) -> Res:
        """``fn(req)``; with ``cached``, ``fn`` takes ``prepare=`` (a support cache)."""
        limits.check(req, self.settings)
        if limits.lapack_work(req) is not None:
            limits.check_time(req, self.settings, await self.compute.seconds_per_n3())
        if self.inline(req):
            try:
                return self.compute.run_inline(fn, req, self.context, cached=cached)
            except InlineTooSlow:
                pass  # computed again by a worker, under the whole deadline
        with self.compute.memory.reserve(limits.memory_needed(req, self.settings)):
            return await self.compute.run(fn, req, self.context, cached=cached)

    def inline(self, req: BaseModel) -> bool:
        """Whether ``req`` is small enough to skip the pool (``inline_max_cost``)."""
        estimate = limits.cost(req)
        return estimate is not None and estimate <= self.settings.inline_max_cost


async def _job(request: Request) -> Job:
    # a coroutine: FastAPI would run a plain function in its thread pool (a thread hop)
    context = context_of(request)
    return Job(request.app.state.compute, request.app.state.settings, context)


job = Annotated[Job, Depends(_job)]

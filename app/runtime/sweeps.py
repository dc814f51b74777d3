"""The service's side of sweeps: one Dask client per process, connected at first use.

With ``settings.dask_scheduler`` the client connects to that scheduler (a real
cluster, shared by every replica: a sweep submitted through one replica is read and
cancelled through any other, and survives the restart of the one that made it). Without
it, a ``LocalCluster`` on 127.0.0.1 starts at the first sweep request: private to the
process (``dask_local_port = 0``), or on a fixed port that the worker processes of
one server share (the first to need it starts it, the others connect; the sweeps then
live as long as the process that started it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread

from app.problems import HTTPProblem
from app.runtime import limits
from app.runtime.compute import WORKER_NICENESS
from app.settings import Settings
from rmtservice.errors import LimitExceeded
from rmtservice.sweeps.store import SweepStore, local_cluster
from rmtservice.wire.schemas import SweepRequest

__all__ = ["SchedulerUnavailable", "Sweeps", "check"]

logger = logging.getLogger(__name__)
T = TypeVar("T")


class SchedulerUnavailable(HTTPProblem):
    slug = "scheduler-unavailable"


def check(req: SweepRequest, settings: Settings) -> None:
    """Per-deployment limits of a sweep (the measure's as for every request)."""
    limits.check(req, settings)
    largest, tasks = max(req.sizes), len(req.sizes) * req.trials
    if largest > settings.max_sweep_n:
        raise LimitExceeded(
            f"sizes: n = {largest} is over the limit {settings.max_sweep_n} "
            "(max_sweep_n in /v1/info)",
            field="sizes",
        )
    if tasks > settings.max_sweep_tasks:
        raise LimitExceeded(
            f"trials: {len(req.sizes)} sizes x {req.trials} trials = {tasks} tasks is over "
            f"the limit {settings.max_sweep_tasks} (max_sweep_tasks in /v1/info)",
            field="trials",
        )
    if len(req.spikes) > settings.max_spikes:
        raise LimitExceeded(
            f"spikes: spike count {len(req.spikes)} is over the limit {settings.max_spikes} "
            "(max_spikes in /v1/info)",
            field="spikes",
        )


class Sweeps:
    """The process's :class:`SweepStore`, made at first use; calls run off the loop.

    Reaching the scheduler is tried once in a request (others arriving meanwhile wait
    for that one attempt). Once an attempt has failed, or a connection was lost,
    requests are answered 503 at once while a background thread tries again every
    ``retry_after_seconds``: an unreachable scheduler no longer makes every request wait
    ``dask_connect_timeout_seconds`` in turn behind the lock (four requests took 10,
    10, 20 and 20 s).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._client: Any = None
        self._cluster: Any = None
        self._store: SweepStore | None = None
        #: the background attempt under way (None: none, the last attempt succeeded)
        self._retrying: threading.Event | None = None

    async def call(self, fn: Callable[[SweepStore], T]) -> T:
        """``fn(store)`` in a thread (the Dask client blocks); problems for failures."""
        return await anyio.to_thread.run_sync(self._call, fn)

    def _call(self, fn: Callable[[SweepStore], T]) -> T:
        store = self._connect()
        try:
            return fn(store)
        except (OSError, TimeoutError) as exc:
            logger.warning("Dask scheduler call failed: %s", exc)
            with self._lock:
                self._close()
                self._retry_in_background()
            raise self._unavailable() from None

    def _unavailable(self) -> SchedulerUnavailable:
        where = self.settings.dask_scheduler or "the local cluster"
        return SchedulerUnavailable(
            f"the Dask scheduler ({where}) cannot be reached; retry later",
            headers={"Retry-After": str(self.settings.retry_after_seconds)},
        )

    def _connect(self) -> SweepStore:
        with self._lock:
            if self._store is not None and self._client.status == "running":
                return self._store
            if self._retrying is not None:  # failed already: a thread tries again
                raise self._unavailable()
            self._close()
            try:
                self._attach(*self._open())
            except (OSError, TimeoutError) as exc:
                logger.warning("cannot reach the Dask scheduler: %s", exc)
                self._retry_in_background()
                raise self._unavailable() from None
            assert self._store is not None
            return self._store

    def _attach(self, client: Any, cluster: Any) -> None:
        s = self.settings
        self._client, self._cluster = client, cluster
        self._store = SweepStore(client, ttl=s.sweep_ttl_seconds, max_active=s.max_active_sweeps)

    def _retry_in_background(self) -> None:
        """Start the thread that tries to connect until it can (under the lock)."""
        if self._retrying is None:
            self._retrying = stop = threading.Event()
            threading.Thread(target=self._retry, args=(stop,), daemon=True).start()

    def _retry(self, stop: threading.Event) -> None:
        interval = max(float(self.settings.retry_after_seconds), 0.5)
        while not stop.wait(interval):
            try:
                client, cluster = self._open()
            except (OSError, TimeoutError):
                continue
            with self._lock:
                if not stop.is_set():
                    self._close()
                    self._attach(client, cluster)
                    self._retrying = None
                    logger.info("reached the Dask scheduler again")
                    return
            for thing in (client, cluster):  # closed meanwhile: not needed any more
                if thing is not None:
                    _close_quietly(thing)
            return

    def _open(self) -> tuple[Any, Any]:
        from distributed import Client

        s = self.settings
        timeout = s.dask_connect_timeout_seconds
        if s.dask_scheduler:
            return Client(s.dask_scheduler, timeout=timeout, set_as_default=False), None
        if s.dask_local_port == 0:
            cluster = local_cluster(s.dask_workers, niceness=WORKER_NICENESS)
            return Client(cluster, set_as_default=False), cluster
        address = f"tcp://127.0.0.1:{s.dask_local_port}"
        try:  # another worker process of this server may have started it
            return Client(address, timeout=2, set_as_default=False), None
        except (OSError, TimeoutError):
            pass
        try:
            cluster = local_cluster(
                s.dask_workers, port=s.dask_local_port, niceness=WORKER_NICENESS
            )
        except OSError:  # it lost the race to bind the port: connect to the winner
            return Client(address, timeout=timeout, set_as_default=False), None
        logger.info("started a local Dask cluster at %s", address)
        return Client(cluster, set_as_default=False), cluster

    def _close(self) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = self._store = None
        for thing in (client, cluster):
            if thing is not None:
                _close_quietly(thing)

    def close(self) -> None:
        with self._lock:
            if self._retrying is not None:
                self._retrying.set()
                self._retrying = None
            self._close()


def _close_quietly(thing: Any) -> None:
    try:
        thing.close()
    except Exception:  # closing a broken connection
        logger.debug("closing %r failed", thing, exc_info=True)

"""Sweeps on Dask distributed: every ``(n, trial)`` a task, the state in the scheduler.

A :class:`SweepStore` wraps a ``distributed.Client``. :meth:`~SweepStore.submit`
sends one task per ``(n, trial)`` (:func:`rmtservice.sweeps.statistics.sweep_trial`, keys
``rmt-sweep-<id>-<n>-<trial>``) and publishes a dataset ``rmt-sweep-<id>`` in the
scheduler holding the plan and the task futures. Published datasets keep their
futures alive in the scheduler, whichever client made them: any process connected to
the same scheduler (another replica of the service, the same one after a restart, the
CLI) reads the sweep's status and partial results, and cancels it. Once every task has
finished, failed, or the sweep was cancelled, the dataset is replaced by one holding
the plain results (the futures released, the workers' memory freed); finished sweeps
are forgotten ``ttl`` seconds after they end.

A sweep is made final when it ends, read or not: one more task, ``rmt-sweep-<id>-end``,
depends on all its trials and returns the time it ran, so the scheduler knows when a
sweep has ended (that task in memory, or erred with a trial). The process that submitted
the sweep finalises it then (a callback on that task); should that process be gone,
the next submission or purge through any process finalises every sweep whose end task
is done (their ``finished`` time is still the end's), so ended sweeps never count as
active and their time to live runs from their end.

A sweep lives as long as its scheduler: a ``LocalCluster`` inside a server process
goes with that process.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from rmtservice._solve import check_scale, check_spikes
from rmtservice.errors import InvalidParameter, RMTError
from rmtservice.measures import Measure
from rmtservice.noise import GAUSSIAN, Noise
from rmtservice.sweeps.statistics import TrialStats, check_plan, check_trial_inputs, sweep_trial
from rmtservice.vocabulary import FINAL_STATES, SweepState

__all__ = [
    "SweepNotFound",
    "SweepPlan",
    "SweepStatus",
    "SweepStore",
    "SweepsBusy",
    "local_cluster",
    "renice",
]

PREFIX = "rmt-sweep-"
State = SweepState
FINAL = FINAL_STATES


class SweepsBusy(RMTError, RuntimeError):
    """As many sweeps as allowed are queued or running already."""

    slug = "overloaded"


class SweepNotFound(RMTError, KeyError):
    """No sweep of that id in the scheduler (never made, expired, or the scheduler
    restarted); ``args[0]`` is the id."""

    slug = "not-found"

    def __init__(self, sweep_id: str, ttl: float) -> None:
        super().__init__(
            f"no sweep {sweep_id!r}: never submitted, expired "
            f"(sweep_ttl_seconds = {ttl:g} after it ended), or its scheduler restarted"
        )
        self.args = (sweep_id,)

    def __str__(self) -> str:  # KeyError's would quote the message
        return self.message


@dataclass(frozen=True)
class SweepPlan:
    """What to run: the law, the noise, the sizes, trials per size, spikes and seed."""

    measure: Measure
    sigma2: float
    sizes: list[int]
    trials: int
    seed: int
    spikes: tuple[float, ...] = ()
    noise: Noise = GAUSSIAN

    def tasks(self) -> list[tuple[int, int]]:
        return [(n, t) for n in self.sizes for t in range(self.trials)]


@dataclass(frozen=True)
class SweepStatus:
    id: str
    state: State
    done: int
    failed: int
    total: int
    created: float
    finished: float | None
    results: list[TrialStats]
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def _identity(value: Any) -> Any:
    return value


def _ended(results: list[Any]) -> float:
    """The end task of a sweep: runs once every trial has a result; when it ran."""
    return time.time()


#: scheduler states in which a sweep's end task says the sweep has ended
_ENDED = ("memory", "erred", "forgotten")


def _task_states(keys: list[str], dask_scheduler: Any = None) -> dict[str, tuple[str, str | None]]:
    """Run in the scheduler (which passes itself as ``dask_scheduler``): each key's
    state and, when erred, its exception text."""
    out: dict[str, tuple[str, str | None]] = {}
    for k in keys:
        ts = dask_scheduler.tasks.get(k)
        if ts is None:
            out[k] = ("forgotten", None)
            continue
        blame = getattr(ts, "exception_blame", None) or ts
        out[k] = (ts.state, getattr(blame, "exception_text", None) or None)
    return out


class SweepStore:
    """Submit, inspect and cancel sweeps through one ``distributed.Client``."""

    def __init__(self, client: Any, *, ttl: float = 86_400.0, max_active: int = 8) -> None:
        self.client = client
        self.ttl = ttl
        self.max_active = max_active
        self._lock = threading.Lock()

    # -------------------------------------------------------------- submit
    def submit(self, plan: SweepPlan, meta: dict[str, Any] | None = None) -> SweepStatus:
        check_trial_inputs(plan.sigma2)
        # what every task's simulation would refuse, refused before any is sent
        check_scale(plan.measure, plan.sigma2)
        check_spikes(np.asarray(plan.spikes, dtype=float), plan.sigma2)
        sizes = check_plan(plan.sizes, plan.trials, plan.spikes)
        if sizes != list(plan.sizes):
            raise InvalidParameter("sizes must be increasing and distinct", field="sizes")
        self.purge()  # (which finalises the sweeps that ended unread)
        active = sum(1 for r in self._records() if r["state"] not in FINAL)
        if active >= self.max_active:
            raise SweepsBusy(
                f"{active} sweeps are queued or running, the most allowed at once is "
                f"{self.max_active}; retry when one has ended"
            )
        sid = uuid.uuid4().hex
        c = self.client
        measure = c.submit(_identity, plan.measure, key=f"{PREFIX}{sid}-measure", pure=False)
        futures = [
            c.submit(
                sweep_trial,
                measure,
                plan.sigma2,
                n,
                t,
                seed=plan.seed,
                spikes=plan.spikes,
                noise=plan.noise,
                key=f"{PREFIX}{sid}-{n}-{t}",
                pure=False,
                # small sizes first: partial results come early for every n
                priority=-n,
                retries=1,
            )
            for n, t in plan.tasks()
        ]
        end = c.submit(_ended, futures, key=f"{PREFIX}{sid}-end", pure=False)
        record = {
            "id": sid,
            "state": "queued",
            "created": time.time(),
            "finished": None,
            "meta": dict(meta or {}),
            "total": len(futures),
            "futures": futures,
            "measure": measure,
            "end": end,
            "results": [],
            "error": None,
            "failed": 0,
        }
        c.publish_dataset(**{PREFIX + sid: record})
        end.add_done_callback(partial(self._finalise, sid))
        return self._status(record, [], 0)

    def _finalise(self, sid: str, end: Any) -> None:
        """Make an ended sweep final (the end task's callback, in a thread of the client).
        Cancelled: whoever cancelled it made it final. Another process may have done it
        already, or the scheduler be gone: nothing to do."""
        if end.status == "cancelled":
            return
        try:
            self.status(sid)
        except Exception:  # a callback has no caller to tell
            pass

    # -------------------------------------------------------------- read
    def status(self, sid: str) -> SweepStatus:
        """State, progress and the results of the tasks finished so far."""
        record = self._get(sid)
        if record["state"] in FINAL:
            return self._status(record, record["results"], int(record["failed"]))
        states, results = self._snapshot(record)
        kinds = [s for s, _ in states.values()]
        if all(s == "memory" for s in kinds):
            return self._finish(record, "done", None)
        if "forgotten" in kinds:
            # another process may have just ended it (its results moved into the dataset)
            fresh = self._get(sid)
            if fresh["state"] in FINAL:
                return self._status(fresh, fresh["results"], int(fresh["failed"]))
        if any(s in ("erred", "forgotten") for s in kinds):
            errors = [e for s, e in states.values() if s == "erred" and e]
            why = errors[0][:300] if errors else "the scheduler lost the sweep's tasks"
            return self._finish(record, "failed", f"a task failed: {why}")
        running = any(s in ("processing", "memory") for s in kinds)
        return self._status({**record, "state": "running" if running else "queued"}, results, 0)

    def cancel(self, sid: str) -> SweepStatus:
        record = self._get(sid)
        if record["state"] in FINAL:
            return self._status(record, record["results"], int(record["failed"]))
        return self._finish(record, "cancelled", None)

    def ids(self) -> list[str]:
        return [name[len(PREFIX) :] for name in self.client.list_datasets() if _ours(name)]

    def purge(self) -> None:
        """Make final the sweeps that ended unread (their submitter gone), then forget
        finished sweeps ``ttl`` seconds after they ended."""
        records = self._records()
        running = [r for r in records if r["state"] not in FINAL and r.get("end") is not None]
        if running:
            ends = [r["end"].key for r in running]
            states = self.client.run_on_scheduler(_task_states, ends)
            for r in running:
                if states[r["end"].key][0] in _ENDED:
                    self.status(r["id"])
            records = self._records()
        now = time.time()
        for record in records:
            if record["state"] in FINAL and now - (record["finished"] or now) > self.ttl:
                self.client.unpublish_dataset(PREFIX + record["id"])

    # -------------------------------------------------------------- helpers
    def _records(self) -> list[dict[str, Any]]:
        out = []
        for sid in self.ids():
            try:
                out.append(self._get(sid))
            except SweepNotFound:
                continue  # removed in the meantime by another process
        return out

    def _get(self, sid: str) -> dict[str, Any]:
        if not sid or any(ch not in "0123456789abcdef" for ch in sid) or len(sid) != 32:
            raise SweepNotFound(sid, self.ttl)
        try:
            record: dict[str, Any] = self.client.get_dataset(PREFIX + sid)
        except KeyError as exc:
            raise SweepNotFound(sid, self.ttl) from exc
        return record

    def _snapshot(
        self, record: dict[str, Any]
    ) -> tuple[dict[str, tuple[str, str | None]], list[TrialStats]]:
        futures = record["futures"]
        states = self.client.run_on_scheduler(_task_states, [f.key for f in futures])
        ready = [f for f in futures if states[f.key][0] == "memory"]
        results = self.client.gather(ready, errors="skip") if ready else []
        return states, results

    def _finish(self, record: dict[str, Any], state: State, error: str | None) -> SweepStatus:
        """Replace the futures by their results (what finished) and release the rest."""
        with self._lock:
            states, results = self._snapshot(record)
            failed = sum(1 for s, _ in states.values() if s == "erred")
            final = {
                **record,
                "state": state,
                "finished": self._end_time(record),
                "futures": [],
                "measure": None,
                "end": None,
                "results": results,
                "error": error,
                "failed": failed,
            }
            # override releases the published futures; cancel stops what still runs
            self.client.publish_dataset(override=True, **{PREFIX + record["id"]: final})
            if state != "done":
                # (the end task goes with them: it depends on every trial)
                rest = [f for f in record["futures"] if states[f.key][0] != "memory"]
                self.client.cancel(rest, force=True)
            return self._status(final, results, failed)

    def _end_time(self, record: dict[str, Any]) -> float:
        """When the sweep's last trial ended (its end task's time), else now."""
        end = record.get("end")
        if end is not None:
            state = self.client.run_on_scheduler(_task_states, [end.key])[end.key][0]
            if state == "memory":
                return float(self.client.gather(end))
        return time.time()

    @staticmethod
    def _status(record: dict[str, Any], results: list[TrialStats], failed: int) -> SweepStatus:
        return SweepStatus(
            id=record["id"],
            state=record["state"],
            done=len(results),
            failed=failed,
            total=int(record["total"]),
            created=float(record["created"]),
            finished=record["finished"],
            results=sorted(results, key=lambda r: (r.n, r.trial)),
            meta=record["meta"],
            error=record["error"],
        )


def _ours(name: Any) -> bool:
    return isinstance(name, str) and name.startswith(PREFIX)


def renice(niceness: int) -> None:
    """Every thread of this process at nice ``niceness`` at least. (Linux keeps a nice
    value per thread, and a new thread takes its creator's: ``os.nice`` in one thread
    leaves the others, a Dask worker's task threads among them, as they were.)"""
    tasks = "/proc/self/task"
    if not os.path.isdir(tasks):
        os.nice(max(niceness - os.nice(0), 0))
        return
    for tid in map(int, os.listdir(tasks)):
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < niceness:
                os.setpriority(os.PRIO_PROCESS, tid, niceness)
        except OSError:  # the thread ended meanwhile
            continue


def _niceness_plugin(niceness: int) -> Any:
    """A worker plugin that renices each worker, those that start later too."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class Niceness(WorkerPlugin):  # (pickled by value: defined here, distributed lazily)
        name = "rmt-niceness"

        def setup(self, worker: Any) -> None:
            renice(niceness)

    return Niceness()


def local_cluster(workers: int, *, port: int = 0, niceness: int = 0) -> Any:
    """A ``LocalCluster`` on 127.0.0.1: ``workers`` processes of one thread each (one
    BLAS thread: trials in parallel rather than threads inside LAPACK), no dashboard.
    With ``niceness``, its workers run at that nice value (as a server's compute
    processes do, so that sweeps leave the CPU to the requests)."""
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        scheduler_port=port,
        dashboard_address="127.0.0.1:0",
    )
    if niceness:
        with Client(cluster, set_as_default=False) as client:
            client.register_plugin(_niceness_plugin(niceness))
    return cluster

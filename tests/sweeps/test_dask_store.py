"""SweepStore on a real 2-worker Dask LocalCluster (127.0.0.1): state in the scheduler."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose

import rmtservice as rs
from rmtservice.sweeps.statistics import sweep_trial
from rmtservice.sweeps.store import (
    PREFIX,
    SweepNotFound,
    SweepPlan,
    SweepsBusy,
    SweepStatus,
    SweepStore,
)

UNIFORM = rs.Uniform(-1.0, 1.0)


class Broken(rs.Uniform):
    """A law whose quantiles fail inside the tasks (not at submission)."""

    def midpoint_quantiles(self, n: int) -> Any:
        raise ValueError("broken on purpose")


def _wait(store: SweepStore, sid: str, timeout: float = 60.0) -> SweepStatus:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        status = store.status(sid)
        if status.state in ("done", "failed", "cancelled"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"sweep {sid} did not end in {timeout} s")


def _tasks_left(client: Any, sid: str) -> list[str]:
    def keys(dask_scheduler: Any = None) -> list[str]:
        return [str(k) for k in dask_scheduler.tasks]

    return [k for k in client.run_on_scheduler(keys) if sid in k]


def test_results_do_not_depend_on_scheduling(dask_client: Any) -> None:
    """Two workers, tasks in any order: each task equals the same task run here."""
    plan = SweepPlan(UNIFORM, 1.0, [60, 120, 240], 3, seed=9, spikes=(3.0, 2.0))
    store = SweepStore(dask_client)
    started = store.submit(plan, {"note": "x"})
    assert started.state == "queued" and started.total == 9 and started.done == 0
    done = _wait(store, started.id)
    assert done.state == "done" and done.done == 9 and done.failed == 0
    assert done.meta == {"note": "x"} and done.finished is not None
    assert [(r.n, r.trial) for r in done.results] == plan.tasks()
    for r in done.results:
        here = sweep_trial(UNIFORM, 1.0, r.n, r.trial, seed=9, spikes=(3.0, 2.0))
        assert r.seed == here.seed
        # another process, one BLAS thread: the same draw, eigenvalues to LAPACK rounding
        assert_allclose(r.observed, here.observed, rtol=1e-12)
        assert r.kolmogorov == pytest.approx(here.kolmogorov, abs=1e-12)
    assert _tasks_left(dask_client, started.id) == []  # results moved into the dataset


def test_another_client_reads_and_cancels(cluster: Any, dask_client: Any) -> None:
    """What a second replica (its own connection to the scheduler) sees and does."""
    from distributed import Client

    mine = SweepStore(dask_client)
    plan = SweepPlan(UNIFORM, 1.0, [100, 1500], 6, seed=1, spikes=(3.0,))
    sid = mine.submit(plan).id
    with Client(cluster.scheduler_address, set_as_default=False) as other_client:
        other = SweepStore(other_client)
        assert sid in other.ids()
        deadline = time.monotonic() + 60
        while (seen := other.status(sid)).done < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert seen.state == "running" and 6 <= seen.done < 12
        assert all(r.n == 100 for r in seen.results[:6])  # small sizes go first
        cancelled = other.cancel(sid)
    assert cancelled.state == "cancelled"
    assert cancelled.done == len(cancelled.results) >= 6
    again = mine.status(sid)  # the first client sees the same final record
    assert again.state == "cancelled" and again.results == cancelled.results
    assert mine.cancel(sid).state == "cancelled"  # cancelling again changes nothing
    time.sleep(0.5)
    assert _tasks_left(dask_client, sid) == []


def test_a_failing_task_fails_the_sweep_with_its_message(dask_client: Any) -> None:
    store = SweepStore(dask_client)
    sid = store.submit(SweepPlan(Broken(-1.0, 1.0), 1.0, [50, 60], 2, seed=1)).id
    status = _wait(store, sid)
    assert status.state == "failed"
    assert status.error is not None and "broken on purpose" in status.error
    assert status.results == []


def test_unknown_ids_and_limits(dask_client: Any) -> None:
    store = SweepStore(dask_client, max_active=1)
    for sid in ("0" * 32, "not-an-id", ""):
        with pytest.raises(SweepNotFound):
            store.status(sid)
    with pytest.raises(rs.InvalidParameter, match="increasing and distinct"):
        store.submit(SweepPlan(UNIFORM, 1.0, [200, 100], 1, seed=1))
    with pytest.raises(rs.InvalidParameter, match="sigma2"):
        store.submit(SweepPlan(UNIFORM, -1.0, [100], 1, seed=1))
    first = store.submit(SweepPlan(UNIFORM, 1.0, [1200], 4, seed=1))
    with pytest.raises(SweepsBusy, match="most allowed at once is 1"):
        store.submit(SweepPlan(UNIFORM, 1.0, [100], 1, seed=1))
    store.cancel(first.id)


def test_finished_sweeps_expire(dask_client: Any) -> None:
    store = SweepStore(dask_client, ttl=0.2)
    sid = store.submit(SweepPlan(UNIFORM, 1.0, [20], 1, seed=1)).id
    assert _wait(store, sid).state == "done"
    time.sleep(0.3)
    store.purge()
    assert sid not in store.ids()
    assert PREFIX + sid not in dask_client.list_datasets()
    with pytest.raises(SweepNotFound):
        store.status(sid)


def test_seed_changes_the_draws(dask_client: Any) -> None:
    store = SweepStore(dask_client)
    a = _wait(store, store.submit(SweepPlan(UNIFORM, 1.0, [50], 2, seed=1)).id)
    b = _wait(store, store.submit(SweepPlan(UNIFORM, 1.0, [50], 2, seed=2)).id)
    assert [r.seed for r in a.results] != [r.seed for r in b.results]
    assert not np.allclose([r.kolmogorov for r in a.results], [r.kolmogorov for r in b.results])


def _record(client: Any, sid: str) -> dict[str, Any]:
    """The published record as it is, without reading the sweep (which would finalise it)."""
    record: dict[str, Any] = client.get_dataset(PREFIX + sid)
    return record


def _end_state(client: Any, sid: str) -> str:
    def state(dask_scheduler: Any = None) -> str:
        ts = dask_scheduler.tasks.get(f"{PREFIX}{sid}-end")
        return "forgotten" if ts is None else str(ts.state)

    return str(client.run_on_scheduler(state))


def test_sweeps_are_final_when_they_end_unread(dask_client: Any) -> None:
    """Issue 13, item 3: finished sweeps counted as active until someone read them (8
    unread ones refused the 9th), and their time to live started at that first read."""
    store = SweepStore(dask_client, max_active=2)
    sids = [store.submit(SweepPlan(UNIFORM, 1.0, [20, 40], 1, seed=s)).id for s in (1, 2)]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(_record(dask_client, sid)["state"] == "done" for sid in sids):
            break
        time.sleep(0.1)
    records = [_record(dask_client, sid) for sid in sids]
    assert [r["state"] for r in records] == ["done", "done"]
    assert all(r["finished"] is not None and r["futures"] == [] for r in records)
    third = store.submit(SweepPlan(UNIFORM, 1.0, [20], 1, seed=3))  # not busy
    _wait(store, third.id)
    for sid in sids:
        assert _tasks_left(dask_client, sid) == []


def test_a_sweep_whose_submitter_is_gone_ends_and_expires_unread(
    cluster: Any, dask_client: Any
) -> None:
    """The submitting process (and its callback) gone, the next submission through
    another one finalises the ended sweep, with the time it ended: it is not active,
    and it expires ``ttl`` after its end, unread."""
    from distributed import Client

    with Client(cluster.scheduler_address, set_as_default=False) as gone:
        sid = SweepStore(gone).submit(SweepPlan(UNIFORM, 1.0, [20, 30], 1, seed=4)).id
    deadline = time.monotonic() + 60
    while _end_state(dask_client, sid) != "memory" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _end_state(dask_client, sid) == "memory"
    ended = time.time()
    assert _record(dask_client, sid)["state"] == "queued"  # nobody finalised it yet
    time.sleep(0.5)
    # a ttl long enough for the submission and the read below on a loaded machine (at 1 s
    # the sweep could expire, counted from its end, before it was read back)
    ttl = 5.0
    store = SweepStore(dask_client, max_active=1, ttl=ttl)
    other = store.submit(SweepPlan(UNIFORM, 1.0, [20], 1, seed=5))  # not busy
    record = _record(dask_client, sid)
    assert record["state"] == "done" and record["finished"] <= ended
    time.sleep(max(0.0, ended + ttl - time.time()) + 0.5)
    store.purge()
    assert sid not in store.ids()
    _wait(store, other.id)

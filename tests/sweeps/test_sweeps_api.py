"""/v1/sweeps over HTTP: two apps ("replicas") sharing one Dask scheduler."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

import rmtservice as rs
from app.main import create_app
from app.runtime.compute import WORKER_NICENESS
from app.runtime.sweeps import Sweeps
from app.settings import Settings
from rmtservice.sweeps.statistics import sweep_trial, trial_seed
from rmtservice.sweeps.store import local_cluster

from ..api._support import assert_problem, field_paths

pytestmark = pytest.mark.anyio

UNIFORM = {"kind": "uniform", "low": -1.0, "high": 1.0}
BODY = {
    "measure": UNIFORM,
    "noise": {"sigma2": 1.0},
    "sizes": [60, 120, 240],
    "trials": 3,
    "spikes": [3.0],
    "seed": 4,
}


@asynccontextmanager
async def replica(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(**({"executor": "thread", "access_log": False} | overrides)))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def _wait(client: httpx.AsyncClient, sid: str, query: str = "") -> dict[str, Any]:
    for _ in range(600):
        r = await client.get(f"/v1/sweeps/{sid}{query}")
        assert r.status_code == 200, r.text
        if r.json()["state"] in ("done", "failed", "cancelled"):
            return r.json()
        await asyncio.sleep(0.1)
    raise AssertionError("the sweep did not end")


async def test_one_replica_starts_another_answers(cluster: Any) -> None:
    address = cluster.scheduler_address
    async with replica(dask_scheduler=address) as a, replica(dask_scheduler=address) as b:
        r = await a.post("/v1/sweeps", json=BODY)
        assert r.status_code == 202, r.text
        started = r.json()
        sid = started["id"]
        assert r.headers["location"] == f"/v1/sweeps/{sid}"
        assert started["state"] == "queued"
        assert started["progress"] == {"done": 0, "failed": 0, "total": 9}
        echo = started["request"]  # the request, defaults filled in
        assert echo == BODY | {"noise": echo["noise"]}
        assert echo["noise"]["sigma2"] == 1.0 and echo["noise"]["distribution"] == "gaussian"
        out = await _wait(b, sid, "?trials=true")
    assert out["state"] == "done" and out["progress"]["done"] == 9
    assert out["finished"] is not None and out["finished"] >= out["created"]
    assert [s["n"] for s in out["sizes"]] == [60, 120, 240]
    assert set(out["fits"]) == {"outlier_error", "edge_error", "kolmogorov"}
    assert out["fits"]["kolmogorov"]["reference"] == -1.0
    assert out["fits"]["kolmogorov"]["sizes"] == 3
    rows = out["trials"]
    assert [(t["n"], t["trial"]) for t in rows] == [
        (n, k) for n in (60, 120, 240) for k in range(3)
    ]
    first = rows[0]
    assert first["seed"] == trial_seed(4, 60, 0)
    here = sweep_trial(rs.Uniform(-1, 1), 1.0, 60, 0, seed=4, spikes=[3.0])
    assert first["kolmogorov"] == pytest.approx(here.kolmogorov, abs=1e-12)
    assert first["outlier_error"] == pytest.approx(here.outlier_error, abs=1e-12)
    # the per-size mean is the mean of the rows
    ks60 = [t["kolmogorov"] for t in rows if t["n"] == 60]
    assert out["sizes"][0]["kolmogorov"]["mean"] == pytest.approx(sum(ks60) / 3)


async def test_cancel_through_another_replica_keeps_what_finished(cluster: Any) -> None:
    address = cluster.scheduler_address
    body = BODY | {"sizes": [50, 1500], "trials": 8}
    async with replica(dask_scheduler=address) as a, replica(dask_scheduler=address) as b:
        sid = (await a.post("/v1/sweeps", json=body)).json()["id"]
        for _ in range(600):
            seen = (await b.get(f"/v1/sweeps/{sid}")).json()
            if seen["progress"]["done"] >= 8:
                break
            await asyncio.sleep(0.05)
        r = await b.post(f"/v1/sweeps/{sid}/cancel")
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["state"] == "cancelled"
        assert 8 <= out["progress"]["done"] < 16
        assert out["sizes"][0]["n"] == 50 and out["sizes"][0]["trials"] == 8
        again = (await a.get(f"/v1/sweeps/{sid}")).json()
        assert again["state"] == "cancelled" and again["sizes"] == out["sizes"]


async def test_plot_of_a_sweep(cluster: Any) -> None:
    async with replica(dask_scheduler=cluster.scheduler_address) as c:
        sid = (await c.post("/v1/sweeps", json=BODY | {"trials": 1})).json()["id"]
        await _wait(c, sid)
        png = await c.get(f"/v1/sweeps/{sid}/plot")
        svg = await c.get(f"/v1/sweeps/{sid}/plot?format=svg")
        again = await c.get(f"/v1/sweeps/{sid}/plot")
        metrics = (await c.get("/metrics")).text
    # the pictures' computations count under their route, not <unmatched>
    assert 'rmt_compute_seconds_count{route="/v1/sweeps/{sweep_id}/plot"} 3' in metrics
    assert not [line for line in metrics.splitlines() if "<unmatched>" in line]
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG") and png.content == again.content
    assert svg.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in svg.content


async def test_refusals(cluster: Any) -> None:
    settings = {"dask_scheduler": cluster.scheduler_address, "max_sweep_n": 500}
    async with replica(**settings, max_sweep_tasks=10) as c:
        r = await c.get(f"/v1/sweeps/{'0' * 32}")
        assert_problem(r, 404, "not-found", "no sweep '000")
        for path in ("/v1/sweeps/nope", "/v1/sweeps/nope/plot"):
            body = assert_problem(await c.get(path), 422, "validation-error")
            assert field_paths(body) == ["/path/sweep_id"]
        assert_problem(await c.post(f"/v1/sweeps/{'a' * 32}/cancel"), 404, "not-found")
        cases = [
            ({"sizes": [100, 100]}, 422, "validation-error", "increasing and distinct"),
            ({"sizes": [1]}, 422, "validation-error", "greater than or equal to 2"),
            ({"sizes": []}, 422, "validation-error", None),
            ({"trials": 0}, 422, "validation-error", None),
            ({"sizes": [100, 600]}, 422, "limit-exceeded", "n = 600 is over the limit 500"),
            ({"trials": 4}, 422, "limit-exceeded", "3 sizes x 4 trials = 12 tasks"),
            ({"spikes": [1.0] * 60}, 422, "validation-error", "60 spikes need every size"),
            ({"noise": {"sigma2": 0}}, 422, "validation-error", None),
            (
                {"measure": {"kind": "matrix", "entries": [[1.0]]}},
                422,
                "validation-error",
                "not one matrix",
            ),
            ({"extra": 1}, 422, "validation-error", None),
        ]
        for change, status, slug, detail in cases:
            assert_problem(await c.post("/v1/sweeps", json=BODY | change), status, slug, detail)
        r = await c.post(
            "/v1/sweeps",
            content=b'{"sizes": [1, 2], "sizes": [3]}',
            headers={"content-type": "application/json"},
        )
        assert_problem(r, 400, "malformed-json")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_scheduler_out_of_reach_is_a_503() -> None:
    where = f"tcp://127.0.0.1:{_free_port()}"
    async with replica(dask_scheduler=where, dask_connect_timeout_seconds=0.5) as c:
        r = await c.post("/v1/sweeps", json=BODY)
        body = assert_problem(r, 503, "scheduler-unavailable", f"({where}) cannot be reached")
        assert r.headers["retry-after"] == "5"
        assert "Traceback" not in body["detail"]
        r = await c.get(f"/v1/sweeps/{'0' * 32}")
        assert_problem(r, 503, "scheduler-unavailable")


async def test_default_local_cluster_shared_through_a_fixed_port() -> None:
    """No scheduler configured: the first app starts a LocalCluster on the port, the
    second connects to it; both see the same sweep. Stopped with the first app."""
    port = _free_port()
    async with replica(dask_local_port=port, dask_workers=1) as a:
        sid = (await a.post("/v1/sweeps", json=BODY | {"trials": 1})).json()["id"]
        async with replica(dask_local_port=port, dask_workers=1) as b:
            out = await _wait(b, sid)
        assert out["state"] == "done"
        assert (await a.get(f"/v1/sweeps/{sid}")).json()["state"] == "done"
    with socket.socket() as s:  # the cluster went with the app that started it
        assert s.connect_ex(("127.0.0.1", port)) != 0


async def test_a_sweep_outlives_the_replica_that_started_it(cluster: Any) -> None:
    """The replica that submitted stops (its Dask client closes) at once: the tasks go on
    (the published dataset holds them) and a replica started afterwards reads them."""
    address = cluster.scheduler_address
    async with replica(dask_scheduler=address) as a:
        sid = (await a.post("/v1/sweeps", json=BODY | {"sizes": [400, 800]})).json()["id"]
    async with replica(dask_scheduler=address) as b:
        out = await _wait(b, sid)
    assert out["state"] == "done" and out["progress"] == {"done": 6, "failed": 0, "total": 6}


async def test_an_unreachable_scheduler_fails_fast_and_is_tried_again() -> None:
    """Issue 13, item 7: every request waited the connect timeout in turn behind a lock
    (four requests: 10, 10, 20, 20 s). One attempt is waited for; then 503 at once,
    while a thread tries again, and finds the scheduler once it is there."""
    port = _free_port()
    where = f"tcp://127.0.0.1:{port}"
    settings = {"dask_connect_timeout_seconds": 2.0, "retry_after_seconds": 1}
    async with replica(dask_scheduler=where, **settings) as c:
        path = f"/v1/sweeps/{'0' * 32}"
        start = time.monotonic()
        answers = await asyncio.gather(*(c.get(path) for _ in range(4)))
        first = time.monotonic() - start
        for r in answers:
            assert_problem(r, 503, "scheduler-unavailable")
        assert first < 3.5, f"four requests took {first:.1f} s (one attempt is 2 s)"
        start = time.monotonic()
        assert_problem(await c.get(path), 503, "scheduler-unavailable")
        assert time.monotonic() - start < 0.5
        cluster = await asyncio.to_thread(local_cluster, 1, port=port)
        try:
            for _ in range(100):  # the background attempt comes every second
                r = await c.get(path)
                if r.status_code != 503:
                    break
                await asyncio.sleep(0.1)
            assert_problem(r, 404, "not-found")
        finally:
            await asyncio.to_thread(cluster.close)


def _nice_of_this_thread() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def _least_nice_thread() -> int:
    tasks = os.listdir("/proc/self/task")
    return min(os.getpriority(os.PRIO_PROCESS, int(t)) for t in tasks)


def test_the_local_cluster_runs_at_the_compute_processes_niceness() -> None:
    """Issue 13, item 6: Dask workers ran at normal priority beside compute processes at
    nice 10 (a /v1/simulate of n = 1000 took 2.8 s instead of 0.3 s during sweeps).
    Every thread of each worker, that of its tasks too, also after a restart."""
    sweeps = Sweeps(Settings(dask_workers=1))
    try:
        store = sweeps._connect()
        client = store.client
        for _ in range(2):
            assert client.submit(_nice_of_this_thread, pure=False).result() >= WORKER_NICENESS
            assert min(client.run(_least_nice_thread).values()) >= WORKER_NICENESS
            client.restart()
    finally:
        sweeps.close()

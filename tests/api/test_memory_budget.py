"""The memory budget of simulations: 422 for one request over it, 503 when the
requests in flight together would pass it."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import httpx
import pytest

from app.runtime.limits import memory_estimate
from app.settings import Settings
from rmtservice.wire import service
from rmtservice.wire.schemas import PlotRequest, SimulateRequest

from ._support import NOISE, POINT, assert_problem, field_paths, serve

pytestmark = pytest.mark.anyio

MB = 10**6


def sim(**fields: Any) -> dict[str, Any]:
    return {"measure": POINT, "noise": NOISE, "n": 500, "seed": 1, "top": 2} | fields


def test_estimate() -> None:
    settings = Settings(trial_workers=4)
    one = Settings()

    def total(s: Settings, **fields: Any) -> int:
        est = memory_estimate(SimulateRequest.model_validate(sim(**fields)), s)
        assert est is not None
        return est.total

    full = {"top": None}
    assert total(one, n=4000, **full) == 8 * 4000**2  # LAPACK in place, one trial at a time
    assert total(one, n=4000, dtype="float32", **full) == 4 * 4000**2
    assert total(one, n=1000, top=3) == 2 * 8 * 1000**2
    assert total(one, n=1000, eigenvectors=True, **full) == 5 * 8 * 1000**2
    # parallel trials: a copy each, as many as run at once
    assert total(settings, n=1000, trials=10, **full) == 4 * 2 * 8 * 1000**2
    assert total(settings, n=1000, trials=2, **full) == 2 * 2 * 8 * 1000**2
    plot = PlotRequest.model_validate({"measure": POINT, "noise": NOISE, "simulate": {"n": 800}})
    est = memory_estimate(plot, one)
    assert est is not None and est.total == 8 * 800**2
    no_sim = PlotRequest.model_validate({"measure": POINT, "noise": NOISE})
    assert memory_estimate(no_sim, one) is None


async def test_one_request_over_the_budget_is_422() -> None:
    # a generous deadline: a loaded machine must not turn the 200s below into 503s
    async with serve(memory_budget_bytes=100 * MB, deadline_seconds=120) as c:
        r = await c.post("/v1/simulate", json=sim(n=4000, top=None))
        body = assert_problem(r, 422, "limit-exceeded", "n = 4000 needs about 128 MB per trial")
        assert "over the memory budget of 100 MB" in body["detail"]
        assert field_paths(body) == ["/n"]
        # float32 halves the buffer: n = 3000 takes 36 MB
        r = await c.post("/v1/simulate", json=sim(n=3000, dtype="float32", top=None, trials=1))
        assert r.status_code == 200, r.text
        r = await c.post(
            "/v1/plot",
            json={"measure": POINT, "noise": NOISE, "simulate": {"n": 4000}, "format": "svg"},
        )
        body = assert_problem(r, 422, "limit-exceeded", "n = 4000 needs about 128 MB")
        assert field_paths(body) == ["/simulate/n"]
        info = (await c.get("/v1/info")).json()
        assert info["limits"]["memory_budget_bytes"] == 100 * MB


async def test_eigenvectors_count_five_buffers() -> None:
    async with serve(memory_budget_bytes=30 * MB) as c:
        r = await c.post("/v1/simulate", json=sim(n=1000, eigenvectors=True, top=None))
        assert_problem(r, 422, "limit-exceeded", "needs about 40 MB per trial")


async def test_budget_shared_by_requests_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    started = threading.Event()
    real = service.simulate

    def held(req: SimulateRequest, **kw: Any) -> Any:
        started.set()
        assert release.wait(30)
        return real(req, **kw)

    monkeypatch.setattr(service, "simulate", held)
    # 500 x 500 float64 with top (a copy): 4 MB each; two fit in 9 MB, three do not
    async with serve(memory_budget_bytes=9 * MB, workers=4, retry_after_seconds=7) as c:
        answers: list[httpx.Response] = []

        async def first() -> None:
            answers.append(await c.post("/v1/simulate", json=sim()))

        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            tg.start_soon(first)
            with anyio.fail_after(10):
                while not started.is_set():
                    await anyio.sleep(0.01)
                await anyio.sleep(0.05)
            metrics = (await c.get("/metrics")).text
            assert "rmt_memory_reserved_bytes 8000000" in metrics
            r = await c.post("/v1/simulate", json=sim())
            assert_problem(r, 503, "overloaded", "memory budget")
            assert r.headers["retry-after"] == "7"
            # a small one still fits beside them, and requests without simulation pass
            small = await c.post("/v1/support", json={"measure": POINT, "noise": NOISE})
            assert small.status_code == 200
            release.set()
        assert [a.status_code for a in answers] == [200, 200]
        assert "rmt_memory_reserved_bytes 0" in (await c.get("/metrics")).text
        assert (await c.post("/v1/simulate", json=sim())).status_code == 200


async def test_reservation_released_after_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(req: SimulateRequest, **kw: Any) -> Any:
        raise RuntimeError("no")

    monkeypatch.setattr(service, "simulate", boom)
    async with serve(memory_budget_bytes=5 * MB) as c:
        for _ in range(3):
            assert_problem(await c.post("/v1/simulate", json=sim()), 500, "internal-error")
        assert "rmt_memory_reserved_bytes 0" in (await c.get("/metrics")).text

"""Smoke test against a real uvicorn on 127.0.0.1 (worker processes, as deployed).

The server is started on a free port as a subprocess and stopped in teardown; its
worker processes exit with it.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from rmtservice.wire import service
from rmtservice.wire.schemas import OutliersRequest
from tests._server import uvicorn

POINT = {"kind": "point", "at": 0.0}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    env = {"RMT_WORKERS": "2", "RMT_DEADLINE_SECONDS": "2", "RMT_EXECUTOR": "process"}
    with uvicorn(env) as base:
        yield base


def test_smoke(server: str) -> None:
    with httpx.Client(base_url=server, timeout=30) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        r = c.post(
            "/v1/outliers",
            json={"measure": POINT, "noise": {"sigma2": 1.0}, "spikes": [2.0]},
            headers={"x-request-id": "smoke-1"},
        )
        assert r.status_code == 200
        assert r.headers["x-request-id"] == "smoke-1"
        assert "compute;dur=" in r.headers["server-timing"]
        assert r.json()["outliers"][0]["location"] == 2.5
        r = c.post(
            "/v1/support", content=b'{"noise": NaN}', headers={"content-type": "application/json"}
        )
        assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"
        r = c.post(
            "/v1/support", content=b"x" * 5_000_000, headers={"content-type": "application/json"}
        )
        assert r.status_code == 413
        assert c.get("/docs").status_code == 200
        assert (
            'rmt_http_requests_total{method="POST",route="/v1/outliers",status="200"} 1'
            in c.get("/metrics").text
        )


def test_pool_and_inline_answers_equal_the_core(server: str) -> None:
    """300 atoms go to a worker process (over inline_max_cost), 20 stay in the server;
    asked twice, the second answer comes from a support cache: all equal the core's."""
    for n in (300, 20):
        body = {
            "measure": {"kind": "atoms", "values": [0.01 * i * i for i in range(n)]},
            "noise": {"sigma2": 0.01},
            "spikes": [1000.0, -1.0, 0.5],
        }
        expected = service.outliers(OutliersRequest.model_validate(body)).model_dump(mode="json")
        with httpx.Client(base_url=server, timeout=30) as c:
            for _ in range(3):
                r = c.post("/v1/outliers", json=body)
                assert r.status_code == 200, r.text
                assert r.json() == expected


def test_chunked_body_over_the_limit_is_refused(server: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"measure": {"kind": "atoms", "values": ['
        for _ in range(1_000):
            yield b"0.123456789, " * 5000

    with httpx.Client(base_url=server, timeout=30) as c:
        r = c.post("/v1/support", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert r.json()["type"] == "/problems/body-too-large"


def test_deadline_gives_503_and_healthz_stays_fast(server: str) -> None:
    """Two simulations at once that LAPACK's speed lets start (about 1.1 s of it each,
    the deadline is 2 s): each answered, 200 or 503, within a second of the deadline
    (a worker still computing half a second after it is killed), while /healthz answers
    at once. One that cannot fit (100 trials of n = 800: 3.6 s of LAPACK) is refused
    before it starts."""
    heavy = {
        "measure": {"kind": "uniform", "low": -1.0, "high": 1.0},
        "noise": {"sigma2": 1.0},
        "n": 2500,
        "seed": 1,
    }
    answers: list[tuple[httpx.Response, float]] = []

    def post() -> None:
        with httpx.Client(base_url=server, timeout=60) as c:
            start = time.perf_counter()
            r = c.post("/v1/simulate", json=heavy)
            answers.append((r, time.perf_counter() - start))

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    latencies = []
    with httpx.Client(base_url=server, timeout=5) as c:
        while any(t.is_alive() for t in threads):
            start = time.perf_counter()
            assert c.get("/healthz").status_code == 200
            latencies.append(time.perf_counter() - start)
            time.sleep(0.02)
    for t in threads:
        t.join()
    for r, seconds in answers:
        assert r.status_code in (200, 503), r.text
        if r.status_code == 503:
            assert r.headers["retry-after"]
            assert r.json()["type"] == "/problems/deadline-exceeded"
        assert seconds < 2 + 1.0, seconds
    assert len(latencies) >= 10
    assert statistics.median(latencies) < 0.02, latencies
    assert sorted(latencies)[int(0.9 * len(latencies))] < 0.05, latencies
    with httpx.Client(base_url=server, timeout=60) as c:
        start = time.perf_counter()
        r = c.post("/v1/simulate", json=heavy | {"n": 800, "trials": 100})
    assert r.status_code == 503 and r.json()["type"] == "/problems/deadline-exceeded"
    assert "need at least" in r.json()["detail"]
    assert time.perf_counter() - start < 0.5

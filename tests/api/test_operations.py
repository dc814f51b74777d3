"""Health, readiness, info, metrics, request ids, Server-Timing and the access log."""

from __future__ import annotations

import logging
import re

import httpx
import pytest

import rmtservice as rs
from app.main import create_app
from app.settings import Settings

from ._support import NOISE, POINT, assert_problem, serve

pytestmark = pytest.mark.anyio


async def test_healthz(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


async def test_readyz_after_start_and_not_before() -> None:
    app = create_app(Settings(executor="thread"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        r = await c.get("/readyz")  # the lifespan (warm-up) has not run
        assert_problem(r, 503, "not-ready", "starting")
        assert "retry-after" in r.headers
        async with app.router.lifespan_context(app):
            r = await c.get("/readyz")
            assert r.status_code == 200
            assert r.json() == {"status": "ready", "workers": 2, "busy": 0, "waiting": 0}


async def test_info(client: httpx.AsyncClient) -> None:
    info = (await client.get("/v1/info")).json()
    assert info["version"] == rs.__version__
    assert info["api_version"] == "1"
    assert set(info["measure_kinds"]) == {
        "atoms",
        "point",
        "uniform",
        "semicircle",
        "marchenko_pastur",
        "mixture",
        "matrix",
    }
    assert info["noise_distributions"] == list(rs.NOISE_LAWS)
    defaults = Settings()
    assert info["limits"]["max_atoms"] == defaults.max_atoms
    assert info["limits"]["max_body_bytes"] == defaults.max_body_bytes
    assert info["limits"]["deadline_seconds"] == defaults.deadline_seconds


def test_settings_come_from_rmt_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RMT_MAX_ATOMS", "64")
    monkeypatch.setenv("RMT_DEADLINE_SECONDS", "2.5")
    settings = Settings()
    assert (settings.max_atoms, settings.deadline_seconds) == (64, 2.5)


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz", headers={"x-request-id": "abc-123.req"})
    assert r.headers["x-request-id"] == "abc-123.req"
    r = await client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    r = await client.get("/healthz", headers={"x-request-id": "bad id\twith spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    r = await client.get("/nowhere", headers={"x-request-id": "trace-42"})
    assert r.json()["request_id"] == "trace-42"


async def test_server_timing_reports_compute(client: httpx.AsyncClient) -> None:
    body = {"measure": {"kind": "uniform", "low": 0, "high": 1}, "noise": NOISE, "num": 200}
    r = await client.post("/v1/density", json=body)
    match = re.search(r"compute;dur=([0-9.]+)", r.headers["server-timing"])
    assert match and float(match.group(1)) > 0
    assert "total;dur=" in r.headers["server-timing"]


async def test_access_log_has_the_request_id() -> None:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("app.access")
    logger.addHandler(handler)
    try:
        async with serve() as client:
            await client.get("/healthz", headers={"x-request-id": "log-me-1"})
    finally:
        logger.removeHandler(handler)
    lines = [r.getMessage() for r in records]
    assert any("log-me-1" in line and '"GET /healthz" 200' in line for line in lines), lines


async def test_metrics() -> None:
    async with serve() as client:
        await client.post("/v1/support", json={"measure": POINT, "noise": NOISE})
        await client.post("/v1/support", json={"measure": POINT, "noise": {"sigma2": -1}})
        await client.get("/no/such/path/123")
        r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    assert 'rmt_http_requests_total{method="POST",route="/v1/support",status="200"} 1' in text
    assert 'rmt_http_requests_total{method="POST",route="/v1/support",status="422"} 1' in text
    assert 'rmt_http_requests_total{method="GET",route="<unmatched>",status="404"} 1' in text
    assert "/no/such/path" not in text  # templates, not raw paths
    latency = 'rmt_http_request_duration_seconds_count{method="POST",route="/v1/support",status='
    assert latency + '"200"} 1' in text and latency + '"422"} 1' in text
    assert 'rmt_compute_seconds_count{route="/v1/support"} 1' in text
    assert (
        'rmt_http_request_duration_seconds_bucket{method="POST",route="/v1/support",status="200",'
        'le="+Inf"} 1' in text
    )
    assert "# TYPE rmt_compute_seconds histogram" in text
    assert "rmt_compute_busy 0" in text and "rmt_compute_waiting 0" in text
    for line in text.splitlines():  # every sample line is "name{labels} value"
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[a-z_]+(\{[^}]*\})? [0-9.e+-]+|[a-z_]+\{[^}]*\} \+?Inf", line), (
                line
            )

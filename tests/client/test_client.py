"""The SDK against the real app: a real uvicorn on 127.0.0.1 (sync), httpx's ASGI
transport (async), and the local core (LocalClient) giving the same answers."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest
from numpy.testing import assert_allclose

import rmtservice as rs
from app.main import create_app
from app.settings import Settings
from rmtservice.client import AsyncClient, Client, LocalClient, ServiceError
from rmtservice.wire.schemas import DensityRequest, DensityResponse, SimulateResponse
from tests._server import free_port, uvicorn

UNIFORM = rs.Uniform(-1.0, 1.0)


class CountingTransport(httpx.BaseTransport):
    """Counts the requests that go through the real HTTP transport."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.count = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_every_method_against_a_real_server(server: str) -> None:
    with Client(server) as c:
        d = c.density(measure=UNIFORM, sigma2=0.25, x=np.array([0.0, 0.5]))
        assert isinstance(d, DensityResponse)
        assert_allclose(d.numpy("density"), rs.density(UNIFORM, 0.25, [0.0, 0.5]), atol=0)
        s = c.stieltjes(measure={"kind": "point", "at": 0.0}, noise=1.0, z=np.array([1j, 3]))
        sc = (-np.array([1j, 3]) + np.sqrt(np.array([1j, 3]) ** 2 - 4 + 0j)) / 2
        assert_allclose(s.numpy("f"), [sc[0], (-3 + np.sqrt(5)) / 2], atol=1e-12)
        sup = c.support(measure=rs.Atoms([-1, 1, 4], [0.499, 0.499, 0.002]), sigma2=0.25)
        assert len(sup.support) == 3
        o = c.outliers(measure=rs.Point(0.0), sigma2=1.0, spikes=[2.0, 0.5])
        assert o.outliers[0].location == pytest.approx(2.5)
        assert o.outliers[1].location is None
        inv = c.inverse(measure=rs.Point(0.0), sigma2=1.0, observed=[2.5, 1.0])
        assert inv.spikes[0].spike == pytest.approx(2.0) and inv.spikes[1].spike is None
        sim = c.simulate(measure=UNIFORM, sigma2=0.25, n=50, seed=4, top=3)
        assert isinstance(sim, SimulateResponse) and sim.seed == 4
        assert c.info().version == rs.__version__


def test_model_and_dict_requests_are_accepted(server: str) -> None:
    req = DensityRequest.model_validate(
        {"measure": {"kind": "point", "at": 0.0}, "noise": {"sigma2": 1.0}, "x": [0.0]}
    )
    with Client(server) as c:
        a = c.density(req)
        b = c.density(req.model_dump(exclude_unset=True))
        c2 = c.density({"measure": {"kind": "point", "at": 0.0}}, sigma2=1.0, x=[0.0])
    assert a.density == b.density == c2.density == [pytest.approx(1 / np.pi)]


def test_problem_answer_raises_service_error(server: str) -> None:
    with Client(server) as c, pytest.raises(ServiceError) as info:
        c.simulate(measure={"kind": "matrix", "entries": [[1.0, 2.0], [3.0, 4.0]]}, sigma2=1.0, n=2)
    err = info.value
    assert err.status == 422 and err.type == "/problems/invalid-parameter"
    assert "must be symmetric" in err.detail
    assert err.errors[0]["path"] == "/measure/entries"


def test_local_validation_errors_match_the_server(server: str) -> None:
    bad = {"measure": {"kind": "uniform", "low": 1.0, "high": 0.0}, "noise": {"sigma2": 1.0}}
    with Client(server) as remote, pytest.raises(ServiceError) as r:
        remote.support(bad)
    with pytest.raises(ServiceError) as local:
        LocalClient().support(bad)
    assert (r.value.status, r.value.type) == (local.value.status, local.value.type)
    assert r.value.detail == local.value.detail


def test_local_client_gives_the_same_numbers(server: str) -> None:
    kwargs = {"measure": rs.Atoms([-1.0, 0.3, 2.0], [0.2, 0.5, 0.3]), "sigma2": 0.3}
    with Client(server) as remote:
        a = remote.density(**kwargs, num=64)
        b = remote.simulate(measure=UNIFORM, sigma2=0.25, n=80, seed=11, spikes=[3.0])
    c = LocalClient().density(**kwargs, num=64)
    d = LocalClient().simulate(measure=UNIFORM, sigma2=0.25, n=80, seed=11, spikes=[3.0])
    assert a == c
    assert_allclose(b.numpy("eigenvalues"), d.numpy("eigenvalues"), atol=1e-12)


def test_retries_on_503_honour_retry_after() -> None:
    # a deadline no computation meets: every density answer is 503 with Retry-After: 0
    env = {"RMT_DEADLINE_SECONDS": "0.000001", "RMT_RETRY_AFTER_SECONDS": "0"}
    with uvicorn(env) as base:
        transport = CountingTransport()
        with Client(base, transport=transport, retries=2, backoff=0.01) as c:
            with pytest.raises(ServiceError) as info:
                c.simulate(measure=UNIFORM, sigma2=0.25, n=400, trials=5)
        assert info.value.status == 503
        assert transport.count == 3  # one try and two retries


def test_connection_errors_are_retried_then_raised() -> None:
    port = free_port()  # nothing listens there
    transport = CountingTransport()
    start = time.monotonic()
    with Client(f"http://127.0.0.1:{port}", transport=transport, retries=2, backoff=0.01) as c:
        with pytest.raises(httpx.ConnectError):
            c.info()
    assert transport.count == 3
    assert time.monotonic() - start < 5


class AsyncCountingTransport(httpx.AsyncBaseTransport):
    """Counts the requests that go through an async transport."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.count = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        return await self.inner.handle_async_request(request)


@pytest.mark.anyio
async def test_async_client_retries_as_the_sync_one() -> None:
    # the same retry decision as Client: 503 retried (Retry-After: 0), then the problem
    settings = Settings(executor="thread", deadline_seconds=0.000001, retry_after_seconds=0)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = AsyncCountingTransport(httpx.ASGITransport(app=app))
        async with AsyncClient("http://testserver", transport=transport, retries=2) as c:
            with pytest.raises(ServiceError) as info:
                await c.simulate(measure=UNIFORM, sigma2=0.25, n=400, trials=5)
        assert info.value.status == 503
        assert transport.count == 3
    # connection errors: retried, then raised
    transport = AsyncCountingTransport(httpx.AsyncHTTPTransport())
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    async with AsyncClient(url, transport=transport, retries=2, backoff=0.01) as c:
        with pytest.raises(httpx.ConnectError):
            await c.info()
    assert transport.count == 3


@pytest.mark.anyio
async def test_async_client_over_the_asgi_transport() -> None:
    app = create_app(Settings(executor="thread"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with AsyncClient("http://testserver", transport=transport) as c:
            d = await c.density(measure=UNIFORM, sigma2=0.25, x=[0.0])
            assert d.density[0] == pytest.approx(float(rs.density(UNIFORM, 0.25, [0.0])[0]))
            with pytest.raises(ServiceError) as info:
                await c.density(measure=UNIFORM, sigma2=0.0, x=[0.0])
            assert info.value.status == 422
            assert (await c.info()).limits["max_n"] == Settings().max_n


def test_plot_bytes_remote_equal_local(server: str) -> None:
    kwargs = {"measure": UNIFORM, "sigma2": 0.25, "spikes": [3.0], "format": "svg"}
    with Client(server) as c:
        remote = c.plot(**kwargs)
    assert remote == LocalClient().plot(**kwargs)
    assert remote.lstrip().startswith(b"<?xml")

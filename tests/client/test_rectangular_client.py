"""The rectangular model through the SDK: ``Client`` against a real uvicorn,
``AsyncClient`` over the ASGI transport and ``LocalClient`` give the same answers,
which are the library's."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest
from numpy.testing import assert_allclose

import rmtservice as rs
from app.main import create_app
from app.settings import Settings
from rmtservice import rectangular as rr
from rmtservice.client import AsyncClient, Client, LocalClient

LAW = rs.Uniform(0.5, 1.5)
MODEL: dict[str, Any] = {"measure": LAW, "sigma2": 0.5, "aspect_ratio": 2.0}
#: (method, fields): one call of each rectangular method
CALLS: list[tuple[str, dict[str, Any]]] = [
    ("rectangular_stieltjes", MODEL | {"z": np.array([1.0 + 0.5j, 2.0, 9.0])}),
    ("rectangular_density", MODEL | {"x": np.linspace(0.0, 4.0, 9)}),
    ("rectangular_density", MODEL | {"num": 40}),
    ("rectangular_support", MODEL),
    ("rectangular_outliers", MODEL | {"spikes": [0.1, 3.0, 5.0]}),
    ("rectangular_inverse", MODEL | {"observed": [1.0, 4.0, 6.0]}),
    (
        "rectangular_simulate",
        {"measure": LAW, "sigma2": 0.5, "rows": 80, "cols": 160, "spikes": [3.0], "seed": 9},
    ),
    (
        "rectangular_support",
        {
            "measure": {"kind": "matrix", "entries": [[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]]},
            "noise": 1.0,
        },
    ),
]


def _dumps(results: list[Any]) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json") for r in results]


@pytest.fixture(scope="module")
def local_answers() -> list[dict[str, Any]]:
    with LocalClient() as c:
        return _dumps([getattr(c, name)(**fields) for name, fields in CALLS])


def test_client_and_local_client_agree(server: str, local_answers: list[dict[str, Any]]) -> None:
    with Client(server) as c:
        remote = _dumps([getattr(c, name)(**fields) for name, fields in CALLS])
    assert remote == local_answers


@pytest.mark.anyio
async def test_async_client_agrees(local_answers: list[dict[str, Any]]) -> None:
    app = create_app(Settings(executor="thread", access_log=False))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with AsyncClient("http://testserver", transport=transport) as c:
            answers = [await getattr(c, name)(**fields) for name, fields in CALLS]
    assert _dumps(answers) == local_answers


def test_the_answers_are_the_librarys(local_answers: list[dict[str, Any]]) -> None:
    by_call = dict(zip((f"{n}{i}" for i, (n, _) in enumerate(CALLS)), local_answers, strict=True))
    x = np.linspace(0.0, 4.0, 9)
    assert_allclose(by_call["rectangular_density1"]["density"], rr.density(LAW, 0.5, 2.0, x))
    report = rr.outliers(LAW, 0.5, 2.0, [0.1, 3.0, 5.0])
    got = [o["location"] for o in by_call["rectangular_outliers4"]["outliers"]]
    assert got == [o.location for o in report.outliers]
    m = rr.stieltjes(LAW, 0.5, 2.0, np.array([1.0 + 0.5j, 2.0, 9.0])).m
    st = by_call["rectangular_stieltjes0"]["m"]
    assert_allclose(np.array(st["re"]) + 1j * np.array(st["im"]), m, rtol=1e-14)
    sim = by_call["rectangular_simulate6"]
    assert sim["seed"] == 9 and len(sim["singular_values"][0]) == 80


def test_local_simulation_reports_progress() -> None:
    seen: list[tuple[int, int]] = []
    with LocalClient() as c:
        c.rectangular_simulate(
            measure=LAW,
            sigma2=0.5,
            rows=20,
            cols=10,
            trials=3,
            seed=1,
            progress=lambda done, total: seen.append((done, total)),
        )
    assert seen == [(1, 3), (2, 3), (3, 3)]

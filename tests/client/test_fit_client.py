"""``fit`` on Client (a real uvicorn), AsyncClient (ASGI) and LocalClient: the same
answers, with the SDK's conveniences (numpy arrays, ``shape=(rows, cols)``, a matrix
as an array, a field called ``model``)."""

from __future__ import annotations

import math
from typing import Any

import httpx
import numpy as np
import pytest

from app.main import create_app
from app.settings import Settings
from rmtservice.client import AsyncClient, Client, LocalClient, ServiceError
from rmtservice.fit import fit as core_fit


def _wigner(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, n))
    m = (g + g.T) / math.sqrt(2 * n)
    m[0, 0] += 3.0
    return m


def _rect(rows: int, cols: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((rows, cols)) / math.sqrt(rows)
    x[0, 0] += 2.5
    return x


CASES: list[tuple[str, dict[str, Any]]] = [
    ("eigenvalues", {"eigenvalues": np.linalg.eigvalsh(_wigner(150, 1)), "seed": 3}),
    (
        "singular_values",
        {
            "singular_values": np.linalg.svd(_rect(120, 60, 2), compute_uv=False),
            "shape": (120, 60),
            "alpha": 0.05,
            "bootstrap": 20,
            "seed": 5,
        },
    ),
    ("matrix", {"matrix": _wigner(60, 4), "model": "rectangular", "bootstrap": 0}),
    ("known_noise", {"eigenvalues": np.linalg.eigvalsh(_wigner(150, 6)), "sigma2": 1.0, "seed": 1}),
]


@pytest.mark.parametrize(("name", "fields"), CASES, ids=[c[0] for c in CASES])
def test_remote_and_local_fits_are_equal(server: str, name: str, fields: dict[str, Any]) -> None:
    with Client(server) as c:
        remote = c.fit(**fields)
    with LocalClient() as local:
        here = local.fit(**fields)
    assert remote == here
    assert remote.model_dump() == here.model_dump()


def test_the_numbers_are_the_librarys(server: str) -> None:
    ev = np.linalg.eigvalsh(_wigner(150, 7))
    with Client(server) as c:
        r = c.fit(eigenvalues=ev, bootstrap=20, seed=2)
    f = core_fit(ev, bootstrap=20, seed=2)
    assert r.sigma2 == f.sigma2 and r.rank == f.rank == 1
    assert r.outliers[0].spike == f.outliers[0].spike
    assert r.sigma2_interval == (f.sigma2_interval.lower, f.sigma2_interval.upper)


@pytest.mark.anyio
async def test_async_client_fit_over_the_asgi_transport() -> None:
    sv = np.linalg.svd(_rect(100, 50, 8), compute_uv=False)
    app = create_app(Settings(executor="thread"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with AsyncClient("http://testserver", transport=transport) as c:
            r = await c.fit(singular_values=sv, shape=(100, 50), seed=1)
            assert r == LocalClient().fit(singular_values=sv, shape=(100, 50), seed=1)
            with pytest.raises(ServiceError) as info:
                await c.fit(singular_values=sv, shape=(100, 49))
            assert info.value.status == 422 and info.value.errors[0]["path"] == "/shape"

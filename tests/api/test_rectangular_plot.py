"""/v1/plot with ``model: rectangular``: the singular values of S + X, deterministic,
refused like every other request, within the rectangular limits."""

from __future__ import annotations

import struct
from typing import Any

import httpx
import pytest

from ._support import assert_problem, field_paths, serve

pytestmark = pytest.mark.anyio

BODY: dict[str, Any] = {
    "model": "rectangular",
    "aspect_ratio": 0.5,
    "measure": {"kind": "uniform", "low": 0.0, "high": 1.0},
    "noise": {"sigma2": 0.5},
    "spikes": [3.0, 2.0],
}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_a_rectangular_picture(client: httpx.AsyncClient) -> None:
    body = BODY | {"simulate": {"n": 300, "seed": 1}}
    a = await client.post("/v1/plot", json=body)
    b = await client.post("/v1/plot", json=body)
    assert a.status_code == 200, a.text
    assert a.headers["content-type"] == "image/png"
    assert a.content == b.content and png_size(a.content) == (1000, 600)
    theory = await client.post("/v1/plot", json=BODY)
    assert theory.status_code == 200 and theory.content != a.content
    other = await client.post("/v1/plot", json=BODY | {"aspect_ratio": 2.0})
    assert other.status_code == 200 and other.content != theory.content
    wigner = {k: v for k, v in BODY.items() if k not in ("model", "aspect_ratio")}
    symmetric = await client.post("/v1/plot", json=wigner)
    assert symmetric.status_code == 200 and symmetric.content != theory.content
    svg = await client.post("/v1/plot", json=BODY | {"format": "svg"})
    assert svg.headers["content-type"] == "image/svg+xml" and b"<svg" in svg.content


@pytest.mark.parametrize(
    ("body", "slug", "pointer"),
    [
        ({k: v for k, v in BODY.items() if k != "aspect_ratio"}, "validation-error", ""),
        (BODY | {"model": "wigner"}, "validation-error", ""),
        (BODY | {"aspect_ratio": 0.0}, "validation-error", "/aspect_ratio"),
        (BODY | {"model": "square"}, "validation-error", "/model"),
        (
            BODY | {"measure": {"kind": "uniform", "low": -1.0, "high": 1.0}},
            "invalid-parameter",
            "/measure",
        ),
        (BODY | {"spikes": [-1.0]}, "invalid-parameter", "/spikes"),
        (BODY | {"simulate": {"n": 4}, "aspect_ratio": 0.25}, "validation-error", ""),
    ],
)
async def test_bad_rectangular_pictures_are_problems(
    client: httpx.AsyncClient, body: dict[str, Any], slug: str, pointer: str
) -> None:
    problem = assert_problem(await client.post("/v1/plot", json=body), 422, slug)
    assert pointer in field_paths(problem)


async def test_the_rectangular_limits_hold() -> None:
    async with serve(access_log=False, max_rect_cols=100, max_rect_rows=50) as c:
        wide = await c.post("/v1/plot", json=BODY | {"aspect_ratio": 4.0, "simulate": {"n": 40}})
        tall = await c.post("/v1/plot", json=BODY | {"simulate": {"n": 60}})
    assert_problem(wide, 422, "limit-exceeded", "max_rect_cols")
    assert_problem(tall, 422, "limit-exceeded", "max_rect_rows")

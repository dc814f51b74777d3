"""Configured limits: refused with 422 ``limit-exceeded`` naming the field; body size 413."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ._support import NOISE, POINT, assert_problem, field_paths, serve

pytestmark = pytest.mark.anyio

SMALL = {
    "max_body_bytes": 2048,
    "max_atoms": 8,
    "max_matrix_rows": 3,
    "max_mixture_depth": 2,
    "max_grid_points": 10,
    "max_z_points": 4,
    "max_spikes": 3,
    "max_n": 16,
    "max_trials": 2,
}


@pytest.fixture(scope="module")
async def small(anyio_backend: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(**SMALL) as c:
        yield c


def _nested(depth: int) -> dict[str, Any]:
    measure: dict[str, Any] = POINT
    for _ in range(depth):
        measure = {"kind": "mixture", "components": [{"weight": 1.0, "measure": measure}]}
    return measure


async def test_info_reports_the_limits(small: httpx.AsyncClient) -> None:
    limits = (await small.get("/v1/info")).json()["limits"]
    for name, value in SMALL.items():
        assert limits[name] == value
    assert limits["deadline_seconds"] == 10.0
    assert limits["blas_threads"] == 1
    assert limits["max_json_depth"] == 3 * 2 + 6


@pytest.mark.parametrize(
    ("path", "body", "field", "setting"),
    [
        (
            "/v1/support",
            {"measure": {"kind": "atoms", "values": [0.0] * 9}},
            "/measure",
            "max_atoms",
        ),
        (
            "/v1/support",
            {
                "measure": {
                    "kind": "mixture",
                    "components": [
                        {"weight": 1, "measure": {"kind": "atoms", "values": [0.0] * 5}},
                        {"weight": 1, "measure": {"kind": "atoms", "values": [1.0] * 5}},
                    ],
                }
            },
            "/measure",
            "max_atoms",
        ),
        ("/v1/support", {"measure": _nested(3)}, "/measure", "max_mixture_depth"),
        (
            "/v1/support",
            {"measure": {"kind": "matrix", "entries": [[0.0] * 4] * 4}},
            "/measure/entries",
            "max_matrix_rows",
        ),
        ("/v1/density", {"x": [0.0] * 11}, "/x", "max_grid_points"),
        ("/v1/density", {"grid": {"start": 0, "stop": 1, "num": 11}}, "/grid/num", "max_grid"),
        ("/v1/density", {"num": 11}, "/num", "max_grid_points"),
        ("/v1/stieltjes", {"z": {"re": [0.0] * 5, "im": [1.0] * 5}}, "/z/re", "max_z_points"),
        ("/v1/outliers", {"spikes": [5.0] * 4}, "/spikes", "max_spikes"),
        ("/v1/outliers/inverse", {"observed": [5.0] * 4}, "/observed", "max_spikes"),
        ("/v1/simulate", {"n": 17}, "/n", "max_n"),
        ("/v1/simulate", {"n": 4, "trials": 3}, "/trials", "max_trials"),
        ("/v1/simulate", {"n": 10**30}, "/n", "max_n"),
    ],
)
async def test_limit_exceeded_is_422(
    small: httpx.AsyncClient, path: str, body: dict[str, Any], field: str, setting: str
) -> None:
    r = await small.post(path, json={"measure": POINT, "noise": NOISE} | body)
    problem = assert_problem(r, 422, "limit-exceeded", setting)
    assert field_paths(problem) == [field]
    assert setting in problem["errors"][0]["message"]


async def test_limits_at_the_edge_pass(small: httpx.AsyncClient) -> None:
    measure = {"kind": "atoms", "values": [float(i) for i in range(8)]}
    r = await small.post("/v1/support", json={"measure": measure, "noise": NOISE})
    assert r.status_code == 200
    r = await small.post("/v1/support", json={"measure": _nested(2), "noise": NOISE})
    assert r.status_code == 200
    body = {"measure": POINT, "noise": NOISE, "n": 16, "trials": 2}
    assert (await small.post("/v1/simulate", json=body)).status_code == 200


@pytest.mark.parametrize("depth", [50, 1000, 100_000])
async def test_deep_nesting_is_refused_before_parsing(
    client: httpx.AsyncClient, depth: int
) -> None:
    text = json.dumps({"measure": _nested(min(depth, 50)), "noise": NOISE})
    if depth > 50:
        text = "[" * depth + "]" * depth
    r = await client.post("/v1/support", content=text, headers={"content-type": "application/json"})
    assert_problem(r, 422, "limit-exceeded", "nested")


async def test_brackets_inside_strings_do_not_count(client: httpx.AsyncClient) -> None:
    text = json.dumps({"measure": {"kind": "[" * 100 + '\\"{'}, "noise": NOISE})
    r = await client.post("/v1/support", content=text, headers={"content-type": "application/json"})
    assert_problem(r, 422, "validation-error", "does not match any of the expected tags")


async def test_body_over_the_limit_is_413_from_content_length(small: httpx.AsyncClient) -> None:
    body = {"measure": {"kind": "atoms", "values": [0.123456789] * 400}, "noise": NOISE}
    r = await small.post("/v1/support", json=body)
    assert_problem(r, 413, "body-too-large", "limit is 2048 bytes")


async def test_chunked_body_over_the_limit_is_413_while_streaming(
    small: httpx.AsyncClient,
) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"measure": {"kind": "atoms", "values": ['
        for _ in range(10_000):
            sent += 1
            yield b"0.123456789, "

    r = await small.post(
        "/v1/support", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in r.request.headers
    assert_problem(r, 413, "body-too-large", "more than 2048 bytes")
    assert sent < 10_000  # refused before the whole body was read


async def test_small_chunked_body_passes(small: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"measure": {"kind": "point", "at": 0},'
        yield b' "noise": {"sigma2": 1}}'

    r = await small.post(
        "/v1/support", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 200, r.text

"""/v1/plot: PNG and SVG pictures, deterministic, refused like every other request."""

from __future__ import annotations

import struct
import warnings

import httpx
import pytest

import rmtservice as rs
from rmtservice.plot import render

from ._support import NOISE, POINT, assert_problem, serve

pytestmark = pytest.mark.anyio

BODY = {
    "measure": {"kind": "uniform", "low": -1.0, "high": 1.0},
    "noise": {"sigma2": 0.25},
    "spikes": [3.0, 2.0, -2.5],
    "simulate": {"n": 300, "seed": 1},
}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    return width, height


async def test_png_is_deterministic_and_about_1000_by_600(client: httpx.AsyncClient) -> None:
    a = await client.post("/v1/plot", json=BODY)
    b = await client.post("/v1/plot", json=BODY)
    assert a.status_code == 200, a.text
    assert a.headers["content-type"] == "image/png"
    assert a.content == b.content
    assert png_size(a.content) == (1000, 600)
    other = await client.post("/v1/plot", json=BODY | {"spikes": [3.0]})
    assert other.content != a.content


async def test_svg_by_field_or_accept_header(client: httpx.AsyncClient) -> None:
    body = {"measure": POINT, "noise": NOISE, "spikes": [2.0]}
    by_field = await client.post("/v1/plot", json=body | {"format": "svg"})
    by_accept = await client.post("/v1/plot", json=body, headers={"accept": "image/svg+xml"})
    for r in (by_field, by_accept):
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("image/svg+xml")
        assert r.content.lstrip().startswith(b"<?xml")
    assert by_field.content == by_accept.content


@pytest.mark.parametrize(
    ("extra", "status", "slug"),
    [
        ({"format": "gif"}, 422, "validation-error"),
        ({"simulate": {"n": 1}}, 422, "validation-error"),
        ({"simulate": {"n": 10}, "spikes": list(range(11))}, 422, "validation-error"),
        ({"noise": {"sigma2": 0}}, 422, "validation-error"),
    ],
)
async def test_refused_plots_are_problems(
    client: httpx.AsyncClient, extra: dict, status: int, slug: str
) -> None:
    r = await client.post("/v1/plot", json={"measure": POINT, "noise": NOISE} | extra)
    assert_problem(r, status, slug)


async def test_plot_simulation_size_is_limited() -> None:
    async with serve(max_n=50) as c:
        r = await c.post("/v1/plot", json=BODY | {"simulate": {"n": 51}})
        assert "max_n" in assert_problem(r, 422, "limit-exceeded")["detail"]


def test_a_title_with_control_and_unknown_characters_is_drawn_without_warnings() -> None:
    # control characters are dropped; a character the font lacks is a box, not a warning
    # in the service's log
    point = rs.Point(0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plain = render(point, 1.0, fmt="svg", title="spectrum")
        assert render(point, 1.0, fmt="svg", title="\x7fspec\x00trum\t") == plain
        render(point, 1.0, fmt="svg", title="\U0001a0f0 \u2603")
        default = render(point, 1.0, fmt="svg")
        assert render(point, 1.0, fmt="svg", title="\x01\x02") == default

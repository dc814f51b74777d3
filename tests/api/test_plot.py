"""/v1/plot: PNG and SVG pictures, deterministic, refused like every other request."""

from __future__ import annotations

import re
import struct
import warnings

import httpx
import pytest

import rmtservice as rs
from rmtservice.pictures.plot import render, render_sweep
from rmtservice.sweeps.statistics import summarize

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


@pytest.mark.parametrize(
    "title", ["$\\undefinedmacro$", "$x^{$", "\\sqrt{\\sqrt{\\sqrt{", "$\\sqrt{$", "price $5 or $6"]
)
async def test_titles_that_look_like_mathtext_are_drawn(
    client: httpx.AsyncClient, title: str
) -> None:
    """Issue 13, item 4: titles were parsed as mathtext (these gave a 500)."""
    for fmt in ("png", "svg"):
        r = await client.post(
            "/v1/plot", json={"measure": POINT, "noise": NOISE, "title": title, "format": fmt}
        )
        assert r.status_code == 200, r.text


def _glyphs(svg: bytes) -> set[str]:
    return set(re.findall(r'<path id="([^"]+)"', svg.decode()))


def test_a_title_with_dollars_is_drawn_literally() -> None:
    """The glyphs of "price $5 or $6" are those of "price 5 or 6" and a dollar sign;
    as mathtext they were italic (an oblique font) and had no dollar."""
    point = rs.Point(0.0)
    plain = _glyphs(render(point, 1.0, fmt="svg", title="price 5 or 6"))
    dollars = _glyphs(render(point, 1.0, fmt="svg", title="price $5 or $6"))
    assert plain < dollars and len(dollars - plain) == 1
    assert not any("Oblique" in g for g in dollars)
    sweep = render_sweep(summarize([]), fmt="svg", title="$x^{$ costs $5")
    assert not any("Oblique" in g for g in _glyphs(sweep))

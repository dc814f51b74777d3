"""/v1/simulate in depth and /v1/outliers with a spike law (Theorem 2.1), over HTTP."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from numpy.testing import assert_allclose

import rmtservice as rs

from ._support import NOISE, POINT, assert_problem, serve

pytestmark = pytest.mark.anyio

UNIFORM = {"kind": "uniform", "low": -1.0, "high": 1.0}


async def test_histogram_output_is_a_density_with_the_theory_beside(
    client: httpx.AsyncClient,
) -> None:
    body = {
        "measure": UNIFORM,
        "noise": {"sigma2": 0.25},
        "n": 300,
        "trials": 2,
        "seed": 5,
        "output": "histogram",
        "bins": 12,
    }
    r = await client.post("/v1/simulate", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["eigenvalues"] == []
    h = out["histogram"]
    assert sum(h["counts"]) == 600
    widths = np.diff(h["edges"])
    assert np.sum(np.asarray(h["density"]) * widths) == pytest.approx(1.0)
    centres = 0.5 * (np.asarray(h["edges"][1:]) + np.asarray(h["edges"][:-1]))
    assert_allclose(h["predicted"], rs.density(rs.Uniform(-1, 1), 0.25, centres), atol=1e-12)
    # the histogram pools the same eigenvalues the plain output returns
    plain = (
        await client.post("/v1/simulate", json=body | {"output": "eigenvalues", "bins": None})
    ).json()
    pooled = np.concatenate(plain["eigenvalues"])
    assert_allclose(np.histogram(pooled, bins=h["edges"])[0], h["counts"])


async def test_given_edges_and_bottom(client: httpx.AsyncClient) -> None:
    body = {
        "measure": UNIFORM,
        "noise": {"sigma2": 0.25},
        "n": 200,
        "seed": 1,
        "bottom": 3,
        "top": 4,
    }
    out = (await client.post("/v1/simulate", json=body)).json()
    assert len(out["eigenvalues"][0]) == 4 and len(out["bottom_eigenvalues"][0]) == 3
    full = rs.simulate(rs.Uniform(-1, 1), 0.25, 200, seed=1, compare=False).eigenvalues[0]
    assert_allclose(out["eigenvalues"][0], full[:4], atol=1e-12)
    assert_allclose(out["bottom_eigenvalues"][0], full[-3:], atol=1e-12)
    hist = {
        "measure": UNIFORM,
        "noise": {"sigma2": 0.25},
        "n": 200,
        "seed": 1,
        "output": "histogram",
        "edges": [-2.0, 0.0, 2.0],
    }
    h = (await client.post("/v1/simulate", json=hist)).json()["histogram"]
    assert h["edges"] == [-2.0, 0.0, 2.0] and sum(h["counts"]) == 200


async def test_comparison_block_and_eigenvectors(client: httpx.AsyncClient) -> None:
    body = {
        "measure": UNIFORM,
        "noise": {"sigma2": 0.25},
        "n": 400,
        "seed": 2,
        "spikes": [3.0, 1.02],
        "eigenvectors": True,
    }
    out = (await client.post("/v1/simulate", json=body)).json()
    comp = out["comparison"]
    assert comp["separated_spikes"] == 1
    assert comp["outside_support"] == [1]
    assert 0 < comp["kolmogorov"][0] < 0.05
    sep, swallowed = out["outliers"]
    assert sep["predicted"] == pytest.approx(rs.phi(rs.Uniform(-1, 1), 0.25, 3.0))
    assert abs(sep["difference"]) < 5 / np.sqrt(400)
    assert abs(sep["overlap_observed"] - sep["overlap_predicted"]) < 0.1
    assert swallowed["predicted"] is None and swallowed["difference"] is None


async def test_spike_law_gives_the_outlier_histogram(client: httpx.AsyncClient) -> None:
    body = {
        "measure": UNIFORM,
        "noise": {"sigma2": 0.25},
        "n": 900,
        "seed": 3,
        "spike_law": {"kind": "uniform", "low": 3.0, "high": 4.0},
        "spike_count": 30,
    }
    out = (await client.post("/v1/simulate", json=body)).json()
    assert len(out["spikes"]) == 30
    h = out["outlier_histogram"]
    assert sum(h["counts"]) == 30
    assert_allclose(h["density"], h["predicted"], rtol=0.5)


async def test_outlier_density_of_a_spike_law(client: httpx.AsyncClient) -> None:
    body = {
        "measure": POINT,
        "noise": NOISE,
        "spikes": [],
        "spike_law": {"kind": "uniform", "low": 2.0, "high": 3.0},
        "grid": {"start": 2.0, "stop": 3.5, "num": 31},
    }
    out = (await client.post("/v1/outliers", json=body)).json()
    y = np.asarray(out["outlier_density"]["x"])
    dens = np.asarray(out["outlier_density"]["density"])
    # nu = delta_0: phi(t) = t + 1/t, phi'(t) = 1 - 1/t^2, g = 1 on [2, 3]
    theta = (y + np.sqrt(np.maximum(y * y - 4, 0))) / 2
    inside = (theta >= 2) & (theta <= 3)
    assert_allclose(dens[inside], 1 / (1 - 1 / theta[inside] ** 2), rtol=1e-12)
    assert np.all(dens[~inside] == 0)
    # total mass of the outlier law is 1: integrate over [phi(2), phi(3)] = [2.5, 10/3]
    fine = body | {"grid": {"start": 2.5, "stop": 10 / 3, "num": 2001}}
    out = (await client.post("/v1/outliers", json=fine)).json()["outlier_density"]
    assert np.trapezoid(out["density"], out["x"]) == pytest.approx(1.0, abs=1e-6)


async def test_full_matrix_h_must_be_n_by_n(client: httpx.AsyncClient) -> None:
    entries = [[1.0, 0.5], [0.5, -1.0]]
    ok = await client.post(
        "/v1/simulate",
        json={"measure": {"kind": "matrix", "entries": entries}, "noise": NOISE, "n": 2, "seed": 1},
    )
    assert ok.status_code == 200, ok.text
    bad = await client.post(
        "/v1/simulate",
        json={"measure": {"kind": "matrix", "entries": entries}, "noise": NOISE, "n": 3},
    )
    body = assert_problem(bad, 422, "invalid-parameter")
    assert "a matrix H must be n x n = 3 x 3, got 2 rows" in body["detail"]


@pytest.mark.parametrize(
    ("extra", "path", "message"),
    [
        ({"spike_count": 3}, "", "spike_count needs spike_law"),
        ({"bins": 5}, "", 'bins and edges apply to output "histogram" only'),
        ({"output": "histogram", "edges": [1.0, 0.0]}, "", "edges must be strictly increasing"),
        ({"bottom": 11}, "", "bottom must be <= n = 10, got 11"),
        ({"dtype": "float16"}, "/dtype", ""),
        ({"spike_law": POINT, "spike_count": 11}, "", "11 spikes do not fit"),
    ],
)
async def test_simulate_refusals(
    client: httpx.AsyncClient, extra: dict, path: str, message: str
) -> None:
    r = await client.post("/v1/simulate", json={"measure": POINT, "noise": NOISE, "n": 10} | extra)
    body = assert_problem(r, 422, "validation-error")
    if path:
        assert any(e["path"] == path for e in body["errors"])
    if message:
        assert any(message in e["message"] for e in body["errors"]), body


async def test_eigenvectors_and_spike_count_limits() -> None:
    async with serve(max_eigenvector_n=50, max_spikes=5) as c:
        r = await c.post(
            "/v1/simulate", json={"measure": POINT, "noise": NOISE, "n": 60, "eigenvectors": True}
        )
        body = assert_problem(r, 422, "limit-exceeded")
        assert "max_eigenvector_n" in body["detail"]
        r = await c.post(
            "/v1/simulate",
            json={"measure": POINT, "noise": NOISE, "n": 40, "spike_law": POINT, "spike_count": 6},
        )
        assert "max_spikes" in assert_problem(r, 422, "limit-exceeded")["detail"]


async def test_float32_matches_float64_to_its_precision(client: httpx.AsyncClient) -> None:
    body = {"measure": UNIFORM, "noise": {"sigma2": 0.25}, "n": 300, "seed": 9}
    a = (await client.post("/v1/simulate", json=body)).json()["eigenvalues"][0]
    b = (await client.post("/v1/simulate", json=body | {"dtype": "float32"})).json()
    assert_allclose(b["eigenvalues"][0], a, atol=1e-5)

"""Every endpoint through httpx against the app; the numbers served equal the core's."""

from __future__ import annotations

import math
from typing import Any

import httpx
import numpy as np
import pytest

import rmtservice as rs

from ._support import NOISE, POINT

pytestmark = pytest.mark.anyio

MIXTURE = {
    "kind": "mixture",
    "components": [
        {"weight": 0.7, "measure": {"kind": "uniform", "low": -1.0, "high": 1.0}},
        {"weight": 0.2, "measure": {"kind": "atoms", "values": [2.0, 3.0], "weights": [1, 3]}},
        {
            "weight": 0.1,
            "measure": {
                "kind": "mixture",
                "components": [
                    {"weight": 1.0, "measure": {"kind": "semicircle", "center": -3, "radius": 1}},
                    {"weight": 1.0, "measure": {"kind": "marchenko_pastur", "ratio": 0.5}},
                ],
            },
        },
    ],
}
CORE_MIXTURE = rs.Mixture(
    [
        (0.7, rs.Uniform(-1.0, 1.0)),
        (0.2, rs.Atoms([2.0, 3.0], [1, 3])),
        (0.1, rs.Mixture([(1.0, rs.Semicircle(-3, 1)), (1.0, rs.MarchenkoPastur(0.5, 1.0))])),
    ]
)


def _floats(values: np.ndarray) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in np.asarray(values).tolist()]


def _support(sup: rs.Support) -> list[dict[str, Any]]:
    return [
        {"lower": a, "upper": b, "mass": m}
        for a, b, m in zip(sup.lower.tolist(), sup.upper.tolist(), sup.mass.tolist(), strict=True)
    ]


async def _ok(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(path, json=body)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    return r.json()


async def test_stieltjes_semicircle_closed_form(client: httpx.AsyncClient) -> None:
    z = {"re": [0.0, 0.0, 3.0], "im": [1.0, 0.0, 0.0]}
    out = await _ok(client, "/v1/stieltjes", {"measure": POINT, "noise": NOISE, "z": z})
    f = np.array(out["f"]["re"]) + 1j * np.array(out["f"]["im"])
    zz = np.array(z["re"]) + 1j * np.array(z["im"])
    expected = (-zz + np.sqrt(zz**2 - 4 + 0j)) / 2  # eq. 1.9, Im f >= 0 branch
    expected[1] = 1j  # the boundary value f(0 + i0)
    expected[2] = (-3 + math.sqrt(5)) / 2
    np.testing.assert_allclose(f, expected, rtol=1e-12, atol=1e-14)
    omega = np.array(out["omega"]["re"]) + 1j * np.array(out["omega"]["im"])
    np.testing.assert_allclose(omega, zz + f, rtol=1e-12, atol=1e-14)


async def test_stieltjes_equals_core(client: httpx.AsyncClient) -> None:
    z = {"re": [-2.0, 0.5, 2.5, 10.0], "im": [0.5, 1e-3, 0.0, 2.0]}
    out = await _ok(client, "/v1/stieltjes", {"measure": MIXTURE, "noise": {"sigma2": 0.3}, "z": z})
    core = rs.stieltjes(CORE_MIXTURE, 0.3, np.array(z["re"]) + 1j * np.array(z["im"]))
    assert out["f"] == {"re": _floats(core.f.real), "im": _floats(core.f.imag)}
    assert out["omega"] == {"re": _floats(core.omega.real), "im": _floats(core.omega.imag)}


async def test_density_points_equal_core(client: httpx.AsyncClient) -> None:
    x = [-4.0, -1.0, 0.0, 0.5, 2.5, 7.0]
    out = await _ok(client, "/v1/density", {"measure": MIXTURE, "noise": {"sigma2": 0.3}, "x": x})
    core = rs.boundary_values(CORE_MIXTURE, 0.3, x)
    assert out["x"] == x
    assert out["density"] == _floats(core.density)
    assert out["support"] == _support(core.support)
    assert out["mean"] == CORE_MIXTURE.mean
    assert out["variance"] == CORE_MIXTURE.variance + 0.3


async def test_density_grid(client: httpx.AsyncClient) -> None:
    grid = {"start": -2.5, "stop": 2.5, "num": 5}
    out = await _ok(client, "/v1/density", {"measure": POINT, "noise": NOISE, "grid": grid})
    assert out["x"] == np.linspace(-2.5, 2.5, 5).tolist()
    expected = [math.sqrt(max(4 - x * x, 0.0)) / (2 * math.pi) for x in out["x"]]
    np.testing.assert_allclose(out["density"], expected, atol=1e-13)
    assert out["support"] == [{"lower": -2.0, "upper": 2.0, "mass": 1.0}]
    assert (out["mean"], out["variance"]) == (0.0, 1.0)


async def test_density_automatic_grid_has_every_edge(client: httpx.AsyncClient) -> None:
    body = {"measure": {"kind": "atoms", "values": [-2.0, 2.0]}, "noise": {"sigma2": 0.5}}
    out = await _ok(client, "/v1/density", body | {"num": 40})
    sup = rs.support(rs.Atoms([-2.0, 2.0]), 0.5)
    assert out["x"] == rs.grid(sup, 40).tolist()
    assert len(out["support"]) == 2
    for comp in out["support"]:
        assert comp["lower"] in out["x"] and comp["upper"] in out["x"]
    default = await _ok(client, "/v1/density", body)
    assert len(default["x"]) <= 512


async def test_support_equals_core(client: httpx.AsyncClient) -> None:
    out = await _ok(client, "/v1/support", {"measure": MIXTURE, "noise": {"sigma2": 0.05}})
    core = rs.support(CORE_MIXTURE, 0.05)
    assert out["support"] == _support(core)
    assert math.isclose(sum(c["mass"] for c in out["support"]), 1.0)


async def test_matrix_measure_is_its_spectrum(client: httpx.AsyncClient) -> None:
    entries = [[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, -1.0]]
    matrix = {"kind": "matrix", "entries": entries}
    out = await _ok(client, "/v1/support", {"measure": matrix, "noise": {"sigma2": 0.01}})
    core = rs.support(rs.Atoms(np.linalg.eigvalsh(entries)), 0.01)
    np.testing.assert_allclose(
        [c["lower"] for c in out["support"]], core.lower, rtol=1e-12, atol=1e-12
    )


async def test_outliers_peche(client: httpx.AsyncClient) -> None:
    body = {"measure": POINT, "noise": NOISE, "spikes": [2.0, 0.5, -3.0]}
    out = await _ok(client, "/v1/outliers", body)
    assert out["outliers"][0] == {
        "spike": 2.0,
        "separated": True,
        "location": 2.5,
        "slope": 0.75,
        "overlap": 0.75,
    }
    assert out["outliers"][1] == {
        "spike": 0.5,
        "separated": False,
        "location": None,
        "slope": -3.0,
        "overlap": None,
    }
    assert out["outliers"][2]["location"] == pytest.approx(-3 - 1 / 3)
    assert out["thresholds"] == pytest.approx({"lower": -1.0, "upper": 1.0})


async def test_outliers_equal_core(client: httpx.AsyncClient) -> None:
    spikes = [5.0, 1.5, -6.0, 0.0, 2.5]
    out = await _ok(
        client, "/v1/outliers", {"measure": MIXTURE, "noise": {"sigma2": 0.3}, "spikes": spikes}
    )
    core = rs.outliers(CORE_MIXTURE, 0.3, spikes)
    assert [o["spike"] for o in out["outliers"]] == spikes
    for got, want in zip(out["outliers"], core.outliers, strict=True):
        assert got == {
            "spike": want.spike,
            "separated": want.separated,
            "location": want.location,
            "slope": want.slope,
            "overlap": want.overlap,
        }
    assert out["thresholds"] == {"lower": core.thresholds[0], "upper": core.thresholds[1]}


async def test_inverse(client: httpx.AsyncClient) -> None:
    body = {"measure": POINT, "noise": NOISE, "observed": [2.5, 1.0, -10.1]}
    out = await _ok(client, "/v1/outliers/inverse", body)
    spikes = out["spikes"]
    assert [s["observed"] for s in spikes] == [2.5, 1.0, -10.1]
    assert spikes[0]["spike"] == pytest.approx(2.0)
    assert spikes[1]["spike"] is None
    core = rs.inverse(rs.Point(0.0), 1.0, [2.5, 1.0, -10.1])
    assert [s["spike"] for s in spikes] == [r.spike for r in core]


async def test_simulate_is_reproducible_and_equals_core(client: httpx.AsyncClient) -> None:
    body = {"measure": POINT, "noise": NOISE, "n": 30, "spikes": [3.0], "seed": 7, "trials": 2}
    first = await _ok(client, "/v1/simulate", body)
    again = await _ok(client, "/v1/simulate", body)
    assert first == again
    assert first["seed"] == 7
    core = rs.simulate(rs.Point(0.0), 1.0, 30, spikes=[3.0], seed=7, trials=2)
    assert first["eigenvalues"] == [e.tolist() for e in core.eigenvalues]
    for trial in first["eigenvalues"]:
        assert len(trial) == 30 and trial == sorted(trial, reverse=True)
    (spike,) = first["outliers"]
    assert spike["spike"] == 3.0
    assert spike["predicted"] == pytest.approx(3 + 1 / 3)
    assert spike["observed"] == pytest.approx(np.mean([e[0] for e in first["eigenvalues"]]))


async def test_simulate_noise_laws_top_and_fresh_seed(client: httpx.AsyncClient) -> None:
    laws = [
        {"distribution": "rademacher"},
        {"distribution": "uniform"},
        {"distribution": "student_t", "df": 6.0},
        {"distribution": "sparse", "density": 0.5},
    ]
    for law in laws:
        body = {"measure": MIXTURE, "noise": {"sigma2": 0.5} | law, "n": 40, "top": 3}
        out = await _ok(client, "/v1/simulate", body)
        assert len(out["eigenvalues"]) == 1 and len(out["eigenvalues"][0]) == 3
        assert 0 <= out["seed"] <= 2**53 - 1
        replay = await _ok(client, "/v1/simulate", body | {"seed": out["seed"]})
        assert replay["eigenvalues"] == out["eigenvalues"]

"""/v1/plot with ``observed``: an observed spectrum over the (fitted) law, with its fit's
edges, thresholds and outliers marked."""

from __future__ import annotations

import math

import httpx
import numpy as np
import pytest
from numpy.testing import assert_allclose

from rmtservice.fit import fit
from rmtservice.pictures.observed import ALPHA, draw, observe

from ._support import assert_problem, field_paths, serve

pytestmark = pytest.mark.anyio


def spectrum(n: int = 300, seed: int = 1) -> list[float]:
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((n, n))
    m = (g + g.T) / math.sqrt(2 * n) * math.sqrt(0.5)
    m[0, 0] += 2.0
    return np.linalg.eigvalsh(m).tolist()


def fitted_body(values: list[float]) -> dict[str, object]:
    f = fit(values, bootstrap=0)
    return {
        "measure": {"kind": "point", "at": f.center},
        "noise": {"sigma2": f.sigma2},
        "spikes": [o.spike for o in f.outliers],
        "observed": values,
    }


async def test_observed_over_the_fitted_law(client: httpx.AsyncClient) -> None:
    values = spectrum()
    body = fitted_body(values) | {"format": "svg"}
    a = await client.post("/v1/plot", json=body)
    b = await client.post("/v1/plot", json=body)
    assert a.status_code == 200, a.text
    assert a.headers["content-type"] == "image/svg+xml"
    assert a.content == b.content  # deterministic
    plain = await client.post("/v1/plot", json={k: v for k, v in body.items() if k != "observed"})
    assert plain.status_code == 200 and plain.content != a.content
    png = await client.post("/v1/plot", json=fitted_body(values))
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"


def test_the_marks_are_the_fits() -> None:
    """The drawn lines are the fit's bulk edges and thresholds at the given noise level,
    the diamonds its outliers, and the bars a density of the observed values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = spectrum(seed=2)
    obs = observe(values, 0.5)
    f = fit(eigenvalues=values, sigma2=0.5, alpha=ALPHA, bootstrap=0, deconvolve=False)
    assert obs.fit.edge_threshold == f.edge_threshold and obs.fit.rank == f.rank == 1
    fig, ax = plt.subplots()
    try:
        draw(ax, obs)
        verticals = sorted(line.get_xdata()[0] for line in ax.lines if len(line.get_xdata()) == 2
                           and line.get_xdata()[0] == line.get_xdata()[1])  # fmt: skip
        expected = [f.bulk.lower, f.bulk.upper, f.edge_threshold, f.lower_edge_threshold]
        assert_allclose(verticals, sorted(expected))
        diamonds = [line for line in ax.lines if line.get_marker() == "D"]
        assert_allclose(diamonds[0].get_xdata(), [o.value for o in f.outliers])
        bars = ax.patches[0].get_path().vertices
        area = np.trapezoid(bars[:, 1], bars[:, 0])  # the step outline of a density
        assert abs(abs(area) - 1.0) < 0.05
    finally:
        plt.close(fig)


async def test_bad_observed_is_a_problem(client: httpx.AsyncClient) -> None:
    body = fitted_body(spectrum())
    r = await client.post("/v1/plot", json=body | {"observed": [0.0, 1.0, 2.0]})
    assert field_paths(assert_problem(r, 422, "validation-error")) == ["/observed"]
    r = await client.post("/v1/plot", json=body | {"observed": [1e200] * 20})
    problem = assert_problem(r, 422, "invalid-parameter", "at most 1e+150")
    assert field_paths(problem) == ["/observed"]
    async with serve(max_fit_values=100) as c:
        r = await c.post("/v1/plot", json=body)
        body_ = assert_problem(r, 422, "limit-exceeded", "max_fit_values")
        assert field_paths(body_) == ["/observed"]


async def test_observed_goes_with_the_symmetric_picture(client: httpx.AsyncClient) -> None:
    body = fitted_body(spectrum()) | {"model": "rectangular", "aspect_ratio": 0.5}
    body["measure"] = {"kind": "point", "at": 0.0}
    r = await client.post("/v1/plot", json=body)
    problem = assert_problem(r, 422, "invalid-parameter", "goes with model wigner")
    assert field_paths(problem) == ["/observed"]


def test_the_picture_with_observed_values_is_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The layout checks of every picture (tests/examples/test_picture_layout.py): no
    legend over the data, the observed entries in the one legend under the axes."""
    from matplotlib.figure import Figure

    import rmtservice as rs
    from rmtservice.pictures.plot import render
    from tests.examples.test_picture_layout import _check

    saved: list[Figure] = []
    original = Figure.savefig

    def savefig(self: Figure, *args: object, **kwargs: object) -> None:
        saved.append(self)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Figure, "savefig", savefig)
    values = spectrum()
    f = fit(values, bootstrap=0)
    obs = observe(values, f.sigma2)
    render(rs.Point(f.center), f.sigma2, spikes=[o.spike for o in f.outliers], observed=obs)
    (figure,) = saved
    _check(figure)
    labels = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "observed (300 values)" in labels and "observed outliers (1)" in labels
    assert not [ax.get_legend() for ax in figure.axes if ax.get_legend() is not None]

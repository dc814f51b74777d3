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


def singular_values(rows: int = 400, cols: int = 200, seed: int = 1) -> list[float]:
    """Noise of variance 0.5/rows and one spike 3 (above the threshold 0.5^(1/2) c^(1/4))."""
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((rows, cols)) * math.sqrt(0.5 / rows)
    y[0, 0] += 3.0
    return np.linalg.svd(y, compute_uv=False).tolist()


RECT_BODY: dict[str, object] = {
    "model": "rectangular",
    "measure": {"kind": "point", "at": 0.0},
    "noise": {"sigma2": 0.5},
    "spikes": [3.0],
}


@pytest.mark.parametrize(("rows", "cols"), [(400, 200), (200, 400)])
async def test_observed_singular_values(client: httpx.AsyncClient, rows: int, cols: int) -> None:
    """model rectangular: the singular values of a rows x cols matrix over the law of
    aspect ratio cols/rows, deterministic, not the plain picture."""
    values = singular_values(rows, cols)
    body = RECT_BODY | {"aspect_ratio": cols / rows, "observed": values, "format": "svg"}
    a = await client.post("/v1/plot", json=body)
    b = await client.post("/v1/plot", json=body)
    assert a.status_code == 200, a.text
    assert a.headers["content-type"] == "image/svg+xml" and a.content == b.content
    plain = await client.post("/v1/plot", json={k: v for k, v in body.items() if k != "observed"})
    assert plain.status_code == 200 and plain.content != a.content


@pytest.mark.parametrize(
    ("count", "c", "shape"),
    [(200, 0.5, (400, 200)), (200, 2.0, (200, 400)), (300, 1.0, (300, 300)), (10, 0.3, (33, 10))],
)
def test_the_shape_comes_from_the_count_and_the_aspect_ratio(
    count: int, c: float, shape: tuple[int, int]
) -> None:
    """count = min(rows, cols) singular values, cols/rows the nearest to c."""
    from rmtservice.pictures.observed import shape_for

    assert shape_for(count, c) == shape
    assert min(shape) == count and abs(shape[1] / shape[0] - c) <= c / count


def test_the_rectangular_marks_are_the_fits() -> None:
    """Singular values: the lines are the fit's Marchenko-Pastur bulk edges and its one
    threshold (none below), the diamonds its outliers (the spike 3, near
    sqrt(Phi(9)) = sqrt((9 + 0.5)(9 + 0.25)/9))."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = singular_values(seed=2)
    obs = observe(values, 0.5, shape=(400, 200))
    f = fit(singular_values=values, shape=(400, 200), sigma2=0.5, alpha=ALPHA, bootstrap=0)
    assert obs.fit.model == "rectangular" and obs.fit.edge_threshold == f.edge_threshold
    assert obs.fit.lower_edge_threshold is None and obs.fit.rank == 1
    fig, ax = plt.subplots()
    try:
        draw(ax, obs)
        verticals = sorted(line.get_xdata()[0] for line in ax.lines if len(line.get_xdata()) == 2
                           and line.get_xdata()[0] == line.get_xdata()[1])  # fmt: skip
        assert_allclose(verticals, sorted([f.bulk.lower, f.bulk.upper, f.edge_threshold]))
        diamonds = [line for line in ax.lines if line.get_marker() == "D"]
        (outlier,) = diamonds[0].get_xdata()
        assert abs(outlier - math.sqrt(9.5 * 9.25 / 9)) < 0.05
    finally:
        plt.close(fig)


async def test_bad_observed_singular_values(client: httpx.AsyncClient) -> None:
    body = RECT_BODY | {"aspect_ratio": 0.5}
    r = await client.post("/v1/plot", json=body | {"observed": [-1.0] + [1.0] * 19})
    problem = assert_problem(r, 422, "invalid-parameter", "singular values must be >= 0")
    assert field_paths(problem) == ["/observed"]
    r = await client.post("/v1/plot", json=body | {"observed": [0.0, 1.0, 2.0]})
    assert field_paths(assert_problem(r, 422, "validation-error")) == ["/observed"]


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

"""Every picture the project draws can be read (issue 18, item 7): no legend lies over a
line, a marker, a bar, a shaded band or a label of the data, and no two tick labels of
an axis overlap. Each figure is taken as it is saved, then measured in display space.
(A test cannot tell that a picture is clear; a person looked at each one, too.)"""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.transforms import Bbox

import rmtservice as rs
from rmtservice import rectangular as rr
from rmtservice.pictures.plot import render, render_sweep
from rmtservice.pictures.rectangular import render_rectangular
from rmtservice.sweeps.statistics import MetricStats, RateFit, SizeStats, SweepSummary

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PIXEL = 1.0  # boxes that only touch do not overlap


@pytest.fixture
def saved(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """The figures saved while the test runs (drawn again here, after they are closed)."""
    figures: list[Figure] = []
    original = Figure.savefig

    def savefig(self: Figure, *args: object, **kwargs: object) -> None:
        figures.append(self)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Figure, "savefig", savefig)
    return figures


def _densified(xy: np.ndarray, steps: int = 24) -> np.ndarray:
    """Points along each segment of a polyline (a straight line is two points)."""
    xy = xy[np.all(np.isfinite(xy), axis=1)]
    if len(xy) < 2:
        return xy
    t = np.linspace(0, 1, steps)[:, None, None]
    return (xy[:-1] + t * (xy[1:] - xy[:-1])).reshape(-1, 2)


def _data(ax: Axes) -> tuple[np.ndarray, list[Bbox]]:
    """Display coordinates of the points of every line and collection of ``ax``, and
    the boxes of its patches (bars, bands) and texts."""
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    clip = ax.get_window_extent()
    points = []
    for line in ax.get_lines():
        if line.get_visible() and len(line.get_xydata()):
            xy = line.get_transform().transform(np.asarray(line.get_xydata(), dtype=float))
            xy = xy if line.get_marker() not in ("None", "", " ", None) else _densified(xy)
            points.append(_densified(xy) if line.get_linestyle() != "None" else xy)
    for coll in ax.collections:
        offsets = np.asarray(coll.get_offsets())
        if len(offsets) and len(coll.get_paths()) <= 1:  # markers (scatter)
            points.append(coll.get_offset_transform().transform(offsets))
        else:
            for path in coll.get_paths():
                points.append(_densified(coll.get_transform().transform(path.vertices)))
    boxes = [p.get_window_extent(renderer) for p in ax.patches if p.get_visible()]
    boxes += [t.get_window_extent(renderer) for t in ax.texts if t.get_visible()]
    pts = np.concatenate(points) if points else np.empty((0, 2))
    inside = (pts[:, 0] >= clip.x0) & (pts[:, 0] <= clip.x1)
    inside &= (pts[:, 1] >= clip.y0 - 12) & (pts[:, 1] <= clip.y1)  # markers at y = 0 unclipped
    return pts[inside], [b for b in boxes if b.width > 0 or b.height > 0]


def _legends(fig: Figure) -> Iterator[Legend]:
    yield from fig.legends
    for ax in fig.axes:
        if (legend := ax.get_legend()) is not None:
            yield legend


def _check(fig: Figure) -> None:
    FigureCanvasAgg(fig)  # pyplot left a bare canvas when it closed the figure
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    legends = list(_legends(fig))
    assert legends, "the picture has no legend"
    for legend in legends:
        box = legend.get_window_extent(renderer).expanded(1, 1)
        inner = Bbox.from_extents(box.x0 + PIXEL, box.y0 + PIXEL, box.x1 - PIXEL, box.y1 - PIXEL)
        for ax in fig.axes:
            points, boxes = _data(ax)
            within = (points[:, 0] > inner.x0) & (points[:, 0] < inner.x1)
            within &= (points[:, 1] > inner.y0) & (points[:, 1] < inner.y1)
            hit = points[within]
            assert not len(hit), f"legend over data points of {ax.get_title()!r}: {hit[:3]}"
            for other in boxes:
                assert not inner.overlaps(other), f"legend over {other} in {ax.get_title()!r}"
    for ax in fig.axes:
        for axis, k in ((ax.xaxis, 0), (ax.yaxis, 1)):
            lo, hi = sorted(axis.get_view_interval())
            span = hi - lo
            labels = [
                t
                for t in axis.get_ticklabels(which="both")
                if t.get_visible()
                and t.get_text()
                and lo - 1e-9 * span <= t.get_position()[k] <= hi + 1e-9 * span
            ]
            boxes = [t.get_window_extent(renderer) for t in labels]
            for (a, ta), (b, tb) in itertools.combinations(zip(boxes, labels, strict=True), 2):
                shrunk = Bbox.from_extents(a.x0 + PIXEL, a.y0 + PIXEL, a.x1 - PIXEL, a.y1 - PIXEL)
                assert not shrunk.overlaps(b), (
                    f"tick labels {ta.get_text()!r} and {tb.get_text()!r} overlap "
                    f"in {ax.get_title()!r}"
                )


def _summary(sizes: list[int], stderr: float) -> SweepSummary:
    """A sweep's statistics with errors decaying as the reference rates (no simulation:
    the layout is under test, not the numbers)."""
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        metrics = {
            name: MetricStats(mean=m, std=m / 3, stderr=m / 6, count=4)
            for name, m in (
                ("outlier_error", n**-0.5 * rng.uniform(0.5, 2)),
                ("edge_error", 2 * n ** (-2 / 3) * rng.uniform(0.5, 2)),
                ("kolmogorov", n**-1.0 * rng.uniform(0.8, 1.25)),
            )
        }
        rows.append(SizeStats(n=n, trials=4, metrics=metrics, edge_bias=0.0, seconds=0.1))
    fits = {
        name: RateFit(rate=ref, intercept=0.0, rate_stderr=stderr, sizes=len(sizes), reference=ref)
        for name, ref in (("outlier_error", -0.5), ("edge_error", -2 / 3), ("kolmogorov", -1.0))
    }
    return SweepSummary(sizes=rows, fits=fits)


@pytest.mark.parametrize(
    "sizes",
    [list(range(200, 3001, 200)), [40, 80], [100, 200, 400, 800, 1600, 3200, 6400, 12800]],
    ids=["15 sizes", "2 sizes", "8 decades"],
)
def test_the_sweep_figure(sizes: list[int], saved: list[Figure]) -> None:
    render_sweep(_summary(sizes, stderr=0.0045))
    (fig,) = saved
    _check(fig)
    legend = fig.axes[0].get_legend()
    assert legend is not None
    texts = [t.get_text() for t in legend.get_texts()]
    # the error bars are explained, the slope's standard error keeps two digits
    assert texts[0] == "mean ± standard error (4 trials)"
    assert "± 0.0045" in texts[1], texts
    assert all(ax.get_ylabel() for ax in fig.axes)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert ticks and all(t.isdigit() for t in ticks), ticks  # plain sizes


@pytest.mark.parametrize("simulate", [True, False], ids=["with simulation", "limit only"])
def test_the_spectrum_picture(simulate: bool, saved: list[Figure]) -> None:
    law = rs.Atoms([-1, 1, 4], [0.499, 0.499, 0.002])
    spikes = [5.0, -3.0]
    sim = rs.simulate(law, 0.25, 400, spikes=spikes, seed=1) if simulate else None
    render(law, 0.25, spikes=spikes, simulation=sim)
    (fig,) = saved
    _check(fig)
    handles = fig.legends[0].legend_handles
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    swatch = handles[labels.index("support")]
    # the support's swatch is drawn with an edge, visible on white
    assert swatch is not None and swatch.get_edgecolor()[3] > 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("simulate", [True, False], ids=["with simulation", "limit only"])
def test_the_singular_value_picture(simulate: bool, saved: list[Figure]) -> None:
    law = rs.Uniform(0.0, 1.0)
    sim = rr.simulate(law, 0.5, 400, 200, spikes=[3.0], seed=1) if simulate else None
    render_rectangular(law, 0.5, 0.5, spikes=[3.0], simulation=sim)
    (fig,) = saved
    _check(fig)


def test_the_singular_value_picture_with_observed_values(saved: list[Figure]) -> None:
    """Observed singular values (noise of 400 x 200 and one spike) over the fitted law:
    their entries in the one legend under the axes, none over the data."""
    from rmtservice.pictures.observed import observe

    values = rr.simulate(rs.Point(0.0), 0.5, 400, 200, spikes=[3.0], seed=2).singular_values[0]
    obs = observe(values, 0.5, shape=(400, 200))
    render_rectangular(rs.Point(0.0), 0.5, 0.5, spikes=[3.0], observed=obs)
    (fig,) = saved
    _check(fig)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "observed (200 values)" in labels and "observed outliers (1)" in labels


def _example(name: str) -> Callable[[list[str]], int]:
    spec = importlib.util.spec_from_file_location(f"layout_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    main: Callable[[list[str]], int] = module.main
    return main


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", ["bulk_decay", "bbp_transition", "growing_spikes", "outlier_histogram"]
)
def test_the_examples(name: str, saved: list[Figure], tmp_path: Path) -> None:
    assert _example(name)(["--quick", "--out", str(tmp_path / f"{name}.png")]) == 0
    (fig,) = saved
    _check(fig)

"""The computations behind the endpoints: validated request in, response model out.

One function per endpoint, shared by the web layer (its compute workers run these,
in worker processes by default, importing nothing of the web stack) and by
:class:`rmtservice.client.LocalClient`, so that local and remote answers are the same.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import numpy as np

import rmtservice as rs
from rmtservice.vocabulary import MAX_SEED, SWEEP_METRICS
from rmtservice.wire.fit import fit
from rmtservice.wire.schemas import (
    DensityRequest,
    DensityResponse,
    Histogram,
    InverseRequest,
    InverseResponse,
    MatrixMeasure,
    MeasureModel,
    OutlierDensity,
    OutliersRequest,
    OutliersResponse,
    PlotRequest,
    SimulateRequest,
    SimulateResponse,
    StieltjesRequest,
    StieltjesResponse,
    SupportRequest,
    SupportResponse,
    SweepRequest,
    SweepResponse,
)

__all__ = [
    "PUSHFORWARD_POINTS",
    "SWEEP_METRICS",
    "Prepare",
    "Prepared",
    "density",
    "fit",
    "inverse",
    "outliers",
    "plot",
    "prepare",
    "simulate",
    "stieltjes",
    "support",
    "sweep_plan",
    "sweep_plot",
    "sweep_response",
    "warm_up",
]

#: points of the default grid of /v1/outliers' outlier density
PUSHFORWARD_POINTS = 256


def stieltjes(req: StieltjesRequest) -> StieltjesResponse:
    z = np.asarray(req.z.re) + 1j * np.asarray(req.z.im)
    result = rs.stieltjes(req.measure.to_measure(), req.noise.sigma2, z)
    return StieltjesResponse.from_core(result)


Prepared = tuple[rs.Measure, rs.Support]
#: builds (or looks up) the core measure of a request's ``measure`` and its support
Prepare = Callable[[MeasureModel, float], Prepared]


def prepare(model: MeasureModel, sigma2: float) -> Prepared:
    """The core measure of ``model`` and the support of its limit for ``sigma2``: where
    density, support, outliers and inverse start (a caller may pass a cache instead)."""
    measure = model.to_measure()
    return measure, rs.support(measure, sigma2)


def density(req: DensityRequest, *, prepare: Prepare = prepare) -> DensityResponse:
    measure, sup = prepare(req.measure, req.noise.sigma2)
    if req.x is not None:
        x = np.asarray(req.x)
    elif req.grid is not None:
        x = np.linspace(req.grid.start, req.grid.stop, req.grid.num)
    else:
        x = rs.grid(sup, req.grid_points)
    values = rs.boundary_values(measure, req.noise.sigma2, x, sup=sup)
    return DensityResponse.from_core(values, measure, req.noise.sigma2)


def support(req: SupportRequest, *, prepare: Prepare = prepare) -> SupportResponse:
    measure, sup = prepare(req.measure, req.noise.sigma2)
    return SupportResponse.from_core(sup, measure, req.noise.sigma2)


def outliers(req: OutliersRequest, *, prepare: Prepare = prepare) -> OutliersResponse:
    measure, sup = prepare(req.measure, req.noise.sigma2)
    report = rs.outliers(measure, req.noise.sigma2, req.spikes, sup=sup)
    response = OutliersResponse.from_core(report)
    if req.spike_law is not None:
        law = req.spike_law.to_measure("spike_law")
        if req.grid is not None:
            y = np.linspace(req.grid.start, req.grid.stop, req.grid.num)
        else:
            y = _pushforward_grid(measure, req.noise.sigma2, law)
        dens = rs.pushforward_density(measure, req.noise.sigma2, law, y, sup=sup)
        response.outlier_density = OutlierDensity(
            x=y.tolist(), density=[v if np.isfinite(v) else None for v in dens.tolist()]
        )
    return response


def _pushforward_grid(measure: rs.Measure, s2: float, law: rs.Measure) -> np.ndarray:
    """``PUSHFORWARD_POINTS`` points over phi of the spike law's support (where it
    separates)."""
    lo, hi, _ = law.components()
    theta = np.linspace(lo[0], hi[-1], PUSHFORWARD_POINTS)
    y = rs.phi(measure, s2, theta)
    y = y[np.isfinite(y)]
    if y.size < 2:
        return np.linspace(lo[0], hi[-1], PUSHFORWARD_POINTS)
    return np.linspace(float(y.min()), float(y.max()), PUSHFORWARD_POINTS)


def inverse(req: InverseRequest, *, prepare: Prepare = prepare) -> InverseResponse:
    measure, sup = prepare(req.measure, req.noise.sigma2)
    results = rs.inverse(measure, req.noise.sigma2, req.observed, sup=sup)
    return InverseResponse.from_core(results)


def simulate(
    req: SimulateRequest,
    *,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> SimulateResponse:
    noise = req.noise
    measure = req.measure.to_measure()
    matrix = None
    if isinstance(req.measure, MatrixMeasure):
        if len(req.measure.entries) != req.n:
            raise rs.InvalidParameter(
                f"a matrix H must be n x n = {req.n} x {req.n}, got "
                f"{len(req.measure.entries)} rows",
                field="measure.entries",
            )
        matrix = np.asarray(req.measure.entries, dtype=float)
    law = req.spike_law.to_measure("spike_law") if req.spike_law is not None else None
    sim = rs.simulate(
        measure,
        noise.sigma2,
        req.n,
        spikes=req.spikes,
        noise=noise.to_noise(),
        # a seed that every JSON client reads back exactly, so the draw can be replayed
        seed=secrets.randbelow(MAX_SEED + 1) if req.seed is None else req.seed,
        trials=req.trials,
        top=req.top,
        bottom=req.bottom,
        matrix=matrix,
        eigenvectors=req.eigenvectors,
        dtype=req.dtype,
        spike_law=law,
        spike_count=req.spike_count,
        progress=progress,
        workers=workers,
    )
    hist = None
    if req.output == "histogram":
        hist = _histogram(np.concatenate(sim.eigenvalues), req.edges, req.bins)
        if req.top is None:
            centres = 0.5 * (np.asarray(hist.edges[1:]) + np.asarray(hist.edges[:-1]))
            pred = rs.density(measure, noise.sigma2, centres)
            hist.predicted = [float(v) for v in pred]
    out_hist = None
    if law is not None and req.spike_count > 0:
        k = req.spike_count
        tops = np.concatenate([e[:k] for e in sim.eigenvalues])
        out_hist = _histogram(tops, None, max(1, min(30, int(np.sqrt(tops.size)))))
        centres = 0.5 * (np.asarray(out_hist.edges[1:]) + np.asarray(out_hist.edges[:-1]))
        # the outliers are k of n eigenvalues: their density relative to the k spikes
        pred = rs.pushforward_density(measure, noise.sigma2, law, centres)
        out_hist.predicted = [float(v) if np.isfinite(v) else None for v in pred]
    return SimulateResponse.from_core(sim, histogram=hist, outlier_histogram=out_hist)


def _histogram(values: np.ndarray, edges: list[float] | None, bins: int | None) -> Histogram:
    from rmtservice.simulate import histogram

    e, dens = histogram(values, edges, "auto" if bins is None else bins)
    counts = np.histogram(values, bins=e)[0]
    return Histogram(edges=e.tolist(), density=dens.tolist(), counts=counts.tolist())


def plot_draw_options(req: PlotRequest) -> dict[str, Any]:
    """The keywords of the Monte Carlo draw a picture overlays, the same for both models
    (``req.simulate`` given). The seed defaults to 0, not to a fresh one: the same request
    draws the same picture."""
    assert req.simulate is not None
    return {
        "spikes": req.spikes,
        "noise": req.noise.to_noise(),
        "seed": 0 if req.simulate.seed is None else req.simulate.seed,
        "trials": req.simulate.trials,
    }


def plot(req: PlotRequest, fmt: str = "png") -> bytes:
    """The picture of /v1/plot as PNG or SVG bytes (``req.format`` wins over ``fmt``)."""
    from rmtservice.pictures.plot import render

    if req.model == "rectangular":
        from rmtservice.wire.rectangular_service import rectangular_plot

        return rectangular_plot(req, fmt)
    measure = req.measure.to_measure()
    noise = req.noise
    sim = None
    if req.simulate is not None:
        sim = rs.simulate(
            measure, noise.sigma2, req.simulate.n, compare=True, **plot_draw_options(req)
        )
    observed = None
    if req.observed is not None:
        from rmtservice.pictures.observed import observe

        observed = observe(req.observed, noise.sigma2)
    return render(
        measure,
        noise.sigma2,
        spikes=req.spikes,
        simulation=sim,
        fmt=req.format or fmt,
        title=req.title,
        observed=observed,
    )


def warm_up(_: object = None) -> None:
    """Import and exercise the core once, so that the first request is not the slow one."""
    measure = rs.from_matrix([[0.0, 1.0], [1.0, 0.0]])
    rs.density(measure, 1.0, [0.0])
    rs.simulate(measure, 1.0, 2, spikes=[3.0], seed=0, top=1)


def sweep_plan(req: SweepRequest) -> tuple[Any, SweepRequest]:
    """The core plan of a sweep, and the request with its seed filled in (the echo)."""
    from rmtservice.sweeps.store import SweepPlan

    seed = secrets.randbelow(MAX_SEED + 1) if req.seed is None else req.seed
    noise = req.noise
    plan = SweepPlan(
        measure=req.measure.to_measure(),
        sigma2=noise.sigma2,
        sizes=list(req.sizes),
        trials=req.trials,
        seed=seed,
        spikes=tuple(req.spikes),
        noise=noise.to_noise(),
    )
    return plan, req.model_copy(update={"seed": seed})


def sweep_response(status: Any, *, trials: bool = False) -> SweepResponse:
    """A :class:`~rmtservice.sweeps.store.SweepStatus` as the wire model."""
    from dataclasses import asdict
    from datetime import UTC, datetime

    from rmtservice.sweeps.statistics import summarize

    def when(t: float | None) -> str | None:
        return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()

    summary = summarize(status.results)
    request = SweepRequest.model_validate(status.meta["request"])
    sizes = [
        {
            "n": z.n,
            "trials": z.trials,
            **{k: None if v is None else asdict(v) for k, v in z.metrics.items()},
            "edge_bias": z.edge_bias,
            "seconds": z.seconds,
        }
        for z in summary.sizes
    ]
    fits = {k: None if v is None else asdict(v) for k, v in summary.fits.items()}
    rows = [asdict(r) for r in status.results] if trials else None
    return SweepResponse.model_validate(
        _finite(
            {
                "id": status.id,
                "state": status.state,
                "progress": {"done": status.done, "failed": status.failed, "total": status.total},
                "created": when(status.created),
                "finished": when(status.finished),
                "seed": request.seed,
                "error": status.error,
                "request": request.model_dump(mode="json"),
                "sizes": sizes,
                "fits": fits,
                "trials": rows,
            }
        )
    )


def _finite(value: Any) -> Any:
    """NaN and infinity to None, all the way down (they never go on the wire)."""
    if isinstance(value, float):
        return value if np.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def sweep_plot(status: Any, fmt: str = "png") -> bytes:
    """The picture of GET /v1/sweeps/{id}/plot: per-size errors, fitted rates."""
    from rmtservice.pictures.plot import describe, render_sweep
    from rmtservice.sweeps.statistics import summarize

    req = SweepRequest.model_validate(status.meta["request"])
    title = (
        f"{describe(req.measure.to_measure())},  σ² = {req.noise.sigma2:g},  "
        f"{req.trials} trial(s) per n  ({status.state}, {status.done}/{status.total} tasks)"
    )
    return render_sweep(summarize(status.results), fmt=fmt, title=title)

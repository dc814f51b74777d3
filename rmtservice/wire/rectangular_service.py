"""The computations behind ``/v1/rectangular/...``: validated request in, response out.

Shared, as :mod:`rmtservice.wire.service` is, by the web layer's compute workers and by
:class:`rmtservice.client.LocalClient`. The numerics are :mod:`rmtservice.rectangular`'s.
"""

from __future__ import annotations

import secrets
from typing import Any

import numpy as np

import rmtservice as rs
from rmtservice import rectangular as rr
from rmtservice.vocabulary import MAX_SEED
from rmtservice.wire.rectangular import (
    RectangularDensityRequest,
    RectangularDensityResponse,
    RectangularInverseRequest,
    RectangularInverseResponse,
    RectangularMatrix,
    RectangularOutliersRequest,
    RectangularOutliersResponse,
    RectangularSimulateRequest,
    RectangularSimulateResponse,
    RectangularStieltjesRequest,
    RectangularStieltjesResponse,
    RectangularSupportRequest,
    RectangularSupportResponse,
    _RectangularRequest,
)

__all__ = [
    "rectangular_density",
    "rectangular_inverse",
    "rectangular_outliers",
    "rectangular_simulate",
    "rectangular_stieltjes",
    "rectangular_support",
]


def _prepare(req: _RectangularRequest) -> tuple[rs.Measure, Any]:
    """The core law and the support of the limit for the request's noise and ratio."""
    measure = req.measure.to_measure()
    return measure, rr.support(measure, req.noise.sigma2, req.ratio)


def rectangular_stieltjes(req: RectangularStieltjesRequest) -> RectangularStieltjesResponse:
    measure, sup = _prepare(req)
    z = np.asarray(req.z.re) + 1j * np.asarray(req.z.im)
    result = rr.stieltjes(measure, req.noise.sigma2, req.ratio, z, sup=sup)
    return RectangularStieltjesResponse.from_core(result)


def rectangular_density(req: RectangularDensityRequest) -> RectangularDensityResponse:
    measure, sup = _prepare(req)
    if req.x is not None:
        x = np.asarray(req.x, dtype=float)
    elif req.grid is not None:
        x = np.linspace(req.grid.start, req.grid.stop, req.grid.num)
    else:
        x = rs.grid(sup, req.grid_points)
    values = rr.boundary_values(measure, req.noise.sigma2, req.ratio, x, sup=sup)
    return RectangularDensityResponse.from_core(values, measure, req.noise.sigma2)


def rectangular_support(req: RectangularSupportRequest) -> RectangularSupportResponse:
    measure, sup = _prepare(req)
    return RectangularSupportResponse.from_core(sup, measure, req.noise.sigma2)


def rectangular_outliers(req: RectangularOutliersRequest) -> RectangularOutliersResponse:
    measure, sup = _prepare(req)
    report = rr.outliers(measure, req.noise.sigma2, req.ratio, req.spikes, sup=sup)
    return RectangularOutliersResponse.from_core(report)


def rectangular_inverse(req: RectangularInverseRequest) -> RectangularInverseResponse:
    measure, sup = _prepare(req)
    results = rr.inverse(measure, req.noise.sigma2, req.ratio, req.observed, sup=sup)
    return RectangularInverseResponse.from_core(results)


def rectangular_simulate(
    req: RectangularSimulateRequest, *, progress: Any = None
) -> RectangularSimulateResponse:
    measure = req.measure.to_measure()
    matrix = None
    if isinstance(req.measure, RectangularMatrix):
        matrix = np.asarray(req.measure.entries, dtype=float)
    sim = rr.simulate(
        measure,
        req.noise.sigma2,
        req.rows,
        req.cols,
        spikes=req.spikes,
        noise=req.noise.to_noise(),
        # a seed that every JSON client reads back exactly, so the draw can be replayed
        seed=secrets.randbelow(MAX_SEED + 1) if req.seed is None else req.seed,
        trials=req.trials,
        top=req.top,
        matrix=matrix,
        vectors=req.vectors,
        progress=progress,
    )
    return RectangularSimulateResponse.from_core(sim, trials=req.trials, top=req.top)


def rectangular_plot(req: Any, fmt: str = "png") -> bytes:
    """The picture of ``/v1/plot`` with ``model: rectangular`` (a :class:`PlotRequest`):
    the law is that of the singular values of S; a simulation has ``simulate.n`` rows
    and ``aspect_ratio`` times as many columns; ``observed`` are all ``min(n, p)``
    singular values of a matrix whose shape they and ``aspect_ratio`` give
    (:func:`~rmtservice.pictures.observed.shape_for`), fitted at ``sigma2``."""
    from rmtservice.pictures.observed import observe, shape_for
    from rmtservice.pictures.rectangular import render_rectangular
    from rmtservice.wire.service import plot_draw_options

    measure = req.measure.to_measure()
    noise = req.noise
    sim = None
    if req.simulate is not None:
        sim = rr.simulate(measure, noise.sigma2, req.simulate.n, req.cols, **plot_draw_options(req))
    observed = None
    if req.observed is not None:
        shape = shape_for(len(req.observed), req.aspect_ratio)
        observed = observe(req.observed, noise.sigma2, shape=shape)
    return render_rectangular(
        measure,
        noise.sigma2,
        req.aspect_ratio,
        spikes=req.spikes,
        simulation=sim,
        fmt=req.format or fmt,
        title=req.title,
        observed=observed,
    )

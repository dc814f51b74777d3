"""Per-deployment limits on a validated request (cheap: sizes only, no numerics).

Each check raises :class:`~rmtservice.errors.LimitExceeded` with the dotted path of
the offending field, which :mod:`app.problems` turns into a 422 with ``errors``.
"""

from __future__ import annotations

from pydantic import BaseModel

from app.settings import Settings
from rmtservice.errors import LimitExceeded
from rmtservice.schemas import (
    DensityRequest,
    InverseRequest,
    MatrixMeasure,
    MeasureModel,
    OutliersRequest,
    PlotRequest,
    SimulateRequest,
    StieltjesRequest,
)

__all__ = ["check"]


def _at_most(field: str, value: int, limit: int, what: str, setting: str) -> None:
    if value > limit:
        raise LimitExceeded(
            f"{field}: {what} {value} is over the limit {limit} ({setting} in /v1/info)",
            field=field,
        )


def _measure(measure: MeasureModel, settings: Settings, name: str = "measure") -> None:
    depth = measure.depth
    _at_most(name, depth, settings.max_mixture_depth, "mixture depth", "max_mixture_depth")
    _at_most(name, measure.size, settings.max_atoms, "atom count", "max_atoms")
    for path, part in measure.walk(name):
        if isinstance(part, MatrixMeasure):
            rows = len(part.entries)
            limit = settings.max_matrix_rows
            _at_most(f"{path}.entries", rows, limit, "row count", "max_matrix_rows")


def _points(req: BaseModel, settings: Settings) -> None:
    grid = settings.max_grid_points
    if isinstance(req, StieltjesRequest):
        _at_most("z.re", len(req.z.re), settings.max_z_points, "point count", "max_z_points")
    if isinstance(req, DensityRequest):
        if req.x is not None:
            _at_most("x", len(req.x), grid, "point count", "max_grid_points")
        elif req.grid is not None:
            _at_most("grid.num", req.grid.num, grid, "point count", "max_grid_points")
        else:
            _at_most("num", req.grid_points, grid, "point count", "max_grid_points")
    if isinstance(req, OutliersRequest | SimulateRequest):
        _at_most("spikes", len(req.spikes), settings.max_spikes, "spike count", "max_spikes")
    if isinstance(req, InverseRequest):
        _at_most("observed", len(req.observed), settings.max_spikes, "count", "max_spikes")


def _simulation(req: BaseModel, settings: Settings) -> None:
    if isinstance(req, SimulateRequest):
        _at_most("n", req.n, settings.max_n, "matrix size", "max_n")
        _at_most("trials", req.trials, settings.max_trials, "trial count", "max_trials")
        _at_most("spike_count", req.spike_count, settings.max_spikes, "spike count", "max_spikes")
        if req.eigenvectors:
            _at_most(
                "n",
                req.n,
                settings.max_eigenvector_n,
                "matrix size with eigenvectors",
                "max_eigenvector_n",
            )
        grid = settings.max_grid_points
        if req.bins is not None:
            _at_most("bins", req.bins, grid, "bin count", "max_grid_points")
        if req.edges is not None:
            _at_most("edges", len(req.edges), grid, "edge count", "max_grid_points")
    if isinstance(req, PlotRequest):
        _at_most("spikes", len(req.spikes), settings.max_spikes, "spike count", "max_spikes")
        if req.simulate is not None:
            _at_most("simulate.n", req.simulate.n, settings.max_n, "matrix size", "max_n")
            _at_most(
                "simulate.trials",
                req.simulate.trials,
                settings.max_trials,
                "trial count",
                "max_trials",
            )
    if isinstance(req, OutliersRequest) and req.grid is not None:
        _at_most(
            "grid.num", req.grid.num, settings.max_grid_points, "point count", "max_grid_points"
        )


def check(req: BaseModel, settings: Settings) -> None:
    """Raise :class:`LimitExceeded` if ``req`` is over a configured limit."""
    measure = getattr(req, "measure", None)
    if isinstance(measure, MeasureModel):
        _measure(measure, settings)
    law = getattr(req, "spike_law", None)
    if isinstance(law, MeasureModel):
        _measure(law, settings, "spike_law")
    _points(req, settings)
    _simulation(req, settings)

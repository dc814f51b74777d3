"""The computations behind the endpoints: validated request in, response model out.

These plain functions run in the compute workers (:mod:`app.compute`: worker processes
by default), so this module imports only the core and the wire types: a worker
process imports it by name and nothing of the web stack.
"""

from __future__ import annotations

import secrets

import numpy as np

import rmtservice as rs
from rmtservice.schemas import (
    MAX_SEED,
    DensityRequest,
    DensityResponse,
    InverseRequest,
    InverseResponse,
    OutliersRequest,
    OutliersResponse,
    SimulateRequest,
    SimulateResponse,
    StieltjesRequest,
    StieltjesResponse,
    SupportRequest,
    SupportResponse,
)

__all__ = ["density", "inverse", "outliers", "simulate", "stieltjes", "support", "warm_up"]


def stieltjes(req: StieltjesRequest) -> StieltjesResponse:
    z = np.asarray(req.z.re) + 1j * np.asarray(req.z.im)
    result = rs.stieltjes(req.measure.to_measure(), req.noise.sigma2, z)
    return StieltjesResponse.from_core(result)


def density(req: DensityRequest) -> DensityResponse:
    measure = req.measure.to_measure()
    sup = rs.support(measure, req.noise.sigma2)
    if req.x is not None:
        x = np.asarray(req.x)
    elif req.grid is not None:
        x = np.linspace(req.grid.start, req.grid.stop, req.grid.num)
    else:
        x = rs.grid(sup, req.num)
    values = rs.boundary_values(measure, req.noise.sigma2, x, sup=sup)
    return DensityResponse.from_core(values, measure, req.noise.sigma2)


def support(req: SupportRequest) -> SupportResponse:
    measure = req.measure.to_measure()
    sup = rs.support(measure, req.noise.sigma2)
    return SupportResponse.from_core(sup, measure, req.noise.sigma2)


def outliers(req: OutliersRequest) -> OutliersResponse:
    report = rs.outliers(req.measure.to_measure(), req.noise.sigma2, req.spikes)
    return OutliersResponse.from_core(report)


def inverse(req: InverseRequest) -> InverseResponse:
    results = rs.inverse(req.measure.to_measure(), req.noise.sigma2, req.observed)
    return InverseResponse.from_core(results)


def simulate(req: SimulateRequest) -> SimulateResponse:
    noise = req.noise
    sim = rs.simulate(
        req.measure.to_measure(),
        noise.sigma2,
        req.n,
        spikes=req.spikes,
        noise=noise.distribution,
        df=noise.df,
        density=noise.density,
        # a seed that every JSON client reads back exactly, so the draw can be replayed
        seed=secrets.randbelow(MAX_SEED + 1) if req.seed is None else req.seed,
        trials=req.trials,
        top=req.top,
    )
    return SimulateResponse.from_core(sim)


def warm_up(_: object = None) -> None:
    """Import and exercise the core once, so that the first request is not the slow one."""
    measure = rs.from_matrix([[0.0, 1.0], [1.0, 0.0]])
    rs.density(measure, 1.0, [0.0])
    rs.simulate(measure, 1.0, 2, spikes=[3.0], seed=0, top=1)

"""Every endpoint that computes has its row in the limits' registry (one place)."""

from __future__ import annotations

from fastapi.routing import APIRoute

from app.api import (
    analyze,
    denoise,
    docs,
    fit,
    limit,
    meta,
    plot,
    rectangular,
    simulation,
    sweeps,
    ui,
)
from app.runtime.limits import RULES
from rmtservice.wire.analyze import AnalyzeJob
from rmtservice.wire.denoise import DenoiseJob
from rmtservice.wire.schemas import SweepRequest


def test_every_computing_endpoint_has_limit_rules() -> None:
    routers = (analyze, denoise, docs, fit, limit, meta, plot, rectangular, simulation, sweeps, ui)
    bodies = {
        param.field_info.annotation
        for module in routers
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for param in route.dependant.body_params
    }
    assert len(bodies) >= 8, bodies
    # a sweep's sizes are checked by app.runtime.sweeps (its tasks, not one computation)
    # /v1/denoise and /v1/analyze read their bodies themselves (JSON or a file) and
    # compute a job of their own
    assert bodies - {SweepRequest} | {DenoiseJob, AnalyzeJob} == set(RULES)

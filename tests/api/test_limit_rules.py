"""Every endpoint that computes has its row in the limits' registry (one place)."""

from __future__ import annotations

from fastapi.routing import APIRoute

from app.api import denoise, docs, limit, meta, plot, simulation, sweeps, ui
from app.runtime.limits import RULES
from rmtservice.wire.denoise import DenoiseJob
from rmtservice.wire.schemas import SweepRequest


def test_every_computing_endpoint_has_limit_rules() -> None:
    routers = (denoise, docs, limit, meta, plot, simulation, sweeps, ui)
    bodies = {
        param.field_info.annotation
        for module in routers
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for param in route.dependant.body_params
    }
    assert len(bodies) >= 8, bodies
    # a sweep's sizes are checked by app.runtime.sweeps (its tasks, not one computation)
    # /v1/denoise reads its body itself (JSON or a file) and computes a DenoiseJob
    assert bodies - {SweepRequest} | {DenoiseJob} == set(RULES)

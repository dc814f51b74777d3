"""Every endpoint that computes has its row in the limits' registry (one place)."""

from __future__ import annotations

from fastapi.routing import APIRoute

from app.api import docs, fit, limit, meta, plot, rectangular, simulation, sweeps, ui
from app.runtime.limits import RULES
from rmtservice.wire.schemas import SweepRequest


def test_every_computing_endpoint_has_limit_rules() -> None:
    routers = (docs, fit, limit, meta, plot, rectangular, simulation, sweeps, ui)
    bodies = {
        param.field_info.annotation
        for module in routers
        for route in module.router.routes
        if isinstance(route, APIRoute)
        for param in route.dependant.body_params
    }
    assert len(bodies) >= 8, bodies
    # a sweep's sizes are checked by app.runtime.sweeps (its tasks, not one computation)
    assert bodies - {SweepRequest} == set(RULES)

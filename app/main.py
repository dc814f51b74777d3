"""The ASGI application: ``create_app(settings)``, and ``app = create_app()`` for uvicorn.

Request path, outermost first: Starlette's error middleware, security headers, CORS
(only with ``cors_origins``), request context (request id, Server-Timing, metrics,
access log, the 500 problem), API keys (only with ``api_keys``), body size limit, the
exception handlers of :mod:`app.problems`, then the routes.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.cors import CORSMiddleware

import rmtservice as rs
from app import problems
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
from app.api.openapi import build_openapi
from app.http.middleware import (
    ApiKeyAuth,
    BodySizeLimit,
    BodyTimeout,
    RequestContextMiddleware,
    SecurityHeaders,
)
from app.runtime.compute import Compute
from app.runtime.metrics import Metrics
from app.runtime.sweeps import Sweeps
from app.settings import Settings
from rmtservice.wire import service

__all__ = ["app", "create_app"]

STATIC = Path(__file__).parent / "static"
logger = logging.getLogger(__name__)
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def _configure_logging(settings: Settings) -> None:
    """One handler on the ``app`` logger (uvicorn configures only its own loggers)."""
    logger = logging.getLogger("app")
    logger.setLevel(settings.log_level)
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        logger.addHandler(handler)
        logger.propagate = False
    # One line per request: ours (app.access, with the request id and the time; off with
    # RMT_ACCESS_LOG=false). uvicorn's would repeat it under `make serve`, `rmtservice
    # serve` and a plain `uvicorn` (gunicorn's --access-logfile writes through it too).
    logging.getLogger("uvicorn.access").disabled = True


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    compute = app.state.compute
    await compute.start(service.warm_up)
    # What exists now (modules, the app, its routes and schemas: ~90k objects) lives as
    # long as the process: frozen out of the collector's sight, a full collection no
    # longer walks it (one took ~100 ms, every few thousand requests: the p99 of every
    # request waiting meanwhile). Unfrozen at shutdown, for processes that go on.
    gc.freeze()
    app.state.ready = True
    settings = app.state.settings
    logger.info(
        "ready: %d %s workers, limits %s", settings.workers, settings.executor, settings.limits()
    )
    try:
        yield
    finally:
        app.state.ready = False
        await compute.aclose()
        app.state.sweeps.close()
        gc.unfreeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    """A fresh application with its own settings, metrics and compute pool."""
    settings = settings if settings is not None else Settings()
    _configure_logging(settings)
    app = FastAPI(
        title="rmtservice",
        version=rs.__version__,
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan,
    )
    metrics = Metrics(rs.__version__)
    compute = Compute(settings, metrics)
    cache = compute.cache
    gauges: list[tuple[str, str, Callable[[], float]]] = [
        ("rmt_compute_busy", "Compute workers busy.", lambda: compute.busy),
        ("rmt_compute_waiting", "Computations waiting for a worker.", lambda: compute.waiting),
        (
            "rmt_inline_too_slow",
            "Inline computations passed to the pool after inline_max_seconds (since start).",
            lambda: compute.inline_too_slow,
        ),
        (
            "rmt_support_cache_entries",
            "Prepared limits in this process's support cache.",
            lambda: len(cache),
        ),
        (
            "rmt_support_cache_hits",
            "Requests answered from this process's support cache (since start).",
            lambda: cache.hits,
        ),
        (
            "rmt_support_cache_misses",
            "Requests that missed this process's support cache (since start).",
            lambda: cache.misses,
        ),
        (
            "rmt_memory_reserved_bytes",
            "Bytes of the memory budget held by simulations running or waiting.",
            lambda: compute.memory.reserved,
        ),
    ]
    for name, description, read in gauges:
        metrics.gauges[name] = (description, read)
    app.state.settings, app.state.metrics, app.state.compute = settings, metrics, compute
    app.state.sweeps = Sweeps(settings)
    app.state.ready = False
    problems.install(app)
    routers = (
        limit.router,
        simulation.router,
        fit.router,
        rectangular.router,
        plot.router,
        sweeps.router,
        denoise.router,
        analyze.router,
        meta.router,
        docs.router,
        ui.router,
    )
    for router in routers:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    docs.mount_site(app, settings.docs_site_dir)
    # added innermost first
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        upload_bytes=settings.max_upload_bytes,
        upload_paths=denoise.UPLOAD_PATHS,
    )
    app.add_middleware(BodyTimeout, seconds=settings.body_timeout_seconds)
    if settings.api_keys:
        app.add_middleware(ApiKeyAuth, keys=settings.api_keys)
    app.add_middleware(RequestContextMiddleware, metrics=metrics, access_log=settings.access_log)
    if settings.cors_origins:
        # outside the API keys: a preflight carries no key
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Accept", "X-API-Key", "Authorization", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After", "Server-Timing", "WWW-Authenticate"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)

    def openapi() -> dict[str, Any]:
        return build_openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]
    return app


app = create_app()

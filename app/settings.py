"""Per-deployment settings, read from the environment with the ``RMT_`` prefix.

Only this package reads the environment. Limits here are deployment policy (checked in
the routes and reported by ``GET /v1/info``); the hard mathematical bounds of the
contract live in :mod:`rmtservice.wire.schemas`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from rmtservice.wire.fit import DEFAULT_BOOTSTRAP_WORK

__all__ = ["Settings"]

#: default of ``inline_max_cost``: 100 atoms and a few dozen points, or a continuous law
#: and about a thousand points (1 to 6 ms of numerics on this project's 2-core machine)
INLINE_MAX_COST = 20_000


class Settings(BaseSettings):
    """Limits, workers and logging. ``Settings(max_atoms=64)`` overrides one value."""

    model_config = SettingsConfigDict(env_prefix="RMT_", extra="forbid", frozen=True)

    max_body_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="largest request body, in bytes (else 413)"
    )
    max_upload_bytes: int = Field(
        128 * 1024 * 1024,
        ge=1024,
        description="largest binary upload (a .npy, .npz or .safetensors body of "
        "/v1/denoise and /v1/analyze), in bytes (else 413); counted as it streams in",
    )
    max_denoise_rows: int = Field(
        65_536, ge=1, description="rows of the matrix of /v1/denoise (and of each tensor analysed)"
    )
    max_denoise_cols: int = Field(
        65_536, ge=1, description="columns of the matrix of /v1/denoise (and of each tensor)"
    )
    max_analyze_tensors: int = Field(
        1_000, ge=1, description="matrices analysed by one /v1/analyze request"
    )
    max_atoms: int = Field(
        100_000, ge=1, description="atoms in one measure, summed over a mixture's components"
    )
    max_matrix_rows: int = Field(
        500, ge=1, description="rows of a `matrix` measure (its eigenvalues are computed)"
    )
    max_mixture_depth: int = Field(8, ge=1, le=64, description="nesting depth of mixtures")
    max_grid_points: int = Field(
        10_000, ge=2, description="points of `x`, of `grid.num` and of the automatic grid"
    )
    max_z_points: int = Field(10_000, ge=1, description="points of `z` for /v1/stieltjes")
    max_spikes: int = Field(1_000, ge=1, description="entries of `spikes` and of `observed`")
    max_n: int = Field(4_000, ge=1, description="matrix size `n` for /v1/simulate")
    max_eigenvector_n: int = Field(
        1_000, ge=1, description="matrix size `n` for /v1/simulate with `eigenvectors`"
    )
    max_trials: int = Field(100, ge=1, description="`trials` for /v1/simulate")
    max_fit_values: int = Field(
        100_000,
        ge=10,
        description="eigenvalues or singular values of one /v1/fit request (about 0.2 s "
        "of numerics at the most without the bootstrap)",
    )
    max_fit_matrix_rows: int = Field(
        1_000,
        ge=10,
        description="rows and columns of a /v1/fit `matrix` (its eigenvalues or singular "
        "values are computed: about 1 s at 1000 x 1000)",
    )
    max_bootstrap: int = Field(1_000, ge=10, description="`bootstrap` replicates of /v1/fit")
    max_fit_bootstrap_work: int = Field(
        DEFAULT_BOOTSTRAP_WORK,
        ge=0,
        description="bootstrap replicates x values^2 of one /v1/fit request (a replicate "
        "is one tridiagonal eigensolve of the bulk: about 1.1e-8 s x values^2, so 2 s "
        "here); when `bootstrap` is left out, 50 or the most this allows, or none",
    )
    max_rect_rows: int = Field(4_000, ge=1, description="`rows` (n) for /v1/rectangular/simulate")
    max_rect_cols: int = Field(4_000, ge=1, description="`cols` (p) for /v1/rectangular/simulate")
    max_rect_vectors_size: int = Field(
        1_000,
        ge=1,
        description="`rows` and `cols` for /v1/rectangular/simulate with `vectors` (a full SVD)",
    )
    trial_workers: int = Field(
        1,
        ge=1,
        le=64,
        description="trials of one simulation run in parallel (threads, one "
        "BLAS thread each); 1 leaves LAPACK its blas_threads",
    )
    blas_threads: int = Field(
        1,
        ge=1,
        le=256,
        description="BLAS/LAPACK threads of each server and compute process. The "
        "computations already run in parallel (workers, and WEB_CONCURRENCY server "
        "processes): more BLAS threads than cores make OpenBLAS's spinning threads "
        "contend (on 2 cores, a mixed load answered 4 to 8 times slower with its default "
        "of one thread per core). Raise it for one large simulation at a time",
    )
    deadline_seconds: float = Field(
        10.0,
        gt=0,
        description="compute time allowed to one request, from a worker's taking it (else "
        "503): a simulation whose LAPACK work alone would pass it (at the speed measured "
        "at the first simulation) is refused before it starts, and a compute process still "
        "at work half a second past it is killed and replaced",
    )
    body_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="time allowed to a client to send the whole request body, from its "
        "headers (else 408): a client that stalls mid-body holds no connection for ever",
    )
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="time allowed to a client to send a request's line and headers, from "
        "the connection's opening or the previous response's end (else the connection is "
        "closed, after a 408 if part of a head came): no Slowloris. Applies under the "
        "server's protocol, app.http.server (make serve, the image's gunicorn)",
    )
    max_header_bytes: int = Field(
        64 * 1024,
        ge=1024,
        description="largest request head (request line and headers), in bytes: past it "
        "the server answers 431 and closes the connection. Applies under the server's "
        "protocol, app.http.server (make serve, the image's gunicorn)",
    )
    retry_after_seconds: int = Field(
        5, ge=0, description="the Retry-After of a 503 (deadline hit or compute queue full)"
    )
    workers: int = Field(2, ge=1, le=64, description="computations that run at once")
    executor: Literal["process", "thread"] = Field(
        "process",
        description="run computations in worker processes (the event loop never waits for "
        "the GIL) or in threads (no start-up cost)",
    )
    max_queue: int = Field(
        64, ge=0, description="computations allowed to wait for a worker (beyond: 503)"
    )
    inline_max_cost: int = Field(
        INLINE_MAX_COST,
        ge=0,
        description="requests whose estimated cost (about (atoms + 16) x (points + atoms), "
        "see app/runtime/limits.py) is at most this are computed in the server process itself, "
        "without the round trip to a worker (the default: a few milliseconds of numerics "
        "at most); 0: every computation goes to the workers. Simulations and pictures "
        "never run inline",
    )
    inline_max_seconds: float = Field(
        0.05,
        gt=0,
        description="an inline computation still running after this long is stopped and "
        "computed again by a worker (with the whole deadline): a request that looked "
        "small holds the event loop no longer than this",
    )
    support_cache_size: int = Field(
        256,
        ge=0,
        description="prepared limits (a request's measure and the support of its limit "
        "for a sigma2) kept per process, least recently used dropped first: requests that "
        "differ only in spikes, points or observations skip that work; 0: no cache",
    )
    support_cache_atoms: int = Field(
        250_000,
        ge=0,
        description="atoms over all entries of that cache (about 50 bytes each); a measure "
        "with more atoms is computed and not kept",
    )
    memory_budget_bytes: int = Field(
        2 * 1024**3,
        ge=1024 * 1024,
        description="memory that the matrices of simulations may take, for one request "
        "(else 422) and for all running or waiting ones together (else 503); see README",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="origins allowed to call the API from a browser (CORS, GET and POST); "
        "empty: no CORS headers. A JSON list or comma-separated",
    )
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="when not empty, every /v1/* request must carry one of these keys in "
        "X-API-Key or Authorization: Bearer (else 401). A JSON list or comma-separated",
    )
    dask_scheduler: str | None = Field(
        None,
        description="address of the Dask scheduler that runs sweeps (tcp://host:8786); give "
        "every replica the same one. Unset: a LocalCluster on 127.0.0.1, started at the "
        "first sweep request",
    )
    dask_workers: int = Field(
        2, ge=1, le=64, description="worker processes of the local cluster (one thread each)"
    )
    dask_local_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="scheduler port of the local cluster: 0, any free port, private to "
        "this process; a fixed port lets the worker processes of one server share one "
        "local cluster (the first to need it starts it)",
    )
    dask_connect_timeout_seconds: float = Field(
        10.0, gt=0, description="time allowed to reach the Dask scheduler (else 503)"
    )
    max_sweep_n: int = Field(4_000, ge=2, description="largest size `n` in a sweep")
    max_sweep_tasks: int = Field(2_000, ge=1, description="tasks of one sweep: sizes x trials")
    max_active_sweeps: int = Field(
        8, ge=1, description="sweeps queued or running at once (beyond: 503)"
    )
    sweep_ttl_seconds: float = Field(
        86_400.0, gt=0, description="a finished sweep is forgotten this long after it ended"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    access_log: bool = Field(True, description="log one line per request, with its request id")
    docs_site_dir: str | None = Field(
        None,
        description="the built documentation site (`make docs`), served under /docs/site/ "
        "and linked from /docs; default: build/site of the source tree, when it is built",
    )

    @field_validator("cors_origins", "api_keys", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        """``'["a", "b"]'`` or ``'a, b'`` from the environment; a list as it is."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @property
    def max_json_depth(self) -> int:
        """Deepest JSON nesting a valid request can have: three levels per mixture,
        plus the body, the measure and a matrix's rows (checked before parsing)."""
        return 3 * self.max_mixture_depth + 6

    @property
    def max_json_items(self) -> int:
        """Most items a valid request has in one JSON array (or object): the largest
        list limit (checked before parsing; a list of a mixture's components holds at
        most ``max_atoms``, an object and the sweep sizes at most 64)."""
        return max(
            self.max_atoms,
            self.max_grid_points,
            self.max_z_points,
            self.max_spikes,
            self.max_matrix_rows,
            self.max_fit_values,
            self.max_fit_matrix_rows,
            64,
        )

    def limits(self) -> dict[str, int | float]:
        """The limits that ``GET /v1/info`` reports."""
        return {
            name: getattr(self, name)
            for name in type(self).model_fields
            if name.startswith("max_")
            or name
            in (
                "deadline_seconds",
                "workers",
                "blas_threads",
                "memory_budget_bytes",
                "inline_max_cost",
                "inline_max_seconds",
                "support_cache_size",
                "support_cache_atoms",
                "sweep_ttl_seconds",
            )
        } | {"max_json_depth": self.max_json_depth, "max_json_items": self.max_json_items}

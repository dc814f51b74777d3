"""``LocalClient``: the interface of :class:`rmtservice.client.Client`, computed here.

Kept apart from the HTTP clients: it loads the numeric core (numpy, scipy), which a
user who only calls the service does not pay for (``rmtservice.client`` imports this
module on first use of ``LocalClient``). Errors are the server's problems, built from
the same table and field paths (:mod:`rmtservice.errors`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import rmtservice as rs
from rmtservice.client import _ENDPOINTS, _PLOT, Client, ServiceError, _validated, _weights
from rmtservice.client._weights import DenoisedArray, FileSource
from rmtservice.errors import RMTError, core_problem
from rmtservice.vocabulary import NOISE_LAWS
from rmtservice.wire import analyze as wire_analyze
from rmtservice.wire import denoise as wire_denoise
from rmtservice.wire import rectangular, rectangular_service, schemas, service
from rmtservice.wire.analyze import AnalyzeJob, AnalyzeOptions, AnalyzeResponse
from rmtservice.wire.denoise import DenoiseJob, DenoiseOptions, DenoiseResponse
from rmtservice.wire.fit import FitResponse

__all__ = ["LocalClient"]


def _core_problem(exc: RMTError) -> ServiceError:
    """The server's answer to the same error (one table, :mod:`rmtservice.errors`)."""
    return ServiceError(core_problem(exc))


class LocalClient:
    """The same interface as :class:`Client`, computed in this process by the core.

    ``deadline``: seconds allowed to one call (``None``: no limit). Sweeps run on Dask
    (package ``distributed``): on the scheduler at ``dask_scheduler``, else on a
    ``LocalCluster`` of ``dask_workers`` processes on 127.0.0.1, started at the first
    sweep and stopped by :meth:`close`.
    """

    def __init__(
        self,
        *,
        deadline: float | None = None,
        dask_scheduler: str | None = None,
        dask_workers: int = 2,
    ) -> None:
        self.deadline = deadline
        self.dask_scheduler = dask_scheduler
        self.dask_workers = dask_workers
        self._dask: tuple[Any, Any, Any] | None = None  # cluster, client, store

    def __enter__(self) -> LocalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the local Dask cluster of sweeps, if one was started."""
        if self._dask is not None:
            cluster, client, _ = self._dask
            self._dask = None
            client.close()
            if cluster is not None:
                cluster.close()

    def _call(self, name: str, request: Any, fields: dict[str, Any], **options: Any) -> Any:
        _, req_model, _ = _ENDPOINTS[name]
        req = _validated(req_model, request, fields)
        fn: Callable[..., Any] = getattr(service, name, None) or getattr(rectangular_service, name)
        return self._computed(lambda r: fn(r, **options), req)

    def stieltjes(self, request: Any = None, **fields: Any) -> schemas.StieltjesResponse:
        """``f(z)`` and ``omega(z)`` of the limit."""
        return self._call("stieltjes", request, fields)

    def density(self, request: Any = None, **fields: Any) -> schemas.DensityResponse:
        """Density, support, mean and variance."""
        return self._call("density", request, fields)

    def support(self, request: Any = None, **fields: Any) -> schemas.SupportResponse:
        """Support components with masses."""
        return self._call("support", request, fields)

    def outliers(self, request: Any = None, **fields: Any) -> schemas.OutliersResponse:
        """Separated spikes, locations, thresholds, overlaps."""
        return self._call("outliers", request, fields)

    def inverse(self, request: Any = None, **fields: Any) -> schemas.InverseResponse:
        """Spikes behind observed outliers."""
        return self._call("inverse", request, fields)

    def simulate(
        self,
        request: Any = None,
        *,
        progress: Callable[[int, int], None] | None = None,
        **fields: Any,
    ) -> schemas.SimulateResponse:
        """Monte Carlo spectra of H + W; ``progress(done, total)`` after each trial."""
        return self._call("simulate", request, fields, progress=progress)

    def fit(self, request: Any = None, **fields: Any) -> FitResponse:
        """Noise level, bulk edge, outliers and spikes of an observed spectrum (a
        ``bootstrap`` left out takes what the server's default work limit allows)."""
        return self._call("fit", request, fields)

    def rectangular_stieltjes(
        self, request: Any = None, **fields: Any
    ) -> rectangular.RectangularStieltjesResponse:
        """``m(z)`` of the law of Y^T Y, ``m_companion(z)`` and ``w(z)``."""
        return self._call("rectangular_stieltjes", request, fields)

    def rectangular_density(
        self, request: Any = None, **fields: Any
    ) -> rectangular.RectangularDensityResponse:
        """Density of the singular values of S + X, with the support."""
        return self._call("rectangular_density", request, fields)

    def rectangular_support(
        self, request: Any = None, **fields: Any
    ) -> rectangular.RectangularSupportResponse:
        """Support, thresholds and atoms at 0 of the rectangular limit."""
        return self._call("rectangular_support", request, fields)

    def rectangular_outliers(
        self, request: Any = None, **fields: Any
    ) -> rectangular.RectangularOutliersResponse:
        """Outlier singular values and the overlaps of their singular vectors."""
        return self._call("rectangular_outliers", request, fields)

    def rectangular_inverse(
        self, request: Any = None, **fields: Any
    ) -> rectangular.RectangularInverseResponse:
        """Singular values of S behind observed outliers."""
        return self._call("rectangular_inverse", request, fields)

    def rectangular_simulate(
        self,
        request: Any = None,
        *,
        progress: Callable[[int, int], None] | None = None,
        **fields: Any,
    ) -> rectangular.RectangularSimulateResponse:
        """Monte Carlo singular values of S + X; ``progress(done, total)`` after each trial."""
        return self._call("rectangular_simulate", request, fields, progress=progress)

    def plot(self, request: Any = None, **fields: Any) -> bytes:
        """PNG or SVG bytes of the picture, drawn here (matplotlib)."""
        req = _validated(_PLOT[1], request, fields)
        return self._computed(service.plot, req)

    def _computed(self, fn: Callable[[Any], Any], job: Any) -> Any:
        """``fn(job)`` under this client's deadline, a core error as the server's problem."""
        from rmtservice import deadline

        try:
            with deadline.limit(self.deadline), np.errstate(all="ignore"):
                return fn(job)
        except RMTError as exc:
            raise _core_problem(exc) from exc

    # ------------------------------------------------------------ weights
    def _denoise_job(self, matrix: Any, file: Any, name: Any, options: Any) -> DenoiseJob:
        up = _weights.denoise_upload(matrix, file, name, options, read=False)
        assert isinstance(up.options, DenoiseOptions)
        # read as the server reads its upload: the same answers (a file by its path,
        # from its memory map: the messages then name it rather than "the data")
        return DenoiseJob.from_upload(up.options, up.content, up.name)

    def denoise(
        self,
        matrix: Any = None,
        *,
        file: FileSource | None = None,
        name: str | None = None,
        **options: Any,
    ) -> DenoiseResponse:
        """Denoise a matrix or a tensor of a weight file, here (as :meth:`Client.denoise`)."""
        job = self._denoise_job(matrix, file, name, options)
        return DenoiseResponse.from_core(*self._computed(wire_denoise.denoise, job))

    def denoise_array(
        self,
        matrix: Any = None,
        *,
        file: FileSource | None = None,
        name: str | None = None,
        **options: Any,
    ) -> DenoisedArray:
        """:meth:`denoise`, the denoised matrix as a numpy array."""
        job = self._denoise_job(matrix, file, name, options).answering_npy()
        d, _ = self._computed(wire_denoise.denoise, job)
        return DenoisedArray(d.matrix, d.method, d.rank, d.sigma2, d.predicted_error[d.method])

    def analyze(self, file: FileSource, **options: Any) -> AnalyzeResponse:
        """Every weight matrix of a model file, fitted, here (as :meth:`Client.analyze`);
        a path is read tensor by tensor from its memory map (a model larger than memory)."""
        up = _weights.analyze_upload(file, options, read=False)
        assert isinstance(up.options, AnalyzeOptions)
        job = AnalyzeJob.from_upload(up.options, up.content)
        return AnalyzeResponse.from_core(self._computed(wire_analyze.analyze, job))

    def info(self) -> schemas.InfoResponse:
        """Version; no limits apply locally (reported as empty)."""
        return schemas.InfoResponse(
            version=rs.__version__,
            measure_kinds=list(schemas.MEASURE_KINDS),
            noise_distributions=list(NOISE_LAWS),
            limits={},
        )

    # ------------------------------------------------------------------ sweeps
    def _store(self) -> Any:
        if self._dask is None:
            from distributed import Client as DaskClient

            from rmtservice.sweeps.store import SweepStore, local_cluster

            cluster: Any = None
            if self.dask_scheduler is None:
                cluster = local_cluster(self.dask_workers)
            client = DaskClient(self.dask_scheduler or cluster, set_as_default=False)
            self._dask = (cluster, client, SweepStore(client))
        return self._dask[2]

    def _sweep_call(self, fn: Callable[[Any], Any], *, trials: bool = False) -> Any:
        try:
            return service.sweep_response(fn(self._store()), trials=trials)
        except RMTError as exc:  # SweepNotFound and SweepsBusy too
            raise _core_problem(exc) from exc

    def sweep(self, request: Any = None, **fields: Any) -> schemas.SweepResponse:
        """Start a sweep over n on Dask; returns at once, state queued."""
        req = _validated(schemas.SweepRequest, request, fields)
        plan, echo = service.sweep_plan(req)
        meta = {"request": echo.model_dump(mode="json")}
        return self._sweep_call(lambda store: store.submit(plan, meta))

    def sweep_status(self, sweep_id: str, *, trials: bool = False) -> schemas.SweepResponse:
        """State, progress and results so far."""
        return self._sweep_call(lambda store: store.status(sweep_id), trials=trials)

    def cancel_sweep(self, sweep_id: str) -> schemas.SweepResponse:
        """Stop what has not run; keep what has."""
        return self._sweep_call(lambda store: store.cancel(sweep_id))

    def sweep_plot(self, sweep_id: str, *, format: str = "png") -> bytes:
        """PNG or SVG bytes of the sweep's errors against n, drawn here."""
        try:
            status = self._store().status(sweep_id)
        except RMTError as exc:
            raise _core_problem(exc) from exc
        return service.sweep_plot(status, fmt=format)

    def wait_sweep(
        self,
        sweep_id: str,
        *,
        poll: float = 0.5,
        timeout: float | None = None,
        progress: Callable[[int, int], None] | None = None,
        trials: bool = False,
    ) -> schemas.SweepResponse:
        """Poll until the sweep ends; ``progress(done, total)`` at each poll."""
        return Client.wait_sweep(
            self,  # type: ignore[arg-type]  # the same loop over this class's sweep_status
            sweep_id,
            poll=poll,
            timeout=timeout,
            progress=progress,
            trials=trials,
        )

"""Client SDK: ``Client`` and ``AsyncClient`` over httpx, and ``LocalClient`` without a server.

All three have the same methods, one per endpoint: ``stieltjes``, ``density``,
``support``, ``outliers``, ``inverse``, ``simulate``, ``fit``, ``plot`` (bytes), ``info``; for the
rectangular model ``rectangular_stieltjes``, ``rectangular_density``,
``rectangular_support``, ``rectangular_outliers``, ``rectangular_inverse`` and
``rectangular_simulate``; and for
sweeps ``sweep`` (start), ``sweep_status``, ``wait_sweep``, ``cancel_sweep`` and
``sweep_plot``. Keyword arguments
mirror the request fields; a plain dict or the pydantic request model works too, and
a few conveniences are accepted: core measures (``rmtservice.Uniform(-1, 1)``) or
dicts for ``measure``, a number for ``noise`` (its ``sigma2``), ``sigma2=`` instead
of ``noise``, numpy arrays anywhere, and a complex array for ``z``. Results are the
pydantic response models (``.numpy("density")`` gives a float array, null as NaN).

Errors:

- a problem+json answer raises :class:`ServiceError` carrying the parsed problem
  (``status``, ``title``, ``detail``, ``type``, ``errors``); ``LocalClient`` raises the
  same for invalid input, so switching between local and remote is one line;
- transport failures (connection refused, timeouts, ...) raise httpx's own
  ``httpx.TransportError`` subclasses once the retries are spent.

Every endpoint is a pure function, so requests are retried with exponential backoff
on connection errors and on 429, 502, 503 and 504 (honouring ``Retry-After``).
"""

from __future__ import annotations

import asyncio
import numbers
import random
import sys
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

import httpx
from pydantic import BaseModel, ValidationError

from rmtservice.client import _weights
from rmtservice.client._weights import DenoisedArray, FileSource
from rmtservice.errors import validation_problem
from rmtservice.vocabulary import FINAL_STATES, JSON_MEDIA_TYPE
from rmtservice.wire import rectangular, schemas
from rmtservice.wire.analyze import AnalyzeResponse
from rmtservice.wire.denoise import DenoiseResponse
from rmtservice.wire.fit import FitRequest, FitResponse

if TYPE_CHECKING:
    from rmtservice.client.local import LocalClient

__all__ = ["AsyncClient", "Client", "DenoisedArray", "LocalClient", "ServiceError"]


def __getattr__(name: str) -> Any:
    # LocalClient computes with the numeric core (numpy, scipy): loaded on first use only
    if name == "LocalClient":
        from rmtservice.client.local import LocalClient

        return LocalClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


RETRY_STATUS = frozenset({429, 502, 503, 504})

_ENDPOINTS: dict[str, tuple[str, type[BaseModel], type[BaseModel]]] = {
    "stieltjes": ("/v1/stieltjes", schemas.StieltjesRequest, schemas.StieltjesResponse),
    "density": ("/v1/density", schemas.DensityRequest, schemas.DensityResponse),
    "support": ("/v1/support", schemas.SupportRequest, schemas.SupportResponse),
    "outliers": ("/v1/outliers", schemas.OutliersRequest, schemas.OutliersResponse),
    "inverse": ("/v1/outliers/inverse", schemas.InverseRequest, schemas.InverseResponse),
    "simulate": ("/v1/simulate", schemas.SimulateRequest, schemas.SimulateResponse),
    "fit": ("/v1/fit", FitRequest, FitResponse),
    **{
        f"rectangular_{name}": (f"/v1/rectangular/{path}", request, response)
        for name, path, request, response in (
            (
                "stieltjes",
                "stieltjes",
                rectangular.RectangularStieltjesRequest,
                rectangular.RectangularStieltjesResponse,
            ),
            (
                "density",
                "density",
                rectangular.RectangularDensityRequest,
                rectangular.RectangularDensityResponse,
            ),
            (
                "support",
                "support",
                rectangular.RectangularSupportRequest,
                rectangular.RectangularSupportResponse,
            ),
            (
                "outliers",
                "outliers",
                rectangular.RectangularOutliersRequest,
                rectangular.RectangularOutliersResponse,
            ),
            (
                "inverse",
                "outliers/inverse",
                rectangular.RectangularInverseRequest,
                rectangular.RectangularInverseResponse,
            ),
            (
                "simulate",
                "simulate",
                rectangular.RectangularSimulateRequest,
                rectangular.RectangularSimulateResponse,
            ),
        )
    },
}
_PLOT = ("/v1/plot", schemas.PlotRequest)
_FINAL = FINAL_STATES

R = TypeVar("R", bound=BaseModel)


class ServiceError(Exception):
    """A problem+json answer (RFC 9457) from the service, or the same from LocalClient."""

    def __init__(self, problem: Mapping[str, Any], status: int | None = None) -> None:
        self.problem = dict(problem)
        self.status: int = int(status if status is not None else problem.get("status", 0))
        self.title: str = str(problem.get("title", ""))
        self.detail: str = str(problem.get("detail", ""))
        self.type: str = str(problem.get("type", "about:blank"))
        self.errors: list[dict[str, Any]] = list(problem.get("errors") or [])
        super().__init__(f"{self.status} {self.title}: {self.detail}")


# ------------------------------------------------------------------ request building


def wire_measure(measure: Any) -> Any:
    """A core measure as its wire dict (dicts and models pass through)."""
    rs = sys.modules.get("rmtservice.measures")  # not loaded: no core measure exists
    if rs is None or not isinstance(measure, rs.Measure):
        return measure
    if isinstance(measure, rs.Atoms):
        return {
            "kind": "atoms",
            "values": measure.values.tolist(),
            "weights": measure.weights.tolist(),
        }
    if isinstance(measure, rs.Point):
        return {"kind": "point", "at": measure.at}
    if isinstance(measure, rs.Uniform):
        return {"kind": "uniform", "low": measure.low, "high": measure.high}
    if isinstance(measure, rs.Semicircle):
        return {"kind": "semicircle", "center": measure.center, "radius": measure.radius}
    if isinstance(measure, rs.MarchenkoPastur):
        return {"kind": "marchenko_pastur", "ratio": measure.ratio, "scale": measure.scale}
    if isinstance(measure, rs.Mixture):
        return {
            "kind": "mixture",
            "components": [{"weight": w, "measure": wire_measure(m)} for w, m in measure.parts],
        }
    return measure


def _plain(value: Any) -> Any:
    """numpy arrays and scalars as plain Python values, recursively."""
    np = sys.modules.get("numpy")  # not loaded: no numpy value exists
    if np is not None and isinstance(value, np.ndarray):
        return value.tolist()
    if np is not None and isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def build_request(model: type[R], request: Any = None, /, **fields: Any) -> R:
    """The request model from a model, a dict and/or keyword fields (with conveniences);
    positional-only, so that a field may be called ``model`` (as /v1/fit's)."""
    if isinstance(request, model) and not fields:
        return request
    data: dict[str, Any] = {}
    if isinstance(request, BaseModel):
        data.update(request.model_dump(exclude_unset=True))
    elif isinstance(request, Mapping):
        data.update(request)
    elif request is not None:
        raise TypeError(f"request must be a {model.__name__} or a dict")
    data.update({k: v for k, v in fields.items() if v is not None})
    if model is FitRequest:
        return model.model_validate(_plain(_fit_fields(data)))
    if "sigma2" in data:
        noise = dict(data.get("noise") or {})
        noise["sigma2"] = data.pop("sigma2")
        data["noise"] = noise
    if isinstance(data.get("noise"), numbers.Real):
        data["noise"] = {"sigma2": float(data["noise"])}
    for key in ("measure", "spike_law"):
        if key in data:
            data[key] = wire_measure(data[key])
    z = data.get("z")
    if z is not None and not isinstance(z, Mapping | BaseModel):
        import numpy as np

        zc = np.asarray(z, dtype=complex).ravel()
        data["z"] = {"re": zc.real.tolist(), "im": zc.imag.tolist()}
    return model.model_validate(_plain(data))


def _fit_fields(data: dict[str, Any]) -> dict[str, Any]:
    """``shape=(rows, cols)`` and ``matrix=array`` for the fit's ``{rows, cols}`` and
    ``{entries}``."""
    shape = data.get("shape")
    if shape is not None and not isinstance(shape, Mapping | BaseModel):
        rows, cols = shape
        data["shape"] = {"rows": rows, "cols": cols}
    matrix = data.get("matrix")
    if matrix is not None and not isinstance(matrix, Mapping | BaseModel):
        data["matrix"] = {"entries": matrix}
    return data


def _dump(req: BaseModel) -> dict[str, Any]:
    return req.model_dump(mode="json", exclude_unset=True)


def _upload(up: _weights.Upload, *, npy: bool = False) -> dict[str, Any]:
    """The keywords of :meth:`Client._send` for an upload (a .npy answer with ``npy``)."""
    headers = {"content-type": _weights.NPY_MEDIA_TYPE}
    if npy:
        headers["accept"] = _weights.NPY_MEDIA_TYPE
    return {"content": up.content, "params": up.params, "headers": headers}


# ----------------------------------------------------------------------- responses


def _problem_from_response(response: httpx.Response) -> ServiceError:
    try:
        body = response.json()
        if not isinstance(body, dict):
            raise ValueError
    except ValueError:
        body = {"title": response.reason_phrase, "detail": response.text[:500]}
    return ServiceError(body, response.status_code)


def _retry_delay(attempt: int, backoff: float, response: httpx.Response | None) -> float:
    delay = backoff * 2**attempt * (0.5 + random.random() / 2)
    if response is not None:
        after = response.headers.get("retry-after")
        if after is not None:
            try:
                delay = max(delay, float(after))
            except ValueError:
                pass
    return min(delay, 60.0)


def _sweep_path(sweep_id: str, trials: bool) -> str:
    return f"/v1/sweeps/{sweep_id}" + ("?trials=true" if trials else "")


def _sweep_ended(
    sweep_id: str,
    status: schemas.SweepResponse,
    since: float,
    timeout: float | None,
    progress: Callable[[int, int], None] | None,
) -> bool:
    """One poll of ``wait_sweep`` (all three clients): report progress; True once the
    sweep has ended; ``TimeoutError`` after ``timeout`` seconds from ``since``."""
    if progress is not None:
        progress(status.progress.done, status.progress.total)
    if status.state in _FINAL:
        return True
    if timeout is not None and time.monotonic() - since > timeout:
        raise TimeoutError(f"sweep {sweep_id} still {status.state} after {timeout} s")
    return False


class _Base:
    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        timeout: float | httpx.Timeout = 60.0,
        retries: int = 3,
        backoff: float = 0.25,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.headers = {"accept": JSON_MEDIA_TYPE} | dict(headers or {})
        if api_key is not None:
            self.headers["x-api-key"] = api_key

    def _retry(self, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None: ``response`` is the
        answer (a problem is raised). ``response`` None: the transport failed and
        attempts are left."""
        if response is None:
            return _retry_delay(attempt, self.backoff, None)
        if response.status_code in RETRY_STATUS and attempt < self.retries:
            return _retry_delay(attempt, self.backoff, response)
        if response.is_error:
            raise _problem_from_response(response)
        return None


class Client(_Base):
    """Synchronous client. ``with Client(url) as c: c.density(measure=..., sigma2=1)``.

    ``transport`` or ``http_client`` inject an httpx transport (e.g.
    ``httpx.ASGITransport``... for async use ``AsyncClient``) or a whole ``httpx.Client``.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        **options: Any,
    ) -> None:
        super().__init__(base_url, **options)
        self._owned = http_client is None
        self._http = http_client or httpx.Client(
            base_url=self.base_url, timeout=self.timeout, transport=transport, headers=self.headers
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (if this client created it)."""
        if self._owned:
            self._http.close()

    def _send(self, method: str, path: str, json: Any = None, **body: Any) -> httpx.Response:
        """``body``: ``content``, ``params`` and ``headers`` (added to the client's)."""
        headers = self.headers | body.pop("headers", {})
        for attempt in range(self.retries + 1):
            try:
                response = self._http.request(method, path, json=json, headers=headers, **body)
            except httpx.TransportError:
                if attempt == self.retries:
                    raise
                response = None
            delay = self._retry(attempt, response)
            if delay is None:
                return cast(httpx.Response, response)
            time.sleep(delay)
        raise AssertionError("unreachable")

    def _call(self, name: str, request: Any, fields: dict[str, Any]) -> Any:
        path, req_model, resp_model = _ENDPOINTS[name]
        req = _validated(req_model, request, fields)
        return resp_model.model_validate_json(self._send("POST", path, _dump(req)).content)

    def stieltjes(self, request: Any = None, **fields: Any) -> schemas.StieltjesResponse:
        """``f(z)`` and ``omega(z)`` of the limit (``POST /v1/stieltjes``)."""
        return self._call("stieltjes", request, fields)

    def density(self, request: Any = None, **fields: Any) -> schemas.DensityResponse:
        """Density, support, mean and variance (``POST /v1/density``)."""
        return self._call("density", request, fields)

    def support(self, request: Any = None, **fields: Any) -> schemas.SupportResponse:
        """Support components with masses (``POST /v1/support``)."""
        return self._call("support", request, fields)

    def outliers(self, request: Any = None, **fields: Any) -> schemas.OutliersResponse:
        """Separated spikes, locations, thresholds, overlaps (``POST /v1/outliers``)."""
        return self._call("outliers", request, fields)

    def inverse(self, request: Any = None, **fields: Any) -> schemas.InverseResponse:
        """Spikes behind observed outliers (``POST /v1/outliers/inverse``)."""
        return self._call("inverse", request, fields)

    def simulate(self, request: Any = None, **fields: Any) -> schemas.SimulateResponse:
        """Monte Carlo spectra of H + W (``POST /v1/simulate``)."""
        return self._call("simulate", request, fields)

    def fit(self, request: Any = None, **fields: Any) -> FitResponse:
        """Noise level, bulk edge, outliers and spikes of an observed spectrum
        (``POST /v1/fit``): ``eigenvalues=``, ``singular_values=`` with ``shape=(rows,
        cols)``, or ``matrix=`` (an array)."""
        return self._call("fit", request, fields)

    def plot(self, request: Any = None, **fields: Any) -> bytes:
        """PNG or SVG bytes of the picture (``POST /v1/plot``; ``format="svg"`` for SVG)."""
        req = _validated(_PLOT[1], request, fields)
        return self._send("POST", _PLOT[0], _dump(req)).content

    def rectangular_stieltjes(
        self, request: Any = None, **fields: Any
    ) -> rectangular.RectangularStieltjesResponse:
        """``m(z)`` of Y^T Y's law, ``m_companion``, ``w`` (``POST /v1/rectangular/stieltjes``)."""
        return self._call("rectangular_stieltjes", request, fields)

    def rectangular_density(
        self, request: Any = None, **fields: Any
    ) -> rectangular.RectangularDensityResponse:
        """Density of the singular values of S + X, support (``POST /v1/rectangular/density``)."""
        return self._call("rectangular_density", request, fields)

    def rectangular_support(
        self, request: Any = None, **fields: Any
    ) -> rectangular.RectangularSupportResponse:
        """Support, thresholds, atoms at 0 (``POST /v1/rectangular/support``)."""
        return self._call("rectangular_support", request, fields)

    def rectangular_outliers(
        self, request: Any = None, **fields: Any
    ) -> rectangular.RectangularOutliersResponse:
        """Outlier singular values and overlaps (``POST /v1/rectangular/outliers``)."""
        return self._call("rectangular_outliers", request, fields)

    def rectangular_inverse(
        self, request: Any = None, **fields: Any
    ) -> rectangular.RectangularInverseResponse:
        """Singular values of S behind outliers (``POST /v1/rectangular/outliers/inverse``)."""
        return self._call("rectangular_inverse", request, fields)

    def rectangular_simulate(
        self, request: Any = None, **fields: Any
    ) -> rectangular.RectangularSimulateResponse:
        """Monte Carlo singular values of S + X (``POST /v1/rectangular/simulate``)."""
        return self._call("rectangular_simulate", request, fields)

    def info(self) -> schemas.InfoResponse:
        """Version and limits (``GET /v1/info``)."""
        return schemas.InfoResponse.model_validate_json(self._send("GET", "/v1/info").content)

    # ------------------------------------------------------------ weights
    def denoise(
        self,
        matrix: Any = None,
        *,
        file: FileSource | None = None,
        name: str | None = None,
        **options: Any,
    ) -> DenoiseResponse:
        """Denoise a matrix (array-like, sent as .npy) or a tensor of a weight file (a
        path or its bytes, ``name`` the tensor): ``POST /v1/denoise``. ``options``:
        ``method``, ``sigma2``, ``output``, ``model``, ``alpha``, ``seed``."""
        up = _weights.denoise_upload(matrix, file, name, options)
        response = self._send("POST", "/v1/denoise", **_upload(up))
        return DenoiseResponse.model_validate_json(response.content)

    def denoise_array(
        self,
        matrix: Any = None,
        *,
        file: FileSource | None = None,
        name: str | None = None,
        **options: Any,
    ) -> DenoisedArray:
        """:meth:`denoise`, the denoised matrix back as a numpy array (a .npy answer)."""
        up = _weights.denoise_upload(matrix, file, name, options)
        response = self._send("POST", "/v1/denoise", **_upload(up, npy=True))
        return _weights.npy_array(response.content, response.headers)

    def analyze(self, file: FileSource, **options: Any) -> AnalyzeResponse:
        """Every weight matrix of a model file (a path or its bytes), fitted, with its
        recommended denoiser: ``POST /v1/analyze``. ``options``: ``names`` (a glob, a
        name or a list of names), ``method``, ``alpha``."""
        up = _weights.analyze_upload(file, options)
        response = self._send("POST", "/v1/analyze", **_upload(up))
        return AnalyzeResponse.model_validate_json(response.content)

    # ------------------------------------------------------------------ sweeps
    def sweep(self, request: Any = None, **fields: Any) -> schemas.SweepResponse:
        """Start a sweep over n (``POST /v1/sweeps``); returns at once, state queued."""
        req = _validated(schemas.SweepRequest, request, fields)
        response = self._send("POST", "/v1/sweeps", _dump(req))
        return schemas.SweepResponse.model_validate_json(response.content)

    def sweep_status(self, sweep_id: str, *, trials: bool = False) -> schemas.SweepResponse:
        """State, progress and results so far (``GET /v1/sweeps/{id}``)."""
        path = _sweep_path(sweep_id, trials)
        return schemas.SweepResponse.model_validate_json(self._send("GET", path).content)

    def cancel_sweep(self, sweep_id: str) -> schemas.SweepResponse:
        """Stop what has not run; keep what has (``POST /v1/sweeps/{id}/cancel``)."""
        response = self._send("POST", f"/v1/sweeps/{sweep_id}/cancel")
        return schemas.SweepResponse.model_validate_json(response.content)

    def sweep_plot(self, sweep_id: str, *, format: str = "png") -> bytes:
        """PNG or SVG bytes of the sweep's errors against n."""
        return self._send("GET", f"/v1/sweeps/{sweep_id}/plot?format={format}").content

    def wait_sweep(
        self,
        sweep_id: str,
        *,
        poll: float = 0.5,
        timeout: float | None = None,
        progress: Callable[[int, int], None] | None = None,
        trials: bool = False,
    ) -> schemas.SweepResponse:
        """Poll until the sweep ends; ``progress(done, total)`` at each poll.
        ``TimeoutError`` after ``timeout`` seconds (the sweep goes on)."""
        start = time.monotonic()
        while True:
            status = self.sweep_status(sweep_id, trials=trials)
            if _sweep_ended(sweep_id, status, start, timeout, progress):
                return status
            time.sleep(poll)


class AsyncClient(_Base):
    """Asynchronous client with the same methods as :class:`Client` (awaitable)."""

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000",
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        **options: Any,
    ) -> None:
        super().__init__(base_url, **options)
        self._owned = http_client is None
        self._http = http_client or httpx.AsyncClient(
            base_url=self.base_url, timeout=self.timeout, transport=transport, headers=self.headers
        )

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (if this client created it)."""
        if self._owned:
            await self._http.aclose()

    async def _send(self, method: str, path: str, json: Any = None, **body: Any) -> httpx.Response:
        """``body``: ``content``, ``params`` and ``headers`` (added to the client's)."""
        headers = self.headers | body.pop("headers", {})
        for attempt in range(self.retries + 1):
            try:
                response = await self._http.request(
                    method, path, json=json, headers=headers, **body
                )
            except httpx.TransportError:
                if attempt == self.retries:
                    raise
                response = None
            delay = self._retry(attempt, response)
            if delay is None:
                return cast(httpx.Response, response)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _call(self, name: str, request: Any, fields: dict[str, Any]) -> Any:
        path, req_model, resp_model = _ENDPOINTS[name]
        req = _validated(req_model, request, fields)
        response = await self._send("POST", path, _dump(req))
        return resp_model.model_validate_json(response.content)

    async def stieltjes(self, request: Any = None, **fields: Any) -> schemas.StieltjesResponse:
        """``f(z)`` and ``omega(z)`` of the limit (``POST /v1/stieltjes``)."""
        return await self._call("stieltjes", request, fields)

    async def density(self, request: Any = None, **fields: Any) -> schemas.DensityResponse:
        """Density, support, mean and variance (``POST /v1/density``)."""
        return await self._call("density", request, fields)

    async def support(self, request: Any = None, **fields: Any) -> schemas.SupportResponse:
        """Support components with masses (``POST /v1/support``)."""
        return await self._call("support", request, fields)

    async def outliers(self, request: Any = None, **fields: Any) -> schemas.OutliersResponse:
        """Separated spikes, locations, thresholds, overlaps (``POST /v1/outliers``)."""
        return await self._call("outliers", request, fields)

    async def inverse(self, request: Any = None, **fields: Any) -> schemas.InverseResponse:
        """Spikes behind observed outliers (``POST /v1/outliers/inverse``)."""
        return await self._call("inverse", request, fields)

    async def simulate(self, request: Any = None, **fields: Any) -> schemas.SimulateResponse:
        """Monte Carlo spectra of H + W (``POST /v1/simulate``)."""
        return await self._call("simulate", request, fields)

    async def fit(self, request: Any = None, **fields: Any) -> FitResponse:
        """Noise level, bulk edge, outliers and spikes of an observed spectrum
        (``POST /v1/fit``): ``eigenvalues=``, ``singular_values=`` with ``shape=(rows,
        cols)``, or ``matrix=`` (an array)."""
        return await self._call("fit", request, fields)

    async def plot(self, request: Any = None, **fields: Any) -> bytes:
        """PNG or SVG bytes of the picture (``POST /v1/plot``; ``format="svg"`` for SVG)."""
        req = _validated(_PLOT[1], request, fields)
        return (await self._send("POST", _PLOT[0], _dump(req))).content

    async def rectangular_stieltjes(
        self, request: Any = None, **fields: Any
    ) -> rectangular.RectangularStieltjesResponse:
        """``m(z)`` of Y^T Y's law, ``m_companion``, ``w`` (``POST /v1/rectangular/stieltjes``)."""
        return await self._call("rectangular_stieltjes", request, fields)

    async def rectangular_density(
        self, request: Any = None, **fields: Any
    ) -> rectangular.RectangularDensityResponse:
        """Density of the singular values of S + X, support (``POST /v1/rectangular/density``)."""
        return await self._call("rectangular_density", request, fields)

    async def rectangular_support(
        self, request: Any = None, **fields: Any
    ) -> rectangular.RectangularSupportResponse:
        """Support, thresholds, atoms at 0 (``POST /v1/rectangular/support``)."""
        return await self._call("rectangular_support", request, fields)

    async def rectangular_outliers(
        self, request: Any = None, **fields: Any
    ) -> rectangular.RectangularOutliersResponse:
        """Outlier singular values and overlaps (``POST /v1/rectangular/outliers``)."""
        return await self._call("rectangular_outliers", request, fields)

    async def rectangular_inverse(
        self, request: Any = None, **fields: Any
    ) -> rectangular.RectangularInverseResponse:
        """Singular values of S behind outliers (``POST /v1/rectangular/outliers/inverse``)."""
        return await self._call("rectangular_inverse", request, fields)

    async def rectangular_simulate(
        self, request: Any = None, **fields: Any
    ) -> rectangular.RectangularSimulateResponse:
        """Monte Carlo singular values of S + X (``POST /v1/rectangular/simulate``)."""
        return await self._call("rectangular_simulate", request, fields)

    async def info(self) -> schemas.InfoResponse:
        """Version and limits (``GET /v1/info``)."""
        response = await self._send("GET", "/v1/info")
        return schemas.InfoResponse.model_validate_json(response.content)

    # ------------------------------------------------------------ weights
    async def denoise(
        self,
        matrix: Any = None,
        *,
        file: FileSource | None = None,
        name: str | None = None,
        **options: Any,
    ) -> DenoiseResponse:
        """Denoise a matrix (array-like, sent as .npy) or a tensor of a weight file (a
        path or its bytes, ``name`` the tensor): ``POST /v1/denoise``. ``options``:
        ``method``, ``sigma2``, ``output``, ``model``, ``alpha``, ``seed``."""
        up = _weights.denoise_upload(matrix, file, name, options)
        response = await self._send("POST", "/v1/denoise", **_upload(up))
        return DenoiseResponse.model_validate_json(response.content)

    async def denoise_array(
        self,
        matrix: Any = None,
        *,
        file: FileSource | None = None,
        name: str | None = None,
        **options: Any,
    ) -> DenoisedArray:
        """:meth:`denoise`, the denoised matrix back as a numpy array (a .npy answer)."""
        up = _weights.denoise_upload(matrix, file, name, options)
        response = await self._send("POST", "/v1/denoise", **_upload(up, npy=True))
        return _weights.npy_array(response.content, response.headers)

    async def analyze(self, file: FileSource, **options: Any) -> AnalyzeResponse:
        """Every weight matrix of a model file (a path or its bytes), fitted, with its
        recommended denoiser: ``POST /v1/analyze``. ``options``: ``names`` (a glob, a
        name or a list of names), ``method``, ``alpha``."""
        up = _weights.analyze_upload(file, options)
        response = await self._send("POST", "/v1/analyze", **_upload(up))
        return AnalyzeResponse.model_validate_json(response.content)

    # ------------------------------------------------------------------ sweeps
    async def sweep(self, request: Any = None, **fields: Any) -> schemas.SweepResponse:
        """Start a sweep over n (``POST /v1/sweeps``); returns at once, state queued."""
        req = _validated(schemas.SweepRequest, request, fields)
        response = await self._send("POST", "/v1/sweeps", _dump(req))
        return schemas.SweepResponse.model_validate_json(response.content)

    async def sweep_status(self, sweep_id: str, *, trials: bool = False) -> schemas.SweepResponse:
        """State, progress and results so far (``GET /v1/sweeps/{id}``)."""
        path = _sweep_path(sweep_id, trials)
        response = await self._send("GET", path)
        return schemas.SweepResponse.model_validate_json(response.content)

    async def cancel_sweep(self, sweep_id: str) -> schemas.SweepResponse:
        """Stop what has not run; keep what has (``POST /v1/sweeps/{id}/cancel``)."""
        response = await self._send("POST", f"/v1/sweeps/{sweep_id}/cancel")
        return schemas.SweepResponse.model_validate_json(response.content)

    async def sweep_plot(self, sweep_id: str, *, format: str = "png") -> bytes:
        """PNG or SVG bytes of the sweep's errors against n."""
        response = await self._send("GET", f"/v1/sweeps/{sweep_id}/plot?format={format}")
        return response.content

    async def wait_sweep(
        self,
        sweep_id: str,
        *,
        poll: float = 0.5,
        timeout: float | None = None,
        progress: Callable[[int, int], None] | None = None,
        trials: bool = False,
    ) -> schemas.SweepResponse:
        """Poll until the sweep ends; ``progress(done, total)`` at each poll."""
        start = time.monotonic()
        while True:
            status = await self.sweep_status(sweep_id, trials=trials)
            if _sweep_ended(sweep_id, status, start, timeout, progress):
                return status
            await asyncio.sleep(poll)


# ---------------------------------------------------------------------- validation


def _validation_problem(exc: ValidationError) -> ServiceError:
    """The server's answer to the same body (one mapping, :mod:`rmtservice.errors`)."""
    raw = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
    return ServiceError(validation_problem(raw, schemas.MEASURE_KINDS))


def _validated(model: type[R], request: Any, fields: dict[str, Any]) -> R:
    try:
        return build_request(model, request, **fields)
    except ValidationError as exc:
        raise _validation_problem(exc) from exc

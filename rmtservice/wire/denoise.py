"""Wire types and computations of ``POST /v1/denoise`` (docs/http.md).

A matrix comes as JSON ``matrix: {entries}`` or as a binary upload: a ``.npy`` file or
a ``.safetensors`` (or ``.npz``) file with the tensor's ``name``; the format is told by
the first bytes (:func:`rmtservice.io.detect_format`). The computation
(:func:`denoise`) takes a :class:`DenoiseJob` (options plus the matrix or the upload)
and returns the core's :class:`~rmtservice.denoise.Denoised`; the response model is
built from it by :meth:`DenoiseResponse.from_core`, in the process that answers (large
arrays travel between processes as arrays, not as lists of Python floats).

Uploads are decoded in the process that computes (a worker), from the bytes: only the
header is read where the limits are checked (:meth:`Upload.tensor`).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rmtservice.errors import InvalidParameter
from rmtservice.wire.fit import FitResponse
from rmtservice.wire.schemas import SeedValue, _Request, _Response

if TYPE_CHECKING:
    import numpy as np

    from rmtservice.denoise import Denoised
    from rmtservice.io import TensorInfo

__all__ = [
    "DENOISE_METHODS",
    "UPLOAD_MEDIA_TYPES",
    "DenoiseFactors",
    "DenoiseJob",
    "DenoiseOptions",
    "DenoiseRequest",
    "DenoiseResponse",
    "MatrixEntries",
    "MatrixShape",
    "TensorSource",
    "Upload",
    "denoise",
    "npy_bytes",
]

DenoiseMethod = Literal["auto", "hard", "optimal_hard", "shrink", "rie"]
DENOISE_METHODS: tuple[str, ...] = ("auto", "hard", "optimal_hard", "shrink", "rie")
DenoiseOutput = Literal["values", "factors", "matrix"]
DenoiseModel = Literal["wigner", "rectangular"]
#: the media types of a binary upload (the format itself is told by the first bytes)
UPLOAD_MEDIA_TYPES = (
    "application/octet-stream",
    "application/vnd.safetensors",
    "application/x-npy",
    "application/x-npz",
    "application/zip",
)
#: largest sigma2 (its square must not overflow; the core's bound)
MAX_SIGMA2 = 1e150
Sigma2 = Annotated[float, Field(gt=0, le=MAX_SIGMA2)]
Level = Annotated[float, Field(gt=0, lt=1)]


# ------------------------------------------------------------------------- requests


class MatrixEntries(_Request):
    """A matrix as JSON rows."""

    entries: list[Annotated[list[float], Field(min_length=1)]] = Field(
        min_length=1,
        description="rows of the matrix, all of the same length (beyond JSON Schema)",
    )

    @model_validator(mode="after")
    def _rectangular(self) -> Self:
        cols = len(self.entries[0])
        for i, row in enumerate(self.entries):
            if len(row) != cols:
                raise ValueError(
                    f"entries must be a rectangular matrix: row {i} has {len(row)} entries, "
                    f"row 0 has {cols}"
                )
        return self


class DenoiseOptions(_Request):
    """What to do with the matrix (JSON fields, or query parameters with an upload)."""

    method: DenoiseMethod = Field(
        "auto",
        description="`hard` (keep the values beyond the bulk edge), `optimal_hard` "
        "(Gavish-Donoho), `shrink` (optimal shrinkage of spikes), `rie` (rotation-invariant, "
        "for a signal that is not low rank) or `auto` (the smallest predicted error; "
        "`reason` says why)",
    )
    sigma2: Sigma2 | None = Field(
        None,
        description="the known noise level (entries of variance sigma2/rows); not given: "
        "fitted (the `fit`), and its verdict decides whether the bulk is pure noise",
    )
    output: DenoiseOutput = Field(
        "values",
        description="`values` (new values only), `factors` (u, values, vt over the kept "
        "values) or `matrix` (the estimate); `Accept: application/octet-stream` answers "
        "the matrix as a .npy file",
    )
    model: DenoiseModel | None = Field(
        None, description="default: `wigner` for a symmetric matrix, else `rectangular`"
    )
    alpha: Level = Field(0.01, description="level of the fit's outlier tests")
    seed: SeedValue | None = Field(
        None, description="seed of the fit's bootstrap replicates (drawn if not given)"
    )


class DenoiseRequest(DenoiseOptions):
    """``POST /v1/denoise`` with a JSON body."""

    matrix: MatrixEntries


# ------------------------------------------------------------------------- uploads


@dataclass(frozen=True, eq=False)
class Upload:
    """A weight file sent as the body, and the tensor asked for (``name``)."""

    data: bytes | os.PathLike[str]  # a path: the local client's file
    name: str | None = None

    @cached_property
    def format(self) -> str:
        from rmtservice.io import detect_format

        return detect_format(self.data)

    def tensor(self) -> TensorInfo:
        """The header of the chosen tensor (no data is read): the named one, or the only
        matrix of the file (a ``.npy`` file's one tensor)."""
        from rmtservice.io import list_tensors

        tensors = list_tensors(self.data)
        if self.name is not None:
            self._select([self.name])
            return next(t for t in tensors if t.name == self.name)
        matrices = [t for t in tensors if t.matrix_shape is not None]
        if len(matrices) > 1:
            some = ", ".join(repr(t.name) for t in matrices[:5])
            more = f", ... ({len(matrices)} in all)" if len(matrices) > 5 else ""
            raise InvalidParameter(
                f"the file holds {len(matrices)} matrices ({some}{more}): choose one "
                "with the query parameter name",
                field="query.name",
            )
        if not matrices:
            self._select(None)  # says what the file holds instead
        return matrices[0]

    def _select(self, names: list[str] | None) -> None:
        """The io package's checks of a selection, with its messages: a name not there
        (and the close ones), a tensor that is not a matrix, no matrix at all."""
        from rmtservice.io import iter_matrices

        try:
            iter_matrices(self.data, names=names)  # reads the header only
        except InvalidParameter as exc:
            raise InvalidParameter(exc.message, field=_upload_field(exc)) from None

    def matrix(self) -> np.ndarray:
        """The chosen tensor as a float64 matrix (kernels reshaped)."""
        from rmtservice.io import load_matrix

        name = self.tensor().name
        try:
            return load_matrix(self.data, name)
        except InvalidParameter as exc:
            raise InvalidParameter(exc.message, field=_upload_field(exc)) from None


def _upload_field(exc: InvalidParameter) -> str | None:
    """A name error points at the query parameter ``name``; a bad file at no field (the
    body is the file)."""
    return "query.name" if exc.field == "names" else None


class DenoiseJob(BaseModel):
    """What a worker computes: the options and the matrix (JSON) or the upload."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    options: DenoiseOptions
    entries: Any = None  # a float64 ndarray (JSON entries)
    upload: Any = None  # an Upload
    npy_answer: bool = False  # the matrix goes back as .npy bytes, not JSON

    @classmethod
    def from_request(cls, req: DenoiseRequest) -> DenoiseJob:
        import numpy as np

        options = DenoiseOptions.model_validate(req.model_dump(exclude={"matrix"}))
        entries = np.asarray(req.matrix.entries, dtype=float)
        return cls.model_construct(options=options, entries=entries, upload=None, npy_answer=False)

    @classmethod
    def from_upload(
        cls, options: DenoiseOptions, data: bytes | os.PathLike[str], name: str | None
    ) -> DenoiseJob:
        """An uploaded file's bytes (or, for the local client, its path)."""
        return cls.model_construct(
            options=options, entries=None, upload=Upload(data, name), npy_answer=False
        )

    def answering_npy(self) -> DenoiseJob:
        """The same job, its answer the matrix as ``.npy`` bytes."""
        options = self.options.model_copy(update={"output": "matrix"})
        return self.model_copy(update={"options": options, "npy_answer": True})

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the matrix, from the upload's header (no data read)."""
        if self.entries is not None:
            return int(self.entries.shape[0]), int(self.entries.shape[1])
        shape = self.upload.tensor().matrix_shape
        return int(shape[0]), int(shape[1])

    @property
    def field(self) -> str:
        """Where the matrix is, for limit messages."""
        return "matrix.entries" if self.entries is not None else "body"

    def matrix(self) -> np.ndarray:
        return self.entries if self.entries is not None else self.upload.matrix()

    def source(self) -> TensorSource | None:
        if self.upload is None:
            return None
        t = self.upload.tensor()
        return TensorSource(
            format=self.upload.format, name=t.name, shape=list(t.shape), dtype=t.dtype
        )


# ------------------------------------------------------------------ the computation


def denoise(job: DenoiseJob) -> tuple[Denoised, TensorSource | None]:
    """The core's denoising of the job's matrix, and where the matrix came from."""
    from rmtservice.denoise import denoise as core_denoise
    from rmtservice.fit import MIN_VALUES

    o = job.options
    a = job.matrix()
    try:
        d = core_denoise(
            a,
            o.sigma2,
            method=o.method,
            model=o.model,
            output=o.output,
            # a known level needs no fit: a matrix too small for one is denoised alone
            with_fit=o.sigma2 is None or min(a.shape) >= MIN_VALUES,
            alpha=o.alpha,
            seed=o.seed,
        )
    except InvalidParameter as exc:
        raise InvalidParameter(exc.message, field=_core_field(exc, job)) from None
    return d, job.source()


def _core_field(exc: InvalidParameter, job: DenoiseJob) -> str | None:
    """The field of a core error in the request: the matrix's entries, or an option
    (a query parameter with an upload). A bare ``sigma2`` would read as
    ``noise.sigma2``, the other endpoints' place for it: no field then."""
    json = job.entries is not None
    if exc.field == "matrix":
        return "matrix.entries" if json else None
    if exc.field not in DenoiseOptions.model_fields:
        return None
    if json:
        return None if exc.field == "sigma2" else exc.field
    return f"query.{exc.field}"


def npy_bytes(a: np.ndarray) -> bytes:
    """A float64 matrix as the bytes of a ``.npy`` file (no pickle)."""
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(a, dtype=np.float64), allow_pickle=False)
    return buf.getvalue()


# ------------------------------------------------------------------------ responses


class MatrixShape(_Response):
    rows: int
    cols: int


class DenoiseFactors(_Response):
    """The estimate ``centre I + u diag(values) vt`` over the kept values."""

    u: list[list[float]] = Field(description="rows x rank")
    values: list[float] = Field(description="the kept new values minus the centre")
    vt: list[list[float]] = Field(description="rank x cols")
    centre: float


class TensorSource(_Response):
    """The tensor of an uploaded file that was denoised."""

    format: str = Field(description="npy, npz or safetensors")
    name: str
    shape: list[int] = Field(description="as stored (a kernel is read as (out, rest))")
    dtype: str


class DenoiseResponse(_Response):
    """The denoised matrix: the fit, the method used and why, new values, errors."""

    fit: FitResponse | None = Field(
        description="the fit of the observed spectrum (as POST /v1/fit); null for a matrix "
        "of fewer than 10 rows or columns with sigma2 given (too small to fit)"
    )
    model: str
    shape: MatrixShape
    method: str = Field(description="the method used (for auto: the one chosen)")
    reason: str
    sigma2: float = Field(description="the noise level used (given, or the fit's)")
    centre: float = Field(description="the bulk centre (wigner; 0 if rectangular)")
    noise_bulk: bool = Field(description="whether the errors were predicted for a pure-noise bulk")
    values: list[float] = Field(description="the new values, in the order of observed")
    observed: list[float] = Field(description="the observed values, descending")
    rank: int = Field(description="new values that differ from the centre")
    ranks: dict[str, int] = Field(description="the same for each method")
    predicted_error: dict[str, float] = Field(
        description="for each method (and none: the observed matrix), the predicted "
        "||S_hat - S||_F / ||S||_F"
    )
    factors: DenoiseFactors | None = None
    matrix: list[list[float]] | None = None
    tensor: TensorSource | None = Field(None, description="the uploaded tensor, if any")

    @classmethod
    def from_core(cls, d: Denoised, tensor: TensorSource | None = None) -> DenoiseResponse:
        """Built without validating the arrays again (the core's are finite)."""
        sh = d.shrinkage
        factors = None
        if d.factors is not None:
            f = d.factors
            factors = DenoiseFactors.model_construct(
                u=f.u.tolist(), values=f.values.tolist(), vt=f.vt.tolist(), centre=f.centre
            )
        return cls.model_construct(
            fit=None if d.fit is None else FitResponse.from_core(d.fit),
            model=d.model,
            shape=MatrixShape(rows=sh.shape[0], cols=sh.shape[1]),
            method=d.method,
            reason=d.reason,
            sigma2=d.sigma2,
            centre=d.centre,
            noise_bulk=sh.noise_bulk,
            values=d.values.tolist(),
            observed=d.observed.tolist(),
            rank=d.rank,
            ranks=dict(sh.rank),
            predicted_error=dict(d.predicted_error),
            factors=factors,
            matrix=None if d.matrix is None else d.matrix.tolist(),
            tensor=tensor,
        )

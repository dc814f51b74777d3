"""Wire types and computation of ``POST /v1/analyze``: every weight matrix of an uploaded
``.safetensors``, ``.npz`` or ``.npy`` file, fitted, with its recommended denoiser
(:func:`rmtservice.analyze.analyze`).

The limits read the file's header only (:meth:`AnalyzeJob.matrices`); the tensors are
decoded one at a time in the process that computes.
"""

from __future__ import annotations

import fnmatch
import os
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rmtservice.errors import InvalidParameter
from rmtservice.wire.fit import FitBulk, FitGoodness, FitOutlierItem, FitVerdict
from rmtservice.wire.schemas import _Request, _Response

if TYPE_CHECKING:
    from rmtservice.analyze import Analysis, TensorAnalysis
    from rmtservice.io import TensorInfo

__all__ = [
    "AnalyzeJob",
    "AnalyzeOptions",
    "AnalyzeResponse",
    "AnalyzedTensor",
    "SkippedTensor",
    "analyze",
]

AnalyzeMethod = Literal["auto", "hard", "optimal_hard", "shrink", "rie", "none"]


class AnalyzeOptions(_Request):
    """The query parameters of ``POST /v1/analyze``."""

    names: list[str] | None = Field(
        None,
        description="which tensors: one glob (`encoder.*.weight`) or exact names (the "
        "parameter repeated); default every matrix",
    )
    method: AnalyzeMethod = Field("auto", description="the denoiser of `energy_kept`")
    alpha: float = Field(0.01, gt=0, lt=1, description="level of the fits' tests")

    def name_filter(self) -> str | list[str] | None:
        """As :func:`rmtservice.io.iter_matrices` reads it: one text (a glob or a name),
        or a list of exact names."""
        if self.names is None:
            return None
        return self.names[0] if len(self.names) == 1 else list(self.names)


class AnalyzeJob(BaseModel):
    """What a worker computes: the options and the uploaded file's bytes."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    options: AnalyzeOptions
    data: Any  # bytes (a path: the local client's file)

    @classmethod
    def from_upload(cls, options: AnalyzeOptions, data: bytes | os.PathLike[str]) -> AnalyzeJob:
        """An uploaded file's bytes (or, for the local client, its path)."""
        return cls.model_construct(options=options, data=data)

    @cached_property
    def selected(self) -> list[TensorInfo]:
        """The headers of the matrices selected (no data is read); the io package's
        errors for a bad file or a name that is not there."""
        from rmtservice.io import iter_matrices, list_tensors

        names = self.options.name_filter()
        try:
            iter_matrices(self.data, names=names)  # checks the file and the names
        except InvalidParameter as exc:
            field = "query.names" if exc.field == "names" else None
            raise InvalidParameter(exc.message, field=field) from None
        tensors = [t for t in list_tensors(self.data) if t.matrix_shape is not None]
        if names is None:
            return tensors
        if isinstance(names, str):
            if any(c in names for c in "*?["):
                return [t for t in tensors if fnmatch.fnmatchcase(t.name, names)]
            names = [names]
        wanted = set(names)
        return [t for t in tensors if t.name in wanted]


def analyze(job: AnalyzeJob) -> Analysis:
    """The analysis of the uploaded file (the core's, fields renamed for the request)."""
    from rmtservice.analyze import analyze as core_analyze

    o = job.options
    try:
        return core_analyze(job.data, names=o.name_filter(), method=o.method, alpha=o.alpha)
    except InvalidParameter as exc:
        field = {"names": "query.names", "method": "query.method", "alpha": "query.alpha"}
        raise InvalidParameter(exc.message, field=field.get(exc.field or "")) from None


class AnalyzedTensor(_Response):
    """One weight matrix: its fit and its recommended denoiser."""

    name: str
    shape: list[int] = Field(description="the matrix analysed, [rows, cols]")
    reshaped_from: list[int] | None = Field(description="a kernel's stored shape")
    how: str
    dtype: str
    model: str
    sigma2: float
    bulk: FitBulk
    edge_threshold: float
    rank: int = Field(description="values declared signal")
    outliers: list[FitOutlierItem]
    energy_kept: float = Field(description="||W_hat||^2 / ||W||^2 for `method`")
    goodness_of_fit: FitGoodness
    tail_exponent: float | None
    verdict: FitVerdict
    recommended_method: str
    predicted_error: float = Field(description="of the recommended method")
    method: str = Field(description="the method of energy_kept")
    predicted_errors: dict[str, float]
    reason: str
    seconds: float

    @classmethod
    def from_core(cls, t: TensorAnalysis) -> AnalyzedTensor:
        return cls(
            name=t.name,
            shape=list(t.shape),
            reshaped_from=None if t.reshaped_from is None else list(t.reshaped_from),
            how=t.how,
            dtype=t.dtype,
            model=t.model,
            sigma2=t.sigma2,
            bulk=FitBulk(lower=t.bulk.lower, upper=t.bulk.upper),
            edge_threshold=t.edge_threshold,
            rank=t.rank,
            outliers=[FitOutlierItem(**vars(o)) for o in t.outliers],
            energy_kept=t.energy_kept,
            goodness_of_fit=FitGoodness(**vars(t.goodness_of_fit)),
            tail_exponent=t.tail_exponent,
            verdict=FitVerdict(**vars(t.verdict)),
            recommended_method=t.recommended_method,
            predicted_error=t.predicted_error,
            method=t.method,
            predicted_errors=dict(t.predicted_errors),
            reason=t.reason,
            seconds=t.seconds,
        )


class SkippedTensor(_Response):
    name: str
    shape: list[int]
    dtype: str
    reason: str


class AnalyzeResponse(_Response):
    """Every weight matrix of the file, fitted, and the tensors skipped (and why)."""

    format: str = Field(description="npy, npz or safetensors")
    method: str
    alpha: float
    tensors: list[AnalyzedTensor]
    skipped: list[SkippedTensor]
    seconds: float

    @classmethod
    def from_core(cls, a: Analysis) -> AnalyzeResponse:
        return cls(
            format=a.format,
            method=a.method,
            alpha=a.alpha,
            tensors=[AnalyzedTensor.from_core(t) for t in a.tensors],
            skipped=[
                SkippedTensor(name=s.name, shape=list(s.shape), dtype=s.dtype, reason=s.reason)
                for s in a.skipped
            ],
            seconds=a.seconds,
        )

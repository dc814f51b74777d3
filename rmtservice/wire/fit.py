"""Wire types and the computation of ``POST /v1/fit`` (docs/theory/fit.md, docs/http.md).

An observed spectrum in (eigenvalues, singular values with the shape, or the matrix),
the fit of :func:`rmtservice.fit.fit` out: noise level with its interval, bulk edges,
the finite-n threshold, the outliers with their spikes and overlaps, goodness of fit,
verdict, tail exponent and, with a known ``sigma2``, the deconvolved law as an ``atoms``
measure that ``/v1/density`` accepts.

The module imports pydantic only; the numeric core is loaded by :func:`fit` (the SDK
imports these schemas without it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from rmtservice.errors import InvalidParameter
from rmtservice.wire.schemas import (
    MaybeFloat,
    NonNegative,
    Positive,
    SeedValue,
    _absent,
    _Request,
    _Response,
    _whole,
)

if TYPE_CHECKING:
    from rmtservice.fit import Fit

__all__ = [
    "AUTO_BOOTSTRAP",
    "DEFAULT_BOOTSTRAP_WORK",
    "FitAtoms",
    "FitBulk",
    "FitGoodness",
    "FitMatrix",
    "FitOutlierItem",
    "FitRequest",
    "FitResponse",
    "FitShape",
    "FitTail",
    "FitVerdict",
    "bootstrap_replicates",
    "fit",
]

#: fewest values a fit accepts (rmtservice.fit.MIN_VALUES; the schema states it)
MIN_VALUES = 10
#: replicates of the bootstrap when the request leaves ``bootstrap`` out
AUTO_BOOTSTRAP = 50
#: default of the setting ``max_fit_bootstrap_work``: replicates x values^2, the work of
#: the bootstrap (one tridiagonal eigensolve of the bulk's size a replicate, about
#: 1.1e-8 s x values^2 on a 2-core machine of 2026: 2 s at this bound)
DEFAULT_BOOTSTRAP_WORK = 200_000_000

AtLeast0 = Annotated[int, Field(ge=0), BeforeValidator(_whole)]
Level = Annotated[float, Field(gt=0, lt=1)]


class FitShape(_Request):
    """``rows x cols`` of the matrix whose singular values are given."""

    rows: Annotated[int, BeforeValidator(_whole)] = Field(ge=1)
    cols: Annotated[int, BeforeValidator(_whole)] = Field(ge=1)


class FitMatrix(_Request):
    """The observed matrix itself, by rows (all of the same length: beyond JSON Schema):
    symmetric means model ``wigner``, else ``rectangular``; its eigenvalues or singular
    values are computed here."""

    entries: list[list[float]] = Field(min_length=MIN_VALUES, description="rows of the matrix")


def _branch(required: list[str], kinds: dict[str, str], absent: list[str]) -> dict[str, Any]:
    """Required ``required`` of the types ``kinds``, each of ``absent`` absent or null."""
    schema = _absent(*absent)
    schema["properties"].update({name: {"type": kind} for name, kind in kinds.items()})
    return {"required": required, **schema}


class FitRequest(_Request):
    """Fit an observed spectrum by noise plus spikes (docs/theory/fit.md).

    Exactly one of ``eigenvalues`` (model ``wigner``), ``singular_values`` with
    ``shape`` (model ``rectangular``; ``min(rows, cols)`` values) and ``matrix``;
    ``model`` only with ``matrix``. Beyond JSON Schema: ``bootstrap`` 0 or at least 10,
    and ``bootstrap x values^2`` at most ``max_fit_bootstrap_work``; ``deconvolve`` needs
    ``sigma2``; a shape that matches the count (422 ``invalid-parameter``).
    """

    model_config = ConfigDict(
        json_schema_extra={
            # inside allOf: a top-level anyOf reads as a union to client generators
            "allOf": [
                {
                    "anyOf": [
                        _branch(
                            ["eigenvalues"],
                            {"eigenvalues": "array"},
                            ["singular_values", "shape", "matrix", "model"],
                        ),
                        _branch(
                            ["singular_values", "shape"],
                            {"singular_values": "array", "shape": "object"},
                            ["eigenvalues", "matrix", "model"],
                        ),
                        _branch(
                            ["matrix"],
                            {"matrix": "object"},
                            ["eigenvalues", "singular_values", "shape"],
                        ),
                    ]
                }
            ]
        }
    )

    eigenvalues: list[float] | None = Field(
        None,
        min_length=MIN_VALUES,
        description="eigenvalues of a symmetric matrix H + W (model wigner), any order",
    )
    singular_values: list[NonNegative] | None = Field(
        None,
        min_length=MIN_VALUES,
        description="the min(rows, cols) singular values of an rows x cols matrix S + X "
        "(model rectangular), any order; needs shape",
    )
    shape: FitShape | None = Field(None, description="rows and cols (with singular_values)")
    matrix: FitMatrix | None = Field(None, description="the matrix itself")
    model: Literal["wigner", "rectangular"] | None = Field(
        None,
        description="with matrix: wigner (must be symmetric) or rectangular (e.g. a square "
        "symmetric matrix's singular values); default from its symmetry",
    )
    sigma2: Positive | None = Field(
        None,
        description="known noise level (not estimated), e.g. a network's initialisation "
        "variance times n (rows for the rectangular model)",
    )
    alpha: float = Field(
        0.01,
        gt=0,
        le=0.5,
        description="level of the outlier tests (the chance that pure noise shows any "
        "outlier) and of the goodness-of-fit test in the verdict; at least 1e-300 (beyond "
        "JSON Schema)",
    )
    confidence: Level = Field(0.95, description="level of sigma2_interval")
    bootstrap: AtLeast0 | None = Field(
        None,
        description=f"replicates of the parametric bootstrap (0: none, else at least 10): "
        f"the interval and the goodness-of-fit p-value. Absent: {AUTO_BOOTSTRAP}, or the "
        "most that max_fit_bootstrap_work allows (values^2 each), or none",
    )
    seed: SeedValue | None = Field(
        None, description="seed of the bootstrap (drawn and returned when absent)"
    )
    deconvolve: bool | None = Field(
        None,
        description="estimate the signal's law by free deconvolution (needs sigma2; "
        "default: when sigma2 is given)",
    )

    @model_validator(mode="after")
    def _one_spectrum(self) -> Self:
        names = ("eigenvalues", "singular_values", "matrix")
        given = [k for k in names if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of eigenvalues, singular_values (with shape) and matrix"
                + (f", got {' and '.join(given)}" if given else "")
            )
        if (self.shape is None) != (self.singular_values is None):
            raise ValueError("shape goes with singular_values, and singular_values need shape")
        if self.model is not None and self.matrix is None:
            raise ValueError("model applies to matrix only")
        return self

    @property
    def count(self) -> int:
        """Number of values fitted (for a matrix, ``min(rows, cols)``)."""
        if self.eigenvalues is not None:
            return len(self.eigenvalues)
        if self.singular_values is not None:
            return len(self.singular_values)
        assert self.matrix is not None
        entries = self.matrix.entries
        return min(len(entries), len(entries[0]) if entries else 0)


# ---------------------------------------------------------------------- response


class FitBulk(_Response):
    """Edges of the fitted limit's bulk (eigenvalues; singular values if rectangular)."""

    lower: float
    upper: float


class FitOutlierItem(_Response):
    """A value declared signal and the spike behind it (rmtservice.fit.FitOutlier)."""

    index: int = Field(
        description="position in the input (for a matrix: in its values, largest first)"
    )
    value: float = Field(description="the eigenvalue or singular value")
    p_value: float = Field(description="step-down Tracy-Widom p-value (declared iff <= alpha)")
    spike: float = Field(
        description="the spike (eigenvalue of H, singular value of S) by the finite-n "
        "inverse map that counts the other spikes (the limit's when that has no root)"
    )
    spike_limit: float = Field(description="the spike by the limit's inverse map")
    overlap: MaybeFloat = Field(
        description="wigner: predicted squared eigenvector overlap; else null"
    )
    left_overlap: MaybeFloat = Field(
        description="rectangular: squared overlap of the left singular vectors; else null"
    )
    right_overlap: MaybeFloat = Field(
        description="rectangular: squared overlap of the right singular vectors; else null"
    )
    finite_n: bool = Field(description="whether spike and overlaps are the finite-n map's")


class FitGoodness(_Response):
    """Kolmogorov distance of the bulk to the fitted law, and its p-value by the
    bootstrap's replicates (null without them)."""

    ks: float
    p_value: MaybeFloat
    replicates: int
    bulk_values: int


class FitVerdict(_Response):
    """Whether the spectrum looks like noise plus a few spikes, in plain words."""

    noise_plus_spikes: bool
    message: str


class FitTail(_Response):
    """Power-law fit of the top of the ESD of ``Y^T Y`` (WeightWatcher's alpha)."""

    exponent: float
    x_min: float
    count: int
    ks: float


class FitAtoms(_Response):
    """The deconvolved law as an ``atoms`` measure (``/v1/density`` accepts it)."""

    kind: Literal["atoms"] = "atoms"
    values: list[float]
    weights: list[float]


class FitResponse(_Response):
    """An observed spectrum fitted by noise plus spikes."""

    model: Literal["wigner", "rectangular"]
    shape: FitShape
    sigma2: float
    sigma2_interval: tuple[float, float] = Field(description="[lower, upper]")
    sigma2_interval_method: Literal["bootstrap", "asymptotic", "given"] = Field(
        description="parametric bootstrap of Gaussian noise, the CLT of the quantile fit, "
        "or sigma2 given"
    )
    confidence: float = Field(description="level of sigma2_interval")
    center: float = Field(description="centre of the noise's semicircle (0: rectangular)")
    bulk: FitBulk
    spike_threshold: float = Field(description="smallest spike that separates in the limit")
    edge_threshold: float = Field(
        description="finite-n threshold at level alpha (Tracy-Widom): values above are signal"
    )
    lower_edge_threshold: MaybeFloat = Field(description="the same below the bulk (wigner)")
    alpha: float
    outliers: list[FitOutlierItem]
    rank: int
    goodness_of_fit: FitGoodness
    verdict: FitVerdict
    tail: FitTail | None
    deconvolved: FitAtoms | None = Field(
        description="with sigma2 given: the law of H (of the singular values of S) by free "
        "deconvolution, an atoms measure"
    )
    bootstrap: int = Field(description="replicates of the bootstrap used (0: none)")
    seed: int | None = Field(description="seed of the replicates (null without them)")

    @classmethod
    def from_core(cls, f: Fit) -> FitResponse:
        iv = f.sigma2_interval
        decon = f.deconvolved
        return cls(
            model=f.model,
            shape=FitShape(rows=f.shape[0], cols=f.shape[1]),
            sigma2=f.sigma2,
            sigma2_interval=(iv.lower, iv.upper),
            sigma2_interval_method=iv.method,
            confidence=iv.confidence,
            center=f.center,
            bulk=FitBulk(lower=f.bulk.lower, upper=f.bulk.upper),
            spike_threshold=f.spike_threshold,
            edge_threshold=f.edge_threshold,
            lower_edge_threshold=f.lower_edge_threshold,
            alpha=f.alpha,
            outliers=[FitOutlierItem(**vars(o)) for o in f.outliers],
            rank=f.rank,
            goodness_of_fit=FitGoodness(**vars(f.goodness_of_fit)),
            verdict=FitVerdict(**vars(f.verdict)),
            tail=None if f.tail is None else FitTail(**vars(f.tail)),
            deconvolved=None
            if decon is None
            else FitAtoms(values=decon.values.tolist(), weights=decon.weights.tolist()),
            bootstrap=f.goodness_of_fit.replicates,
            seed=f.seed,
        )


# ------------------------------------------------------------------ computation


def bootstrap_replicates(req: FitRequest, max_work: int = DEFAULT_BOOTSTRAP_WORK) -> int:
    """Replicates the fit of ``req`` draws: the request's, or when absent
    ``AUTO_BOOTSTRAP`` cut to what ``max_work`` (replicates x values^2) allows, none
    below the core's minimum of 10."""
    if req.bootstrap is not None:
        return req.bootstrap
    fits = max_work // max(req.count, 1) ** 2
    replicates = min(AUTO_BOOTSTRAP, fits)
    return replicates if replicates >= 10 else 0


def fit(req: FitRequest, *, max_work: int = DEFAULT_BOOTSTRAP_WORK) -> FitResponse:
    """The computation of ``POST /v1/fit`` (the server's limits were checked before)."""
    from rmtservice.fit import fit as core_fit

    try:
        result = core_fit(
            **_inputs(req),
            model=req.model,
            sigma2=req.sigma2,
            alpha=req.alpha,
            confidence=req.confidence,
            bootstrap=bootstrap_replicates(req, max_work),
            seed=req.seed,
            deconvolve=req.deconvolve,
        )
    except InvalidParameter as exc:
        field = _FIELDS.get(exc.field or "", exc.field)
        if field == "values":  # the core's name for whichever input was given
            field = next(k for k in ("eigenvalues", "singular_values", "matrix") if getattr(req, k))
        if field == exc.field:
            raise
        message = exc.message
        if exc.field == "ratio":  # the Marchenko-Pastur law of the shape's aspect ratio
            message = f"the shape is too elongated for double precision: {message}"
        raise InvalidParameter(message, field=field) from exc
    return FitResponse.from_core(result)


#: the core's field names as the request's (``body.``: not a noise object's sigma2)
_FIELDS = {
    "sigma2": "body.sigma2",
    "shape rows": "shape.rows",
    "shape cols": "shape.cols",
    "ratio": "shape",
}


def _inputs(req: FitRequest) -> dict[str, Any]:
    if req.eigenvalues is not None:
        return {"eigenvalues": req.eigenvalues}
    if req.singular_values is not None:
        assert req.shape is not None
        return {"singular_values": req.singular_values, "shape": (req.shape.rows, req.shape.cols)}
    assert req.matrix is not None
    return {"matrix": _matrix(req.matrix)}


def _matrix(m: FitMatrix) -> Any:
    import numpy as np

    cols = len(m.entries[0])
    for i, row in enumerate(m.entries):
        if len(row) != cols:
            raise InvalidParameter(
                f"matrix rows must all have the same length: row {i} has {len(row)} "
                f"entries, row 0 has {cols}",
                field=f"matrix.entries.{i}",
            )
    return np.asarray(m.entries, dtype=float)

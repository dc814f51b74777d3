"""Wire types of the HTTP API (docs/http.md): pydantic v2 requests, responses and Problem.

Requests are strict: ``false`` and ``"1"`` are not numbers, unknown fields are refused,
and so are NaN and infinity. The ``Field`` bounds here are the hard contract and show in
the OpenAPI spec; per-deployment limits (sizes, depths) are checked by the web layer.

Responses never carry NaN or infinity: an undefined value is ``null`` and the schema
says so (``number | null``). Conversions from the core's results are ``from_core``
class methods; no numerics happen here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

import rmtservice as rs
from rmtservice.errors import InvalidParameter
from rmtservice.vocabulary import MAX_SEED, NOISE_LAWS, NoiseDistribution, SweepState

if TYPE_CHECKING:
    from rmtservice.noise import Noise as CoreNoise

__all__ = [
    "MAX_SEED",
    "MEASURE_KINDS",
    "AtomsMeasure",
    "Comparison",
    "ComplexArray",
    "ComplexValues",
    "DensityRequest",
    "DensityResponse",
    "Grid",
    "HealthResponse",
    "Histogram",
    "InfoResponse",
    "InverseItem",
    "InverseRequest",
    "InverseResponse",
    "MarchenkoPasturMeasure",
    "MatrixMeasure",
    "Measure",
    "MeasureModel",
    "MetricSummary",
    "MixtureComponent",
    "MixtureMeasure",
    "Noise",
    "OutlierDensity",
    "OutlierItem",
    "OutliersRequest",
    "OutliersResponse",
    "PlotRequest",
    "PlotSimulation",
    "PointMeasure",
    "Problem",
    "ProblemFieldError",
    "ProblemTypeInfo",
    "RateFitItem",
    "ReadyResponse",
    "SemicircleMeasure",
    "SimulateRequest",
    "SimulateResponse",
    "SimulatedOutlierItem",
    "StieltjesRequest",
    "StieltjesResponse",
    "SupportComponent",
    "SupportRequest",
    "SupportResponse",
    "SweepFits",
    "SweepProgress",
    "SweepRequest",
    "SweepResponse",
    "SweepSize",
    "SweepTrial",
    "Thresholds",
    "UniformMeasure",
    "UpperHalfPlane",
]

#: points of /v1/density's automatic grid when ``num`` is not given
AUTO_GRID_POINTS = 512


def _whole(value: Any) -> Any:
    """A JSON number without a fraction as an int: JSON Schema's ``integer`` (what the
    spec says) counts ``2.0`` as one. Anything else goes on to strict validation as it
    is (``2.5``, ``"2"`` and ``true`` are refused)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: an integer field of a request: 2 or 2.0
Integer = Annotated[int, BeforeValidator(_whole)]
# the same with bounds, for fields that may be null (given on the field, pydantic writes
# the bounds of such a union as keywords JSON Schema does not know: "ge")
AtLeast1 = Annotated[int, Field(ge=1), BeforeValidator(_whole)]
AtLeast2 = Annotated[int, Field(ge=2), BeforeValidator(_whole)]
SeedValue = Annotated[int, Field(ge=0, le=MAX_SEED), BeforeValidator(_whole)]
NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
MaybeFloat = Annotated[float | None, Field(description="null where the value is undefined")]

#: the noise laws but one, for each (the spec's rules on df and density)
OTHER_NOISES: dict[str, list[Any]] = {
    law: [other for other in NOISE_LAWS if other != law] for law in NOISE_LAWS
}


def _finite_or_none(values: Iterable[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]


def _maybe(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


# JSON Schema for the rules between fields that it can state (the models' validators
# enforce them; the spec says so), as ``anyOf`` of plain cases (``not`` and ``if``
# would say it shorter, but make schema-driven generators filter, or stall)


def _absent(*names: str) -> dict[str, Any]:
    """Each of ``names`` absent or null."""
    return {"properties": {name: {"type": "null"} for name in names}}


def _not_both(a: str, b: str) -> dict[str, Any]:
    return {"anyOf": [_absent(a), _absent(b)]}


def _only_with(name: str, kind: str, key: str, value: str, others: list[str]) -> dict[str, Any]:
    """``name`` present when ``key`` is ``value`` (else one of ``others``, or absent)."""
    return {
        "anyOf": [
            {"required": [key, name], "properties": {key: {"const": value}, name: {"type": kind}}},
            {"properties": {key: {"enum": others}, name: {"type": "null"}}},
        ]
    }


class _Request(BaseModel):
    """Strict request model: exact JSON types, no unknown fields, finite numbers only."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(ser_json_inf_nan="null")

    def numpy(self, name: str) -> Any:
        """A list field as a numpy array (``null`` as NaN; complex values as complex)."""
        import numpy as np

        value = getattr(self, name)
        if isinstance(value, ComplexValues):
            re = np.array([np.nan if v is None else v for v in value.re], dtype=float)
            im = np.array([np.nan if v is None else v for v in value.im], dtype=float)
            return re + 1j * im
        if value and isinstance(value[0], list):
            return np.array([[np.nan if v is None else v for v in row] for row in value])
        return np.array([np.nan if v is None else v for v in value], dtype=float)


# ------------------------------------------------------------------------ measures


class MeasureModel(_Request):
    """Common behaviour of the measure schemas."""

    @property
    def size(self) -> int:
        """Atom count of the core measure (1 for a continuous law)."""
        return 1

    @property
    def depth(self) -> int:
        """Nesting depth of mixtures (0 for a plain law)."""
        return 0

    def walk(self, path: str = "measure") -> Iterator[tuple[str, MeasureModel]]:
        """This measure and every nested one, with their dotted field paths."""
        yield path, self

    def to_measure(self, path: str = "measure") -> rs.Measure:
        """The core measure; a core :class:`InvalidParameter` gets the field path."""
        try:
            return self._build(path)
        except InvalidParameter as exc:
            if exc.field is not None and exc.field.startswith(path):
                raise
            field = path if exc.field is None else f"{path}.{exc.field}"
            raise InvalidParameter(exc.message, field=field) from exc

    def _build(self, path: str) -> rs.Measure:
        raise NotImplementedError


class AtomsMeasure(MeasureModel):
    """An empirical spectrum of H: atoms ``values`` with optional ``weights``."""

    kind: Literal["atoms"]
    values: list[float] = Field(min_length=1, description="atom locations")
    weights: list[NonNegative] | None = Field(
        None,
        description="non-negative, as many as values and not all zero (beyond JSON "
        "Schema); normalised to sum 1; default equal weights",
    )

    @model_validator(mode="after")
    def _weights_match(self) -> Self:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"weights has {len(self.weights)} entries but values has {len(self.values)}"
                )
            if not any(w > 0 for w in self.weights):
                raise ValueError("weights must not all be zero")
        return self

    @property
    def size(self) -> int:
        return len(self.values)

    def _build(self, path: str) -> rs.Measure:
        return rs.Atoms(self.values, self.weights)


class PointMeasure(MeasureModel):
    """Point mass at ``at`` (the limit is then a semicircle law)."""

    kind: Literal["point"]
    at: float

    def _build(self, path: str) -> rs.Measure:
        return rs.Point(self.at)


class UniformMeasure(MeasureModel):
    """Uniform law on ``[low, high]``, ``low < high`` (beyond JSON Schema)."""

    kind: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.low < self.high:
            raise ValueError(f"low must be < high, got low={self.low!r}, high={self.high!r}")
        return self

    def _build(self, path: str) -> rs.Measure:
        return rs.Uniform(self.low, self.high)


class SemicircleMeasure(MeasureModel):
    """Semicircle law with centre ``center`` and radius ``radius > 0``."""

    kind: Literal["semicircle"]
    center: float
    radius: Positive

    def _build(self, path: str) -> rs.Measure:
        return rs.Semicircle(self.center, self.radius)


class MarchenkoPasturMeasure(MeasureModel):
    """Marchenko-Pastur law: ``ratio`` in (0, 1], ``scale > 0``.

    Its edges are ``scale (1 -+ sqrt ratio)^2``.
    """

    kind: Literal["marchenko_pastur"]
    ratio: float = Field(gt=0, le=1)
    scale: Positive = 1.0

    def _build(self, path: str) -> rs.Measure:
        return rs.MarchenkoPastur(self.ratio, self.scale)


class MatrixMeasure(MeasureModel):
    """A real symmetric matrix; its eigenvalues become equally weighted atoms."""

    kind: Literal["matrix"]
    entries: list[list[float]] = Field(
        min_length=1,
        description="rows of a square symmetric matrix (as many entries in each row as "
        "rows: beyond JSON Schema)",
    )

    @model_validator(mode="after")
    def _square(self) -> Self:
        n = len(self.entries)
        for i, row in enumerate(self.entries):
            if len(row) != n:
                raise ValueError(
                    f"entries must be a square matrix: row {i} has {len(row)} entries, "
                    f"expected {n} (one per row)"
                )
        return self

    @property
    def size(self) -> int:
        return len(self.entries)

    def _build(self, path: str) -> rs.Measure:
        try:
            return rs.from_matrix(self.entries)
        except InvalidParameter as exc:
            raise InvalidParameter(exc.message, field=f"{path}.entries") from exc


class MixtureComponent(_Request):
    """One weighted component of a mixture."""

    weight: NonNegative
    measure: Measure


class MixtureMeasure(MeasureModel):
    """Weighted sum of measures; weights are normalised to sum 1."""

    kind: Literal["mixture"]
    components: list[MixtureComponent] = Field(
        min_length=1, description="their weights not all zero (beyond JSON Schema)"
    )

    @model_validator(mode="after")
    def _some_weight(self) -> Self:
        if not any(c.weight > 0 for c in self.components):
            raise ValueError("component weights must not all be zero")
        return self

    @property
    def size(self) -> int:
        return sum(c.measure.size for c in self.components)

    @property
    def depth(self) -> int:
        return 1 + max(c.measure.depth for c in self.components)

    def walk(self, path: str = "measure") -> Iterator[tuple[str, MeasureModel]]:
        yield path, self
        for i, c in enumerate(self.components):
            yield from c.measure.walk(f"{path}.components.{i}.measure")

    def _build(self, path: str) -> rs.Measure:
        parts = [
            (c.weight, c.measure.to_measure(f"{path}.components.{i}.measure"))
            for i, c in enumerate(self.components)
        ]
        return rs.Mixture(parts)


Measure = Annotated[
    AtomsMeasure
    | PointMeasure
    | UniformMeasure
    | SemicircleMeasure
    | MarchenkoPasturMeasure
    | MixtureMeasure
    | MatrixMeasure,
    Field(discriminator="kind", description="the limiting spectral distribution nu of H"),
]
#: the tags of the measure union, in its order (defined by the union's members)
MEASURE_KINDS: tuple[str, ...] = tuple(
    get_args(m.model_fields["kind"].annotation)[0] for m in get_args(get_args(Measure)[0])
)
MixtureComponent.model_rebuild()


# ------------------------------------------------------------------- shared parts


class Noise(_Request):
    """The Wigner noise W: variance ``sigma2/n`` off the diagonal, ``2 sigma2/n`` on it.

    ``distribution``, ``df`` and ``density`` matter for ``/v1/simulate`` only: the
    limits depend on ``sigma2`` alone (universality). ``df`` is given with ``student_t``
    only, ``density`` with ``sparse`` only.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                _only_with("df", "number", "distribution", "student_t", OTHER_NOISES["student_t"]),
                _only_with("density", "number", "distribution", "sparse", OTHER_NOISES["sparse"]),
            ]
        }
    )

    sigma2: Positive
    distribution: NoiseDistribution = "gaussian"
    df: float | None = Field(None, gt=4, description="degrees of freedom, student_t only")
    density: float | None = Field(
        None, gt=0, le=1, description="fraction of non-zero entries, sparse only"
    )

    @model_validator(mode="after")
    def _law_parameters(self) -> Self:
        if self.distribution == "student_t" and self.df is None:
            raise ValueError("student_t noise needs df > 4")
        if self.distribution == "sparse" and self.density is None:
            raise ValueError("sparse noise needs density in (0, 1]")
        if self.df is not None and self.distribution != "student_t":
            raise ValueError("df applies to student_t noise only")
        if self.density is not None and self.distribution != "sparse":
            raise ValueError("density applies to sparse noise only")
        return self

    def to_noise(self) -> CoreNoise:
        """The core's value of this law (built once per request: the core checks it there)."""
        from rmtservice.noise import Noise as CoreNoise

        return CoreNoise(self.distribution, self.df, self.density)


class ComplexArray(_Request):
    """Complex numbers as two real arrays of equal length (beyond JSON Schema)."""

    re: list[float]
    im: list[float]

    @model_validator(mode="after")
    def _same_length(self) -> Self:
        if len(self.re) != len(self.im):
            raise ValueError(
                f"re and im must have the same length, got {len(self.re)} and {len(self.im)}"
            )
        return self


class UpperHalfPlane(ComplexArray):
    """Points ``z`` with ``Im z >= 0`` (``im == 0``: the boundary value ``f(x + i0)``),
    ``re`` and ``im`` of equal length (beyond JSON Schema)."""

    im: list[NonNegative]


class ComplexValues(_Response):
    """Complex numbers as two real arrays of equal length (null: undefined)."""

    re: list[float | None]
    im: list[float | None]

    @classmethod
    def from_core(cls, values: Any) -> ComplexValues:
        return cls(
            re=_finite_or_none(values.real.tolist()), im=_finite_or_none(values.imag.tolist())
        )


class SupportComponent(_Response):
    """One connected component ``[lower, upper]`` of the support and its mass."""

    lower: MaybeFloat
    upper: MaybeFloat
    mass: MaybeFloat


def _support(sup: rs.Support) -> list[SupportComponent]:
    rows = zip(sup.lower.tolist(), sup.upper.tolist(), sup.mass.tolist(), strict=True)
    return [SupportComponent(lower=_maybe(a), upper=_maybe(b), mass=_maybe(m)) for a, b, m in rows]


class _LimitRequest(_Request):
    measure: Measure
    noise: Noise


# ----------------------------------------------------------------------- endpoints


class StieltjesRequest(_LimitRequest):
    """Evaluate ``f(z)`` and ``omega(z)`` of the limit at the points ``z``."""

    z: UpperHalfPlane


class StieltjesResponse(_Response):
    """``f(z)`` of the limit ``mu`` and the subordination ``omega(z) = z + sigma2 f(z)``."""

    f: ComplexValues
    omega: ComplexValues

    @classmethod
    def from_core(cls, result: rs.StieltjesResult) -> StieltjesResponse:
        return cls(f=ComplexValues.from_core(result.f), omega=ComplexValues.from_core(result.omega))


class Grid(_Request):
    """``num`` equally spaced points from ``start`` to ``stop`` (both included),
    ``start < stop`` (beyond JSON Schema)."""

    start: float
    stop: float
    num: Integer = Field(ge=2)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.start < self.stop:
            raise ValueError(f"start must be < stop, got {self.start!r} and {self.stop!r}")
        return self


#: ``num`` of a density request
AutoGridPoints = Annotated[
    AtLeast2 | None,
    Field(
        description=f"points of the automatic grid (when neither x nor grid); "
        f"default {AUTO_GRID_POINTS}, which counts against max_grid_points"
    ),
]


class _PointsChoice:
    """Mixin of the density requests (symmetric and rectangular): the points are ``x``,
    ``grid`` or (neither) the automatic grid of ``num`` points, never two of them."""

    if TYPE_CHECKING:
        x: list[float] | None
        grid: object
        num: int | None

    @model_validator(mode="after")
    def _one_grid(self) -> Self:
        if self.x is not None and self.grid is not None:
            raise ValueError("give x or grid, not both")
        if self.num is not None and (self.x is not None or self.grid is not None):
            raise ValueError("num sets the automatic grid: leave it out with x or grid")
        return self

    @property
    def grid_points(self) -> int:
        """Points of the automatic grid."""
        return AUTO_GRID_POINTS if self.num is None else self.num


class DensityRequest(_PointsChoice, _LimitRequest):
    """Density of the limit at ``x``, on ``grid``, or (neither) on an automatic grid of
    about ``num`` points (both edges of every support component always among them)."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [_not_both("x", "grid"), {"anyOf": [_absent("num"), _absent("x", "grid")]}]
        }
    )

    x: list[float] | None = Field(None, min_length=1, description="points to evaluate at")
    grid: Grid | None = None
    num: AutoGridPoints = None


class DensityResponse(_Response):
    """The density on the points ``x``, the support, and the limit's mean and variance."""

    x: list[float]
    density: list[float | None]
    support: list[SupportComponent]
    mean: MaybeFloat
    variance: MaybeFloat

    @classmethod
    def from_core(
        cls, values: rs.BoundaryValues, measure: rs.Measure, sigma2: float
    ) -> DensityResponse:
        return cls(
            x=values.x.tolist(),
            density=_finite_or_none(values.density.tolist()),
            support=_support(values.support),
            mean=_maybe(measure.mean),
            variance=_maybe(measure.variance + sigma2),
        )


class SupportRequest(_LimitRequest):
    """Support of the limit."""


class SupportResponse(_Response):
    """Connected components of the support of the limit, with masses."""

    support: list[SupportComponent]
    mean: MaybeFloat
    variance: MaybeFloat

    @classmethod
    def from_core(cls, sup: rs.Support, measure: rs.Measure, sigma2: float) -> SupportResponse:
        return cls(
            support=_support(sup),
            mean=_maybe(measure.mean),
            variance=_maybe(measure.variance + sigma2),
        )


class Thresholds(_Response):
    """Detection thresholds: spikes below ``lower`` or above ``upper`` separate."""

    lower: MaybeFloat
    upper: MaybeFloat


class OutliersRequest(_LimitRequest):
    """Which spikes (eigenvalues of H outside the bulk) produce outliers, and where.

    With ``spike_law`` (a law with a density ``g`` for the spikes, Theorem 2.1) the
    response adds the outlier density ``g(phi^-1(y)) / phi'(phi^-1(y))`` on ``grid``
    (default: 256 points over ``phi`` of the law's support, where separated).
    """

    spikes: list[float]
    spike_law: Measure | None = Field(
        None, description="law of the spikes (must have a density): adds outlier_density"
    )
    grid: Grid | None = Field(None, description="where to evaluate the outlier density")


class OutlierItem(_Response):
    """One spike: separated or not, ``location = phi(spike)``, ``slope = phi'(spike)``,
    and the limiting squared eigenvector overlap."""

    spike: float
    separated: bool
    location: MaybeFloat
    slope: MaybeFloat
    overlap: MaybeFloat


class OutlierDensity(_Response):
    """Density of the outliers when the spikes follow ``spike_law`` (Theorem 2.1):
    ``g(phi^-1(y)) / phi'(phi^-1(y))`` outside the support, 0 inside."""

    x: list[float]
    density: list[float | None]


class OutliersResponse(_Response):
    """Support, thresholds and one item per spike, in the order of ``spikes``."""

    support: list[SupportComponent]
    thresholds: Thresholds
    outliers: list[OutlierItem]
    outlier_density: OutlierDensity | None = None

    @classmethod
    def from_core(cls, report: rs.OutlierReport) -> OutliersResponse:
        lower, upper = report.thresholds
        items = [
            OutlierItem(
                spike=o.spike,
                separated=o.separated,
                location=_maybe(o.location),
                slope=_maybe(o.slope),
                overlap=_maybe(o.overlap),
            )
            for o in report.outliers
        ]
        return cls(
            support=_support(report.support),
            thresholds=Thresholds(lower=_maybe(lower), upper=_maybe(upper)),
            outliers=items,
        )


class InverseRequest(_LimitRequest):
    """Recover spikes from observed outliers."""

    observed: list[float]


class InverseItem(_Response):
    """An observed outlier and the spike ``theta`` with ``phi(theta) = observed``
    (null when ``observed`` is inside the support)."""

    observed: float
    spike: MaybeFloat


class InverseResponse(_Response):
    """One item per observed value, in order."""

    spikes: list[InverseItem]

    @classmethod
    def from_core(cls, results: list[rs.InverseResult]) -> InverseResponse:
        return cls(
            spikes=[InverseItem(observed=r.observed, spike=_maybe(r.spike)) for r in results]
        )


class SimulateRequest(_LimitRequest):
    """Monte Carlo: eigenvalues of ``H + W`` for ``trials`` draws of the noise.

    ``H`` is diagonal with the ``n`` midpoint quantiles of the measure, or its own atoms
    when it has exactly ``n`` of equal weight, or, for a ``matrix`` measure of size
    ``n``, that matrix as it is (its eigenvectors matter for non-Gaussian noise).
    Beyond JSON Schema: ``top`` and ``bottom`` at most ``n``, ``edges`` increasing,
    the spikes (``spikes`` and ``spike_count``) at most ``n``.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                {
                    "anyOf": [
                        {"properties": {"spike_count": {"maximum": 0}}},
                        {
                            "required": ["spike_law"],
                            "properties": {"spike_law": {"type": "object"}},
                        },
                    ]
                },
                _not_both("bins", "edges"),
                {
                    "anyOf": [
                        _absent("bins", "edges"),
                        {"required": ["output"], "properties": {"output": {"const": "histogram"}}},
                    ]
                },
            ]
        }
    )

    n: Integer = Field(ge=1, description="matrix size")
    spikes: list[float] = Field(
        default_factory=list, description="eigenvalues of H that replace its extreme atoms"
    )
    spike_law: Measure | None = Field(
        None, description="draw spike_count spikes at the midpoint quantiles of this law"
    )
    spike_count: Integer = Field(0, ge=0, description="number of spikes from spike_law")
    seed: SeedValue | None = Field(None, description="same seed and request, same eigenvalues")
    trials: Integer = Field(1, ge=1, description="independent draws of W")
    top: AtLeast1 | None = Field(None, description="return only the top largest eigenvalues")
    bottom: AtLeast1 | None = Field(None, description="also return the bottom smallest eigenvalues")
    eigenvectors: bool = Field(
        False, description="observed squared overlap of each spike's eigenvector (small n)"
    )
    dtype: Literal["float64", "float32"] = Field(
        "float64",
        description="float32 halves memory; eigenvalues then carry about 1e-6 relative to "
        "the spectral radius (the same draw as float64, rounded)",
    )
    output: Literal["eigenvalues", "histogram"] = Field(
        "eigenvalues", description="histogram: pooled over trials, instead of every eigenvalue"
    )
    bins: AtLeast1 | None = Field(None, description="histogram bins (default: automatic)")
    edges: list[float] | None = Field(
        None, min_length=2, description="histogram bin edges, increasing (instead of bins)"
    )

    @model_validator(mode="after")
    def _sizes_fit(self) -> Self:
        for name in ("top", "bottom"):
            k = getattr(self, name)
            if k is not None and k > self.n:
                raise ValueError(f"{name} must be <= n = {self.n}, got {k}")
        count = len(self.spikes) + (self.spike_count if self.spike_law is not None else 0)
        if count > self.n:
            raise ValueError(f"{count} spikes do not fit in a matrix of size {self.n}")
        if self.spike_count and self.spike_law is None:
            raise ValueError("spike_count needs spike_law")
        if self.bins is not None and self.edges is not None:
            raise ValueError("give bins or edges, not both")
        if (self.bins is not None or self.edges is not None) and self.output != "histogram":
            raise ValueError('bins and edges apply to output "histogram" only')
        if self.edges is not None and any(
            b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)
        ):
            raise ValueError("edges must be strictly increasing")
        return self


class SimulatedOutlierItem(_Response):
    """A spike: its predicted outlier ``phi(spike)`` (null if not separated) and the
    eigenvalue of ``H + W`` of the same rank (Theorem 2.2) averaged over trials, their
    difference, and the predicted and observed squared eigenvector overlaps."""

    spike: float
    predicted: MaybeFloat
    observed: MaybeFloat
    difference: MaybeFloat = None
    observed_std: MaybeFloat = None
    overlap_predicted: MaybeFloat = None
    overlap_observed: MaybeFloat = None


class Histogram(_Response):
    """Bin ``edges`` and the normalised ``density`` of the values in each bin
    (``counts / (total * width)``), with the raw ``counts``."""

    edges: list[float]
    density: list[float]
    counts: list[int]
    predicted: list[float | None] | None = Field(
        None, description="the theory's density at the bin centres"
    )


class Comparison(_Response):
    """The simulated spectra against the theory."""

    outside_support: list[int] | None = Field(
        description="per trial: eigenvalues outside the predicted support (full spectra only)"
    )
    separated_spikes: int | None = Field(description="spikes predicted to give an outlier")
    kolmogorov: list[float | None] | None = Field(
        description="per trial: sup |ESD - F_mu| (full spectra only)"
    )


class SimulateResponse(_Response):
    """Eigenvalues (one descending list per trial) or a histogram, the seed used, the
    spikes used, and the comparison with the theory."""

    eigenvalues: list[list[float | None]]
    bottom_eigenvalues: list[list[float | None]] | None = None
    histogram: Histogram | None = None
    outlier_histogram: Histogram | None = Field(
        None,
        description="with spike_law: the top spike_count eigenvalues against the "
        "push-forward density of Theorem 2.1",
    )
    seed: int
    spikes: list[float] = Field(default_factory=list)
    outliers: list[SimulatedOutlierItem]
    comparison: Comparison | None = None

    @classmethod
    def from_core(
        cls,
        sim: rs.Simulation,
        *,
        histogram: Histogram | None = None,
        outlier_histogram: Histogram | None = None,
    ) -> SimulateResponse:
        items = [
            SimulatedOutlierItem(
                spike=o.spike,
                predicted=_maybe(o.predicted),
                observed=_maybe(o.observed),
                difference=_maybe(o.difference),
                observed_std=_maybe(o.observed_std),
                overlap_predicted=_maybe(o.overlap_predicted),
                overlap_observed=_maybe(o.overlap_observed),
            )
            for o in sim.outliers
        ]
        eig = (
            [] if histogram is not None else [_finite_or_none(e.tolist()) for e in sim.eigenvalues]
        )
        bottom = None
        if sim.bottom is not None and histogram is None:
            bottom = [_finite_or_none(e.tolist()) for e in sim.bottom]
        ks = None if sim.kolmogorov is None else _finite_or_none(sim.kolmogorov)
        return cls(
            eigenvalues=eig,
            bottom_eigenvalues=bottom,
            histogram=histogram,
            outlier_histogram=outlier_histogram,
            seed=sim.seed,
            spikes=[] if sim.spikes is None else sim.spikes.tolist(),
            outliers=items,
            comparison=Comparison(
                outside_support=sim.outside_support,
                separated_spikes=sim.separated_spikes,
                kolmogorov=ks,
            ),
        )


class PlotSimulation(_Request):
    """Overlay a histogram of simulated eigenvalues (the request's noise law)."""

    n: Integer = Field(ge=2, description="matrix size")
    seed: SeedValue | None = None
    trials: Integer = Field(1, ge=1)


class PlotRequest(_LimitRequest):
    """A picture: the limit's density, support, thresholds, predicted outliers and,
    with ``simulate``, a histogram of a simulated spectrum with its outliers (then at
    most ``simulate.n`` spikes: beyond JSON Schema). With ``model: rectangular`` the
    singular values of ``Y = S + X`` (``simulate.n`` rows, ``aspect_ratio`` times as many
    columns), ``measure`` being the law of the singular values of S, on ``[0, inf)``, and
    the spikes singular values of S, at most ``min(n, cols)`` with ``simulate`` (beyond
    JSON Schema)."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [_only_with("aspect_ratio", "number", "model", "rectangular", ["wigner"])]
        }
    )

    model: Literal["wigner", "rectangular"] = Field(
        "wigner", description="wigner: eigenvalues of H + W; rectangular: singular values of S + X"
    )
    aspect_ratio: Annotated[float, Field(ge=1e-3, le=1e3)] | None = Field(
        None, description="c = p / n, with model rectangular only (and then required)"
    )
    spikes: list[float] = Field(default_factory=list)
    simulate: PlotSimulation | None = None
    format: Literal["png", "svg"] | None = Field(
        None, description="png or svg; when absent, chosen from the Accept header (png)"
    )
    title: str | None = Field(None, max_length=200, description="instead of the law and sigma2")
    observed: list[float] | None = Field(
        None,
        min_length=10,
        description="an observed spectrum over the law: its histogram, and the bulk edges, "
        "finite-n thresholds (alpha 0.01) and outliers of its fit at this sigma2 (POST "
        "/v1/fit with sigma2 given). Model wigner: eigenvalues; model rectangular: all the "
        "min(n, p) singular values of an n x p matrix, whose shape is taken from their "
        "count and aspect_ratio (the longer side rounded: count/c rows if c <= 1, else "
        "count*c columns)",
    )

    @model_validator(mode="after")
    def _spikes_fit(self) -> Self:
        if self.simulate is not None and len(self.spikes) > self.simulate.n:
            raise ValueError(
                f"{len(self.spikes)} spikes do not fit in a matrix of size {self.simulate.n}"
            )
        if (self.model == "rectangular") != (self.aspect_ratio is not None):
            raise ValueError('aspect_ratio goes with model "rectangular", and it needs one')
        if self.simulate is not None and self.aspect_ratio is not None:
            m = min(self.simulate.n, self.cols)
            if len(self.spikes) > m:
                raise ValueError(f"{len(self.spikes)} spikes do not fit in min(n, cols) = {m}")
        return self

    @property
    def cols(self) -> int:
        """Columns of a rectangular simulation: ``aspect_ratio`` times ``simulate.n``."""
        assert self.simulate is not None and self.aspect_ratio is not None
        return max(1, round(self.aspect_ratio * self.simulate.n))


class SweepRequest(_LimitRequest):
    """A Monte Carlo sweep over the matrix size: ``trials`` draws of ``H + W`` for each
    size in ``sizes``, each ``(n, trial)`` a task on Dask, summarised per size with the
    fitted convergence rate of each error. The law of H is not a ``matrix``. Beyond JSON
    Schema: ``sizes`` increasing, fewer spikes than the smallest size."""

    model_config = ConfigDict(
        json_schema_extra={
            "not": {
                "required": ["measure"],
                "properties": {
                    "measure": {"required": ["kind"], "properties": {"kind": {"const": "matrix"}}}
                },
            }
        }
    )

    sizes: list[AtLeast2] = Field(
        min_length=1,
        max_length=64,
        description="matrix sizes n, increasing and distinct (e.g. 200, 400, ..., 3000)",
        json_schema_extra={"uniqueItems": True},
    )
    trials: Integer = Field(4, ge=1, description="draws of W per size")
    spikes: list[float] = Field(
        default_factory=list, description="eigenvalues of H that replace its extreme atoms"
    )
    seed: SeedValue | None = Field(
        None,
        description="the sweep's seed: each task's seed is a function of it, n and the "
        "trial, so results do not depend on scheduling; without one, one is drawn",
    )

    @model_validator(mode="after")
    def _plan(self) -> Self:
        if any(b <= a for a, b in zip(self.sizes, self.sizes[1:], strict=False)):
            raise ValueError("sizes must be increasing and distinct")
        if len(self.spikes) >= self.sizes[0]:
            raise ValueError(f"{len(self.spikes)} spikes need every size above {len(self.spikes)}")
        if isinstance(self.measure, MatrixMeasure):
            raise ValueError("a sweep needs a law of H, not one matrix (its size is fixed)")
        return self


class SweepProgress(_Response):
    """Tasks finished, failed, and in all."""

    done: int
    failed: int
    total: int


class MetricSummary(_Response):
    """A metric over the trials of one size: mean, standard deviation, standard error."""

    mean: MaybeFloat
    std: MaybeFloat
    stderr: MaybeFloat
    count: int


class SweepSize(_Response):
    """Per-size statistics of the trials finished so far."""

    n: int
    trials: int
    outlier_error: MetricSummary | None = Field(
        description="max over separated spikes of |eigenvalue - phi(spike)| (null: none)"
    )
    edge_error: MetricSummary | None = Field(
        description="|largest non-outlier eigenvalue - right edge of supp mu|"
    )
    kolmogorov: MetricSummary | None = Field(description="sup |ESD - F_mu| of each spectrum")
    edge_bias: MaybeFloat = Field(description="mean signed (eigenvalue - edge)")
    seconds: MaybeFloat = Field(description="compute time of these trials, summed")


class RateFitItem(_Response):
    """``log mean = intercept + rate log n``, least squares over the sizes."""

    rate: MaybeFloat
    intercept: MaybeFloat
    rate_stderr: MaybeFloat = Field(description="standard error of the rate (3+ sizes)")
    sizes: int = Field(description="sizes in the fit")
    reference: float = Field(description="the rate the theory leads one to expect")


class SweepTrial(_Response):
    """One task's result: replay it with POST /v1/simulate, this seed and n, trials 1."""

    n: int
    trial: int
    seed: int
    observed: list[MaybeFloat]
    predicted: list[MaybeFloat]
    outlier_error: MaybeFloat
    edge_observed: MaybeFloat
    edge_predicted: MaybeFloat
    edge_error: MaybeFloat
    kolmogorov: MaybeFloat
    seconds: MaybeFloat


class SweepFits(_Response):
    """The fitted convergence rate of each metric (null: fewer than two sizes)."""

    outlier_error: RateFitItem | None
    edge_error: RateFitItem | None
    kolmogorov: RateFitItem | None


class SweepResponse(_Response):
    """A sweep's state, progress, and the statistics of the tasks finished so far."""

    id: str
    state: SweepState
    progress: SweepProgress
    created: str = Field(description="RFC 3339 time the sweep was submitted")
    finished: str | None = Field(description="RFC 3339 time it ended (null: not yet)")
    seed: int
    error: str | None = Field(None, description="why a failed sweep failed")
    request: dict[str, Any] = Field(
        description="the request as submitted (a SweepRequest), its seed filled in"
    )
    sizes: list[SweepSize]
    fits: SweepFits
    trials: list[SweepTrial] | None = Field(
        None, description="every finished task (with ?trials=true)"
    )


# ---------------------------------------------------------------------- operations


class HealthResponse(_Response):
    """Liveness: the process answers."""

    status: Literal["ok"] = "ok"


class ReadyResponse(_Response):
    """Readiness: started, and the compute queue has room."""

    status: Literal["ready"] = "ready"
    workers: int = Field(description="threads that run computations")
    busy: int = Field(description="workers computing now")
    waiting: int = Field(description="computations waiting for a worker")


class InfoResponse(_Response):
    """Service version and the configured limits."""

    service: str = "rmtservice"
    version: str
    api_version: str = "1"
    measure_kinds: list[str]
    noise_distributions: list[str]
    limits: dict[str, int | float]


class ProblemFieldError(_Response):
    """One offending field: ``loc`` as a list of keys and indices, ``path`` as a JSON
    Pointer into the request body (RFC 6901), and the message."""

    loc: list[str | int]
    path: str
    message: str
    type: str


class ProblemTypeInfo(_Response):
    """What a problem ``type`` means."""

    type: str
    title: str
    status: int
    description: str


class Problem(_Response):
    """An error, as RFC 9457 ``application/problem+json``."""

    type: str = Field(description="URI reference of the problem type")
    title: str = Field(description="short summary of the problem type")
    status: int = Field(description="the HTTP status code")
    detail: str = Field(description="what went wrong with this request")
    instance: str = Field(description="the request path")
    request_id: str | None = Field(None, description="the X-Request-ID of the request")
    errors: list[ProblemFieldError] | None = Field(
        None, description="for validation and limit errors: the offending fields"
    )

"""Wire types of the rectangular model ``Y = S + X`` (docs/theory/rectangular.md).

``measure`` is the law ``nu`` of the singular values of S: any measure kind, on
``[0, inf)`` (the schemas say so where JSON Schema can: ``minimum 0``), or a rectangular
``matrix`` S (its singular values are the law, its shape gives ``aspect_ratio``).
``aspect_ratio`` is ``c = p / n``, columns over rows of Y. The same strictness as the
symmetric requests (:mod:`rmtservice.wire.schemas`); no numerics happen here but the
singular values of a ``matrix``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Self

from pydantic import ConfigDict, Field, model_validator

import rmtservice as rs
from rmtservice.errors import InvalidParameter
from rmtservice.wire.schemas import (
    AtLeast1,
    AtomsMeasure,
    AutoGridPoints,
    ComplexValues,
    Grid,
    Integer,
    MarchenkoPasturMeasure,
    MaybeFloat,
    MeasureModel,
    MixtureMeasure,
    Noise,
    NonNegative,
    PointMeasure,
    SeedValue,
    SemicircleMeasure,
    SupportComponent,
    Thresholds,
    UniformMeasure,
    UpperHalfPlane,
    _absent,
    _finite_or_none,
    _maybe,
    _not_both,
    _PointsChoice,
    _Request,
    _Response,
)

__all__ = [
    "MAX_ASPECT",
    "MIN_ASPECT",
    "PolesAtZero",
    "RectangularComparison",
    "RectangularDensityRequest",
    "RectangularDensityResponse",
    "RectangularInverseItem",
    "RectangularInverseRequest",
    "RectangularInverseResponse",
    "RectangularMatrix",
    "RectangularOutlierItem",
    "RectangularOutliersRequest",
    "RectangularOutliersResponse",
    "RectangularSimulateRequest",
    "RectangularSimulateResponse",
    "RectangularSimulatedOutlier",
    "RectangularStieltjesRequest",
    "RectangularStieltjesResponse",
    "RectangularSupportRequest",
    "RectangularSupportResponse",
    "SingularAtoms",
    "SingularGrid",
    "SingularMixture",
    "SingularMixtureComponent",
    "SingularPoint",
    "SingularSemicircle",
    "SingularUniform",
    "SingularValueLaw",
]

#: the aspect ratios ``p / n`` the HTTP API accepts (the core goes further: 1e-6 to 1e6)
MIN_ASPECT, MAX_ASPECT = 1e-3, 1e3
AspectRatio = Annotated[float, Field(ge=MIN_ASPECT, le=MAX_ASPECT)]


# ------------------------------------------------------------ laws of singular values


class SingularAtoms(AtomsMeasure):
    """Singular values of S as atoms ``values >= 0`` with optional ``weights``."""

    values: list[NonNegative] = Field(min_length=1, description="singular values (>= 0)")


class SingularPoint(PointMeasure):
    """All singular values of S at ``at >= 0`` (``at = 0``: pure noise, Marchenko-Pastur)."""

    at: NonNegative


class SingularUniform(UniformMeasure):
    """Uniform law on ``[low, high]``, ``0 <= low < high`` (``low < high``: beyond JSON
    Schema)."""

    low: NonNegative


class SingularSemicircle(SemicircleMeasure):
    """Semicircle law with ``center >= radius > 0`` (no mass below 0: beyond JSON Schema)."""

    @model_validator(mode="after")
    def _nonnegative(self) -> Self:
        if self.center < self.radius:
            raise ValueError(
                "a law of singular values has no mass below 0: center must be >= radius, "
                f"got center={self.center!r}, radius={self.radius!r}"
            )
        return self


class RectangularMatrix(MeasureModel):
    """A real ``n x p`` signal S: its singular values become equally weighted atoms, and
    (at the top level of a request) its shape gives ``aspect_ratio = p / n``."""

    kind: Literal["matrix"]
    entries: list[Annotated[list[float], Field(min_length=1)]] = Field(
        min_length=1, description="rows of S, all of one length (beyond JSON Schema)"
    )

    @model_validator(mode="after")
    def _rectangular(self) -> Self:
        p = len(self.entries[0])
        for i, row in enumerate(self.entries):
            if len(row) != p:
                raise ValueError(
                    f"entries must be a matrix: row {i} has {len(row)} entries, expected {p} "
                    "(as many as row 0)"
                )
        return self

    @property
    def shape(self) -> tuple[int, int]:
        """``(n, p)``: rows and columns of S."""
        return len(self.entries), len(self.entries[0])

    @property
    def size(self) -> int:
        return min(self.shape)

    def _build(self, path: str) -> rs.Measure:
        import numpy as np
        import scipy.linalg

        a = np.asarray(self.entries, dtype=float)
        with np.errstate(all="ignore"):
            s = scipy.linalg.svdvals(a, check_finite=False)
        if not np.all(np.isfinite(s)):
            raise InvalidParameter(
                "matrix: its singular values overflow double precision", field=f"{path}.entries"
            )
        return rs.Atoms(s)


class SingularMixtureComponent(_Request):
    """One weighted component of a mixture of laws of singular values."""

    weight: NonNegative
    measure: SingularValueLaw


class SingularMixture(MixtureMeasure):
    """Weighted sum of laws of singular values; weights are normalised to sum 1."""

    components: list[SingularMixtureComponent] = Field(  # type: ignore[assignment]
        min_length=1, description="their weights not all zero (beyond JSON Schema)"
    )


SingularValueLaw = Annotated[
    SingularAtoms
    | SingularPoint
    | SingularUniform
    | SingularSemicircle
    | MarchenkoPasturMeasure
    | SingularMixture
    | RectangularMatrix,
    Field(
        discriminator="kind",
        description="the law nu of the singular values of S, on [0, inf); a `matrix` is S "
        "itself (its singular values; at the top level its shape gives aspect_ratio)",
    ),
]
SingularMixtureComponent.model_rebuild()
SingularMixture.model_rebuild()


class SingularGrid(Grid):
    """``num`` equally spaced singular values from ``start >= 0`` to ``stop`` (both
    included), ``start < stop`` (beyond JSON Schema)."""

    start: NonNegative


# ------------------------------------------------------------------- requests

#: the JSON Schema of "aspect_ratio, unless the measure is a matrix"
_ASPECT_RULE: dict[str, Any] = {
    "anyOf": [
        {"required": ["aspect_ratio"], "properties": {"aspect_ratio": {"type": "number"}}},
        {
            "required": ["measure"],
            "properties": {
                "measure": {"required": ["kind"], "properties": {"kind": {"const": "matrix"}}}
            },
        },
    ]
}


class _RectangularRequest(_Request):
    """The model: the law of the singular values of S, the noise and ``c = p / n``.
    With a ``matrix`` measure, ``aspect_ratio`` may be left out; given, it equals the
    matrix's cols/rows (beyond JSON Schema)."""

    model_config = ConfigDict(json_schema_extra={"allOf": [_ASPECT_RULE]})

    measure: SingularValueLaw
    noise: Noise
    aspect_ratio: AspectRatio | None = Field(
        None,
        description="c = p / n, columns over rows of Y (1e-3 to 1e3); may be left out with "
        "a `matrix` measure, whose shape gives it; given, it equals the matrix's cols/rows "
        "(beyond JSON Schema)",
    )

    @model_validator(mode="after")
    def _ratio(self) -> Self:
        if isinstance(self.measure, RectangularMatrix):
            rows, cols = self.measure.shape
            c = cols / rows
            if self.aspect_ratio is not None and not math.isclose(
                self.aspect_ratio, c, rel_tol=1e-12
            ):
                raise ValueError(
                    f"aspect_ratio {self.aspect_ratio!r} does not match the matrix's shape "
                    f"{rows} x {cols} (p/n = {c!r})"
                )
            if not MIN_ASPECT <= c <= MAX_ASPECT:
                raise ValueError(
                    f"the matrix's shape {rows} x {cols} gives p/n = {c!r}, outside "
                    f"[{MIN_ASPECT:g}, {MAX_ASPECT:g}]"
                )
        elif self.aspect_ratio is None:
            raise ValueError("aspect_ratio = p/n is required (unless the measure is a matrix)")
        return self

    @property
    def ratio(self) -> float:
        """``c = p / n``: given, or the matrix's."""
        if self.aspect_ratio is not None:
            return self.aspect_ratio
        assert isinstance(self.measure, RectangularMatrix)
        rows, cols = self.measure.shape
        return cols / rows


class RectangularStieltjesRequest(_RectangularRequest):
    """``m(z)`` of the limit law of ``Y^T Y`` (p x p) at the points ``z``."""

    z: UpperHalfPlane


class RectangularDensityRequest(_PointsChoice, _RectangularRequest):
    """Density of the singular values of Y at ``x``, on ``grid``, or (neither) on an
    automatic grid of about ``num`` points (every edge among them)."""

    model_config = ConfigDict(
        json_schema_extra={
            "allOf": [
                _ASPECT_RULE,
                _not_both("x", "grid"),
                {"anyOf": [_absent("num"), _absent("x", "grid")]},
            ]
        }
    )

    x: list[NonNegative] | None = Field(
        None, min_length=1, description="singular values to evaluate at (>= 0)"
    )
    grid: SingularGrid | None = None
    num: AutoGridPoints = None


class RectangularSupportRequest(_RectangularRequest):
    """Support of the limit law of the singular values of Y."""


class RectangularOutliersRequest(_RectangularRequest):
    """Which singular values of S (``spikes``, outside the bulk) give outlier singular
    values of Y, where, and the overlaps of their singular vectors."""

    spikes: list[NonNegative] = Field(description="singular values of S (>= 0)")


class RectangularInverseRequest(_RectangularRequest):
    """Singular values of S behind observed outlier singular values of Y."""

    observed: list[NonNegative] = Field(description="observed singular values of Y (>= 0)")


class RectangularSimulateRequest(_Request):
    """Monte Carlo: singular values of ``Y = S + X`` (``rows x cols``) for ``trials`` draws
    of X (entries of law ``noise.distribution``, variance ``sigma2 / rows``).

    S is rectangular diagonal with the ``min(rows, cols)`` midpoint quantiles of the
    measure (or its own atoms when it has exactly that many equal ones), ``spikes``
    replacing its largest; a ``matrix`` measure is S itself, ``rows x cols``. Beyond JSON
    Schema: ``top`` and the spikes at most ``min(rows, cols)``; a ``matrix`` S of shape
    ``rows x cols``, without spikes.
    """

    measure: SingularValueLaw
    noise: Noise
    rows: Integer = Field(ge=1, description="n, rows of Y")
    cols: Integer = Field(ge=1, description="p, columns of Y")
    spikes: list[NonNegative] = Field(
        default_factory=list, description="singular values of S that replace its largest"
    )
    seed: SeedValue | None = Field(None, description="same seed and request, same values")
    trials: Integer = Field(1, ge=1, description="independent draws of X")
    top: AtLeast1 | None = Field(
        None,
        description="return only the top largest singular values (Lanczos on the Gram "
        "matrix when few of many)",
    )
    vectors: bool = Field(
        False,
        description="observed squared overlaps of each spike's left and right singular "
        "vectors (a full SVD: smaller sizes)",
    )

    @model_validator(mode="after")
    def _sizes_fit(self) -> Self:
        m = min(self.rows, self.cols)
        if self.top is not None and self.top > m:
            raise ValueError(f"top must be <= min(rows, cols) = {m}, got {self.top}")
        if len(self.spikes) > m:
            raise ValueError(f"{len(self.spikes)} spikes do not fit in min(rows, cols) = {m}")
        if isinstance(self.measure, RectangularMatrix):
            if self.measure.shape != (self.rows, self.cols):
                rows, cols = self.measure.shape
                raise ValueError(
                    f"a matrix S must be rows x cols = {self.rows} x {self.cols}, got "
                    f"{rows} x {cols}"
                )
            if self.spikes:
                raise ValueError("spikes cannot be combined with a matrix S")
        return self


# ------------------------------------------------------------------ responses


def _support(sup: Any) -> list[SupportComponent]:
    rows = zip(sup.lower.tolist(), sup.upper.tolist(), sup.mass.tolist(), strict=True)
    return [SupportComponent(lower=_maybe(a), upper=_maybe(b), mass=_maybe(m)) for a, b, m in rows]


class _SupportFacts(_Response):
    """The support of the singular values' law and what happens at 0."""

    support: list[SupportComponent] = Field(
        description="components [lower, upper] of the support of the law of the min(n, p) "
        "singular values, with their masses (summing to 1)"
    )
    aspect_ratio: float = Field(description="c = p / n")
    zero_gap: bool = Field(description="whether the singular values stay away from 0")
    atom_at_zero: float = Field(
        description="mass at 0 of the limit law of Y^T Y (p x p): 1 - n/p when p > n (those "
        "zero eigenvalues are not singular values), else 0"
    )
    companion_atom_at_zero: float = Field(
        description="mass at 0 of the limit law of Y Y^T (n x n): 1 - p/n when n > p, else 0"
    )
    mean_square: MaybeFloat = Field(
        description="mean of s^2 over the min(n, p) singular values of Y: E_nu[s^2] + "
        "sigma2 max(1, c)"
    )

    @staticmethod
    def facts(sup: Any, measure: rs.Measure, sigma2: float) -> dict[str, Any]:
        c = sup.model.aspect_ratio
        square = measure.variance + measure.mean**2
        return {
            "support": _support(sup),
            "aspect_ratio": c,
            "zero_gap": sup.zero_gap,
            "atom_at_zero": sup.atom_at_zero,
            "companion_atom_at_zero": sup.companion_atom_at_zero,
            "mean_square": _maybe(square + sigma2 * max(1.0, c)),
        }


class PolesAtZero(_Response):
    """Why each transform is infinite at ``z = 0`` (null: finite there)."""

    m: str | None = Field(description="the law of Y^T Y: its atom 1 - n/p when p > n")
    m_companion: str | None = Field(description="the law of Y Y^T: its atom 1 - p/n when n > p")


class RectangularStieltjesResponse(_Response):
    """``m(z)`` of the law of ``Y^T Y`` (p x p), ``m_companion(z)`` of ``Y Y^T`` (n x n),
    and the subordination ``w(z)`` (in the frame ``c <= 1``: of the transpose when p > n).
    At ``z = 0`` a transform with a pole there (``poles_at_zero``) is null, re and im,
    and the other its finite value."""

    m: ComplexValues
    m_companion: ComplexValues
    w: ComplexValues
    poles_at_zero: PolesAtZero

    @classmethod
    def from_core(cls, result: Any) -> RectangularStieltjesResponse:
        pm, pm_ = result.poles_at_zero
        return cls(
            m=_pole_free(result.m),
            m_companion=_pole_free(result.m_companion),
            w=ComplexValues.from_core(result.w),
            poles_at_zero=PolesAtZero(m=pm, m_companion=pm_),
        )


def _pole_free(values: Any) -> ComplexValues:
    """A transform on the wire: a pole (``inf``) is null in both parts, not ``re`` alone."""
    import numpy as np  # the SDK imports this module: numpy only when a server answers

    return ComplexValues.from_core(np.where(np.isfinite(values), values, complex(np.nan, np.nan)))


class RectangularDensityResponse(_SupportFacts):
    """The density of the singular values of Y on the points ``x`` (per ``min(n, p)`` of
    them), with the support."""

    x: list[float]
    density: list[float | None]

    @classmethod
    def from_core(
        cls, values: Any, measure: rs.Measure, sigma2: float
    ) -> RectangularDensityResponse:
        return cls(
            x=values.x.tolist(),
            density=_finite_or_none(values.density.tolist()),
            **cls.facts(values.support, measure, sigma2),
        )


class RectangularSupportResponse(_SupportFacts):
    """Support components with masses, the detection thresholds, and the atoms at 0."""

    thresholds: Thresholds = Field(
        description="singular values of S above upper (or below lower, into a gap at 0) "
        "separate from the bulk"
    )

    @classmethod
    def from_core(cls, sup: Any, measure: rs.Measure, sigma2: float) -> RectangularSupportResponse:
        lower, upper = sup.thresholds
        return cls(
            thresholds=Thresholds(lower=_maybe(lower), upper=_maybe(upper)),
            **cls.facts(sup, measure, sigma2),
        )


class RectangularOutlierItem(_Response):
    """One singular value of S: separated or not, ``location = sqrt(Phi(spike^2))``,
    ``slope = Phi'(spike^2)``, the limiting squared overlaps of the left (in R^n) and
    right (in R^p) singular vectors."""

    spike: float
    separated: bool
    location: MaybeFloat
    slope: MaybeFloat
    left_overlap: MaybeFloat
    right_overlap: MaybeFloat


class RectangularOutliersResponse(_Response):
    """Support, threshold(s) and one item per spike, in the order of ``spikes``."""

    support: list[SupportComponent]
    threshold: MaybeFloat = Field(
        description="singular values of S above this separate: sqrt of the largest root of Phi' = 0"
    )
    thresholds: Thresholds = Field(description="lower: into a gap at 0, when there is one")
    outliers: list[RectangularOutlierItem]

    @classmethod
    def from_core(cls, report: Any) -> RectangularOutliersResponse:
        lower, upper = report.thresholds
        items = [
            RectangularOutlierItem(
                spike=o.spike,
                separated=o.separated,
                location=_maybe(o.location),
                slope=_maybe(o.slope),
                left_overlap=_maybe(o.left_overlap),
                right_overlap=_maybe(o.right_overlap),
            )
            for o in report.outliers
        ]
        return cls(
            support=_support(report.support),
            threshold=_maybe(upper),
            thresholds=Thresholds(lower=_maybe(lower), upper=_maybe(upper)),
            outliers=items,
        )


class RectangularInverseItem(_Response):
    """An observed singular value ``y`` and the singular value ``theta`` of S with
    ``Phi(theta^2) = y^2`` (null inside the support, or where no ``theta >= 0`` explains
    it)."""

    observed: float
    spike: MaybeFloat


class RectangularInverseResponse(_Response):
    """One item per observed value, in order."""

    spikes: list[RectangularInverseItem]

    @classmethod
    def from_core(cls, results: list[Any]) -> RectangularInverseResponse:
        items = [
            RectangularInverseItem(observed=r.observed, spike=_maybe(r.spike)) for r in results
        ]
        return cls(spikes=items)


class RectangularSimulatedOutlier(_Response):
    """A spike: its predicted outlier ``sqrt(Phi(spike^2))`` (null if not separated), the
    singular value of Y of the same rank averaged over trials, their difference, and
    (with ``vectors``) the predicted and observed squared overlaps."""

    spike: float
    predicted: MaybeFloat
    observed: MaybeFloat
    difference: MaybeFloat = None
    observed_std: MaybeFloat = None
    left_overlap_predicted: MaybeFloat = None
    right_overlap_predicted: MaybeFloat = None
    left_overlap_observed: MaybeFloat = None
    right_overlap_observed: MaybeFloat = None


class RectangularComparison(_Response):
    """The simulated singular values against the theory."""

    outside_support: list[int] | None = Field(
        description="per trial: singular values outside the predicted support (full spectra only)"
    )
    separated_spikes: int | None = Field(description="spikes predicted to give an outlier")
    kolmogorov: list[float | None] | None = Field(
        description="per trial: sup |empirical CDF - limit CDF| (full spectra only)"
    )


class RectangularSimulateResponse(_Response):
    """Singular values (one descending list per trial), the seed, the shape, and the
    comparison with the theory."""

    singular_values: list[list[float | None]]
    seed: int
    rows: int
    cols: int
    trials: int
    top: int | None
    spikes: list[float] = Field(default_factory=list)
    outliers: list[RectangularSimulatedOutlier]
    comparison: RectangularComparison | None = None

    @classmethod
    def from_core(cls, sim: Any, *, trials: int, top: int | None) -> RectangularSimulateResponse:
        fields = (
            "spike",
            "predicted",
            "observed",
            "difference",
            "observed_std",
            "left_overlap_predicted",
            "right_overlap_predicted",
            "left_overlap_observed",
            "right_overlap_observed",
        )
        items = [
            RectangularSimulatedOutlier(
                **{"spike": o.spike} | {f: _maybe(getattr(o, f)) for f in fields[1:]}
            )
            for o in sim.outliers
        ]
        ks = None if sim.kolmogorov is None else _finite_or_none(sim.kolmogorov)
        return cls(
            singular_values=[_finite_or_none(v.tolist()) for v in sim.singular_values],
            seed=sim.seed,
            rows=sim.rows,
            cols=sim.cols,
            trials=trials,
            top=top,
            spikes=[] if sim.spikes is None else sim.spikes.tolist(),
            outliers=items,
            comparison=RectangularComparison(
                outside_support=sim.outside_support,
                separated_spikes=sim.separated_spikes,
                kolmogorov=ks,
            ),
        )

"""Per-deployment limits on a validated request (cheap: sizes only, no numerics).

One registry, :data:`RULES`, says per request type which sizes fall under which
setting, where its cost comes from and what memory it needs; :func:`check`,
:func:`cost` and :func:`memory_estimate` read it (a new endpoint is one row).

Each check raises :class:`~rmtservice.errors.LimitExceeded` with the dotted path of
the offending field, which :mod:`app.problems` turns into a 422 with ``errors``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from app.settings import Settings
from rmtservice.errors import DeadlineExceeded, LimitExceeded
from rmtservice.wire.analyze import AnalyzeJob
from rmtservice.wire.denoise import DenoiseJob
from rmtservice.wire.fit import FitRequest, bootstrap_replicates
from rmtservice.wire.rectangular import (
    RectangularDensityRequest,
    RectangularInverseRequest,
    RectangularMatrix,
    RectangularOutliersRequest,
    RectangularSimulateRequest,
    RectangularStieltjesRequest,
    RectangularSupportRequest,
)
from rmtservice.wire.schemas import (
    DensityRequest,
    InverseRequest,
    MatrixMeasure,
    MeasureModel,
    OutliersRequest,
    PlotRequest,
    SimulateRequest,
    StieltjesRequest,
    SupportRequest,
)
from rmtservice.wire.service import PUSHFORWARD_POINTS

__all__ = ["RULES", "Rules", "check", "check_time", "cost", "lapack_work", "memory_needed"]


def _at_most(field: str, value: int, limit: int, what: str, setting: str) -> None:
    if value > limit:
        raise LimitExceeded(
            f"{field}: {what} {value} is over the limit {limit} ({setting} in /v1/info)",
            field=field,
        )


def _measure(measure: MeasureModel, settings: Settings, name: str = "measure") -> None:
    depth = measure.depth
    _at_most(name, depth, settings.max_mixture_depth, "mixture depth", "max_mixture_depth")
    _at_most(name, measure.size, settings.max_atoms, "atom count", "max_atoms")
    for path, part in measure.walk(name):
        if isinstance(part, MatrixMeasure):
            rows = len(part.entries)
            limit = settings.max_matrix_rows
            _at_most(f"{path}.entries", rows, limit, "row count", "max_matrix_rows")
        if isinstance(part, RectangularMatrix):
            rows, cols = part.shape
            limit = settings.max_matrix_rows
            _at_most(f"{path}.entries", rows, limit, "row count", "max_matrix_rows")
            _at_most(f"{path}.entries.0", cols, limit, "column count", "max_matrix_rows")


# ------------------------------------------------------------------- cost


#: per evaluation point, the fixed work of a solver step, in units of one atom's term
POINT_OVERHEAD = 16


def cost(req: BaseModel) -> int | None:
    """A rough estimate of the work of ``req`` (sizes only): ``(atoms + 16) x (points +
    atoms)``, the terms a few solver steps sum, plus ``rows^3 / 64`` per matrix (its
    eigenvalues). Each of the ``points`` where the limit is evaluated sums over every
    atom of nu (plus a fixed overhead per point), and the search for the support can
    evaluate as many points as there are gaps between atoms. A continuous law counts as
    one atom, a matrix as its rows, a spike law adds its own. One unit is 0.1 to 0.4
    microseconds on a 2-core machine of 2026 (a point mass cheapest, a mixture or a
    Marchenko-Pastur law dearest). ``None`` for a simulation or a picture."""
    rules = RULES.get(type(req))
    if rules is not None and rules.cost is not None:
        return rules.cost(req)
    points = None if rules is None or rules.points is None else rules.points(req)
    measure = getattr(req, "measure", None)
    if points is None or not isinstance(measure, MeasureModel):
        return None
    atoms = measure.size
    eigen = sum(len(m.entries) ** 3 for _, m in measure.walk() if isinstance(m, MatrixMeasure))
    eigen += sum(
        m.shape[0] * m.shape[1] * m.size
        for _, m in measure.walk()
        if isinstance(m, RectangularMatrix)
    )
    law = getattr(req, "spike_law", None)
    if isinstance(law, MeasureModel):
        atoms += law.size
    return (atoms + POINT_OVERHEAD) * (points + atoms) + eigen // 64


# ------------------------------------------------------------------- time


@dataclass(frozen=True)
class LapackEstimate:
    """A lower bound of a request's LAPACK work in units of ``n^3`` (one symmetric
    eigenvalue solve, ``syevd``, of size n), and how a refusal names it."""

    work: float
    field: str
    what: str
    advice: str


#: seconds of LAPACK's SVD (gesdd) of an ``n x p`` matrix, values only, per ``n p m``
#: (``m = min(n, p)``, ``M = max(n, p)``), in units of the symmetric eigenvalues'
#: seconds per ``n^3``: ``SVD_BASE + SVD_SLOPE m / M``, fitted below what was measured
#: here with one BLAS thread (1.58 at 1200 x 300, 1.92 at 800 x 400, 3.1 to 3.2 square),
#: so that estimates err short; with the singular vectors twice that
SVD_BASE, SVD_SLOPE = 0.9, 2.0


def _rectangular_work(req: RectangularSimulateRequest) -> float:
    """``n p min(n, p)`` per trial, in the units of :func:`lapack_work`; none where
    Lanczos is used (``top`` few of many: ``O(n p)`` a step)."""
    n, p = req.rows, req.cols
    m = min(n, p)
    values = SVD_BASE + SVD_SLOPE * m / max(n, p)
    if req.vectors:
        per_trial = 2.0 * values
    elif req.top is not None and m >= 400 and req.top <= m // 20:
        per_trial = 0.0
    else:
        per_trial = values
    return req.trials * per_trial * float(n) * float(p) * float(m)


def lapack_work(req: BaseModel) -> float | None:
    """A lower bound of the LAPACK work of a request, in units of ``n^3`` (``None``:
    none to speak of). From its row of :data:`RULES` where it has one (``lapack``); for
    a simulation: a full spectrum (``syevd``) is one unit a trial; eigenvectors two
    (they cost three to four); ``top``/``bottom`` one each for LAPACK's subset solver, none
    where Lanczos is used (few of many, ``n >= 400``: ``O(n^2)`` a step); float32 half."""
    rules = RULES.get(type(req))
    if rules is not None and rules.lapack is not None:
        estimate = rules.lapack(req)
        return None if estimate is None else estimate.work
    if isinstance(req, PlotRequest) and req.simulate is not None:
        if req.model == "rectangular":
            n, p = req.simulate.n, req.cols
            m = min(n, p)
            per_trial = (SVD_BASE + SVD_SLOPE * m / max(n, p)) * float(n) * float(p) * float(m)
            return req.simulate.trials * per_trial
        return req.simulate.trials * float(req.simulate.n) ** 3
    if isinstance(req, RectangularSimulateRequest):
        return _rectangular_work(req)
    if not isinstance(req, SimulateRequest):
        return None
    n = req.n
    if req.eigenvectors:
        per_trial = 2.0
    elif req.top is None and req.bottom is None:
        per_trial = 1.0
    else:
        subsets = [k for k in (req.top, req.bottom) if k is not None]
        per_trial = sum(0.0 if n >= 400 and k <= n // 20 else 1.0 for k in subsets)
    if req.dtype == "float32":
        per_trial *= 0.5
    return req.trials * per_trial * float(n) ** 3


def check_time(req: BaseModel, settings: Settings, seconds_per_n3: float) -> None:
    """Refuse (``DeadlineExceeded``, 503) a simulation whose LAPACK work alone, at the
    speed measured here, passes the deadline: it cannot finish, and would hold a worker
    until it is stopped."""
    rules = RULES.get(type(req))
    if rules is not None and rules.lapack is not None:
        _check_estimate(rules.lapack(req), settings, seconds_per_n3)
        return
    work = lapack_work(req)
    if work is None:
        return
    if isinstance(req, SimulateRequest):
        field, n, trials = "n", req.n, req.trials
        parallel = min(settings.trial_workers, trials, os.cpu_count() or 1)
    elif isinstance(req, RectangularSimulateRequest):
        seconds = work * seconds_per_n3
        if seconds > settings.deadline_seconds:
            raise DeadlineExceeded(
                f"rows: {req.rows} x {req.cols} and {req.trials} trial(s) need at least "
                f"{seconds:.3g} s of LAPACK here, over the deadline of "
                f"{settings.deadline_seconds:g} s (deadline_seconds in /v1/info); ask for less: "
                "smaller rows or cols, fewer trials, or top",
                field="rows",
            )
        return
    else:
        assert isinstance(req, PlotRequest) and req.simulate is not None
        field, n, trials, parallel = "simulate.n", req.simulate.n, req.simulate.trials, 1
    seconds = work * seconds_per_n3 / parallel
    if seconds > settings.deadline_seconds:
        raise DeadlineExceeded(
            f"{field}: n = {n} and {trials} trial(s) need at least {seconds:.3g} s of LAPACK "
            f"here, over the deadline of {settings.deadline_seconds:g} s (deadline_seconds "
            "in /v1/info); ask for less: a smaller n, fewer trials, or top",
            field=field,
        )


def _check_estimate(
    estimate: LapackEstimate | None, settings: Settings, seconds_per_n3: float
) -> None:
    if estimate is None:
        return
    seconds = estimate.work * seconds_per_n3
    if seconds > settings.deadline_seconds:
        raise DeadlineExceeded(
            f"{estimate.field}: {estimate.what} needs at least {seconds:.3g} s of LAPACK "
            f"here, over the deadline of {settings.deadline_seconds:g} s (deadline_seconds "
            f"in /v1/info); {estimate.advice}",
            field=estimate.field,
        )


# ----------------------------------------------------------------- memory


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes the matrices of a simulation take: ``per_trial`` times ``at_once``, plus
    ``shared`` (a ``matrix`` H, held once)."""

    field: str
    n: int
    dtype: str
    per_trial: int
    at_once: int
    shared: int = 0
    #: a request that is not a simulation: what needs the memory, and the advice
    what: str | None = None

    @property
    def total(self) -> int:
        return self.per_trial * self.at_once + self.shared


def _mb(nbytes: int) -> str:
    mb = nbytes / 1e6
    return f"{mb:.0f} MB" if mb >= 10 else f"{mb:.1f} MB"


def _copies(req: SimulateRequest, at_once: int) -> int:
    """Buffers of ``n x n`` per trial running, measured (peak RSS) with this LAPACK.

    The buffer itself is 1: the full spectrum alone runs LAPACK ``syevd`` in place;
    parallel trials (numpy's ``eigvalsh``) and ``top``/``bottom`` (LAPACK's subset
    solver when Lanczos is not used) copy it once: 2; eigenvectors (numpy's ``eigh``:
    a copy, the ``2 n^2`` workspace of ``syevd`` and the vectors): 5.
    """
    if req.eigenvectors:
        return 5
    if at_once > 1 or req.top is not None or req.bottom is not None:
        return 2
    return 1


def _simulate_memory(req: SimulateRequest, settings: Settings) -> MemoryEstimate:
    n, item = req.n, (4 if req.dtype == "float32" else 8)
    at_once = max(1, min(settings.trial_workers, req.trials))
    per_trial = _copies(req, at_once) * item * n * n
    shared = 0
    if isinstance(req.measure, MatrixMeasure):
        # H itself (float64), and its lower triangle and cast per trial
        shared, per_trial = 8 * n * n, per_trial + 16 * n * n
    return MemoryEstimate("n", n, req.dtype, per_trial, at_once, shared)


def _rectangular_memory(req: RectangularSimulateRequest, settings: Settings) -> MemoryEstimate:
    """Y itself and LAPACK's Fortran-ordered copy (values only; Lanczos reads Y in
    place); with ``vectors`` also U, V^T and ``gesdd``'s workspace of about ``3 m^2``
    (trials run one after another)."""
    n, p = req.rows, req.cols
    m = min(n, p)
    per_trial = 2 * 8 * n * p
    if req.vectors:
        per_trial += 8 * (n * m + m * p + 3 * m * m)
    shared = 8 * n * p if isinstance(req.measure, RectangularMatrix) else 0
    return MemoryEstimate("rows", max(n, p), "float64", per_trial, 1, shared)


def _plot_memory(req: PlotRequest, settings: Settings) -> MemoryEstimate | None:
    if req.simulate is None:
        return None
    n = req.simulate.n
    if req.model == "rectangular":  # Y and LAPACK's copy
        return MemoryEstimate("simulate.n", n, "float64", 2 * 8 * n * req.cols, 1)
    return MemoryEstimate("simulate.n", n, "float64", 8 * n * n, 1)


def memory_estimate(req: BaseModel, settings: Settings) -> MemoryEstimate | None:
    """What the matrices of ``req`` need (``None``: no simulation, negligible)."""
    rules = RULES.get(type(req))
    return None if rules is None or rules.memory is None else rules.memory(req, settings)


def memory_needed(req: BaseModel, settings: Settings) -> int:
    """Bytes to reserve from the process-wide budget for ``req`` (0: nothing)."""
    estimate = memory_estimate(req, settings)
    return 0 if estimate is None else estimate.total


def _memory(req: BaseModel, settings: Settings) -> None:
    estimate = memory_estimate(req, settings)
    budget = settings.memory_budget_bytes
    if estimate is None or estimate.total <= budget:
        return
    e = estimate
    if e.what is not None:
        raise LimitExceeded(
            f"{e.field}: {e.what} needs about {_mb(e.total)}, over the memory budget of "
            f"{_mb(budget)} (memory_budget_bytes in /v1/info)",
            field=e.field,
        )
    trials = "1 trial at a time" if e.at_once == 1 else f"{e.at_once} trials at once"
    if isinstance(req, RectangularSimulateRequest):
        raise LimitExceeded(
            f"rows: {req.rows} x {req.cols} needs about {_mb(e.per_trial)} per trial: "
            f"{_mb(e.total)} in all, over the memory budget of {_mb(budget)} "
            "(memory_budget_bytes in /v1/info); ask for smaller rows or cols"
            + (" or no vectors" if req.vectors else ""),
            field=e.field,
        )
    raise LimitExceeded(
        f"{e.field}: n = {e.n} needs about {_mb(e.per_trial)} per trial ({e.dtype}, "
        f"{trials}): {_mb(e.total)} in all, over the memory budget of {_mb(budget)} "
        "(memory_budget_bytes in /v1/info); ask for a smaller n"
        + (", dtype float32" if e.dtype == "float64" else "")
        + (" or no eigenvectors" if isinstance(req, SimulateRequest) and req.eigenvectors else ""),
        field=e.field,
    )


def check(req: BaseModel, settings: Settings) -> None:
    """Raise :class:`LimitExceeded` if ``req`` is over a configured limit."""
    measure = getattr(req, "measure", None)
    if isinstance(measure, MeasureModel):
        _measure(measure, settings)
    law = getattr(req, "spike_law", None)
    if isinstance(law, MeasureModel):
        _measure(law, settings, "spike_law")
    rules = RULES.get(type(req))
    for field, value, setting, what in rules.limits(req) if rules is not None else ():
        _at_most(field, value, getattr(settings, setting), what, setting)
    if isinstance(req, FitRequest):
        _fit_work(req, settings)
    _memory(req, settings)


# --------------------------------------------------------------- the registry

#: a size of a request under a setting: (field, value, setting, what is counted)
Limit = tuple[str, int, str, str]


@dataclass(frozen=True)
class Rules:
    """What the limits know of one request type: its sizes under a setting, the points
    where it evaluates the limit (its cost; ``None``: a simulation or a picture), and
    the memory its matrices take, and its LAPACK work. A new endpoint adds one row to
    :data:`RULES`."""

    limits: Callable[[Any], Iterable[Limit]]
    points: Callable[[Any], int] | None = None
    memory: Callable[[Any, Settings], MemoryEstimate | None] | None = None
    lapack: Callable[[Any], LapackEstimate | None] | None = None
    #: the cost directly, for a request without a measure (overrides ``points``)
    cost: Callable[[Any], int] | None = None


def _density_points(req: DensityRequest) -> tuple[str, int]:
    if req.x is not None:
        return "x", len(req.x)
    return ("grid.num", req.grid.num) if req.grid is not None else ("num", req.grid_points)


def _outlier_points(req: OutliersRequest) -> int:
    density = 0
    if req.spike_law is not None:
        density = req.grid.num if req.grid is not None else PUSHFORWARD_POINTS
    return len(req.spikes) + density


def _outlier_limits(req: OutliersRequest) -> Iterator[Limit]:
    yield "spikes", len(req.spikes), "max_spikes", "spike count"
    if req.grid is not None:
        yield "grid.num", req.grid.num, "max_grid_points", "point count"


def _simulate_limits(req: SimulateRequest) -> Iterator[Limit]:
    yield "spikes", len(req.spikes), "max_spikes", "spike count"
    yield "n", req.n, "max_n", "matrix size"
    yield "trials", req.trials, "max_trials", "trial count"
    yield "spike_count", req.spike_count, "max_spikes", "spike count"
    if req.eigenvectors:
        yield "n", req.n, "max_eigenvector_n", "matrix size with eigenvectors"
    if req.bins is not None:
        yield "bins", req.bins, "max_grid_points", "bin count"
    if req.edges is not None:
        yield "edges", len(req.edges), "max_grid_points", "edge count"


def _rectangular_density_points(req: RectangularDensityRequest) -> tuple[str, int]:
    if req.x is not None:
        return "x", len(req.x)
    return ("grid.num", req.grid.num) if req.grid is not None else ("num", req.grid_points)


def _rectangular_simulate_limits(req: RectangularSimulateRequest) -> Iterator[Limit]:
    yield "rows", req.rows, "max_rect_rows", "row count"
    yield "cols", req.cols, "max_rect_cols", "column count"
    yield "trials", req.trials, "max_trials", "trial count"
    yield "spikes", len(req.spikes), "max_spikes", "spike count"
    if req.vectors:
        yield "rows", req.rows, "max_rect_vectors_size", "row count with vectors"
        yield "cols", req.cols, "max_rect_vectors_size", "column count with vectors"


def _plot_limits(req: PlotRequest) -> Iterator[Limit]:
    yield "spikes", len(req.spikes), "max_spikes", "spike count"
    if req.observed is not None:
        yield "observed", len(req.observed), "max_fit_values", "value count"
    if req.simulate is not None:
        yield "simulate.n", req.simulate.n, "max_n", "matrix size"
        yield "simulate.trials", req.simulate.trials, "max_trials", "trial count"
    if req.simulate is not None and req.model == "rectangular":
        yield "simulate.n", req.simulate.n, "max_rect_rows", "row count"
        yield "simulate.n", req.cols, "max_rect_cols", "column count (aspect_ratio x n)"


# denoising: the SVD as for the rectangular simulation (``_svd_work``; with the vectors,
# measured 5.6-6.9 m^2 M, twice the values'), the symmetric eigenvalues 1.0 n^3 (with
# the vectors 2.8), in units of syevd's n^3 with one BLAS thread. Lower bounds with a
# margin (nothing is refused that would have finished in time: checked by
# tests/api/test_denoise_api.py). The fit's bootstrap (about 7000 m M units: 0.3 s at
# 1000 x 500) is not counted: its replicates are cached per shape and seed, so that a
# repeated request costs nothing there; the worker's kill past the deadline bounds it
EIGH_WORK = {False: 0.8, True: 2.0}
#: = rmtservice.denoise.CHUNK (not imported: the web layer loads no scipy until it computes)
RIE_CHUNK = 256


#: the share of the measured speed the denoising estimates assume (SVD_BASE's model is
#: fitted at what was measured, for a simulation; a refused denoising must not have fit)
DENOISE_MARGIN = 0.7


def _svd_work(rows: int, cols: int, vectors: bool) -> float:
    """LAPACK's SVD of a ``rows x cols`` matrix in units of ``n^3`` (``SVD_BASE``), with
    ``DENOISE_MARGIN``."""
    m, big = min(rows, cols), max(rows, cols)
    values = DENOISE_MARGIN * (SVD_BASE + SVD_SLOPE * m / big) * float(m) * m * big
    return 2.0 * values if vectors else values


def _denoise_limits(req: DenoiseJob) -> Iterator[Limit]:
    rows, cols = req.shape
    yield req.field, rows, "max_denoise_rows", "row count"
    yield req.field, cols, "max_denoise_cols", "column count"


def _vectors(req: DenoiseJob) -> bool:
    return req.options.output != "values"


def _denoise_lapack(req: DenoiseJob) -> LapackEstimate:
    rows, cols = req.shape
    vectors = _vectors(req)
    if rows == cols and req.options.model != "rectangular":
        work = EIGH_WORK[vectors] * float(rows) ** 3  # symmetric or not: the lower bound
    else:
        work = _svd_work(rows, cols, vectors)
    return LapackEstimate(
        work,
        req.field,
        f"a {rows} x {cols} matrix" + (" with its vectors" if vectors else ""),
        "send a smaller matrix" + (" or ask for output values" if vectors else ""),
    )


def _denoise_memory(req: DenoiseJob, settings: Settings) -> MemoryEstimate:
    """The matrix (float64) and LAPACK's copy (a square one: also its symmetry test's
    and the symmetrised copy); the transforms of ``rie``, ``RIE_CHUNK`` points against the m
    values at a time (complex, four temporaries); with the vectors u, vt, the divide and
    conquer workspace (about 4 m^2) and the estimate; a JSON matrix answer's floats (32
    bytes each as Python objects, about 20 as text); the upload's bytes. Checked
    against tracemalloc's peak in tests/api/test_denoise_api.py."""
    rows, cols = req.shape
    m, entries = min(rows, cols), rows * cols
    total = (32 if rows == cols else 16) * entries + 64 * RIE_CHUNK * m
    if _vectors(req):
        total += 8 * m * (rows + cols) + 32 * m * m + 8 * entries
    if req.options.output == "matrix" and not req.npy_answer:
        total += 52 * entries
    if req.upload is not None:
        total += len(req.upload.data)
    what = f"a {rows} x {cols} matrix with output {req.options.output}"
    return MemoryEstimate(req.field, m, "float64", total, 1, what=what)


def _analyze_limits(req: AnalyzeJob) -> Iterator[Limit]:
    matrices = req.selected
    yield "body", len(matrices), "max_analyze_tensors", "matrix count"
    for t in matrices:
        rows, cols = t.matrix_shape or (0, 0)
        yield "body", rows, "max_denoise_rows", f"row count of tensor {t.name!r}"
        yield "body", cols, "max_denoise_cols", f"column count of tensor {t.name!r}"


def _analyze_lapack(req: AnalyzeJob) -> LapackEstimate:
    """The sum over the matrices: singular values (or eigenvalues of a square one: the
    lower bound) and the fit without replicates (negligible)."""
    work = 0.0
    for t in req.selected:
        rows, cols = t.matrix_shape or (0, 0)
        work += (
            EIGH_WORK[False] * float(rows) ** 3 if rows == cols else _svd_work(rows, cols, False)
        )
    count = len(req.selected)
    return LapackEstimate(work, "body", f"{count} matrices", "send fewer or smaller ones (names)")


def _analyze_memory(req: AnalyzeJob, settings: Settings) -> MemoryEstimate:
    """The file, and the largest matrix twice (float64, and LAPACK's copy): one at a time."""
    largest = max(((t.matrix_shape or (0, 0)) for t in req.selected), key=lambda s: s[0] * s[1])
    total = len(req.data) + 16 * largest[0] * largest[1]
    what = f"the file and its largest matrix ({largest[0]} x {largest[1]})"
    return MemoryEstimate("body", min(largest), "float64", total, 1, what=what)


def _fit_limits(req: FitRequest) -> Iterator[Limit]:
    for field in ("eigenvalues", "singular_values"):
        values = getattr(req, field)
        if values is not None:
            yield field, len(values), "max_fit_values", "value count"
    if req.matrix is not None:
        entries = req.matrix.entries
        yield "matrix.entries", len(entries), "max_fit_matrix_rows", "row count"
        yield "matrix.entries.0", len(entries[0]), "max_fit_matrix_rows", "column count"
    if req.bootstrap is not None:
        yield "bootstrap", req.bootstrap, "max_bootstrap", "replicate count"


def _fit_work(req: FitRequest, settings: Settings) -> None:
    """An explicit ``bootstrap`` whose work (replicates x values^2) passes the setting;
    left out, the fit takes what fits (:func:`~rmtservice.wire.fit.bootstrap_replicates`)."""
    b, m, limit = req.bootstrap, req.count, settings.max_fit_bootstrap_work
    if b is None or b * m * m <= limit:
        return
    most = limit // (m * m)
    hint = f"at most {most}" if most >= 10 else "0"
    raise LimitExceeded(
        f"bootstrap: {b} replicates of {m} values cost {b} x {m}^2 = {b * m * m:.3g}, "
        f"over the limit {limit:.3g} (max_fit_bootstrap_work in /v1/info); ask for {hint}, "
        "or leave bootstrap out",
        field="bootstrap",
    )


#: cost units (0.1 to 0.4 us) of a fit: a fixed ~3 ms, ~1.5 us a value, and the
#: bootstrap's replicates x values^2 at ~1.1e-8 s; a matrix adds its eigensolve
def _fit_cost(req: FitRequest) -> int:
    m = req.count
    work = 10_000 + 8 * m + bootstrap_replicates(req) * m * m // 20
    if req.matrix is not None:
        rows, cols = len(req.matrix.entries), len(req.matrix.entries[0])
        work += rows * cols * min(rows, cols) // 64
    return work


def _fit_memory(req: FitRequest, settings: Settings) -> MemoryEstimate | None:
    """A matrix, as float64 and the LAPACK copy and workspace of its solve (3 buffers)."""
    if req.matrix is None:
        return None
    rows, cols = len(req.matrix.entries), len(req.matrix.entries[0])
    return MemoryEstimate("matrix.entries", max(rows, cols), "float64", 24 * rows * cols, 1)


RULES: dict[type[BaseModel], Rules] = {
    StieltjesRequest: Rules(
        lambda r: [("z.re", len(r.z.re), "max_z_points", "point count")],
        points=lambda r: len(r.z.re),
    ),
    DensityRequest: Rules(
        lambda r: [(*_density_points(r), "max_grid_points", "point count")],
        points=lambda r: _density_points(r)[1],
    ),
    SupportRequest: Rules(lambda r: (), points=lambda r: 0),
    OutliersRequest: Rules(_outlier_limits, points=_outlier_points),
    InverseRequest: Rules(
        lambda r: [("observed", len(r.observed), "max_spikes", "count")],
        points=lambda r: len(r.observed),
    ),
    SimulateRequest: Rules(_simulate_limits, memory=_simulate_memory),
    PlotRequest: Rules(_plot_limits, memory=_plot_memory),
    DenoiseJob: Rules(_denoise_limits, memory=_denoise_memory, lapack=_denoise_lapack),
    AnalyzeJob: Rules(_analyze_limits, memory=_analyze_memory, lapack=_analyze_lapack),
    FitRequest: Rules(_fit_limits, memory=_fit_memory, cost=_fit_cost),
    RectangularStieltjesRequest: Rules(
        lambda r: [("z.re", len(r.z.re), "max_z_points", "point count")],
        points=lambda r: len(r.z.re),
    ),
    RectangularDensityRequest: Rules(
        lambda r: [(*_rectangular_density_points(r), "max_grid_points", "point count")],
        points=lambda r: _rectangular_density_points(r)[1],
    ),
    RectangularSupportRequest: Rules(lambda r: (), points=lambda r: 0),
    RectangularOutliersRequest: Rules(
        lambda r: [("spikes", len(r.spikes), "max_spikes", "spike count")],
        points=lambda r: len(r.spikes),
    ),
    RectangularInverseRequest: Rules(
        lambda r: [("observed", len(r.observed), "max_spikes", "count")],
        points=lambda r: len(r.observed),
    ),
    RectangularSimulateRequest: Rules(_rectangular_simulate_limits, memory=_rectangular_memory),
}

"""Schemathesis over every operation of the live app (ASGI, in process), bounded.

Fixed seed (derandomized), 25 examples per operation, small limits so that a generated
simulation stays cheap; every check schemathesis has (no 5xx, documented status codes,
content types, headers and response schemas, schema-invalid data refused, schema-valid
data accepted, ...).

Schema-valid data must be accepted unless the spec says why not (issue 13, item 12):
the spec states what JSON Schema can of the rules between fields and of this
deployment's limits; the rest is named in the descriptions, and each has a predicate in
``DOCUMENTED`` below. A refusal of schema-valid data is forgiven only when the request
breaks one of those, or is outside double precision's reach (422 ``invalid-parameter``
or ``no-convergence``, documented in the spec's description).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.openapi.checks import RejectedPositiveData  # noqa: E402

from app.main import create_app  # noqa: E402
from app.settings import Settings  # noqa: E402

from ._support import serve  # noqa: E402

pytestmark = pytest.mark.slow

SETTINGS = Settings(
    executor="thread",
    access_log=False,
    log_level="ERROR",
    max_n=120,
    max_eigenvector_n=120,
    max_trials=2,
    max_atoms=2_000,
    max_matrix_rows=40,
    max_grid_points=600,  # the automatic grid's default is 512
    max_z_points=400,
    max_spikes=50,
    max_fit_values=400,
    max_fit_matrix_rows=40,
    max_bootstrap=100,
    max_rect_rows=120,
    max_rect_cols=120,
    max_rect_vectors_size=60,
    deadline_seconds=5.0,
    # sweeps: one local Dask worker, tiny sweeps
    dask_workers=1,
    max_sweep_n=60,
    max_sweep_tasks=6,
    max_active_sweeps=64,  # a sweep ends in a blink; none waits for another
)
APP = create_app(SETTINGS)
APP.state.ready = True  # the schema's own client runs no lifespan; threads need no warm-up
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


# --------------------------------------- what the spec says JSON Schema cannot state


def _measures(value: Any) -> Iterator[dict[str, Any]]:
    """Every measure of a body, mixture components and spike laws included."""
    if isinstance(value, dict):
        if isinstance(value.get("kind"), str):
            yield value
        for item in value.values():
            yield from _measures(item)
    elif isinstance(value, list):
        for item in value:
            yield from _measures(item)


def _atoms(measure: dict[str, Any]) -> int:
    if measure.get("kind") == "mixture":
        return sum(_atoms(c.get("measure", {})) for c in measure.get("components", []))
    if measure.get("kind") == "atoms":
        return len(measure.get("values", []))
    if measure.get("kind") == "matrix":
        return len(measure.get("entries", []))
    return 1


def _depth(measure: dict[str, Any]) -> int:
    if measure.get("kind") != "mixture":
        return 0
    return 1 + max((_depth(c.get("measure", {})) for c in measure["components"]), default=0)


def _increasing(values: list[Any]) -> bool:
    return all(b > a for a, b in itertools.pairwise(values))


def _simulation_spikes(body: dict[str, Any]) -> int:
    law = body.get("spike_law") is not None
    return len(body.get("spikes", [])) + (body.get("spike_count", 0) if law else 0)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _top_bottom_over_n(body: dict[str, Any]) -> bool:
    n = body.get("n")
    return _number(n) and any((body.get(k) or 0) > n for k in ("top", "bottom"))


def _plot_spikes_over_n(body: dict[str, Any]) -> bool:
    simulate = body.get("simulate")
    return isinstance(simulate, dict) and len(body.get("spikes", [])) > simulate.get("n", 0)


def _sweep_plan(body: dict[str, Any]) -> bool:
    sizes = body.get("sizes")
    if not isinstance(sizes, list) or not sizes:
        return False
    tasks = len(sizes) * body.get("trials", 4) > SETTINGS.max_sweep_tasks
    return not _increasing(sizes) or len(body.get("spikes", [])) >= sizes[0] or tasks


def _edges(body: dict[str, Any]) -> bool:
    edges = body.get("edges")
    return isinstance(edges, list) and not _increasing(edges)


def _z(body: dict[str, Any]) -> bool:
    z = body.get("z")
    return isinstance(z, dict) and len(z.get("re", [])) != len(z.get("im", []))


def _grids(body: dict[str, Any]) -> bool:
    grid = body.get("grid")
    return isinstance(grid, dict) and not grid.get("start", 0) < grid.get("stop", 1)


def _laws(body: dict[str, Any]) -> bool:
    """A law of the body breaks a rule between its own fields, or a mixture a limit."""
    for m in _measures(body):
        kind = m["kind"]
        if kind == "uniform" and not m.get("low", 0) < m.get("high", 1):
            return True
        weights = m.get("weights")
        if kind == "atoms" and weights is not None:
            if len(weights) != len(m["values"]) or not any(w > 0 for w in weights):
                return True
        if kind == "mixture" and not any(c.get("weight", 0) > 0 for c in m["components"]):
            return True
        if kind == "matrix" and any(len(row) != len(m["entries"]) for row in m["entries"]):
            return True
    roots = [body.get(k) for k in ("measure", "spike_law") if isinstance(body.get(k), dict)]
    return any(
        _atoms(m) > SETTINGS.max_atoms or _depth(m) > SETTINGS.max_mixture_depth for m in roots
    )


def _shape(measure: Any) -> tuple[int, int] | None:
    """Rows and columns of a matrix measure (None: not one, or not a matrix)."""
    if not isinstance(measure, dict) or measure.get("kind") != "matrix":
        return None
    entries = measure.get("entries")
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], list):
        return None
    return len(entries), len(entries[0])


def _rect_ratio(body: dict[str, Any]) -> bool:
    shape, c = _shape(body.get("measure")), body.get("aspect_ratio")
    return (
        shape is not None and _number(c) and not math.isclose(c, shape[1] / shape[0], rel_tol=1e-12)
    )


def _rect_sizes(body: dict[str, Any]) -> bool:
    rows, cols = body.get("rows"), body.get("cols")
    if not (_number(rows) and _number(cols)):
        return False
    m, spikes = min(rows, cols), body.get("spikes", [])
    shape = _shape(body.get("measure"))
    matrix = shape is not None and (shape != (rows, cols) or bool(spikes))
    return (body.get("top") or 0) > m or len(spikes) > m or matrix


def _singular_semicircle(body: dict[str, Any]) -> bool:
    return any(
        m["kind"] == "semicircle" and m.get("center", 0) < m.get("radius", 0)
        for m in _measures(body)
    )


def _plot_rect_spikes(body: dict[str, Any]) -> bool:
    simulate, c = body.get("simulate"), body.get("aspect_ratio")
    if not isinstance(simulate, dict) or not _number(c) or not _number(simulate.get("n")):
        return False
    n = simulate["n"]
    return len(body.get("spikes", [])) > min(n, max(1, round(c * n)))


#: phrase of the spec that documents a rule -> whether a body breaks it
DOCUMENTED: dict[str, Callable[[dict[str, Any]], bool]] = {
    "``low < high`` (beyond JSON Schema)": _laws,
    "as many as values and not all zero (beyond JSON Schema)": _laws,
    "their weights not all zero (beyond JSON Schema)": _laws,
    "as many entries in each row as rows: beyond JSON Schema": _laws,
    "``start < stop`` (beyond JSON Schema)": _grids,
    "``re`` and ``im`` of equal length (beyond JSON Schema)": _z,
    "``top`` and ``bottom`` at most ``n``": _top_bottom_over_n,
    "(``spikes`` and ``spike_count``) at most ``n``": lambda b: (
        _number(b.get("n")) and _simulation_spikes(b) > b["n"]
    ),
    "``edges`` increasing": _edges,
    "most ``simulate.n`` spikes: beyond JSON Schema": _plot_spikes_over_n,
    "``sizes`` increasing, fewer spikes than the smallest size": _sweep_plan,
    "given, it equals the matrix's cols/rows (beyond JSON Schema)": _rect_ratio,
    "``top`` and the spikes at most ``min(rows, cols)``; a ``matrix`` S of shape": _rect_sizes,
    "rows of S, all of one length (beyond JSON Schema)": _laws,
    "no mass below 0: beyond JSON Schema": _singular_semicircle,
    "at most ``min(n, cols)`` with ``simulate``": _plot_rect_spikes,
}


def _documented_refusal(case: Any, response: Any) -> bool:
    if response.status_code != 422:
        return False
    kind = response.json().get("type")
    if kind in ("/problems/invalid-parameter", "/problems/no-convergence"):
        return True  # outside double precision's reach (documented)
    body = case.body if isinstance(case.body, dict) else {}
    return any(breaks(body) for breaks in DOCUMENTED.values())


@schema.hook
def filter_failure(ctx: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but a documented refusal of schema-valid data."""
    return not (isinstance(failure, RejectedPositiveData) and _documented_refusal(case, response))


@pytest.fixture(scope="module", autouse=True)
def _stop_sweeps() -> Iterator[None]:
    """The local Dask cluster that generated sweeps started goes with this module."""
    yield
    APP.state.sweeps.close()


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate()


def test_every_forgiven_rule_is_in_the_spec() -> None:
    """What the checks forgive is what the spec says (in a schema's description)."""
    text = str(APP.openapi())
    for phrase in DOCUMENTED:
        assert phrase in text, phrase


@pytest.mark.anyio
async def test_bottom_without_top() -> None:
    """Found by schemathesis (was a 500): with ``bottom`` and no ``top`` the trials hold
    no top eigenvalues, so the comparison block has no full spectrum to compare."""
    async with serve() as client:
        body = {"measure": {"kind": "point", "at": 0}, "noise": {"sigma2": 0.25}, "n": 4}
        r = await client.post("/v1/simulate", json=body | {"bottom": 1})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["eigenvalues"] == [[]]
    assert len(out["bottom_eigenvalues"][0]) == 1
    assert out["comparison"]["kolmogorov"] is None


@pytest.mark.anyio
async def test_degenerate_law_and_noise_are_refused_not_500() -> None:
    """Found by schemathesis (was a 500): MP ratio 5e-324 with sigma2 5e-324."""
    async with serve() as client:
        body = {
            "measure": {"kind": "marchenko_pastur", "ratio": 5e-324},
            "n": 1,
            "noise": {"sigma2": 5e-324},
        }
        r = await client.post("/v1/simulate", json=body)
    assert r.status_code == 422, r.text
    assert "too small to resolve" in r.json()["detail"]

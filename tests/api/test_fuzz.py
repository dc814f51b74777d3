"""Property tests: valid measures get answers, and no body at all gets a 500."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.anyio

FAST = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
real = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
positive = st.floats(1e-2, 1e2)


def _uniform(low: float, width: float) -> dict[str, Any]:
    return {"kind": "uniform", "low": low, "high": low + width}


plain = st.one_of(
    st.builds(lambda v: {"kind": "atoms", "values": v}, st.lists(real, min_size=1, max_size=8)),
    st.builds(lambda a: {"kind": "point", "at": a}, real),
    st.builds(_uniform, real, st.floats(0.1, 10)),
    st.builds(lambda c, r: {"kind": "semicircle", "center": c, "radius": r}, real, positive),
    st.builds(
        lambda y, s: {"kind": "marchenko_pastur", "ratio": y, "scale": s},
        st.floats(0.05, 1.0),
        positive,
    ),
)
measures = st.recursive(
    plain,
    lambda inner: st.builds(
        lambda parts: {
            "kind": "mixture",
            "components": [{"weight": w, "measure": m} for w, m in parts],
        },
        st.lists(st.tuples(st.floats(0.1, 1.0), inner), min_size=1, max_size=3),
    ),
    max_leaves=4,
)


@FAST
@given(measure=measures, sigma2=st.floats(1e-2, 1e2), spike=real)
async def test_valid_measures_get_answers(
    client: httpx.AsyncClient, measure: dict[str, Any], sigma2: float, spike: float
) -> None:
    base = {"measure": measure, "noise": {"sigma2": sigma2}}
    support = await client.post("/v1/support", json=base)
    assert support.status_code == 200, support.text
    components = support.json()["support"]
    assert abs(sum(c["mass"] for c in components) - 1) < 1e-9
    density = await client.post("/v1/density", json=base | {"num": max(64, 4 * len(components))})
    assert density.status_code in (200, 422), density.text
    outliers = await client.post("/v1/outliers", json=base | {"spikes": [spike]})
    assert outliers.status_code == 200, outliers.text
    z = {"re": [spike, spike], "im": [1.0, 0.0]}
    stieltjes = await client.post("/v1/stieltjes", json=base | {"z": z})
    assert stieltjes.status_code in (200, 422), stieltjes.text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
keys = st.sampled_from(
    [
        "measure",
        "noise",
        "kind",
        "at",
        "values",
        "weights",
        "sigma2",
        "x",
        "grid",
        "num",
        "z",
        "re",
        "im",
        "n",
        "seed",
        "components",
        "entries",
    ]
)


def _body(mapping: dict[str, Any]) -> bytes:
    return json.dumps(mapping, allow_nan=True).encode()


@FAST
@given(
    path=st.sampled_from(
        [
            "/v1/stieltjes",
            "/v1/density",
            "/v1/support",
            "/v1/outliers",
            "/v1/outliers/inverse",
            "/v1/simulate",
        ]
    ),
    body=st.dictionaries(keys, json_values, max_size=6) | json_values,
)
async def test_no_body_gives_a_500(client: httpx.AsyncClient, path: str, body: Any) -> None:
    r = await client.post(path, content=_body(body), headers={"content-type": "application/json"})
    assert r.status_code in (200, 400, 413, 422), r.text
    if r.status_code != 200:
        assert r.headers["content-type"] == "application/problem+json"


@FAST
@given(raw=st.binary(max_size=64))
async def test_no_bytes_give_a_500(client: httpx.AsyncClient, raw: bytes) -> None:
    r = await client.post("/v1/support", content=raw, headers={"content-type": "application/json"})
    assert r.status_code in (400, 422), r.text


#: any finite double: subnormals, 5e-324, 1.7976931348623157e308 and their negatives
extreme = st.floats(allow_nan=False, allow_infinity=False)
extreme_positive = st.floats(min_value=0.0, exclude_min=True, allow_infinity=False)
extreme_measures = st.one_of(
    st.builds(
        lambda v, w: {"kind": "atoms", "values": v, "weights": [w] * len(v)},
        st.lists(extreme, min_size=1, max_size=6),
        extreme_positive,
    ),
    st.builds(lambda a: {"kind": "point", "at": a}, extreme),
    st.builds(lambda lo, hi: {"kind": "uniform", "low": lo, "high": hi}, extreme, extreme),
    st.builds(
        lambda c, r: {"kind": "semicircle", "center": c, "radius": r}, extreme, extreme_positive
    ),
    st.builds(
        lambda y, s: {"kind": "marchenko_pastur", "ratio": y, "scale": s},
        extreme_positive,
        extreme_positive,
    ),
    st.builds(
        lambda w1, w2, a, b: {
            "kind": "mixture",
            "components": [
                {"weight": w1, "measure": {"kind": "point", "at": a}},
                {"weight": w2, "measure": {"kind": "point", "at": b}},
            ],
        },
        extreme_positive,
        extreme_positive,
        extreme,
        extreme,
    ),
)


def _strict_json(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} in an answer")

    return json.loads(text, parse_constant=refuse)


def _answered(r: httpx.Response) -> None:
    """200 with strict JSON (no NaN, no infinity), or a documented problem; never a 500."""
    if r.status_code == 200:
        if r.headers["content-type"].startswith("application/json"):
            _strict_json(r.text)
        return
    assert r.status_code in (422, 503), r.text
    assert r.headers["content-type"] == "application/problem+json"
    if r.status_code == 503:
        assert r.json()["type"] == "/problems/deadline-exceeded", r.text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    measure=extreme_measures,
    sigma2=extreme_positive,
    point=extreme,
    im=st.floats(min_value=0.0, allow_infinity=False),
)
async def test_extreme_numbers_get_an_answer_or_a_422(
    client: httpx.AsyncClient, measure: dict[str, Any], sigma2: float, point: float, im: float
) -> None:
    # found this way: a semicircle of radius 1.8e308 in /v1/plot and weights whose sum
    # passes the largest double were 500s (Python float OverflowError)
    base = {"measure": measure, "noise": {"sigma2": sigma2}}
    for path, extra in [
        ("/v1/support", {}),
        ("/v1/density", {"x": [point, 0.0]}),
        ("/v1/stieltjes", {"z": {"re": [point], "im": [im]}}),
        ("/v1/outliers", {"spikes": [point]}),
        ("/v1/outliers/inverse", {"observed": [point]}),
        ("/v1/simulate", {"n": 3, "seed": 1, "spikes": [point]}),
    ]:
        _answered(await client.post(path, json=base | extra))

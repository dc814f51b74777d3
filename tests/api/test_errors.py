"""Every error path: status, content type, problem members, field paths and message."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ._support import NOISE, POINT, assert_problem, field_paths, serve

pytestmark = pytest.mark.anyio

JSON = {"content-type": "application/json"}


async def _post_raw(client: httpx.AsyncClient, body: bytes, path: str = "/v1/support") -> Any:
    return await client.post(path, content=body, headers=JSON)


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        (b'{"measure": {"kind": "point", "at": NaN}, "noise": {"sigma2": 1}}', "NaN"),
        (b'{"measure": {"kind": "point", "at": Infinity}, "noise": {"sigma2": 1}}', "Infinity"),
        (b'{"measure": {"kind": "point", "at": -Infinity}, "noise": {"sigma2": 1}}', "-Infinity"),
        (b'{"measure": {"kind": "point", "at": 0}, "noise": ', "line 1 column"),
        (b"not json", "Expecting value"),
        (b'{"a": 1,}', "line 1 column 9"),
        (b'{"n": ' + b"1" * 5000 + b"}", "digits"),
        (b'{"kind": "\xff\xfe"}', "malformed JSON"),
    ],
)
async def test_malformed_json_is_400(client: httpx.AsyncClient, text: bytes, detail: str) -> None:
    assert_problem(await _post_raw(client, text), 400, "malformed-json", detail)


@pytest.mark.parametrize("number", [b"1e999", b"-1e400", b"1E+309"])
async def test_overflowing_number_is_refused_with_its_path(
    client: httpx.AsyncClient, number: bytes
) -> None:
    text = b'{"measure": {"kind": "point", "at": ' + number + b'}, "noise": {"sigma2": 1}}'
    body = assert_problem(await _post_raw(client, text), 422, "validation-error", "finite")
    assert field_paths(body) == ["/measure/at"]
    assert body["errors"][0]["loc"] == ["body", "measure", "at"]


@pytest.mark.parametrize(
    ("measure", "noise", "path", "message"),
    [
        ({"kind": "point", "at": False}, NOISE, "/measure/at", "valid number"),
        ({"kind": "point", "at": "1"}, NOISE, "/measure/at", "valid number"),
        (POINT, {"sigma2": True}, "/noise/sigma2", "valid number"),
        (POINT, {"sigma2": 0}, "/noise/sigma2", "greater than 0"),
        (POINT, {"sigma2": -1.0}, "/noise/sigma2", "greater than 0"),
        (POINT, {}, "/noise/sigma2", "Field required"),
        (POINT, {"sigma2": 1, "color": "red"}, "/noise/color", "Extra inputs"),
        ({"kind": "point", "at": 0, "x": 1}, NOISE, "/measure/x", "Extra inputs"),
        ({"kind": "nope"}, NOISE, "/measure", "does not match any of the expected tags"),
        ({"at": 0}, NOISE, "/measure", "discriminator"),
        ({"kind": "atoms", "values": []}, NOISE, "/measure/values", "at least 1"),
        ({"kind": "atoms", "values": [1, "2"]}, NOISE, "/measure/values/1", "valid number"),
        (
            {"kind": "atoms", "values": [1, 2], "weights": [1, -1]},
            NOISE,
            "/measure/weights/1",
            "greater than or equal to 0",
        ),
        (
            {"kind": "atoms", "values": [1, 2], "weights": [1]},
            NOISE,
            "/measure",
            "weights has 1 entries but values has 2",
        ),
        (
            {"kind": "atoms", "values": [1, 2], "weights": [0, 0]},
            NOISE,
            "/measure",
            "must not all be zero",
        ),
        ({"kind": "uniform", "low": 1, "high": 1}, NOISE, "/measure", "low must be < high"),
        ({"kind": "semicircle", "center": 0, "radius": 0}, NOISE, "/measure/radius", "than 0"),
        ({"kind": "marchenko_pastur", "ratio": 1.5}, NOISE, "/measure/ratio", "less than or"),
        ({"kind": "matrix", "entries": [[1, 2], [2]]}, NOISE, "/measure", "square matrix: row 1"),
        ({"kind": "matrix", "entries": []}, NOISE, "/measure/entries", "at least 1"),
        (
            {"kind": "mixture", "components": [{"weight": 1, "measure": {"kind": "point"}}]},
            NOISE,
            "/measure/components/0/measure/at",
            "Field required",
        ),
        (
            {"kind": "mixture", "components": [{"weight": 0, "measure": POINT}]},
            NOISE,
            "/measure",
            "must not all be zero",
        ),
        (POINT, {"sigma2": 1, "distribution": "cauchy"}, "/noise/distribution", "Input should"),
        (POINT, {"sigma2": 1, "distribution": "student_t"}, "/noise", "df > 4"),
        (POINT, {"sigma2": 1, "distribution": "student_t", "df": 4}, "/noise/df", "than 4"),
        (POINT, {"sigma2": 1, "distribution": "sparse"}, "/noise", "density in (0, 1]"),
        (POINT, {"sigma2": 1, "df": 5}, "/noise", "student_t noise only"),
    ],
)
async def test_validation_errors_name_the_field(
    client: httpx.AsyncClient, measure: Any, noise: Any, path: str, message: str
) -> None:
    r = await client.post("/v1/support", json={"measure": measure, "noise": noise})
    body = assert_problem(r, 422, "validation-error", message)
    assert path in field_paths(body)
    error = body["errors"][field_paths(body).index(path)]
    assert message in error["message"]
    assert error["loc"][0] == "body"


@pytest.mark.parametrize(
    ("path", "extra", "field", "message"),
    [
        ("/v1/stieltjes", {"z": {"re": [0, 1], "im": [1]}}, "/z", "same length"),
        ("/v1/stieltjes", {"z": {"re": [0], "im": [-1]}}, "/z/im/0", "greater than or equal"),
        ("/v1/density", {"x": [0], "grid": {"start": 0, "stop": 1, "num": 3}}, "", "not both"),
        ("/v1/density", {"x": [0], "num": 10}, "", "automatic grid"),
        ("/v1/density", {"grid": {"start": 1, "stop": 0, "num": 3}}, "/grid", "start must be"),
        ("/v1/density", {"grid": {"start": 0, "stop": 1, "num": 1}}, "/grid/num", "equal to 2"),
        ("/v1/density", {"x": []}, "/x", "at least 1"),
        ("/v1/outliers", {}, "/spikes", "Field required"),
        ("/v1/outliers", {"spikes": [1, None]}, "/spikes/1", "valid number"),
        ("/v1/outliers/inverse", {"observed": "2.5"}, "/observed", "valid list"),
        ("/v1/simulate", {"n": 0}, "/n", "greater than or equal to 1"),
        ("/v1/simulate", {"n": 2.5}, "/n", "valid integer"),
        ("/v1/simulate", {"n": "2"}, "/n", "valid integer"),
        ("/v1/simulate", {"n": True}, "/n", "valid integer"),
        ("/v1/simulate", {"n": 5, "top": 6}, "", "top must be <= n"),
        ("/v1/simulate", {"n": 1, "spikes": [3, 4]}, "", "do not fit"),
        ("/v1/simulate", {"n": 5, "seed": -1}, "/seed", "greater than or equal to 0"),
        ("/v1/simulate", {"n": 5, "seed": 2**53}, "/seed", "less than or equal"),
        ("/v1/simulate", {"n": 5, "trials": 0}, "/trials", "greater than or equal to 1"),
    ],
)
async def test_endpoint_validation(
    client: httpx.AsyncClient, path: str, extra: dict[str, Any], field: str, message: str
) -> None:
    r = await client.post(path, json={"measure": POINT, "noise": NOISE} | extra)
    body = assert_problem(r, 422, "validation-error", message)
    assert field in field_paths(body)


async def test_integers_may_be_written_with_a_zero_fraction(client: httpx.AsyncClient) -> None:
    """JSON Schema's ``integer`` (the spec's) counts 2.0 as one: so does the server
    (issue 13, item 12: schemathesis sent n = 100.0 and got 422)."""
    body = {"measure": POINT, "noise": NOISE, "seed": 3}
    a = await client.post("/v1/simulate", json=body | {"n": 4, "trials": 2})
    b = await client.post("/v1/simulate", json=body | {"n": 4.0, "trials": 2.0, "seed": 3.0})
    assert a.status_code == b.status_code == 200, b.text
    assert a.json() == b.json()


async def test_body_must_be_an_object(client: httpx.AsyncClient) -> None:
    assert_problem(await _post_raw(client, b"[1, 2]"), 422, "validation-error", "(body)")
    assert_problem(await client.post("/v1/support", headers=JSON), 422, "validation-error")


async def test_many_errors_are_capped(client: httpx.AsyncClient) -> None:
    measure = {"kind": "atoms", "values": ["x"] * 500}
    r = await client.post("/v1/support", json={"measure": measure, "noise": NOISE})
    body = assert_problem(r, 422, "validation-error", "and 497 more")
    assert len(body["errors"]) == 50


async def test_non_ascii_input_is_escaped_safely(client: httpx.AsyncClient) -> None:
    text = b'{"measure": {"kind": "\\ud800\xc3\xa9"}, "noise": {"sigma2": 1}}'
    assert_problem(await _post_raw(client, text), 422, "validation-error")


async def test_non_symmetric_matrix_is_422_with_path(client: httpx.AsyncClient) -> None:
    matrix = {"kind": "matrix", "entries": [[1.0, 2.0], [3.0, 4.0]]}
    mixture = {"kind": "mixture", "components": [{"weight": 1.0, "measure": matrix}]}
    r = await client.post("/v1/density", json={"measure": mixture, "noise": NOISE})
    body = assert_problem(r, 422, "invalid-parameter", "must be symmetric")
    assert field_paths(body) == ["/measure/components/0/measure/entries"]


async def test_core_invalid_parameter_is_422(client: httpx.AsyncClient) -> None:
    body = {"measure": POINT, "noise": NOISE, "n": 3, "spikes": [1e300]}
    problem = assert_problem(await client.post("/v1/simulate", json=body), 422, "invalid-parameter")
    assert field_paths(problem) == ["/spikes"]


async def test_an_automatic_grid_of_fewer_points_than_edges_is_the_edges(
    client: httpx.AsyncClient,
) -> None:
    """The schema allows num >= 2; three support components gave a 422 below 6."""
    three = {"kind": "atoms", "values": [-5.0, 0.0, 5.0]}
    body = {"measure": three, "noise": {"sigma2": 0.1}, "num": 2}
    r = await client.post("/v1/density", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    edges = sorted(e for c in out["support"] for e in (c["lower"], c["upper"]))
    assert out["x"] == edges and len(out["support"]) == 3


def _spike_law(law: dict[str, Any], path: str = "/v1/outliers") -> tuple[str, dict[str, Any]]:
    if path == "/v1/outliers":
        return path, {"measure": POINT, "noise": NOISE, "spikes": [3.0], "spike_law": law}
    return path, {"measure": POINT, "noise": NOISE, "n": 8, "spike_count": 2, "spike_law": law}


def _mixture(*measures: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "mixture", "components": [{"weight": 1.0, "measure": m} for m in measures]}


BAD_UNIFORM = {"kind": "uniform", "low": 3.0, "high": 2.0}
POINT_AT_3 = {"kind": "point", "at": 3.0}


@pytest.mark.parametrize(
    ("request_", "slug", "where"),
    [
        (_spike_law(BAD_UNIFORM), "validation-error", "/spike_law"),
        (_spike_law(BAD_UNIFORM, "/v1/simulate"), "validation-error", "/spike_law"),
        (_spike_law(POINT | {"extra": 1}), "validation-error", "/spike_law/extra"),
        (_spike_law(_mixture(BAD_UNIFORM)), "validation-error", "/spike_law/components/0/measure"),
        (_spike_law(POINT_AT_3), "invalid-parameter", "/spike_law/kind"),
        (_spike_law(POINT_AT_3, "/v1/simulate"), "invalid-parameter", "/spike_law/kind"),
        (
            _spike_law(_mixture({"kind": "uniform", "low": 2.0, "high": 4.0}, POINT_AT_3)),
            "invalid-parameter",
            "/spike_law/components",
        ),
    ],
)
async def test_field_paths_inside_spike_law(
    client: httpx.AsyncClient, request_: tuple[str, dict[str, Any]], slug: str, where: str
) -> None:
    """Issue 13, item 9: they read /kind (the core's field, not prefixed) or kept
    pydantic's tag (/spike_law/uniform)."""
    path, body = request_
    problem = assert_problem(await client.post(path, json=body), 422, slug)
    assert field_paths(problem) == [where]


HUGE_SEMICIRCLE = {"kind": "semicircle", "center": -1.14e220, "radius": 1.7976931348623157e308}


@pytest.mark.parametrize(
    ("path", "body", "detail", "where"),
    [
        # found by schemathesis: the midpoint quantiles of H were taken before any scale
        # check, and a semicircle's r**2 raised OverflowError (a 500)
        (
            "/v1/plot",
            {"measure": HUGE_SEMICIRCLE, "noise": {"sigma2": 9.3e307}, "simulate": {"n": 2}},
            "at most 1e+150",
            "/measure",
        ),
        (
            "/v1/simulate",
            {"measure": HUGE_SEMICIRCLE, "noise": NOISE, "n": 2},
            "at most 1e+150",
            "/measure",
        ),
        (
            "/v1/simulate",
            {"measure": POINT, "noise": NOISE, "n": 3, "spikes": [1e300]},
            "at most 1e+150",
            "/spikes",
        ),
        (
            "/v1/simulate",
            {"measure": POINT, "noise": {"sigma2": 1e200}, "n": 3},
            "at most 1e+150",
            "/noise/sigma2",
        ),
        # weights whose sum passes the largest double (math.fsum raised OverflowError)
        (
            "/v1/support",
            {
                "measure": {
                    "kind": "atoms",
                    "values": [1.0, 8.8e307],
                    "weights": [8.2e307, 8.8e307],
                },
                "noise": NOISE,
            },
            "at most 1e+150",
            "/measure",
        ),
        # issue 13, item 8: spikes far out of the noise's scale passed (the bulk's
        # eigenvalues came out near 1e130)
        (
            "/v1/simulate",
            {"measure": POINT, "noise": NOISE, "n": 3, "spikes": [1e150]},
            "noise standard deviations",
            "/spikes",
        ),
        (
            "/v1/simulate",
            {
                "measure": POINT,
                "noise": NOISE,
                "n": 8,
                "spike_count": 2,
                "spike_law": {"kind": "uniform", "low": 1e20, "high": 2e20},
            },
            "noise standard deviations",
            "/spike_law",
        ),
        (
            "/v1/simulate",
            {
                "measure": POINT,
                "noise": NOISE,
                "n": 8,
                "spike_count": 2,
                "spike_law": {"kind": "semicircle", "center": 0.0, "radius": 1e200},
            },
            "at most 1e+150",
            "/spike_law",
        ),
        (
            "/v1/plot",
            {"measure": POINT, "noise": NOISE, "spikes": [-1e16], "simulate": {"n": 4}},
            "noise standard deviations",
            "/spikes",
        ),
        # a comparison with the limit needs a noise level that double precision resolves
        (
            "/v1/simulate",
            {"measure": {"kind": "point", "at": 1.0}, "noise": {"sigma2": 1e-40}, "n": 3},
            "noise standard deviations",
            "/noise/sigma2",
        ),
    ],
)
async def test_numbers_double_precision_cannot_square_are_422_before_any_work(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], detail: str, where: str
) -> None:
    r = await client.post(path, json=body)
    problem = assert_problem(r, 422, "invalid-parameter", detail)
    assert field_paths(problem) == [where]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_non_json_body_is_415(client: httpx.AsyncClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    r = await client.post("/v1/support", content=b'{"a": 1}', headers=headers)
    assert_problem(r, 415, "unsupported-media-type", "application/json")


async def test_json_suffix_media_type_is_accepted(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/v1/support",
        content=b'{"measure": {"kind": "point", "at": 0}, "noise": {"sigma2": 1}}',
        headers={"content-type": "application/vnd.api+json; charset=utf-8"},
    )
    assert r.status_code == 200


async def test_unknown_path_is_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v2/nothing"), 404, "not-found", "/v2/nothing")
    assert_problem(await client.get("/static/nothing.js"), 404, "not-found")
    assert_problem(await client.get("/problems/nope"), 404, "not-found", "nope")


async def test_problem_types_resolve(client: httpx.AsyncClient) -> None:
    r = await client.get("/problems/limit-exceeded")
    assert r.status_code == 200
    assert r.json()["status"] == 422 and r.json()["type"] == "/problems/limit-exceeded"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/v1/density", "POST"),
        ("DELETE", "/v1/simulate", "POST"),
        ("POST", "/healthz", "GET"),
    ],
)
async def test_wrong_method_is_405(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    r = await client.request(method, path)
    assert_problem(r, 405, "method-not-allowed", f"{method} is not allowed")
    assert allow in r.headers["allow"]


async def test_deadline_is_503_with_retry_after() -> None:
    async with serve(deadline_seconds=1e-9, retry_after_seconds=7) as client:
        body = {"measure": {"kind": "uniform", "low": 0, "high": 1}, "noise": NOISE}
        r = await client.post("/v1/density", json=body)
        assert_problem(r, 503, "deadline-exceeded", "deadline")
        assert r.headers["retry-after"] == "7"
        assert "errors" not in r.json()


async def test_full_queue_is_503_overloaded() -> None:
    # inline_max_cost=0: even this small request goes to the (full) pool
    async with serve(workers=1, max_queue=0, inline_max_cost=0) as client:
        app_compute = client._transport.app.state.compute  # type: ignore[attr-defined]
        async with app_compute.limiter:  # the only worker is busy
            r = await client.post("/v1/support", json={"measure": POINT, "noise": NOISE})
            assert_problem(r, 503, "overloaded", "waiting")
            assert "retry-after" in r.headers
            ready = await client.get("/readyz")
            assert_problem(ready, 503, "not-ready")
        assert (await client.get("/readyz")).status_code == 200


async def test_small_requests_are_answered_while_the_pool_is_full() -> None:
    """A request under inline_max_cost runs in the server process: no worker, no queue."""
    async with serve(workers=1, max_queue=0, inline_max_cost=1000) as client:
        app_compute = client._transport.app.state.compute  # type: ignore[attr-defined]
        small = {"measure": POINT, "noise": NOISE}
        large = {"measure": {"kind": "atoms", "values": list(range(40))}, "noise": NOISE}
        async with app_compute.limiter:  # the only worker is busy
            assert (await client.post("/v1/support", json=small)).status_code == 200
            r = await client.post("/v1/support", json=large)  # cost (40 + 16) x 40 > 1000
            assert_problem(r, 503, "overloaded", "waiting")


async def test_an_unexpected_exception_is_a_logged_500_without_internals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serve() as client:
        app = client._transport.app  # type: ignore[attr-defined]

        async def broken() -> None:
            raise RuntimeError("secret internals")

        app.add_api_route("/broken", broken)
        r = await client.get("/broken")
        body = assert_problem(r, 500, "internal-error")
        assert "secret" not in r.text
        assert body["request_id"]


LONG = "x" * 5000


def _echoes_clipped(body: dict[str, Any], long: str, shown: int = 99) -> None:
    """``long`` (an input value) appears nowhere whole, only its first ``shown``
    characters followed by an ellipsis; the answer stays small."""
    text = str(body)
    assert long not in text
    assert long[:shown] + "\u2026" in text
    assert len(text) < 2000


async def test_a_long_unknown_kind_is_echoed_clipped(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/support", json={"measure": {"kind": LONG}, "noise": NOISE})
    body = assert_problem(r, 422, "validation-error", "does not match any of the expected tags")
    _echoes_clipped(body, LONG)
    assert body["detail"].count("\u2026") == 1
    assert body["errors"][0]["message"].count("\u2026") == 1
    assert "'atoms'" in body["errors"][0]["message"]  # the expected tags stay whole


async def test_a_long_unknown_key_is_echoed_clipped(client: httpx.AsyncClient) -> None:
    measure = {"kind": "point", "at": 0.0, LONG: 1}
    r = await client.post("/v1/support", json={"measure": measure, "noise": NOISE})
    body = assert_problem(r, 422, "validation-error", "Extra inputs are not permitted")
    _echoes_clipped(body, LONG)
    assert field_paths(body) == ["/measure/" + LONG[:99] + "\u2026"]


async def test_a_long_duplicate_key_is_echoed_clipped(client: httpx.AsyncClient) -> None:
    text = b'{"noise": {"sigma2": 1}, "%s": 1, "%s": 2}' % (LONG.encode(), LONG.encode())
    body = assert_problem(await _post_raw(client, text), 400, "malformed-json", "duplicate key")
    _echoes_clipped(body, LONG, 98)  # the key is shown quoted: '"' and 98 characters


async def test_a_long_unknown_path_is_echoed_clipped(client: httpx.AsyncClient) -> None:
    r = await client.get("/" + LONG)
    body = assert_problem(r, 404, "not-found")
    assert LONG not in body["detail"] and LONG[:98] + "\u2026" in body["detail"]


@pytest.mark.parametrize(
    "path",
    ["/problems/" + LONG, "/v1/sweeps/" + LONG, "/v1/sweeps/" + "0" * 32 + "/plot?format=" + LONG],
)
async def test_long_path_and_query_values_are_echoed_clipped(
    client: httpx.AsyncClient, path: str
) -> None:
    """Issue 13, item 10: the slug of /problems/{slug} was echoed whole in the detail
    (``instance``, the request path, is kept whole by design)."""
    r = await client.get(path)
    assert r.status_code in (404, 422), r.text
    body = r.json()
    del body["instance"]
    assert LONG not in str(body)
    assert len(str(body)) < 2000


async def test_short_inputs_are_echoed_whole(client: httpx.AsyncClient) -> None:
    tag = "y" * 100  # at the limit: whole
    r = await client.post("/v1/support", json={"measure": {"kind": tag}, "noise": NOISE})
    body = assert_problem(r, 422, "validation-error", f"Input tag '{tag}' found")
    assert "\u2026" not in str(body)


UNIFORM = {"kind": "uniform", "low": -1.0, "high": 1.0}


@pytest.mark.parametrize("inline_max_cost", [0, 10**9], ids=["pool", "inline"])
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/support", {"measure": UNIFORM, "noise": NOISE}),
        ("/v1/density", {"measure": UNIFORM, "noise": NOISE, "x": [0.0, 3.0]}),
        ("/v1/stieltjes", {"measure": UNIFORM, "noise": NOISE, "z": {"re": [0.0], "im": [1.0]}}),
        ("/v1/outliers", {"measure": UNIFORM, "noise": NOISE, "spikes": [3.0]}),
        ("/v1/outliers/inverse", {"measure": UNIFORM, "noise": NOISE, "observed": [3.0]}),
        ("/v1/simulate", {"measure": UNIFORM, "noise": NOISE, "n": 50, "seed": 1}),
        ("/v1/plot", {"measure": UNIFORM, "noise": NOISE}),
    ],
)
async def test_the_deadline_holds_for_every_compute_endpoint(
    path: str, body: dict[str, Any], inline_max_cost: int
) -> None:
    async with serve(
        deadline_seconds=1e-9, retry_after_seconds=2, inline_max_cost=inline_max_cost
    ) as client:
        r = await client.post(path, json=body)
        assert_problem(r, 503, "deadline-exceeded", "deadline")
        assert r.headers["retry-after"] == "2"

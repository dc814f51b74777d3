"""The checked-in spec equals what the app serves; every operation is documented."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.export_openapi import render

pytestmark = pytest.mark.anyio

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
POSTS = [
    "/v1/stieltjes",
    "/v1/density",
    "/v1/support",
    "/v1/outliers",
    "/v1/outliers/inverse",
    "/v1/simulate",
    "/v1/denoise",
    "/v1/rectangular/stieltjes",
    "/v1/rectangular/density",
    "/v1/rectangular/support",
    "/v1/rectangular/outliers",
    "/v1/rectangular/outliers/inverse",
    "/v1/rectangular/simulate",
]


@pytest.fixture(scope="module")
async def served(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    spec: dict[str, Any] = r.json()
    return spec


async def test_checked_in_spec_matches_the_app(served: dict[str, Any]) -> None:
    checked_in = json.loads(SPEC.read_text(encoding="utf-8"))
    assert checked_in == served, "openapi/openapi.json is stale: run `make openapi`"
    assert SPEC.read_text(encoding="utf-8") == render()


async def test_every_endpoint_of_the_contract_is_there(served: dict[str, Any]) -> None:
    for path in POSTS:
        assert "post" in served["paths"][path]
    for path in ("/healthz", "/readyz", "/v1/info", "/metrics"):
        assert "get" in served["paths"][path]


async def test_every_operation_is_documented(served: dict[str, Any]) -> None:
    for path, operations in served["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            assert op.get("summary"), where
            assert len(op.get("description", "")) > 30, where
            success = [s for s in op["responses"] if s.startswith("2")]
            assert len(success) == 1, where
            ok = op["responses"][success[0]]["content"]
            for kind, media in ok.items():
                if kind.startswith("image/"):  # pictures: a schema, no inline example
                    assert media["schema"]["type"] == "string", where
                else:
                    assert "example" in media or "examples" in media, where
            if method == "post" and not path.endswith("/cancel"):  # cancel has no body
                content = op["requestBody"]["content"]
                if "application/json" in content:
                    assert content["application/json"]["examples"], where
                else:  # an upload only (/v1/analyze): files, documented as binary
                    for media in content.values():
                        assert media["schema"] == {"type": "string", "format": "binary"}
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], where
                    schema = response["content"]["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, where


async def test_compute_operations_document_their_problems(served: dict[str, Any]) -> None:
    for path in POSTS:
        responses = served["paths"][path]["post"]["responses"]
        assert {"400", "413", "415", "422", "503"} <= set(responses), path
        assert "Retry-After" in responses["503"]["headers"]
        examples = responses["422"]["content"]["application/problem+json"]["examples"]
        assert examples["validation"]["value"]["errors"][0]["path"] == "/noise/sigma2"


async def test_all_references_resolve(served: dict[str, Any]) -> None:
    schemas = served["components"]["schemas"]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                assert ref.startswith("#/components/schemas/"), ref
                assert ref.rsplit("/", 1)[1] in schemas, ref
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(served)


async def test_schemas_say_null_where_values_may_be_undefined(served: dict[str, Any]) -> None:
    schemas = served["components"]["schemas"]
    density = schemas["DensityResponse"]["properties"]["density"]["items"]
    assert {"type": "null"} in density["anyOf"]
    location = schemas["OutlierItem"]["properties"]["location"]
    assert {"type": "null"} in location["anyOf"]
    assert schemas["Problem"]["required"] == ["type", "title", "status", "detail", "instance"]


async def test_request_examples_are_accepted(
    client: httpx.AsyncClient, served: dict[str, Any]
) -> None:
    for path in POSTS:
        examples = served["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        for name, example in examples["examples"].items():
            r = await client.post(path, json=example["value"])
            assert r.status_code == 200, (path, name, r.text)


async def test_the_spec_states_this_deployments_limits() -> None:
    """Issue 13, item 12: limits JSON Schema can state are in the spec a deployment
    serves (from its settings), and no bound is written as a keyword it does not know."""
    from ._support import serve

    async with serve(max_n=77, max_atoms=33, max_eigenvector_n=11, max_sweep_n=55) as c:
        spec = (await c.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert schemas["SimulateRequest"]["properties"]["n"]["maximum"] == 77
    assert schemas["AtomsMeasure"]["properties"]["values"]["maxItems"] == 33
    assert schemas["SweepRequest"]["properties"]["sizes"]["items"]["maximum"] == 55
    assert "'maximum': 11" in str(schemas["SimulateRequest"]["allOf"])
    async with serve(max_rect_rows=21, max_rect_cols=22, max_rect_vectors_size=9) as c:
        rect = (await c.get("/openapi.json")).json()["components"]["schemas"]
    props = rect["RectangularSimulateRequest"]["properties"]
    assert (props["rows"]["maximum"], props["cols"]["maximum"]) == (21, 22)
    assert "'maximum': 9" in str(rect["RectangularSimulateRequest"]["allOf"])
    text = json.dumps(spec)
    for unknown in ('"ge":', '"le":', '"gt":', '"lt":'):
        assert unknown not in text, unknown

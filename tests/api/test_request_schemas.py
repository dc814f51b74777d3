"""Request bodies in the spec are objects that client generators can read, and the rules
between their fields that the spec states are the server's.

openapi-python-client (tests/contract) reads a schema with a top-level ``anyOf`` or
``oneOf`` as a union of the branches, and gives up on branches that are bare
``required``/``properties`` fragments: it left out ``POST /v1/fit`` whole. The rules
therefore sit inside ``allOf`` (rmtservice/wire/schemas.py, ``_absent``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

pytestmark = pytest.mark.anyio

SPEC = json.loads(
    (Path(__file__).resolve().parents[2] / "openapi" / "openapi.json").read_text(encoding="utf-8")
)
#: keywords that make a generator read an object schema as a union of its branches
UNION_KEYWORDS = {"anyOf", "oneOf"}


def _request_schemas() -> dict[str, dict[str, Any]]:
    """``METHOD path`` -> the component schema of its JSON request body."""
    found = {}
    for path, operations in SPEC["paths"].items():
        for method, op in operations.items():
            media = op.get("requestBody", {}).get("content", {}).get("application/json")
            if media is not None:
                name = media["schema"]["$ref"].rpartition("/")[2]
                found[f"{method.upper()} {path}"] = SPEC["components"]["schemas"][name]
    return found


def test_every_json_request_body_is_one_object() -> None:
    schemas = _request_schemas()
    assert "POST /v1/fit" in schemas
    for where, schema in schemas.items():
        assert schema.get("type") == "object", where
        assert schema.get("properties"), where
        assert not UNION_KEYWORDS & schema.keys(), (where, sorted(UNION_KEYWORDS & schema.keys()))


def _validator(component: str) -> jsonschema.protocols.Validator:
    """The spec's schema of ``component``, its references resolved within the spec."""
    schema = {"$ref": f"#/components/schemas/{component}", "components": SPEC["components"]}
    return jsonschema.Draft202012Validator(schema)


VALUES = [0.1 * k - 0.6 for k in range(12)]  # 12 values: at least the 10 a fit needs
ROWS = [[1.0 if i == j else 0.1 * ((i * j) % 3) for j in range(12)] for i in range(12)]
SHAPE = {"rows": 30, "cols": 12}
#: bodies around the rule "exactly one of eigenvalues, singular_values with shape, and
#: matrix; model with matrix only" (null is absent), and whether they keep it
FIT_BODIES: list[tuple[str, dict[str, Any], bool]] = [
    ("eigenvalues", {"eigenvalues": VALUES}, True),
    ("singular_values", {"singular_values": [abs(v) for v in VALUES], "shape": SHAPE}, True),
    ("matrix", {"matrix": {"entries": ROWS}}, True),
    ("matrix and model", {"matrix": {"entries": ROWS}, "model": "rectangular"}, True),
    ("nulls beside matrix", {"matrix": {"entries": ROWS}, "eigenvalues": None}, True),
    ("none", {}, False),
    ("only nulls", {"eigenvalues": None, "matrix": None}, False),
    ("eigenvalues and matrix", {"eigenvalues": VALUES, "matrix": {"entries": ROWS}}, False),
    (
        "eigenvalues and singular_values",
        {"eigenvalues": VALUES, "singular_values": VALUES[6:] * 2, "shape": SHAPE},
        False,
    ),
    ("singular_values without shape", {"singular_values": [abs(v) for v in VALUES]}, False),
    ("shape with eigenvalues", {"eigenvalues": VALUES, "shape": SHAPE}, False),
    ("model with eigenvalues", {"eigenvalues": VALUES, "model": "wigner"}, False),
]


@pytest.mark.parametrize(
    ("body", "keeps"), [(b, k) for _, b, k in FIT_BODIES], ids=[n for n, _, _ in FIT_BODIES]
)
async def test_fit_request_schema_states_the_one_input_rule(
    client: httpx.AsyncClient, body: dict[str, Any], keeps: bool
) -> None:
    """The spec accepts a body iff the server does (no bootstrap: quick)."""
    request = {**body, "bootstrap": 0}
    valid = _validator("FitRequest").is_valid(request)
    r = await client.post("/v1/fit", json=request)
    assert valid == keeps
    assert r.status_code == (200 if keeps else 422), r.text
    if not keeps:
        assert r.headers["content-type"] == "application/problem+json"

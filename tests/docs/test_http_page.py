"""docs/http.md against the live spec: every operation of the app has a section there.

The page's field tables and examples are generated from openapi/openapi.json by the
MkDocs hook scripts/docs_hooks.py; these tests check the hand-written part (one section
and one hook marker per operation) and that the hook expands every marker."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

from app.main import create_app

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "http.md"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
#: the contract's second part, documented before its endpoints land (docs/http.md says so)
SECOND_PART = {
    "POST /v1/rectangular/density",
    "POST /v1/rectangular/support",
    "POST /v1/rectangular/outliers",
    "POST /v1/rectangular/outliers/inverse",
    "POST /v1/rectangular/simulate",
    "POST /v1/fit",
    "POST /v1/denoise",
    "POST /v1/analyze",
}


def live_operations() -> set[str]:
    spec = create_app().openapi()
    return {
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method in HTTP_METHODS
        if method in item
    }


def headings() -> set[str]:
    return set(re.findall(r"^### `([A-Z]+ /\S*)`$", PAGE.read_text(), re.MULTILINE))


def markers() -> set[str]:
    found = re.findall(r"^<!-- openapi: ([A-Z]+ /\S*) -->$", PAGE.read_text(), re.MULTILINE)
    assert len(found) == len(set(found)), "an operation has two markers"
    return set(found)


def hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "scripts" / "docs_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_operation_of_the_live_spec_has_a_section() -> None:
    missing = sorted(live_operations() - headings())
    assert not missing, f"docs/http.md has no section for {missing}"
    missing = sorted(live_operations() - markers())
    assert not missing, f"docs/http.md has no `<!-- openapi: ... -->` marker for {missing}"


def test_every_section_is_an_operation_of_the_spec_or_of_the_second_part() -> None:
    stale = sorted(headings() - live_operations() - SECOND_PART)
    assert not stale, f"docs/http.md documents operations the app does not have: {stale}"
    assert headings() == markers(), "each section has its marker, and no marker is orphaned"


def test_the_second_part_is_documented_until_it_lands() -> None:
    """Its endpoints are documented from the contract; once one is in the spec the
    generated tables replace the note (the page says which have landed)."""
    assert SECOND_PART <= headings()
    page = hooks().expand(PAGE.read_text())
    pending = SECOND_PART - live_operations()
    assert page.count('!!! note "Being added"') == len(pending)


def test_the_hook_expands_every_marker_from_the_spec() -> None:
    module = hooks()
    page = module.expand(PAGE.read_text())
    assert "<!-- openapi:" not in page
    for op in sorted(live_operations() & markers()):
        method, path = op.split(" ", 1)
        section = module.operation(method, path)
        assert "Generated from the spec" in section, op
        assert section in page
    table = module.operations()
    for op in live_operations():
        method, path = op.split(" ", 1)
        assert f"| `{method}` | `{path}` |" in table


@pytest.mark.parametrize("op", ["POST /v1/density", "POST /v1/simulate"])
def test_generated_fields_are_the_schemas_fields(op: str) -> None:
    """The request table lists every property of the request schema, required ones
    marked: a field added to the code appears on the page with no edit."""
    module = hooks()
    method, path = op.split(" ", 1)
    spec = module.spec()
    body = spec["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]
    schema = module._resolve(body["schema"])
    section = module.operation(method, path)
    for name in schema["properties"]:
        required = "yes" if name in schema.get("required", []) else ""
        assert re.search(rf"^\| `{name}` \| .* \| {required} \|", section, re.MULTILINE), name

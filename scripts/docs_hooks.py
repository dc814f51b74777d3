"""MkDocs hook: the HTTP page's field tables and examples, generated from the spec.

``docs/http.md`` holds the prose; a line ``<!-- openapi: POST /v1/density -->`` in it is
replaced by that operation's request and response fields (name, type, required,
description) and its first request and response examples, read from the committed
``openapi/openapi.json`` (which tests/api/test_openapi.py keeps equal to the live spec).
So the fields and examples on the page cannot drift from the code. An operation the spec
does not have yet gets a note instead; ``<!-- openapi: operations -->`` becomes the table
of every operation of the spec.

``docs/reference/cli.md`` gets the command line's help the same way: the line
``<!-- cli: commands -->`` becomes a section per subcommand of ``rmtservice`` with its
``--help``, from the argparse parser itself (so a new subcommand appears with no edit).
"""

from __future__ import annotations

import argparse
import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

SPEC = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"
MARKER = re.compile(r"^<!-- openapi: (?P<what>.+?) -->$", re.MULTILINE)
METHODS = ("get", "post", "put", "patch", "delete")


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC.read_text())
    return loaded


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    return _resolve(spec()["components"]["schemas"][ref.rsplit("/", 1)[1]])


def _type(schema: dict[str, Any]) -> str:
    """A short type: a schema's name, ``[item]``, ``a | b``, a JSON type or ``const``."""
    if "$ref" in schema:
        return str(schema["$ref"].rsplit("/", 1)[1])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            if "discriminator" in schema or schema.get("title") == "Measure":
                return "Measure"
            return " | ".join(dict.fromkeys(_type(s) for s in schema[key]))
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"[{_type(schema.get('items', {}))}]"
    return str(kind)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def fields(schema: dict[str, Any]) -> str:
    """A Markdown table of an object schema's properties."""
    body = _resolve(schema)
    props = body.get("properties", {})
    if not props:
        return f"`{_type(schema)}`\n"
    required = set(body.get("required", []))
    rows = ["| field | type | required | description |", "|---|---|---|---|"]
    for name, prop in props.items():
        desc = prop.get("description", "")
        if "default" in prop and prop["default"] is not None:
            desc += f" (default `{json.dumps(prop['default'])}`)"
        rows.append(
            f"| `{name}` | `{_cell(_type(prop))}` | {'yes' if name in required else ''} "
            f"| {_cell(desc)} |"
        )
    return "\n".join(rows) + "\n"


def _first_example(content: dict[str, Any]) -> Any:
    for media in content.values():
        if "example" in media:
            return media["example"]
        for example in media.get("examples", {}).values():
            if "value" in example:
                return example["value"]
    return None


def _json_block(value: Any) -> str:
    text = json.dumps(value, indent=2)
    if len(text) > 2500:  # long answers (spectra) on one line each
        text = json.dumps(value)
    return f"```json\n{text}\n```\n"


def operation(method: str, path: str) -> str:
    op = spec()["paths"].get(path, {}).get(method.lower())
    if op is None:
        return (
            f'!!! note "Being added"\n    `{method} {path}` is not in this version\'s '
            "spec yet; the fields above are the contract it is being built to.\n"
        )
    out = [f"*Generated from the spec: {_cell(op.get('summary', ''))}.*\n"]
    body = op.get("requestBody", {}).get("content", {})
    for media, content in body.items():
        if "schema" in content:
            out += [f"**Request** (`{media}`):\n", fields(content["schema"])]
    params = op.get("parameters", [])
    if params:
        out.append("**Parameters:**\n")
        out += [f"- `{p['name']}` ({p['in']}): {_cell(p.get('description', ''))}\n" for p in params]
    ok = next((r for code, r in op.get("responses", {}).items() if code.startswith("2")), {})
    for media, content in ok.get("content", {}).items():
        if "schema" in content and media.endswith("json"):
            out += [f"**Response** (`{media}`):\n", fields(content["schema"])]
        elif media != "application/json":
            out.append(f"**Response**: `{media}`.\n")
    request = _first_example(body)
    if request is not None:
        out += ["Example request:\n", _json_block(request)]
    answer = _first_example(ok.get("content", {}))
    if answer is not None:
        out += ["Its answer:\n", _json_block(answer)]
    return "\n".join(out)


def operations() -> str:
    rows = ["| method | path | summary |", "|---|---|---|"]
    for path, item in spec()["paths"].items():
        for method in METHODS:
            if method in item:
                summary = _cell(item[method].get("summary", ""))
                rows.append(f"| `{method.upper()}` | `{path}` | {summary} |")
    return "\n".join(rows) + "\n"


def expand(markdown: str) -> str:
    def one(match: re.Match[str]) -> str:
        what = match.group("what")
        if what == "operations":
            return operations()
        method, path = what.split(" ", 1)
        return operation(method, path)

    return MARKER.sub(one, markdown)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def cli_commands() -> str:
    """``rmtservice --help`` and a section per subcommand with its ``--help``."""
    from rmtservice.client import cli

    os.environ["COLUMNS"] = "100"  # argparse wraps at the terminal's width
    parser = cli._parser()
    out = ["```text", parser.format_help().rstrip(), "```", ""]
    for name, sub in _subcommands(parser).items():
        out += [f"## `rmtservice {name}`", "", "```text", sub.format_help().rstrip(), "```", ""]
    return "\n".join(out)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if page.file.src_uri == "http.md":
        return expand(markdown)
    if page.file.src_uri == "reference/cli.md":
        return markdown.replace("<!-- cli: commands -->", cli_commands())
    return markdown

"""Every console example of README.md runs against a real server and prints what the
README says (scripts/readme_examples.py; ``--write`` regenerates the outputs)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def examples() -> ModuleType:
    path = ROOT / "scripts" / "readme_examples.py"
    spec = importlib.util.spec_from_file_location("readme_examples", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rx() -> ModuleType:
    return examples()


@pytest.mark.slow  # a server with its compute processes, 18 commands: about 12 s
@pytest.mark.skipif(shutil.which("curl") is None, reason="the examples use curl")
def test_every_readme_example_prints_what_the_readme_says(rx: ModuleType) -> None:
    with rx.server() as base:
        results = rx.check(base)
    ran = {r.block.line for r in results}
    blocks = rx.parse(rx.README.read_text())
    assert len(results) >= 15, "the README's examples were not found"
    assert ran == {b.line for b in blocks if b.mode != "skip"}
    bad = rx.report(results)
    assert not bad, (
        f"README examples differ from the service (run "
        f"`python scripts/readme_examples.py --write` and review the diff):\n{bad}"
    )


def test_every_console_block_runs_or_says_why_not(rx: ModuleType) -> None:
    blocks = rx.parse(rx.README.read_text())
    assert blocks, "no console block"
    for b in blocks:
        assert b.commands, f"README.md line {b.line}: a console block without a command"
        assert b.mode != "skip" or len(b.why.split()) >= 4, f"line {b.line}: say why"
    with pytest.raises(ValueError, match="must say why"):
        rx.parse("<!-- readme: skip -->\n```console\n$ true\n```\n")


def test_comparison_tolerates_rounding_only(rx: ModuleType) -> None:
    same = rx.diff(
        "$ curl -s x", '{"a": [1.0, 2.0], "b": "s"}', '{"a":[1.0000000001,2],"b":"s"}', False
    )
    assert same is None
    assert "1.0 != 1.001" in rx.diff("$ curl -s x", '{"a": [1.0]}', '{"a": [1.001]}', False)
    assert "keys" in rx.diff("$ curl -s x", '{"a": 1}', '{"a": 1, "c": null}', False)
    assert rx.diff("$ curl -s x", '{"a": 1}', '{"a": 2}', True) is None  # keys only
    assert rx.diff("$ curl -s x", '{"request_id": "abc"}', '{"request_id": "def"}', False) is None
    assert rx.diff("$ x", "spike 2.5 yes", "spike 2.5000000001 yes", False) is None
    assert rx.diff("$ x", "spike 2.5 yes", "spike 2.5 no", False) is not None
    assert rx.diff("$ x", "", "new output", False) is not None


def test_headers_are_compared_as_shown(rx: ModuleType) -> None:
    shown = "HTTP/1.1 400 Bad Request\ncontent-type: application/problem+json\ndate: x\n\n{}"
    got = (
        "HTTP/1.1 400 Bad Request\ndate: y\nserver: u\ncontent-type: application/problem+json\n\n{}"
    )
    assert rx.diff("$ curl -s -i u", shown, got, False) is None
    wrong = got.replace("problem+json", "json")
    assert "content-type" in rx.diff("$ curl -s -i u", shown, wrong, False)
    assert "status" in rx.diff("$ curl -s -i u", shown, got.replace("400 Bad", "422 Bad"), False)
    assert rx.rewritten("$ curl -s -i u", shown, got).splitlines()[:3] == [
        "HTTP/1.1 400 Bad Request",
        "content-type: application/problem+json",
        "date: y",
    ]


def test_write_replaces_only_the_outputs_that_differ(rx: ModuleType) -> None:
    text = "intro\n```console\n$ echo 1\n1\n\n$ echo 2\n3\n$ echo 4\n```\nend\n"
    results = []
    for block in rx.parse(text):
        for c in block.commands:
            actual = c.text.removeprefix("$ echo ")
            results.append(rx.Result(block, c, actual, rx.diff(c.text, c.output, actual, False)))
    assert [r.problem is None for r in results] == [True, False, False]
    assert (
        rx.write(results, text)
        == "intro\n```console\n$ echo 1\n1\n\n$ echo 2\n2\n$ echo 4\n4\n```\nend\n"
    )

"""Run the README's console examples against a real server and compare, or rewrite them.

    python scripts/readme_examples.py            # check: list the examples that differ
    python scripts/readme_examples.py --write    # rewrite the outputs that differ

Every ```` ```console ```` block of README.md is a list of commands (``$ ...``, continued
by a trailing backslash) each followed by its output. The commands run in bash, in a
fresh temporary directory, against a real uvicorn serving the app on a free port of
127.0.0.1 with the default settings (those of ``make serve``): ``localhost:8000`` and
``127.0.0.1:8000`` in a command become that address, ``rmtservice`` is this
repository's command line. One server answers every block, in the README's order (so
``/metrics`` counts the requests of the blocks before it).

How outputs compare:

- JSON structurally: the same keys and lists, numbers within a relative 1e-6
  (``1e-12`` absolute), other values equal; a field that differs at every request
  (``request_id`` when the command sent none, a sweep's ``id`` and times) only by type.
- ``curl -i``: the status line exactly; each header the README shows must be there,
  with its value (except ``date``, ``server-timing``, ``content-length``, a generated
  ``x-request-id``); the body as above.
- Other text by whitespace-separated tokens, numbers within the same tolerance.

An HTML comment on the line before a block changes how it is checked:
``<!-- readme: skip REASON -->`` runs nothing (the reason is required: what it needs, and
which test checks it instead), ``<!-- readme: keys -->`` compares JSON by its keys only
(answers that depend on the deployment, such as ``/v1/info``'s limits).
``--write`` replaces only the outputs that differ, so a check that passes leaves the file
as it is.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RTOL, ATOL = 1e-6, 1e-12
#: JSON fields that differ at every request
VOLATILE_KEYS = frozenset({"request_id", "id", "created", "finished"})
#: headers whose values differ at every request
VOLATILE_HEADERS = frozenset({"date", "server-timing", "content-length", "x-request-id"})
FENCE = re.compile(r"^```console\n(.*?)^```$", re.MULTILINE | re.DOTALL)
MARK = re.compile(r"<!-- readme: (?P<mode>skip|keys)(?: (?P<why>.*?))? -->\s*$")
NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
COMMAND_TIMEOUT = 120


@dataclass
class Command:
    text: str  # as written, continuation lines included
    output: str  # the README's output, without a final newline
    span: tuple[int, int]  # where the output lies in the README (its last newline included)


@dataclass
class Block:
    line: int  # line number of the fence
    mode: str  # "run", "keys" or "skip"
    why: str
    commands: list[Command] = field(default_factory=list)


def parse_commands(body: str, offset: int) -> list[Command]:
    """``$`` lines (continued by a trailing backslash), each with the lines after it up
    to the next command, trailing blank lines left out."""
    commands: list[Command] = []
    at = offset
    lines = body.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        if lines[i].startswith("$ "):
            text = [lines[i]]
            while text[-1].rstrip("\n").endswith("\\") and i + 1 < len(lines):
                i += 1
                text.append(lines[i])
            at += sum(len(t) for t in text)
            commands.append(Command("".join(text).rstrip("\n"), "", (at, at)))
        else:
            at += len(lines[i])
            if commands and lines[i].strip():
                c = commands[-1]
                c.span = (c.span[0], at)
        i += 1
    for c in commands:
        c.output = body[c.span[0] - offset : c.span[1] - offset].rstrip("\n")
    return commands


def parse(readme: str) -> list[Block]:
    blocks = []
    for m in FENCE.finditer(readme):
        line = readme.count("\n", 0, m.start()) + 1
        before = readme[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = MARK.search(before)
        mode = mark.group("mode") if mark else "run"
        why = (mark.group("why") or "") if mark else ""
        if mode == "skip" and not why:
            raise ValueError(f"README.md line {line}: a skipped block must say why")
        blocks.append(Block(line, mode, why, parse_commands(m.group(1), m.start(1))))
    return blocks


# ------------------------------------------------------------------ comparison


def _numbers_close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=ATOL)


def json_diff(expected: Any, actual: Any, path: str = "", keys_only: bool = False) -> str | None:
    """The first difference of two JSON values, as ``path: why``, or None."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        if set(expected) != set(actual):
            return f"{path or '/'}: keys {sorted(set(expected) ^ set(actual))} are in one only"
        for k in expected:
            if k in VOLATILE_KEYS and type(expected[k]) is type(actual[k]):
                continue
            d = json_diff(expected[k], actual[k], f"{path}/{k}", keys_only)
            if d:
                return d
        return None
    if keys_only:
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return f"{path}: {len(expected)} items in the README, {len(actual)} now"
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            d = json_diff(e, a, f"{path}/{i}", keys_only)
            if d:
                return d
        return None
    numbers = (int, float)
    if isinstance(expected, numbers) and isinstance(actual, numbers):
        if isinstance(expected, bool) or isinstance(actual, bool):
            return None if expected is actual else f"{path}: {expected} != {actual}"
        return None if _numbers_close(expected, actual) else f"{path}: {expected} != {actual}"
    return None if expected == actual else f"{path}: {expected!r} != {actual!r}"


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def text_diff(expected: str, actual: str) -> str | None:
    e, a = expected.split(), actual.split()
    if len(e) != len(a):
        return f"{len(e)} words in the README, {len(a)} now"
    for x, y in zip(e, a, strict=True):
        if NUMBER.match(x) and NUMBER.match(y):
            if not _numbers_close(float(x), float(y)):
                return f"{x} != {y}"
        elif x != y:
            return f"{x!r} != {y!r}"
    return None


def body_diff(expected: str, actual: str, keys_only: bool) -> str | None:
    je, ja = _json(expected), _json(actual)
    if je is not None and ja is not None:
        return json_diff(je, ja, keys_only=keys_only)
    return text_diff(expected, actual)


def _head(text: str) -> tuple[list[str], str]:
    head, _, body = text.replace("\r\n", "\n").partition("\n\n")
    return head.splitlines(), body.strip("\n")


def _headers(lines: list[str]) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in lines[1:] if ":" in line)
    return {k.strip().lower(): v.strip() for k, v in pairs}


def head_diff(command: str, expected: str, actual: str, keys_only: bool) -> str | None:
    """``curl -i``: status line, the README's headers, then the body."""
    e_lines, e_body = _head(expected)
    a_lines, a_body = _head(actual)
    if not e_lines or not a_lines or e_lines[0] != a_lines[0]:
        return f"status {e_lines[:1]} != {a_lines[:1]}"
    got = _headers(a_lines)
    sent_id = "x-request-id" in command.lower()
    for name, value in _headers(e_lines).items():
        if name not in got:
            return f"header {name} missing"
        volatile = name in VOLATILE_HEADERS and not (name == "x-request-id" and sent_id)
        if not volatile and name != "location" and got[name] != value:
            return f"header {name}: {value!r} != {got[name]!r}"
    return body_diff(e_body, a_body, keys_only)


def diff(command: str, expected: str, actual: str, keys_only: bool) -> str | None:
    if re.search(r"curl\s(.*\s)?-\w*i", command.split("\n")[0] + " "):
        return head_diff(command, expected, actual, keys_only)
    return body_diff(expected, actual, keys_only)


def rewritten(command: str, expected: str, actual: str) -> str:
    """The new output: ``curl -i`` keeps the README's choice of headers."""
    if not re.search(r"curl\s(.*\s)?-\w*i", command.split("\n")[0] + " "):
        return actual.rstrip("\n")
    e_lines, _ = _head(expected)
    a_lines, a_body = _head(actual)
    wanted = [line.split(":", 1)[0].strip().lower() for line in e_lines[1:] if ":" in line]
    got = {line.split(":", 1)[0].strip().lower(): line for line in a_lines[1:] if ":" in line}
    head = [a_lines[0], *(got[name] for name in wanted if name in got)]
    return "\n".join(head) + "\n\n" + a_body


# ------------------------------------------------------------------ running


def shell_command(text: str, base: str) -> str:
    host = base.removeprefix("http://")
    return text.removeprefix("$ ").replace("localhost:8000", host).replace("127.0.0.1:8000", host)


def run_command(text: str, base: str, cwd: Path) -> str:
    env = os.environ | {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "100",
    }
    out = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell_command(text, base)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    # stdout as a terminal shows it after the command; stderr (progress) only on failure
    return (out.stdout + (out.stderr if out.returncode else "")).rstrip("\n")


@dataclass
class Result:
    block: Block
    command: Command
    actual: str
    problem: str | None


def check(base: str, readme: str | None = None) -> list[Result]:
    """Run every block that is not skipped, in order, against the server at ``base``."""
    text = README.read_text() if readme is None else readme
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        # the README's paths into build/ (the real model of `make model`) are the checkout's
        (Path(tmp) / "build").symlink_to(ROOT / "build", target_is_directory=True)
        for block in parse(text):
            if block.mode == "skip":
                continue
            for c in block.commands:
                actual = run_command(c.text, base, Path(tmp))
                problem = diff(c.text, c.output, actual, block.mode == "keys")
                results.append(Result(block, c, actual, problem))
    return results


def write(results: list[Result], readme: str) -> str:
    """The README with the outputs that differ replaced, each in its place."""
    for r in sorted(results, key=lambda r: r.command.span, reverse=True):
        if r.problem is None:
            continue
        new = rewritten(r.command.text, r.command.output, r.actual)
        start, end = r.command.span
        readme = readme[:start] + (new + "\n" if new else "") + readme[end:]
    return readme


@contextmanager
def server() -> Iterator[str]:
    """A real uvicorn with the default settings (process workers, as ``make serve``)."""
    sys.path.insert(0, str(ROOT))
    from tests._server import uvicorn  # the test suite's live-server helper

    with uvicorn({"RMT_EXECUTOR": "process"}) as base:
        yield base


def report(results: list[Result]) -> str:
    lines = [
        f"README.md line {r.block.line}: {r.command.text.splitlines()[0][:90]}\n    {r.problem}"
        for r in results
        if r.problem
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--write", action="store_true", help="rewrite the outputs that differ")
    args = ap.parse_args(argv)
    readme = README.read_text()
    with server() as base:
        results = check(base, readme)
    bad = [r for r in results if r.problem]
    print(f"{len(results)} commands run, {len(bad)} differ")
    if bad:
        print(report(results))
    if args.write and bad:
        README.write_text(write(results, readme))
        print("README.md rewritten")
    return 1 if bad and not args.write else 0


if __name__ == "__main__":
    sys.exit(main())

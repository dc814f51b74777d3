"""The deployment files, read: Compose, nginx directives, Kubernetes manifests, the
image's command, and the check of ``RMT_*`` variables against :class:`Settings`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from app.settings import Settings
from tests._server import ROOT

DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
NGINX_CONF = DEPLOY / "nginx.conf"
K8S = DEPLOY / "k8s"

#: the Dask scheduler service every replica shares (sweeps' state lives there)
DASK_SCHEDULER = "tcp://dask-scheduler:8786"

_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_TIME_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def compose() -> dict[str, Any]:
    """deploy/compose.yaml with its anchors and merge keys resolved."""
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def manifests(path: Path) -> list[dict[str, Any]]:
    """The Kubernetes objects of one YAML file (several documents allowed)."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def image_command() -> list[str]:
    """The Dockerfile's CMD (exec form), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    commands = [line[4:] for line in text.splitlines() if line.startswith("CMD ")]
    command: list[str] = json.loads(commands[-1])
    return command


def image_port() -> int:
    """The port the image's gunicorn binds (``--bind 0.0.0.0:PORT``)."""
    command = image_command()
    return int(command[command.index("--bind") + 1].rpartition(":")[2])


#: a token of nginx's configuration syntax: a comment, a quoted string, ``{``, ``}``, ``;``
#: or a bare word (``#`` starts a comment only where a token would start)
_NGINX_TOKEN = re.compile(
    r"""\s*(?:(\#[^\n]*)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([{};])|([^\s{};]+))"""
)


@dataclass(frozen=True)
class NginxBlock:
    """One block of an nginx configuration: its own directives (name and arguments, in
    order; not those of the blocks inside) and the blocks inside, by their heads
    (``"http"``, ``"server"``, ``"location ~ ^/v1/x$"``)."""

    directives: tuple[tuple[str, tuple[str, ...]], ...] = ()
    blocks: tuple[tuple[str, NginxBlock], ...] = ()

    def all(self, name: str) -> list[str]:
        """The arguments, joined by a space, of each ``name`` directive of this block."""
        return [" ".join(args) for key, args in self.directives if key == name]

    def one(self, name: str) -> str:
        (value,) = self.all(name)
        return value

    def block(self, head: str) -> NginxBlock:
        (found,) = [block for key, block in self.blocks if key == head]
        return found

    def locations(self) -> dict[str, NginxBlock]:
        """The ``location`` blocks, by their arguments (``"/"``, ``"~ ^/v1/x$"``)."""
        return {
            key.removeprefix("location "): block
            for key, block in self.blocks
            if key.startswith("location ")
        }


def _tokens(text: str) -> Iterator[str]:
    position = 0
    while position < len(text.rstrip()):
        match = _NGINX_TOKEN.match(text, position)
        assert match, f"deploy/nginx.conf: cannot read {text[position : position + 40]!r}"
        position = match.end()
        if match[1] is None:
            yield next(group for group in match.groups()[1:] if group is not None)


def _parse(tokens: Iterator[str]) -> NginxBlock:
    """The block whose tokens follow (up to its ``}``, or the end of the file)."""
    directives: list[tuple[str, tuple[str, ...]]] = []
    blocks: list[tuple[str, NginxBlock]] = []
    words: list[str] = []
    for token in tokens:
        if token == ";":
            directives.append((words[0], tuple(words[1:])))
            words = []
        elif token == "{":
            blocks.append((" ".join(words), _parse(tokens)))
            words = []
        elif token == "}":
            break
        else:
            words.append(token)
    assert not words, f"deploy/nginx.conf: {words} not ended by ';'"
    return NginxBlock(tuple(directives), tuple(blocks))


def nginx_config(text: str | None = None) -> NginxBlock:
    """deploy/nginx.conf (or ``text``), parsed: the main context, blocks inside."""
    return _parse(_tokens(NGINX_CONF.read_text() if text is None else text))


def nginx_server() -> NginxBlock:
    """The one ``server`` block of deploy/nginx.conf."""
    return nginx_config().block("http").block("server")


def nginx_size(value: str) -> int:
    """Bytes of an nginx size (``4m``, ``16k``, ``1024``)."""
    match = re.fullmatch(r"(\d+)([kmg]?)", value.lower())
    assert match, f"not an nginx size: {value!r}"
    return int(match[1]) * _SIZE_UNITS[match[2]]


def nginx_seconds(value: str) -> float:
    """Seconds of an nginx time (``10s``, ``1m``, ``500ms``; a bare number is seconds)."""
    match = re.fullmatch(r"(\d+)(ms|s|m|h)?", value)
    assert match, f"not an nginx time: {value!r}"
    return int(match[1]) * _TIME_UNITS[match[2] or "s"]


def check_rmt_variables(env: Mapping[str, str]) -> None:
    """Every ``RMT_*`` variable names a setting, :class:`Settings` accepts its value as
    the environment would give it, and the replicas share the one Dask scheduler."""
    fields = {f"RMT_{name.upper()}": name for name in Settings.model_fields}
    given = {key: str(value) for key, value in env.items() if key.startswith("RMT_")}
    unknown = sorted(given.keys() - fields.keys())
    assert not unknown, f"variables that no setting reads: {unknown}"
    Settings(**{fields[key]: value for key, value in given.items()})
    assert given.get("RMT_DASK_SCHEDULER") == DASK_SCHEDULER, given

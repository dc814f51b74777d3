"""A real nginx on 127.0.0.1 running deploy/nginx.conf, in a temporary prefix of its own.

The configuration is deploy/nginx.conf with three changes only (:func:`render`): the
upstream's server (the Compose service ``api:8000``) becomes the given addresses, with
the same parameters; ``listen`` becomes a free 127.0.0.1 port; the temp paths go into the
prefix (the package's defaults need root). nginx runs in the foreground (``daemon off``)
in its own session, under ``timeout``: stopped when the test ends, even on failure, and
within :data:`LIFETIME` seconds even if the test process itself is killed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._server import free_port

from ._deploy import NGINX_CONF

#: the longest that a test's nginx (or replica) lives, in seconds
LIFETIME = 120
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
#: the upstream's one server (the Compose service, ``api:8000``, and its parameters)
UPSTREAM_SERVER = r"^(?P<indent>[ \t]*)server [\w.-]+:\d+(?P<params>[^;\n]*);$"
LISTEN = r"^(?P<indent>[ \t]*)listen \d+;$"


def nginx_binary() -> str:
    """The nginx executable; the test fails (it does not skip) when there is none."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        pytest.fail(
            "nginx is not installed: tests/deploy run deploy/nginx.conf under a real nginx. "
            "Install it with `make nginx` (as root: Debian's nginx package) or your system's "
            "package manager.",
            pytrace=False,
        )
    return found


def _replace_once(text: str, pattern: str, replace: Callable[[re.Match[str]], str]) -> str:
    new, count = re.subn(pattern, replace, text, flags=re.MULTILINE)
    assert count == 1, f"deploy/nginx.conf: {count} lines match {pattern!r}, expected one"
    return new


def render(upstreams: Sequence[str], listen: str, prefix: Path) -> str:
    """deploy/nginx.conf for a run outside Compose (see the module docstring)."""
    text = NGINX_CONF.read_text()

    def servers(m: re.Match[str]) -> str:
        return "\n".join(f"{m['indent']}server {address}{m['params']};" for address in upstreams)

    text = _replace_once(text, UPSTREAM_SERVER, servers)
    text = _replace_once(text, LISTEN, lambda m: f"{m['indent']}listen {listen};")
    temp = "".join(f"    {name}_temp_path {prefix / name};\n" for name in TEMP_PATHS)
    return _replace_once(text, r"^http \{\n", lambda m: m[0] + temp)


def nginx_command(prefix: Path, conf: Path, *extra: str) -> list[str]:
    """nginx with everything it writes in ``prefix``: pid, error log on stderr."""
    return [
        nginx_binary(),
        "-p",
        f"{prefix}/",
        "-c",
        str(conf),
        "-e",
        "stderr",
        "-g",
        f"daemon off; pid {prefix / 'nginx.pid'};",
        *extra,
    ]


@contextmanager
def nginx_prefix() -> Iterator[Path]:
    """A fresh directory for nginx, removed afterwards. Not pytest's tmp_path: nginx's
    workers (``nobody`` when the master runs as root) must reach the temp paths in it."""
    prefix = Path(tempfile.mkdtemp(prefix="rmt-nginx-"))
    try:
        prefix.chmod(0o755)
        yield prefix
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


@dataclass
class Nginx:
    base: str
    proc: subprocess.Popen[bytes]
    access_log: Path
    error_log: Path

    def log_lines(self) -> list[str]:
        return self.access_log.read_text().splitlines()


def _wait_listening(port: int, proc: subprocess.Popen[bytes], errors: Path, seconds: float) -> None:
    limit = time.monotonic() + seconds
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited with {proc.returncode}:\n{errors.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > limit:
                raise RuntimeError(f"nginx did not listen in {seconds:.0f} s") from None
            time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (nginx's fast shutdown, relayed by ``timeout``), then kill the session."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc.poll() is None:
        proc.wait(timeout=5)


@contextmanager
def nginx(upstreams: Sequence[str]) -> Iterator[Nginx]:
    """Run deploy/nginx.conf in front of ``upstreams`` (``host:port``); yield its URL."""
    port = free_port()
    with nginx_prefix() as prefix:
        conf = prefix / "nginx.conf"
        conf.write_text(render(upstreams, f"127.0.0.1:{port}", prefix))
        access_log, error_log = prefix / "access.log", prefix / "error.log"
        command = ["timeout", "--kill-after=5", str(LIFETIME), *nginx_command(prefix, conf)]
        # deploy/nginx.conf logs to /dev/stdout and /dev/stderr: here, these two files
        with access_log.open("wb") as out, error_log.open("wb") as err:
            proc = subprocess.Popen(command, stdout=out, stderr=err, start_new_session=True)
        try:
            _wait_listening(port, proc, error_log, seconds=10)
            yield Nginx(f"http://127.0.0.1:{port}", proc, access_log, error_log)
        finally:
            _stop(proc)
